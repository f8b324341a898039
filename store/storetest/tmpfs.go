package storetest

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Tmpfs mounts a file system of size (e.g. "16m") for the test and unmounts
// it afterwards. Full-disk and read-only cases need a real file system (root
// ignores directory modes); without the right to mount, the test skips.
func Tmpfs(t testing.TB, size string, opts ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-t", "tmpfs", "-o", strings.Join(append([]string{"size=" + size}, opts...), ","), "tmpfs", dir}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if exec.Command("umount", dir).Run() == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("could not unmount %s", dir)
	})
	return dir
}
