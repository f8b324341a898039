// Package testlog owns what tests need to capture and inspect log output:
// a buffer the gateway's goroutines can write to concurrently, and a check
// that no personal data reached the log (UU 27/2022: no NIK, phone numbers,
// e-mail addresses or message text in logs at any level).
package testlog

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Buffer is an io.Writer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var (
	nikLike   = regexp.MustCompile(`\b\d{16}\b`)
	phoneLike = regexp.MustCompile(`\+?62 ?8\d{8,11}\b`)
)

// AssertClean fails t when logs contain any of the given personal data, or
// anything shaped like a NIK or an Indonesian mobile number.
func AssertClean(t testing.TB, logs string, personal ...string) {
	t.Helper()
	if logs == "" {
		t.Fatal("no log output captured")
	}
	for _, s := range personal {
		if strings.Contains(logs, s) {
			t.Errorf("log output contains personal data %q", s)
		}
	}
	for _, re := range []*regexp.Regexp{nikLike, phoneLike} {
		if m := re.FindString(logs); m != "" {
			t.Errorf("log output contains something that looks like a NIK or phone: %q", m)
		}
	}
}
