package config_test

import (
	"maps"
	"testing"

	"lindungi/bot"
	"lindungi/certificate"
	"lindungi/channels"
	"lindungi/config"
	"lindungi/jobs"
	"lindungi/registry"
	"lindungi/tickets"
	"lindungi/tracing"
	"lindungi/tracing/score"
)

// Each package owns the defaults of its section; config.Default must carry
// the same values, or `lindungi config dump` and README would show one
// default while the package applies another.
func TestDefaultsAreThePackagesOwn(t *testing.T) {
	c := config.Default()
	ob := channels.DefaultOutboxConfig()
	bc := bot.DefaultConfig()
	tk := tickets.DefaultConfig()
	tr := tracing.DefaultConfig()
	jc := jobs.DefaultConfig()
	for _, d := range []struct {
		key       string
		got, want any
	}{
		{"outbox.max_attempts", c.Outbox.MaxAttempts, ob.MaxAttempts},
		{"outbox.base_backoff", c.Outbox.BaseBackoff.D(), ob.BaseBackoff},
		{"outbox.max_backoff", c.Outbox.MaxBackoff.D(), ob.MaxBackoff},
		{"outbox.batch_size", c.Outbox.BatchSize, ob.BatchSize},
		{"outbox.rate", maps.Equal(c.Outbox.Rate, ob.Rate), true},
		{"bot.state_ttl", c.Bot.StateTTL.D(), bc.StateTTL},
		{"bot.flood_limit", c.Bot.FloodLimit, bc.FloodLimit},
		{"bot.max_text_bytes", c.Bot.MaxTextBytes, bc.MaxTextBytes},
		{"email.ack_rate_per_hour", c.Email.AckRatePerHour, bc.AckRate},
		{"tickets.sla", c.Tickets.SLA.D(), tk.SLA},
		{"tickets.max_attachment_bytes", c.Tickets.MaxAttachmentSize, int64(tk.MaxAttachmentBytes)},
		{"tracing.channel", c.Tracing.Channel, tr.Channel},
		{"tracing.whatsapp_number", c.Tracing.WhatsAppNumber, tr.WhatsAppNumber},
		{"tracing.uploads_per_device_hour", c.Tracing.UploadsPerDeviceHour, tr.UploadsPerDevice},
		{"tracing.min_minutes", c.Tracing.MinMinutes, float64(score.DefaultMinMinutes)},
		{"tracing.near_db", c.Tracing.NearDB, float64(score.DefaultNearDB)},
		{"tracing.medium_db", c.Tracing.MediumDB, float64(score.DefaultMediumDB)},
		{"tracing.near_weight", c.Tracing.NearWeight, score.DefaultNearWeight},
		{"tracing.medium_weight", c.Tracing.MediumWeight, score.DefaultMediumWeight},
		{"certificate.validity", c.Certificate.Validity.D(), certificate.DefaultValidity},
		{"registry.timeout", c.Registry.Timeout.D(), registry.DefaultTimeout},
		{"registry.cache_ttl", c.Registry.CacheTTL.D(), registry.DefaultCacheTTL},
		{"jobs.ticket_retention", c.Jobs.TicketRetention.D(), jc.TicketRetention},
		{"jobs.outbox_retention", c.Jobs.OutboxRetention.D(), jc.OutboxRetention},
	} {
		if d.got != d.want {
			t.Errorf("%s: config.Default has %v, its package %v", d.key, d.got, d.want)
		}
	}
}
