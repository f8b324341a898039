package web

import (
	"crypto/hmac"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"when":  func(t time.Time) string { return t.In(wib).Format("02 Jan 2006 15:04") },
	"label": label,
}).ParseFS(templateFS, "templates/*.html"))

// labels are the Indonesian words operators read for the stored keys
// (which stay English: they are the API's values). A key without a label
// is shown as it is, so a new one is never hidden.
var labels = map[string]string{
	// statuses
	tickets.Open: "Terbuka", tickets.Pending: "Menunggu warga", tickets.Resolved: "Selesai", tickets.Closed: "Ditutup",
	// categories
	tickets.CertificateMissing: "Sertifikat belum muncul", tickets.ChangeData: "Perubahan data",
	tickets.NIKMisuse: "NIK disalahgunakan", tickets.VaccinationStatus: "Status vaksinasi",
	tickets.CertificateDownload: "Unduh sertifikat", tickets.LoginProblem: "Masalah masuk akun",
	tickets.Sijejak: "SIJEJAK (pelacakan kontak)", tickets.Other: "Lainnya",
	// flags
	tickets.UnparseableFlag: "tidak terbaca", tickets.OversizedFlag: "terlalu besar", tickets.DeliveryFailedFlag: "gagal terkirim",
	tickets.SLAFlag: "melewati batas waktu layanan",
	// channels
	"whatsapp": "WhatsApp", "email": "Surel", "simulator": "Simulator",
	// channel states shown beside the ticket list
	"connected": "tersambung", "unauthorized": "token akses ditolak",
	// outbound delivery
	"queued": "dalam antrean", "sending": "sedang dikirim", "sent": "terkirim", "dead": "gagal dikirim",
	"delivered": "diterima", "read": "dibaca", "failed": "gagal", "held": "ditahan (di luar jendela 24 jam)",
}

// providerDetails is what a channel provider says beyond its state (the
// WhatsApp Cloud API's quality rating and messaging tier, from Meta's
// webhooks), for the console's ticket list: a falling quality rating is
// the warning before Meta lowers the number's limits.
func (s *Server) providerDetails() map[string]string {
	if s.Outbox == nil {
		return nil
	}
	for _, c := range s.Outbox.Channels() {
		if d, ok := c.(interface{ Readiness() map[string]string }); ok {
			return d.Readiness()
		}
	}
	return nil
}

func label(key string) string {
	if l, ok := labels[key]; ok {
		return l
	}
	return key
}

var wib = func() *time.Location {
	l, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		return time.FixedZone("WIB", 7*3600)
	}
	return l
}()

const sessionCookie = "lindungi_session"

// deviceCookie marks a browser an account has logged in from, so that its
// next logins skip the account's distributed throttle (loginThrottle). Its
// value is DeviceMark(name): unforgeable without the data key, void after
// the account's password is reset or while it is disabled, and worth
// nothing but that exemption — the password is still checked, and the
// per-address limits still apply.
const deviceCookie = "lindungi_device"

func normName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// console serves the operator pages. They are plain server-rendered HTML
// (no script needed), with a strict CSP: attachments are downloads, and an
// e-mail's HTML is shown (folded, below its text) sanitised again at
// render with its inline images embedded, so nothing remote loads.
func (s *Server) console(mux *http.ServeMux) {
	throttle := newLoginThrottle()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		e := r.URL.Query().Get("e")
		s.render(w, "login.html", map[string]any{"Error": e == "1", "Throttled": e == "wait"})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		name, addr := r.FormValue("name"), clientAddr(r, s.TrustedProxies)
		device := false
		if c, err := r.Cookie(deviceCookie); err == nil && s.DeviceMark != nil {
			mark, err := s.DeviceMark(r.Context(), name)
			if err != nil {
				// Only the exemption is lost; the login goes on.
				s.Log.Error("console device cookie not checked", "err", err)
			}
			device = mark != "" && hmac.Equal([]byte(c.Value), []byte(mark))
		}
		if ok, report := throttle.attempt(name, addr, device); !ok {
			if report {
				s.Log.Warn("console login throttled", "remote", addr)
				if s.Auditor != nil {
					s.Auditor(r.Context(), "anonymous", "login.throttled", "console", "login", "")
				}
			}
			http.Redirect(w, r, "/login?e=wait", http.StatusSeeOther)
			return
		}
		sid, _, _, err := s.Accounts.Login(r.Context(), name, r.FormValue("password"), 12*time.Hour)
		if err != nil {
			if !errors.Is(err, accounts.ErrUnauthenticated) {
				// The database failed, not the password: say so in the log
				// (never the name or password).
				s.Log.Error("console login failed", "err", err)
			}
			http.Redirect(w, r, "/login?e=1", http.StatusSeeOther)
			return
		}
		throttle.succeeded(name, addr)
		if s.DeviceMark != nil {
			if mark, err := s.DeviceMark(r.Context(), name); err != nil {
				s.Log.Error("console device cookie not set", "err", err)
			} else if mark != "" {
				http.SetCookie(w, &http.Cookie{Name: deviceCookie, Value: mark, Path: "/login", MaxAge: 30 * 24 * 3600,
					HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.SecureCookies || r.TLS != nil})
			}
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.SecureCookies || r.TLS != nil})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			// Only a form from our own page may end the session.
			if _, csrf, err := s.Accounts.BySession(r.Context(), c.Value); err == nil && r.PostFormValue("csrf") == csrf {
				s.Accounts.Logout(r.Context(), c.Value)
			}
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /{$}", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		q := r.URL.Query()
		ts, next, err := s.Tickets.List(r.Context(), tickets.Filter{Status: q.Get("status"), Category: q.Get("category"), Channel: q.Get("channel"), Q: q.Get("q"), Cursor: q.Get("cursor")})
		if err != nil {
			return err
		}
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", next)
		s.render(w, "list.html", map[string]any{"User": u, "CSRF": csrf, "Tickets": ts, "Next": next, "NextQuery": nq.Encode(), "Q": q, "Categories": tickets.Categories, "Statuses": tickets.Statuses,
			"Provider": s.providerDetails()})
		return nil
	}))
	mux.HandleFunc("GET /tickets/{id}", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		t, msgs, err := s.ticketDetail(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		s.audit(r.Context(), u, "ticket.read", "ticket", t.Number, "console")
		views, read := s.mailHTML(r.Context(), t, msgs)
		if len(read) > 0 {
			s.audit(r.Context(), u, "attachment.read", "ticket", t.Number, "console inline "+idList(read))
		}
		s.render(w, "ticket.html", map[string]any{"User": u, "CSRF": csrf, "T": t, "Messages": msgs, "HTML": views,
			"Categories": tickets.Categories, "Statuses": tickets.Statuses, "Sent": r.URL.Query().Get("sent") != ""})
		return nil
	}))
	mux.HandleFunc("POST /tickets/{id}/reply", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if _, err := s.Bot.Reply(r.Context(), r.PathValue("id"), u.Name, r.FormValue("text")); err != nil {
			return err
		}
		if t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id")); err == nil {
			s.audit(r.Context(), u, "ticket.reply", "ticket", t.Number, "console")
		}
		http.Redirect(w, r, "/tickets/"+url.PathEscape(r.PathValue("id"))+"?sent=1", http.StatusSeeOther)
		return nil
	}))
	mux.HandleFunc("POST /tickets/{id}/status", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		st, cat := r.FormValue("status"), r.FormValue("category")
		p := tickets.Patch{}
		if st != "" && st != t.Status {
			p.Status = &st
		}
		if cat != "" && cat != t.Category {
			p.Category = &cat
		}
		if err := s.DB.InTx(r.Context(), func(tx *store.Tx) error { _, err := s.Tickets.Update(r.Context(), tx, t, p); return err }); err != nil {
			return err
		}
		s.audit(r.Context(), u, "ticket.update", "ticket", t.Number, patchSummary(p))
		http.Redirect(w, r, "/tickets/"+url.PathEscape(t.Number), http.StatusSeeOther)
		return nil
	}))
}

func (s *Server) page(h func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		u, csrf, err := s.Accounts.BySession(r.Context(), c.Value)
		if err != nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if !u.Has(accounts.Operator, accounts.Supervisor) {
			s.renderError(w, http.StatusForbidden, "Peran Anda tidak memiliki akses ke konsol tiket.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				s.renderError(w, http.StatusRequestEntityTooLarge, "Balasan terlalu panjang (lebih dari 64 KB); mohon persingkat.")
				return
			}
			// The body only: a token in the URL leaks through history,
			// logs and Referer headers.
			if r.PostFormValue("csrf") != csrf {
				s.renderError(w, http.StatusForbidden, "Sesi formulir tidak valid; muat ulang halaman.")
				return
			}
		}
		if err := h(w, r, u, csrf); err != nil {
			if ce, ok := coded.As(err); ok {
				status := http.StatusBadRequest
				if ce.Kind == coded.NotFound {
					status = http.StatusNotFound
				}
				s.renderError(w, status, ce.Message)
				return
			}
			s.Log.Error("console request failed", "path", r.URL.Path, "err", err)
			s.renderError(w, http.StatusInternalServerError, "Terjadi kesalahan internal; sudah dicatat.")
		}
	}
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	s.renderStatus(w, http.StatusOK, name, data)
}

// renderStatus sets the security headers before the status line, so error
// pages carry them too.
func (s *Server) renderStatus(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.Log.Error("template failed", "template", name, "err", err)
	}
}

func (s *Server) renderError(w http.ResponseWriter, status int, msg string) {
	s.renderStatus(w, status, "error.html", map[string]any{"Message": msg})
}
