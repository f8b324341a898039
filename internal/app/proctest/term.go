package proctest

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Term is a command run as from a terminal: lines written to its stdin,
// its output collected.
type Term struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser

	mu     sync.Mutex
	out    bytes.Buffer
	seen   int // Expect consumed the output up to here
	change chan struct{}
}

// StartTerm runs bin with args; it is killed when the test ends.
func StartTerm(t testing.TB, bin string, env []string, args ...string) *Term {
	t.Helper()
	c := &Term{Cmd: exec.Command(bin, args...), change: make(chan struct{}, 1)}
	c.Cmd.Env = append(os.Environ(), env...)
	var err error
	if c.Stdin, err = c.Cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := c.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Cmd.Stderr = c
	if err := c.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(c, stdout)
	t.Cleanup(func() { c.Cmd.Process.Kill(); c.Cmd.Wait() })
	return c
}

// Write collects output.
func (c *Term) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	c.mu.Unlock()
	select {
	case c.change <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Output is everything the command wrote so far.
func (c *Term) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// Say types line.
func (c *Term) Say(t testing.TB, line string) {
	t.Helper()
	if _, err := io.WriteString(c.Stdin, line+"\n"); err != nil {
		t.Fatalf("writing %q: %v", line, err)
	}
}

// Expect waits until the output after the last expectation contains want
// and returns that output. The minute is a guard against a hang, not a
// measurement.
func (c *Term) Expect(t testing.TB, want string) string {
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
			t.Fatalf("%v never showed %q; its output:\n%s", c.Cmd.Args[1:], want, c.Output())
		}
	}
}
