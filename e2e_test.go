package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/config"
	"lindungi/testlog"
)

// testApp runs the real wiring on 127.0.0.1:0 with a fresh data directory.
type testApp struct {
	*App
	t      testing.TB
	base   string
	token  string
	logs   *testlog.Buffer
	cancel context.CancelFunc
	done   chan error
}

// syncBuffer collects log output so tests can scan it for personal data.

func testConfig(t testing.TB, env ...string) config.Config {
	t.Helper()
	base := []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_LISTEN=127.0.0.1:0", "LINDUNGI_DATA_DIR=" + t.TempDir(),
		"LINDUNGI_SIMULATOR=true", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_LOG_LEVEL=debug"}
	cfg, err := config.Load("", append(base, env...))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startApp(t testing.TB, cfg config.Config) *testApp {
	t.Helper()
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, logs)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		cancel()
		t.Fatal(err)
	}
	ta := &testApp{App: a, t: t, base: "http://" + a.Addr, logs: logs, cancel: cancel, done: make(chan error, 1)}
	c, err := a.accounts.Add(ctx, fmt.Sprintf("op%d", time.Now().UnixNano()), accounts.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ta.token = c.Token
	go func() { ta.done <- a.Run(ctx) }()
	t.Cleanup(ta.stop)
	return ta
}

func (ta *testApp) stop() {
	if ta.cancel == nil {
		return
	}
	ta.cancel()
	ta.cancel = nil
	select {
	case <-ta.done:
	case <-time.After(30 * time.Second):
		ta.t.Error("app did not stop within 30s")
	}
}

// call does an API request and decodes the JSON answer into out.
func (ta *testApp) call(method, path string, body any, out any) int {
	ta.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ta.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+ta.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ta.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			ta.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

type simMsg struct {
	Seq  int64  `json:"seq"`
	ID   string `json:"id"`
	Text string `json:"text"`
}

// say sends text as `from` and returns the replies that arrive.
func (ta *testApp) say(from, text string) []string {
	ta.t.Helper()
	var before struct {
		NextCursor string `json:"next_cursor"`
	}
	ta.call("GET", "/api/v1/simulator/messages?to="+urlq(from), nil, &before)
	if code := ta.call("POST", "/api/v1/simulator/messages", map[string]string{"from": from, "name": "Budi", "text": text}, nil); code != http.StatusAccepted {
		ta.t.Fatalf("post %q: status %d", text, code)
	}
	return ta.replies(from, before.NextCursor)
}

// replies waits for the outbox to deliver what the bot wrote.
func (ta *testApp) replies(from, after string) []string {
	ta.t.Helper()
	var out []string
	cursor := after
	quiet := 0
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		var got struct {
			Messages   []simMsg `json:"messages"`
			NextCursor string   `json:"next_cursor"`
		}
		wait := "3s"
		if len(out) > 0 {
			wait = "300ms"
		}
		ta.call("GET", "/api/v1/simulator/messages?to="+urlq(from)+"&after="+cursor+"&wait="+wait, nil, &got)
		cursor = got.NextCursor
		for _, m := range got.Messages {
			out = append(out, m.Text)
		}
		if len(got.Messages) == 0 && len(out) > 0 {
			quiet++
			if quiet >= 1 {
				break
			}
		}
	}
	return out
}

func urlq(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "+", "%2B"), " ", "%20") }

// TestMain runs the tests and benchmarks with the garbage-collector
// settings serve applies (gc.go), so what they measure is the process as
// deployed.
func TestMain(m *testing.M) {
	tuneGC(os.Getenv, "/")
	os.Exit(m.Run())
}
