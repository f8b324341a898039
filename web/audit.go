package web

import (
	"net/http"
	"strconv"
	"time"

	"lindungi/accounts"
	"lindungi/audit"
	"lindungi/coded"
)

// auditRoutes serves GET /api/v1/audit to admins. Reading the audit log is
// itself audited.
func (s *Server) auditRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/audit", s.auth([]string{accounts.Admin}, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		q := r.URL.Query()
		f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action"), ObjectType: q.Get("object_type"), ObjectID: q.Get("object_id")}
		for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
			if v := q.Get(name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return coded.New(coded.Invalid, "bad_time", "%s must be an RFC 3339 time like 2026-11-26T00:00:00Z", name)
				}
				*dst = t
			}
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		entries, next, err := audit.List(r.Context(), s.DB, f, q.Get("cursor"), limit)
		if err != nil {
			if err.Error() == "audit: bad cursor" {
				return coded.New(coded.Invalid, "bad_cursor", "cursor is not valid")
			}
			return err
		}
		if entries == nil {
			entries = []audit.Entry{}
		}
		s.audit(r.Context(), u, "audit.read", "audit_log", "*", "")
		writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "next_cursor": next})
		return nil
	}))
}
