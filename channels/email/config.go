package email

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// MailboxConfig is one complaint mailbox. The yaml tags are the config file
// contract (the config package unmarshals into this type or copies into it).
type MailboxConfig struct {
	Address         string `yaml:"address"`           // pedulilindungi@kemkes.go.id
	IMAPURL         string `yaml:"imap_url"`          // imaps://host[:993], imap+starttls://host[:143], imap://127.0.0.1:port (loopback only)
	Username        string `yaml:"username"`          // default: Address
	Password        string `yaml:"password"`          // or PasswordFile
	PasswordFile    string `yaml:"password_file"`     // file holding the password
	OAuth2TokenFile string `yaml:"oauth2_token_file"` // file holding an OAuth2 access token (XOAUTH2, Microsoft 365), re-read on every connect
	Folder          string `yaml:"folder"`            // default INBOX
	AfterImport     string `yaml:"after_import"`      // seen (default) | move:FOLDER | keep
	SMTPURL         string `yaml:"smtp_url"`          // smtps://host[:465], smtp+starttls://host[:587], smtp://127.0.0.1:port (loopback only)
	Retired         bool   `yaml:"retired"`           // still read, but the sender is told to use another address
	Notice          string `yaml:"notice"`            // what a retired mailbox's senders are told (once, by the bot)
	// PollInterval is how long new mail may wait before the runner looks
	// for it, IDLE or not (default Config.PollInterval): some servers
	// (Debian's Cyrus without idled) announce new mail during IDLE only
	// once a minute, or never.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Idle false never uses IDLE, for servers whose IDLE misbehaves; the
	// mailbox is polled every PollInterval. Default true.
	Idle *bool `yaml:"idle"`
	// SMTPAuth is how Send logs in to the relay: none, plain (username and
	// password) or xoauth2 (oauth2_token_file). Empty: xoauth2 with a
	// token file, else plain with a password, else none. Whatever it says,
	// a relay that offers no AUTH is not asked to log us in.
	SMTPAuth string `yaml:"smtp_auth"`
}

// SMTP login mechanisms (MailboxConfig.SMTPAuth).
const (
	SMTPAuthNone    = "none"
	SMTPAuthPlain   = "plain"
	SMTPAuthXOAuth2 = "xoauth2"
)

// idle reports whether the mailbox may wait in IDLE.
func (m MailboxConfig) idle() bool { return m.Idle == nil || *m.Idle }

// Config is the e-mail channel: the mailboxes and tuning with defaults.
type Config struct {
	Mailboxes []MailboxConfig
	// Domain for our Message-IDs (default: the first mailbox's domain).
	Domain string
	// FromName is the display name on outgoing mail (default "PeduliLindungi").
	FromName string
	// MaxMessageBytes: larger mail is imported as headers only (default 25 MB).
	MaxMessageBytes int64
	// PollInterval is the default of MailboxConfig.PollInterval (15 s):
	// the longest new mail waits, with or without IDLE.
	PollInterval time.Duration
	// PollOnly polls every PollInterval even when the server offers IDLE,
	// for every mailbox (MailboxConfig.Idle does it for one).
	PollOnly bool
	// ActionRetry is the first wait before a refused after-import action
	// (flag, move) is tried again (default: the mailbox's PollInterval);
	// it doubles up to eight times that, so a folder fixed by the
	// operator is used within minutes and a lasting refusal costs one
	// command every few minutes.
	ActionRetry time.Duration
	// IdleRestart re-issues IDLE before servers drop it (default 25 min,
	// RFC 2177 allows servers to end it after 29).
	IdleRestart time.Duration
	// CommandTimeout is the watchdog for one IMAP command or SMTP session
	// (default 2 min): go-imap/v2 has no read deadline between responses.
	CommandTimeout time.Duration
	// MaxBackoff caps the reconnect backoff (default 5 min).
	MaxBackoff time.Duration
	// LeaderInterval is how often a standby replica tries to take a
	// mailbox over on PostgreSQL (default 15 s).
	LeaderInterval time.Duration
	// TLS, if set, is used for imaps/STARTTLS/smtps (tests: a private CA).
	TLS *tls.Config
	// Parse tunes the MIME parser.
	Parse ParseOptions
}

func (c *Config) defaults() {
	if c.FromName == "" {
		c.FromName = "PeduliLindungi"
	}
	if c.Domain == "" && len(c.Mailboxes) > 0 {
		if _, d, ok := strings.Cut(c.Mailboxes[0].Address, "@"); ok {
			c.Domain = strings.ToLower(d)
		}
	}
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 25 << 20
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 15 * time.Second
	}
	if c.IdleRestart <= 0 || c.IdleRestart > 29*time.Minute {
		c.IdleRestart = 25 * time.Minute
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 2 * time.Minute
	}
	if c.LeaderInterval <= 0 {
		c.LeaderInterval = 15 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		m.Address = strings.ToLower(strings.TrimSpace(m.Address))
		if m.Folder == "" {
			m.Folder = "INBOX"
		}
		if m.AfterImport == "" {
			m.AfterImport = "seen"
		}
		if m.Username == "" {
			m.Username = m.Address
		}
		if m.PollInterval <= 0 {
			m.PollInterval = c.PollInterval
		}
		m.SMTPAuth = strings.ToLower(strings.TrimSpace(m.SMTPAuth))
	}
}

// Validate reports configuration mistakes before anything connects.
func (c Config) Validate() error {
	c.defaults()
	var errs []error
	seen := map[string]bool{}
	for i, m := range c.Mailboxes {
		where := fmt.Sprintf("email.mailboxes[%d]", i)
		if !strings.Contains(m.Address, "@") {
			errs = append(errs, fmt.Errorf("%s.address must be an e-mail address", where))
		}
		key := m.Address + "\x00" + m.Folder
		if seen[key] {
			errs = append(errs, fmt.Errorf("%s: mailbox and folder listed twice", where))
		}
		seen[key] = true
		if m.IMAPURL != "" {
			if _, err := parseServerURL(m.IMAPURL, "imap"); err != nil {
				errs = append(errs, fmt.Errorf("%s.imap_url: %w", where, err))
			}
			if m.Password == "" && m.PasswordFile == "" && m.OAuth2TokenFile == "" {
				errs = append(errs, fmt.Errorf("%s: set password, password_file or oauth2_token_file", where))
			}
		}
		var su serverURL
		if m.SMTPURL != "" {
			var err error
			if su, err = parseServerURL(m.SMTPURL, "smtp"); err != nil {
				errs = append(errs, fmt.Errorf("%s.smtp_url: %w", where, err))
			}
		}
		switch m.SMTPAuth {
		case "", SMTPAuthNone:
		case SMTPAuthPlain:
			if m.Password == "" && m.PasswordFile == "" && su.Pass == "" {
				errs = append(errs, fmt.Errorf("%s.smtp_auth plain needs password or password_file", where))
			}
		case SMTPAuthXOAuth2:
			if m.OAuth2TokenFile == "" {
				errs = append(errs, fmt.Errorf("%s.smtp_auth xoauth2 needs oauth2_token_file", where))
			}
		default:
			errs = append(errs, fmt.Errorf("%s.smtp_auth must be none, plain or xoauth2", where))
		}
		switch {
		case m.AfterImport == "seen", m.AfterImport == "keep":
		case strings.HasPrefix(m.AfterImport, "move:") && len(m.AfterImport) > 5:
		default:
			errs = append(errs, fmt.Errorf("%s.after_import must be seen, keep or move:FOLDER", where))
		}
	}
	return errors.Join(errs...)
}

// serverURL is a parsed imap_url/smtp_url.
type serverURL struct {
	Addr     string // host:port
	Host     string
	TLS      bool // implicit TLS
	StartTLS bool
	User     string // from the URL's userinfo, if any
	Pass     string
}

// parseServerURL accepts PROTOs://, PROTO+starttls:// and PROTO:// (plain,
// loopback only, for tests and a local relay).
func parseServerURL(s, proto string) (serverURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return serverURL{}, fmt.Errorf("not a URL")
	}
	var out serverURL
	def := ""
	switch u.Scheme {
	case proto + "s":
		out.TLS = true
		def = map[string]string{"imap": "993", "smtp": "465"}[proto]
	case proto + "+starttls":
		out.StartTLS = true
		def = map[string]string{"imap": "143", "smtp": "587"}[proto]
	case proto:
		def = map[string]string{"imap": "143", "smtp": "25"}[proto]
	default:
		return serverURL{}, fmt.Errorf("scheme must be %ss, %s+starttls or %s (loopback only)", proto, proto, proto)
	}
	out.Host = u.Hostname()
	if out.Host == "" {
		return serverURL{}, fmt.Errorf("missing host")
	}
	port := u.Port()
	if port == "" {
		port = def
	}
	out.Addr = net.JoinHostPort(out.Host, port)
	if !out.TLS && !out.StartTLS && !isLoopback(out.Host) {
		return serverURL{}, fmt.Errorf("plain %s:// is allowed for loopback only; use %ss:// or %s+starttls://", proto, proto, proto)
	}
	if u.User != nil {
		out.User = u.User.Username()
		out.Pass, _ = u.User.Password()
	}
	return out, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secret returns the mailbox password (Password or the PasswordFile's first
// line) and the OAuth2 token, read fresh so rotated files take effect.
func (m MailboxConfig) secret() (password, token string, err error) {
	password = m.Password
	if password == "" && m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return "", "", fmt.Errorf("read password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	if m.OAuth2TokenFile != "" {
		b, err := os.ReadFile(m.OAuth2TokenFile)
		if err != nil {
			return "", "", fmt.Errorf("read oauth2_token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	return password, token, nil
}

// xoauth2 is the SASL XOAUTH2 client (Google, Microsoft 365), which go-sasl
// lacks.
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

// Next answers the server's error challenge with an empty response so it
// sends the final failure status.
func (x xoauth2) Next(challenge []byte) ([]byte, error) { return []byte{}, nil }

// hashAddr is what logs carry instead of an address.
func hashAddr(a string) string {
	s := sha256.Sum256([]byte(strings.ToLower(a)))
	return hex.EncodeToString(s[:6])
}

func tlsClient(conn net.Conn, cfg *tls.Config) net.Conn { return tls.Client(conn, cfg) }

func (r *Runner) tlsConfig(host string) *tls.Config {
	if r.cfg.TLS != nil {
		t := r.cfg.TLS.Clone()
		if t.ServerName == "" {
			t.ServerName = host
		}
		return t
	}
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}
