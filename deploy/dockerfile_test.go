package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"lindungi/internal/app/proctest"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

// No machine here runs a Docker daemon, so the image is checked in parts:
// the Dockerfile is parsed with BuildKit's own parser and its promises
// checked (TestDockerfile), and the binary it would build is built with
// the same command and run the way the runtime image runs it
// (TestReleaseBinaryInMinimalRoot).

// moduleRoot is where the artefacts are: the tests run in deploy/.
const moduleRoot = ".."

// stage is one FROM … block of the Dockerfile.
type stage struct {
	image, name string
	steps       []*parser.Node
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join(moduleRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile warning: %s", w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			s := stage{image: n.Next.Value}
			if a := n.Next.Next; a != nil && strings.EqualFold(a.Value, "as") && a.Next != nil {
				s.name = a.Next.Value
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if !strings.EqualFold(n.Value, "arg") {
				t.Errorf("line %d: %s before the first FROM", n.StartLine, n.Original)
			}
			continue
		}
		stages[len(stages)-1].steps = append(stages[len(stages)-1].steps, n)
	}
	return stages
}

// args are the words after an instruction (a JSON form's elements, or the
// shell form as one string).
func args(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

func find(s stage, instr string) []*parser.Node {
	var out []*parser.Node
	for _, n := range s.steps {
		if strings.EqualFold(n.Value, instr) {
			out = append(out, n)
		}
	}
	return out
}

// releaseBuild is the build stage's `go build` command as written, with
// its ARG defaults, so the test builds exactly what the image would.
func releaseBuild(t *testing.T, build stage) (cmd string, argDefaults map[string]string) {
	t.Helper()
	argDefaults = map[string]string{}
	for _, n := range find(build, "arg") {
		for _, a := range args(n) {
			k, v, _ := strings.Cut(a, "=")
			argDefaults[k] = v
		}
	}
	for _, n := range find(build, "run") {
		for _, part := range strings.Split(strings.Join(args(n), " "), "&&") {
			if strings.Contains(part, "go build") {
				return strings.TrimSpace(part), argDefaults
			}
		}
	}
	t.Fatal("the build stage has no RUN … go build")
	return "", nil
}

// finalEnv is the runtime stage's ENV (the parser gives each pair as key,
// value, separator).
func finalEnv(final stage) map[string]string {
	env := map[string]string{}
	for _, n := range find(final, "env") {
		a := args(n)
		for i := 0; i+1 < len(a); i += 3 {
			env[a[i]] = a[i+1]
		}
	}
	return env
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and runtime", len(stages))
	}
	build, final := stages[0], stages[1]

	gomod, _ := os.ReadFile(filepath.Join(moduleRoot, "go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil || !strings.HasPrefix(build.image, "golang:"+string(goVersion[1])+"-") {
		t.Errorf("build stage FROM %s, want golang:%s-… (go.mod's toolchain)", build.image, goVersion[1])
	}
	// cgo links glibc: the runtime needs distroless/base (static has no libc),
	// the Debian release the build stage's image is on, and its nonroot tag.
	if !strings.HasPrefix(final.image, "gcr.io/distroless/base-debian12:nonroot") || !strings.HasSuffix(build.image, "-bookworm") {
		t.Errorf("stages %s → %s: want golang:…-bookworm → gcr.io/distroless/base-debian12:nonroot", build.image, final.image)
	}

	cmd, _ := releaseBuild(t, build)
	for _, want := range []string{"CGO_ENABLED=1", "-trimpath", "-X main.version=${VERSION}"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("release build %q lacks %s", cmd, want)
		}
	}
	if strings.Contains(cmd, "-tags") {
		t.Errorf("release build %q sets build tags (the wafake seam must never be in the image)", cmd)
	}

	var user, entry, health, volume string
	var copiesFromBuild int
	for _, n := range final.steps {
		a := args(n)
		switch strings.ToLower(n.Value) {
		case "user":
			user = strings.Join(a, " ")
		case "entrypoint", "healthcheck", "cmd":
			// distroless has no shell: only the exec (JSON) form runs.
			if !n.Attributes["json"] {
				t.Errorf("line %d: %s in shell form; the runtime image has no shell", n.StartLine, n.Original)
			}
			if strings.EqualFold(n.Value, "entrypoint") {
				entry = strings.Join(a, " ")
			} else if strings.EqualFold(n.Value, "healthcheck") {
				health = strings.Join(a, " ")
			}
		case "volume":
			volume = strings.Join(a, " ")
		case "copy":
			if strings.Join(n.Flags, " ") != "" && strings.Contains(strings.Join(n.Flags, " "), "--from="+build.name) {
				copiesFromBuild++
			}
		case "run", "add":
			t.Errorf("line %d: %s in the runtime stage (distroless has no shell; build in the build stage)", n.StartLine, n.Original)
		}
	}
	if user != "nonroot:nonroot" {
		t.Errorf("runtime USER %q, want nonroot:nonroot", user)
	}
	if entry != "/lindungi" {
		t.Errorf("ENTRYPOINT %q, want [\"/lindungi\"]", entry)
	}
	if health != "CMD /lindungi healthcheck" {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/lindungi\", \"healthcheck\"] (the binary is its own probe)", health)
	}
	if volume != "/data" || copiesFromBuild != 2 {
		t.Errorf("VOLUME %q and %d COPY --from=%s, want /data and the binary plus a /data owned by nonroot", volume, copiesFromBuild, build.name)
	}
	env := finalEnv(final)
	if env["LINDUNGI_DATA_DIR"] != "/data" || !strings.HasPrefix(env["LINDUNGI_LISTEN"], "0.0.0.0:") || env["LINDUNGI_LOG_FORMAT"] != "json" {
		t.Errorf("runtime ENV %v", env)
	}

	// The build stage's `COPY . .` must never carry secrets or data into a
	// layer.
	ignore, err := os.ReadFile(filepath.Join(moduleRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range []string{"secrets/", "data/", ".git", "*.key"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(must) + `$`).Match(ignore) {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
}

// The release binary, built with the Dockerfile's own command, runs the
// way the runtime image runs it: as uid 65532 in a root file system that
// holds only what the image holds (less: no time zone files, so the
// embedded database is what Asia/Jakarta comes from), mounted read-only,
// with only /data writable. It starts, answers /healthz, its own
// `healthcheck` passes, and a simulated citizen's message becomes a ticket.
//
// It needs root (mount namespace, chroot) and a full build with -trimpath,
// so it runs when LINDUNGI_TEST_RELEASE=1 (.ci/run sets it).
func TestReleaseBinaryInMinimalRoot(t *testing.T) {
	if os.Getenv("LINDUNGI_TEST_RELEASE") != "1" {
		t.Skip("set LINDUNGI_TEST_RELEASE=1 to build the release binary and run it in a read-only root (.ci/run does)")
	}
	if os.Geteuid() != 0 {
		storetest.SkipOrFail(t, "the release-binary check needs root (mount namespace and chroot)")
	}
	for _, tool := range []string{"unshare", "chroot", "ldd", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			storetest.SkipOrFail(t, tool+" is not installed")
		}
	}
	stages := parseDockerfile(t)
	build, final := stages[0], stages[1]
	buildCmd, argDefaults := releaseBuild(t, build)

	out := t.TempDir()
	cmd := strings.ReplaceAll(buildCmd, "/out/", out+"/")
	sh := exec.Command("sh", "-c", cmd)
	sh.Dir, sh.Env = moduleRoot, os.Environ()
	for k, v := range argDefaults {
		sh.Env = append(sh.Env, k+"="+v)
	}
	t.Logf("release build: %s", buildCmd)
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("release build: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "lindungi")

	root := filepath.Join(t.TempDir(), "root")
	makeRuntimeRoot(t, bin, root)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, root)

	addr := proctest.FreePort(t)
	env := []string{"PATH=" + os.Getenv("PATH")} // for unshare, sh, mount and chroot; nothing else of the host
	for k, v := range finalEnv(final) {
		env = append(env, k+"="+v)
	}
	// Loopback and a free port instead of 0.0.0.0:8080 (the test shares the
	// host's network); the simulator for the ticket (off in production).
	env = append(env, "LINDUNGI_LISTEN="+addr, "LINDUNGI_SIMULATOR=true")
	run := func(args ...string) *exec.Cmd {
		script := `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && mount --bind "$2" "$1/data" && shift 2 && exec chroot --userspec=65532:65532 "$R" /lindungi "$@"`
		c := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", strings.ReplaceAll(script, "$R", `"$0"`), root, root, data}, args...)...)
		c.Env = env
		return c
	}

	// The first admin, created before the first start, as README says.
	userOut, err := run("user", "add", "--role", "admin", "ci-admin").CombinedOutput()
	if err != nil {
		t.Fatalf("user add in the runtime root: %v\n%s", err, userOut)
	}
	token := regexp.MustCompile(`(?m)^token: (\S+)$`).FindSubmatch(userOut)
	if token == nil {
		t.Fatalf("no token from user add:\n%s", userOut)
	}

	serve := run("serve")
	var logs testlog.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	proctest.WaitHealthy(t, addr)
	t.Logf("serve started, /healthz answers on %s", addr)

	// Who runs it: /proc of the process unshare became (sh and chroot exec).
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", serve.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if uid := regexp.MustCompile(`(?m)^Uid:\s+(\d+)\s+(\d+)`).FindSubmatch(status); uid == nil || string(uid[1]) != "65532" || string(uid[2]) != "65532" {
		t.Errorf("serve runs as %s, want uid 65532", uid)
	}

	if b, err := run("healthcheck").CombinedOutput(); err != nil {
		t.Errorf("healthcheck in the runtime root: %v\n%s", err, b)
	} else {
		t.Log("lindungi healthcheck: exit 0")
	}

	api := func(method, path string, body any, out any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "http://"+addr+path, rd)
		req.Header.Set("Authorization", "Bearer "+string(token[1]))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s\nlogs:\n%s", method, path, resp.StatusCode, b, logs.String())
		}
		if out != nil {
			json.Unmarshal(b, out)
		}
	}
	for _, text := range []string{"halo", "4"} {
		api("POST", "/api/v1/simulator/messages", map[string]string{"from": "+6281200000099", "name": "Warga", "text": text}, nil)
	}
	var list struct {
		Tickets []struct {
			Number string `json:"id"` // PL-…
			Status string `json:"status"`
		} `json:"tickets"`
	}
	api("GET", "/api/v1/tickets", nil, &list)
	if len(list.Tickets) != 1 || !strings.HasPrefix(list.Tickets[0].Number, "PL-") {
		t.Fatalf("tickets after a hand-off: %+v", list.Tickets)
	}
	t.Logf("ticket %s (%s) stored", list.Tickets[0].Number, list.Tickets[0].Status)

	serve.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve did not stop cleanly on SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop within a minute of SIGTERM")
	}

	// Everything it wrote is in /data, owned by the non-root user; the root
	// is as it was.
	if after := listTree(t, root); after != before {
		t.Errorf("the root file system changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, f := range []string{"lindungi.db", "data.key"} {
		fi, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65532 {
			t.Errorf("%s owned by uid %d, want 65532", f, st.Uid)
		}
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("panic in the logs:\n%s", logs.String())
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if l := sc.Text(); l != "" && !json.Valid([]byte(l)) {
			t.Errorf("not a JSON log line: %q", l)
		}
	}
}

// makeRuntimeRoot lays out what gcr.io/distroless/base-debian12:nonroot
// gives the binary: the C library it links (as ldd lists it), passwd and
// group with nonroot (65532), CA certificates, /tmp, an empty /data mount
// point, and the binary at /lindungi. No shell, no zoneinfo.
func makeRuntimeRoot(t *testing.T, bin, root string) {
	t.Helper()
	mk := func(p string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, b []byte, mode os.FileMode) {
		mk(filepath.Dir(p), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(src, dst string, mode os.FileMode) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(dst, b, mode)
	}
	mk("data", 0o755)
	mk("tmp", 0o1777)
	mk("home/nonroot", 0o700)
	os.Chown(filepath.Join(root, "home/nonroot"), 65532, 65532)
	copyFile(bin, "lindungi", 0o755)
	write("etc/passwd", []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), 0o644)
	write("etc/group", []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"), 0o644)
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		copyFile("/etc/ssl/certs/ca-certificates.crt", "etc/ssl/certs/ca-certificates.crt", 0o644)
	}
	libs, err := exec.Command("ldd", bin).Output()
	if err != nil {
		t.Fatalf("ldd: %v", err)
	}
	for _, m := range regexp.MustCompile(`(?m)(/\S+) \(0x`).FindAllSubmatch(libs, -1) {
		copyFile(string(m[1]), strings.TrimPrefix(string(m[1]), "/"), 0o755)
	}
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !strings.HasPrefix(p, filepath.Join(root, "home")) {
			os.Chown(p, 0, 0)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("runtime root: %s", strings.Join(strings.Fields(listTree(t, root)), " "))
}

func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintln(&b, rel)
		return nil
	})
	return b.String()
}
