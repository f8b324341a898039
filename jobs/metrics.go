package jobs

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rows        *prometheus.CounterVec
	running     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	lastFailed  *prometheus.GaugeVec
	leader      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_job_runs_total",
			Help: "Job runs by outcome (ok, failed, skipped)."}, []string{"job", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_job_failures_total",
			Help: "Failed job runs by reason (error, timeout, panic)."}, []string{"job", "reason"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_job_alerts_total",
			Help: "Alerts raised by jobs: failed runs, sla_breached tickets, dsr_overdue requests, whatsapp_logged_out."}, []string{"job", "alert"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lindungi_job_duration_seconds",
			Help: "Job run duration.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"job"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_job_rows_total",
			Help: "Rows changed by job runs."}, []string{"job"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lindungi_job_running",
			Help: "1 while the job runs on this replica."}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lindungi_job_last_success_timestamp_seconds",
			Help: "Unix time of the job's last successful run on this replica."}, []string{"job"}),
		lastFailed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lindungi_job_last_run_failed",
			Help: "1 when the job's last run on this replica failed (alert on it)."}, []string{"job"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lindungi_jobs_leader",
			Help: "1 when this replica holds the scheduler lock."}),
	}
	if reg == nil {
		return m, nil
	}
	// A second scheduler on the same registry (tests, a CLI run inside a
	// serving process) shares the first one's series.
	var err error
	m.runs, err = register(reg, m.runs)
	if err == nil {
		m.failures, err = register(reg, m.failures)
	}
	if err == nil {
		m.alerts, err = register(reg, m.alerts)
	}
	if err == nil {
		m.duration, err = register(reg, m.duration)
	}
	if err == nil {
		m.rows, err = register(reg, m.rows)
	}
	if err == nil {
		m.running, err = register(reg, m.running)
	}
	if err == nil {
		m.lastSuccess, err = register(reg, m.lastSuccess)
	}
	if err == nil {
		m.lastFailed, err = register(reg, m.lastFailed)
	}
	if err == nil {
		m.leader, err = register(reg, m.leader)
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: metrics: %w", err)
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// init makes a job's series exist at zero so rate() and alerts work from the
// first scrape.
func (m *metrics) init(job string) {
	for _, o := range []string{OK, Failed, Skipped} {
		m.runs.WithLabelValues(job, o)
	}
	m.alerts.WithLabelValues(job, "failed")
	m.running.WithLabelValues(job).Set(0)
	m.lastFailed.WithLabelValues(job).Set(0)
	m.rows.WithLabelValues(job)
}
