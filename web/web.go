// Package web owns HTTP: probes, metrics, the operator JSON API, the
// simulator routes, the Sijejak phone-app API and the operator console. It
// translates between HTTP and the domain packages and holds no business
// rules of its own; coded errors from those packages map to statuses here.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"lindungi/accounts"
	"lindungi/bot"
	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/coded"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/tickets"
	"lindungi/tracing"
)

// Server wires the domain packages to HTTP. Fields left nil switch their
// routes off (they answer 404 not_enabled).
type Server struct {
	DB        *store.DB
	Tickets   *tickets.Store
	Bot       *bot.Bot
	Outbox    *channels.Outbox
	Accounts  *accounts.Store
	Simulator *simulator.Channel
	// Tracing is Sijejak (nil when off): the health officers' pages and
	// the dashboard's Sijejak counts.
	Tracing  *tracing.Service
	Registry *prometheus.Registry
	Log      *slog.Logger
	// MaxBody caps request bodies (tracing uploads have their own cap).
	MaxBody int64
	// Auditor records reads of personal data and other access.
	Auditor func(ctx context.Context, actor, action, objectType, objectID, detail string)
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// real client (login throttling counts per client address).
	TrustedProxies []netip.Prefix
	// DeviceMark is a keyed hash of a user name and a secret of the
	// account that a password reset changes: the value of the console's
	// device cookie ("": the account has none; nil: no device cookie).
	DeviceMark func(ctx context.Context, name string) (string, error)
	// SecureCookies marks the session cookie Secure even when the request
	// reached us over plain HTTP (TLS ended at a proxy; public_url https).
	SecureCookies bool
	// Jobs is the scheduler, for the admin console's jobs page and
	// /api/v1/jobs (nil: those answer not_enabled).
	Jobs *jobs.Scheduler
	// WhatsApp is the linked-device provider and WhatsAppCloud the Cloud
	// API provider, whichever is configured (the admin console's pairing
	// page; both nil: WhatsApp is off).
	WhatsApp      *whatsapp.Channel
	WhatsAppCloud *cloud.Channel
	// Extra registers routes owned by optional features (WhatsApp pairing,
	// Sijejak, privacy, audit), so this package does not grow a dependency
	// on each.
	Extra []func(mux *http.ServeMux, s *Server)
}

// Handler builds the routes.
func (s *Server) Handler() http.Handler {
	if s.MaxBody <= 0 {
		s.MaxBody = 1 << 20
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	}
	staff := []string{accounts.Operator, accounts.Supervisor}
	mux.Handle("GET /api/v1/tickets", s.auth(staff, s.listTickets))
	mux.Handle("GET /api/v1/tickets/{id}", s.auth(staff, s.getTicket))
	mux.Handle("PATCH /api/v1/tickets/{id}", s.auth(staff, s.patchTicket))
	mux.Handle("POST /api/v1/tickets/{id}/replies", s.auth(staff, s.replyTicket))
	mux.Handle("GET /api/v1/tickets/{id}/attachments/{aid}", s.auth(staff, s.getAttachment))
	// The simulator injects messages "from" any address: its own role,
	// never an operator's (and the routes answer only when it is enabled).
	mux.Handle("POST /api/v1/simulator/messages", s.auth([]string{accounts.Simulator}, s.simPost))
	mux.Handle("GET /api/v1/simulator/messages", s.auth([]string{accounts.Simulator}, s.simGet))
	s.auditRoutes(mux)
	s.userRoutes(mux)
	for _, f := range s.Extra {
		f(mux, s)
	}
	s.console(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, coded.New(coded.NotFound, "not_found", "no such route"), s.Log)
	})
	return s.recoverer(mux)
}

// recoverer turns a handler panic into a 500 without a stack trace to the
// client (it is logged).
func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("http handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				WriteError(w, r, errors.New("panic"), nil)
			}
		}()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// HandlerFunc is a handler that knows its user and returns an error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, u accounts.User) error

// Auth protects a handler: the caller needs one of roles (admin always
// passes). Exported for feature route sets.
func (s *Server) Auth(roles []string, h HandlerFunc) http.Handler { return s.auth(roles, h) }

func (s *Server) auth(roles []string, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lindungi"`)
			WriteError(w, r, err, s.Log)
			return
		}
		if !u.Has(roles...) {
			WriteError(w, r, coded.New(coded.Forbidden, "forbidden", "your role (%s) may not do this", u.Role), s.Log)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.MaxBody)
		if err := h(w, r, u); err != nil {
			WriteError(w, r, err, s.Log)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (accounts.User, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			return accounts.User{}, accounts.ErrUnauthenticated
		}
		return s.Accounts.ByToken(r.Context(), strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		u, csrf, err := s.Accounts.BySession(r.Context(), c.Value)
		if err != nil {
			return u, err
		}
		// Cookie-authenticated writes need the CSRF token: a form field or
		// header the attacker's page cannot read. Never from the query
		// string: a URL is kept in history, proxy logs and Referer headers.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Header.Get("X-CSRF-Token") != csrf && r.PostFormValue("csrf") != csrf {
				return u, coded.New(coded.Forbidden, "csrf", "missing or wrong CSRF token; reload the page")
			}
		}
		return u, nil
	}
	return accounts.User{}, accounts.ErrUnauthenticated
}

// WriteError maps an error to its status and the JSON error body. Internal
// errors are logged and shown only as "internal".
func WriteError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) {
	status, code, msg := http.StatusInternalServerError, "internal", "internal error; it has been logged"
	var mbe *http.MaxBytesError
	if ce, ok := coded.As(err); ok {
		code, msg = ce.Code, ce.Message
		status = map[coded.Kind]int{
			coded.Invalid: 400, coded.Unauthorized: 401, coded.Forbidden: 403, coded.NotFound: 404,
			coded.Conflict: 409, coded.TooLarge: 413, coded.TooMany: 429, coded.Unavailable: 503,
		}[ce.Kind]
		if status == 0 {
			status = 400
		}
	} else if errors.As(err, &mbe) {
		status, code, msg = http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)
	} else if store.IsStorageFull(err) {
		// The transaction was rolled back whole: say so, so the client
		// retries instead of guessing whether its message was kept.
		status, code, msg = http.StatusServiceUnavailable, "storage_full", "the gateway's storage is full; nothing was stored, please retry later"
		w.Header().Set("Retry-After", "60")
		if log != nil {
			log.Error("storage full: request refused", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	} else if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away (a long poll of `lindungi chat` ending):
		// nothing failed on our side, and nobody reads the answer.
		if log != nil {
			log.Debug("client left before the answer", "method", r.Method, "path", r.URL.Path)
		}
		return
	} else if log != nil {
		log.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// WriteJSON writes v with status (for feature route sets).
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// DecodeJSON reads a JSON body strictly: unknown fields and trailing data
// are errors with a message that says what is wrong.
func DecodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return coded.New(coded.Invalid, "bad_json", "request body is empty; send a JSON object")
		}
		return coded.New(coded.Invalid, "bad_json", "request body is not valid JSON for this route: %s", sanitize(err.Error()))
	}
	if dec.More() {
		return coded.New(coded.Invalid, "bad_json", "request body has data after the JSON object")
	}
	return nil
}

func sanitize(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.ToValidUTF8(s, "")
}

// readinessReporter is a channel that explains itself in /readyz beyond
// its state (the e-mail channel: per mailbox; the WhatsApp Cloud API: the
// number's quality rating and tier).
type readinessReporter interface {
	Readiness() (detail any, degraded bool)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	out := map[string]any{}
	status := http.StatusOK
	if err := s.DB.SQL.PingContext(ctx); err != nil {
		out["database"] = "down"
		status = http.StatusServiceUnavailable
	} else {
		out["database"] = "ok"
	}
	// A full disk fails every write; take this instance out of rotation
	// before citizens' messages start bouncing off it.
	if free, ok := s.DB.FreeBytes(); ok {
		if free < store.MinFreeBytes {
			out["disk"] = "full"
			status = http.StatusServiceUnavailable
		} else {
			out["disk"] = "ok"
		}
	}
	chs := map[string]string{}
	details := map[string]any{}
	var degraded []string
	if s.Outbox != nil {
		for _, c := range s.Outbox.Channels() {
			chs[c.Name()] = string(c.State())
			if rr, ok := c.(readinessReporter); ok {
				d, bad := rr.Readiness()
				details[c.Name()] = d
				if bad {
					degraded = append(degraded, c.Name())
				}
			}
		}
	}
	out["channels"] = chs
	if len(details) > 0 {
		out["details"] = details
	}
	// A degraded channel (a mailbox whose server refuses a move, a relay
	// that refuses our login) is named, but the instance stays ready: every
	// replica shares the cause, and taking them out of rotation would only
	// hide the console the operators need to see it.
	if len(degraded) > 0 {
		out["degraded"] = degraded
	}
	if status == http.StatusOK {
		out["status"] = "ready"
	} else {
		out["status"] = "not_ready"
	}
	writeJSON(w, status, out)
}

func (s *Server) audit(ctx context.Context, u accounts.User, action, typ, id, detail string) {
	if s.Auditor != nil {
		s.Auditor(ctx, u.Actor(), action, typ, id, detail)
	}
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if a := q.Get("assignee"); a != "" {
		// A disabled operator still counts: their tickets need reassigning.
		ok, err := s.Accounts.Exists(r.Context(), a)
		if err != nil {
			return err
		}
		if !ok {
			return coded.New(coded.Invalid, "unknown_assignee", "no operator is called %q", a)
		}
	}
	f := inboxFilter(q, u, true)
	f.Limit = limit
	ts, next, err := s.Tickets.List(r.Context(), f)
	if err != nil {
		return err
	}
	if q.Get("q") != "" {
		s.audit(r.Context(), u, "ticket.search", "ticket", "*", "")
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": ts, "next_cursor": next})
	return nil
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	t, msgs, err := s.ticketDetail(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	// The detail shows personal fields (NIK in clear): every read is audited.
	s.audit(r.Context(), u, "ticket.read", "ticket", t.Number, "")
	type detail struct {
		tickets.Ticket
		Messages []tickets.Message `json:"messages"`
	}
	if msgs == nil {
		msgs = []tickets.Message{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": detail{t, msgs}})
	return nil
}

func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	var p tickets.Patch
	if err := DecodeJSON(r, &p); err != nil {
		return err
	}
	t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if p.Assignee != nil && *p.Assignee != "" {
		ok, err := s.Accounts.Active(r.Context(), *p.Assignee)
		if err != nil {
			return err
		}
		if !ok {
			return coded.New(coded.Invalid, "unknown_assignee", "no active operator is called %q (send \"\" to unassign)", *p.Assignee)
		}
	}
	err = s.DB.InTx(r.Context(), func(tx *store.Tx) error {
		t, err = s.closeAndAsk(r.Context(), tx, t, p)
		return err
	})
	if err != nil {
		return err
	}
	s.audit(r.Context(), u, "ticket.update", "ticket", t.Number, patchSummary(p))
	writeJSON(w, http.StatusOK, map[string]any{"ticket": t})
	return nil
}

// closeAndAsk applies an operator's patch; when it closes the ticket, the
// citizen is asked to rate the service in the same transaction.
func (s *Server) closeAndAsk(ctx context.Context, tx *store.Tx, t tickets.Ticket, p tickets.Patch) (tickets.Ticket, error) {
	was := t.Status
	t, err := s.Tickets.Update(ctx, tx, t, p)
	if err != nil || t.Status != tickets.Closed || was == tickets.Closed || s.Bot == nil {
		return t, err
	}
	return t, s.Bot.AskRating(ctx, tx, t)
}

func patchSummary(p tickets.Patch) string {
	var parts []string
	if p.Status != nil {
		parts = append(parts, "status="+*p.Status)
	}
	if p.Category != nil {
		parts = append(parts, "category="+*p.Category)
	}
	if p.Assignee != nil {
		parts = append(parts, "assignee")
	}
	return strings.Join(parts, ",")
}

func (s *Server) replyTicket(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	var body struct {
		Text string `json:"text"`
	}
	if err := DecodeJSON(r, &body); err != nil {
		return err
	}
	t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	m, err := s.Bot.Reply(r.Context(), t.Number, u.Name, body.Text)
	if err != nil {
		return err
	}
	s.audit(r.Context(), u, "ticket.reply", "ticket", t.Number, "")
	writeJSON(w, http.StatusCreated, map[string]any{"message": m})
	return nil
}

func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	t, err := s.Tickets.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	aid, err := strconv.ParseInt(r.PathValue("aid"), 10, 64)
	if err != nil {
		return coded.New(coded.NotFound, "attachment_not_found", "no such attachment")
	}
	a, data, err := s.Tickets.Attachment(r.Context(), t.ID, aid)
	if err != nil {
		return err
	}
	s.audit(r.Context(), u, "attachment.read", "ticket", t.Number, strconv.FormatInt(aid, 10))
	// Always a download, never rendered in the console's origin: an HTML or
	// SVG attachment must not run script there.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", a.Name))
	w.Header().Set("Content-Security-Policy", "sandbox")
	w.Write(data)
	return nil
}

func (s *Server) simPost(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	if s.Simulator == nil {
		return coded.New(coded.NotFound, "not_enabled", "the simulator channel is off (enable it with LINDUNGI_SIMULATOR=true, for development and demos only)")
	}
	var sub simulator.Submission
	if err := DecodeJSON(r, &sub); err != nil {
		return err
	}
	in, err := simulator.Inbound(sub)
	if err != nil {
		return err
	}
	if err := s.Bot.Deliver(r.Context(), in); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": in.ExternalID})
	return nil
}

// MaxLongPoll caps the simulator's ?wait=: the HTTP server's WriteTimeout
// must leave room for it.
const MaxLongPoll = 30 * time.Second

func (s *Server) simGet(w http.ResponseWriter, r *http.Request, u accounts.User) error {
	if s.Simulator == nil {
		return coded.New(coded.NotFound, "not_enabled", "the simulator channel is off (enable it with LINDUNGI_SIMULATOR=true, for development and demos only)")
	}
	q := r.URL.Query()
	to := q.Get("to")
	if strings.HasPrefix(to, " ") {
		// An unencoded "+62…" arrives as " 62…" (a "+" in a query is a space).
		to = "+" + strings.TrimLeft(to, " ")
	}
	after, _ := strconv.ParseInt(q.Get("after"), 10, 64)
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		var err error
		if wait, err = time.ParseDuration(v); err != nil {
			return coded.New(coded.Invalid, "bad_wait", "wait must be a duration like 10s (got %q)", v)
		}
	}
	wait = min(wait, MaxLongPoll)
	msgs, err := s.Simulator.Sent(r.Context(), to, after, 0)
	if err != nil {
		return err
	}
	if len(msgs) == 0 && wait > 0 && to != "" {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		s.Simulator.Wait(ctx, to)
		cancel()
		if r.Context().Err() != nil {
			return nil // the client left during its long poll (`lindungi chat` exiting): nothing to answer or log
		}
		if msgs, err = s.Simulator.Sent(r.Context(), to, after, 0); err != nil {
			return err
		}
	}
	next := after
	if len(msgs) > 0 {
		next = msgs[len(msgs)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "next_cursor": strconv.FormatInt(next, 10)})
	return nil
}
