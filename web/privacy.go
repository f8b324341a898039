package web

import (
	"errors"
	"net/http"
	"strconv"

	"lindungi/accounts"
	"lindungi/coded"
	"lindungi/privacy"
	"lindungi/store"
)

// PrivacyRoutes lets operators carry out data-subject requests that arrived
// outside the bot (e-mail, letters): POST /api/v1/privacy/requests
// {"kind":"export"|"delete","channel","address"} after they verified the
// requester (an export is answered at once; an erasure waits until a
// supervisor other than the requester approves it, POST …/{id}/approve, or
// turns it down, POST …/{id}/reject), and GET for the register with its
// 3×24 h deadline.
func PrivacyRoutes(svc *privacy.Service) func(mux *http.ServeMux, s *Server) {
	return func(mux *http.ServeMux, s *Server) {
		staff := []string{accounts.Operator, accounts.Supervisor}
		mux.Handle("POST /api/v1/privacy/requests", s.auth(staff, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			var body struct {
				Kind    string `json:"kind"`
				Channel string `json:"channel"`
				Address string `json:"address"`
			}
			if err := DecodeJSON(r, &body); err != nil {
				return err
			}
			if body.Kind != privacy.KindExport && body.Kind != privacy.KindDelete {
				return coded.New(coded.Invalid, "bad_kind", "kind must be export or delete")
			}
			c, err := s.Tickets.ContactByAddress(r.Context(), body.Channel, body.Address)
			if errors.Is(err, store.ErrNotFound) {
				return coded.New(coded.NotFound, "contact_not_found", "no contact with that channel and address")
			}
			if err != nil {
				return err
			}
			id, err := svc.Request(r.Context(), body.Kind, c.ID, u.Actor())
			if err != nil {
				return err
			}
			if body.Kind == privacy.KindExport {
				exp, err := svc.CompleteExport(r.Context(), id)
				if err != nil {
					return err
				}
				writeJSON(w, http.StatusOK, map[string]any{"request": map[string]any{"id": id, "status": "completed"}, "export": exp})
				return nil
			}
			// An erasure waits for a second person (privacy.Approve).
			writeJSON(w, http.StatusAccepted, map[string]any{"request": map[string]any{"id": id, "status": privacy.Pending, "approval": "required"}})
			return nil
		}))
		approver := []string{accounts.Supervisor}
		mux.Handle("POST /api/v1/privacy/requests/{id}/approve", s.auth(approver, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil {
				return privacy.ErrRequestNotFound
			}
			if err := svc.Approve(r.Context(), id, u.Actor()); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, map[string]any{"request": map[string]any{"id": id, "status": privacy.Completed, "approvedBy": u.Actor()}})
			return nil
		}))
		mux.Handle("POST /api/v1/privacy/requests/{id}/reject", s.auth(approver, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil {
				return privacy.ErrRequestNotFound
			}
			var body struct {
				Reason string `json:"reason"`
			}
			if r.ContentLength != 0 {
				if err := DecodeJSON(r, &body); err != nil {
					return err
				}
			}
			if len(body.Reason) > 500 {
				return coded.New(coded.Invalid, "bad_reason", "reason is longer than 500 bytes")
			}
			if err := svc.Reject(r.Context(), id, u.Actor(), body.Reason); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, map[string]any{"request": map[string]any{"id": id, "status": privacy.Rejected}})
			return nil
		}))
		mux.Handle("GET /api/v1/privacy/requests", s.auth([]string{accounts.Supervisor}, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			reqs, err := svc.Requests(r.Context(), r.URL.Query().Get("status"), limit)
			if err != nil {
				return err
			}
			if reqs == nil {
				reqs = []privacy.DSRRequest{}
			}
			writeJSON(w, http.StatusOK, map[string]any{"requests": reqs, "next_cursor": ""})
			return nil
		}))
	}
}
