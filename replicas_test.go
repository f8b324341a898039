package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lindungi/internal/app/proctest"
	"lindungi/store"
	"lindungi/store/storetest"
)

// TestJobsRunOnceAcrossReplicas is issue 7's "must show 2": two `lindungi
// serve` processes on one PostgreSQL run each scheduled tick once between
// them; when the leader is killed, the other runs the next ticks.
func TestJobsRunOnceAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	url := storetest.PostgresURL(t)
	bin := proctest.Binary(t)
	cfgPath := filepath.Join(t.TempDir(), "lindungi.yaml")
	// A cheap job every two seconds; everything else off.
	os.WriteFile(cfgPath, []byte(`jobs:
  schedule:
    sla-escalation: "*/2 * * * * *"
    purge-tracing: "off"
    rotate-tempid-keys: "off"
    match-pending-uploads: "off"
    retention-tickets: "off"
    outbox-cleanup: "off"
    dsr-deadline: "off"
    audit-retention: "off"
    job-history-cleanup: "off"
`), 0o600)
	key := strings.Repeat("ab", 32)
	start := func() *proctest.Proc {
		env := []string{"LINDUNGI_DATABASE_URL=" + url, "LINDUNGI_DATA_DIR=" + t.TempDir(), "LINDUNGI_DATA_KEY=" + key,
			"LINDUNGI_LISTEN=" + proctest.FreePort(t), "LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_SIMULATOR=true"}
		return proctest.Start(t, bin, env, "serve", "--config", cfgPath)
	}
	a, b := start(), start()
	procs := map[int]*proctest.Proc{a.Cmd.Process.Pid: a, b.Cmd.Process.Pid: b}
	db, err := store.Open(context.Background(), store.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	type run struct {
		scheduled time.Time
		node      string
	}
	runs := func() []run {
		rows, err := db.Query(ctx, `SELECT scheduled_at, node FROM job_runs WHERE job = 'sla-escalation' AND source = 'schedule' ORDER BY scheduled_at`)
		if err != nil {
			return nil // table not migrated yet
		}
		defer rows.Close()
		var out []run
		for rows.Next() {
			var r run
			rows.Scan(&r.scheduled, &r.node)
			out = append(out, r)
		}
		return out
	}
	waitRuns := func(n int) []run {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if rs := runs(); len(rs) >= n {
				return rs
			}
		}
		for _, p := range procs {
			p.Kill()
			t.Logf("replica %v log:\n%s", p.Cmd.ProcessState, p.Logs())
		}
		t.Fatalf("fewer than %d scheduled runs recorded", n)
		return nil
	}
	rs := waitRuns(4)
	seen := map[time.Time]int{}
	for _, r := range rs {
		seen[r.scheduled]++
		if seen[r.scheduled] > 1 {
			t.Fatalf("tick %s ran twice", r.scheduled)
		}
	}
	leader := rs[len(rs)-1].node
	pid := 0
	for p := range procs {
		if strings.HasSuffix(leader, ":"+strconv.Itoa(p)) {
			pid = p
		}
	}
	if pid == 0 {
		t.Fatalf("leader %q is neither process", leader)
	}
	procs[pid].Kill()
	delete(procs, pid)
	killedAt := len(rs)
	after := waitRuns(killedAt + 3)
	took := false
	for _, r := range after[killedAt:] {
		if r.node != leader {
			took = true
		}
	}
	if !took {
		t.Fatalf("no run by the surviving replica after the leader died: %+v", after[killedAt:])
	}
	seen = map[time.Time]int{}
	for _, r := range after {
		if seen[r.scheduled]++; seen[r.scheduled] > 1 {
			t.Fatalf("tick %s ran twice", r.scheduled)
		}
	}
	t.Logf("%d ticks before the kill (leader %s), %d after, all once", killedAt, leader, len(after)-killedAt)
}
