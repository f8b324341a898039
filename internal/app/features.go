package app

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"lindungi/accounts"
	"lindungi/bot"
	"lindungi/certificate"
	"lindungi/channels"
	"lindungi/channels/email"
	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/config"
	"lindungi/jobs"
	"lindungi/privacy"
	"lindungi/registry"
	"lindungi/selfservice"
	"lindungi/store"
	"lindungi/tickets"
	"lindungi/tracing"
	"lindungi/web"
)

// wireFeatures adds the optional features (e-mail, WhatsApp, Sijejak, jobs,
// privacy) to the app. Each is off when its configuration says so.
func (a *App) wireFeatures(ctx context.Context) error {
	if err := a.wireWhatsApp(); err != nil {
		return err
	}
	if err := a.wireEmail(); err != nil {
		return err
	}
	a.wireTracing()
	if err := a.wireCertificate(); err != nil {
		return err
	}
	return a.wireJobs()
}

// wireCertificate opens the public GET /verify page, which trusts the
// gateway's own signer.
func (a *App) wireCertificate() error {
	a.Web.Extra = append(a.Web.Extra, web.VerifyRoutes([]*x509.Certificate{a.Signer.Certificate()}))
	return nil
}

// newSelfService loads the certificate signer (the configured key, or a
// demo pair generated in the data directory) and, when a registry is
// configured, the self-service the bot hands status and certificate
// requests to. It runs before the bot is made.
func (a *App) newSelfService() error {
	c := a.Config.Certificate
	signer, err := certificate.OpenSigner(c.SigningKeyFile, c.SignerCertFile, a.Config.DataDir, c.Validity.D())
	if err != nil {
		return err
	}
	if c.SigningKeyFile == "" {
		a.Log.Warn("certificate: no signing key configured; certificates are signed with a generated demo key that no verifier outside this gateway trusts")
	}
	a.Signer = signer
	r := a.Config.Registry
	if r.BaseURL == "" {
		return nil
	}
	secret, err := os.ReadFile(r.ClientSecretFile)
	if err != nil {
		return fmt.Errorf("registry.client_secret_file: %w", err)
	}
	log := a.Log.With("component", "selfservice")
	reg := registry.NewFHIR(registry.Config{BaseURL: r.BaseURL, TokenURL: r.TokenURL, ClientID: r.ClientID,
		ClientSecret: strings.TrimSpace(string(secret)), Timeout: r.Timeout.D(), CacheTTL: r.CacheTTL.D()}, log)
	var demo []string
	for _, ch := range strings.Split(a.Config.SelfService.DemoChannels, ",") {
		if ch = strings.TrimSpace(ch); ch != "" {
			demo = append(demo, ch)
		}
	}
	a.SelfService = selfservice.New(a.DB, a.Sealer, a.Tickets, a.Outbox, reg, signer, selfservice.Config{
		DemoChannels: demo, VerifyURL: strings.TrimRight(a.Config.PublicURL, "/") + "/verify",
	}, log)
	a.SelfService.Register(a.Registry)
	a.background = append(a.background, a.SelfService.Run)
	return nil
}

// selfServiceHolder hands data-subject requests to self-service: its
// sender rows (attempt counts, a pending code with a sealed NIK) and the
// requests still waiting for the registry.
type selfServiceHolder struct{ s *selfservice.Service }

func (h selfServiceHolder) Name() string { return "selfservice" }
func (h selfServiceHolder) Export(ctx context.Context, s privacy.Subject) (any, error) {
	senders, err := h.s.ExportSenders(ctx, s.Addresses)
	if err != nil {
		return nil, err
	}
	waiting, err := h.s.ExportPending(ctx, s.ContactIDs)
	if err != nil {
		return nil, err
	}
	return map[string]any{"senders": senders, "waitingRequests": waiting}, nil
}
func (h selfServiceHolder) Erase(ctx context.Context, tx *store.Tx, s privacy.Subject) (int64, error) {
	n, err := h.s.EraseSenders(ctx, tx, s.Addresses)
	if err != nil {
		return n, err
	}
	k, err := h.s.ErasePending(ctx, tx, s.ContactIDs)
	return n + k, err
}

// selfServiceAdapter is self-service as the bot sees it.
type selfServiceAdapter struct{ s *selfservice.Service }

func (x selfServiceAdapter) Takes(channel, category string) bool {
	return x.s.Serves(channel, category)
}

func (x selfServiceAdapter) IsCode(channel, text string) (string, bool) {
	if !x.s.Serves(channel, tickets.VaccinationStatus) {
		return "", false
	}
	return selfservice.IsCode(text)
}

func (x selfServiceAdapter) Checking(lang string) string { return selfservice.Checking(lang) }

func (x selfServiceAdapter) Annotates(channel, category string) bool {
	return category == tickets.ChangeData && x.s.Serves(channel, tickets.VaccinationStatus)
}

func (x selfServiceAdapter) Queue(ctx context.Context, tx *store.Tx, op string, r bot.SelfRequest, code string, ticketID int64) error {
	ops := map[string]string{bot.SelfLookup: selfservice.OpLookup, bot.SelfCode: selfservice.OpCode, bot.SelfAnnotate: selfservice.OpAnnotate}
	return x.s.Queue(ctx, tx, ops[op], selfservice.Request{Kind: r.Kind, Channel: r.Channel, From: r.From, ContactID: r.ContactID, Lang: r.Lang, Fields: r.Fields}, code, ticketID)
}

func (x selfServiceAdapter) Nudge() { x.s.Nudge() }

// newPrivacy makes the data-subject service: its requests reach every
// holder of personal data (the owners of the gateway's tables, Sijejak
// through its holder).
func (a *App) newPrivacy() {
	var holders []privacy.Holder
	if a.Tracing != nil {
		holders = append(holders, tracingHolder{tracing.PrivacyHolder{S: a.Tracing}})
	}
	if a.SelfService != nil {
		holders = append(holders, selfServiceHolder{a.SelfService})
	}
	a.Privacy = privacy.New(a.DB, a.Sealer, a.Log.With("component", "privacy"), holders...)
}

// wireJobs adds the privacy routes and the scheduler, which runs the
// retention jobs on the leader replica.
func (a *App) wireJobs() error {
	a.Web.Extra = append(a.Web.Extra, web.PrivacyRoutes(a.Privacy))

	loc, err := time.LoadLocation(a.Config.Jobs.Timezone)
	if err != nil {
		return fmt.Errorf("jobs.timezone: %w", err)
	}
	host, _ := os.Hostname()
	// Replicas often share a host name (containers, tests): the PID tells
	// them apart in job_runs.
	node := fmt.Sprintf("%s:%d", host, os.Getpid())
	sched, err := jobs.New(a.DB, jobs.Options{Location: loc, Schedule: a.Config.Jobs.Schedule, Registerer: a.Registry, Log: a.Log, Node: node})
	if err != nil {
		return err
	}
	deps := jobs.Deps{}
	if ch, ok := a.Outbox.Channel("whatsapp"); ok {
		deps.WhatsApp = func() string { return string(ch.State()) }
	}
	jc := jobs.Config{
		TicketRetention: a.Config.Jobs.TicketRetention.D(), OutboxRetention: a.Config.Jobs.OutboxRetention.D(),
	}.Resolved()
	if err := registerAll(sched, a.standardJobs(jc, deps)); err != nil {
		return err
	}
	if unknown := sched.UnknownSchedules(); len(unknown) > 0 {
		return fmt.Errorf("jobs.schedule names unknown jobs: %v (see lindungi jobs list)", unknown)
	}
	a.Scheduler = sched
	a.Web.Jobs = sched
	// A run an admin started from the console outlives its request, not
	// the process: stopping the scheduler (again, when Run already did)
	// waits for it, then cancels it, before the database closes.
	a.closers = append(a.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := sched.Stop(ctx); err != nil {
			a.Log.Warn("scheduler stop", "err", err)
		}
	})
	if a.Config.Jobs.Enabled {
		a.background = append(a.background, func(ctx context.Context) error { return sched.Run(ctx, 30*time.Second) })
	}
	return nil
}

// standardJobs are the gateway's scheduled jobs: each package that owns
// tables contributes its own (retention, clean-up, escalation) and
// housekeeping gathers the small sweeps of several owners in one run.
func (a *App) standardJobs(cfg jobs.Config, deps jobs.Deps) []jobs.Job {
	js := jobs.Builtin(a.DB, cfg, deps)
	if a.Tracing != nil {
		js = append(js, a.Tracing.Jobs()...)
	}
	if a.SelfService != nil {
		js = append(js, a.SelfService.Jobs()...)
	}
	sweeps := []jobs.Sweep{accounts.SessionSweep(), tickets.ChatKeySweep(a.DB), channels.DeadSweep(cfg.OutboxRetention)}
	if a.Cloud != nil {
		sweeps = append(sweeps, cloud.Sweeps(cfg.OutboxRetention)...)
	}
	return append(js,
		a.Privacy.RetentionTickets(cfg.TicketRetention), a.Privacy.DSRDeadline(),
		a.Tickets.SLAEscalation(),
		channels.OutboxCleanup(a.DB, cfg.OutboxRetention),
		jobs.Housekeeping(a.DB, sweeps...),
	)
}

// tracingHolder adapts Sijejak's holder (keyed by phone numbers) to the
// privacy package's Subject.
type tracingHolder struct{ h tracing.PrivacyHolder }

func (t tracingHolder) Name() string { return t.h.Name() }
func (t tracingHolder) Export(ctx context.Context, s privacy.Subject) (any, error) {
	return t.h.Export(ctx, s.Phones)
}
func (t tracingHolder) Erase(ctx context.Context, tx *store.Tx, s privacy.Subject) (int64, error) {
	return t.h.Erase(ctx, tx, s.Phones)
}

// newTracing makes Sijejak's server side when it is enabled (the bot
// takes it for SIJEJAK codes and consent answers).
func (a *App) newTracing(ctx context.Context) error {
	if !a.Config.Tracing.Enabled {
		return nil
	}
	t := a.Config.Tracing
	p, err := ScoreOptions(t).Params()
	if err != nil {
		return fmt.Errorf("tracing.calibration_file: %w", err)
	}
	svc, err := tracing.NewService(ctx, a.DB, a.Sealer, a.Outbox, tracing.Config{
		Channel: t.Channel, WhatsAppNumber: t.WhatsAppNumber, Score: p, UploadsPerDevice: t.UploadsPerDeviceHour,
	}, a.Log.With("component", "tracing"))
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if err := svc.RegisterMetrics(a.Registry); err != nil {
		return err
	}
	a.Tracing = svc
	return nil
}

// wireTracing adds Sijejak's phone API and the officers' case route.
func (a *App) wireTracing() {
	if a.Tracing != nil {
		a.Web.Tracing = a.Tracing
		a.Web.Extra = append(a.Web.Extra, web.TracingRoutes(a.Tracing))
	}
}

// wireWhatsApp adds the linked-device connection. It runs as a singleton
// (leader lock "whatsapp"): two processes on one session would make
// WhatsApp replace one stream with the other, endlessly.
func (a *App) wireWhatsApp() error {
	if !a.Config.WhatsApp.Enabled {
		return nil
	}
	w := a.Config.WhatsApp
	if w.Provider == "cloud" {
		return a.wireWhatsAppCloud()
	}
	ch, err := whatsapp.New(whatsapp.Config{
		Enabled: true, AccountPhone: w.Phone, MaxMediaBytes: w.MaxMediaBytes, AcceptGroups: a.Config.Bot.AllowGroups,
		SendMinGap: w.RecipientGap.D(), OnQR: a.ShowQR, TestServer: a.opts.WhatsAppTestServer,
	}, a.DB.SQL, string(a.DB.Dialect()), a.Log)
	if err != nil {
		return err
	}
	a.WhatsApp = ch
	a.Web.WhatsApp = ch
	a.Outbox.Register(ch)
	a.runners = append(a.runners, namedRunner{name: "whatsapp", runner: ch})
	a.Web.Extra = append(a.Web.Extra, web.WhatsAppRoutes(ch))
	return nil
}

// wireWhatsAppCloud adds the Cloud API provider. Unlike the linked device
// it holds no connection, so nothing is elected: every replica takes
// webhooks, and the outbox's claims (SKIP LOCKED) keep each send single.
func (a *App) wireWhatsAppCloud() error {
	cc := a.Config.WhatsApp.Cloud
	secret := func(key, path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("whatsapp.cloud.%s: %w", key, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("whatsapp.cloud.%s: the file is empty", key)
		}
		return v, nil
	}
	token, err := secret("access_token_file", cc.AccessTokenFile)
	if err != nil {
		return err
	}
	appSecret, err := secret("app_secret_file", cc.AppSecretFile)
	if err != nil {
		return err
	}
	verify, err := secret("verify_token_file", cc.VerifyTokenFile)
	if err != nil {
		return err
	}
	templates := map[string]cloud.Template{}
	for purpose, t := range cc.Templates {
		templates[purpose] = cloud.Template{Name: t.Name, Params: t.Params, Languages: t.Languages}
	}
	ch, err := cloud.New(cloud.Config{
		PhoneNumberID: cc.PhoneNumberID, BusinessAccountID: cc.BusinessAccountID,
		AccessToken: token, AppSecret: appSecret, VerifyToken: verify,
		APIURL: cc.APIURL, APIVersion: cc.APIVersion, Templates: templates,
		MaxMediaBytes: a.Config.WhatsApp.MaxMediaBytes, MaxWebhookBytes: a.Config.MaxBodyBytes * 4,
		DailyConversations: cc.DailyConversations,
	}, a.DB, a.Outbox, a.Log)
	if err != nil {
		return err
	}
	if a.opts.CloudClock != nil {
		ch.Now = a.opts.CloudClock
	}
	a.Cloud = ch
	a.Web.WhatsAppCloud = ch
	a.background = append(a.background, func(ctx context.Context) error { return ch.Run(ctx, 15*time.Minute) })
	a.Outbox.Register(ch)
	a.Registry.MustRegister(ch)
	a.Web.Extra = append(a.Web.Extra, web.WhatsAppCloudRoutes(ch, a.Bot))
	return nil
}

// ShowQR puts a pairing code where the operator looks: the terminal (as a
// QR drawn in characters) and the console's pairing page (via Status). In
// JSON log mode there is no terminal to draw on: the log line says where
// the PNG is. The code itself is not logged as a field: it would link a
// device.
func (a *App) ShowQR(code string) {
	if a.QROut == nil {
		a.Log.Warn("WhatsApp is not paired: log in to the console as admin and scan the QR at /api/v1/whatsapp/qr.png with the Ministry's phone (WhatsApp → Linked devices), or pair by code with POST /api/v1/whatsapp/pair-phone",
			"qr_png", strings.TrimRight(a.Config.PublicURL, "/")+"/api/v1/whatsapp/qr.png")
		return
	}
	q, err := qrcode.New(code, qrcode.Low)
	if err != nil {
		return
	}
	a.Log.Warn("WhatsApp is not paired: scan the QR below with the Ministry's phone (WhatsApp → Linked devices), or use `lindungi whatsapp pair --phone`")
	fmt.Fprintln(a.QROut, q.ToSmallString(false))
}

// wireEmail reads the configured mailboxes; the e-mail channel elects its
// own per-mailbox leader on PostgreSQL, so it runs as a background component.
func (a *App) wireEmail() error {
	if len(a.Config.Email.Mailboxes) == 0 {
		return nil
	}
	// The per-sender acknowledgement limit is enforced once, by the bot,
	// before an acknowledgement is even queued (counted in the shared
	// database, so it holds across replicas); the channel's own in-memory
	// limiter is switched off so the rule has one home.
	ec := email.Config{MaxMessageBytes: a.Config.Email.MaxMessageBytes}
	for _, m := range a.Config.Email.Mailboxes {
		ec.Mailboxes = append(ec.Mailboxes, email.MailboxConfig{
			Address: m.Address, IMAPURL: m.IMAPURL, Username: m.Username, Password: m.Password, PasswordFile: m.PasswordFile,
			OAuth2TokenFile: m.OAuth2TokenFile, Folder: m.Folder, AfterImport: m.AfterImport, SMTPURL: m.SMTPURL,
			Retired: m.Retired, Notice: m.Notice, PollInterval: m.PollInterval.D(), Idle: m.Idle, SMTPAuth: m.SMTPAuth,
		})
	}
	ch, err := email.New(ec, a.DB, a.Log.With("channel", "email"))
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	a.Outbox.Register(ch)
	a.Registry.MustRegister(ch)
	a.background = append(a.background, func(ctx context.Context) error { return ch.Run(ctx, a.Bot) })
	return nil
}

func registerAll(s *jobs.Scheduler, js []jobs.Job) error {
	for _, j := range js {
		if err := s.Register(j); err != nil {
			return err
		}
	}
	return nil
}

// ScoreOptions maps the tracing.* keys onto the scorer's options: serve's
// matcher and the tracing commands read them from here alike.
func ScoreOptions(t config.Tracing) tracing.ScoreOptions {
	return tracing.ScoreOptions{CalibrationFile: t.CalibrationFile, MinMinutes: t.MinMinutes,
		NearDB: t.NearDB, MediumDB: t.MediumDB, NearWeight: t.NearWeight, MediumWeight: t.MediumWeight}
}
