package whatsapp

import (
	"context"
	"fmt"
	"mime"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"lindungi/channels"
)

// handleEvent runs on whatsmeow's event goroutine. Its return value is the
// ack decision for messages: false leaves the message unreceipted so that
// WhatsApp delivers it again.
func (c *Channel) handleEvent(cli *whatsmeow.Client, sink channels.Sink, evt any) bool {
	switch e := evt.(type) {
	case *events.Message:
		return c.handleMessage(cli, sink, e)
	case *events.Connected:
		c.setState(channels.StateUp)
		c.checkAccount()
	case *events.KeepAliveRestored:
		c.setState(channels.StateUp)
	case *events.Disconnected, *events.KeepAliveTimeout:
		c.setState(channels.StateDown)
	case *events.PairSuccess:
		c.log.Info("whatsapp paired", "account", last4(e.ID.User), "platform", e.Platform)
		c.mu.Lock()
		c.jid = e.ID
		c.mu.Unlock()
		c.setState(channels.StateDown) // until the post-pairing login completes
	case *events.PairError:
		c.log.Warn("whatsapp pairing failed", "err", e.Error)
	case *events.LoggedOut:
		c.log.Warn("whatsapp logged out: pair again", "reason", e.Reason.String(), "on_connect", e.OnConnect)
		c.halt(channels.StateLoggedOut)
		c.mu.Lock()
		c.jid = types.EmptyJID // the store was wiped: the device no longer exists
		c.mu.Unlock()
		go cli.Disconnect() // not on the event goroutine: Disconnect waits for it
	case *events.StreamReplaced:
		c.log.Warn("whatsapp session taken over by another instance; this one stops")
		c.halt(channels.StateStandby)
		go cli.Disconnect() // not on the event goroutine: Disconnect waits for it
	case *events.TemporaryBan:
		c.log.Error("whatsapp temporary ban", "code", int(e.Code), "expire", e.Expire.String())
		c.setState(channels.StateDown)
	case *events.ClientOutdated:
		c.log.Error("whatsapp client outdated: upgrade whatsmeow")
		c.setState(channels.StateDown)
	case *events.ConnectFailure:
		c.log.Warn("whatsapp connect failure", "reason", int(e.Reason))
		c.setState(channels.StateDown)
	case *events.UndecryptableMessage:
		// A retry receipt was sent; the sender's phone re-encrypts. Never a ticket.
		c.log.Warn("whatsapp undecryptable message", "id", e.Info.ID, "unavailable", e.IsUnavailable)
	case *events.HistorySync:
		// Backlog from the phone, not new complaints.
	}
	return true
}

func (c *Channel) halt(s channels.State) {
	c.mu.Lock()
	c.stopped = true
	c.state = s
	c.qr = ""
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.mu.Unlock()
}

func (c *Channel) checkAccount() {
	c.mu.Lock()
	jid := c.jid
	c.mu.Unlock()
	if c.cfg.AccountPhone == "" || jid.IsEmpty() {
		return
	}
	want, err := phoneJID(c.cfg.AccountPhone)
	if err == nil && want.User != jid.User {
		c.log.Warn("whatsapp paired account is not the configured number",
			"paired", last4(jid.User), "configured", last4(want.User))
	}
}

func (c *Channel) handleMessage(cli *whatsmeow.Client, sink channels.Sink, e *events.Message) bool {
	info := e.Info
	switch {
	case info.IsFromMe:
		return true // our own sends echoed from other devices
	case info.Chat.Server == types.BroadcastServer, info.Chat.Server == types.NewsletterServer:
		return true // status updates, broadcast lists, channels
	case info.IsGroup && !c.cfg.AcceptGroups:
		return true
	case e.Message.GetProtocolMessage() != nil, e.Message.GetReactionMessage() != nil,
		e.Message.GetSenderKeyDistributionMessage() != nil && messageText(e.Message) == "" && !hasMedia(e.Message):
		return true // revokes, edits, reactions, key distribution: nothing to store
	}
	ctx := context.Background()
	in := channels.Inbound{
		Channel:    channels.WhatsApp,
		ExternalID: info.ID,
		Name:       info.PushName,
		Text:       messageText(e.Message),
		ReplyTo:    quotedID(e.Message),
		ReceivedAt: info.Timestamp,
		Meta:       map[string]string{"jid": info.Sender.ToNonAD().String()},
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = time.Now()
	}
	pn, lid := c.senderIDs(ctx, cli, info)
	if !lid.IsEmpty() {
		in.Meta["lid"] = lid.User
	}
	if pn.IsEmpty() {
		in.From = "lid:" + lid.User
	} else {
		in.From = e164(pn.User)
	}
	if info.IsGroup {
		in.Meta["group"] = info.Chat.String()
	}
	if err := c.attachMedia(ctx, cli, e.Message, &in); err != nil {
		// A transient download failure must not lose the attachment: leave
		// the message unacknowledged so that WhatsApp delivers it again.
		c.log.Warn("whatsapp media download failed", "id", info.ID, "err", err)
		c.scheduleRedelivery(cli)
		return false
	}
	if err := sink.Deliver(ctx, in); err != nil {
		c.log.Warn("whatsapp inbound not stored; left for redelivery", "id", info.ID, "err", err)
		c.scheduleRedelivery(cli)
		return false
	}
	if err := cli.MarkRead(ctx, []types.MessageID{info.ID}, time.Now(), info.Chat, info.Sender); err != nil {
		c.log.Debug("whatsapp mark read failed", "id", info.ID, "err", err)
	}
	return true
}

// senderIDs resolves the sender's phone-number JID and LID from the message
// and, failing that, from the store's LID↔PN map.
func (c *Channel) senderIDs(ctx context.Context, cli *whatsmeow.Client, info types.MessageInfo) (pn, lid types.JID) {
	for _, j := range []types.JID{info.Sender, info.SenderAlt} {
		switch j.Server {
		case types.DefaultUserServer:
			pn = j.ToNonAD()
		case types.HiddenUserServer:
			lid = j.ToNonAD()
		}
	}
	if pn.IsEmpty() && !lid.IsEmpty() {
		if p, err := cli.Store.LIDs.GetPNForLID(ctx, lid); err == nil && !p.IsEmpty() {
			pn = p.ToNonAD()
		}
	}
	if lid.IsEmpty() && !pn.IsEmpty() {
		if l, err := cli.Store.LIDs.GetLIDForPN(ctx, pn); err == nil && !l.IsEmpty() {
			lid = l.ToNonAD()
		}
	}
	return pn, lid
}

func messageText(m *waE2E.Message) string {
	switch {
	case m.GetConversation() != "":
		return m.GetConversation()
	case m.GetExtendedTextMessage() != nil:
		return m.GetExtendedTextMessage().GetText()
	case m.GetImageMessage() != nil:
		return m.GetImageMessage().GetCaption()
	case m.GetDocumentMessage() != nil:
		return m.GetDocumentMessage().GetCaption()
	case m.GetVideoMessage() != nil:
		return m.GetVideoMessage().GetCaption()
	case m.GetLocationMessage() != nil:
		l := m.GetLocationMessage()
		return fmt.Sprintf("[lokasi %.5f,%.5f] %s", l.GetDegreesLatitude(), l.GetDegreesLongitude(), l.GetName())
	case m.GetContactMessage() != nil:
		return "[kontak] " + m.GetContactMessage().GetDisplayName()
	}
	return ""
}

func hasMedia(m *waE2E.Message) bool {
	return m.GetImageMessage() != nil || m.GetDocumentMessage() != nil || m.GetAudioMessage() != nil || m.GetVideoMessage() != nil
}

func quotedID(m *waE2E.Message) string {
	for _, ci := range []*waE2E.ContextInfo{
		m.GetExtendedTextMessage().GetContextInfo(), m.GetImageMessage().GetContextInfo(),
		m.GetDocumentMessage().GetContextInfo(), m.GetAudioMessage().GetContextInfo(),
	} {
		if id := ci.GetStanzaID(); id != "" {
			return id
		}
	}
	return ""
}

// attachMedia downloads images, documents and voice notes (video too) up to
// MaxMediaBytes. Oversized media is recorded in Meta instead of fetched.
func (c *Channel) attachMedia(ctx context.Context, cli *whatsmeow.Client, m *waE2E.Message, in *channels.Inbound) error {
	var (
		dl     whatsmeow.DownloadableMessage
		size   uint64
		mt     string
		name   string
		prefix string
	)
	switch {
	case m.GetImageMessage() != nil:
		im := m.GetImageMessage()
		dl, size, mt, prefix = im, im.GetFileLength(), im.GetMimetype(), "gambar"
	case m.GetDocumentMessage() != nil:
		dm := m.GetDocumentMessage()
		dl, size, mt, name, prefix = dm, dm.GetFileLength(), dm.GetMimetype(), dm.GetFileName(), "dokumen"
	case m.GetAudioMessage() != nil:
		am := m.GetAudioMessage()
		dl, size, mt, prefix = am, am.GetFileLength(), am.GetMimetype(), "suara"
	case m.GetVideoMessage() != nil:
		vm := m.GetVideoMessage()
		dl, size, mt, prefix = vm, vm.GetFileLength(), vm.GetMimetype(), "video"
	default:
		return nil
	}
	if int64(size) > c.cfg.MaxMediaBytes {
		in.Meta["attachment_skipped"] = fmt.Sprintf("%s of %d bytes exceeds the %d-byte limit", prefix, size, c.cfg.MaxMediaBytes)
		return nil
	}
	data, err := cli.Download(ctx, dl)
	if err != nil {
		return err
	}
	if int64(len(data)) > c.cfg.MaxMediaBytes {
		in.Meta["attachment_skipped"] = fmt.Sprintf("%s exceeds the %d-byte limit", prefix, c.cfg.MaxMediaBytes)
		return nil
	}
	if name == "" {
		name = prefix + "-" + in.ExternalID + extFor(mt)
	}
	in.Attachments = append(in.Attachments, channels.Attachment{
		Name: channels.SafeFileName(name), ContentType: strings.TrimSpace(strings.Split(mt, ";")[0]), Data: data,
	})
	return nil
}

func extFor(mt string) string {
	base := strings.TrimSpace(strings.Split(mt, ";")[0])
	switch base {
	case "image/jpeg":
		return ".jpg"
	case "audio/ogg":
		return ".ogg"
	}
	if exts, _ := mime.ExtensionsByType(base); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// scheduleRedelivery reconnects once, RedeliveryDelay after a message was
// left unacknowledged: WhatsApp hands unreceipted messages over again only
// on a new connection, and the decrypted-event buffer lets them decrypt.
func (c *Channel) scheduleRedelivery(cli *whatsmeow.Client) {
	c.mu.Lock()
	ctx, stop := c.runCtx, c.stop
	if c.redeliv || ctx == nil || c.stopped {
		c.mu.Unlock()
		return
	}
	c.redeliv = true
	c.mu.Unlock()
	go func() {
		defer func() {
			c.mu.Lock()
			c.redeliv = false
			c.mu.Unlock()
		}()
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-time.After(c.cfg.RedeliveryDelay):
		}
		c.log.Info("whatsapp reconnecting for redelivery")
		cli.Disconnect()
		c.setState(channels.StateDown)
		if err := cli.Connect(); err != nil {
			_ = c.connectLoop(ctx, cli, err)
		}
	}()
}
