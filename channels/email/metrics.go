package email

import (
	"github.com/prometheus/client_golang/prometheus"

	"lindungi/channels"
)

// The mailbox metrics answer the operator's one question about e-mail
// intake: is each mailbox keeping up? A backlog that stays above zero, or
// a last completed pass that gets old, is the alert.
var (
	mailboxLabels = []string{"mailbox", "folder"}
	backlogDesc   = prometheus.NewDesc("lindungi_email_backlog",
		"Mail the current import pass found on the server and has not stored yet.", mailboxLabels, nil)
	importedDesc = prometheus.NewDesc("lindungi_email_imported_total",
		"Mail stored (or found already stored) since start.", mailboxLabels, nil)
	connectedDesc = prometheus.NewDesc("lindungi_email_connected",
		"1 while the mailbox's IMAP session is up, else 0.", mailboxLabels, nil)
	lastPassDesc = prometheus.NewDesc("lindungi_email_last_pass_timestamp_seconds",
		"When an import pass over the mailbox last completed (Unix time; 0: not yet).", mailboxLabels, nil)
)

// Describe implements prometheus.Collector.
func (c *Channel) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backlogDesc, importedDesc, connectedDesc, lastPassDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one series per mailbox this
// replica leads, read at scrape time from the runners (the mailbox address
// is the Ministry's own, not a citizen's). A replica in standby for a
// mailbox reports nothing for it, so alerts aggregate over replicas (max
// by mailbox) without standby replicas looking like a dead session.
func (c *Channel) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.runners {
		if r.State() == channels.StateStandby {
			continue
		}
		labels := []string{r.box.Address, r.box.Folder}
		backlog, last := r.Progress()
		up := 0.0
		if r.State() == channels.StateUp {
			up = 1
		}
		var lastUnix float64
		if !last.IsZero() {
			lastUnix = float64(last.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(backlog), labels...)
		ch <- prometheus.MustNewConstMetric(importedDesc, prometheus.CounterValue, float64(r.Imported()), labels...)
		ch <- prometheus.MustNewConstMetric(connectedDesc, prometheus.GaugeValue, up, labels...)
		ch <- prometheus.MustNewConstMetric(lastPassDesc, prometheus.GaugeValue, lastUnix, labels...)
	}
}
