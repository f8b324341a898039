package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Run is one row of job_runs.
type Run struct {
	ID          int64      `json:"id"`
	Job         string     `json:"job"`
	Source      string     `json:"source"` // schedule | manual
	ScheduledAt *time.Time `json:"scheduledAt,omitempty"`
	Node        string     `json:"node"`
	StartedAt   time.Time  `json:"startedAt"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
	Outcome     string     `json:"outcome"`
	Rows        int64      `json:"rows"`
	Error       string     `json:"error,omitempty"`
}

// Duration of a finished run (0 while running).
func (r Run) Duration() time.Duration {
	if r.FinishedAt == nil {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// Info describes a registered job for `lindungi jobs list`.
type Info struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Spec        string        `json:"spec"` // "" = manual only
	Timeout     time.Duration `json:"timeout"`
	Next        *time.Time    `json:"next,omitempty"`
	Last        *Run          `json:"last,omitempty"`
}

// List describes every registered job, in name order, with its next
// scheduled time (in the scheduler's time zone) and its last recorded run
// on any replica.
func (s *Scheduler) List(ctx context.Context) ([]Info, error) {
	now := time.Now().In(s.opt.Location)
	var out []Info
	for _, e := range s.sorted() {
		in := Info{Name: e.job.Name, Description: e.job.Description, Spec: e.spec, Timeout: e.job.Timeout}
		if e.sched != nil {
			n := e.sched.Next(now)
			in.Next = &n
		}
		runs, err := s.History(ctx, e.job.Name, 1)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			in.Last = &runs[0]
		}
		out = append(out, in)
	}
	return out, nil
}

// History returns a job's most recent runs, newest first.
func (s *Scheduler) History(ctx context.Context, job string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 20
	}
	rows, err := s.db.Query(ctx, `SELECT id, job, source, scheduled_at, node, started_at, finished_at, outcome, rows_affected, error
		FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?`, job, limit)
	if err != nil {
		return nil, fmt.Errorf("jobs: history: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var sch, fin sql.NullTime
		if err := rows.Scan(&r.ID, &r.Job, &r.Source, &sch, &r.Node, &r.StartedAt, &fin, &r.Outcome, &r.Rows, &r.Error); err != nil {
			return nil, fmt.Errorf("jobs: history: %w", err)
		}
		r.StartedAt = r.StartedAt.UTC()
		if sch.Valid {
			t := sch.Time.UTC()
			r.ScheduledAt = &t
		}
		if fin.Valid {
			t := fin.Time.UTC()
			r.FinishedAt = &t
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// WriteList prints the table behind `lindungi jobs list`. Times are shown
// in loc (nil: Asia/Jakarta).
func WriteList(w io.Writer, infos []Info, loc *time.Location) error {
	if loc == nil {
		loc = jakarta
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tSCHEDULE\tNEXT (%s)\tLAST RUN\tOUTCOME\tROWS\tDURATION\tDESCRIPTION\n", loc)
	for _, in := range infos {
		spec, next := in.Spec, "-"
		if spec == "" {
			spec = "manual"
		}
		if in.Next != nil {
			next = in.Next.In(loc).Format("2006-01-02 15:04:05")
		}
		last, outcome, rows, dur := "never", "-", "-", "-"
		if in.Last != nil {
			last = in.Last.StartedAt.In(loc).Format("2006-01-02 15:04:05")
			outcome = in.Last.Outcome
			if in.Last.Error != "" {
				outcome += ": " + oneLine(in.Last.Error, 60)
			}
			rows = fmt.Sprint(in.Last.Rows)
			if in.Last.FinishedAt != nil {
				dur = in.Last.Duration().Round(time.Millisecond).String()
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, spec, next, last, outcome, rows, dur, in.Description)
	}
	return tw.Flush()
}

// WriteRun prints the result of `lindungi jobs run NAME`.
func WriteRun(w io.Writer, r Run) error {
	_, err := fmt.Fprintf(w, "%s: %s, %d rows in %s (run #%d on %s)\n", r.Job, r.Outcome, r.Rows, r.Duration().Round(time.Millisecond), r.ID, r.Node)
	if err == nil && r.Error != "" {
		_, err = fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	return err
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// Command runs `lindungi jobs list` (args ["list"]) and `lindungi jobs run
// NAME` (args ["run", NAME]) against a scheduler that has its jobs
// registered but is not started, writing human output to w. A failed run
// prints its record and returns the error (exit status 1).
func Command(ctx context.Context, s *Scheduler, args []string, w io.Writer) error {
	switch {
	case len(args) == 0 || (len(args) == 1 && args[0] == "list"):
		infos, err := s.List(ctx)
		if err != nil {
			return err
		}
		return WriteList(w, infos, s.opt.Location)
	case len(args) == 2 && args[0] == "run":
		r, err := s.RunOnce(ctx, args[1])
		if r.ID != 0 {
			if werr := WriteRun(w, r); werr != nil && err == nil {
				err = werr
			}
		}
		return err
	default:
		return fmt.Errorf("usage: lindungi jobs list | lindungi jobs run NAME")
	}
}
