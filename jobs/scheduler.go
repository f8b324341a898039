// Package jobs owns scheduled work: a registry of named jobs, a
// robfig/cron/v3 scheduler (seconds optional, Asia/Jakarta by default), run
// history in job_runs, Prometheus metrics, single-leader execution across
// replicas, and the bodies of the housekeeping jobs that no other package
// owns (ticket retention, SLA escalation, outbox cleanup, WhatsApp health,
// data-subject request deadlines, audit retention). Every job can also run
// once from the CLI through the same code path (RunOnce).
//
// Single leader: the scheduler runs on every replica, but at each tick it
// first takes (or confirms it still holds) the store.Leader lock "cron" — a
// PostgreSQL session advisory lock on a dedicated connection that stays held
// between ticks. Only the holder runs jobs. When the holder dies its
// connection closes, the lock is free, and the first replica whose scheduler
// ticks next takes it and runs that tick; there is no polling gap. As a
// fence against two replicas both believing they lead (a stalled leader
// whose connection has not yet been noticed dead), a scheduled run is
// claimed by inserting its job_runs row keyed UNIQUE (job, scheduled_at):
// a tick runs at most once, whatever the lock does. On SQLite the process is
// the leader.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"lindungi/audit"
	"lindungi/store"
)

// Func is a job body. It returns how many rows it changed. It must honour
// ctx (the per-job timeout and shutdown cancel it).
type Func func(ctx context.Context, env Env) (rows int64, err error)

// Job is one named, schedulable unit of work.
type Job struct {
	// Name is the CLI name: `lindungi jobs run NAME`.
	Name        string
	Description string
	// Spec is the default cron spec ("0 */15 * * * *", "@hourly"; seconds
	// optional; CRON_TZ= prefix allowed). Config overrides it by name; ""
	// or "off" means manual runs only.
	Spec string
	// Timeout bounds one run (default Options.DefaultTimeout).
	Timeout time.Duration
	Run     Func
	// Formerly lists names the job had before it was renamed: config
	// (jobs.schedule) and `lindungi jobs run` written for them keep working.
	Formerly []string
}

// Env is what a job body gets besides its context.
type Env struct {
	Job string
	// Now is the scheduler's clock at the start of the run: retention
	// cut-offs are computed from it so tests can fix time.
	Now time.Time
	Log *slog.Logger

	alert func(kind string, n int)
}

// Alert counts n occurrences of an alert kind for this job in the metric
// lindungi_job_alerts_total{job,alert}. The job logs the warning itself
// (with IDs, never personal data).
func (e Env) Alert(kind string, n int) {
	if e.alert != nil && n > 0 {
		e.alert(kind, n)
	}
}

// Outcomes recorded in job_runs.outcome and the outcome metric label.
const (
	Running = "running"
	OK      = "ok"
	Failed  = "failed"
	Skipped = "skipped"
)

// Options configure a Scheduler.
type Options struct {
	// Location of cron specs (default Asia/Jakarta).
	Location *time.Location
	// Schedule overrides job specs by name (config jobs.schedule).
	Schedule map[string]string
	// LockName is the leader lock (default "cron"). One database, one name.
	LockName string
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Now is the clock handed to job bodies (default store.Now).
	Now func() time.Time
	// Node names this replica in job_runs (default hostname).
	Node string
	// DefaultTimeout applies to jobs without one (default 10 minutes).
	DefaultTimeout time.Duration
	// Grace is how long a timed-out or cancelled body gets to return before
	// the run is recorded anyway (default 2 s).
	Grace time.Duration
}

// Scheduler runs registered jobs on their cron specs.
type Scheduler struct {
	db     *store.DB
	opt    Options
	log    *slog.Logger
	leader *store.Leader
	cron   *cron.Cron
	parser cron.Parser
	m      *metrics

	mu       sync.Mutex
	entries  map[string]*entry
	formerly map[string]string // former name → name
	started  bool
	stopped  bool

	base     context.Context
	cancel   context.CancelFunc
	inflight sync.WaitGroup
}

type entry struct {
	job     Job
	spec    string
	sched   cron.Schedule // nil: manual only
	id      cron.EntryID
	running atomic.Bool
}

var jakarta = func() *time.Location {
	l, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		return time.FixedZone("WIB", 7*3600)
	}
	return l
}()

// New makes a scheduler; register jobs, then Start (or Run).
func New(db *store.DB, opt Options) (*Scheduler, error) {
	if opt.Location == nil {
		opt.Location = jakarta
	}
	if opt.LockName == "" {
		opt.LockName = "cron"
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = store.Now
	}
	if opt.Node == "" {
		opt.Node, _ = os.Hostname()
	}
	if opt.DefaultTimeout <= 0 {
		opt.DefaultTimeout = 10 * time.Minute
	}
	if opt.Grace <= 0 {
		opt.Grace = 2 * time.Second
	}
	m, err := newMetrics(opt.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{
		db: db, opt: opt, log: opt.Log.With("component", "jobs"), m: m,
		leader:  db.NewLeader(opt.LockName),
		parser:  cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor),
		entries: map[string]*entry{},
	}
	s.cron = cron.New(cron.WithLocation(opt.Location), cron.WithParser(s.parser), cron.WithLogger(cron.DiscardLogger))
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Register adds a job; its spec is Options.Schedule[name] when set, else
// job.Spec. It must be called before Start.
func (s *Scheduler) Register(j Job) error {
	if j.Name == "" || j.Run == nil {
		return fmt.Errorf("jobs: a job needs a name and a body")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("jobs: register %s after start", j.Name)
	}
	if _, dup := s.entries[j.Name]; dup {
		return fmt.Errorf("jobs: %s registered twice", j.Name)
	}
	if j.Timeout <= 0 {
		j.Timeout = s.opt.DefaultTimeout
	}
	e := &entry{job: j, spec: strings.TrimSpace(j.Spec)}
	for _, old := range j.Formerly {
		if s.formerly == nil {
			s.formerly = map[string]string{}
		}
		s.formerly[old] = j.Name
		if o, ok := s.opt.Schedule[old]; ok {
			e.spec = strings.TrimSpace(o)
		}
	}
	if o, ok := s.opt.Schedule[j.Name]; ok {
		e.spec = strings.TrimSpace(o)
	}
	if e.spec == "off" || e.spec == "-" {
		e.spec = ""
	}
	if e.spec != "" {
		sched, err := s.parser.Parse(e.spec)
		if err != nil {
			return fmt.Errorf("jobs: schedule of %s %q: %w (e.g. \"0 0 3 * * *\" or \"@hourly\")", j.Name, e.spec, err)
		}
		e.sched = sched
	}
	s.entries[j.Name] = e
	s.m.init(j.Name)
	return nil
}

// current is the name of the job once called name (s.mu held).
func (s *Scheduler) current(name string) string {
	if n, ok := s.formerly[name]; ok {
		return n
	}
	return name
}

// MustRegister is Register for wiring code with known-good jobs.
func (s *Scheduler) MustRegister(jobs ...Job) {
	for _, j := range jobs {
		if err := s.Register(j); err != nil {
			panic(err)
		}
	}
}

// UnknownSchedules lists names in Options.Schedule that no registered job
// has — a typo in config that would otherwise silently do nothing.
func (s *Scheduler) UnknownSchedules() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.opt.Schedule {
		if _, ok := s.entries[s.current(name)]; !ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Start begins ticking. It returns at once.
func (s *Scheduler) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("jobs: already started")
	}
	s.started = true
	s.closeAbandoned()
	for _, e := range s.entries {
		if e.sched == nil {
			continue
		}
		e := e
		e.id = s.cron.Schedule(e.sched, cron.FuncJob(func() { s.tick(e) }))
	}
	s.cron.Start()
	s.log.Info("scheduler started", "jobs", len(s.entries), "timezone", s.opt.Location.String(), "node", s.opt.Node)
	return nil
}

// Run starts the scheduler and stops it when ctx ends, giving running jobs
// up to stopTimeout to finish.
func (s *Scheduler) Run(ctx context.Context, stopTimeout time.Duration) error {
	if err := s.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return s.Stop(sctx)
}

// Stop stops ticking and waits for running jobs until ctx ends; then it
// cancels them, waits Grace for them to record their failure, and returns
// an error. The leader lock is released so another replica takes over at
// once.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	// No new ticks. cron's own context would wait for every tick without a
	// deadline; s.inflight (ticks and RunOnce) is what we wait for instead.
	s.cron.Stop()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		var names []string
		for _, e := range s.sorted() {
			if e.running.Load() {
				names = append(names, e.job.Name)
			}
		}
		err = fmt.Errorf("jobs: stop deadline passed; cancelled running job(s) %s", strings.Join(names, ", "))
		s.log.Warn("stop deadline passed, cancelling running jobs", "jobs", names)
		s.cancel()
		select {
		case <-done:
		case <-time.After(s.opt.Grace):
		}
	}
	s.cancel()
	s.leader.Release(context.Background())
	s.m.leader.Set(0)
	return err
}

func (s *Scheduler) sorted() []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].job.Name < out[j].job.Name })
	return out
}

// tick is one cron firing on this replica.
func (s *Scheduler) tick(e *entry) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()

	// The tick's own time (identical on every replica for cron specs) keys
	// the claim. Entry() is answered by cron's loop after it has set Prev.
	scheduled := s.cron.Entry(e.id).Prev
	if scheduled.IsZero() {
		scheduled = time.Now()
	}
	scheduled = scheduled.UTC().Truncate(time.Second)

	lctx, cancel := context.WithTimeout(s.base, 10*time.Second)
	ok, err := s.leader.TryAcquire(lctx)
	cancel()
	if err != nil || !ok {
		s.m.leader.Set(0)
		if err != nil {
			s.log.Warn("leader lock unavailable, tick not run here", "job", e.job.Name, "err", err)
		}
		return
	}
	s.m.leader.Set(1)
	if !e.running.Load() {
		// A manual run from the CLI (another process) also counts as the
		// previous run still going.
		if busy, err := s.busyElsewhere(s.base, e); err == nil && busy {
			s.m.runs.WithLabelValues(e.job.Name, Skipped).Inc()
			s.log.Warn("job running in another process, tick skipped", "job", e.job.Name)
			return
		}
	}
	s.execute(s.base, e, "schedule", &scheduled, nil)
}

// busyElsewhere reports whether job_runs shows the job running, started
// within its timeout (older "running" rows are abandoned).
func (s *Scheduler) busyElsewhere(ctx context.Context, e *entry) (bool, error) {
	var n int
	since := time.Now().UTC().Add(-e.job.Timeout)
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM job_runs WHERE job = ? AND outcome = 'running' AND started_at > ?`, e.job.Name, since).Scan(&n); err != nil {
		return false, fmt.Errorf("jobs: %s: %w", e.job.Name, err)
	}
	return n > 0, nil
}

// ErrUnknownJob is returned by RunOnce for a name nobody registered.
var ErrUnknownJob = errors.New("jobs: unknown job")

// ErrBusy means the job is already running (here, or on another replica per
// job_runs).
var ErrBusy = errors.New("jobs: job is already running")

// RunOnce runs a job now through the same path as a scheduled run (timeout,
// panic recovery, history, metrics) and returns its record. It does not
// need the leader lock — an operator asked for it — but refuses when the job
// is running in this process or a job_runs row shows it running elsewhere
// within its timeout.
func (s *Scheduler) RunOnce(ctx context.Context, name string) (Run, error) {
	s.mu.Lock()
	e, ok := s.entries[s.current(name)]
	s.mu.Unlock()
	if !ok {
		return Run{}, fmt.Errorf("%w %q (try `lindungi jobs list`)", ErrUnknownJob, name)
	}
	if busy, err := s.busyElsewhere(ctx, e); err != nil {
		return Run{}, err
	} else if busy {
		return Run{}, fmt.Errorf("%w: %s", ErrBusy, name)
	}
	s.inflight.Add(1)
	defer s.inflight.Done()
	r := s.execute(ctx, e, "manual", nil, nil)
	if r.Outcome == Skipped {
		return r, fmt.Errorf("%w: %s", ErrBusy, name)
	}
	if r.Outcome != OK {
		return r, fmt.Errorf("jobs: %s %s: %s", name, r.Outcome, r.Error)
	}
	return r, nil
}

// Launch starts a manual run of a job (the console's "run now") and
// returns once its job_runs row exists, with the run still going; it ends
// with the scheduler (Stop waits for it, then cancels it) rather than with
// the caller's request. Like RunOnce it refuses a job that is running here
// or elsewhere (ErrBusy): a job is never started twice.
func (s *Scheduler) Launch(name string) (Run, error) {
	s.mu.Lock()
	e, ok := s.entries[s.current(name)]
	stopped := s.stopped
	if ok && !stopped {
		s.inflight.Add(1)
	}
	s.mu.Unlock()
	if !ok {
		return Run{}, fmt.Errorf("%w %q", ErrUnknownJob, name)
	}
	if stopped {
		return Run{}, fmt.Errorf("jobs: %s: the scheduler is stopping", name)
	}
	if busy, err := s.busyElsewhere(s.base, e); err != nil || busy || e.running.Load() {
		s.inflight.Done()
		if err != nil {
			return Run{}, err
		}
		return Run{}, fmt.Errorf("%w: %s", ErrBusy, name)
	}
	started := make(chan Run, 1)
	go func() {
		defer s.inflight.Done()
		s.execute(s.base, e, "manual", nil, func(r Run) { started <- r })
	}()
	r := <-started
	switch r.Outcome {
	case Skipped:
		return r, fmt.Errorf("%w: %s", ErrBusy, name)
	case Failed:
		return r, fmt.Errorf("jobs: %s %s: %s", name, r.Outcome, r.Error)
	}
	return r, nil
}

type result struct {
	rows int64
	err  error
	pan  bool
}

// execute runs e once under parent and records it. scheduled is nil for
// manual runs. started (optional) hears of the run once, as soon as its
// row says it is running, or with its outcome when it never got that far.
func (s *Scheduler) execute(parent context.Context, e *entry, source string, scheduled *time.Time, started func(Run)) Run {
	name := e.job.Name
	log := s.log.With("job", name, "source", source)
	r := Run{Job: name, Source: source, ScheduledAt: scheduled, Node: s.opt.Node, StartedAt: store.Now()}
	notify := func() {
		if started != nil {
			started(r)
			started = nil
		}
	}
	defer func() { notify() }()

	if !e.running.CompareAndSwap(false, true) {
		// Overlap: the previous run is still going. Skip, never stack.
		r.Outcome, r.Error = Skipped, "previous run still running"
		fin := r.StartedAt
		r.FinishedAt = &fin
		if err := s.insertRun(&r); err != nil && !store.IsUniqueViolation(err) {
			log.Error("cannot record skipped run", "err", err)
		}
		s.m.runs.WithLabelValues(name, Skipped).Inc()
		log.Warn("job still running, tick skipped")
		return r
	}
	released := false
	defer func() {
		if !released {
			e.running.Store(false)
		}
	}()

	r.Outcome = Running
	err := s.insertRun(&r)
	if store.IsUniqueViolation(err) && s.closeStale(e) {
		// The running row in the way was a dead process's.
		err = s.insertRun(&r)
	}
	if err != nil {
		// Another replica claimed this tick (UNIQUE job, scheduled_at) or
		// the job is running somewhere (one running row per job).
		if store.IsUniqueViolation(err) {
			log.Debug("tick already claimed by another replica")
			r.Outcome = Skipped
			return r
		}
		// We cannot even write history: the database is gone or broken.
		// Give the lock up so a healthy replica takes the next tick.
		log.Error("cannot claim run, releasing leadership", "err", err)
		s.leader.Release(context.Background())
		s.m.leader.Set(0)
		r.Outcome, r.Error = Failed, "cannot record run: "+err.Error()
		s.m.runs.WithLabelValues(name, Failed).Inc()
		s.m.failures.WithLabelValues(name, "error").Inc()
		return r
	}
	s.m.running.WithLabelValues(name).Set(1)
	notify()
	ctx, cancel := context.WithTimeout(parent, e.job.Timeout)
	defer cancel()
	env := Env{Job: name, Now: s.opt.Now().UTC(), Log: log,
		alert: func(kind string, n int) { s.m.alerts.WithLabelValues(name, kind).Add(float64(n)) }}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("job panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- result{err: fmt.Errorf("panic: %v", p), pan: true}
			}
		}()
		rows, err := e.job.Run(ctx, env)
		done <- result{rows: rows, err: err}
	}()

	var res result
	reason := ""
	select {
	case res = <-done:
	case <-ctx.Done():
		select {
		case res = <-done:
		case <-time.After(s.opt.Grace):
			// The body ignores its context. Record the failure now; keep the
			// job marked running until the body really returns so the next
			// tick is skipped instead of stacked.
			res = result{err: ctx.Err()}
			released = true
			go func() {
				<-done
				e.running.Store(false)
				s.m.running.WithLabelValues(name).Set(0)
			}()
		}
	}
	switch {
	case res.pan:
		reason = "panic"
	case res.err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && (parent.Err() == nil):
		reason = "timeout"
		res.err = fmt.Errorf("timed out after %s: %w", e.job.Timeout, res.err)
	case res.err != nil:
		reason = "error"
	}
	fin := store.Now()
	r.FinishedAt, r.Rows = &fin, res.rows
	if res.err != nil {
		// Errors can quote values (a driver echoing a row); keep personal
		// data out of job_runs and the log.
		r.Outcome, r.Error = Failed, audit.Redact(res.err.Error())
	} else {
		r.Outcome = OK
	}
	if err := s.finishRun(r); err != nil {
		log.Error("cannot record run outcome", "err", err)
	}
	if !released {
		s.m.running.WithLabelValues(name).Set(0)
	}
	dur := fin.Sub(r.StartedAt)
	s.m.runs.WithLabelValues(name, r.Outcome).Inc()
	s.m.duration.WithLabelValues(name).Observe(dur.Seconds())
	s.m.rows.WithLabelValues(name).Add(float64(r.Rows))
	if r.Outcome == OK {
		s.m.lastSuccess.WithLabelValues(name).Set(float64(fin.Unix()))
		s.m.lastFailed.WithLabelValues(name).Set(0)
		// A run that changed nothing (the minutely health check, an empty
		// purge) is history in job_runs and metrics, not log noise.
		level := slog.LevelInfo
		if r.Rows == 0 {
			level = slog.LevelDebug
		}
		log.Log(context.Background(), level, "job done", "rows", r.Rows, "duration", dur.Round(time.Millisecond))
	} else {
		s.m.lastFailed.WithLabelValues(name).Set(1)
		s.m.failures.WithLabelValues(name, reason).Inc()
		s.m.alerts.WithLabelValues(name, "failed").Inc()
		log.Error("job failed", "reason", reason, "err", r.Error, "rows", r.Rows, "duration", dur.Round(time.Millisecond))
	}
	return r
}

func (s *Scheduler) insertRun(r *Run) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var sch any
	if r.ScheduledAt != nil {
		sch = *r.ScheduledAt
	}
	var fin any
	if r.FinishedAt != nil {
		fin = *r.FinishedAt
	}
	return s.db.QueryRow(ctx, `INSERT INTO job_runs (job, source, scheduled_at, node, started_at, finished_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		r.Job, r.Source, sch, r.Node, r.StartedAt, fin, r.Outcome, r.Error).Scan(&r.ID)
}

func (s *Scheduler) finishRun(r Run) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := s.db.Exec(ctx, `UPDATE job_runs SET finished_at = ?, outcome = ?, rows_affected = ?, error = ? WHERE id = ?`,
		*r.FinishedAt, r.Outcome, r.Rows, truncate(r.Error, 2000), r.ID)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// closeStale closes e's running row when it is older than the job's
// timeout and grace (its process died), and reports whether it did.
func (s *Scheduler) closeStale(e *entry) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	now := store.Now()
	res, err := s.db.Exec(ctx, `UPDATE job_runs SET outcome = 'failed', finished_at = ?, error = 'abandoned: the process running it stopped before it finished'
		WHERE job = ? AND outcome = 'running' AND started_at < ?`, now, e.job.Name, now.Add(-e.job.Timeout-s.opt.Grace))
	if err != nil {
		s.log.Warn("cannot close an abandoned run", "job", e.job.Name, "err", err)
		return false
	}
	n, _ := res.RowsAffected()
	return n > 0
}

// closeAbandoned marks runs left "running" by a process that died (no
// finish was recorded and their timeout has long passed) as failed, so
// history and RunOnce's busy check do not trust them forever.
func (s *Scheduler) closeAbandoned() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	now := store.Now()
	for _, e := range s.entries {
		res, err := s.db.Exec(ctx, `UPDATE job_runs SET outcome = 'failed', finished_at = ?, error = 'abandoned: the process running it stopped before it finished'
			WHERE job = ? AND outcome = 'running' AND started_at < ?`, now, e.job.Name, now.Add(-e.job.Timeout-s.opt.Grace))
		if err != nil {
			s.log.Warn("cannot close abandoned runs", "job", e.job.Name, "err", err)
			continue
		}
		if n, _ := res.RowsAffected(); n > 0 {
			s.log.Warn("runs abandoned by a stopped process marked failed", "job", e.job.Name, "runs", n)
		}
	}
}
