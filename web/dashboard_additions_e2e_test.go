package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/channels/email/dovecottest"
	"lindungi/channels/email/emailtest"
	"lindungi/internal/app/apptest"
)

type dashboardAPI struct {
	Dashboard struct {
		CSAT struct {
			Rated int
		} `json:"csat"`
		Comments []struct {
			Ticket  string
			Rating  int
			Comment string
		} `json:"csatComments"`
		Sijejak *struct {
			Cases, Consents, Uploads, Notifications int
		} `json:"sijejak"`
		Mailboxes []struct {
			Mailbox  string    `json:"mailbox"`
			State    string    `json:"state"`
			Backlog  int64     `json:"backlog"`
			LastPass time.Time `json:"last_pass"`
		} `json:"mailboxes"`
	} `json:"dashboard"`
}

func getDashboard(t *testing.T, c *apptest.Console) dashboardAPI {
	t.Helper()
	code, b := c.API(t, "GET", "/api/v1/dashboard", "")
	var d dashboardAPI
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/dashboard: %d %s", code, b)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard: %s", b)
	}
	return d
}

// rateWithComment has citizen file a complaint with the bot, close it
// ("selesai"), rate it 4 and comment on the service.
func rateWithComment(t *testing.T, g *apptest.Gateway, citizen, comment string) {
	t.Helper()
	for _, step := range []struct{ say, want string }{
		{"6", "Cara mengunduh"}, {"lapor", "nama lengkap"}, {"Joko Widodo", "NIK"}, {"3372011506610005", "tanggal lahir"},
		{"15-06-1961", "jelaskan"}, {"sertifikat tidak bisa diunduh, muncul error", ""}, {"ya", "PL-"},
		{"selesai", "Seberapa puas"}, {"4", "saran atau komentar"}, {comment, "komentar Bapak/Ibu sudah kami catat"},
	} {
		got := g.Say(citizen, step.say)
		if step.want != "" {
			apptest.MustReply(t, got, step.want)
		}
	}
}

// TestDashboardCSATCommentAndSijejak: a citizen rates a closed ticket and
// then writes a comment; the comment lands on the ticket and on the
// dashboard (NIKs and phone numbers masked), beside the rating. Sijejak's
// counts on the dashboard follow a case and its consent: aggregates only.
func TestDashboardCSATCommentAndSijejak(t *testing.T) { dashboardCSATCommentAndSijejak(t) }

// TestDashboardCSATCommentAndSijejakPostgres is the same on PostgreSQL.
func TestDashboardCSATCommentAndSijejakPostgres(t *testing.T) {
	dashboardCSATCommentAndSijejak(t, apptest.Postgres(t))
}

func dashboardCSATCommentAndSijejak(t *testing.T, env ...string) {
	g := apptest.Start(t, apptest.Config(t, env...))
	op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
	rateWithComment(t, g, "+6281234500401", "Pelayanan cepat, tapi sertifikat NIK 3372011506610005 baru muncul setelah seminggu")
	var list apptest.TicketList
	g.Call("GET", "/api/v1/tickets?view=all&status=closed", nil, &list)
	if len(list.Tickets) != 1 {
		t.Fatalf("%d closed tickets, want 1", len(list.Tickets))
	}
	number := list.Tickets[0].ID
	var detail struct {
		Ticket struct {
			Rating      int
			CSATComment string `json:"csatComment"`
		}
	}
	g.Call("GET", "/api/v1/tickets/"+number, nil, &detail)
	if detail.Ticket.Rating != 4 || !strings.Contains(detail.Ticket.CSATComment, "Pelayanan cepat") {
		t.Errorf("ticket %s: rating %d, comment %q", number, detail.Ticket.Rating, detail.Ticket.CSATComment)
	}
	d := getDashboard(t, op)
	if len(d.Dashboard.Comments) != 1 || d.Dashboard.Comments[0].Ticket != number || d.Dashboard.Comments[0].Rating != 4 {
		t.Fatalf("dashboard comments %+v", d.Dashboard.Comments)
	}
	if c := d.Dashboard.Comments[0].Comment; strings.Contains(c, "3372011506610005") || !strings.Contains(c, "3372********0005") {
		t.Errorf("dashboard comment %q: the NIK is not masked", c)
	}
	_, page := op.Get(t, "/dashboard")
	if !strings.Contains(page, `id="csat-comments"`) || !strings.Contains(page, "Pelayanan cepat") || strings.Contains(page, "3372011506610005") {
		t.Errorf("the dashboard page does not show the masked comment")
	}
	_, tp := op.Get(t, "/tickets/"+number)
	if !strings.Contains(tp, `id="csat-comment"`) || strings.Contains(tp, "seminggu") && strings.Contains(tp, "NIK 3372011506610005") {
		t.Errorf("the ticket page does not show the masked comment")
	}

	// Sijejak: nothing yet; a case, then its consent.
	if s := d.Dashboard.Sijejak; s == nil || *s != (struct{ Cases, Consents, Uploads, Notifications int }{}) {
		t.Errorf("Sijejak before any case: %+v", s)
	}
	const phone = "+6281234500402"
	apptest.Register(t, g, phone)
	officer := apptest.SignIn(t, g, "nakes.dewi", accounts.HealthOfficer)
	if code, _ := officer.Post(t, "/officer/cases", url.Values{"phone": {phone}, "onset": {"2026-12-01"}}); code != http.StatusSeeOther {
		t.Fatalf("mark: %d", code)
	}
	apptest.MustReply(t, g.Say(phone, "SETUJU"), "persetujuan")
	s := getDashboard(t, op).Dashboard.Sijejak
	if s == nil || s.Cases != 1 || s.Consents != 1 || s.Uploads != 0 || s.Notifications != 0 {
		t.Errorf("Sijejak after a consented case: %+v", s)
	}
	if _, page := op.Get(t, "/dashboard"); !strings.Contains(page, `id="sijejak-cases">1<`) || !strings.Contains(page, `id="sijejak-consents">1<`) {
		t.Error("the dashboard page does not show the Sijejak counts")
	}
	// Health officers are not on the dashboard (it is the desk's).
	if code, _ := officer.API(t, "GET", "/api/v1/dashboard", ""); code != http.StatusForbidden {
		t.Errorf("a health officer reads the dashboard: %d", code)
	}
}

// TestDashboardMailboxHealth: each mailbox shows its last completed pass and
// its backlog, as /readyz reports them: a mailbox whose server cannot be
// reached has never been read; one on a working server has.
func TestDashboardMailboxHealth(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		yaml := "email:\n  mailboxes:\n    - address: pengaduan@kemkes.example\n      imap_url: imap://127.0.0.1:1\n      username: u\n      password: p\n      smtp_url: smtp://127.0.0.1:1\n"
		g := apptest.Start(t, emailtest.Config(t, yaml))
		op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
		d := getDashboard(t, op)
		if len(d.Dashboard.Mailboxes) != 1 || d.Dashboard.Mailboxes[0].Mailbox != "pengaduan@kemkes.example" || !d.Dashboard.Mailboxes[0].LastPass.IsZero() {
			t.Fatalf("mailboxes %+v", d.Dashboard.Mailboxes)
		}
		_, page := op.Get(t, "/dashboard")
		if !strings.Contains(page, `data-mailbox="pengaduan@kemkes.example"`) || !strings.Contains(page, "belum pernah") {
			t.Errorf("the dashboard does not show the unread mailbox")
		}
	})
	t.Run("dovecot", func(t *testing.T) {
		dv := dovecottest.Start(t)
		relay := emailtest.StartSMTPSink(t)
		raw, _ := emailtest.ComplaintMail(1, "warga.satu@example.id")
		dv.Append("INBOX", raw)
		g := apptest.Start(t, emailtest.Config(t, emailtest.YAML(dv, relay.Addr, "      poll_interval: 1s\n")))
		op := apptest.SignIn(t, g, "petugas.rina", accounts.Operator)
		g.WaitCount(t, 1, `SELECT COUNT(*) FROM tickets WHERE channel = 'email'`)
		deadline := time.Now().Add(30 * time.Second)
		for {
			d := getDashboard(t, op)
			if len(d.Dashboard.Mailboxes) == 1 && !d.Dashboard.Mailboxes[0].LastPass.IsZero() {
				if d.Dashboard.Mailboxes[0].Backlog != 0 || d.Dashboard.Mailboxes[0].Mailbox != emailtest.Mailbox {
					t.Errorf("mailbox %+v, want no backlog", d.Dashboard.Mailboxes[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no completed pass on the dashboard: %+v", d.Dashboard.Mailboxes)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, page := op.Get(t, "/dashboard"); strings.Contains(page, "belum pernah") || !strings.Contains(page, " WIB") {
			t.Error("the dashboard does not show the mailbox's last pass")
		}
	})
}
