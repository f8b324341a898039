package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"lindungi/channels"
)

// Send implements channels.Channel. msg.ID becomes the WhatsApp message ID,
// so a retry after a lost ack is the same message to WhatsApp.
func (c *Channel) Send(ctx context.Context, msg channels.Outbound) error {
	if !c.cfg.Enabled {
		return fmt.Errorf("whatsapp: disabled: %w", channels.ErrNotReady)
	}
	cli, err := c.client()
	if err != nil {
		return err
	}
	to, err := parseAddress(msg.To)
	if err != nil {
		return err
	}
	devs, err := cli.GetUserDevices(ctx, []types.JID{to})
	if err != nil {
		return c.sendErr(fmt.Errorf("whatsapp: device list: %w", err))
	}
	if len(devs) == 0 {
		return fmt.Errorf("whatsapp: recipient is not on WhatsApp: %w", channels.ErrPermanent)
	}
	parts, err := c.buildMessages(ctx, cli, to, msg)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := c.pace.wait(ctx, to.String()); err != nil {
			return err
		}
		_, err := cli.SendMessage(ctx, to, p.msg, whatsmeow.SendRequestExtra{ID: p.id, Timeout: c.cfg.SendTimeout})
		if err != nil {
			return c.sendErr(fmt.Errorf("whatsapp: send %s: %w", p.id, err))
		}
	}
	return nil
}

// sendErr classifies a whatsmeow error for the outbox and strips phone
// numbers from its text: whatsmeow errors often quote JIDs, and the outbox
// logs and stores error texts.
func (c *Channel) sendErr(err error) error {
	err = redactedError{err}
	switch {
	case errors.Is(err, whatsmeow.ErrNotLoggedIn), errors.Is(err, whatsmeow.ErrNotConnected):
		return fmt.Errorf("%w: %w", err, channels.ErrNotReady)
	case errors.Is(err, whatsmeow.ErrRecipientADJID):
		return fmt.Errorf("%w: %w", err, channels.ErrPermanent)
	}
	return err
}

// redactedError keeps the chain for errors.Is but not the digits.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redact(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }

type part struct {
	id  types.MessageID
	msg *waE2E.Message
}

// buildMessages turns one Outbound into WhatsApp messages: text alone is a
// Conversation; with attachments the text becomes the first one's caption.
// The first message carries msg.ID; further attachments get IDs derived
// from it deterministically, so retries reuse them too.
func (c *Channel) buildMessages(ctx context.Context, cli *whatsmeow.Client, to types.JID, msg channels.Outbound) ([]part, error) {
	base := MessageID(msg.ID)
	if len(msg.Attachments) == 0 && msg.InReplyTo != "" {
		// A reply that quotes the citizen's message (InReplyTo is the
		// Inbound.ReplyTo/ExternalID the outbox got from the bot).
		return []part{{id: base, msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String(msg.Text),
			ContextInfo: &waE2E.ContextInfo{
				StanzaID:      proto.String(msg.InReplyTo),
				Participant:   proto.String(to.ToNonAD().String()),
				QuotedMessage: &waE2E.Message{Conversation: proto.String("")},
			},
		}}}}, nil
	}
	if len(msg.Attachments) == 0 {
		return []part{{id: base, msg: &waE2E.Message{Conversation: proto.String(msg.Text)}}}, nil
	}
	var out []part
	for i, a := range msg.Attachments {
		caption := ""
		if i == 0 {
			caption = msg.Text
		}
		isImage := strings.HasPrefix(a.ContentType, "image/")
		mt := whatsmeow.MediaDocument
		if isImage {
			mt = whatsmeow.MediaImage
		}
		up, err := cli.Upload(ctx, a.Data, mt)
		if err != nil {
			return nil, c.sendErr(fmt.Errorf("whatsapp: upload attachment: %w", err))
		}
		var m *waE2E.Message
		if isImage {
			m = &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
				Mimetype: proto.String(a.ContentType), Caption: proto.String(caption),
			}}
		} else {
			ct := a.ContentType
			if ct == "" {
				ct = "application/octet-stream"
			}
			m = &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
				URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
				FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
				Mimetype: proto.String(ct), FileName: proto.String(a.Name), Title: proto.String(a.Name),
				Caption: proto.String(caption),
			}}
		}
		id := base
		if i > 0 {
			id = MessageID(fmt.Sprintf("%s/%d", msg.ID, i))
		}
		out = append(out, part{id: id, msg: m})
	}
	return out, nil
}

var validID = regexp.MustCompile(`^[0-9A-F]{16,64}$`)

// MessageID maps an outbox ID to the WhatsApp message ID used on the wire.
// IDs already in WhatsApp's shape (upper-case hex, like channels.NewID's
// "3EB0…") pass unchanged; anything else is hashed deterministically, so
// every retry of one outbox row uses the same wire ID.
func MessageID(outboxID string) types.MessageID {
	if validID.MatchString(outboxID) {
		return types.MessageID(outboxID)
	}
	sum := sha256.Sum256([]byte(outboxID))
	return types.MessageID("3EB0" + strings.ToUpper(hex.EncodeToString(sum[:8])))
}

// parseAddress accepts "+62…" (E.164) or "lid:<user>".
func parseAddress(to string) (types.JID, error) {
	if lid, ok := strings.CutPrefix(to, "lid:"); ok {
		if lid == "" || strings.ContainsAny(lid, "@:") {
			return types.JID{}, fmt.Errorf("whatsapp: invalid LID address: %w", channels.ErrPermanent)
		}
		return types.NewJID(lid, types.HiddenUserServer), nil
	}
	return phoneJID(to)
}

// phoneJID normalises a phone number to the account JID. Numbers without a
// country code are read as Indonesian (08… → +628…).
func phoneJID(phone string) (types.JID, error) {
	num, err := phonenumbers.Parse(phone, "ID")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return types.JID{}, fmt.Errorf("whatsapp: invalid phone number: %w", channels.ErrPermanent)
	}
	e := phonenumbers.Format(num, phonenumbers.E164)
	return types.NewJID(strings.TrimPrefix(e, "+"), types.DefaultUserServer), nil
}

// e164 formats a JID user part (digits with country code) as E.164.
func e164(user string) string {
	if num, err := phonenumbers.Parse("+"+user, ""); err == nil {
		return phonenumbers.Format(num, phonenumbers.E164)
	}
	return "+" + user
}

// pacer keeps a minimum gap between messages to one recipient.
type pacer struct {
	gap  time.Duration
	mu   sync.Mutex
	next map[string]time.Time
}

func (p *pacer) wait(ctx context.Context, key string) error {
	if p.gap <= 0 {
		return nil
	}
	p.mu.Lock()
	if p.next == nil {
		p.next = map[string]time.Time{}
	}
	now := time.Now()
	at := p.next[key]
	if at.Before(now) {
		at = now
	}
	p.next[key] = at.Add(p.gap)
	// Forget recipients idle for a while so the map stays small.
	if len(p.next) > 10000 {
		for k, t := range p.next {
			if t.Before(now) {
				delete(p.next, k)
			}
		}
	}
	p.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
