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
	// The server refusing after_import (a folder it will not create) does
	// not stop intake; these make it visible.
	actionFailuresDesc = prometheus.NewDesc("lindungi_email_post_import_failures_total",
		"After-import commands (\\Seen, MOVE and the CREATE of its folder) the server refused, since start.", []string{"mailbox", "folder", "action"}, nil)
	actionPendingDesc = prometheus.NewDesc("lindungi_email_post_import_pending",
		"Stored mail whose after-import action (flag or move) the server has refused so far and that waits for its retry.", mailboxLabels, nil)
	// Mail that cannot be sent because of our configuration stays queued
	// without spending attempts; these make the wait visible.
	sendConfigFailuresDesc = prometheus.NewDesc("lindungi_email_send_config_failures_total",
		"Sends refused for a configuration reason (cause: auth_rejected, auth_required, auth_mechanism, secret, no_smtp_url), since start.", []string{"mailbox", "cause"}, nil)
	sendStuckDesc = prometheus.NewDesc("lindungi_email_send_stuck_oldest_seconds",
		"How long the oldest message held back by a configuration failure of its sending mailbox has waited (0: none).", []string{"mailbox"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Channel) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backlogDesc, importedDesc, connectedDesc, lastPassDesc, actionFailuresDesc, actionPendingDesc, sendConfigFailuresDesc, sendStuckDesc} {
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
		if h := r.ActionHealth(); h.Action != "keep" {
			ch <- prometheus.MustNewConstMetric(actionFailuresDesc, prometheus.CounterValue, float64(h.Failures), r.box.Address, r.box.Folder, h.Action)
			ch <- prometheus.MustNewConstMetric(actionPendingDesc, prometheus.GaugeValue, float64(h.Pending), labels...)
		}
	}
	// Sending runs on every replica: no standby here.
	for _, h := range c.sends.health(c.now()) {
		for cause, n := range h.Failures {
			ch <- prometheus.MustNewConstMetric(sendConfigFailuresDesc, prometheus.CounterValue, float64(n), h.Mailbox, cause)
		}
		ch <- prometheus.MustNewConstMetric(sendStuckDesc, prometheus.GaugeValue, h.Oldest.Seconds(), h.Mailbox)
	}
}
