package web

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/channels"
	"lindungi/jobs"
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
			if err := pagesIn("id").ExecuteTemplate(&b, "admin_whatsapp.html", map[string]any{"User": admin, "CSRF": "x", "WA": tc.wa}); err != nil {
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
		if err := pagesIn("id").ExecuteTemplate(&b, "error.html", map[string]any{"Message": "x", "User": accounts.User{Name: "u", Role: role}, "CSRF": "x"}); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Contains(b.String(), `href="/admin/users"`), role == accounts.Admin; got != want {
			t.Errorf("%s: admin links shown %v", role, got)
		}
	}
}

// The admin pages for an admin who chose English: every branch with text
// (a new user, a new secret, tokens, a job that ran and one that never
// did, the linked-device pairing with a code and an error) renders without
// a word of Indonesian, and in Indonesian still says what it said.
func TestAdminPagesInEnglish(t *testing.T) {
	admin := accounts.User{Name: "admin.sri", Role: accounts.Admin, Lang: langEN}
	at := time.Date(2026, 12, 4, 7, 5, 0, 0, time.UTC)
	done := at.Add(1500 * time.Millisecond)
	run := jobs.Run{ID: 7, Job: "purge-encounters", Source: "manual", Node: "n1", StartedAt: at, FinishedAt: &done, Outcome: "ok", Rows: 3}
	pagesOf := []struct {
		name string
		data func(u accounts.User) any
		id   []string // what the Indonesian page says
		en   []string
	}{
		{"admin_users.html", func(u accounts.User) any {
			return usersPage{User: u, CSRF: "x", Roles: accounts.Roles, Notice: userNotice(langOf(u), "revoked"),
				Users:   []accounts.Account{{Name: "petugas.a", Role: accounts.Operator, CreatedAt: at}, {Name: "petugas.b", Role: accounts.Operator, Disabled: true, CreatedAt: at}},
				Tokens:  []accounts.Token{{ID: 1, User: "petugas.a", CreatedAt: at, ExpiresAt: &at, Expired: true}, {ID: 2, User: "petugas.b", CreatedAt: at}},
				Created: &accounts.Created{User: accounts.User{Name: "petugas.c", Role: accounts.Operator}, Password: "pw", Token: "tok"},
				Secret:  "s", SecretKind: "password", Whom: "petugas.a"}
		}, []string{"Token API dicabut.", "hanya ditampilkan sekali", "nonaktif", "tidak pernah"},
			[]string{"The API token has been revoked.", "shown only once", "disabled", "never", "4 December 2026"}},
		{"admin_users.html", func(u accounts.User) any {
			return usersPage{User: u, CSRF: "x", Roles: accounts.Roles, Secret: "s", SecretKind: "token", Whom: "petugas.a"}
		}, []string{"Token API baru untuk", "Belum ada token API."}, []string{"New API token for", "No API tokens yet."}},
		{"admin_jobs.html", func(u accounts.User) any {
			return map[string]any{"User": u, "CSRF": "x", "Started": "purge-encounters", "Busy": "send-mail",
				"Jobs":   []jobRow{{Info: jobs.Info{Name: "purge-encounters", Spec: "0 3 * * *", Next: &at, Last: &run}}, {Info: jobs.Info{Name: "send-mail"}, Running: true}, {Info: jobs.Info{Name: "never-ran", Spec: "@daily"}}},
				"Recent": []jobs.Run{run}}
		}, []string{"dijalankan sekarang", "belum pernah", "1.5 dtk", "berhasil"},
			[]string{"has been started", "never", "1.5 s", "succeeded", "Run now", "Running"}},
		{"admin_jobs.html", func(u accounts.User) any {
			return map[string]any{"User": u, "CSRF": "x"}
		}, []string{"Belum ada tugas yang dijalankan."}, []string{"No job has run yet."}},
		{"admin_whatsapp.html", func(u accounts.User) any {
			return map[string]any{"User": u, "CSRF": "x", "WA": whatsAppView{Provider: "device", State: "pairing", Pairing: true},
				"PairCode": "ABCD-EFGH", "PairError": pairError(langOf(u), channels.ErrNotReady)}
		}, []string{"Tautkan dengan kode QR", "gateway tidak sedang menunggu penautan"},
			[]string{"Link with a QR code", "the gateway is not waiting to be linked"}},
		{"admin_whatsapp.html", func(u accounts.User) any {
			return map[string]any{"User": u, "CSRF": "x", "WA": whatsAppView{Provider: "device", State: "connected", JID: "62811@s.whatsapp.net"}}
		}, []string{"Perangkat sudah tertaut"}, []string{"The device is linked", " as "}},
		{"admin_whatsapp.html", func(u accounts.User) any {
			return map[string]any{"User": u, "CSRF": "x", "WA": whatsAppView{Provider: "cloud", State: "connected", Cloud: map[string]string{"account": "123"}}}
		}, []string{"belum dilaporkan"}, []string{"not reported yet", "Account"}},
		{"admin_whatsapp.html", func(u accounts.User) any {
			return map[string]any{"User": u, "CSRF": "x", "WA": whatsAppView{}}
		}, []string{"tidak aktif"}, []string{"not enabled"}},
	}
	tags := regexp.MustCompile(`(?s)<style>.*?</style>|<[^>]*>|\b(?:alt|title|aria-label)="`)
	word := regexp.MustCompile(`\p{L}+`)
	for _, p := range pagesOf {
		for _, lang := range []string{"id", langEN} {
			u := admin
			u.Lang = lang
			var b bytes.Buffer
			if err := pagesIn(langOf(u)).ExecuteTemplate(&b, p.name, p.data(u)); err != nil {
				t.Fatal(err)
			}
			page := html.UnescapeString(b.String())
			want := p.id
			if lang == langEN {
				want = p.en
			}
			for _, w := range want {
				if !strings.Contains(page, w) {
					t.Errorf("%s (%s) lacks %q", p.name, lang, w)
				}
			}
			if lang != langEN {
				continue
			}
			text := tags.ReplaceAllString(page, " ")
			// The switch back names Indonesian in Indonesian, on purpose.
			text = strings.ReplaceAll(strings.ReplaceAll(text, "Bahasa Indonesia", ""), `Bahasa"`, "")
			for _, w := range word.FindAllString(text, -1) {
				if indonesianWords[strings.ToLower(w)] {
					t.Errorf("%s in English has Indonesian %q:\n%s", p.name, w, text)
					break
				}
			}
		}
	}
}
