package main

import (
	"context"
	"fmt"

	"lindungi/channels/email"
)

// wireFeatures adds the optional features (e-mail, WhatsApp, Sijejak, jobs,
// privacy) to the app. Each is off when its configuration says so.
func (a *App) wireFeatures(ctx context.Context) error {
	if err := a.wireEmail(); err != nil {
		return err
	}
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
