package web

import (
	"net/http"
	"strconv"

	"lindungi/accounts"
	"lindungi/coded"
)

// userRoutes let admins manage accounts and API tokens over the API, as
// `lindungi user …` and `lindungi token …` do on the host. Every change is
// audited by the accounts store with the admin as actor.
func (s *Server) userRoutes(mux *http.ServeMux) {
	admin := []string{accounts.Admin}
	mux.Handle("GET /api/v1/users", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		us, err := s.Accounts.Users(r.Context())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"users": us, "next_cursor": ""})
		return nil
	}))
	mux.Handle("POST /api/v1/users", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		var body struct {
			Name string `json:"name"`
			Role string `json:"role"`
		}
		if err := DecodeJSON(r, &body); err != nil {
			return err
		}
		c, err := s.Accounts.AddBy(r.Context(), u.Actor(), body.Name, body.Role)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, map[string]any{"user": c.User, "password": c.Password, "token": c.Token})
		return nil
	}))
	mux.Handle("PATCH /api/v1/users/{name}", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		var body struct {
			Disabled *bool   `json:"disabled"`
			Role     *string `json:"role"`
		}
		if err := DecodeJSON(r, &body); err != nil {
			return err
		}
		if body.Disabled == nil && body.Role == nil {
			return coded.New(coded.Invalid, "nothing_to_change", `send {"disabled": true}, {"disabled": false} or {"role": "supervisor"}`)
		}
		name := r.PathValue("name")
		if body.Disabled != nil && *body.Disabled && name == u.Name {
			// An admin locking themselves out is a mistake, and might
			// leave no admin at all.
			return coded.New(coded.Conflict, "cannot_disable_self", "you cannot disable your own account; ask another admin")
		}
		if body.Role != nil && *body.Role != accounts.Admin && name == u.Name {
			return coded.New(coded.Conflict, "cannot_demote_self", "you cannot take the admin role from yourself; ask another admin")
		}
		var a accounts.Account
		var err error
		if body.Role != nil {
			if a, err = s.Accounts.SetRole(r.Context(), u.Actor(), name, *body.Role); err != nil {
				return err
			}
		}
		if body.Disabled != nil {
			if a, err = s.Accounts.SetDisabled(r.Context(), u.Actor(), name, *body.Disabled); err != nil {
				return err
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"user": a})
		return nil
	}))
	mux.Handle("POST /api/v1/users/{name}/password", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		pw, err := s.Accounts.ResetPassword(r.Context(), u.Actor(), r.PathValue("name"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, map[string]any{"user": r.PathValue("name"), "password": pw})
		return nil
	}))
	mux.Handle("POST /api/v1/users/{name}/tokens", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		t, secret, err := s.Accounts.AddToken(r.Context(), u.Actor(), r.PathValue("name"))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, map[string]any{"token": t, "secret": secret})
		return nil
	}))
	mux.Handle("GET /api/v1/tokens", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		ts, err := s.Accounts.Tokens(r.Context(), r.URL.Query().Get("user"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"tokens": ts, "next_cursor": ""})
		return nil
	}))
	mux.Handle("DELETE /api/v1/tokens/{id}", s.auth(admin, func(w http.ResponseWriter, r *http.Request, u accounts.User) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return accounts.ErrTokenNotFound
		}
		if err := s.Accounts.RevokeToken(r.Context(), u.Actor(), id); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": map[string]any{"id": id, "status": "revoked"}})
		return nil
	}))
}
