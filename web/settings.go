package web

import (
	"net/http"
	"net/url"

	"lindungi/accounts"
)

// settingsRoutes: a console user's own settings (the console's language,
// kept per user).
func (s *Server) settingsRoutes(mux *http.ServeMux) {
	users := []string{accounts.Operator, accounts.Supervisor, accounts.HealthOfficer}
	mux.HandleFunc("POST /settings/lang", s.pageFor(users, "Peran Anda tidak memiliki akses ke halaman ini.", func(w http.ResponseWriter, r *http.Request, u accounts.User, csrf string) error {
		if err := s.Accounts.SetLang(r.Context(), u.ID, r.FormValue("lang")); err != nil {
			return err
		}
		home := "/"
		if !u.Has(accounts.Operator, accounts.Supervisor) {
			home = "/officer"
		}
		// Back to the page the switch was pressed on (this site's only).
		back := home
		if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
			back = localBack(ref.RequestURI(), home)
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}))
}
