package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"lindungi/channels"
)

// Send delivers one outbox message over SMTP from the mailbox named by
// msg.From (or the first mailbox with an smtp_url). How many
// acknowledgements and notices a sender gets is the bot's rule
// (email.ack_rate_per_hour, counted in the outbox across replicas), decided
// before a row is queued.
func (c *Channel) Send(ctx context.Context, msg channels.Outbound) error {
	to, err := mail.ParseAddress(msg.To)
	if err != nil || !strings.Contains(to.Address, "@") {
		return fmt.Errorf("email: recipient is not an e-mail address: %w", channels.ErrPermanent)
	}
	box, ok := c.sendingMailbox(msg.From)
	if !ok {
		ce := &configError{causeNoRelay, errors.New("no mailbox has an smtp_url")}
		c.sends.failed(ctx, c.log, "", msg, ce, c.now())
		return ce
	}
	raw, err := c.BuildMessage(msg, box.Address)
	if err != nil {
		return fmt.Errorf("email: build message: %w: %w", err, channels.ErrPermanent)
	}
	if err := c.submit(ctx, box, to.Address, raw); err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			c.sends.failed(ctx, c.log, box.Address, msg, ce, c.now())
		}
		return err
	}
	c.sends.ok(box.Address)
	c.log.Info("email: sent", "channel", channels.Email, "kind", msg.Kind, "outbox_id", msg.ID, "ticket", msg.TicketID)
	return nil
}

func (c *Channel) sendingMailbox(from string) (MailboxConfig, bool) {
	from = strings.ToLower(strings.TrimSpace(from))
	if a, err := mail.ParseAddress(from); err == nil {
		from = strings.ToLower(a.Address)
	}
	// The named mailbox unless it is retired, else the first active one
	// (the address the citizen should use from now on), else, when only
	// retired mailboxes can send, the first of those: an answer from the
	// old address beats no answer.
	var first, firstRetired *MailboxConfig
	for i := range c.cfg.Mailboxes {
		m := &c.cfg.Mailboxes[i]
		if m.SMTPURL == "" {
			continue
		}
		if m.Address == from && !m.Retired {
			return *m, true
		}
		if first == nil && !m.Retired {
			first = m
		}
		if firstRetired == nil && m.Retired {
			firstRetired = m
		}
	}
	if first == nil {
		first = firstRetired
	}
	if first == nil {
		return MailboxConfig{}, false
	}
	return *first, true
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9!#$%&'*+/=?^_{|}~.-]`)

// OutboundMessageID is the Message-ID (without brackets) Send gives an
// outbox row: "<outboxID>.<ticket number>@<domain>", or "<outboxID>@<domain>"
// when the message is not about a ticket. It is the same on every resend.
func OutboundMessageID(outboxID, ticketNumber, domain string) string {
	left := idUnsafe.ReplaceAllString(outboxID, "-")
	if left == "" {
		left = "x"
	}
	if ticketNumber != "" {
		left += "." + idUnsafe.ReplaceAllString(ticketNumber, "-")
	}
	return left + "@" + domain
}

// BuildMessage renders msg as an RFC 5322 message sent from fromAddr.
func (c *Channel) BuildMessage(msg channels.Outbound, fromAddr string) ([]byte, error) {
	ticket := msg.Meta["ticket_number"]
	var h gomail.Header
	h.SetDate(c.now())
	h.SetAddressList("From", []*gomail.Address{{Name: c.cfg.FromName, Address: fromAddr}})
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, err
	}
	h.SetAddressList("To", []*gomail.Address{{Name: to.Name, Address: to.Address}})
	h.SetSubject(replySubject(msg.Subject, msg.InReplyTo != "", ticket))
	h.SetMessageID(OutboundMessageID(msg.ID, ticket, c.cfg.Domain))
	if msg.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{strings.Trim(msg.InReplyTo, "<> ")})
	}
	var refs []string
	seen := map[string]bool{}
	for _, r := range append(append([]string(nil), msg.References...), msg.InReplyTo) {
		r = strings.Trim(strings.TrimSpace(r), "<>")
		if r != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	if len(refs) > 0 {
		h.SetMsgIDList("References", refs)
	}
	switch msg.Kind {
	case "ack":
		h.Set("Auto-Submitted", "auto-replied")
	case "notice", "otp", "prompt", "export":
		h.Set("Auto-Submitted", "auto-generated")
	}
	// Ask Exchange/Outlook not to answer with out-of-office or receipts.
	h.Set("X-Auto-Response-Suppress", "All")
	if ticket != "" {
		h.Set("X-Lindungi-Ticket", ticket)
	}

	var buf bytes.Buffer
	text := strings.ReplaceAll(msg.Text, "\r\n", "\n")
	textHeader := func() gomail.InlineHeader {
		var th gomail.InlineHeader
		th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		th.Set("Content-Transfer-Encoding", "quoted-printable")
		return th
	}
	if len(msg.Attachments) == 0 {
		th := textHeader()
		for f := th.Fields(); f.Next(); {
			h.Set(f.Key(), f.Value())
		}
		w, err := gomail.CreateSingleInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		io.WriteString(w, text)
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	tw, err := mw.CreateSingleInline(textHeader())
	if err != nil {
		return nil, err
	}
	io.WriteString(tw, text)
	tw.Close()
	for _, a := range msg.Attachments {
		var ah gomail.AttachmentHeader
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		ah.SetContentType(ct, nil)
		ah.SetFilename(safeFileName(a.Name, ct, 1))
		ah.Set("Content-Transfer-Encoding", "base64")
		aw, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		aw.Write(a.Data)
		aw.Close()
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var rePrefix = regexp.MustCompile(`(?i)^\s*(re|aw|balas|sv|antw)\s*:`)

// replySubject is "Re: <subject> [PL-…]": one Re:, one tag.
func replySubject(s string, reply bool, ticket string) string {
	s = oneLine(s)
	if s == "" {
		s = "Pengaduan PeduliLindungi"
	}
	if reply && !rePrefix.MatchString(s) {
		s = "Re: " + s
	}
	if ticket != "" && TicketTag(s) != ticket {
		s += " [" + ticket + "]"
	}
	return s
}

// submit runs one SMTP session under the context and the command timeout.
func (c *Channel) submit(ctx context.Context, box MailboxConfig, rcpt string, raw []byte) error {
	su, err := parseServerURL(box.SMTPURL, "smtp")
	if err != nil {
		return fmt.Errorf("email: smtp_url: %w", channels.ErrNotReady)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CommandTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", su.Addr)
	if err != nil {
		return fmt.Errorf("email: connect to SMTP server: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	tlsCfg := c.tlsConfig(su.Host)
	var cl *smtp.Client
	switch {
	case su.TLS:
		cl = smtp.NewClient(tls.Client(conn, tlsCfg))
	case su.StartTLS:
		cl, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			conn.Close()
			return fmt.Errorf("email: SMTP STARTTLS: %w", err)
		}
	default:
		cl = smtp.NewClient(conn)
	}
	defer cl.Close()
	if err := cl.Hello(c.cfg.Domain); err != nil {
		return fmt.Errorf("email: SMTP hello: %w", err)
	}
	if err := c.login(cl, box, su); err != nil {
		return err
	}
	if err := cl.Mail(box.Address, &smtp.MailOptions{Size: int64(len(raw))}); err != nil {
		return smtpErr("MAIL FROM", err)
	}
	if err := cl.Rcpt(rcpt, nil); err != nil {
		return smtpErr("RCPT TO", err)
	}
	w, err := cl.Data()
	if err != nil {
		return smtpErr("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return smtpErr("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpErr("DATA", err)
	}
	_ = cl.Quit()
	return nil
}

// smtpErr maps a 5xx reply to ErrPermanent; 4xx and network errors retry.
func smtpErr(stage string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		switch se.Code {
		case 530, 534, 535, 538:
			// Authentication required/failed: our configuration, not the
			// recipient. Keep the message queued.
			return &configError{causeAuthRequired, fmt.Errorf("SMTP %s: the relay wants a login (smtp_auth): %w", stage, err)}
		}
	}
	if se != nil && se.Code >= 500 && se.Code < 600 {
		return fmt.Errorf("email: %s rejected (%d): %w", stage, se.Code, channels.ErrPermanent)
	}
	return fmt.Errorf("email: %s: %w", stage, err)
}

// login authenticates when the relay offers AUTH and the mailbox has
// credentials for its smtp_auth mechanism. A relay that offers no AUTH
// (Postfix for its trusted networks, most corporate relays) accepts us by
// address: the mail goes without a login, and if the relay wanted one after
// all, MAIL FROM answers 530 (auth_required).
func (c *Channel) login(cl *smtp.Client, box MailboxConfig, su serverURL) error {
	mode := smtpAuthMode(box, su)
	if mode == SMTPAuthNone {
		return nil
	}
	offered, mechs := cl.Extension("AUTH")
	if !offered {
		return nil
	}
	auth, mech, err := smtpAuth(mode, box, su)
	if err != nil {
		return &configError{causeSecret, err}
	}
	if !slices.Contains(strings.Fields(strings.ToUpper(mechs)), mech) {
		return &configError{causeAuthMechanism, fmt.Errorf("the SMTP relay offers AUTH %s, not %s (smtp_auth)", mechs, mech)}
	}
	if err := cl.Auth(auth); err != nil {
		return &configError{causeAuthRejected, fmt.Errorf("SMTP login refused: %w", err)}
	}
	return nil
}

// smtpAuthMode is the mailbox's smtp_auth, or by default what is
// configured: a token file means xoauth2, a password plain, else none.
func smtpAuthMode(box MailboxConfig, su serverURL) string {
	if box.SMTPAuth != "" {
		return box.SMTPAuth
	}
	switch {
	case box.OAuth2TokenFile != "":
		return SMTPAuthXOAuth2
	case box.Password != "" || box.PasswordFile != "" || su.Pass != "":
		return SMTPAuthPlain
	}
	return SMTPAuthNone
}

// smtpAuth builds the SASL client of mode (plain or xoauth2), reading the
// secrets fresh so rotated files take effect.
func smtpAuth(mode string, box MailboxConfig, su serverURL) (sasl.Client, string, error) {
	user, pass := box.Username, ""
	if su.User != "" {
		user, pass = su.User, su.Pass
	}
	p, tok, err := box.secret()
	if err != nil {
		return nil, "", err
	}
	if pass == "" {
		pass = p
	}
	if mode == SMTPAuthXOAuth2 {
		if tok == "" {
			return nil, "", errors.New("oauth2_token_file is empty")
		}
		return xoauth2{user, tok}, "XOAUTH2", nil
	}
	if pass == "" {
		return nil, "", errors.New("the SMTP password is empty")
	}
	return sasl.NewPlainClient("", user, pass), "PLAIN", nil
}

func (c *Channel) tlsConfig(host string) *tls.Config {
	if c.cfg.TLS != nil {
		t := c.cfg.TLS.Clone()
		if t.ServerName == "" {
			t.ServerName = host
		}
		return t
	}
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}
