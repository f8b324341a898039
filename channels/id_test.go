package channels

import (
	"regexp"
	"testing"
	"time"
)

// TestNewID: the shape is WhatsApp's upper-case hex, IDs of a later
// millisecond sort after earlier ones (the outbox key grows at its end),
// and a burst in one millisecond does not collide.
func TestNewID(t *testing.T) {
	shape := regexp.MustCompile(`^3EB0[0-9A-F]{24}$`)
	seen := make(map[string]bool, 100000)
	for range 100000 {
		id := NewID()
		if !shape.MatchString(id) {
			t.Fatalf("NewID() = %q, want 3EB0 + 24 upper-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
	a := NewID()
	time.Sleep(2 * time.Millisecond)
	if b := NewID(); b <= a {
		t.Errorf("a later ID %q does not sort after %q", b, a)
	}
}
