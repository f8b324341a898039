package jobs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"lindungi/jobs"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

func lockName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "cron-test-" + hex.EncodeToString(b)
}

func newScheduler(t *testing.T, db *store.DB, opt jobs.Options) (*jobs.Scheduler, *prometheus.Registry, *testlog.Buffer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	logs := &testlog.Buffer{}
	opt.Registerer = reg
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opt.LockName == "" {
		opt.LockName = lockName()
	}
	if opt.Grace == 0 {
		opt.Grace = 300 * time.Millisecond
	}
	s, err := jobs.New(db, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s, reg, logs
}

// metric returns the value of a counter or gauge series.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

func runs(t *testing.T, db *store.DB, job string) []jobs.Run {
	t.Helper()
	s, err := jobs.New(db, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.History(context.Background(), job, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first reads better in assertions.
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return rs
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func outcomes(rs []jobs.Run) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.Outcome)
	}
	return strings.Join(s, ",")
}

// A job that panics, and one that overruns its timeout, are recorded as
// failed, counted and logged — and the scheduler keeps ticking: the next
// tick of each runs and succeeds.
func TestPanicAndTimeoutFailAndSchedulerGoesOn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, reg, logs := newScheduler(t, db, jobs.Options{})
		var boomCalls, slowCalls atomic.Int32
		s.MustRegister(jobs.Job{Name: "boom", Spec: "* * * * * *", Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			if boomCalls.Add(1) == 1 {
				panic("boom")
			}
			return 1, nil
		}}, jobs.Job{Name: "slow", Spec: "* * * * * *", Timeout: 300 * time.Millisecond, Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			if slowCalls.Add(1) == 1 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return 2, nil
		}}, jobs.Job{Name: "stubborn", Spec: "* * * * * *", Timeout: 200 * time.Millisecond, Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			time.Sleep(1500 * time.Millisecond) // ignores its context
			return 0, nil
		}})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "a good run after the panic and the timeout", func() bool {
			b, sl := runs(t, db, "boom"), runs(t, db, "slow")
			return len(b) >= 2 && b[1].Outcome == jobs.OK && len(sl) >= 2 && sl[1].Outcome == jobs.OK
		})
		if err := s.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		b := runs(t, db, "boom")
		if b[0].Outcome != jobs.Failed || !strings.Contains(b[0].Error, "panic: boom") || b[0].FinishedAt == nil {
			t.Errorf("panic run recorded as %+v", b[0])
		}
		if b[1].Rows != 1 {
			t.Errorf("next run rows %d", b[1].Rows)
		}
		sl := runs(t, db, "slow")
		if sl[0].Outcome != jobs.Failed || !strings.Contains(sl[0].Error, "timed out") {
			t.Errorf("timed-out run recorded as %+v", sl[0])
		}
		st := runs(t, db, "stubborn")
		if len(st) == 0 || st[0].Outcome != jobs.Failed || !strings.Contains(st[0].Error, "timed out") {
			t.Errorf("stubborn run recorded as %s", outcomes(st))
		}
		// The stubborn body kept running past its timeout: the ticks in
		// between were skipped, not stacked.
		if !strings.Contains(outcomes(st), jobs.Skipped) {
			t.Errorf("stubborn job ticks while still running were not skipped: %s", outcomes(st))
		}
		if v := metric(t, reg, "lindungi_job_failures_total", map[string]string{"job": "boom", "reason": "panic"}); v != 1 {
			t.Errorf("panic failures metric = %v", v)
		}
		if v := metric(t, reg, "lindungi_job_failures_total", map[string]string{"job": "slow", "reason": "timeout"}); v != 1 {
			t.Errorf("timeout failures metric = %v", v)
		}
		if v := metric(t, reg, "lindungi_job_alerts_total", map[string]string{"job": "boom", "alert": "failed"}); v != 1 {
			t.Errorf("alert metric = %v", v)
		}
		if v := metric(t, reg, "lindungi_job_runs_total", map[string]string{"job": "boom", "outcome": "ok"}); v < 1 {
			t.Errorf("ok runs metric = %v", v)
		}
		if v := metric(t, reg, "lindungi_job_last_run_failed", map[string]string{"job": "boom"}); v != 0 {
			t.Errorf("last_run_failed after recovery = %v", v)
		}
		l := logs.String()
		if !strings.Contains(l, `msg="job failed" component=jobs job=boom`) || !strings.Contains(l, "reason=panic") || !strings.Contains(l, "reason=timeout") {
			t.Errorf("failures not logged:\n%s", l)
		}
	})
}

// A tick that arrives while the previous run is still going is skipped and
// recorded; runs never overlap.
func TestOverlapIsSkippedNotStacked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, reg, _ := newScheduler(t, db, jobs.Options{})
		var cur, peak, calls atomic.Int32
		s.MustRegister(jobs.Job{Name: "long", Spec: "* * * * * *", Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			n := cur.Add(1)
			defer cur.Add(-1)
			if n > peak.Load() {
				peak.Store(n)
			}
			calls.Add(1)
			select {
			case <-time.After(2200 * time.Millisecond):
			case <-ctx.Done():
			}
			return 0, nil
		}})
		s.Start()
		waitFor(t, 12*time.Second, "two completed runs", func() bool {
			n := 0
			for _, r := range runs(t, db, "long") {
				if r.Outcome == jobs.OK {
					n++
				}
			}
			return n >= 2
		})
		s.Stop(context.Background())
		rs := runs(t, db, "long")
		if peak.Load() != 1 {
			t.Errorf("runs overlapped: peak concurrency %d", peak.Load())
		}
		skipped := 0
		for _, r := range rs {
			if r.Outcome == jobs.Skipped {
				skipped++
				if r.Error == "" || r.ScheduledAt == nil {
					t.Errorf("skipped run without reason or tick: %+v", r)
				}
			}
		}
		if skipped == 0 {
			t.Errorf("no tick was skipped: %s", outcomes(rs))
		}
		if v := metric(t, reg, "lindungi_job_runs_total", map[string]string{"job": "long", "outcome": "skipped"}); int(v) != skipped {
			t.Errorf("skipped metric %v, rows %d", v, skipped)
		}
		t.Logf("outcomes: %s", outcomes(rs))
	})
}

// Stop waits for a running job; past its deadline it cancels it, records
// the run as failed and reports the job.
func TestGracefulStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for _, tc := range []struct {
			name    string
			body    time.Duration
			stop    time.Duration
			outcome string
		}{
			{"waits", 700 * time.Millisecond, 5 * time.Second, jobs.OK},
			{"deadline", 30 * time.Second, 300 * time.Millisecond, jobs.Failed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, _, _ := newScheduler(t, db, jobs.Options{})
				started := make(chan struct{}, 10)
				job := "stop-" + tc.name
				s.MustRegister(jobs.Job{Name: job, Spec: "* * * * * *", Run: func(ctx context.Context, env jobs.Env) (int64, error) {
					started <- struct{}{}
					select {
					case <-time.After(tc.body):
						return 7, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				}})
				s.Start()
				<-started
				ctx, cancel := context.WithTimeout(context.Background(), tc.stop)
				defer cancel()
				t0 := time.Now()
				err := s.Stop(ctx)
				took := time.Since(t0)
				rs := runs(t, db, job)
				last := rs[len(rs)-1]
				if last.Outcome != tc.outcome {
					t.Errorf("run after stop: %+v", last)
				}
				if tc.outcome == jobs.OK && (err != nil || last.Rows != 7) {
					t.Errorf("stop: %v, rows %d", err, last.Rows)
				}
				if tc.outcome == jobs.Failed && (err == nil || !strings.Contains(err.Error(), job)) {
					t.Errorf("stop past deadline returned %v", err)
				}
				t.Logf("stop took %s", took.Round(time.Millisecond))
			})
		}
	})
}

func TestRunOnceListAndConfig(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fixed := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
		s, _, _ := newScheduler(t, db, jobs.Options{
			Now:      func() time.Time { return fixed },
			Schedule: map[string]string{"b": "0 0 3 * * *", "c": "off", "typo": "@daily"},
		})
		var sawNow time.Time
		s.MustRegister(
			jobs.Job{Name: "a", Spec: "@hourly", Description: "first", Run: func(ctx context.Context, env jobs.Env) (int64, error) {
				sawNow = env.Now
				return 3, nil
			}},
			jobs.Job{Name: "b", Spec: "@hourly", Run: func(ctx context.Context, env jobs.Env) (int64, error) { return 0, errors.New("no luck") }},
			jobs.Job{Name: "c", Spec: "@hourly", Run: func(ctx context.Context, env jobs.Env) (int64, error) { return 0, nil }},
		)
		if err := s.Register(jobs.Job{Name: "bad", Spec: "every now and then", Run: func(context.Context, jobs.Env) (int64, error) { return 0, nil }}); err == nil {
			t.Error("bad spec accepted")
		}
		if got := s.UnknownSchedules(); len(got) != 1 || got[0] != "typo" {
			t.Errorf("unknown schedules %v", got)
		}
		r, err := s.RunOnce(ctx, "a")
		if err != nil || r.Outcome != jobs.OK || r.Rows != 3 || r.Source != "manual" || r.ScheduledAt != nil {
			t.Fatalf("run once: %+v %v", r, err)
		}
		if !sawNow.Equal(fixed) {
			t.Errorf("job saw now %v, want the scheduler clock %v", sawNow, fixed)
		}
		if _, err := s.RunOnce(ctx, "b"); err == nil || !strings.Contains(err.Error(), "no luck") {
			t.Errorf("failing run once: %v", err)
		}
		if _, err := s.RunOnce(ctx, "nope"); !errors.Is(err, jobs.ErrUnknownJob) {
			t.Errorf("unknown job: %v", err)
		}
		infos, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := jobs.WriteList(&out, infos, nil); err != nil {
			t.Fatal(err)
		}
		txt := out.String()
		for _, want := range []string{"NAME", "a ", "@hourly", "first", "0 0 3 * * *", "failed: no luck", "manual", "never", "Asia/Jakarta"} {
			if !strings.Contains(txt, want) {
				t.Errorf("list lacks %q:\n%s", want, txt)
			}
		}
		if infos[1].Next == nil || infos[1].Next.In(time.FixedZone("WIB", 7*3600)).Hour() != 3 {
			t.Errorf("b's next run not at 03:00 WIB: %v", infos[1].Next)
		}
		out.Reset()
		jobs.WriteRun(&out, r)
		if !strings.Contains(out.String(), "a: ok, 3 rows") {
			t.Errorf("run output %q", out.String())
		}
		t.Logf("\n%s", txt)
	})
}

// Two replicas on one PostgreSQL: each tick runs exactly once; when the
// leader's database goes away the other replica runs the next ticks.
func TestTwoReplicasOneRunPerTickAndFailover(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	open := func() *store.DB {
		db, err := store.Open(ctx, store.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := open(), open()
	if _, err := dbA.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	lock := lockName()
	var mu sync.Mutex
	ran := map[string][]time.Time{}
	mk := func(db *store.DB, node string) *jobs.Scheduler {
		s, _, _ := newScheduler(t, db, jobs.Options{Node: node, LockName: lock})
		s.MustRegister(jobs.Job{Name: "tick", Spec: "* * * * * *", Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			mu.Lock()
			ran[node] = append(ran[node], time.Now())
			mu.Unlock()
			return 1, nil
		}})
		return s
	}
	a := mk(dbA, "A")
	a.Start()
	time.Sleep(1200 * time.Millisecond) // A leads first
	b := mk(dbB, "B")
	b.Start()
	time.Sleep(3 * time.Second)

	mu.Lock()
	nA, nB := len(ran["A"]), len(ran["B"])
	mu.Unlock()
	if nA < 3 || nB != 0 {
		t.Fatalf("while A leads: A ran %d, B ran %d", nA, nB)
	}
	// The leader dies: its database handle is closed under it.
	closedAt := time.Now()
	dbA.Close()
	waitFor(t, 10*time.Second, "B to take over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran["B"]) >= 3
	})
	mu.Lock()
	takeover := ran["B"][0].Sub(closedAt)
	mu.Unlock()
	b.Stop(ctx)
	a.Stop(ctx)

	var dup int
	if err := dbB.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT scheduled_at FROM job_runs WHERE job = 'tick' AND outcome <> 'skipped' GROUP BY scheduled_at HAVING COUNT(*) > 1) d`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if dup != 0 {
		t.Errorf("%d ticks ran more than once", dup)
	}
	rows, err := dbB.Query(ctx, `SELECT node, COUNT(*) FROM job_runs WHERE job = 'tick' GROUP BY node ORDER BY node`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var per []string
	for rows.Next() {
		var node string
		var n int
		rows.Scan(&node, &n)
		per = append(per, node+"="+strconv.Itoa(n))
	}
	t.Logf("runs before failover A=%d; B took over %s after A's database closed; job_runs per node %v", nA, takeover.Round(time.Millisecond), per)
}

func TestCommandAndAbandonedRuns(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	// A run left "running" by a process that died an hour ago.
	mustExec(t, db, `INSERT INTO job_runs (job, source, node, started_at, outcome) VALUES ('x', 'schedule', 'dead', ?, 'running')`, time.Now().UTC().Add(-time.Hour))
	s, _, _ := newScheduler(t, db, jobs.Options{})
	s.MustRegister(jobs.Job{Name: "x", Spec: "@daily", Timeout: time.Minute, Run: func(ctx context.Context, env jobs.Env) (int64, error) { return 5, nil }})
	var out bytes.Buffer
	s.Start()
	defer s.Stop(ctx)
	// Start closed the abandoned run …
	if rs := runs(t, db, "x"); rs[0].Outcome != jobs.Failed || !strings.Contains(rs[0].Error, "abandoned") {
		t.Errorf("abandoned run: %+v", rs[0])
	}
	if err := jobs.Command(ctx, s, []string{"run", "x"}, &out); err != nil || !strings.Contains(out.String(), "x: ok, 5 rows") {
		t.Errorf("run: %v %q", err, out.String())
	}
	// … while a run recorded running within its timeout (on another
	// replica) makes a manual run refuse.
	mustExec(t, db, `INSERT INTO job_runs (job, source, node, started_at, outcome) VALUES ('x', 'schedule', 'other', ?, 'running')`, time.Now().UTC().Add(-10*time.Second))
	if err := jobs.Command(ctx, s, []string{"run", "x"}, &out); !errors.Is(err, jobs.ErrBusy) {
		t.Fatalf("running elsewhere: %v", err)
	}
	out.Reset()
	if err := jobs.Command(ctx, s, []string{"list"}, &out); err != nil || !strings.Contains(out.String(), "@daily") {
		t.Errorf("list: %v %q", err, out.String())
	}
	if err := jobs.Command(ctx, s, []string{"frobnicate"}, &out); err == nil {
		t.Error("bad usage accepted")
	}
}

// The claim row is a fence of its own: even two schedulers that both think
// they lead (different lock names here) run each tick once.
func TestClaimFenceWithoutLock(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			var dbA, dbB *store.DB
			if dialect == "sqlite" {
				dbA = storetest.SQLite(t)
				var err error
				dbB, err = store.Open(ctx, store.Options{URL: "sqlite:" + dbA.Path})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { dbB.Close() })
			} else {
				url := storetest.PostgresURL(t)
				for _, p := range []**store.DB{&dbA, &dbB} {
					db, err := store.Open(ctx, store.Options{URL: url})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					*p = db
				}
				if _, err := dbA.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
			}
			var ran atomic.Int32
			mk := func(db *store.DB, node string) *jobs.Scheduler {
				s, _, _ := newScheduler(t, db, jobs.Options{Node: node}) // own lock name each
				s.MustRegister(jobs.Job{Name: "fenced", Spec: "* * * * * *", Run: func(ctx context.Context, env jobs.Env) (int64, error) {
					ran.Add(1)
					return 0, nil
				}})
				s.Start()
				return s
			}
			a, b := mk(dbA, "A"), mk(dbB, "B")
			time.Sleep(3500 * time.Millisecond)
			a.Stop(ctx)
			b.Stop(ctx)
			var ticks, dup int
			dbA.QueryRow(ctx, `SELECT COUNT(DISTINCT scheduled_at) FROM job_runs WHERE job = 'fenced'`).Scan(&ticks)
			dbA.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT scheduled_at FROM job_runs WHERE job = 'fenced' GROUP BY scheduled_at HAVING COUNT(*) > 1) d`).Scan(&dup)
			if ticks < 3 || dup != 0 || int(ran.Load()) != ticks {
				t.Errorf("%d ticks, %d claimed twice, body ran %d times", ticks, dup, ran.Load())
			}
		})
	}
}

func TestTwoSchedulersShareARegistry(t *testing.T) {
	db := storetest.SQLite(t)
	reg := prometheus.NewRegistry()
	for i := 0; i < 2; i++ {
		s, err := jobs.New(db, jobs.Options{Registerer: reg, LockName: lockName()})
		if err != nil {
			t.Fatal(err)
		}
		s.MustRegister(jobs.Job{Name: "j", Run: func(context.Context, jobs.Env) (int64, error) { return 1, nil }})
		if _, err := s.RunOnce(context.Background(), "j"); err != nil {
			t.Fatal(err)
		}
	}
	if v := metric(t, reg, "lindungi_job_runs_total", map[string]string{"job": "j", "outcome": "ok"}); v != 2 {
		t.Errorf("shared metric %v", v)
	}
}

// A renamed job keeps the config and the command line written for its old
// name: a schedule under the old name applies (and is not reported as a
// typo), and `jobs run OLD` runs it.
func TestRenamedJobAnswersToItsFormerName(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	s, _, _ := newScheduler(t, db, jobs.Options{Schedule: map[string]string{"old-name": "off"}})
	runs := 0
	s.MustRegister(jobs.Job{Name: "new-name", Formerly: []string{"old-name"}, Spec: "@hourly",
		Run: func(context.Context, jobs.Env) (int64, error) { runs++; return 1, nil }})
	if got := s.UnknownSchedules(); len(got) != 0 {
		t.Errorf("the former name reported as unknown: %v", got)
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != 1 {
		t.Fatalf("list: %v %v", infos, err)
	}
	if infos[0].Name != "new-name" || infos[0].Spec != "" {
		t.Errorf("listed %q with spec %q, want new-name switched off by the old name's schedule", infos[0].Name, infos[0].Spec)
	}
	if r, err := s.RunOnce(ctx, "old-name"); err != nil || r.Rows != 1 || runs != 1 {
		t.Errorf("run by the former name: %+v %v (ran %d times)", r, err, runs)
	}
}

// Launch (the console's "run now") returns while the run goes on, refuses
// a second start while it runs, outlives the context of the request that
// asked for it, and is waited for by Stop.
func TestLaunchRunsOnceInBackground(t *testing.T) {
	db := storetest.SQLite(t)
	s, _, _ := newScheduler(t, db, jobs.Options{})
	release := make(chan struct{})
	var calls atomic.Int32
	s.MustRegister(jobs.Job{Name: "slow", Timeout: time.Minute, Run: func(ctx context.Context, env jobs.Env) (int64, error) {
		calls.Add(1)
		select {
		case <-release:
			return 7, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}})
	r, err := s.Launch("slow")
	if err != nil || r.ID == 0 || r.Outcome != jobs.Running {
		t.Fatalf("launch: %+v %v", r, err)
	}
	if rs := runs(t, db, "slow"); len(rs) != 1 || rs[0].Outcome != jobs.Running {
		t.Fatalf("while running, job_runs holds %+v", rs)
	}
	for range 3 {
		if _, err := s.Launch("slow"); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("second launch while running: %v, want ErrBusy", err)
		}
	}
	if _, err := s.RunOnce(context.Background(), "slow"); !errors.Is(err, jobs.ErrBusy) {
		t.Fatalf("RunOnce while launched: %v, want ErrBusy", err)
	}
	if _, err := s.Launch("nope"); !errors.Is(err, jobs.ErrUnknownJob) {
		t.Fatalf("unknown job: %v", err)
	}
	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard, not a measurement
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	rs := runs(t, db, "slow")
	if len(rs) != 1 || rs[0].Outcome != jobs.OK || rs[0].Rows != 7 || rs[0].Source != "manual" || calls.Load() != 1 {
		t.Fatalf("after the run: %+v, %d calls", rs, calls.Load())
	}
	if _, err := s.Launch("slow"); err == nil {
		t.Error("launch after Stop accepted")
	}
}

// Two replicas asked to "run now" at the same moment start the job once:
// the check for a running row and the insert of one are not atomic, so one
// running row per job is an index, and the loser records a skip. A running
// row left by a dead process (older than the job's timeout) does not block
// the next run.
func TestLaunchOnceAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		release := make(chan struct{})
		var calls atomic.Int32
		job := jobs.Job{Name: "slow", Timeout: time.Minute, Run: func(ctx context.Context, env jobs.Env) (int64, error) {
			calls.Add(1)
			select {
			case <-release:
				return 1, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}}
		var reps []*jobs.Scheduler
		for range 4 {
			s, _, _ := newScheduler(t, db, jobs.Options{})
			s.MustRegister(job)
			reps = append(reps, s)
		}
		var wg sync.WaitGroup
		var started, busy atomic.Int32
		for _, s := range reps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch _, err := s.Launch("slow"); {
				case err == nil:
					started.Add(1)
				case errors.Is(err, jobs.ErrBusy):
					busy.Add(1)
				default:
					t.Errorf("launch: %v", err)
				}
			}()
		}
		wg.Wait()
		if started.Load() != 1 || busy.Load() != 3 {
			t.Errorf("%d replicas started the job, %d were told it is busy; want 1 and 3", started.Load(), busy.Load())
		}
		close(release)
		for _, s := range reps {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard
			if err := s.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
			cancel()
		}
		if calls.Load() != 1 {
			t.Errorf("the job ran %d times", calls.Load())
		}

		// A dead process's running row, older than the timeout and grace.
		old := time.Now().UTC().Add(-2 * time.Hour)
		if _, err := db.Exec(context.Background(), `INSERT INTO job_runs (job, source, node, started_at, outcome) VALUES ('quick', 'manual', 'dead', ?, 'running')`, old); err != nil {
			t.Fatal(err)
		}
		s, _, _ := newScheduler(t, db, jobs.Options{})
		s.MustRegister(jobs.Job{Name: "quick", Timeout: time.Minute, Run: func(ctx context.Context, env jobs.Env) (int64, error) { return 2, nil }})
		if r, err := s.RunOnce(context.Background(), "quick"); err != nil || r.Rows != 2 {
			t.Errorf("run after a dead process's row: %+v %v", r, err)
		}
	})
}
