package tracing

import (
	"sync"
	"time"
)

// hourMarks remembers, per device, the hour in which something was noted
// (its upload refusal audited, its rate limit reached), so that a device
// hammering the upload route costs the database nothing more that hour.
// It is a per-process cache in front of rows the database keeps (the
// database stays the authority across replicas), so forgetting is always
// safe: past maxMarks devices it starts over.
type hourMarks struct {
	mu sync.Mutex
	m  map[int64]time.Time
}

const maxMarks = 100_000

func (h *hourMarks) seen(device int64, hour time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.m[device]
	return ok && t.Equal(hour)
}

// over is seen, read as "over the limit this hour".
func (h *hourMarks) over(device int64, hour time.Time) bool { return h.seen(device, hour) }

func (h *hourMarks) mark(device int64, hour time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxMarks {
		h.m = map[int64]time.Time{}
	}
	h.m[device] = hour
}
