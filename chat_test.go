package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// termProc is a command run as a subprocess as from a terminal: lines
// written to its stdin, its output collected.
type termProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu     sync.Mutex
	out    bytes.Buffer
	seen   int // expect consumed the output up to here
	change chan struct{}
}

func startChat(t *testing.T, bin string, env []string, args ...string) *termProc {
	t.Helper()
	return startTerm(t, bin, env, append([]string{"chat"}, args...)...)
}

func startTerm(t *testing.T, bin string, env []string, args ...string) *termProc {
	t.Helper()
	c := &termProc{cmd: exec.Command(bin, args...), change: make(chan struct{}, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = c
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(c, stdout)
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	return c
}

func (c *termProc) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	select {
	case c.change <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *termProc) say(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("writing %q: %v", line, err)
	}
}

// expect waits until the output after the last expectation contains want
// and returns that output. The minute is a guard against a hang, not a
// measurement.
func (c *termProc) expect(t *testing.T, want string) string {
	t.Helper()
	guard := time.After(time.Minute)
	for {
		c.mu.Lock()
		s := c.out.String()[c.seen:]
		if i := strings.Index(s, want); i >= 0 {
			c.seen += i + len(want)
			c.mu.Unlock()
			return s[:i+len(want)]
		}
		c.mu.Unlock()
		select {
		case <-c.change:
		case <-guard:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("%v never showed %q; its output:\n%s", c.cmd.Args[1:], want, c.out.String())
		}
	}
}

// Must show 1 of issue 22: `lindungi chat` as a citizen would use it. A
// complaint handed to an operator; the operator's reply appears while the
// citizen types nothing; "hapus data saya" goes through to the erasure
// confirmation, which an earlier chat never showed (its cursor was past
// the sequence numbers reused after the erasure).
func TestChatComplaintOperatorReplyAndErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level chat test skipped in -short mode")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_SIMULATOR=true",
		"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	operator := addUser(t, bin, data, "operator", "petugas-uji")
	srv := startProc(t, bin, env, "serve")
	t.Cleanup(func() { srv.cmd.Process.Kill(); srv.cmd.Wait() })
	waitHealthy(t, addr)

	chat := startChat(t, bin, env, "--from", "+6281299990001")
	chat.expect(t, "Terhubung ke http://"+addr)

	chat.say(t, "halo")
	chat.expect(t, "Selamat datang")
	chat.say(t, "4")
	got := chat.expect(t, "Balas *MENU*")
	m := regexp.MustCompile(`PL-\d{4}-\d{6}`).FindString(got)
	if m == "" {
		t.Fatalf("no ticket number in the hand-off:\n%s", got)
	}
	chat.say(t, "sertifikat vaksin saya belum muncul sejak Maret")
	// The bot stays silent on a handed-off ticket: the operator answers.

	reply := "Selamat siang, sertifikat Bapak/Ibu sedang kami periksa bersama Dinas Kesehatan."
	body, _ := json.Marshal(map[string]string{"text": reply})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/tickets/"+m+"/replies", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+operator)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("operator reply: status %d", resp.StatusCode)
	}
	// Nothing written to the chat since: the reply must appear on its own.
	chat.expect(t, reply)

	// The hand-off keeps the bot quiet until the citizen asks for the menu.
	chat.say(t, "menu")
	chat.expect(t, "Layanan otomatis kembali aktif")
	chat.say(t, "hapus data saya")
	chat.expect(t, "tidak dapat dibatalkan")
	chat.say(t, "YA")
	chat.expect(t, "sedang kami proses")
	chat.expect(t, "Data pribadi Bapak/Ibu telah kami hapus")

	chat.stdin.Close()
	if err := chat.cmd.Wait(); err != nil {
		t.Fatalf("chat did not end cleanly on end of input: %v\n%s", err, chat.out.String())
	}
}

// Commands pointed at the wrong place say so, and leave no database, data
// key or token behind (they used to create a second, empty gateway and
// then fail with a bare 401).
func TestCommandsFindTheRunningGatewayOrSaySo(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	bin := buildBinary(t)
	data := t.TempDir()
	addr := freePort(t)
	base := []string{"LINDUNGI_SIMULATOR=true", "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	srv := startProc(t, bin, append([]string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr}, base...), "serve")
	t.Cleanup(func() { srv.cmd.Process.Kill(); srv.cmd.Wait() })
	waitHealthy(t, addr)

	// Another gateway's data, complete with its own database.
	other := t.TempDir()
	if code, out := runToExit(t, bin, nil, "migrate", "--data", other); code != 0 {
		t.Fatalf("migrate: %s", out)
	}
	missing := filepath.Join(t.TempDir(), "mistyped")
	elsewhere := t.TempDir() // a folder without ./data

	cases := []struct {
		name string
		dir  string // working directory
		args []string
		want []string
		// created must not exist afterwards
		created string
	}{
		{"chat with a data dir that does not exist", "", []string{"chat", "--listen", addr, "--data", missing},
			[]string{"does not exist", missing, "same --config/--data"}, missing},
		{"chat with another gateway's data", "", []string{"chat", "--listen", addr, "--data", other},
			[]string{"does not know the chat token", other}, ""},
		{"chat where no gateway listens", "", []string{"chat", "--listen", freePort(t), "--data", data},
			[]string{"no gateway answers at", "it would use data directory " + data}, filepath.Join(data, "chat.token")},
		{"jobs from another folder", elsewhere, []string{"jobs", "list"},
			[]string{"does not exist", filepath.Join(elsewhere, "data")}, filepath.Join(elsewhere, "data")},
		{"user add with a data dir that does not exist", "", []string{"user", "add", "--role", "admin", "budi", "--data", missing},
			[]string{"does not exist", missing}, missing},
		{"healthcheck where no gateway listens", "", []string{"healthcheck", "--listen", freePort(t)},
			[]string{"healthcheck: http://127.0.0.1:"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			cmd.Env = append(os.Environ(), base...)
			cmd.Dir = c.dir
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exit 0, want a refusal:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
			if c.created != "" {
				if _, err := os.Stat(c.created); err == nil {
					t.Errorf("%s was created", c.created)
				}
			}
		})
	}
}
