package store_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tableOwners names the one package (directory from the module root) that
// may name each table in SQL. Every other package goes through the owner's
// exported functions, so a column or a rule changes in one place.
// ARCHITECTURE.md's "Tables" list mirrors this map (the test checks it).
var tableOwners = map[string]string{
	"users":      "accounts",
	"api_tokens": "accounts",
	"sessions":   "accounts",

	"audit_log": "audit",

	"contacts":             "tickets",
	"tickets":              "tickets",
	"ticket_counters":      "tickets",
	"messages":             "tickets",
	"messages_fts":         "tickets",
	"messages_fts_pending": "tickets",
	"attachments":          "tickets",
	"inbound_keys":         "tickets",
	"ticket_notes":         "tickets",
	"canned_replies":       "tickets",

	"outbox":               "channels",
	"simulator_deliveries": "channels/simulator",
	"email_cursors":        "channels/email",

	"whatsapp_cloud_windows": "channels/whatsapp/cloud",
	"whatsapp_cloud_sent":    "channels/whatsapp/cloud",

	"bot_state": "bot",

	"dsr_requests": "privacy",
	"job_runs":     "jobs",

	"tracing_keys":           "tracing",
	"tracing_devices":        "tracing",
	"tracing_registrations":  "tracing",
	"tracing_otps":           "tracing",
	"tracing_cases":          "tracing",
	"tracing_consents":       "tracing",
	"tracing_upload_windows": "tracing",
	"tracing_uploads":        "tracing",
	"tracing_exposures":      "tracing",
	"tracing_rate_limits":    "tracing",

	"selfservice_senders": "selfservice",
	"selfservice_pending": "selfservice",
}

// ownerExceptions lets a package name another's table, each with the
// reason moving the SQL to the owner is impossible. Key: "package table".
var ownerExceptions = map[string]string{}

// tableArgFuncs take a table name as an argument and build SQL from it.
var tableArgFuncs = map[string]bool{"NewRows": true, "Delete": true, "ReserveIDs": true, "insertReturningID": true, "tableExists": true}

var (
	// SQL in this repository writes its keywords in capitals; prose in
	// log messages does not, which keeps "messages from contacts" out.
	namesTable = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|TABLE|EXISTS)\s+([a-z_0-9]+)`)
)

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// migrationTables lists the tables the migrations of both dialects leave:
// each dialect's files in order, a table made by CREATE TABLE or RENAME TO,
// gone with DROP TABLE or renamed away (SQLite rebuilds a table under a
// temporary name to change it).
func migrationTables(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		files, err := filepath.Glob(filepath.Join("migrations", dialect, "*.sql"))
		if err != nil || len(files) == 0 {
			t.Fatalf("migrations/%s: %v (%d files)", dialect, err, len(files))
		}
		sort.Strings(files)
		live := map[string]bool{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tableChange.FindAllStringSubmatch(string(b), -1) {
				switch {
				case m[1] != "":
					live[strings.ToLower(m[1])] = true
				case m[2] != "":
					delete(live, strings.ToLower(m[2]))
				default:
					delete(live, strings.ToLower(m[3]))
					live[strings.ToLower(m[4])] = true
				}
			}
		}
		for tb := range live {
			out[tb] = true
		}
	}
	return out
}

// tableChange matches, in order of its groups, a CREATE TABLE, a DROP
// TABLE and an ALTER TABLE … RENAME TO.
var tableChange = regexp.MustCompile(`(?is)CREATE\s+(?:VIRTUAL\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)|DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)|ALTER\s+TABLE\s+(\w+)\s+RENAME\s+TO\s+(\w+)`)

func TestEveryTableHasOneOwner(t *testing.T) {
	tables := migrationTables(t)
	for tb := range tables {
		if tableOwners[tb] == "" {
			t.Errorf("table %s has no owner in tableOwners", tb)
		}
	}
	for tb := range tableOwners {
		if !tables[tb] {
			t.Errorf("tableOwners names %s, which no migration creates", tb)
		}
	}
}

// tableUse is one place a package names a table in SQL.
type tableUse struct {
	pkg, table, pos string
}

// sqlTableUses scans the string literals of every non-test Go file under
// root and reports the tables they name in SQL, by package directory.
func sqlTableUses(t *testing.T, root string, tables map[string]bool) []tableUse {
	t.Helper()
	var uses []tableUse
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		add := func(lit *ast.BasicLit, table string) {
			uses = append(uses, tableUse{pkg: pkg, table: table, pos: fset.Position(lit.Pos()).String()})
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				name := ""
				switch fn := n.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if !tableArgFuncs[name] {
					return true
				}
				for _, a := range n.Args {
					if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil && tables[s] {
							add(lit, s)
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, m := range namesTable.FindAllStringSubmatch(s, -1) {
					if tables[m[1]] {
						add(n, m[1])
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return uses
}

// Only a table's owner writes SQL that names it. A package that needs
// another's rows calls the owner's exported functions (privacy calls each
// owner's export and erasure; the owners contribute their own jobs).
func TestOnlyTheOwnerNamesItsTables(t *testing.T) {
	root := moduleRoot(t)
	tables := migrationTables(t)
	uses := sqlTableUses(t, root, tables)
	if len(uses) == 0 {
		t.Fatal("the scan found no SQL at all")
	}
	owned := map[string]bool{}
	for _, u := range uses {
		if tableOwners[u.table] == u.pkg {
			owned[u.table] = true
			continue
		}
		if _, ok := ownerExceptions[u.pkg+" "+u.table]; ok {
			continue
		}
		t.Errorf("%s: package %s names table %s, owned by %s", u.pos, u.pkg, u.table, tableOwners[u.table])
	}
	// The scan must see each owner using its own tables, or it has gone
	// blind (a table renamed, SQL moved behind a new helper).
	for tb := range tableOwners {
		if !owned[tb] {
			t.Errorf("the scan found no SQL of %s naming its table %s", tableOwners[tb], tb)
		}
	}
}

// The scan itself: a literal of another package's SQL is found, prose is
// not, and a table name handed to a SQL builder counts.
func TestTableScanFindsSQL(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(name, src string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("jobs/a.go", "package jobs\nvar q = `UPDATE tickets SET flags = ''`\nvar log = \"copied messages from contacts\"\nfunc f(b any) { b.Delete(nil, \"outbox\", \"id\", \"\") }\n")
	writeFile("jobs/a_test.go", "package jobs\nvar q2 = `SELECT * FROM users`\n")
	writeFile("tickets/b.go", "package tickets\nvar q = `SELECT id FROM contacts c JOIN tickets t ON t.contact_id = c.id`\n")
	tables := map[string]bool{"tickets": true, "contacts": true, "outbox": true, "users": true, "messages": true}
	var got []string
	for _, u := range sqlTableUses(t, dir, tables) {
		got = append(got, u.pkg+" "+u.table)
	}
	sort.Strings(got)
	want := []string{"jobs outbox", "jobs tickets", "tickets contacts", "tickets tickets"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("scan found %q, want %q", got, want)
	}
}

// ARCHITECTURE.md lists the same owners as tableOwners: the section
// "### Tables and their owners" has a line "| `package` | `t1`, `t2` |" per
// owner.
func TestArchitectureListsTableOwners(t *testing.T) {
	f, err := os.Open(filepath.Join(moduleRoot(t), "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc := map[string]string{}
	in := false
	row := regexp.MustCompile("^\\| `([a-z/]+)` \\| (.*) \\|$")
	tick := regexp.MustCompile("`([a-z_0-9]+)`")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			in = strings.HasPrefix(line, "### Tables and their owners")
			continue
		}
		if !in {
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil {
			for _, tm := range tick.FindAllStringSubmatch(m[2], -1) {
				if prev, dup := doc[tm[1]]; dup {
					t.Errorf("ARCHITECTURE.md gives %s two owners: %s and %s", tm[1], prev, m[1])
				}
				doc[tm[1]] = m[1]
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for tb, pkg := range tableOwners {
		if doc[tb] != pkg {
			t.Errorf("ARCHITECTURE.md: table %s owned by %q, tableOwners says %q", tb, doc[tb], pkg)
		}
	}
	for tb := range doc {
		if _, ok := tableOwners[tb]; !ok {
			t.Errorf("ARCHITECTURE.md lists table %s, which tableOwners does not", tb)
		}
	}
}
