package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrDataDirLocked means another process serves from the same SQLite data
// directory.
var ErrDataDirLocked = errors.New("store: data directory in use")

// LockFile is the name of the lock file in a SQLite data directory.
const LockFile = "lindungi.lock"

// DirLock is an exclusive lock on a data directory, held until Release.
type DirLock struct{ f *os.File }

// LockDataDir takes the exclusive lock on dir that one serving process
// holds for as long as it runs. Two processes on one SQLite database would
// each re-queue the other's in-flight outbox rows at start (SQLite's
// recovery assumes one process) and each run a WhatsApp connection, so the
// second one refuses to start, naming the first. The lock is an flock on
// dir/lindungi.lock: the kernel drops it when the holder exits, however it
// exits, so a crash never leaves a stale lock behind. The file keeps the
// holder's PID for the message; it is never removed (removing it would let
// a third process lock a new file while the first still holds the old one).
func LockDataDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: data directory %s is not writable (set --data or LINDUNGI_DATA_DIR to a writable directory): %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	if !held {
		b, _ := os.ReadFile(path)
		f.Close()
		who := "another process"
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			who = fmt.Sprintf("another lindungi process (pid %d)", pid)
		}
		return nil, fmt.Errorf("%w: %s is being served by %s; stop that one first, or give this one its own --data directory (LINDUNGI_DATA_DIR)", ErrDataDirLocked, dir, who)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f}, nil
}

// Release drops the lock (closing the file releases the flock).
func (l *DirLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	l.f.Close()
	l.f = nil
}
