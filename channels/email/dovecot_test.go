package email

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lindungi/store/storetest"
)

const dovecotBin = "/usr/sbin/dovecot"

// dovecot is a throwaway Dovecot started by the test on a loopback port:
// config, passwd-file, maildir, sockets and log all live in t.TempDir().
type dovecot struct {
	t    testing.TB
	dir  string
	conf string
	Addr string
	cmd  *exec.Cmd
}

const dovecotUser, dovecotPass = "warga", "rahasia"

func startDovecot(t testing.TB) *dovecot {
	t.Helper()
	if _, err := os.Stat(dovecotBin); err != nil {
		storetest.SkipOrFail(t, "Dovecot tests skipped: "+dovecotBin+" not found (apt-get install dovecot-imapd)")
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
	passwd := filepath.Join(dir, "passwd")
	os.WriteFile(passwd, []byte(fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s/mail/%s::\n", dovecotUser, dovecotPass, uid, gid, dir, dovecotUser)), 0o644)
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
mail_location = maildir:%[1]s/mail/%%u
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
`, dir, port, loginUser, internalUser, uid, gid, passwd)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &dovecot{t: t, dir: dir, conf: conf, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

// Start runs dovecot in the foreground and waits for its IMAP port.
func (d *dovecot) Start() {
	d.t.Helper()
	d.cmd = exec.Command(dovecotBin, "-F", "-c", d.conf)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := os.OpenFile(filepath.Join(d.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start dovecot: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			so, _ := os.ReadFile(filepath.Join(d.dir, "stdout.log"))
			d.t.Fatalf("dovecot did not listen on %s: %v\n%s\n%s", d.Addr, err, so, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop terminates dovecot (and its children) and waits until the port is
// closed.
func (d *dovecot) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	d.cmd = nil
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", d.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *dovecot) mailbox(address string) MailboxConfig {
	return MailboxConfig{Address: address, IMAPURL: "imap://" + d.Addr, Username: dovecotUser, Password: dovecotPass}
}

func itoa(n int) string { return strconv.Itoa(n) }
