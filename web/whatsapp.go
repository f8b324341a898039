package web

import (
	"net/http"

	"lindungi/accounts"
	"lindungi/channels/whatsapp"
	"lindungi/coded"
)

// WhatsAppRoutes serves the pairing status for scripts and the console:
// GET /api/v1/whatsapp/status → {"state","jid","qr"} and the QR as a PNG.
func WhatsAppRoutes(ch *whatsapp.Channel) func(mux *http.ServeMux, s *Server) {
	return func(mux *http.ServeMux, s *Server) {
		admin := []string{accounts.Admin}
		mux.Handle("GET /api/v1/whatsapp/status", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			writeJSON(w, http.StatusOK, ch.Status())
			return nil
		}))
		mux.Handle("GET /api/v1/whatsapp/qr.png", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			png, err := ch.QRPNG()
			if err != nil {
				return coded.New(coded.NotFound, "no_qr", "no pairing code right now (already paired, or the connection is not up)")
			}
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(png)
			return nil
		}))
		mux.Handle("POST /api/v1/whatsapp/pair-phone", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			var body struct {
				Phone string `json:"phone"`
			}
			if err := DecodeJSON(r, &body); err != nil {
				return err
			}
			code, err := ch.PairPhone(r.Context(), body.Phone)
			if err != nil {
				return coded.New(coded.Conflict, "not_pairing", "%s", err.Error())
			}
			s.audit(r.Context(), u, "whatsapp.pair_phone", "whatsapp", "device", "")
			writeJSON(w, http.StatusOK, map[string]string{"code": code})
			return nil
		}))
	}
}
