package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"lindungi/accounts"
	"lindungi/bot/intent"
	"lindungi/certificate"
	"lindungi/config"
	"lindungi/internal/app"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/tracing"
	"lindungi/tracing/campaign"
)

func cmdServe(ctx context.Context, cfg config.Config, g globals, stdout, logw io.Writer) error {
	start := time.Now()
	gc := tuneGC(os.Getenv, "/")
	a, err := newApp(ctx, cfg, logw)
	if err != nil {
		return err
	}
	a.log.Info("garbage collector", "gogc", gc.Percent, "memory_limit_mb", gc.MemoryLimit>>20)
	if err := a.Listen(); err != nil {
		a.Close()
		return err
	}
	if first, err := a.createdSince(ctx, start); err != nil {
		a.log.Warn("could not tell whether this is the first start", "err", err)
	} else if first {
		a.printNextSteps(stdout, sameFlags(g))
	}
	return a.Run(ctx)
}

func cmdMigrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		return err
	}
	defer db.Close()
	// The key first: a database migrated here and served later must not
	// look like one whose key went missing.
	if _, err := app.LoadDataKey(ctx, db, cfg); err != nil {
		return err
	}
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	v, _ := db.SchemaVersion(ctx)
	fmt.Fprintf(stdout, "applied %d migrations; schema version %d\n", n, v)
	return nil
}

// cmdHealthcheck is the container's probe (distroless images have no curl).
func cmdHealthcheck(ctx context.Context, cfg config.Config) error {
	c := &apiClient{base: gatewayURL(cfg)}
	if err := c.reachable(ctx); err != nil {
		return fmt.Errorf("healthcheck: %s: %w", c.base, err)
	}
	return nil
}

func cmdUser(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return cmdUserManage(ctx, cfg, args, stdout)
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	role := fs.String("role", accounts.Operator, "operator | supervisor | health_officer | admin")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: lindungi user add --role ROLE NAME")
	}
	if err := requireDataDir(cfg); err != nil {
		return err
	}
	db, _, err := openStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := accounts.New(db).AddBy(ctx, cliActor, fs.Arg(0), *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user: %s\nrole: %s\npassword: %s\ntoken: %s\n", c.User.Name, c.User.Role, c.Password, c.Token)
	return nil
}

// reorder puts flags before positional arguments so "NAME --role admin" and
// "--role admin NAME" both parse.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			flags = append(flags, args[i])
			if !strings.Contains(args[i], "=") && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, args[i])
	}
	return append(flags, pos...)
}

// cmdChat talks to the running gateway's bot through the simulator API, as
// a citizen would on WhatsApp. Without --token (or LINDUNGI_TOKEN) it uses a
// local simulator-role token kept in the data directory, created on first use:
// whoever can read the data directory already holds every secret.
//
// What the gateway sends is read by its own goroutine with long polls, so
// an operator's reply or an erasure confirmation appears while the citizen
// is not typing, as it would on a phone.
func cmdChat(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from", "+6281200000001", "the simulated citizen's address")
	name := fs.String("name", "Warga Uji", "the simulated citizen's name")
	base := fs.String("url", "", "gateway URL (default: http://LISTEN from the configuration)")
	token := fs.String("token", "", "API token of a simulator-role user (default: LINDUNGI_TOKEN, else a local one kept in the data directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" { // read after parsing so that --help never prints it
		*token = os.Getenv("LINDUNGI_TOKEN")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("chat takes no arguments (got %q); see lindungi chat --help", fs.Args())
	}
	if *base == "" {
		*base = gatewayURL(cfg)
	}
	c := &apiClient{base: strings.TrimRight(*base, "/")}
	if err := c.reachable(ctx); err != nil {
		return noGateway(cfg, c.base, err)
	}
	c.token = *token
	if c.token == "" {
		t, err := localChatToken(ctx, cfg)
		if err != nil {
			return fmt.Errorf("chat needs a simulator-role token (--token or LINDUNGI_TOKEN): %w", err)
		}
		c.token = t
	}
	// Start after what was already sent to this contact; this first call
	// also tells a token the gateway does not know from a gateway without
	// the simulator.
	_, cursor, err := c.sent(ctx, *from, "", 0)
	if err != nil {
		return chatRefused(cfg, c.base, *token != "", err)
	}
	out := &lockedWriter{w: stdout}
	out.Printf("Terhubung ke %s sebagai %s. Ketik pesan (Ctrl-D untuk keluar).\n> ", c.base, *from)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shown := make(chan struct{}, 1)
	go c.follow(ctx, *from, cursor, out, shown)

	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			out.Printf("> ")
			continue
		}
		select { // forget a signal from before this message
		case <-shown:
		default:
		}
		if err := c.post(ctx, "/api/v1/simulator/messages", map[string]string{"from": *from, "name": *name, "text": text}); err != nil {
			out.Printf("! %v\n> ", err)
			continue
		}
		// Let the answer appear before the next line is read, so a script
		// piped in keeps its turns; a ticket handed to an operator gets no
		// answer from the bot, and then the prompt comes back on its own.
		select {
		case <-shown:
		case <-time.After(5 * time.Second):
			out.Printf("> ")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	out.Printf("\n")
	return sc.Err()
}

// follow prints what the gateway sends to the contact as it arrives,
// signalling shown after each batch.
func (c *apiClient) follow(ctx context.Context, to, cursor string, out *lockedWriter, shown chan<- struct{}) {
	for ctx.Err() == nil {
		msgs, next, err := c.sent(ctx, to, cursor, 25*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			out.Printf("\n! %v\n> ", err)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
			continue
		}
		cursor = next
		if len(msgs) == 0 {
			continue
		}
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprintf(&b, "\n%s\n", m.Text)
			for _, a := range m.Attachments {
				// A document (the certificate PDF) is saved where the
				// person trying the bot can open it.
				path := filepath.Join(os.TempDir(), m.ID+"-"+filepath.Base(a.Name))
				if err := os.WriteFile(path, a.Data, 0o600); err != nil {
					fmt.Fprintf(&b, "! %v\n", err)
					continue
				}
				fmt.Fprintf(&b, "[%s, %d KB: %s]\n", a.Name, (len(a.Data)+1023)/1024, path)
			}
		}
		out.Printf("%s\n> ", b.String())
		select {
		case shown <- struct{}{}:
		default:
		}
	}
}

// lockedWriter keeps the reader goroutine's output and the prompt from
// interleaving mid-line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

// chatRefused explains the gateway's refusal of chat's first request: the
// usual cause is a chat pointed at another data directory than the running
// serve, whose local token that gateway has never seen.
func chatRefused(cfg config.Config, base string, explicitToken bool, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Status == http.StatusUnauthorized && !explicitToken:
		return fmt.Errorf("the gateway at %s does not know the chat token kept in %s: it runs with another data directory or database. Give chat the same --config/--data as the running serve (or --token)", base, absDir(cfg.DataDir))
	case ae.Status == http.StatusUnauthorized:
		return fmt.Errorf("the gateway at %s refused the token (unknown, revoked or disabled)", base)
	case ae.Code == "not_enabled":
		return fmt.Errorf("the gateway at %s runs without the simulator channel: start serve with LINDUNGI_SIMULATOR=true (simulator.enabled: true) to chat with the bot", base)
	}
	return err
}

func localChatToken(ctx context.Context, cfg config.Config) (string, error) {
	// Not chat.token: that one, from before the simulator had its own
	// role, holds an operator's token, which the simulator refuses.
	path := filepath.Join(cfg.DataDir, "simulator.token")
	if err := requireData(cfg); err != nil {
		return "", err
	}
	db, _, err := openStore(ctx, cfg, nil)
	if err != nil {
		return "", err
	}
	defer db.Close()
	acc := accounts.New(db)
	acc.TokenTTL = cfg.Accounts.TokenTTL.D()
	if b, err := os.ReadFile(path); err == nil {
		// Tokens expire (accounts.token_ttl): make a new one when it has.
		if _, err := acc.ByToken(ctx, strings.TrimSpace(string(b))); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	c, err := acc.Add(ctx, fmt.Sprintf("chat-cli-%d", time.Now().UnixNano()), accounts.Simulator)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(c.Token+"\n"), 0o600); err != nil {
		return "", err
	}
	return c.Token, nil
}

type apiClient struct {
	base, token string
}

func (c *apiClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		ae := &apiError{Method: method, Path: path, Status: resp.StatusCode}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
			ae.Code, ae.Message = body.Error.Code, body.Error.Message
		} else {
			ae.Message = strings.TrimSpace(string(b))
		}
		return ae
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// apiError is a gateway answer other than success, with its error code.
type apiError struct {
	Method, Path  string
	Status        int
	Code, Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

func (c *apiClient) post(ctx context.Context, path string, body any) error {
	return c.do(ctx, http.MethodPost, path, body, nil)
}

type simMessage struct {
	Seq         int64  `json:"seq"`
	ID          string `json:"id"`
	Text        string `json:"text"`
	Attachments []struct {
		Name string `json:"name"`
		Data []byte `json:"data"`
	} `json:"attachments"`
}

func (c *apiClient) sent(ctx context.Context, to, after string, wait time.Duration) ([]simMessage, string, error) {
	q := url.Values{"to": {to}}
	if after != "" {
		q.Set("after", after)
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out struct {
		Messages   []simMessage `json:"messages"`
		NextCursor string       `json:"next_cursor"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/simulator/messages?"+q.Encode(), nil, &out)
	return out.Messages, out.NextCursor, err
}

// cmdJobs lists the jobs or runs one now, with the same code the scheduler
// runs (for an outside scheduler, or an operator in a hurry).
func cmdJobs(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	cfg.WhatsApp.Enabled = false // never connect from a one-off command
	if err := requireData(cfg); err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	return jobs.Command(ctx, a.scheduler, args, stdout)
}

// cmdWhatsApp pairs the gateway's WhatsApp account: QR codes are drawn on
// stdout as they rotate (or, with --phone, a code to type on the phone), and
// the command returns once the device is linked.
//
// When a gateway already answers at the configured address it holds the
// WhatsApp connection (a second client on the same session would fight
// it), so the command pairs through that gateway's API with an admin
// token; only when none runs does it connect by itself.
func cmdWhatsApp(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pair" {
		return fmt.Errorf("usage: lindungi whatsapp pair [--phone +6281110500567] [--token ADMIN_TOKEN]")
	}
	fs := flag.NewFlagSet("whatsapp pair", flag.ContinueOnError)
	fs.SetOutput(stdout)
	phone := fs.String("phone", "", "pair by a code typed on this phone instead of scanning a QR")
	token := fs.String("token", "", "an admin's API token, to pair through the running gateway (default: LINDUNGI_TOKEN)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *token == "" { // read after parsing so that --help never prints it
		*token = os.Getenv("LINDUNGI_TOKEN")
	}
	if gw := (&apiClient{base: gatewayURL(cfg)}); gw.reachable(ctx) == nil {
		return pairThroughGateway(ctx, gw, *token, *phone, stdout)
	}
	if err := requireDataDir(cfg); err != nil {
		return err
	}
	cfg.WhatsApp.Enabled = true
	cfg.Jobs.Enabled = false
	a, err := newApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	a.QROut = stdout
	if a.whatsapp == nil {
		return fmt.Errorf("whatsapp pair links a device: it needs whatsapp.provider linked (the Cloud API needs no pairing)")
	}
	if st := a.whatsapp.Status(); st.JID != "" {
		fmt.Fprintf(stdout, "already paired as %s\n", st.JID)
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.whatsapp.Run(ctx, a.bot) }()
	askedCode := false
	for {
		select {
		case err := <-done:
			return fmt.Errorf("whatsapp: connection ended before pairing: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		st := a.whatsapp.Status()
		switch {
		case st.State == "connected" && st.JID != "":
			fmt.Fprintf(stdout, "paired as %s\n", st.JID)
			return nil
		case st.State == "logged_out":
			return fmt.Errorf("whatsapp: the phone refused the link (logged out)")
		case st.State == "pairing" && *phone != "" && !askedCode:
			askedCode = true
			code, err := a.whatsapp.PairPhone(ctx, *phone)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "On the phone: WhatsApp → Linked devices → Link with phone number, then type: %s\n", code)
		}
	}
}

// pairThroughGateway follows the running gateway's pairing status: each
// new QR code is drawn, or the phone code asked for and printed.
func pairThroughGateway(ctx context.Context, c *apiClient, token, phone string, stdout io.Writer) error {
	if token == "" {
		return fmt.Errorf("a gateway runs at %s and holds the WhatsApp connection: pair through it with an admin token "+
			"(lindungi whatsapp pair --token TOKEN; `lindungi user add --role admin NAME` prints one), "+
			"or log in to the console as admin and scan %s/api/v1/whatsapp/qr.png", c.base, c.base)
	}
	c.token = token
	fmt.Fprintf(stdout, "Pairing through the gateway at %s.\n", c.base)
	var lastQR, lastState string
	asked := false
	for {
		var st struct{ State, JID, QR string }
		if err := c.do(ctx, http.MethodGet, "/api/v1/whatsapp/status", nil, &st); err != nil {
			var ae *apiError
			switch {
			case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
				return fmt.Errorf("the gateway at %s runs without WhatsApp (whatsapp.enabled is false)", c.base)
			case errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden):
				return fmt.Errorf("the gateway at %s refused the token: pairing needs an admin's token", c.base)
			}
			return err
		}
		if st.State != lastState && st.State != "pairing" && st.State != "connected" {
			// A replica that does not hold the WhatsApp lock never shows a QR.
			fmt.Fprintf(stdout, "WhatsApp at this gateway: %s (waiting for a pairing code; with several replicas only the one holding WhatsApp has one)\n", st.State)
		}
		lastState = st.State
		switch {
		case st.State == "connected" && st.JID != "":
			fmt.Fprintf(stdout, "paired as %s\n", st.JID)
			return nil
		case st.State == "logged_out":
			return fmt.Errorf("whatsapp: the phone refused the link (logged out)")
		case phone != "" && st.State == "pairing" && !asked:
			asked = true
			var out struct{ Code string }
			if err := c.do(ctx, http.MethodPost, "/api/v1/whatsapp/pair-phone", map[string]string{"phone": phone}, &out); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "On the phone: WhatsApp → Linked devices → Link with phone number, then type: %s\n", out.Code)
		case phone == "" && st.QR != "" && st.QR != lastQR:
			lastQR = st.QR
			q, err := qrcode.New(st.QR, qrcode.Low)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Scan with the Ministry's phone: WhatsApp → Linked devices → Link a device.\n%s\n", q.ToSmallString(false))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

const tracingUsage = `usage: lindungi tracing score [--calibration FILE] [--min-minutes N] [--near-db DB] [--medium-db DB] < readings.jsonl
       lindungi tracing eval DIR [--calibration FILE] [--min-minutes N] [--near-db DB] [--medium-db DB]
Settings not given as flags come from the configuration (--config, LINDUNGI_TRACING_*), as for serve.`

func cmdTracing(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "score" && args[0] != "eval") {
		return errors.New(tracingUsage)
	}
	sub := args[0]
	o := app.ScoreOptions(cfg.Tracing)
	if sub == "eval" {
		// The truth counts 10 minutes; production's threshold (15) is one
		// flag away.
		o.MinMinutes = campaign.TruthMinutes
	}
	fs := flag.NewFlagSet("tracing "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.CalibrationFile, "calibration", o.CalibrationFile, "GAEN calibration CSV (per device model tx power and RSSI correction)")
	fs.Float64Var(&o.MinMinutes, "min-minutes", o.MinMinutes, "weighted minutes that make a close contact")
	fs.Float64Var(&o.NearDB, "near-db", o.NearDB, "attenuation threshold of the near bucket, dB")
	fs.Float64Var(&o.MediumDB, "medium-db", o.MediumDB, "attenuation threshold of the medium bucket, dB")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return fmt.Errorf("%w\n%s", err, tracingUsage)
	}
	if sub == "score" {
		if fs.NArg() != 0 {
			return errors.New(tracingUsage)
		}
		return tracing.ScoreCommand(stdin, stdout, o)
	}
	if fs.NArg() != 1 {
		return errors.New(tracingUsage)
	}
	return tracing.EvalCommand(fs.Arg(0), stdout, o)
}

func cmdCertificate(args []string, stdin io.Reader, stdout io.Writer) error {
	const use = "usage: lindungi certificate verify --trust CERT [--at RFC3339] < QR-STRING"
	if len(args) == 0 || args[0] != "verify" {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("certificate verify", flag.ContinueOnError)
	trust := fs.String("trust", "", "signer certificate(s): PEM, or one base64 DER certificate")
	at := fs.String("at", "", "check validity at this time instead of now (RFC 3339)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *trust == "" || fs.NArg() != 0 {
		return errors.New(use)
	}
	when := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("--at: %w", err)
		}
		when = t
	}
	return certificate.VerifyCommand(stdin, stdout, *trust, when)
}

func cmdBot(args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "eval" {
		return fmt.Errorf("usage: lindungi bot eval FILE   (JSON lines {\"text\",\"intent\"}; - for stdin)")
	}
	var r io.Reader = os.Stdin
	if args[1] != "-" {
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	rep, err := intent.Evaluate(r, intent.NewMatcher())
	if err != nil {
		return err
	}
	return rep.Write(stdout)
}
