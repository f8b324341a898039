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
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"lindungi/accounts"
	"lindungi/bot/intent"
	"lindungi/certificate"
	"lindungi/config"
	"lindungi/jobs"
	"lindungi/store"
	"lindungi/tracing"
)

func cmdServe(ctx context.Context, cfg config.Config, logw io.Writer) error {
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
	return a.Run(ctx)
}

func cmdMigrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir})
	if err != nil {
		return err
	}
	defer db.Close()
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
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", cfg.Listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: status %d", resp.StatusCode)
	}
	return nil
}

func cmdUser(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return fmt.Errorf("usage: lindungi user add --role ROLE NAME")
	}
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	role := fs.String("role", accounts.Operator, "operator | supervisor | health_officer | admin")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: lindungi user add --role ROLE NAME")
	}
	db, _, err := openStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := accounts.New(db).Add(ctx, fs.Arg(0), *role)
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
// local operator token kept in the data directory, created on first use:
// whoever can read the data directory already holds every secret.
func cmdChat(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	from := fs.String("from", "+6281200000001", "the simulated citizen's address")
	name := fs.String("name", "Warga Uji", "the simulated citizen's name")
	base := fs.String("url", "", "gateway URL (default: http://LISTEN)")
	token := fs.String("token", os.Getenv("LINDUNGI_TOKEN"), "operator API token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" {
		host, port, _ := net.SplitHostPort(cfg.Listen)
		if host == "" || host == "0.0.0.0" {
			host = "127.0.0.1"
		}
		*base = "http://" + net.JoinHostPort(host, port)
	}
	if *token == "" {
		t, err := localChatToken(ctx, cfg)
		if err != nil {
			return fmt.Errorf("chat needs an operator token (--token or LINDUNGI_TOKEN): %w", err)
		}
		*token = t
	}
	c := &apiClient{base: strings.TrimRight(*base, "/"), token: *token}
	var cursor string
	// Start after what was already sent to this contact.
	if _, next, err := c.sent(ctx, *from, "", 0); err == nil {
		cursor = next
	}
	fmt.Fprintf(stdout, "Terhubung ke %s sebagai %s. Ketik pesan (Ctrl-D untuk keluar).\n", c.base, *from)
	sc := bufio.NewScanner(stdin)
	for {
		fmt.Fprint(stdout, "> ")
		if !sc.Scan() {
			fmt.Fprintln(stdout)
			return sc.Err()
		}
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		if err := c.post(ctx, "/api/v1/simulator/messages", map[string]string{"from": *from, "name": *name, "text": text}); err != nil {
			fmt.Fprintln(stdout, "! ", err)
			continue
		}
		// Collect replies until the bot has been quiet for a moment.
		deadline := time.Now().Add(5 * time.Second)
		got := false
		for time.Now().Before(deadline) {
			wait := 3 * time.Second
			if got {
				wait = 400 * time.Millisecond
			}
			msgs, next, err := c.sent(ctx, *from, cursor, wait)
			if err != nil {
				fmt.Fprintln(stdout, "! ", err)
				break
			}
			cursor = next
			if len(msgs) == 0 {
				if got {
					break
				}
				continue
			}
			got = true
			for _, m := range msgs {
				fmt.Fprintf(stdout, "\n%s\n\n", m.Text)
				for _, a := range m.Attachments {
					// A document (the certificate PDF) is saved where the
					// person trying the bot can open it.
					path := filepath.Join(os.TempDir(), m.ID+"-"+filepath.Base(a.Name))
					if err := os.WriteFile(path, a.Data, 0o600); err != nil {
						fmt.Fprintln(stdout, "! ", err)
						continue
					}
					fmt.Fprintf(stdout, "[%s, %d KB: %s]\n\n", a.Name, (len(a.Data)+1023)/1024, path)
				}
			}
		}
	}
}

func localChatToken(ctx context.Context, cfg config.Config) (string, error) {
	path := filepath.Join(cfg.DataDir, "chat.token")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	db, _, err := openStore(ctx, cfg, nil)
	if err != nil {
		return "", err
	}
	defer db.Close()
	c, err := accounts.New(db).Add(ctx, fmt.Sprintf("chat-cli-%d", time.Now().Unix()), accounts.Operator)
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
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
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
func cmdWhatsApp(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pair" {
		return fmt.Errorf("usage: lindungi whatsapp pair [--phone +6281110500567]")
	}
	fs := flag.NewFlagSet("whatsapp pair", flag.ContinueOnError)
	phone := fs.String("phone", "", "pair by a code typed on this phone instead of scanning a QR")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg.WhatsApp.Enabled = true
	cfg.Jobs.Enabled = false
	a, err := newApp(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	a.qrOut = stdout
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

func cmdTracing(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "score" {
		return fmt.Errorf("usage: lindungi tracing score [--calibration FILE] [--min-minutes N] < readings.jsonl")
	}
	fs := flag.NewFlagSet("tracing score", flag.ContinueOnError)
	var o tracing.ScoreOptions
	fs.StringVar(&o.CalibrationFile, "calibration", "", "GAEN calibration CSV (per device model tx power and RSSI correction)")
	fs.Float64Var(&o.MinMinutes, "min-minutes", 0, "weighted minutes that make a close contact (default 15)")
	fs.Float64Var(&o.NearDB, "near-db", 0, "attenuation threshold of the near bucket, dB (default 55)")
	fs.Float64Var(&o.MediumDB, "medium-db", 0, "attenuation threshold of the medium bucket, dB (default 63)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	return tracing.ScoreCommand(stdin, stdout, o)
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
