package tracing

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the tracing counters /metrics shows. Labels are outcomes and
// reasons only: never anything about a person.
type metrics struct {
	uploads   *prometheus.CounterVec   // outcome: stored, replay, rejected, refused_<code>
	records   *prometheus.CounterVec   // reason: accepted or a rejection reason
	exposures prometheus.Counter       // contacts prompted
	duration  *prometheus.HistogramVec // step: upload, match
}

func newMetrics() *metrics {
	return &metrics{
		uploads:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_tracing_uploads_total", Help: "Encounter uploads by outcome."}, []string{"outcome"}),
		records:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_tracing_records_total", Help: "Uploaded encounter records: accepted, or rejected by reason."}, []string{"reason"}),
		exposures: prometheus.NewCounter(prometheus.CounterOpts{Name: "lindungi_tracing_prompts_total", Help: "Exposure prompts queued to contacts."}),
		duration:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lindungi_tracing_seconds", Help: "Time spent per upload step.", Buckets: prometheus.ExponentialBuckets(0.001, 3, 10)}, []string{"step"}),
	}
}

// RegisterMetrics adds the tracing counters to reg (once per Service).
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{s.m.uploads, s.m.records, s.m.exposures, s.m.duration} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
