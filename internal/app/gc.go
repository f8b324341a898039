package app

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Garbage-collector defaults for serve (and for the tests and benchmarks
// that measure the process as deployed), applied unless the operator sets
// the Go runtime's own GOGC or GOMEMLIMIT.
//
// The gateway's live heap is small (tens of MB: chunks of mail, caches),
// so at Go's default GOGC=100 a mailbox import collects every few
// megabytes of allocation: measured on the e-mail import benchmark, GC took
// about a tenth of the machine and the importer lost the CPU to it when it
// needed it. GOGC=400 lets the heap grow to five times the live data
// between collections: machine CPU per imported mail fell from 218 to 194
// µs and throughput rose 14% (README, benchmarks). The price is memory, so
// a soft limit caps it: three quarters of the container's memory limit
// where there is one (cgroup v2 or v1), else DefaultMemoryLimit. Near the
// limit the runtime collects as often as it must, as it would at GOGC=100.
const (
	DefaultGCPercent   = 400
	DefaultMemoryLimit = 512 << 20
)

// GCSettings is what TuneGC applied (0: left to the operator's variable).
type GCSettings struct {
	Percent     int
	MemoryLimit int64
}

// TuneGC applies the defaults above where getenv says the operator did not
// choose, reading the container limit from the cgroup files under root
// ("/" in production).
func TuneGC(getenv func(string) string, root string) GCSettings {
	var s GCSettings
	if getenv("GOGC") == "" {
		s.Percent = DefaultGCPercent
		debug.SetGCPercent(s.Percent)
	}
	if getenv("GOMEMLIMIT") == "" {
		s.MemoryLimit = DefaultMemoryLimit
		if limit, ok := cgroupMemoryLimit(root); ok {
			s.MemoryLimit = limit / 4 * 3
		}
		debug.SetMemoryLimit(s.MemoryLimit)
	}
	return s
}

// cgroupMemoryLimit reads the memory limit of the process's cgroup: v2's
// memory.max, else v1's memory.limit_in_bytes. "max" and v1's huge
// "unlimited" value mean none.
func cgroupMemoryLimit(root string) (int64, bool) {
	for _, f := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0, false // "max", or v1's page-rounded MaxInt64
		}
		return v, true
	}
	return 0, false
}
