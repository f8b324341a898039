package app

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		want      int64
		wantFound bool
	}{
		{"v2 limit", map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"}, 1 << 30, true},
		{"v2 unlimited", map[string]string{"sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"v1 limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n"}, 512 << 20, true},
		{"v1 unlimited", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0, false},
		{"garbage", map[string]string{"sys/fs/cgroup/memory.max": "lots\n"}, 0, false},
		{"no cgroup files", nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, found := cgroupMemoryLimit(root)
			if got != tc.want || found != tc.wantFound {
				t.Errorf("cgroupMemoryLimit = %d, %v; want %d, %v", got, found, tc.want, tc.wantFound)
			}
		})
	}
}

// TestTuneGC: the defaults apply only where the operator set nothing, and
// the memory limit follows the container's.
func TestTuneGC(t *testing.T) {
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	container := t.TempDir()
	if err := os.MkdirAll(filepath.Join(container, "sys/fs/cgroup"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(container, "sys/fs/cgroup/memory.max"), []byte("2147483648\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		env         map[string]string
		root        string
		want        GCSettings
		wantPercent int   // in effect afterwards
		wantLimit   int64 // in effect afterwards
	}{
		{"defaults, no container limit", nil, t.TempDir(), GCSettings{DefaultGCPercent, DefaultMemoryLimit}, DefaultGCPercent, DefaultMemoryLimit},
		{"defaults in a 2 GiB container", nil, container, GCSettings{DefaultGCPercent, 3 << 29}, DefaultGCPercent, 3 << 29},
		{"operator's GOGC and GOMEMLIMIT", map[string]string{"GOGC": "150", "GOMEMLIMIT": "1GiB"}, container, GCSettings{}, 100, 1 << 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// What the runtime read from the operator's variables at start.
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(1 << 40)
			got := TuneGC(func(k string) string { return tc.env[k] }, tc.root)
			if got != tc.want {
				t.Errorf("TuneGC = %+v, want %+v", got, tc.want)
			}
			if p := debug.SetGCPercent(100); p != tc.wantPercent {
				t.Errorf("GC percent in effect %d, want %d", p, tc.wantPercent)
			}
			if l := debug.SetMemoryLimit(1 << 40); l != tc.wantLimit {
				t.Errorf("memory limit in effect %d, want %d", l, tc.wantLimit)
			}
		})
	}
}
