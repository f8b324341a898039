package main

import (
	"context"
	"fmt"

	"lindungi/channels/email"
	"lindungi/tracing"
	"lindungi/tracing/score"
	"lindungi/web"
)

// wireFeatures adds the optional features (e-mail, WhatsApp, Sijejak, jobs,
// privacy) to the app. Each is off when its configuration says so.
func (a *App) wireFeatures(ctx context.Context) error {
	if err := a.wireEmail(); err != nil {
		return err
	}
	if err := a.wireTracing(ctx); err != nil {
		return err
	}
	return nil
}

// wireTracing starts Sijejak's server side: its phone API, the officers'
// case route, and the bot's hooks for SIJEJAK codes and consent answers.
func (a *App) wireTracing(ctx context.Context) error {
	if !a.cfg.Tracing.Enabled {
		return nil
	}
	t := a.cfg.Tracing
	p := score.Params{MinMinutes: t.MinMinutes, NearDB: t.NearDB, MediumDB: t.MediumDB, NearWeight: t.NearWeight, MediumWeight: t.MediumWeight}
	if t.CalibrationFile != "" {
		c, err := score.LoadCalibration(t.CalibrationFile)
		if err != nil {
			return fmt.Errorf("tracing.calibration_file: %w", err)
		}
		p.Calibration = c
	}
	svc, err := tracing.NewService(ctx, a.db, a.sealer, a.outbox, tracing.Config{
		Channel: t.Channel, WhatsAppNumber: t.WhatsAppNumber, Score: p,
	}, a.log.With("component", "tracing"))
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if err := svc.RegisterMetrics(a.registry); err != nil {
		return err
	}
	a.tracing = svc
	a.bot.Tracing = svc
	a.web.Extra = append(a.web.Extra, web.TracingRoutes(svc))
	return nil
}

// wireEmail reads the configured mailboxes; the e-mail channel elects its
// own per-mailbox leader on PostgreSQL, so it runs as a background component.
func (a *App) wireEmail() error {
	if len(a.cfg.Email.Mailboxes) == 0 {
		return nil
	}
	ec := email.Config{MaxMessageBytes: a.cfg.Email.MaxMessageBytes, AutoReplyLimit: a.cfg.Email.AckRatePerHour}
	for _, m := range a.cfg.Email.Mailboxes {
		ec.Mailboxes = append(ec.Mailboxes, email.MailboxConfig{
			Address: m.Address, IMAPURL: m.IMAPURL, Username: m.Username, Password: m.Password, PasswordFile: m.PasswordFile,
			OAuth2TokenFile: m.OAuth2TokenFile, Folder: m.Folder, AfterImport: m.AfterImport, SMTPURL: m.SMTPURL,
			Retired: m.Retired, Notice: m.Notice,
		})
	}
	ch, err := email.New(ec, a.db, a.log.With("channel", "email"))
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	a.outbox.Register(ch)
	a.background = append(a.background, func(ctx context.Context) error { return ch.Run(ctx, a.bot) })
	return nil
}
