package web_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/internal/app/apptest"
)

// Who may use a route. Admin holds every role. Public routes answer
// anyone; device routes want a phone app's device token, so no staff
// token opens them; console routes are the operator pages (session
// cookie, CSRF token in the form).
const (
	routePublic  = "routePublic"
	routeDevice  = "routeDevice"
	routeConsole = "routeConsole"
)

var (
	roleStaff      = []string{accounts.Operator, accounts.Supervisor}
	roleSupervisor = []string{accounts.Supervisor}
	adminOnly      = []string{accounts.Admin}
)

// routeRoles is the role table: every route the web package registers
// must be here (TestRoleTableCoversEveryRoute scans the source for them).
var routeRoles = map[string]struct {
	kind  string   // "", routePublic, routeDevice or routeConsole
	roles []string // who may (API and routeConsole)
}{
	"/":                      {kind: routeConsole, roles: roleStaff},
	"/api/":                  {kind: routePublic},
	"GET /healthz":           {kind: routePublic},
	"GET /readyz":            {kind: routePublic},
	"GET /metrics":           {kind: routePublic},
	"GET /login":             {kind: routePublic},
	"POST /login":            {kind: routePublic},
	"POST /logout":           {kind: routePublic},
	"GET /static/console.js": {kind: routePublic},
	// Anyone may check a certificate's QR (the verifier's page).
	"GET /verify": {kind: routePublic},
	// Meta's webhooks authenticate by their signature, not by a staff
	// token (TestWhatsAppCloudWebhookSecurity); they exist only with
	// whatsapp.provider: cloud.
	"GET /webhooks/whatsapp":  {kind: routePublic},
	"POST /webhooks/whatsapp": {kind: routePublic},

	"GET /{$}":                  {kind: routeConsole, roles: roleStaff},
	"GET /tickets/{id}":         {kind: routeConsole, roles: roleStaff},
	"POST /tickets/{id}/reply":  {kind: routeConsole, roles: roleStaff},
	"POST /tickets/{id}/status": {kind: routeConsole, roles: roleStaff},
	"POST /tickets/bulk":        {kind: routeConsole, roles: roleStaff},
	"POST /tickets/{id}/take":   {kind: routeConsole, roles: roleStaff},
	"POST /tickets/{id}/notes":  {kind: routeConsole, roles: roleStaff},
	"POST /tickets/{id}/reveal": {kind: routeConsole, roles: roleStaff},
	"GET /calls/new":            {kind: routeConsole, roles: roleStaff},
	"POST /calls":               {kind: routeConsole, roles: roleStaff},
	"GET /dashboard":            {kind: routeConsole, roles: roleStaff},
	"GET /api/v1/dashboard":     {roles: roleStaff},
	"GET /canned":               {kind: routeConsole, roles: roleStaff},
	"POST /canned":              {kind: routeConsole, roles: roleSupervisor},
	"POST /canned/{cid}/delete": {kind: routeConsole, roles: roleSupervisor},

	// The admin console: an operator or supervisor gets the forbidden page.
	"GET /admin/users":                  {kind: routeConsole, roles: adminOnly},
	"POST /admin/users":                 {kind: routeConsole, roles: adminOnly},
	"POST /admin/users/{name}/disable":  {kind: routeConsole, roles: adminOnly},
	"POST /admin/users/{name}/enable":   {kind: routeConsole, roles: adminOnly},
	"POST /admin/users/{name}/role":     {kind: routeConsole, roles: adminOnly},
	"POST /admin/users/{name}/password": {kind: routeConsole, roles: adminOnly},
	"POST /admin/users/{name}/tokens":   {kind: routeConsole, roles: adminOnly},
	"POST /admin/tokens/{id}/revoke":    {kind: routeConsole, roles: adminOnly},
	"GET /admin/whatsapp":               {kind: routeConsole, roles: adminOnly},
	"POST /admin/whatsapp/pair-phone":   {kind: routeConsole, roles: adminOnly},
	"GET /admin/jobs":                   {kind: routeConsole, roles: adminOnly},
	"POST /admin/jobs/{name}/run":       {kind: routeConsole, roles: adminOnly},

	"GET /api/v1/tickets":                        {roles: roleStaff},
	"POST /api/v1/tickets":                       {roles: roleStaff},
	"GET /api/v1/tickets/{id}":                   {roles: roleStaff},
	"PATCH /api/v1/tickets/{id}":                 {roles: roleStaff},
	"POST /api/v1/tickets/{id}/replies":          {roles: roleStaff},
	"POST /api/v1/tickets/{id}/notes":            {roles: roleStaff},
	"GET /api/v1/tickets/{id}/attachments/{aid}": {roles: roleStaff},
	"GET /api/v1/canned-replies":                 {roles: roleStaff},
	"POST /api/v1/canned-replies":                {roles: roleSupervisor},
	"PUT /api/v1/canned-replies/{cid}":           {roles: roleSupervisor},
	"DELETE /api/v1/canned-replies/{cid}":        {roles: roleSupervisor},
	"POST /api/v1/simulator/messages":            {roles: []string{accounts.Simulator}},
	"GET /api/v1/simulator/messages":             {roles: []string{accounts.Simulator}},

	"POST /api/v1/privacy/requests":              {roles: roleStaff},
	"GET /api/v1/privacy/requests":               {roles: roleSupervisor},
	"POST /api/v1/privacy/requests/{id}/approve": {roles: roleSupervisor},
	"POST /api/v1/privacy/requests/{id}/reject":  {roles: roleSupervisor},

	"GET /api/v1/audit":                  {roles: adminOnly},
	"GET /api/v1/users":                  {roles: adminOnly},
	"POST /api/v1/users":                 {roles: adminOnly},
	"GET /api/v1/jobs":                   {roles: adminOnly},
	"POST /api/v1/jobs/{name}/run":       {roles: adminOnly},
	"PATCH /api/v1/users/{name}":         {roles: adminOnly},
	"POST /api/v1/users/{name}/password": {roles: adminOnly},
	"POST /api/v1/users/{name}/tokens":   {roles: adminOnly},
	"GET /api/v1/tokens":                 {roles: adminOnly},
	"DELETE /api/v1/tokens/{id}":         {roles: adminOnly},
	"GET /api/v1/whatsapp/status":        {roles: adminOnly},
	"GET /api/v1/whatsapp/qr.png":        {roles: adminOnly},
	"POST /api/v1/whatsapp/pair-phone":   {roles: adminOnly},
	"POST /api/v1/tracing/cases":         {roles: []string{accounts.HealthOfficer}},

	// issue-18c routes
	"GET /officer":              {kind: routeConsole, roles: []string{accounts.HealthOfficer}},
	"POST /officer/cases":       {kind: routeConsole, roles: []string{accounts.HealthOfficer}},
	"GET /api/v1/tracing/cases": {roles: []string{accounts.HealthOfficer}},
	"GET /try":                  {kind: routeConsole, roles: roleStaff},
	"POST /try":                 {kind: routeConsole, roles: roleStaff},
	"POST /settings/lang":       {kind: routeConsole, roles: []string{accounts.Operator, accounts.Supervisor, accounts.HealthOfficer}},
	// end of issue-18c routes

	"POST /api/tracing/v1/register":            {kind: routePublic},
	"POST /api/tracing/v1/register/otp":        {kind: routePublic},
	"POST /api/tracing/v1/register/verify":     {kind: routePublic},
	"GET /api/tracing/v1/tempids":              {kind: routeDevice},
	"GET /api/tracing/v1/upload-authorisation": {kind: routeDevice},
	"POST /api/tracing/v1/uploads":             {kind: routeDevice},
}

// registeredRoutes reads the route patterns out of the web package's
// source: every mux.Handle/HandleFunc with a literal pattern.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				p, _ := strconv.Unquote(lit.Value)
				out = append(out, p)
			}
			return true
		})
	}
	return out
}

func TestRoleTableCoversEveryRoute(t *testing.T) {
	routes := registeredRoutes(t)
	if len(routes) < 40 {
		t.Fatalf("the scan found only %d routes; it has gone blind", len(routes))
	}
	for _, r := range routes {
		if _, ok := routeRoles[r]; !ok {
			t.Errorf("route %q is not in the role table (roles_test.go): say who may use it", r)
		}
	}
	for r := range routeRoles {
		if !slices.Contains(routes, r) {
			t.Errorf("the role table names %q, which no longer exists", r)
		}
	}
}

// concrete turns a pattern into a request path.
func concrete(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "GET", pattern
	}
	r := strings.NewReplacer("{$}", "", "{id}", "PL-2026-000001", "{aid}", "1", "{cid}", "1", "{name}", "someone")
	path = r.Replace(path)
	if strings.HasPrefix(path, "/api/v1/tokens/") || strings.HasPrefix(path, "/api/v1/privacy/requests/") {
		path = strings.Replace(path, "PL-2026-000001", "1", 1)
	}
	return method, path
}

// TestRolesOverEveryRoute is issue 18's must-show 2: for every route in
// the table and every role, a role the table does not name is refused
// (403; a route switched off in this configuration answers 404 to all),
// and a role it names gets past the door (neither 401 nor 403).
func TestRolesOverEveryRoute(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A ticket for the {id} routes.
	apptest.FileComplaint(t, ta, "+6281234500111", "3174014501900011", "Sertifikat belum muncul")

	type cred struct{ token, session, csrf string }
	creds := map[string]cred{}
	for _, role := range accounts.Roles {
		acc, err := ta.Accounts.Add(ctx, "peran."+role, role)
		if err != nil {
			t.Fatal(err)
		}
		sid, csrf, _, err := ta.Accounts.Login(ctx, "peran."+role, acc.Password, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		creds[role] = cred{acc.Token, sid, csrf}
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, c cred, kind string) int {
		var body io.Reader = strings.NewReader("{}")
		if kind == routeConsole {
			body = strings.NewReader(url.Values{"csrf": {c.csrf}, "text": {"x"}}.Encode())
		}
		req, _ := http.NewRequestWithContext(ctx, method, ta.Base+path, body)
		if kind == routeConsole {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "lindungi_session", Value: c.session})
		} else {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for pattern, rule := range routeRoles {
		if rule.kind == routePublic {
			continue
		}
		method, path := concrete(pattern)
		if pattern == "/" {
			path = "/no-such-page"
		}
		for _, role := range accounts.Roles {
			code := do(method, path, creds[role], rule.kind)
			may := rule.kind != routeDevice && (role == accounts.Admin || slices.Contains(rule.roles, role))
			switch {
			case rule.kind == routeDevice:
				if code != http.StatusUnauthorized && code != http.StatusForbidden {
					t.Errorf("%s as %s (a staff token on a device route): %d, want 401 or 403", pattern, role, code)
				}
			case !may && code != http.StatusForbidden && code != http.StatusNotFound:
				t.Errorf("%s as %s: %d, want 403", pattern, role, code)
			case !may && code == http.StatusNotFound && !strings.Contains(pattern, "whatsapp"):
				t.Errorf("%s as %s: 404 where the door should say 403", pattern, role)
			case may && (code == http.StatusUnauthorized || code == http.StatusForbidden):
				t.Errorf("%s as %s: %d, but the role table lets %s in", pattern, role, code, role)
			}
		}
	}
}
