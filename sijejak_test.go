package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

// device is a phone app talking to the tracing API.
type device struct {
	ta    *testApp
	phone string
	token string
}

func (d *device) do(t testing.TB, method, path, bearer string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.ta.base+path, rd)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// register runs the inbound-first registration: the app asks for a code,
// the citizen sends "SIJEJAK <code>" on the (simulated) WhatsApp, the app
// exchanges the code for a device token.
func register(t testing.TB, ta *testApp, phone string) *device {
	t.Helper()
	d := &device{ta: ta, phone: phone}
	var reg struct{ Code, WaLink string }
	if code := d.do(t, "POST", "/api/tracing/v1/register", "", map[string]string{"phone": phone}, &reg); code != 201 || reg.Code == "" {
		t.Fatalf("register: %d %+v", code, reg)
	}
	if !strings.Contains(reg.WaLink, "wa.me/6281110500567?text=SIJEJAK%20"+reg.Code) {
		t.Errorf("waLink %q", reg.WaLink)
	}
	var v struct{ DeviceToken string }
	if code := d.do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, &v); code != 409 {
		t.Errorf("verify before the WhatsApp message: %d, want 409", code)
	}
	mustReply(t, ta.say(phone, "SIJEJAK "+reg.Code), reg.Code)
	if code := d.do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, &v); code != 200 || v.DeviceToken == "" {
		t.Fatalf("verify: %d", code)
	}
	d.token = v.DeviceToken
	return d
}

type tempIDs struct {
	TempIDs []struct {
		TempID                string `json:"tempID"`
		StartTime, ExpiryTime int64
	} `json:"tempIDs"`
	RefreshTime int64 `json:"refreshTime"`
}

// TestSijejakEndToEnd is issue 6's "must show 1" through the API and the
// simulator channel.
func TestSijejakEndToEnd(t *testing.T) { sijejakEndToEnd(t) }

// TestSijejakEndToEndPostgres runs the same on PostgreSQL.
func TestSijejakEndToEndPostgres(t *testing.T) {
	sijejakEndToEnd(t, "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(t))
}

func sijejakEndToEnd(t *testing.T, env ...string) {
	ta := startApp(t, testConfig(t, append(env, "LINDUNGI_TRACING_MIN_MINUTES=0.5")...))
	officer, err := ta.accounts.Add(context.Background(), "dinkes", accounts.HealthOfficer)
	if err != nil {
		t.Fatal(err)
	}
	a := register(t, ta, "+6281211110001")
	b := register(t, ta, "+6281211110002")

	var ids tempIDs
	if code := b.do(t, "GET", "/api/tracing/v1/tempids", b.token, nil, &ids); code != 200 || len(ids.TempIDs) != 100 {
		t.Fatalf("tempids: %d, %d IDs", code, len(ids.TempIDs))
	}
	if len(ids.TempIDs[0].TempID) < 60 || ids.RefreshTime <= time.Now().Unix() {
		t.Fatalf("tempids: %+v", ids.TempIDs[0])
	}
	var auth struct{ Authorised bool }
	a.do(t, "GET", "/api/tracing/v1/upload-authorisation", a.token, nil, &auth)
	if auth.Authorised {
		t.Fatal("authorised before consent")
	}

	// Records: B's first TempID heard by A every 10 s since it became valid.
	first := ids.TempIDs[0]
	var recs []map[string]any
	for ts := first.StartTime + 1; ts < time.Now().Unix() && ts < first.ExpiryTime; ts += 10 {
		recs = append(recs, map[string]any{"v": 2, "msg": first.TempID, "org": "ID_MOH", "modelP": "SM-G973F", "modelC": "SM-G981B/DS", "rssi": -45, "txPower": 12, "timestamp": ts})
	}
	if len(recs) < 5 {
		t.Fatalf("only %d records", len(recs))
	}
	upload := map[string]any{"records": recs}
	var refused struct{ Error struct{ Code string } }
	if code := a.do(t, "POST", "/api/tracing/v1/uploads", a.token, upload, &refused); code != 403 {
		t.Fatalf("upload without consent: %d %+v", code, refused)
	}

	// A health officer marks A positive; A is asked on WhatsApp and agrees.
	var cursor struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.call("GET", "/api/v1/simulator/messages?to="+urlq(a.phone), nil, &cursor)
	if code := a.do(t, "POST", "/api/v1/tracing/cases", officer.Token, map[string]string{"phone": a.phone, "onsetDate": time.Now().Format("2006-01-02")}, nil); code != 201 {
		t.Fatalf("mark positive: %d", code)
	}
	if code := a.do(t, "POST", "/api/v1/tracing/cases", ta.token, map[string]string{"phone": a.phone}, nil); code == 201 {
		t.Error("a case without a date was accepted")
	}
	if len(ta.replies(a.phone, cursor.NextCursor)) == 0 {
		t.Fatal("no consent request reached A")
	}
	mustReply(t, ta.say(a.phone, "SETUJU"), "")
	a.do(t, "GET", "/api/tracing/v1/upload-authorisation", a.token, nil, &auth)
	if !auth.Authorised {
		t.Fatal("not authorised after SETUJU")
	}

	ta.call("GET", "/api/v1/simulator/messages?to="+urlq(b.phone), nil, &cursor)
	var res struct {
		Received, Accepted int
		Rejected           map[string]int
	}
	if code := a.do(t, "POST", "/api/tracing/v1/uploads", a.token, upload, &res); code != 200 || res.Accepted != len(recs) {
		t.Fatalf("upload: %d %+v", code, res)
	}
	prompt := ta.replies(b.phone, cursor.NextCursor)
	if len(prompt) != 1 {
		t.Fatalf("B got %d prompts: %q", len(prompt), prompt)
	}
	if strings.Contains(prompt[0], a.phone) || strings.Contains(prompt[0], "1110001") {
		t.Errorf("the prompt reveals who: %q", prompt[0])
	}
	// The same upload again notifies nobody.
	ta.call("GET", "/api/v1/simulator/messages?to="+urlq(b.phone), nil, &cursor)
	a.do(t, "POST", "/api/tracing/v1/uploads", a.token, upload, &res)
	if again := ta.replies(b.phone, cursor.NextCursor); len(again) != 0 {
		t.Fatalf("second upload prompted B again: %q", again)
	}
	// Bad tokens and garbage are refused.
	if code := a.do(t, "GET", "/api/tracing/v1/tempids", "nope", nil, nil); code != 401 {
		t.Errorf("bad device token: %d", code)
	}
	req, _ := http.NewRequest("POST", ta.base+"/api/tracing/v1/uploads", bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<20)))
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("1 MB of garbage: %d, want 400", resp.StatusCode)
	}
	testlog.AssertClean(t, ta.logs.String(), a.phone, b.phone)
}

// BenchmarkUpload20kHTTP measures a 20,000-record upload end to end over
// HTTP (decode, decrypt and validate every TempID, store, match, prompt),
// reporting p50/p99. Each iteration changes the readings so it is a new
// upload, not a replay.
//
//	go test -run '^$' -bench Upload20kHTTP -benchtime 20x .
func BenchmarkUpload20kHTTP(b *testing.B) {
	ta := startApp(b, testConfig(b, "LINDUNGI_TRACING_MIN_MINUTES=0.5", "LINDUNGI_TRACING_UPLOADS_PER_DEVICE_HOUR=100000", "LINDUNGI_LOG_LEVEL=error"))
	officer, err := ta.accounts.Add(context.Background(), "dinkes", accounts.HealthOfficer)
	if err != nil {
		b.Fatal(err)
	}
	a := register(b, ta, "+6281211110001")
	bb := register(b, ta, "+6281211110002")
	var ids tempIDs
	bb.do(b, "GET", "/api/tracing/v1/tempids", bb.token, nil, &ids)
	a.do(b, "POST", "/api/v1/tracing/cases", officer.Token, map[string]string{"phone": a.phone, "onsetDate": time.Now().Format("2006-01-02")}, nil)
	ta.say(a.phone, "SETUJU")
	first := ids.TempIDs[0]
	body := func(iter int) []byte {
		recs := make([]map[string]any, 20000)
		span := time.Now().Unix() - first.StartTime
		for i := range recs {
			ts := first.StartTime + 1 + int64(i)%max(span-1, 1)
			recs[i] = map[string]any{"v": 2, "msg": first.TempID, "org": "ID_MOH", "modelP": "SM-G973F", "modelC": "SM-G981B/DS",
				"rssi": -40 - (i+iter)%30, "txPower": 12, "timestamp": ts}
		}
		out, _ := json.Marshal(map[string]any{"records": recs})
		return out
	}
	lat := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		payload := body(i)
		b.StartTimer()
		start := time.Now()
		req, _ := http.NewRequest("POST", ta.base+"/api/tracing/v1/uploads", bytes.NewReader(payload))
		req.Header.Set("Authorization", "Bearer "+a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("upload %d: status %d", i, resp.StatusCode)
		}
		lat = append(lat, time.Since(start).Seconds()*1000)
	}
	b.StopTimer()
	sort.Float64s(lat)
	b.ReportMetric(lat[len(lat)/2], "p50-ms")
	b.ReportMetric(lat[len(lat)*99/100], "p99-ms")
}
