package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"lindungi/jobs"
	"lindungi/store/storetest"
)

// The delegating jobs hand the scheduler's clock to their package and
// report its row counts; Builtin leaves out what has no dependency.
func TestBuiltinJobsAndDelegates(t *testing.T) {
	db := storetest.SQLite(t)
	var purgedAt time.Time
	purge := jobs.SumCounts(func(ctx context.Context, now time.Time) (map[string]int64, error) {
		purgedAt = now
		return map[string]int64{"tracing_exposures": 3, "tracing_keys": 1}, nil
	})
	rotate := jobs.NoCount(func(ctx context.Context, now time.Time) error { return errors.New("no key store") })
	std := jobs.Builtin(db, jobs.Config{}, jobs.Deps{Tracing: purge, Rotator: rotate, Uploads: purge,
		WhatsApp: func() string { return "connected" }})
	var names []string
	for _, j := range std {
		names = append(names, j.Name)
	}
	want := []string{"purge-tracing", "rotate-tempid-keys", "match-pending-uploads", "audit-retention", "job-history-cleanup", "whatsapp-health"}
	if len(names) != len(want) {
		t.Fatalf("standard jobs %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("standard jobs %v, want %v", names, want)
		}
	}
	if n := len(jobs.Builtin(db, jobs.Config{}, jobs.Deps{})); n != 2 {
		t.Errorf("without dependencies: %d jobs", n)
	}
	s, _, _ := fixedScheduler(t, db, now)
	s.MustRegister(std...)
	r, err := s.RunOnce(context.Background(), "purge-tracing")
	if err != nil || r.Rows != 4 || !purgedAt.Equal(now) {
		t.Errorf("purge-tracing: %+v %v at %v", r, err, purgedAt)
	}
	if _, err := s.RunOnce(context.Background(), "rotate-tempid-keys"); err == nil {
		t.Error("rotate error lost")
	}
	for _, j := range std {
		if _, err := s.RunOnce(context.Background(), j.Name); err != nil && j.Name != "rotate-tempid-keys" {
			t.Errorf("%s on an empty database: %v", j.Name, err)
		}
	}
}
