package web

import (
	"net/http"

	"lindungi/accounts"
	"lindungi/channels"
	"lindungi/channels/whatsapp/cloud"
)

// WhatsAppCloudRoutes serves the Cloud API provider's webhooks (Meta's
// handshake and its signed notifications, stored through sink before the
// 200) and, for scripts and the console, the provider's status:
// GET /api/v1/whatsapp/status → {"state","provider","quality","tier"}.
// The webhook authenticates by its signature, not by an operator token.
func WhatsAppCloudRoutes(ch *cloud.Channel, sink channels.Sink) func(mux *http.ServeMux, s *Server) {
	return func(mux *http.ServeMux, s *Server) {
		h := ch.Handler(sink)
		mux.Handle("GET /webhooks/whatsapp", h)
		mux.Handle("POST /webhooks/whatsapp", h)
		mux.Handle("GET /api/v1/whatsapp/status", s.auth([]string{accounts.Admin}, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			writeJSON(w, http.StatusOK, ch.Status())
			return nil
		}))
	}
}
