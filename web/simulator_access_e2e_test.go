package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/channels"
	"lindungi/config"
	"lindungi/internal/app/apptest"
	"lindungi/store"
)

// The simulator writes messages "from" any number, so it is off unless
// configured: with the defaults its routes answer 404 not_enabled.
func TestSimulatorOffByDefault(t *testing.T) {
	if config.Default().Simulator.Enabled {
		t.Fatal("the simulator is on in the default configuration")
	}
	cfg := apptest.Config(t)
	cfg.Simulator = config.Default().Simulator
	ta := apptest.Start(t, cfg)
	var e struct{ Error struct{ Code string } }
	if st := ta.Call("POST", "/api/v1/simulator/messages", map[string]string{"from": "+6281211150001", "text": "halo"}, &e); st != http.StatusNotFound || e.Error.Code != "not_enabled" {
		t.Fatalf("simulator with the defaults: %d %q, want 404 not_enabled", st, e.Error.Code)
	}
}

// The simulator needs its own role: no operator or supervisor token may
// inject a message, and a simulator token reads no tickets.
func TestSimulatorNeedsItsOwnRole(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx := context.Background()
	tokens := map[string]string{}
	for _, role := range []string{accounts.Operator, accounts.Supervisor, accounts.HealthOfficer, "simulator"} {
		c, err := ta.Accounts.Add(ctx, "u-"+role, role)
		if err != nil {
			t.Fatalf("add %s: %v", role, err)
		}
		tokens[role] = c.Token
	}
	for _, c := range []struct {
		role, method, path string
		want               int
	}{
		{accounts.Operator, "POST", "/api/v1/simulator/messages", http.StatusForbidden},
		{accounts.Operator, "GET", "/api/v1/simulator/messages?to=%2B6281211150002", http.StatusForbidden},
		{accounts.Supervisor, "POST", "/api/v1/simulator/messages", http.StatusForbidden},
		{accounts.HealthOfficer, "POST", "/api/v1/simulator/messages", http.StatusForbidden},
		{"simulator", "POST", "/api/v1/simulator/messages", http.StatusAccepted},
		{"simulator", "GET", "/api/v1/simulator/messages?to=%2B6281211150002", http.StatusOK},
		{"simulator", "GET", "/api/v1/tickets", http.StatusForbidden},
	} {
		t.Run(c.role+" "+c.method+" "+strings.Split(c.path, "?")[0], func(t *testing.T) {
			body := ""
			if c.method == "POST" {
				body = `{"from":"+6281211150002","text":"halo"}`
			}
			if got, _ := apptest.APIDo(t, ta.Base, tokens[c.role], c.method, c.path, body); got != c.want {
				t.Fatalf("status %d, want %d", got, c.want)
			}
		})
	}
}

// Sijejak registration and consent count only when they arrive on the
// tracing channel's own transport (WhatsApp here): a simulator token
// writing "from" a citizen's number can neither register their phone nor
// consent in their name. The same messages through the WhatsApp channel
// (the bot's intake, as the linked device delivers them) do.
func TestSijejakOnlyFromTracingChannel(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_TRACING_CHANNEL=whatsapp"))
	ctx := context.Background()
	officer, err := ta.Accounts.Add(ctx, "dinkes", accounts.HealthOfficer)
	if err != nil {
		t.Fatal(err)
	}
	const phone = "+6281211150003"
	d := &apptest.Device{G: ta, Phone: phone}
	viaWhatsApp := func(text string) {
		t.Helper()
		in := channels.Inbound{Channel: channels.WhatsApp, ExternalID: fmt.Sprintf("3EB0TEST%d", time.Now().UnixNano()), From: phone, Name: "Sari", Text: text, ReceivedAt: store.Now()}
		if err := ta.Bot.Deliver(ctx, in); err != nil {
			t.Fatal(err)
		}
	}

	var reg struct{ Code string }
	if st := d.Do(t, "POST", "/api/tracing/v1/register", "", map[string]string{"phone": phone}, &reg); st != 201 {
		t.Fatalf("register: %d", st)
	}
	ta.Say(phone, "SIJEJAK "+reg.Code) // the simulator, "from" the citizen's number
	var v struct{ DeviceToken string }
	if st := d.Do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, &v); st != http.StatusConflict {
		t.Fatalf("verify after SIJEJAK on the simulator: %d, want 409 (not confirmed)", st)
	}
	viaWhatsApp("SIJEJAK " + reg.Code)
	if st := d.Do(t, "POST", "/api/tracing/v1/register/verify", "", map[string]string{"phone": phone, "code": reg.Code}, &v); st != 200 || v.DeviceToken == "" {
		t.Fatalf("verify after SIJEJAK on WhatsApp: %d", st)
	}
	d.Token = v.DeviceToken

	if st := d.Do(t, "POST", "/api/v1/tracing/cases", officer.Token, map[string]string{"phone": phone, "onsetDate": time.Now().Format("2006-01-02")}, nil); st != 201 {
		t.Fatalf("case: %d", st)
	}
	var auth struct{ Authorised bool }
	ta.Say(phone, "SETUJU")
	if d.Do(t, "GET", "/api/tracing/v1/upload-authorisation", d.Token, nil, &auth); auth.Authorised {
		t.Fatal("consent given through the simulator opened an upload window")
	}
	if n := ta.Count(t, `SELECT COUNT(*) FROM tracing_consents WHERE answered_at IS NOT NULL`); n != 0 {
		t.Fatalf("%d consents recorded from the simulator", n)
	}
	viaWhatsApp("SETUJU")
	if d.Do(t, "GET", "/api/tracing/v1/upload-authorisation", d.Token, nil, &auth); !auth.Authorised {
		t.Fatal("consent on WhatsApp did not open the upload window")
	}
}
