package jobs_test

import (
	"context"
	"slices"
	"testing"

	"lindungi/jobs"
	"lindungi/store/storetest"
)

// Builtin holds only the jobs on this package's own concerns, leaves out
// the WhatsApp alert without a channel to watch, and each runs on an empty
// database.
func TestBuiltinJobs(t *testing.T) {
	db := storetest.SQLite(t)
	names := func(js []jobs.Job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.Name)
		}
		return out
	}
	std := jobs.Builtin(db, jobs.Config{}, jobs.Deps{WhatsApp: func() string { return "connected" }})
	if got, want := names(std), []string{"audit-retention", "job-history-cleanup", "whatsapp-health"}; !slices.Equal(got, want) {
		t.Errorf("builtin jobs %v, want %v", got, want)
	}
	if got := names(jobs.Builtin(db, jobs.Config{}, jobs.Deps{})); slices.Contains(got, "whatsapp-health") {
		t.Errorf("without a WhatsApp channel: %v", got)
	}
	s, _, _ := fixedScheduler(t, db, now)
	s.MustRegister(std...)
	for _, j := range std {
		if _, err := s.RunOnce(context.Background(), j.Name); err != nil {
			t.Errorf("%s on an empty database: %v", j.Name, err)
		}
	}
}
