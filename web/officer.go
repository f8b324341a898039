package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"lindungi/accounts"
	"lindungi/coded"
	"lindungi/tracing"
)

// officerPhone reads the phone number a health officer typed, with the
// phone-number library the rest of the gateway uses: an Indonesian mobile
// number in any of its spellings (0812…, +62 812-…, 62812…), as E.164.
func officerPhone(s string) (string, error) {
	bad := coded.New(coded.Invalid, "bad_phone", "phone must be an Indonesian mobile number, like 0812 3456 7890")
	// Digits and the usual separators only: the library would read
	// letters as a vanity number's keypad digits.
	if strings.TrimFunc(s, func(r rune) bool { return strings.ContainsRune("0123456789+-(). ", r) }) != "" {
		return "", bad
	}
	n, err := phonenumbers.Parse(s, "ID")
	if err != nil || !phonenumbers.IsValidNumberForRegion(n, "ID") {
		return "", bad
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return "", bad
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// officerCases is the case list a health officer asked for: their own, or
// every officer's with all=1.
func (s *Server) officerCases(r *http.Request, u accounts.User) ([]tracing.CaseStatus, bool, error) {
	all := r.URL.Query().Get("all") == "1" || r.URL.Query().Get("all") == "true"
	officer := u.Actor()
	if all {
		officer = ""
	}
	cs, err := s.Tracing.Cases(r.Context(), officer, 200)
	return cs, all, err
}

var errTracingOff = coded.New(coded.NotFound, "not_enabled", "Sijejak is off (tracing.enabled)")

// officerRoutes are the health officers' pages: mark a registered phone
// positive (the citizen is asked for consent to upload), and follow their
// cases' consent, upload and notification counts. Nothing here names who
// was notified; the case list does not even show the case's phone.
func (s *Server) officerRoutes(mux *http.ServeMux) {
	officers := []string{accounts.HealthOfficer}
	const forbidden = "Peran Anda tidak memiliki akses ke halaman ini."
	mux.Handle("GET /api/v1/tracing/cases", s.auth(officers, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		if s.Tracing == nil {
			return errTracingOff
		}
		cs, _, err := s.officerCases(r, u)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"cases": cs})
		return nil
	}))
	mux.HandleFunc("GET /officer", s.pageFor(officers, forbidden, func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		return s.officerPage(w, r, u, csrf, http.StatusOK, "")
	}))
	mux.HandleFunc("POST /officer/cases", s.pageFor(officers, forbidden, func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if s.Tracing == nil {
			return errTracingOff
		}
		fail := func(err error) error {
			ce, ok := coded.As(err)
			if !ok {
				return err
			}
			status := map[coded.Kind]int{coded.NotFound: http.StatusNotFound, coded.TooMany: http.StatusTooManyRequests}[ce.Kind]
			if status == 0 {
				status = http.StatusBadRequest
			}
			return s.officerPage(w, r, u, csrf, status, consoleMessageIn(langOf(u), ce))
		}
		phone, err := officerPhone(r.FormValue("phone"))
		if err != nil {
			return fail(err)
		}
		onset, err := parseDate("onsetDate", r.FormValue("onset"))
		if err != nil {
			return fail(err)
		}
		specimen, err := parseDate("specimenDate", r.FormValue("specimen"))
		if err != nil {
			return fail(err)
		}
		// MarkPositive writes the audit rows (the mark, the consent
		// request) in its own transaction.
		c, err := s.Tracing.MarkPositive(r.Context(), u.Actor(), phone, onset, specimen)
		if err != nil {
			return fail(err)
		}
		http.Redirect(w, r, "/officer?marked="+strconv.FormatInt(c.ID, 10), http.StatusSeeOther)
		return nil
	}))
}

func (s *Server) officerPage(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string, status int, errMsg string) error {
	if s.Tracing == nil {
		return errTracingOff
	}
	cs, all, err := s.officerCases(r, u)
	if err != nil {
		return err
	}
	marked, _ := strconv.ParseInt(r.URL.Query().Get("marked"), 10, 64)
	s.renderStatus(w, status, "officer.html", map[string]any{"User": u, "CSRF": csrf, "Cases": cs, "All": all,
		"Marked": marked, "Error": errMsg, "Phone": r.FormValue("phone"), "Onset": r.FormValue("onset"), "Specimen": r.FormValue("specimen")})
	return nil
}
