package channels

import (
	"context"
	"sync"
)

// Recorder is a Channel test double: it records every Send and can be told
// to fail. It lives beside the interface it doubles so every package's tests
// use the same one.
type Recorder struct {
	ChannelName string
	mu          sync.Mutex
	sent        []Outbound
	// Fail, if set, decides the error for each send (nil: success).
	Fail  func(m Outbound, attempt int) error
	tries map[string]int
	state State
	wake  chan struct{}
}

// NewRecorder makes a connected Recorder named name.
func NewRecorder(name string) *Recorder {
	return &Recorder{ChannelName: name, tries: map[string]int{}, state: StateUp, wake: make(chan struct{}, 1)}
}

// Name implements Channel.
func (r *Recorder) Name() string { return r.ChannelName }

// State implements Channel.
func (r *Recorder) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// SetState changes what State reports.
func (r *Recorder) SetState(s State) {
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
}

// Send implements Channel.
func (r *Recorder) Send(ctx context.Context, m Outbound) error {
	r.mu.Lock()
	r.tries[m.ID]++
	n := r.tries[m.ID]
	fail := r.Fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(m, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.sent = append(r.sent, m)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Sent returns a copy of what was delivered.
func (r *Recorder) Sent() []Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Outbound(nil), r.sent...)
}

// Tries reports how many times id was attempted.
func (r *Recorder) Tries(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tries[id]
}

// WaitFor blocks until at least n messages were delivered or ctx ends.
func (r *Recorder) WaitFor(ctx context.Context, n int) bool {
	for {
		if len(r.Sent()) >= n {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-r.wake:
		}
	}
}
