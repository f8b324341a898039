package web

import (
	"net/http"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/coded"
	"lindungi/tracing"
)

// TracingRoutes serves the Sijejak phone-app API (BlueTrace-shaped) and the
// health officers' case route. The phone routes authenticate with a device
// token, not an operator token. Registration is rate limited per client
// address: behind a reverse proxy that is the X-Forwarded-For address when
// the proxy is listed in trusted_proxies (otherwise every phone in the
// country would share the proxy's budget).
func TracingRoutes(svc *tracing.Service) func(mux *http.ServeMux, s *Server) {
	return func(mux *http.ServeMux, s *Server) {
		small := func(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
				if err := h(w, r); err != nil {
					WriteError(w, r, err, s.Log)
				}
			}
		}
		device := func(h func(w http.ResponseWriter, r *http.Request, d tracing.Device) error) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				var d tracing.Device
				var err error = tracing.ErrBadToken
				if ok && tok != "" {
					d, err = svc.Authenticate(r.Context(), strings.TrimSpace(tok))
				}
				if err != nil {
					if r.URL.Path == "/api/tracing/v1/uploads" {
						svc.CountUnauthenticatedUpload(err)
						w.Header().Set("Connection", "close") // the body stays unread
					}
					WriteError(w, r, err, s.Log)
					return
				}
				if err := h(w, r, d); err != nil {
					WriteError(w, r, err, s.Log)
				}
			}
		}
		mux.HandleFunc("POST /api/tracing/v1/register", small(func(w http.ResponseWriter, r *http.Request) error {
			var body struct {
				Phone string `json:"phone"`
			}
			if err := DecodeJSON(r, &body); err != nil {
				return err
			}
			code, link, err := svc.Register(r.Context(), body.Phone, clientAddr(r, s.TrustedProxies))
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, map[string]string{"code": code, "waLink": link})
			return nil
		}))
		mux.HandleFunc("POST /api/tracing/v1/register/otp", small(func(w http.ResponseWriter, r *http.Request) error {
			var body struct {
				Phone string `json:"phone"`
			}
			if err := DecodeJSON(r, &body); err != nil {
				return err
			}
			if err := svc.SendOTP(r.Context(), body.Phone, clientAddr(r, s.TrustedProxies)); err != nil {
				return err
			}
			writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent"})
			return nil
		}))
		mux.HandleFunc("POST /api/tracing/v1/register/verify", small(func(w http.ResponseWriter, r *http.Request) error {
			var body struct {
				Phone string `json:"phone"`
				Code  string `json:"code"`
				OTP   string `json:"otp"`
			}
			if err := DecodeJSON(r, &body); err != nil {
				return err
			}
			if (body.Code == "") == (body.OTP == "") {
				return coded.New(coded.Invalid, "code_or_otp", "send either code or otp")
			}
			tok, err := svc.VerifyFrom(r.Context(), body.Phone, clientAddr(r, s.TrustedProxies), body.Code, body.OTP)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, map[string]string{"deviceToken": tok})
			return nil
		}))
		mux.HandleFunc("GET /api/tracing/v1/tempids", device(func(w http.ResponseWriter, r *http.Request, d tracing.Device) error {
			b, err := svc.TempIDs(r.Context(), d, time.Now())
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, b)
			return nil
		}))
		mux.HandleFunc("GET /api/tracing/v1/upload-authorisation", device(func(w http.ResponseWriter, r *http.Request, d tracing.Device) error {
			a, err := svc.UploadAuthorisation(r.Context(), d)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, a)
			return nil
		}))
		mux.HandleFunc("POST /api/tracing/v1/uploads", device(func(w http.ResponseWriter, r *http.Request, d tracing.Device) error {
			// The service admits the device (open window, rate limit)
			// before reading a byte of the body, then decodes it as a
			// stream with its caps (records, bytes) enforced while reading.
			res, err := svc.UploadFrom(r.Context(), d, r.Body)
			if err != nil {
				// The body was not read, or not all of it: the connection
				// closes rather than wait for the rest.
				w.Header().Set("Connection", "close")
				return err
			}
			writeJSON(w, http.StatusOK, res)
			return nil
		}))
		mux.Handle("POST /api/v1/tracing/cases", s.auth([]string{accounts.HealthOfficer}, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			var body struct {
				Phone        string `json:"phone"`
				OnsetDate    string `json:"onsetDate"`
				SpecimenDate string `json:"specimenDate"`
			}
			if err := DecodeJSON(r, &body); err != nil {
				return err
			}
			onset, err := parseDate("onsetDate", body.OnsetDate)
			if err != nil {
				return err
			}
			specimen, err := parseDate("specimenDate", body.SpecimenDate)
			if err != nil {
				return err
			}
			c, err := svc.MarkPositive(r.Context(), u.Actor(), body.Phone, onset, specimen)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusCreated, map[string]any{"case": map[string]any{"id": c.ID, "infectiousFrom": c.InfectiousFrom, "consent": "requested"}})
			return nil
		}))
	}
}

func parseDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return t, coded.New(coded.Invalid, "bad_date", "%s must be a date like 2026-11-20", field)
	}
	return t, nil
}
