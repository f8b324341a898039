// Package cloud is the WhatsApp channel's second provider: Meta's official
// WhatsApp Business Platform (Cloud API). Citizens' messages arrive as
// signed HTTPS webhooks, which any replica behind a load balancer can take
// (nothing to elect, unlike the linked device's one connection); the
// outbox's messages leave through the Graph API's messages endpoint; what
// WhatsApp later reports about them (sent, delivered, read, failed) comes
// back by webhook and updates the outbox row.
//
// It owns the 24-hour customer service window (free text only within 24
// hours of the citizen's last message; outside it only approved templates,
// or the message is held) and the mapping of the Cloud API's error codes to
// the outbox's retry / hold / permanent / not-ready.
//
// Tests and demos run it against channels/whatsapp/cloud/graphfake, a fake
// Graph API that also sends the signed webhooks.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"lindungi/channels"
	"lindungi/store"
)

// Template is an approved message template: its name at Meta, the
// outbound message's Meta keys whose values fill {{1}}, {{2}}, … of the
// body, and Meta's language code for each of our languages.
type Template struct {
	Name      string
	Params    []string
	Languages map[string]string
}

// Config is the provider's setup. The three secrets are values here (the
// wiring reads them from their files); none is ever logged or put into an
// error.
type Config struct {
	PhoneNumberID     string
	BusinessAccountID string
	AccessToken       string
	AppSecret         string
	VerifyToken       string
	// APIURL is the Graph API base (https://graph.facebook.com).
	APIURL     string
	APIVersion string
	// Templates by purpose: the outbound message's Meta["template"], else
	// its Meta["tracing"] (exposure, consent_request).
	Templates map[string]Template
	// MaxMediaBytes caps a downloaded attachment (whatsapp.max_media_bytes).
	MaxMediaBytes int64
	// MaxWebhookBytes caps a webhook body; Meta batches at most a few
	// hundred changes, far below the default 4 MiB.
	MaxWebhookBytes int64
	// DailyConversations caps business-initiated conversations per
	// rolling 24 hours until a quality webhook names the tier (0: none).
	DailyConversations int
	// Window is the customer service window (24 hours).
	Window time.Duration
	// HTTP is the client for the Graph API (tests: the fake's).
	HTTP *http.Client
}

func (c *Config) defaults() {
	if c.APIURL == "" {
		c.APIURL = "https://graph.facebook.com"
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if c.APIVersion == "" {
		c.APIVersion = "v23.0"
	}
	if c.MaxMediaBytes <= 0 {
		c.MaxMediaBytes = 16 << 20
	}
	if c.MaxWebhookBytes <= 0 {
		c.MaxWebhookBytes = 4 << 20
	}
	if c.Window <= 0 {
		c.Window = 24 * time.Hour
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
}

// StateUnauthorized is the channel's state while the Graph API refuses the
// access token (error 190 and its kin): nothing can be sent until an
// operator replaces the token, and nothing is dead-lettered meanwhile.
const StateUnauthorized channels.State = "unauthorized"

// Deliveries is what the provider reports to the outbox: channels.Outbox
// implements it.
type Deliveries interface {
	RecordDelivery(ctx context.Context, id, state string, outcome error) error
	ReleaseHeld(ctx context.Context, channel, recipient string) (int64, error)
}

// Channel is the Cloud API provider of the WhatsApp channel. It implements
// channels.Channel; Handler serves the webhooks.
type Channel struct {
	cfg  Config
	db   *store.DB
	log  *slog.Logger
	outb Deliveries
	// Now is the clock (tests move it to leave the window).
	Now func() time.Time

	mu      sync.Mutex
	state   channels.State
	quality string // GREEN | YELLOW | RED, or the last quality event
	tier    string // TIER_1K … as the last update said
	account string // the last account_update event

	webhooks *prometheus.CounterVec
	statuses *prometheus.CounterVec
	sends    *prometheus.CounterVec
	qualityG *prometheus.GaugeVec
}

// New makes the provider. outb is the outbox that statuses update (it may
// be set later with SetDeliveries, before webhooks arrive).
func New(cfg Config, db *store.DB, outb Deliveries, log *slog.Logger) (*Channel, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg.defaults()
	if cfg.PhoneNumberID == "" || cfg.AccessToken == "" || cfg.AppSecret == "" || cfg.VerifyToken == "" {
		return nil, errors.New("whatsapp cloud: phone_number_id, access token, app secret and verify token are all needed")
	}
	c := &Channel{
		cfg: cfg, db: db, outb: outb, log: log.With("channel", channels.WhatsApp, "provider", "cloud"), Now: store.Now,
		state: channels.StateUp,
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_whatsapp_cloud_webhooks_total",
			Help: "Webhook requests by outcome (ok, bad_signature, no_signature, bad_body, failed)."}, []string{"result"}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_whatsapp_cloud_statuses_total",
			Help: "Message statuses reported by WhatsApp."}, []string{"status"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_whatsapp_cloud_sends_total",
			Help: "Graph API sends by kind (text, template, media) and outcome (ok, retry, held, permanent, not_ready)."}, []string{"kind", "outcome"}),
		qualityG: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lindungi_whatsapp_cloud_quality",
			Help: "1 for the phone number's current quality rating and messaging tier as the last webhook said."}, []string{"quality", "tier"}),
	}
	return c, nil
}

// SetDeliveries sets where statuses go (the outbox registers the channel
// after both exist).
func (c *Channel) SetDeliveries(d Deliveries) { c.outb = d }

// Describe and Collect make the channel a Prometheus collector.
func (c *Channel) Describe(ch chan<- *prometheus.Desc) {
	c.webhooks.Describe(ch)
	c.statuses.Describe(ch)
	c.sends.Describe(ch)
	c.qualityG.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Channel) Collect(ch chan<- prometheus.Metric) {
	c.webhooks.Collect(ch)
	c.statuses.Collect(ch)
	c.sends.Collect(ch)
	c.qualityG.Collect(ch)
}

// Name implements channels.Channel: to the rest of the gateway this is the
// WhatsApp channel, whichever provider carries it.
func (c *Channel) Name() string { return channels.WhatsApp }

// State implements channels.Channel.
func (c *Channel) State() channels.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Channel) setState(s channels.State) {
	c.mu.Lock()
	old := c.state
	c.state = s
	c.mu.Unlock()
	if old != s {
		c.log.Warn("whatsapp cloud state changed", "from", string(old), "to", string(s))
	}
}

// Readiness is what /readyz shows besides the state (the same reporter
// interface as the e-mail channel's): the provider's Status. A low quality
// rating is a warning the console shows, not a degraded channel.
func (c *Channel) Readiness() (detail any, degraded bool) { return c.Status(), false }

// Status is the number's quality rating and messaging tier from Meta's
// webhooks, with the provider and its state.
func (c *Channel) Status() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]string{"provider": "cloud", "state": string(c.state)}
	if c.quality != "" {
		out["quality"] = c.quality
	}
	if c.tier != "" {
		out["tier"] = c.tier
	}
	if c.account != "" {
		out["account"] = c.account
	}
	return out
}

// tierLimits are Meta's messaging limit tiers (current_limit in the
// phone_number_quality_update webhook); 0 is no limit.
var tierLimits = map[string]int{"TIER_50": 50, "TIER_250": 250, "TIER_1K": 1000, "TIER_2K": 2000,
	"TIER_10K": 10000, "TIER_100K": 100000, "TIER_UNLIMITED": 0}

// dailyLimit is the tier Meta last named, else the configured cap.
func (c *Channel) dailyLimit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := tierLimits[c.tier]; ok {
		return n
	}
	return c.cfg.DailyConversations
}

func (c *Channel) setQuality(quality, tier, account string) {
	c.mu.Lock()
	if quality != "" {
		c.quality = quality
	}
	if tier != "" {
		c.tier = tier
	}
	if account != "" {
		c.account = account
	}
	q, t := c.quality, c.tier
	c.mu.Unlock()
	c.qualityG.Reset()
	c.qualityG.WithLabelValues(q, t).Set(1)
}

// e164 turns a WhatsApp ID (the phone's digits) into the gateway's
// contact address. Anything that is not digits is kept, marked, so it
// never passes for a phone number.
func e164(waID string) string {
	if waID == "" {
		return ""
	}
	for _, r := range waID {
		if r < '0' || r > '9' {
			return "wa:" + waID
		}
	}
	return "+" + waID
}

// waID is e164's inverse for sending.
func waID(address string) (string, error) {
	a := strings.TrimPrefix(address, "+")
	if a == "" || len(a) > 20 {
		return "", fmt.Errorf("whatsapp cloud: not a phone number: %w", channels.ErrPermanent)
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("whatsapp cloud: not a phone number: %w", channels.ErrPermanent)
		}
	}
	return a, nil
}

// Check asks the Graph API about the business number: a refused token
// makes the channel unauthorized at once (rather than at the first
// message to a citizen), and the number's quality rating is shown until a
// webhook says more.
func (c *Channel) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(c.cfg.PhoneNumberID)+"?fields=quality_rating,display_phone_number", nil)
	if err != nil {
		return fmt.Errorf("whatsapp cloud: check: %w", err)
	}
	var out struct {
		QualityRating string `json:"quality_rating"`
	}
	if err := c.do(req, &out); err != nil {
		return err
	}
	c.mu.Lock()
	unset := c.quality == ""
	c.mu.Unlock()
	if unset && out.QualityRating != "" {
		c.setQuality(out.QualityRating, "", "")
	}
	return nil
}

// Run checks the number at start and every interval until ctx ends.
func (c *Channel) Run(ctx context.Context, interval time.Duration) error {
	for {
		if err := c.Check(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("whatsapp cloud: the Graph API refused the number check", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
