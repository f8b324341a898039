package web

import (
	"bytes"
	"strings"
	"testing"

	"lindungi/accounts"
)

// The pairing page for the providers the browser tests do not start: the
// Cloud API shows its state, quality and tier and no pairing; with
// WhatsApp off the page says so. Neither polls.
func TestWhatsAppPageWithoutLinkedDevice(t *testing.T) {
	admin := accounts.User{Name: "admin.sri", Role: accounts.Admin}
	for _, tc := range []struct {
		name string
		wa   whatsAppView
		want []string
	}{
		{"cloud", whatsAppView{Provider: "cloud", State: "connected", Cloud: map[string]string{"state": "connected", "quality": "GREEN", "tier": "TIER_1K"}},
			[]string{"WhatsApp Cloud API", "tersambung", "GREEN", "TIER_1K"}},
		{"cloud before Meta reported", whatsAppView{Provider: "cloud", State: "connected", Cloud: map[string]string{"state": "connected"}},
			[]string{"WhatsApp Cloud API", "belum dilaporkan"}},
		{"off", whatsAppView{}, []string{"tidak aktif"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := pages.ExecuteTemplate(&b, "admin_whatsapp.html", map[string]any{"User": admin, "CSRF": "x", "WA": tc.wa}); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, bad := range []string{`id="wa-pairing"`, `id="wa-qr"`, `pair-phone`} {
				if strings.Contains(page, bad) {
					t.Errorf("page has %s", bad)
				}
			}
		})
	}
}

// Only an admin's top bar links to the admin pages.
func TestAdminLinksOnlyForAdmins(t *testing.T) {
	for _, role := range accounts.Roles {
		var b bytes.Buffer
		if err := pages.ExecuteTemplate(&b, "error.html", map[string]any{"Message": "x", "User": accounts.User{Name: "u", Role: role}, "CSRF": "x"}); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Contains(b.String(), `href="/admin/users"`), role == accounts.Admin; got != want {
			t.Errorf("%s: admin links shown %v", role, got)
		}
	}
}
