// Package config owns the gateway's one typed configuration: defaults that
// run with nothing configured, an optional YAML file, LINDUNGI_* environment
// variables on top, *_FILE twins for secrets, Validate() with messages that
// name the key and the fix, and a masked dump.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	// The time zone database is in the binary: the distroless image and
	// minimal hosts may lack /usr/share/zoneinfo, and jobs.timezone
	// (Asia/Jakarta) must load everywhere the gateway runs.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
)

// Config is everything the gateway reads at start. YAML keys are the `yaml`
// tags; the environment variable of a key is LINDUNGI_ + its path in upper
// case joined by "_" (whatsapp.enabled → LINDUNGI_WHATSAPP_ENABLED) unless an
// `env` tag names another. Fields tagged secret:"true" also read NAME_FILE and
// are masked in dumps.
type Config struct {
	DataDir     string `yaml:"data_dir"`
	Listen      string `yaml:"listen"`
	DatabaseURL string `yaml:"database_url" secret:"true"`
	// DataKey seals personal data at rest (hex, 32 bytes). Empty: a key file
	// is generated in DataDir on first start.
	DataKey   string `yaml:"data_key" secret:"true"`
	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"` // text | json
	PublicURL string `yaml:"public_url"`
	// TrustedProxies lists the reverse proxies (IPs or CIDRs, comma
	// separated) whose X-Forwarded-For header names the real client.
	TrustedProxies string `yaml:"trusted_proxies"`
	// MaxBodyBytes caps HTTP request bodies except tracing uploads.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	Simulator Simulator `yaml:"simulator"`
	Outbox    Outbox    `yaml:"outbox"`
	Bot       Bot       `yaml:"bot"`
	Tickets   Tickets   `yaml:"tickets"`
	WhatsApp  WhatsApp  `yaml:"whatsapp"`
	Email     Email     `yaml:"email"`
	Tracing   Tracing   `yaml:"tracing"`
	Jobs      Jobs      `yaml:"jobs"`
	Accounts  Accounts  `yaml:"accounts"`

	Certificate Certificate `yaml:"certificate"`
	Registry    Registry    `yaml:"registry"`
	SelfService SelfService `yaml:"selfservice"`
}

// Accounts tunes operators' credentials.
type Accounts struct {
	// TokenTTL is how long an API token works after it was made (0:
	// forever). A token that leaked and was forgotten stops by itself.
	TokenTTL Duration `yaml:"token_ttl"`
}

// SelfService configures status and certificate look-ups by citizens.
type SelfService struct {
	// DemoChannels (comma separated; "simulator") are answered as if they
	// were WhatsApp. Only WhatsApp proves the sender's number: demos only.
	DemoChannels string `yaml:"demo_channels"`
}

// Registry is the vaccination registry (SATUSEHAT's FHIR R4 API). An
// empty base URL leaves the registry features off.
type Registry struct {
	BaseURL          string   `yaml:"base_url"`
	TokenURL         string   `yaml:"token_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Timeout          Duration `yaml:"timeout"`
	CacheTTL         Duration `yaml:"cache_ttl"`
}

// Certificate configures the signed vaccination certificate (HCERT).
type Certificate struct {
	// SigningKeyFile is the document signer's PEM private key (ECDSA
	// P-256); SignerCertFile its PEM certificate, the one verifiers trust.
	// Both empty: a demo key pair is generated in DataDir, fit for demos
	// and tests only.
	SigningKeyFile string   `yaml:"signing_key_file"`
	SignerCertFile string   `yaml:"signer_cert_file"`
	Validity       Duration `yaml:"validity"`
}

// Simulator is the in-process channel for `lindungi chat`, demos and tests.
// Off unless configured: it lets a token holder write "from" any number.
type Simulator struct {
	Enabled bool `yaml:"enabled" env:"LINDUNGI_SIMULATOR"`
}

// Outbox tunes delivery.
type Outbox struct {
	MaxAttempts int      `yaml:"max_attempts"`
	BaseBackoff Duration `yaml:"base_backoff"`
	MaxBackoff  Duration `yaml:"max_backoff"`
	// Rate is messages per second per channel (0: unlimited), e.g.
	// {whatsapp: 20, email: 50}.
	Rate      map[string]float64 `yaml:"rate"`
	BatchSize int                `yaml:"batch_size"`
}

// Bot tunes the conversation engine.
type Bot struct {
	StateTTL Duration `yaml:"state_ttl"`
	// FloodLimit is how many messages per minute one sender may send before
	// the bot stops answering each one (messages are still stored).
	FloodLimit   int  `yaml:"flood_limit"`
	AllowGroups  bool `yaml:"allow_groups"`
	MaxTextBytes int  `yaml:"max_text_bytes"`
}

// Tickets tunes the ticket desk.
type Tickets struct {
	SLA               Duration `yaml:"sla"`
	MaxAttachmentSize int64    `yaml:"max_attachment_bytes"`
}

// WhatsApp configures the WhatsApp channel: a linked device (whatsmeow)
// or Meta's WhatsApp Business Platform (Cloud API).
type WhatsApp struct {
	Enabled bool `yaml:"enabled"`
	// Provider is linked (a linked device on an ordinary number) or cloud
	// (the official Cloud API: webhooks in, Graph API out).
	Provider string `yaml:"provider"`
	// Phone is the account the gateway should be paired with (E.164).
	Phone         string   `yaml:"phone"`
	SendRate      float64  `yaml:"send_rate"`
	RecipientGap  Duration `yaml:"recipient_gap"`
	MaxMediaBytes int64    `yaml:"max_media_bytes"`
	// Cloud is the Cloud API provider's setup; read only with provider
	// cloud. These key names are a public contract.
	Cloud WhatsAppCloud `yaml:"cloud"`
}

// WhatsAppCloud configures the Cloud API provider. Secrets are named by
// file (a mounted secret), never written in the config itself.
type WhatsAppCloud struct {
	PhoneNumberID     string `yaml:"phone_number_id"`
	BusinessAccountID string `yaml:"business_account_id"`
	AccessTokenFile   string `yaml:"access_token_file"`
	AppSecretFile     string `yaml:"app_secret_file"`
	VerifyTokenFile   string `yaml:"verify_token_file"`
	// APIURL is the Graph API's base; tests point it at the fake.
	APIURL     string `yaml:"api_url"`
	APIVersion string `yaml:"api_version"`
	// Templates are our approved message templates by purpose
	// (exposure, consent_request, sla_followup, …): what may be sent
	// outside the 24-hour customer service window.
	Templates map[string]CloudTemplate `yaml:"templates"`
	// DailyConversations caps business-initiated conversations (templates
	// to citizens outside their window) per rolling 24 hours until Meta's
	// phone_number_quality_update names the number's tier; 0: no cap.
	DailyConversations int `yaml:"daily_conversations"`
}

// CloudTemplate is one approved template: its name at Meta, the
// outbound message's Meta keys whose values fill the body's {{1}}, {{2}}, …
// in order, and Meta's language code for each of our languages (id, en).
type CloudTemplate struct {
	Name      string            `yaml:"name"`
	Params    []string          `yaml:"params"`
	Languages map[string]string `yaml:"languages"`
}

// Email lists the mailboxes to read and answer from.
type Email struct {
	Mailboxes       []Mailbox `yaml:"mailboxes"`
	MaxMessageBytes int64     `yaml:"max_message_bytes"`
	AckRatePerHour  int       `yaml:"ack_rate_per_hour"`
}

// Mailbox is one IMAP mailbox with its SMTP submission route. These key
// names are a public contract.
type Mailbox struct {
	Address         string `yaml:"address"`
	IMAPURL         string `yaml:"imap_url"`
	Username        string `yaml:"username"`
	Password        string `yaml:"password" secret:"true"`
	PasswordFile    string `yaml:"password_file"`
	OAuth2TokenFile string `yaml:"oauth2_token_file"`
	Folder          string `yaml:"folder"`
	AfterImport     string `yaml:"after_import"`
	SMTPURL         string `yaml:"smtp_url"`
	Retired         bool   `yaml:"retired"`
	Notice          string `yaml:"notice"`
	// PollInterval: new mail waits at most this long, IDLE or not (0: 15s).
	PollInterval Duration `yaml:"poll_interval"`
	// Idle false polls instead of IDLE (servers whose IDLE misbehaves);
	// unset means true.
	Idle *bool `yaml:"idle"`
	// SMTPAuth is none, plain or xoauth2; empty: by what is configured.
	SMTPAuth string `yaml:"smtp_auth"`
}

// Tracing configures Sijejak.
type Tracing struct {
	Enabled bool   `yaml:"enabled"`
	Channel string `yaml:"channel"`
	// Key seals tracing secrets (hex 32 bytes); empty: derived from DataKey.
	CalibrationFile string  `yaml:"calibration_file"`
	MinMinutes      float64 `yaml:"min_minutes"`
	NearDB          float64 `yaml:"near_db"`
	MediumDB        float64 `yaml:"medium_db"`
	NearWeight      float64 `yaml:"near_weight"`
	MediumWeight    float64 `yaml:"medium_weight"`
	// WhatsAppNumber goes into the wa.me registration link.
	WhatsAppNumber string `yaml:"whatsapp_number"`
	// UploadsPerDeviceHour caps encounter upload attempts per device.
	UploadsPerDeviceHour int `yaml:"uploads_per_device_hour"`
}

// Jobs configures the scheduler: cron specs by job name.
type Jobs struct {
	Enabled  bool              `yaml:"enabled"`
	Timezone string            `yaml:"timezone"`
	Schedule map[string]string `yaml:"schedule"`
	// Retention periods.
	TicketRetention Duration `yaml:"ticket_retention"`
	OutboxRetention Duration `yaml:"outbox_retention"`
}

// Default returns the zero-configuration setup: SQLite in ./data, console
// on 127.0.0.1:8080, WhatsApp on (it waits to be paired), simulator off.
// The values of a package's section are that package's own defaults
// (channels.DefaultOutboxConfig, bot.DefaultConfig, tickets.DefaultConfig,
// tracing.DefaultConfig, jobs.DefaultConfig): config imports only the
// standard library, so defaults_test.go checks each section against them.
func Default() Config {
	return Config{
		DataDir:      "data",
		Listen:       "127.0.0.1:8080",
		LogLevel:     "info",
		LogFormat:    "text",
		PublicURL:    "http://127.0.0.1:8080",
		MaxBodyBytes: 1 << 20,
		Outbox: Outbox{
			MaxAttempts: 8,
			BaseBackoff: Duration(2 * time.Second),
			MaxBackoff:  Duration(10 * time.Minute),
			Rate:        map[string]float64{"email": 20}, // WhatsApp's rate is whatsapp.send_rate
			BatchSize:   64,
		},
		Bot: Bot{
			StateTTL:     Duration(30 * time.Minute),
			FloodLimit:   20,
			MaxTextBytes: 4096,
		},
		Tickets: Tickets{
			SLA:               Duration(24 * time.Hour),
			MaxAttachmentSize: 10 << 20,
		},
		WhatsApp: WhatsApp{
			Enabled:       true,
			Phone:         "+6281110500567",
			SendRate:      20,
			RecipientGap:  Duration(time.Second),
			MaxMediaBytes: 16 << 20,
			Provider:      "linked",
			Cloud: WhatsAppCloud{
				APIURL:             "https://graph.facebook.com",
				APIVersion:         "v23.0",
				DailyConversations: 1000,
			},
		},
		Email: Email{
			MaxMessageBytes: 25 << 20,
			AckRatePerHour:  3,
		},
		Tracing: Tracing{
			Enabled: true,
			Channel: "whatsapp",
			// tracing/score says why these (defaults_test ties them).
			MinMinutes:     15,
			NearDB:         63,
			MediumDB:       67,
			NearWeight:     1.0,
			MediumWeight:   0.5,
			WhatsAppNumber: "6281110500567",
			// Set here, not only as tracing's fallback, so that `config
			// dump` shows the limit in force.
			UploadsPerDeviceHour: 6,
		},
		Accounts:    Accounts{TokenTTL: Duration(90 * 24 * time.Hour)},
		Certificate: Certificate{Validity: Duration(365 * 24 * time.Hour)},
		Registry:    Registry{Timeout: Duration(5 * time.Second), CacheTTL: Duration(5 * time.Minute)},
		Jobs: Jobs{
			Enabled:         true,
			Timezone:        "Asia/Jakarta",
			TicketRetention: Duration(365 * 24 * time.Hour),
			OutboxRetention: Duration(30 * 24 * time.Hour),
		},
	}
}

// Load builds the configuration: defaults, then the YAML file (if path is
// not empty; unknown keys are an error), then the environment.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: read %s: %w", path, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "LINDUNGI_") {
			env[k] = v
		}
	}
	if err := applyEnv(reflect.ValueOf(&c).Elem(), "LINDUNGI", env); err != nil {
		return c, err
	}
	for i := range c.Email.Mailboxes {
		mb := &c.Email.Mailboxes[i]
		if mb.PasswordFile != "" && mb.Password == "" {
			b, err := os.ReadFile(mb.PasswordFile)
			if err != nil {
				return c, fmt.Errorf("config: email.mailboxes[%d].password_file: %w", i, err)
			}
			mb.Password = strings.TrimSpace(string(b))
		}
		if mb.Folder == "" {
			mb.Folder = "INBOX"
		}
		if mb.AfterImport == "" {
			mb.AfterImport = "seen"
		}
	}
	return c, nil
}

// applyEnv sets fields from LINDUNGI_* variables (and NAME_FILE twins for
// secrets), walking the struct by yaml tag.
func applyEnv(v reflect.Value, prefix string, env map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(key)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			if e := f.Tag.Get("env"); e != "" {
				name = e
			} else {
				continue
			}
			// A struct with an env tag: the tag sets its Enabled field.
			if val, ok := env[name]; ok {
				if ef := fv.FieldByName("Enabled"); ef.IsValid() {
					if err := setValue(ef, val); err != nil {
						return fmt.Errorf("config: %s=%q: %w", name, val, err)
					}
				}
			}
			continue
		}
		if e := f.Tag.Get("env"); e != "" {
			// The documented name wins; the name the key's path would
			// give (LINDUNGI_SIMULATOR_ENABLED) is accepted too, since that
			// is what an operator following the pattern writes.
			if _, set := env[e]; set {
				name = e
			} else if _, set := env[name]; !set {
				name = e
			}
		}
		val, ok := env[name]
		if f.Tag.Get("secret") == "true" {
			if p, ok2 := env[name+"_FILE"]; ok2 {
				b, err := os.ReadFile(p)
				if err != nil {
					return fmt.Errorf("config: %s_FILE: %w", name, err)
				}
				val, ok = strings.TrimSpace(string(b)), true
			}
		}
		if !ok {
			continue
		}
		if err := setValue(fv, val); err != nil {
			return fmt.Errorf("config: %s=%q: %w", name, val, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, val string) error {
	switch {
	case fv.Type() == reflect.TypeOf(Duration(0)):
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("not a duration (use e.g. 30s, 15m, 24h)")
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(val)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return fmt.Errorf("not a boolean (use true or false)")
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		fv.SetFloat(n)
	default:
		return fmt.Errorf("cannot be set from the environment; use the config file")
	}
	return nil
}

// ProxyPrefixes parses TrustedProxies.
func (c Config) ProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Validate checks the values and says what to change.
func (c Config) Validate() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if c.Listen == "" {
		add("listen is empty: set listen (LINDUNGI_LISTEN) to an address like 127.0.0.1:8080")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		add("database_url must be a postgres:// URL (or empty for SQLite in data_dir)")
	}
	if _, err := c.ProxyPrefixes(); err != nil {
		add("trusted_proxies: %v (use IPs or CIDRs separated by commas, e.g. 10.0.0.0/8,127.0.0.1)", err)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		add("log_format %q: use text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.Outbox.MaxAttempts < 1 {
		add("outbox.max_attempts must be at least 1")
	}
	if c.Outbox.BaseBackoff <= 0 || c.Outbox.MaxBackoff < c.Outbox.BaseBackoff {
		add("outbox.base_backoff must be > 0 and ≤ outbox.max_backoff")
	}
	switch c.WhatsApp.Provider {
	case "linked":
	case "cloud":
		cc := c.WhatsApp.Cloud
		for _, k := range []struct{ key, val string }{
			{"phone_number_id", cc.PhoneNumberID}, {"access_token_file", cc.AccessTokenFile},
			{"app_secret_file", cc.AppSecretFile}, {"verify_token_file", cc.VerifyTokenFile},
			{"api_url", cc.APIURL}, {"api_version", cc.APIVersion},
		} {
			if c.WhatsApp.Enabled && k.val == "" {
				add("whatsapp.cloud.%s is empty: provider cloud needs it (LINDUNGI_WHATSAPP_CLOUD_%s)", k.key, strings.ToUpper(k.key))
			}
		}
		if cc.DailyConversations < 0 {
			add("whatsapp.cloud.daily_conversations must be 0 (no cap) or more")
		}
		for purpose, t := range cc.Templates {
			if t.Name == "" {
				add("whatsapp.cloud.templates.%s.name is empty: name the approved template", purpose)
			}
		}
	default:
		add("whatsapp.provider %q (LINDUNGI_WHATSAPP_PROVIDER): use linked or cloud", c.WhatsApp.Provider)
	}
	switch c.Tracing.Channel {
	case "whatsapp", "simulator", "email":
	default:
		add("tracing.channel %q (LINDUNGI_TRACING_CHANNEL): use whatsapp or simulator", c.Tracing.Channel)
	}
	if c.Tracing.Enabled && c.Tracing.Channel == "simulator" && !c.Simulator.Enabled {
		add("tracing.channel is simulator but the simulator is off: set simulator.enabled (LINDUNGI_SIMULATOR=true) for a demo, or tracing.channel to whatsapp")
	}
	if c.Tracing.NearDB > c.Tracing.MediumDB {
		add("tracing.near_db must not exceed tracing.medium_db")
	}
	if c.Accounts.TokenTTL < 0 {
		add("accounts.token_ttl must be 0 (tokens never expire) or a positive duration like 2160h")
	}
	if (c.Certificate.SigningKeyFile == "") != (c.Certificate.SignerCertFile == "") {
		add("certificate.signing_key_file and certificate.signer_cert_file go together: set both, or neither for a generated demo key")
	}
	if c.Certificate.Validity <= 0 {
		add("certificate.validity must be > 0 (e.g. 8760h)")
	}
	if r := c.Registry; r.BaseURL != "" {
		if !strings.HasPrefix(r.BaseURL, "https://") && !strings.HasPrefix(r.BaseURL, "http://127.0.0.1") && !strings.HasPrefix(r.BaseURL, "http://localhost") {
			add("registry.base_url %q: use https:// (plain http only on loopback, for the fake registry)", r.BaseURL)
		}
		if r.TokenURL == "" || r.ClientID == "" || r.ClientSecretFile == "" {
			add("registry.base_url is set: set registry.token_url, registry.client_id and registry.client_secret_file too")
		}
		if r.CacheTTL > Duration(30*time.Minute) {
			add("registry.cache_ttl must not exceed 30m: cached health records must not outlive a conversation")
		}
	}
	for _, ch := range strings.Split(c.SelfService.DemoChannels, ",") {
		if ch = strings.TrimSpace(ch); ch != "" && ch != "simulator" {
			add("selfservice.demo_channels %q: only simulator (WhatsApp is always served; e-mail proves no phone number)", ch)
		}
	}
	if _, err := time.LoadLocation(c.Jobs.Timezone); err != nil {
		add("jobs.timezone %q is not an IANA time zone name (WIB is Asia/Jakarta, WITA Asia/Makassar, WIT Asia/Jayapura)", c.Jobs.Timezone)
	}
	for i, mb := range c.Email.Mailboxes {
		if !strings.Contains(mb.Address, "@") {
			add("email.mailboxes[%d].address %q is not an e-mail address", i, mb.Address)
		}
		if mb.IMAPURL == "" {
			add("email.mailboxes[%d].imap_url is empty (imaps://host:993)", i)
		}
		if a := mb.AfterImport; a != "seen" && a != "keep" && !strings.HasPrefix(a, "move:") {
			add("email.mailboxes[%d].after_import %q: use seen, keep or move:FOLDER", i, a)
		}
		switch a := strings.ToLower(mb.SMTPAuth); a {
		case "", "none", "plain", "xoauth2":
		default:
			add("email.mailboxes[%d].smtp_auth %q: use none, plain or xoauth2", i, mb.SMTPAuth)
		}
		if mb.PollInterval < 0 {
			add("email.mailboxes[%d].poll_interval must not be negative", i)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %s", strings.Join(errs, "; "))
}

// Dump writes the effective configuration as YAML with secrets masked.
func (c Config) Dump(w io.Writer) error {
	m := mask(reflect.ValueOf(c))
	b, err := yaml.Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func mask(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(Duration(0)) {
			return time.Duration(v.Int()).String()
		}
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if key == "" {
				continue
			}
			if f.Tag.Get("secret") == "true" {
				if v.Field(i).String() != "" {
					out[key] = "********"
				} else {
					out[key] = ""
				}
				continue
			}
			out[key] = mask(v.Field(i))
		}
		return out
	case reflect.Slice:
		var out []any
		for i := 0; i < v.Len(); i++ {
			out = append(out, mask(v.Index(i)))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			out[k.String()] = mask(v.MapIndex(k))
		}
		return out
	case reflect.Int64:
		if v.Type() == reflect.TypeOf(Duration(0)) {
			return time.Duration(v.Int()).String()
		}
		return v.Int()
	default:
		return v.Interface()
	}
}

// Duration is a time.Duration written as "30s", "15m", "24h" in YAML.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use e.g. 30s, 15m, 24h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
