// Package dovecottest starts a throwaway Dovecot IMAP server for tests: its
// configuration, passwd file, maildir, sockets and log all live in a
// t.TempDir(), it listens on a free loopback port without TLS, and it has one
// user (User/Password). It is the one Dovecot starter of the repository (the
// e-mail channel's tests and the root package's end-to-end tests use it).
//
// When /usr/sbin/dovecot is missing, Start skips the test, or fails it when
// LINDUNGI_TEST_REQUIRE_SERVERS=1 (storetest.SkipOrFail).
package dovecottest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"lindungi/store/storetest"
)

// Bin is where Debian's dovecot-core installs the server.
const Bin = "/usr/sbin/dovecot"

// User and Password log in to every Server.
const User, Password = "warga", "rahasia"

// Server is one running Dovecot.
type Server struct {
	// Addr is "127.0.0.1:PORT"; Port is PORT.
	Addr     string
	Port     int
	User     string
	Password string

	t    testing.TB
	dir  string
	conf string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// Options change how a Server is set up.
type Options struct {
	// LockableRoot keeps Dovecot's index and control files outside the
	// user's maildir and creates INBOX up front, so that a test can take
	// away the right to create folders (SetRootWritable) while mail still
	// arrives in INBOX, as on a server whose mail root is read-only.
	LockableRoot bool
}

// Start runs a fresh Dovecot and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with opts.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := os.Stat(Bin); err != nil {
		storetest.SkipOrFail(t, "Dovecot tests skipped: "+Bin+" not found (apt-get install dovecot-imapd)")
	}
	dir := t.TempDir()
	// Dovecot's login and auth processes run as unprivileged users and
	// must reach the sockets under base_dir.
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()) && d != os.TempDir() {
			os.Chmod(d, 0o755)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	uid, gid := os.Getuid(), os.Getgid()
	loginUser, internalUser := "dovenull", "dovecot"
	if uid != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		loginUser, internalUser = u.Username, u.Username
	} else {
		for _, name := range []string{"dovenull", "dovecot"} {
			if _, err := user.Lookup(name); err != nil {
				storetest.SkipOrFail(t, "Dovecot tests skipped: system user "+name+" missing (install dovecot-core)")
			}
		}
		// Dovecot refuses to store mail as root: the maildir belongs to
		// the dovecot system user.
		u, _ := user.Lookup("dovecot")
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	for _, sub := range []string{"run", "state", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chown(filepath.Join(dir, "mail"), uid, gid)
	location := "maildir:" + dir + "/mail/%u"
	if opts.LockableRoot {
		location += ":INDEX=" + dir + "/index/%u:CONTROL=" + dir + "/control/%u"
		for _, sub := range []string{"index", "control", "mail/" + User, "mail/" + User + "/cur", "mail/" + User + "/new", "mail/" + User + "/tmp"} {
			p := filepath.Join(dir, sub)
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chown(p, uid, gid)
		}
	}
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s/mail/%s::\n", User, Password, uid, gid, dir, User)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dovecot.conf")
	cfg := fmt.Sprintf(`
base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = lindungi-test-%[2]d
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = %[3]s
default_internal_user = %[4]s
first_valid_uid = 1
first_valid_gid = 1
mail_uid = %[5]d
mail_gid = %[6]d
mail_location = %[8]s
mail_fsync = never
imap_idle_notify_interval = 2 mins
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[7]s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[7]s
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`, dir, port, loginUser, internalUser, uid, gid, passwd, location)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, conf: conf, Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, User: User, Password: Password}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// IMAPURL is the plain loopback URL the channel's config accepts.
func (s *Server) IMAPURL() string { return "imap://" + s.Addr }

// Dir is the server's directory (dovecot.log, the maildir).
func (s *Server) Dir() string { return s.dir }

// MailRoot is the user's maildir: INBOX's cur/new/tmp and one .Folder
// directory per other folder.
func (s *Server) MailRoot() string { return filepath.Join(s.dir, "mail", s.User) }

// SetRootWritable lets the server create folders in the user's maildir,
// or (false) takes that right away: CREATE is refused while INBOX still
// takes and gives mail (start the server with Options.LockableRoot).
func (s *Server) SetRootWritable(ok bool) error {
	mode := os.FileMode(0o555)
	if ok {
		mode = 0o755
	}
	return os.Chmod(s.MailRoot(), mode)
}

// Log is Dovecot's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "dovecot.log"))
	so, _ := os.ReadFile(filepath.Join(s.dir, "stdout.log"))
	return string(so) + string(b)
}

// start runs dovecot in the foreground and waits for its IMAP port.
func (s *Server) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(Bin, "-F", "-c", s.conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.OpenFile(filepath.Join(s.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start dovecot: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("dovecot did not listen on %s: %v\n%s", s.Addr, err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop terminates dovecot (and its children) and waits until the port is
// closed. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pid := s.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart stops the server (if it runs) and starts it again on the same
// port with the same mail: clients see their connection drop.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Dial returns a client logged in as User. The caller closes it.
func (s *Server) Dial() (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// MustDial is Dial that fails the test on error.
func (s *Server) MustDial() *imapclient.Client {
	s.t.Helper()
	c, err := s.Dial()
	if err != nil {
		s.t.Fatalf("dovecot login: %v", err)
	}
	return c
}

// Append stores one raw message in mailbox (created when missing, e.g.
// "INBOX" always exists), failing the test when Dovecot refuses it.
func (s *Server) Append(mailbox string, raw []byte) {
	s.t.Helper()
	if err := s.AppendErr(mailbox, raw); err != nil {
		s.t.Fatalf("append to %s: %v", mailbox, err)
	}
}

// AppendErr stores one raw message and returns Dovecot's answer; safe to
// call from any goroutine.
func (s *Server) AppendErr(mailbox string, raw []byte) error {
	c, err := s.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	return appendOne(c, mailbox, raw, nil)
}

func appendOne(c *imapclient.Client, mailbox string, raw []byte, opts *imap.AppendOptions) error {
	cmd := c.Append(mailbox, int64(len(raw)), opts)
	if _, err := cmd.Write(raw); err != nil {
		cmd.Close()
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// AppendAll stores msgs in mailbox quickly: conns connections (at least 1),
// each sending MULTIAPPEND commands of up to 500 messages with LITERAL+
// (Dovecot saves one command in one transaction). UIDs follow the order
// within one connection only. opts (flags, internal date) may be nil.
func (s *Server) AppendAll(mailbox string, msgs [][]byte, conns int, opts *imap.AppendOptions) {
	s.t.Helper()
	if err := s.AppendAllErr(mailbox, msgs, conns, opts); err != nil {
		s.t.Fatalf("bulk append to %s: %v", mailbox, err)
	}
}

// AppendAllErr is AppendAll returning the first error.
func (s *Server) AppendAllErr(mailbox string, msgs [][]byte, conns int, opts *imap.AppendOptions) error {
	if conns < 1 {
		conns = 1
	}
	conns = min(conns, max(1, len(msgs)))
	errs := make(chan error, conns)
	for w := 0; w < conns; w++ {
		var mine [][]byte
		for i := w; i < len(msgs); i += conns {
			mine = append(mine, msgs[i])
		}
		go func() { errs <- s.multiAppend(mailbox, mine, opts) }()
	}
	var first error
	for w := 0; w < conns; w++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// multiAppend speaks just enough IMAP on a raw connection for MULTIAPPEND
// (RFC 3502), which go-imap's client lacks.
func (s *Server) multiAppend(mailbox string, msgs [][]byte, opts *imap.AppendOptions) error {
	conn, err := net.DialTimeout("tcp", s.Addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Minute))
	r := bufio.NewReader(conn)
	w := bufio.NewWriterSize(conn, 1<<20)
	if _, err := r.ReadString('\n'); err != nil { // greeting
		return err
	}
	// result reads until the tagged response and returns it.
	result := func(tag string) (string, error) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			if strings.HasPrefix(line, tag+" ") {
				if !strings.HasPrefix(line, tag+" OK") {
					return line, fmt.Errorf("server: %s", strings.TrimSpace(line))
				}
				return line, nil
			}
		}
	}
	fmt.Fprintf(w, "l LOGIN %s %s\r\n", quote(s.User), quote(s.Password))
	w.Flush()
	if _, err := result("l"); err != nil {
		return err
	}
	fmt.Fprintf(w, "c CAPABILITY\r\n")
	w.Flush()
	var caps string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "* CAPABILITY") {
			caps = line
		}
		if strings.HasPrefix(line, "c ") {
			break
		}
	}
	if !strings.Contains(caps, "MULTIAPPEND") || !strings.Contains(caps, "LITERAL+") {
		return fmt.Errorf("server lacks MULTIAPPEND or LITERAL+: %s", caps)
	}
	var extra string
	if opts != nil && len(opts.Flags) > 0 {
		fl := make([]string, len(opts.Flags))
		for i, f := range opts.Flags {
			fl[i] = string(f)
		}
		extra += "(" + strings.Join(fl, " ") + ") "
	}
	if opts != nil && !opts.Time.IsZero() {
		extra += quote(opts.Time.Format("02-Jan-2006 15:04:05 -0700")) + " "
	}
	const batch = 500
	for n := 0; len(msgs) > 0; n++ {
		k := min(batch, len(msgs))
		tag := "a" + strconv.Itoa(n)
		fmt.Fprintf(w, "%s APPEND %s", tag, quote(mailbox))
		for _, m := range msgs[:k] {
			fmt.Fprintf(w, " %s{%d+}\r\n", extra, len(m))
			w.Write(m)
		}
		w.WriteString("\r\n")
		if err := w.Flush(); err != nil {
			return err
		}
		if _, err := result(tag); err != nil {
			return err
		}
		msgs = msgs[k:]
	}
	fmt.Fprintf(w, "z LOGOUT\r\n")
	w.Flush()
	return nil
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Unseen returns the UIDs in mailbox without \Seen (UID SEARCH UNSEEN).
func (s *Server) Unseen(mailbox string) ([]imap.UID, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, err
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		return nil, err
	}
	return res.AllUIDs(), nil
}

// Count is the number of messages in mailbox (STATUS MESSAGES).
func (s *Server) Count(mailbox string) (int, error) {
	c, err := s.Dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, err
	}
	return int(*st.NumMessages), nil
}
