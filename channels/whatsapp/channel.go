// Package whatsapp owns the gateway's WhatsApp connection: pairing the
// PeduliLindungi number as a linked device (QR or phone code), keeping the
// connection up, turning incoming messages into channels.Inbound values that
// are acknowledged to WhatsApp only once the gateway stored them, and sending
// the outbox's messages with the outbox's stable IDs. It is built on
// go.mau.fi/whatsmeow, whose device store lives in the gateway's database.
//
// Tests run the real whatsmeow client against the fake server in
// channels/whatsapp/wafake; see Config.TestServer and the "wafake" build tag.
package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"lindungi/channels"
)

// Config is the adapter's configuration. The zero value (plus Enabled) is a
// safe production setting: groups, status updates and channels are ignored.
type Config struct {
	Enabled bool
	// AccountPhone is the number expected to be paired (E.164, e.g.
	// +6281110500567). Pairing another number works but is logged as a
	// warning, because citizens would be answered from the wrong number.
	AccountPhone string
	// MaxMediaBytes caps a downloaded attachment; bigger ones are skipped and
	// marked in Inbound.Meta["attachment_skipped"]. Default 16 MiB.
	MaxMediaBytes int64
	// AcceptGroups delivers group messages too (normally citizens write 1:1).
	AcceptGroups bool
	// SendMinGap is the minimum time between two messages to one recipient,
	// so a burst of outbox rows does not look like spam. Default 1 s.
	SendMinGap time.Duration
	// SendTimeout bounds the wait for WhatsApp's server ack of one message.
	// After it Send fails and the outbox retries with the same ID. Default 60 s.
	SendTimeout time.Duration
	// RedeliveryDelay is how long after a failed Deliver the adapter
	// reconnects so that WhatsApp hands the unacknowledged message over
	// again (it only redelivers on a new connection). Default 30 s.
	RedeliveryDelay time.Duration
	// OnQR, if set, is called with every new pairing QR code (e.g. to print
	// it in the terminal for `lindungi whatsapp pair`).
	OnQR func(code string)
	// TestServer redirects the client to a fake WhatsApp server. Tests only;
	// binaries built with -tags wafake fill it from the environment.
	TestServer *TestServer `json:"-"`
}

func (c *Config) defaults() {
	if c.MaxMediaBytes <= 0 {
		c.MaxMediaBytes = 16 << 20
	}
	if c.SendMinGap < 0 {
		c.SendMinGap = 0
	} else if c.SendMinGap == 0 {
		c.SendMinGap = time.Second
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 60 * time.Second
	}
	if c.RedeliveryDelay <= 0 {
		c.RedeliveryDelay = 30 * time.Second
	}
}

// Status is what the console's pairing page and /api/v1/whatsapp/status show.
type Status struct {
	State channels.State `json:"state"`
	JID   string         `json:"jid,omitempty"` // the linked device, e.g. 62811…:3@s.whatsapp.net
	QR    string         `json:"qr,omitempty"`  // current pairing code while State is pairing
}

// Channel is the WhatsApp adapter. It implements channels.Channel and
// channels.Runner. Create it with New; Run holds the connection.
type Channel struct {
	cfg       Config
	log       *slog.Logger
	container *sqlstore.Container

	mu      sync.Mutex
	cli     *whatsmeow.Client
	state   channels.State
	qr      string
	jid     types.JID // linked device; whatsmeow's Store.ID is not safe to read concurrently
	stopped bool      // logged out or replaced: do not reconnect
	stop    chan struct{}
	runCtx  context.Context // Run's context, for background reconnects
	redeliv bool            // a redelivery reconnect is scheduled

	pace pacer
}

// New opens (and upgrades) whatsmeow's device store in the gateway's own
// database. dialect is "sqlite3" or "postgres"; SQLite must be opened with
// foreign keys on. New does not connect; Run does.
func New(cfg Config, db *sql.DB, dialect string, log *slog.Logger) (*Channel, error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("channel", channels.WhatsApp)
	cfg.defaults()
	if cfg.TestServer == nil {
		ts, err := testServerFromEnv()
		if err != nil {
			return nil, fmt.Errorf("whatsapp: test server: %w", err)
		}
		cfg.TestServer = ts
	}
	switch dialect {
	case "sqlite3", "sqlite", "postgres", "pgx":
	default:
		return nil, fmt.Errorf("whatsapp: unsupported database dialect %q", dialect)
	}
	if dialect == "sqlite" {
		dialect = "sqlite3"
	}
	if dialect == "pgx" {
		dialect = "postgres"
	}
	container := sqlstore.NewWithDB(db, dialect, newWALog(log))
	if err := container.Upgrade(context.Background()); err != nil {
		return nil, fmt.Errorf("whatsapp: upgrade device store: %w", err)
	}
	c := &Channel{cfg: cfg, log: log, container: container, state: channels.StateDown, stop: make(chan struct{})}
	if !cfg.Enabled {
		c.state = channels.StateDisabled
	}
	c.pace.gap = cfg.SendMinGap
	return c, nil
}

// Name implements channels.Channel.
func (c *Channel) Name() string { return channels.WhatsApp }

// State implements channels.Channel.
func (c *Channel) State() channels.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Status reports state, the linked device's JID and the pairing QR code.
func (c *Channel) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{State: c.state, QR: c.qr}
	if !c.jid.IsEmpty() {
		st.JID = c.jid.String()
	}
	return st
}

// QRPNG renders the current pairing code as a PNG for the console.
func (c *Channel) QRPNG() ([]byte, error) {
	c.mu.Lock()
	code := c.qr
	c.mu.Unlock()
	if code == "" {
		return nil, errors.New("whatsapp: no pairing code (already paired or not started)")
	}
	return qrcode.Encode(code, qrcode.Medium, 320)
}

// PairPhone asks WhatsApp for an 8-character code the operator types on the
// phone (Linked devices → Link with phone number) instead of scanning a QR.
// It works only while State is pairing.
func (c *Channel) PairPhone(ctx context.Context, phone string) (string, error) {
	jid, err := phoneJID(phone)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	cli, state := c.cli, c.state
	c.mu.Unlock()
	if cli == nil || state != channels.StatePairing {
		return "", fmt.Errorf("whatsapp: not waiting for pairing: %w", channels.ErrNotReady)
	}
	code, err := cli.PairPhone(ctx, jid.User, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		return "", fmt.Errorf("whatsapp: phone pairing: %w", err)
	}
	return code, nil
}

func (c *Channel) setState(s channels.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped && s != channels.StateLoggedOut && s != channels.StateStandby {
		return // a permanent state sticks until Run is restarted
	}
	c.state = s
	if s != channels.StatePairing {
		c.qr = ""
	}
}

// Run connects (pairing first if the store has no device) and keeps the
// connection until ctx ends, delivering inbound messages to sink. It returns
// nil on a clean stop. After a logout or a replaced stream it stays idle
// (State says why) until ctx ends: fighting another instance for the
// session, or silently re-pairing, would both be wrong.
func (c *Channel) Run(ctx context.Context, sink channels.Sink) error {
	if !c.cfg.Enabled {
		<-ctx.Done()
		return nil
	}
	device, err := c.container.GetFirstDevice(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // shutting down before we started
		}
		return fmt.Errorf("whatsapp: load device: %w", err)
	}
	cli := c.newClient(device, sink)
	paired := device.ID != nil
	c.mu.Lock()
	// Run may be called again (e.g. after this replica wins leadership
	// back): a previous logout or replacement no longer applies.
	c.stopped = false
	c.stop = make(chan struct{})
	c.runCtx = ctx
	c.cli = cli
	if paired {
		c.jid = *device.ID
	}
	c.mu.Unlock()
	defer cli.Disconnect()

	if c.cfg.TestServer == nil {
		c.refreshVersion(ctx)
	}
	if !paired {
		if err := c.pair(ctx, cli); err != nil {
			return err
		}
	} else {
		c.setState(channels.StateDown)
		if err := cli.Connect(); err != nil {
			// whatsmeow does not retry a failed first connect; keep trying.
			if err := c.connectLoop(ctx, cli, err); err != nil {
				return err
			}
		}
	}
	// After a logout or a replacement the client stays idle until ctx ends.
	<-ctx.Done()
	return nil
}

// connectLoop retries a connect that failed with err until it succeeds or
// ctx ends.
func (c *Channel) connectLoop(ctx context.Context, cli *whatsmeow.Client, err error) error {
	delay := time.Second
	var outage channels.OutageLog
	for {
		lvl, n := outage.Failed(err)
		c.log.Log(ctx, lvl, "whatsapp connect failed", "err", err, "failures", n, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		if err = cli.Connect(); err == nil || errors.Is(err, whatsmeow.ErrAlreadyConnected) {
			return nil
		}
		delay = min(delay*2, time.Minute)
	}
}

// pair runs QR pairing: codes rotate until the phone scans one or the
// client gives up, then it starts over. A connection that cannot be made
// (network down, WhatsApp unreachable) is retried with backoff: whatsmeow's
// QR channel emits nothing and never closes until a connection delivers
// the first codes, so waiting on it alone would hang pairing — and
// shutdown — for good.
func (c *Channel) pair(ctx context.Context, cli *whatsmeow.Client) error {
	for {
		qrc, err := cli.GetQRChannel(ctx)
		if err != nil {
			return fmt.Errorf("whatsapp: QR channel: %w", err)
		}
		var outage channels.OutageLog
		for delay := time.Second; ; delay = min(delay*2, time.Minute) {
			err := cli.Connect()
			if err == nil {
				break
			}
			c.setState(channels.StateDown)
			lvl, n := outage.Failed(err)
			c.log.Log(ctx, lvl, "whatsapp connect for pairing failed; retrying", "err", err, "retry_in", delay, "failures", n)
			select {
			case <-ctx.Done():
				cli.Disconnect()
				return nil
			case <-time.After(delay):
			}
		}
		c.setState(channels.StatePairing)
		paired := false
	codes:
		for {
			var item whatsmeow.QRChannelItem
			var ok bool
			select {
			case <-ctx.Done():
				cli.Disconnect()
				return nil
			case item, ok = <-qrc:
			}
			if !ok {
				break codes
			}
			switch item.Event {
			case whatsmeow.QRChannelEventCode:
				c.mu.Lock()
				c.qr = item.Code
				c.mu.Unlock()
				if c.cfg.OnQR != nil {
					c.cfg.OnQR(item.Code)
				}
			case whatsmeow.QRChannelSuccess.Event:
				paired = true
			default:
				c.log.Warn("whatsapp pairing ended", "event", item.Event)
			}
		}
		if paired || ctx.Err() != nil {
			return nil
		}
		cli.Disconnect()
		c.setState(channels.StateUnpaired)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

func (c *Channel) newClient(device *store.Device, sink channels.Sink) *whatsmeow.Client {
	cli := whatsmeow.NewClient(device, newWALog(c.log).Sub("client"))
	// Durable inbound: the receipt that makes WhatsApp forget a message is
	// only sent after our handler returned true, i.e. after Deliver stored
	// it; the decrypted-event buffer lets a redelivered ciphertext decrypt
	// a second time.
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.AutoTrustIdentity = true
	if c.cfg.TestServer != nil {
		c.cfg.TestServer.apply(cli)
	}
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool { return c.handleEvent(cli, sink, evt) })
	return cli
}

// client returns the connected client or ErrNotReady.
func (c *Channel) client() (*whatsmeow.Client, error) {
	c.mu.Lock()
	cli, state, jid := c.cli, c.state, c.jid
	c.mu.Unlock()
	switch {
	case cli == nil || jid.IsEmpty():
		return nil, fmt.Errorf("whatsapp: not paired: %w", channels.ErrNotReady)
	case state == channels.StateLoggedOut || state == channels.StateStandby:
		return nil, fmt.Errorf("whatsapp: %s: %w", state, channels.ErrNotReady)
	case !cli.IsLoggedIn():
		return nil, fmt.Errorf("whatsapp: not connected: %w", channels.ErrNotReady)
	}
	return cli, nil
}

var _ channels.Channel = (*Channel)(nil)
var _ channels.Runner = (*Channel)(nil)

// last4 is the most of a phone number or LID a log line may carry.
func last4(user string) string {
	if len(user) <= 4 {
		return user
	}
	return "…" + user[len(user)-4:]
}

// refreshVersion asks WhatsApp for the current web client version so that
// an old whatsmeow build is not refused as outdated (405). A failure is
// tolerated: the built-in version usually still works.
func (c *Channel) refreshVersion(ctx context.Context) {
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := whatsmeow.GetLatestVersion(vctx, nil)
	if err != nil {
		c.log.Info("whatsapp version check failed; using built-in version", "err", err)
		return
	}
	store.SetWAVersion(*v)
}
