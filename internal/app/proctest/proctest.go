// Package proctest runs the real lindungi binary as a process, for the
// tests that need one (SIGKILL crash tests, start-up, the command line,
// replicas, a process's peak memory), in whichever package owns the
// behaviour: it builds the binary from the module root once per build-tag
// set, starts it with an environment, waits for /healthz, and drives
// interactive commands (`chat`, `whatsapp pair`) through their stdin.
// In-process end-to-end tests use apptest instead.
package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/channels/whatsapp/wafake"
	"lindungi/store"
	"lindungi/testlog"
)

var builds sync.Map // tags → *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary compiles the lindungi command (the module root) with tags, once
// per test binary and tag set, and returns its path.
func Binary(t testing.TB, tags ...string) string {
	t.Helper()
	key := strings.Join(tags, ",")
	v, _ := builds.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(gomod)) == "" {
			b.err = fmt.Errorf("go env GOMOD: %v (%q)", err, gomod)
			return
		}
		sweepOnce.Do(sweep)
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "lindungi")
		args := []string{"build", "-o", b.path}
		if key != "" {
			args = append(args, "-tags", key)
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", key, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// A test binary cannot remove what it built when it exits (packages have
// no teardown without a TestMain of their own), so the binaries live in
// a directory named after the test binary's PID, and the next build
// removes those whose process is gone: one per running test binary stays.
const dirPrefix = "lindungi-proctest-"

var sweepOnce sync.Once

func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), dirPrefix), "-")
		n, err := strconv.Atoi(pid)
		if !ok || err != nil || n == os.Getpid() {
			continue
		}
		if err := syscall.Kill(n, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}

// FreePort is a loopback address nothing listens on right now.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is one run of the binary; its stdout and stderr go to one buffer.
type Proc struct {
	Cmd  *exec.Cmd
	logs *testlog.Buffer
}

// Start runs bin with args and env added to the test's environment. The
// process is killed when the test ends, if it still runs.
func Start(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(bin, args...), logs: &testlog.Buffer{}}
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.logs, p.logs
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	p.Cmd.Process.Kill()
	p.Cmd.Wait()
}

// Logs is what the process wrote so far.
func (p *Proc) Logs() string { return p.logs.String() }

// WaitHealthy waits until the gateway at addr answers /healthz with 200.
func WaitHealthy(t testing.TB, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("gateway at %s never became healthy", addr)
}

// AddUser runs `lindungi user add` on data and returns the API token it
// prints.
func AddUser(t testing.TB, bin, data, role, name string) string {
	t.Helper()
	out, err := exec.Command(bin, "user", "add", "--role", role, name, "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "token: "); ok {
			return v
		}
	}
	t.Fatalf("no token in user add output:\n%s", out)
	return ""
}

// Run runs the binary to its exit (failure guard: 60 s) and returns the
// exit code and its stdout and stderr together.
func Run(t testing.TB, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	return RunIn(t, "", nil, bin, env, args...)
}

// RunIn is Run in the working directory dir (empty: the test's) with
// stdin (nil: none).
func RunIn(t testing.TB, dir string, stdin io.Reader, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir, cmd.Stdin = dir, stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit within 60 s:\n%s", args, out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// WaitUntil polls cond; the deadline is a failure guard only. logs (may be
// nil) is shown when it fails.
func WaitUntil(t testing.TB, guard time.Duration, what string, logs func() string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(guard); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			if logs != nil {
				s := logs()
				if len(s) > 6000 {
					s = s[len(s)-6000:]
				}
				t.Logf("logs (tail):\n%s", s)
			}
			t.Fatalf("waiting for %s", what)
		}
	}
}

// WaitOutboxSent waits until every outbox row of db is sent; it fails the
// test with the count left (and the process's logs) after within.
func WaitOutboxSent(t testing.TB, db *store.DB, within time.Duration, logs func() string) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(within); ; time.Sleep(100 * time.Millisecond) {
		pending, err := channels.Unsent(ctx, db)
		if err == nil && pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox rows never sent\n%s", pending, logs())
		}
	}
}

// The Cloud API credentials CloudEnv gives the gateway; a graphfake.Server
// made with graphfake.Options{AccessToken: CloudToken, AppSecret:
// CloudAppSecret} accepts them.
const (
	CloudToken     = "EAAGcloudTokenNeverLogged0123456789abcdef"
	CloudAppSecret = "cloud-app-secret-0123456789"
	CloudVerify    = "cloud-verify-token-0123"
)

// WhatsAppEnv is the environment of a `lindungi serve` built with -tags
// wafake, linked to the fake WhatsApp server fake, on data and addr, jobs
// off; extra lines follow (and override).
func WhatsAppEnv(fake *wafake.Server, data, addr string, extra ...string) []string {
	return append([]string{
		"LINDUNGI_WHATSAPP_TEST_ADDR=" + fake.Addr(), "LINDUNGI_WHATSAPP_TEST_ROOT_KEY=" + fake.RootKeyHex(),
		"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_JOBS_ENABLED=false",
	}, extra...)
}

// CloudEnv is the environment of a `lindungi serve` on the WhatsApp Cloud
// API provider, pointed at the fake Graph API at apiURL with phone number
// ID phoneID; extra lines follow (and override).
func CloudEnv(t testing.TB, apiURL, phoneID string, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	file := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return append([]string{"LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_PROVIDER=cloud",
		"LINDUNGI_WHATSAPP_CLOUD_PHONE_NUMBER_ID=" + phoneID,
		"LINDUNGI_WHATSAPP_CLOUD_ACCESS_TOKEN_FILE=" + file("token", CloudToken),
		"LINDUNGI_WHATSAPP_CLOUD_APP_SECRET_FILE=" + file("secret", CloudAppSecret),
		"LINDUNGI_WHATSAPP_CLOUD_VERIFY_TOKEN_FILE=" + file("verify", CloudVerify),
		"LINDUNGI_WHATSAPP_CLOUD_API_URL=" + apiURL, "LINDUNGI_WHATSAPP_SEND_RATE=10000",
		"LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_BOT_FLOOD_LIMIT=100000", "LINDUNGI_SIMULATOR=false"}, extra...)
}
