package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
	"lindungi/store"
	"lindungi/tickets"
)

// TestAPIBadInput checks that every kind of bad request gets a clear coded
// error with the right status, never a stack trace or SQL.
func TestAPIBadInput(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	opTok := ta.Token
	hc, err := ta.Accounts.Add(context.Background(), "officer", accounts.HealthOfficer)
	if err != nil {
		t.Fatal(err)
	}
	big := `{"from":"x","text":"` + strings.Repeat("a", 2<<20) + `"}`
	ctx := context.Background()
	var num string
	if err := ta.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := ta.Tickets.UpsertContact(ctx, tx, "simulator", "+6281200001111", "Warga")
		if err != nil {
			return err
		}
		nt, err := ta.Tickets.Create(ctx, tx, tickets.NewTicket{ContactID: c.ID, Channel: "simulator", Subject: "uji"})
		num = nt.Number
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "GET", "/api/v1/tickets", "", "", 401, "unauthenticated"},
		{"wrong token", "GET", "/api/v1/tickets", "lgw_nope", "", 401, "unauthenticated"},
		{"malformed header", "GET", "/api/v1/tickets", "-", "", 401, "unauthenticated"},
		{"role without the right", "GET", "/api/v1/tickets", hc.Token, "", 403, "forbidden"},
		{"unknown ticket", "GET", "/api/v1/tickets/PL-2026-999999", opTok, "", 404, "ticket_not_found"},
		{"unknown ticket reply", "POST", "/api/v1/tickets/PL-2026-999999/replies", opTok, `{"text":"x"}`, 404, "ticket_not_found"},
		{"malformed JSON", "POST", "/api/v1/simulator/messages", opTok, `{"from":`, 400, "bad_json"},
		{"unknown field", "POST", "/api/v1/simulator/messages", opTok, `{"from":"a","text":"b","evil":1}`, 400, "bad_json"},
		{"empty body", "POST", "/api/v1/simulator/messages", opTok, ``, 400, "bad_json"},
		{"missing from", "POST", "/api/v1/simulator/messages", opTok, `{"text":"halo"}`, 400, "bad_from"},
		{"oversized body", "POST", "/api/v1/simulator/messages", opTok, big, 413, "body_too_large"},
		{"bad cursor", "GET", "/api/v1/tickets?cursor=abc", opTok, "", 400, "bad_cursor"},
		{"unknown route", "GET", "/api/v1/nope", opTok, "", 404, "not_found"},
		// A misspelt filter must not show an empty queue.
		{"unknown status filter", "GET", "/api/v1/tickets?status=Open", opTok, "", 400, "bad_status"},
		{"unknown category filter", "GET", "/api/v1/tickets?category=vaksin", opTok, "", 400, "bad_category"},
		{"unknown status in a patch", "PATCH", "/api/v1/tickets/" + num, opTok, `{"status":"done"}`, 400, "bad_status"},
		{"assignee who does not exist", "PATCH", "/api/v1/tickets/" + num, opTok, `{"assignee":"nobody"}`, 400, "unknown_assignee"},
		{"bad wait", "GET", "/api/v1/simulator/messages?to=%2B6281200001111&wait=abc", opTok, "", 400, "bad_wait"},
		{"SQL in search", "GET", "/api/v1/tickets?q=%27%3B%20DROP%20TABLE%20tickets%3B--", opTok, "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ta.Base+tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.code == "" {
				return
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("body %s, want code %s", b, tc.code)
			}
			if bytes.Contains(b, []byte("goroutine")) || bytes.Contains(b, []byte("SELECT")) {
				t.Fatalf("internal detail leaked: %s", b)
			}
		})
	}
}

func TestProbesAndMetrics(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"database":"ok"`, "/metrics": "lindungi_outbox_sent_total{channel=\"simulator\"} 0"} {
		resp, err := http.Get(ta.Base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}
