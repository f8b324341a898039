package tracing_test

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
	"lindungi/internal/app/apptest"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

// TestSijejakEndToEnd is issue 6's "must show 1" through the API and the
// simulator channel.
func TestSijejakEndToEnd(t *testing.T) { sijejakEndToEnd(t) }

// TestSijejakEndToEndPostgres runs the same on PostgreSQL.
func TestSijejakEndToEndPostgres(t *testing.T) {
	sijejakEndToEnd(t, "LINDUNGI_DATABASE_URL="+storetest.PostgresURL(t))
}

func sijejakEndToEnd(t *testing.T, env ...string) {
	ta := apptest.Start(t, apptest.Config(t, append(env, "LINDUNGI_TRACING_MIN_MINUTES=0.5")...))
	officer, err := ta.Accounts.Add(context.Background(), "dinkes", accounts.HealthOfficer)
	if err != nil {
		t.Fatal(err)
	}
	a := apptest.Register(t, ta, "+6281211110001")
	b := apptest.Register(t, ta, "+6281211110002")

	var ids apptest.TempIDs
	if code := b.Do(t, "GET", "/api/tracing/v1/tempids", b.Token, nil, &ids); code != 200 || len(ids.TempIDs) != 100 {
		t.Fatalf("tempids: %d, %d IDs", code, len(ids.TempIDs))
	}
	if len(ids.TempIDs[0].TempID) < 60 || ids.RefreshTime <= time.Now().Unix() {
		t.Fatalf("tempids: %+v", ids.TempIDs[0])
	}
	var auth struct{ Authorised bool }
	a.Do(t, "GET", "/api/tracing/v1/upload-authorisation", a.Token, nil, &auth)
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
	if code := a.Do(t, "POST", "/api/tracing/v1/uploads", a.Token, upload, &refused); code != 403 {
		t.Fatalf("upload without consent: %d %+v", code, refused)
	}

	// A health officer marks A positive; A is asked on WhatsApp and agrees.
	var cursor struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(a.Phone), nil, &cursor)
	if code := a.Do(t, "POST", "/api/v1/tracing/cases", officer.Token, map[string]string{"phone": a.Phone, "onsetDate": time.Now().Format("2006-01-02")}, nil); code != 201 {
		t.Fatalf("mark positive: %d", code)
	}
	if code := a.Do(t, "POST", "/api/v1/tracing/cases", ta.Token, map[string]string{"phone": a.Phone}, nil); code == 201 {
		t.Error("a case without a date was accepted")
	}
	if len(ta.Replies(a.Phone, cursor.NextCursor)) == 0 {
		t.Fatal("no consent request reached A")
	}
	apptest.MustReply(t, ta.Say(a.Phone, "SETUJU"), "")
	a.Do(t, "GET", "/api/tracing/v1/upload-authorisation", a.Token, nil, &auth)
	if !auth.Authorised {
		t.Fatal("not authorised after SETUJU")
	}

	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(b.Phone), nil, &cursor)
	var res struct {
		Received, Accepted int
		Rejected           map[string]int
	}
	if code := a.Do(t, "POST", "/api/tracing/v1/uploads", a.Token, upload, &res); code != 200 || res.Accepted != len(recs) {
		t.Fatalf("upload: %d %+v", code, res)
	}
	prompt := ta.Replies(b.Phone, cursor.NextCursor)
	if len(prompt) != 1 {
		t.Fatalf("B got %d prompts: %q", len(prompt), prompt)
	}
	if strings.Contains(prompt[0], a.Phone) || strings.Contains(prompt[0], "1110001") {
		t.Errorf("the prompt reveals who: %q", prompt[0])
	}
	// The same upload again notifies nobody.
	ta.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(b.Phone), nil, &cursor)
	a.Do(t, "POST", "/api/tracing/v1/uploads", a.Token, upload, &res)
	if again := ta.Replies(b.Phone, cursor.NextCursor); len(again) != 0 {
		t.Fatalf("second upload prompted B again: %q", again)
	}
	// Bad tokens and garbage are refused.
	if code := a.Do(t, "GET", "/api/tracing/v1/tempids", "nope", nil, nil); code != 401 {
		t.Errorf("bad device token: %d", code)
	}
	req, _ := http.NewRequest("POST", ta.Base+"/api/tracing/v1/uploads", bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<20)))
	req.Header.Set("Authorization", "Bearer "+a.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("1 MB of garbage: %d, want 400", resp.StatusCode)
	}
	testlog.AssertClean(t, ta.Logs.String(), a.Phone, b.Phone)
}

// BenchmarkUpload20kHTTP measures a 20,000-record upload end to end over
// HTTP (decode, decrypt and validate every TempID, store, match, prompt),
// reporting p50/p99. Each iteration changes the readings so it is a new
// upload, not a replay.
//
//	go test -run '^$' -bench Upload20kHTTP -benchtime 20x ./tracing/
func BenchmarkUpload20kHTTP(b *testing.B) {
	ta := apptest.Start(b, apptest.Config(b, "LINDUNGI_TRACING_MIN_MINUTES=0.5", "LINDUNGI_TRACING_UPLOADS_PER_DEVICE_HOUR=100000", "LINDUNGI_LOG_LEVEL=error"))
	officer, err := ta.Accounts.Add(context.Background(), "dinkes", accounts.HealthOfficer)
	if err != nil {
		b.Fatal(err)
	}
	a := apptest.Register(b, ta, "+6281211110001")
	bb := apptest.Register(b, ta, "+6281211110002")
	var ids apptest.TempIDs
	bb.Do(b, "GET", "/api/tracing/v1/tempids", bb.Token, nil, &ids)
	a.Do(b, "POST", "/api/v1/tracing/cases", officer.Token, map[string]string{"phone": a.Phone, "onsetDate": time.Now().Format("2006-01-02")}, nil)
	ta.Say(a.Phone, "SETUJU")
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
		req, _ := http.NewRequest("POST", ta.Base+"/api/tracing/v1/uploads", bytes.NewReader(payload))
		req.Header.Set("Authorization", "Bearer "+a.Token)
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
