package web

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/channels"
	"lindungi/coded"
	"lindungi/jobs"
)

// The admin console (issue 18): WhatsApp pairing, accounts and API tokens,
// and the scheduled jobs with "run now". Every page and form is for admins
// only; an operator or supervisor gets the forbidden page. The pages are
// the API's routes (users.go, whatsapp.go, jobs below) in HTML: the same
// stores, the same audit rows.

var errAdminOnly = coded.New(coded.Forbidden, "admin_only", "only admins may use this page")

// adminPage is a console page for admins only.
func (s *Server) adminPage(h func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error) http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if u.Role != accounts.Admin {
			return errAdminOnly
		}
		return h(w, r, u, csrf)
	})
}

// renderSecret renders a page that shows a secret once (a new password or
// API token): no cache keeps it.
func (s *Server) renderSecret(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, name, data)
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	s.adminUserRoutes(mux)
	s.adminWhatsAppRoutes(mux)
	s.adminJobRoutes(mux)
}

// usersPage is the data of admin_users.html; the flash fields show what
// the last form did (a secret only in the answer to that form).
type usersPage struct {
	User accounts.User
	CSRF string
	// The top bar's optional links (renderStatus sets them).
	TryOn, SijejakOn bool
	Users            []accounts.Account
	Tokens           []accounts.Token
	Roles            []string
	Notice           string
	Created          *accounts.Created
	// Secret is a new password or token, for Whom, shown once.
	Secret, SecretKind, Whom string
}

func (p *usersPage) user() accounts.User          { return p.User }
func (p *usersPage) setBar(tryOn, sijejakOn bool) { p.TryOn, p.SijejakOn = tryOn, sijejakOn }

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, p usersPage) error {
	var err error
	if p.Users, err = s.Accounts.Users(r.Context()); err != nil {
		return err
	}
	if p.Tokens, err = s.Accounts.Tokens(r.Context(), ""); err != nil {
		return err
	}
	p.Roles = accounts.Roles
	if p.Secret != "" || p.Created != nil {
		s.renderSecret(w, "admin_users.html", &p)
	} else {
		s.render(w, "admin_users.html", &p)
	}
	return nil
}

// userNotices are what the users page says after a form that redirects
// back to it (?done=key).
var userNotices = map[string]bilingual{
	"disabled": {"Akun dinonaktifkan; sesinya berakhir.", "The account has been disabled; its session has ended."},
	"enabled":  {"Akun diaktifkan kembali. Sesi dan perangkat lama tetap tidak berlaku.", "The account has been enabled again. Its old sessions and devices remain invalid."},
	"role":     {"Peran diubah.", "The role has been changed."},
	"revoked":  {"Token API dicabut.", "The API token has been revoked."},
}

// userNotice is the notice for key in lang ("" for an unknown key).
func userNotice(lang, key string) string { return userNotices[key].in(lang) }

func (s *Server) adminUserRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/users", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		return s.renderUsers(w, r, usersPage{User: u, CSRF: csrf, Notice: userNotice(langOf(u), r.URL.Query().Get("done"))})
	}))
	mux.HandleFunc("POST /admin/users", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		c, err := s.Accounts.AddBy(r.Context(), u.Actor(), strings.TrimSpace(r.FormValue("name")), r.FormValue("role"))
		if err != nil {
			return err
		}
		return s.renderUsers(w, r, usersPage{User: u, CSRF: csrf, Created: &c})
	}))
	setDisabled := func(disabled bool) http.HandlerFunc {
		return s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
			name := r.PathValue("name")
			if disabled && name == u.Name {
				return coded.New(coded.Conflict, "cannot_disable_self", "you cannot disable your own account; ask another admin")
			}
			if _, err := s.Accounts.SetDisabled(r.Context(), u.Actor(), name, disabled); err != nil {
				return err
			}
			http.Redirect(w, r, "/admin/users?done="+map[bool]string{true: "disabled", false: "enabled"}[disabled], http.StatusSeeOther)
			return nil
		})
	}
	mux.HandleFunc("POST /admin/users/{name}/disable", setDisabled(true))
	mux.HandleFunc("POST /admin/users/{name}/enable", setDisabled(false))
	mux.HandleFunc("POST /admin/users/{name}/role", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		name, role := r.PathValue("name"), r.FormValue("role")
		if name == u.Name && role != accounts.Admin {
			return coded.New(coded.Conflict, "cannot_demote_self", "you cannot take the admin role from yourself; ask another admin")
		}
		if _, err := s.Accounts.SetRole(r.Context(), u.Actor(), name, role); err != nil {
			return err
		}
		http.Redirect(w, r, "/admin/users?done=role", http.StatusSeeOther)
		return nil
	}))
	mux.HandleFunc("POST /admin/users/{name}/password", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		name := r.PathValue("name")
		pw, err := s.Accounts.ResetPassword(r.Context(), u.Actor(), name)
		if err != nil {
			return err
		}
		return s.renderUsers(w, r, usersPage{User: u, CSRF: csrf, Secret: pw, SecretKind: "password", Whom: name})
	}))
	mux.HandleFunc("POST /admin/users/{name}/tokens", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		name := r.PathValue("name")
		_, secret, err := s.Accounts.AddToken(r.Context(), u.Actor(), name)
		if err != nil {
			return err
		}
		return s.renderUsers(w, r, usersPage{User: u, CSRF: csrf, Secret: secret, SecretKind: "token", Whom: name})
	}))
	mux.HandleFunc("POST /admin/tokens/{id}/revoke", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return accounts.ErrTokenNotFound
		}
		if err := s.Accounts.RevokeToken(r.Context(), u.Actor(), id); err != nil {
			return err
		}
		http.Redirect(w, r, "/admin/users?done=revoked", http.StatusSeeOther)
		return nil
	}))
}

// whatsAppView is what the pairing page shows of the configured provider.
type whatsAppView struct {
	Provider string // "": WhatsApp is off; "device" or "cloud"
	State    string
	JID      string
	Pairing  bool              // a QR is up (linked device, not paired)
	Cloud    map[string]string // the Cloud API's status
}

func (s *Server) whatsAppView() whatsAppView {
	switch {
	case s.WhatsApp != nil:
		st := s.WhatsApp.Status()
		return whatsAppView{Provider: "device", State: string(st.State), JID: st.JID, Pairing: st.QR != ""}
	case s.WhatsAppCloud != nil:
		st := s.WhatsAppCloud.Status()
		return whatsAppView{Provider: "cloud", State: st["state"], Cloud: st}
	}
	return whatsAppView{}
}

func (s *Server) adminWhatsAppRoutes(mux *http.ServeMux) {
	render := func(w http.ResponseWriter, u accounts.User, csrf string, extra map[string]any) {
		data := map[string]any{"User": u, "CSRF": csrf, "WA": s.whatsAppView()}
		for k, v := range extra {
			data[k] = v
		}
		s.render(w, "admin_whatsapp.html", data)
	}
	mux.HandleFunc("GET /admin/whatsapp", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		render(w, u, csrf, nil)
		return nil
	}))
	mux.HandleFunc("POST /admin/whatsapp/pair-phone", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if s.WhatsApp == nil {
			return coded.New(coded.NotFound, "not_enabled", "the linked-device WhatsApp provider is not configured")
		}
		phone := r.FormValue("phone")
		code, err := s.WhatsApp.PairPhone(r.Context(), phone)
		if err != nil {
			render(w, u, csrf, map[string]any{"PairError": pairError(langOf(u), err), "Phone": phone})
			return nil
		}
		s.audit(r.Context(), u, "whatsapp.pair_phone", "whatsapp", "device", "console")
		w.Header().Set("Cache-Control", "no-store")
		render(w, u, csrf, map[string]any{"PairCode": code, "Phone": phone})
		return nil
	}))
}

// pairErrors are the reasons a pairing code could not be made that an
// admin can act on, in Indonesian and English; any other error is shown
// as the WhatsApp library wrote it (a diagnosis for whoever runs the
// gateway, in English in both languages).
var pairErrors = map[error][2]string{
	channels.ErrNotReady:  {"gateway tidak sedang menunggu penautan (sudah tertaut, atau WhatsApp belum berjalan).", "the gateway is not waiting to be linked (it is linked already, or WhatsApp is not running)."},
	channels.ErrPermanent: {"nomor tidak dikenali; tulis nomor WhatsApp Kementerian lengkap, misalnya 0811 10 500 567.", "the number is not recognised; write the Ministry's full WhatsApp number, e.g. 0811 10 500 567."},
}

func pairError(lang string, err error) string {
	for target, msg := range pairErrors {
		if errors.Is(err, target) {
			if lang == langEN {
				return msg[1]
			}
			return msg[0]
		}
	}
	return err.Error()
}

// jobRow is a job for the jobs page: its last run, and whether that run
// still counts as running (so the page offers no second start).
type jobRow struct {
	jobs.Info
	Running bool
}

func (s *Server) adminJobRoutes(mux *http.ServeMux) {
	admin := []string{accounts.Admin}
	mux.Handle("GET /api/v1/jobs", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		if s.Jobs == nil {
			return errNoJobs
		}
		infos, err := s.Jobs.List(r.Context())
		if err != nil {
			return err
		}
		if infos == nil {
			infos = []jobs.Info{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"jobs": infos, "next_cursor": ""})
		return nil
	}))
	mux.Handle("POST /api/v1/jobs/{name}/run", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		run, err := s.launchJob(r, u, "api")
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"run": run})
		return nil
	}))
	mux.HandleFunc("GET /admin/jobs", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if s.Jobs == nil {
			return errNoJobs
		}
		infos, err := s.Jobs.List(r.Context())
		if err != nil {
			return err
		}
		var rows []jobRow
		var recent []jobs.Run
		for _, in := range infos {
			// A "running" row older than the job's timeout was abandoned by a
			// process that died: the scheduler no longer counts it as busy.
			running := in.Last != nil && in.Last.Outcome == jobs.Running && time.Since(in.Last.StartedAt) < in.Timeout
			rows = append(rows, jobRow{Info: in, Running: running})
			h, err := s.Jobs.History(r.Context(), in.Name, 5)
			if err != nil {
				return err
			}
			recent = append(recent, h...)
		}
		sort.Slice(recent, func(i, j int) bool { return recent[i].StartedAt.After(recent[j].StartedAt) })
		if len(recent) > 30 {
			recent = recent[:30]
		}
		q := r.URL.Query()
		s.render(w, "admin_jobs.html", map[string]any{"User": u, "CSRF": csrf, "Jobs": rows, "Recent": recent,
			"Started": q.Get("started"), "Busy": q.Get("busy")})
		return nil
	}))
	mux.HandleFunc("POST /admin/jobs/{name}/run", s.adminPage(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		_, err := s.launchJob(r, u, "console")
		if ce, ok := coded.As(err); ok && ce.Code == "job_running" {
			http.Redirect(w, r, "/admin/jobs?busy="+url.QueryEscape(r.PathValue("name")), http.StatusSeeOther)
			return nil
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, "/admin/jobs?started="+url.QueryEscape(r.PathValue("name")), http.StatusSeeOther)
		return nil
	}))
}

var errNoJobs = coded.New(coded.NotFound, "not_enabled", "no job scheduler in this process")

// launchJob starts a manual run for an admin (audited) and maps the
// scheduler's refusals to codes.
func (s *Server) launchJob(r *http.Request, u accounts.User, via string) (jobs.Run, error) {
	if s.Jobs == nil {
		return jobs.Run{}, errNoJobs
	}
	name := r.PathValue("name")
	run, err := s.Jobs.Launch(name)
	switch {
	case errors.Is(err, jobs.ErrUnknownJob):
		return run, coded.New(coded.NotFound, "job_not_found", "no job is called %q", name)
	case errors.Is(err, jobs.ErrBusy):
		return run, coded.New(coded.Conflict, "job_running", "%s is already running; wait for it to finish", name)
	case err != nil && run.ID == 0:
		return run, err
	}
	// A run that started (even if it failed at once) is on the record.
	s.audit(r.Context(), u, "job.run", "job", run.Job, via+" run "+strconv.FormatInt(run.ID, 10))
	if err != nil {
		return run, coded.New(coded.Unavailable, "job_failed", "%s could not start: %s", name, run.Error)
	}
	return run, nil
}

// runDuration is a run's duration for the jobs page in lang ("" while
// running): "1.5 dtk" in Indonesian, "1.5 s" in English.
func runDuration(lang string, r jobs.Run) string {
	if r.FinishedAt == nil {
		return ""
	}
	d := r.Duration()
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		unit := " dtk"
		if lang == langEN {
			unit = " s"
		}
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + unit
	}
	return spanIn(lang, d)
}
