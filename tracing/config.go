package tracing

import (
	"time"

	"lindungi/tracing/score"
)

// Config is everything Sijejak's server side can be told. Zero fields take
// the defaults in withDefaults; main maps config.Tracing onto it.
type Config struct {
	// Channel carries OTPs, consent requests and exposure prompts.
	Channel string // "whatsapp"
	// WhatsAppNumber receives "SIJEJAK <code>" (digits, no +).
	WhatsAppNumber string
	// Score: thresholds and weights for a close contact.
	Score score.Params
	// Issue: TempID batches.
	Issue IssueParams
	// Grace around a TempID's validity for clock skew between phones.
	Grace time.Duration

	CodeTTL        time.Duration // registration code lifetime (15 min)
	OTPTTL         time.Duration // 5 min
	OTPMaxAttempts int           // wrong guesses before an OTP is dead (5)
	// Rate limits per hour. The Register and Verify "per phone" limits
	// count per phone and client address: counted per phone alone, anyone
	// could spend a stranger's budget and keep them from registering. What
	// bounds guessing per phone is LiveCodesPerPhone and OTPMaxAttempts.
	RegisterPerPhone, RegisterPerIP int // 5, 30
	OTPPerPhone, OTPPerIP           int // 3, 30
	VerifyPerPhone, VerifyPerIP     int // 10, 120
	UploadsPerDevice                int // 6
	// LiveCodesPerPhone caps the registration codes a phone has waiting for
	// their WhatsApp message; a new code retires the oldest beyond it (5).
	LiveCodesPerPhone int

	ConsentTTL       time.Duration // an unanswered consent request lapses (72 h)
	UploadWindow     time.Duration // 24 h
	InfectiousBefore time.Duration // onset/specimen minus 2 days
	QuarantineDays   int           // after the exposure day (5)
	Location         *time.Location

	MaxRecords     int // per upload (50,000)
	MaxUploadBytes int // per upload, summed over fields (16 MiB)

	// RecordRetention: phones keep encounters 14 days; older records are
	// refused.
	RecordRetention time.Duration
	// Retention after a row's purpose ends (14 days); CodeRetention for
	// registration codes, OTPs and rate-limit counters (48 h).
	Retention     time.Duration
	CodeRetention time.Duration
	// KeyRotation: a new issuing key this often (24 h); KeyRetention caps how
	// long a retired key is kept (21 days).
	KeyRotation  time.Duration
	KeyRetention time.Duration
	// PurgeBatch bounds each DELETE (1000).
	PurgeBatch int

	Now func() time.Time
}

func (c Config) withDefaults() Config {
	d := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	i := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.Channel == "" {
		c.Channel = "whatsapp"
	}
	if c.WhatsAppNumber == "" {
		c.WhatsAppNumber = "6281110500567"
	}
	c.Issue = c.Issue.withDefaults()
	d(&c.Grace, 2*time.Minute)
	d(&c.CodeTTL, 15*time.Minute)
	d(&c.OTPTTL, 5*time.Minute)
	i(&c.OTPMaxAttempts, 5)
	i(&c.RegisterPerPhone, 5)
	i(&c.RegisterPerIP, 30)
	i(&c.OTPPerPhone, 3)
	i(&c.OTPPerIP, 30)
	i(&c.VerifyPerPhone, 10)
	i(&c.VerifyPerIP, 120)
	i(&c.LiveCodesPerPhone, 5)
	i(&c.UploadsPerDevice, 6)
	d(&c.ConsentTTL, 72*time.Hour)
	d(&c.UploadWindow, 24*time.Hour)
	d(&c.InfectiousBefore, 48*time.Hour)
	i(&c.QuarantineDays, 5)
	if c.Location == nil {
		if l, err := time.LoadLocation("Asia/Jakarta"); err == nil {
			c.Location = l
		} else {
			c.Location = time.FixedZone("WIB", 7*3600)
		}
	}
	i(&c.MaxRecords, 50_000)
	i(&c.MaxUploadBytes, 16<<20)
	d(&c.RecordRetention, 14*24*time.Hour)
	d(&c.Retention, 14*24*time.Hour)
	d(&c.CodeRetention, 48*time.Hour)
	d(&c.KeyRotation, 24*time.Hour)
	d(&c.KeyRetention, 21*24*time.Hour)
	i(&c.PurgeBatch, 1000)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// DefaultConfig is Sijejak's setup when nothing is configured; config's
// tracing.* defaults carry the same values (a test checks they agree).
func DefaultConfig() Config { return Config{}.withDefaults() }
