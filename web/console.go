package web

import (
	"crypto/hmac"
	"embed"
	"errors"
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

// bilingual is one console text in Indonesian and in English, side by
// side so that neither can be added without the other.
type bilingual struct{ id, en string }

// in is the text in lang; "" where the table leaves that language to the
// caller's fallback.
func (b bilingual) in(lang string) string {
	if lang == langEN {
		return b.en
	}
	return b.id
}

// labels are the words operators read for the stored keys (which stay
// English: they are the API's values). A key without a label is shown as
// it is, so a new one is never hidden.
var labels = map[string]bilingual{
	// statuses
	tickets.Open:     {"Terbuka", "Open"},
	tickets.Pending:  {"Menunggu warga", "Waiting for the citizen"},
	tickets.Resolved: {"Selesai", "Resolved"},
	tickets.Closed:   {"Ditutup", "Closed"},
	// categories
	tickets.CertificateMissing:  {"Sertifikat belum muncul", "Certificate not appearing"},
	tickets.ChangeData:          {"Perubahan data", "Change of data"},
	tickets.NIKMisuse:           {"NIK disalahgunakan", "NIK misused"},
	tickets.VaccinationStatus:   {"Status vaksinasi", "Vaccination status"},
	tickets.CertificateDownload: {"Unduh sertifikat", "Certificate download"},
	tickets.LoginProblem:        {"Masalah masuk akun", "Login problem"},
	tickets.Sijejak:             {"SIJEJAK (pelacakan kontak)", "SIJEJAK (contact tracing)"},
	tickets.Other:               {"Lainnya", "Other"},
	// flags
	tickets.UnparseableFlag:    {"tidak terbaca", "unreadable"},
	tickets.OversizedFlag:      {"terlalu besar", "too large"},
	tickets.DeliveryFailedFlag: {"gagal terkirim", "delivery failed"},
	tickets.SLAFlag:            {"melewati batas waktu layanan", "past the service deadline"},
	// channels
	"whatsapp":    {"WhatsApp", "WhatsApp"},
	"email":       {"Surel", "E-mail"},
	"simulator":   {"Simulator", "Simulator"},
	tickets.Phone: {"Telepon 119", "Phone 119"},
	// channel states shown beside the ticket list
	"connected":    {"tersambung", "connected"},
	"unauthorized": {"token akses ditolak", "access token refused"},
	// outbound delivery
	"queued":    {"dalam antrean", "queued"},
	"sending":   {"sedang dikirim", "sending"},
	"sent":      {"terkirim", "sent"},
	"dead":      {"gagal dikirim", "not delivered"},
	"delivered": {"diterima", "delivered"},
	"read":      {"dibaca", "read"},
	"failed":    {"gagal", "failed"},
	"held":      {"ditahan (di luar jendela 24 jam)", "held (outside the 24-hour window)"},
	// WhatsApp pairing states (admin console)
	"disconnected": {"terputus", "disconnected"},
	"unpaired":     {"belum ditautkan", "not linked"},
	"pairing":      {"menunggu penautan", "waiting to be linked"},
	"logged_out":   {"dikeluarkan dari WhatsApp (tautkan ulang)", "logged out of WhatsApp (link again)"},
	"disabled":     {"nonaktif", "disabled"},
	"standby":      {"siaga (replika lain memegang sambungan)", "standby (another replica holds the connection)"},
	// job runs (admin console)
	"ok":       {"berhasil", "succeeded"},
	"running":  {"sedang berjalan", "running"},
	"skipped":  {"dilewati", "skipped"},
	"schedule": {"terjadwal", "scheduled"},
	"manual":   {"manual", "manual"},
	// roles (admin console)
	accounts.Operator:      {"Petugas", "Operator"},
	accounts.Supervisor:    {"Supervisor", "Supervisor"},
	accounts.HealthOfficer: {"Petugas kesehatan", "Health officer"},
	accounts.Admin:         {"Admin", "Admin"},
	// Sijejak consent of a case (tracing.Consent…)
	"consent_requested": {"diminta, belum dijawab", "requested, no answer yet"},
	"consent_given":     {"disetujui", "given"},
	"consent_refused":   {"ditolak", "refused"},
	"consent_expired":   {"kedaluwarsa", "expired"},
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
		if d, ok := c.(interface{ Status() map[string]string }); ok {
			return d.Status()
		}
	}
	return nil
}

func label(key string) string { return labelIn("id", key) }

func labelIn(lang, key string) string {
	if l, ok := labels[key]; ok {
		return l.in(lang)
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
		sid, _, lu, err := s.Accounts.Login(r.Context(), name, r.FormValue("password"), 12*time.Hour)
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
		// A health officer's console is the case page; the ticket desk
		// would only refuse them.
		if lu.Role == accounts.HealthOfficer {
			http.Redirect(w, r, "/officer", http.StatusSeeOther)
			return
		}
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
	mux.HandleFunc("GET /{$}", s.page(s.inboxPage))
	mux.HandleFunc("GET /static/console.js", serveConsoleJS)
	mux.HandleFunc("POST /tickets/{id}/take", s.page(s.take))
	mux.HandleFunc("POST /tickets/bulk", s.page(s.bulk))
	// Any other console address: a 404 inside the layout, in Indonesian,
	// rather than the mux's bare English text.
	mux.HandleFunc("/", s.page(func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		return coded.New(coded.NotFound, "page_not_found", "Halaman yang Anda tuju tidak ada. Periksa alamatnya, atau kembali ke daftar tiket.")
	}))
	s.ticketRoutes(mux)
	s.callRoutes(mux)
	s.cannedRoutes(mux)
	s.dashboardRoutes(mux)
	s.adminRoutes(mux)
	// issue-18c: the health officers' case page, "try the bot", the
	// user's console language.
	s.officerRoutes(mux)
	s.tryRoutes(mux)
	s.settingsRoutes(mux)
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
		if err := s.DB.InTx(r.Context(), func(tx *store.Tx) error { _, err := s.closeAndAsk(r.Context(), tx, t, p); return err }); err != nil {
			return err
		}
		s.audit(r.Context(), u, "ticket.update", "ticket", t.Number, patchSummary(p))
		http.Redirect(w, r, "/tickets/"+url.PathEscape(t.Number), http.StatusSeeOther)
		return nil
	}))
}

// consolePage is a console handler: it knows its user and the session's
// CSRF token, and returns an error shown inside the layout.
type consolePage func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error

// page is a console page of the ticket desk (operators and supervisors).
func (s *Server) page(h consolePage) http.HandlerFunc {
	return s.pageFor([]string{accounts.Operator, accounts.Supervisor}, "Peran Anda tidak memiliki akses ke konsol tiket.", h)
}

// pageFor is a console page for roles (nil: any signed-in user; admin
// always passes); others get forbidden, an Indonesian sentence (translated
// for users who chose English).
func (s *Server) pageFor(roles []string, forbidden string, h consolePage) http.HandlerFunc {
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
		fail := func(status int, msg string) { s.renderErrorFor(w, status, msg, u, csrf) }
		if roles != nil && !u.Has(roles...) {
			fail(http.StatusForbidden, forbidden)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				fail(http.StatusRequestEntityTooLarge, "Balasan terlalu panjang (lebih dari 64 KB); mohon persingkat.")
				return
			}
			// The body only: a token in the URL leaks through history,
			// logs and Referer headers.
			if r.PostFormValue("csrf") != csrf {
				fail(http.StatusForbidden, "Sesi formulir tidak valid; muat ulang halaman.")
				return
			}
		}
		if err := h(w, r, u, csrf); err != nil {
			if ce, ok := coded.As(err); ok {
				status := map[coded.Kind]int{coded.NotFound: http.StatusNotFound, coded.Forbidden: http.StatusForbidden, coded.Conflict: http.StatusConflict}[ce.Kind]
				if status == 0 {
					status = http.StatusBadRequest
				}
				fail(status, consoleMessageIn(langOf(u), ce))
				return
			}
			s.Log.Error("console request failed", "path", r.URL.Path, "err", err)
			fail(http.StatusInternalServerError, "Terjadi kesalahan internal; sudah dicatat.")
		}
	}
}

// barLinks says which optional links the top bar shows u: "try the bot"
// only where that page exists, and Sijejak's cases for an admin only where
// Sijejak runs (a health officer's one page says when it does not).
func (s *Server) barLinks(u accounts.User) (tryOn, sijejakOn bool) {
	return s.Simulator != nil && u.Has(accounts.Operator, accounts.Supervisor), s.Tracing != nil
}

// barPage is page data in a struct (a pointer to it) rather than a map:
// renderStatus reads its user and fills its top bar's links as it does a
// map's.
type barPage interface {
	user() accounts.User
	setBar(tryOn, sijejakOn bool)
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	s.renderStatus(w, http.StatusOK, name, data)
}

// renderStatus sets the security headers before the status line, so error
// pages carry them too.
func (s *Server) renderStatus(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// One script, the console's own file (inbox refresh): no inline script,
	// no eval, and fetch only back to this origin.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	lang := "id"
	switch d := data.(type) {
	case map[string]any:
		if u, ok := d["User"].(accounts.User); ok {
			lang = langOf(u)
			d["TryOn"], d["SijejakOn"] = s.barLinks(u)
		}
	case barPage:
		// A page whose data is a struct.
		lang = langOf(d.user())
		d.setBar(s.barLinks(d.user()))
	}
	if err := pagesIn(lang).ExecuteTemplate(w, name, data); err != nil {
		s.Log.Error("template failed", "template", name, "err", err)
	}
}

func (s *Server) renderError(w http.ResponseWriter, status int, msg string) {
	s.renderStatus(w, status, "error.html", map[string]any{"Message": msg})
}

// renderErrorFor is an error page inside the console's layout, with the
// top bar of the signed-in operator.
func (s *Server) renderErrorFor(w http.ResponseWriter, status int, msg string, u accounts.User, csrf string) {
	s.renderStatus(w, status, "error.html", map[string]any{"Message": trIn(langOf(u), msg), "User": u, "CSRF": csrf})
}

// consoleErrors are the words for the coded errors an operator meets in
// the console; the API keeps its own message. page_not_found's Indonesian
// is the error's own.
var consoleErrors = map[string]bilingual{
	"ticket_not_found":    {"Tiket tidak ditemukan. Periksa nomornya (contoh: PL-2026-000123).", "Ticket not found. Check its number (e.g. PL-2026-000123)."},
	"ticket_closed":       {"Tiket ini sudah ditutup; warga dapat membuka tiket baru.", "This ticket is closed; the citizen can open a new one."},
	"empty_text":          {"Teks masih kosong.", "The text is empty."},
	"text_too_long":       {"Teks terlalu panjang; mohon persingkat.", "The text is too long; please shorten it."},
	"bad_status":          {"Status tidak dikenal.", "Unknown status."},
	"bad_category":        {"Kategori tidak dikenal.", "Unknown category."},
	"bad_channel":         {"Kanal tidak dikenal.", "Unknown channel."},
	"bad_view":            {"Tampilan tidak dikenal.", "Unknown view."},
	"bad_sort":            {"Urutan tidak dikenal.", "Unknown order."},
	"bad_cursor":          {"Alamat halaman berikutnya tidak valid; mulai lagi dari halaman pertama.", "The next page's address is not valid; start again from the first page."},
	"bad_query":           {"Teks pencarian tidak dapat dipakai (terlalu panjang atau berisi karakter kontrol).", "The search text cannot be used (too long, or it has control characters)."},
	"invalid_transition":  {"Perubahan status ini tidak diperbolehkan.", "This status change is not allowed."},
	"already_taken":       {"Tiket ini sudah ditangani petugas lain, atau sudah ditutup.", "Another operator has this ticket, or it is closed."},
	"unknown_assignee":    {"Tidak ada petugas aktif dengan nama itu.", "No active operator has that name."},
	"canned_title_taken":  {"Sudah ada balasan siap pakai dengan judul itu.", "A canned reply with that title exists already."},
	"canned_not_found":    {"Balasan siap pakai tidak ditemukan.", "Canned reply not found."},
	"answer_by_callback":  {"Penelepon meminta ditelepon balik: hubungi penelepon, lalu catat hasilnya sebagai catatan internal.", "The caller asked to be called back: call them, then write the outcome as an internal note."},
	"no_answer_address":   {"Alamat untuk mengirim jawaban kepada penelepon tidak tercatat.", "The address to send the caller's answer to is not recorded."},
	"bad_contact":         {"Nomor telepon penelepon tidak dikenali; tulis nomor HP Indonesia, misalnya 0812 3456 7890.", "The caller's phone number is not recognised; write an Indonesian mobile number, e.g. 0812 3456 7890."},
	"bad_email":           {"Untuk jawaban melalui surel, isi alamat surel penelepon.", "For an answer by e-mail, fill in the caller's e-mail address."},
	"bad_callback_due":    {"Isi tanggal dan jam telepon balik.", "Fill in the call-back date and time."},
	"bad_nik":             {"NIK terdiri atas 16 angka.", "A NIK has 16 digits."},
	"no_chat_channel":     {"Kanal WhatsApp sedang tidak berjalan; pilih surel atau telepon balik.", "The WhatsApp channel is not running; choose e-mail or a call back."},
	"forbidden":           {"Peran Anda tidak diizinkan melakukan ini.", "Your role may not do this."},
	"nothing_selected":    {"Belum ada tiket yang dipilih.", "No ticket is selected."},
	"bad_action":          {"Tindakan tidak dikenal.", "Unknown action."},
	"admin_only":          {"Halaman ini hanya untuk admin.", "This page is for admins only."},
	"bad_name":            {"Nama pengguna harus 2–64 karakter: huruf, angka, atau . _ @ -", "A user name has 2–64 characters: letters, digits or . _ @ -"},
	"bad_role":            {"Peran tidak dikenal.", "Unknown role."},
	"user_exists":         {"Sudah ada pengguna dengan nama itu.", "A user with that name exists already."},
	"user_not_found":      {"Pengguna tidak ditemukan.", "User not found."},
	"token_not_found":     {"Token API tidak ditemukan (mungkin sudah dicabut).", "API token not found (it may have been revoked already)."},
	"cannot_disable_self": {"Anda tidak dapat menonaktifkan akun Anda sendiri; minta admin lain.", "You cannot disable your own account; ask another admin."},
	"cannot_demote_self":  {"Anda tidak dapat melepas peran admin dari akun Anda sendiri; minta admin lain.", "You cannot take the admin role from your own account; ask another admin."},
	"job_not_found":       {"Tugas terjadwal tidak dikenal.", "Unknown scheduled job."},
	"job_running":         {"Tugas ini sedang berjalan; tunggu sampai selesai.", "This job is running; wait until it has finished."},
	"job_failed":          {"Tugas tidak dapat dimulai; alasannya tercatat di riwayat terakhir halaman Tugas terjadwal.", "The job could not start; the reason is recorded under recent runs on the Scheduled jobs page."},
	"not_enabled":         {"Fitur ini tidak aktif pada gateway ini.", "This feature is not enabled on this gateway."},
	"bad_phone":           {"Nomor HP tidak dikenali; tulis nomor HP Indonesia, misalnya 0812 3456 7890.", "The phone number is not recognised; write an Indonesian mobile number, e.g. 0812 3456 7890."},
	"not_registered":      {"Nomor ini tidak terdaftar di Sijejak.", "This number is not registered with Sijejak."},
	"no_date":             {"Isi tanggal mulai gejala atau tanggal pengambilan spesimen.", "Fill in the symptom onset date or the specimen date."},
	"bad_date":            {"Tanggal tidak valid.", "The date is not valid."},
	"bad_lang":            {"Bahasa tidak dikenal.", "Unknown language."},
	"page_not_found":      {"", "The page you asked for does not exist. Check the address, or go back to the ticket list."},
}

func consoleMessage(ce *coded.Error) string { return consoleMessageIn("id", ce) }

// consoleMessageIn is the message of a coded error for a console user in
// lang; for English it falls back to the API's (English) message.
func consoleMessageIn(lang string, ce *coded.Error) string {
	if m := consoleErrors[ce.Code].in(lang); m != "" {
		return m
	}
	if lang == langEN {
		return trIn(lang, ce.Message)
	}
	return ce.Message
}
