package cloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lindungi/channels"
)

// The webhook payload, as Meta documents it for the WhatsApp Business
// Account object: entry[].changes[] with a field name and a value whose
// shape depends on the field. Only what the gateway reads is declared.
type notification struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string          `json:"field"`
			Value json.RawMessage `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type messagesValue struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	} `json:"contacts"`
	Messages []message   `json:"messages"`
	Statuses []status    `json:"statuses"`
	Errors   []wireError `json:"errors"`
}

type media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type message struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Context   *struct {
		From string `json:"from"`
		ID   string `json:"id"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Document *media `json:"document"`
	Audio    *media `json:"audio"`
	Video    *media `json:"video"`
	Sticker  *media `json:"sticker"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	} `json:"contacts"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Reaction *struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Errors []wireError `json:"errors"`
}

type status struct {
	ID                    string      `json:"id"`
	Status                string      `json:"status"`
	Timestamp             string      `json:"timestamp"`
	RecipientID           string      `json:"recipient_id"`
	BizOpaqueCallbackData string      `json:"biz_opaque_callback_data"`
	Errors                []wireError `json:"errors"`
}

// wireError is an error object as webhooks carry it (entry.changes.value.
// errors, messages[].errors, statuses[].errors).
type wireError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type qualityValue struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	Event              string `json:"event"`
	CurrentLimit       string `json:"current_limit"`
}

type accountValue struct {
	Event string `json:"event"`
}

// Handler serves GET and POST /webhooks/whatsapp: Meta's verification
// handshake, and the signed notifications, each stored through sink before
// the 200 that tells Meta not to send it again.
func (c *Channel) Handler(sink channels.Sink) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			c.handshake(w, r)
		case http.MethodPost:
			c.notify(w, r, sink)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

// handshake answers Meta's subscription check: hub.mode=subscribe with our
// verify token gets hub.challenge back; anything else a 403.
func (c *Channel) handshake(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(token), []byte(c.cfg.VerifyToken)) != 1 {
		c.log.Warn("whatsapp cloud webhook handshake refused", "mode", q.Get("hub.mode"))
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	// The challenge is echoed verbatim: as plain text that no browser may
	// sniff into HTML.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, q.Get("hub.challenge"))
}

// validSignature checks X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of
// the raw body under the app secret) in constant time.
func (c *Channel) validSignature(header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(c.cfg.AppSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

func (c *Channel) notify(w http.ResponseWriter, r *http.Request, sink channels.Sink) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.cfg.MaxWebhookBytes))
	if err != nil {
		c.webhooks.WithLabelValues("bad_body").Inc()
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	// The signature is checked before the body is even parsed: whoever
	// lacks the app secret gets nothing of ours to run.
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		c.webhooks.WithLabelValues("no_signature").Inc()
		c.log.Warn("whatsapp cloud webhook without signature refused")
		http.Error(w, "signature required", http.StatusUnauthorized)
		return
	}
	if !c.validSignature(sig, body) {
		c.webhooks.WithLabelValues("bad_signature").Inc()
		c.log.Warn("whatsapp cloud webhook with a wrong signature refused")
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	var n notification
	if err := json.Unmarshal(body, &n); err != nil || n.Object != "whatsapp_business_account" {
		c.webhooks.WithLabelValues("bad_body").Inc()
		c.log.Warn("whatsapp cloud webhook body not understood", "object", n.Object)
		http.Error(w, "not a WhatsApp Business Account notification", http.StatusBadRequest)
		return
	}
	if err := c.process(r.Context(), n, sink); err != nil {
		// Meta sends the whole notification again; what was stored is
		// recognised by its message ID and stored once.
		c.webhooks.WithLabelValues("failed").Inc()
		c.log.Warn("whatsapp cloud webhook not stored; Meta will retry", "err", err)
		http.Error(w, "not stored, retry", http.StatusServiceUnavailable)
		return
	}
	c.webhooks.WithLabelValues("ok").Inc()
	w.WriteHeader(http.StatusOK)
}

func (c *Channel) process(ctx context.Context, n notification, sink channels.Sink) error {
	for _, e := range n.Entry {
		for _, ch := range e.Changes {
			switch ch.Field {
			case "messages":
				var v messagesValue
				if err := json.Unmarshal(ch.Value, &v); err != nil {
					return fmt.Errorf("messages value: %w", err)
				}
				if v.Metadata.PhoneNumberID != "" && v.Metadata.PhoneNumberID != c.cfg.PhoneNumberID {
					// Another number of the same business account.
					c.log.Debug("whatsapp cloud webhook for another phone number ignored")
					continue
				}
				if err := c.messages(ctx, v, sink); err != nil {
					return err
				}
				if err := c.applyStatuses(ctx, v.Statuses); err != nil {
					return err
				}
				for _, we := range v.Errors {
					c.log.Warn("whatsapp cloud reported an error", "code", we.Code, "title", we.Title)
				}
			case "phone_number_quality_update":
				var v qualityValue
				if err := json.Unmarshal(ch.Value, &v); err != nil {
					return fmt.Errorf("quality value: %w", err)
				}
				c.log.Warn("whatsapp cloud phone number quality update", "event", v.Event, "tier", v.CurrentLimit)
				c.setQuality(v.Event, v.CurrentLimit, "")
			case "account_update":
				var v accountValue
				if err := json.Unmarshal(ch.Value, &v); err != nil {
					return fmt.Errorf("account value: %w", err)
				}
				c.log.Warn("whatsapp cloud account update", "event", v.Event)
				c.setQuality("", "", v.Event)
			default:
				c.log.Debug("whatsapp cloud webhook field ignored", "field", ch.Field)
			}
		}
	}
	return nil
}

// messages stores each citizen message through sink, in order. A message
// that fails stops the rest: the 503 makes Meta deliver the notification
// again, and what was stored is a duplicate then.
func (c *Channel) messages(ctx context.Context, v messagesValue, sink channels.Sink) error {
	names := map[string]string{}
	for _, ct := range v.Contacts {
		names[ct.WaID] = ct.Profile.Name
	}
	for _, m := range v.Messages {
		if m.ID == "" || m.From == "" {
			// Nothing to key it by: answering 503 would only make Meta
			// retry it until it disables the subscription.
			c.log.Warn("whatsapp cloud message without an ID or sender ignored", "type", m.Type)
			continue
		}
		in, skip, err := c.inbound(ctx, m, names[m.From])
		if err != nil {
			return err
		}
		if skip {
			continue
		}
		// The window opens before the message is stored: the bot's reply
		// is queued in Deliver's transaction and may be sent before
		// Deliver even returns. Should Deliver fail, the citizen did write
		// all the same, and Meta sends the message again.
		if err := c.opened(ctx, m.From, in.ReceivedAt); err != nil {
			return err
		}
		if err := sink.Deliver(ctx, in); err != nil {
			return fmt.Errorf("deliver %s: %w", m.ID, err)
		}
		if err := c.release(ctx, m.From, in.ReceivedAt); err != nil {
			return err
		}
	}
	return nil
}

// inbound turns one webhook message into an Inbound. skip is true for
// what is not a message to store (a reaction).
func (c *Channel) inbound(ctx context.Context, m message, name string) (in channels.Inbound, skip bool, err error) {
	in = channels.Inbound{
		Channel:    channels.WhatsApp,
		ExternalID: m.ID,
		From:       e164(m.From),
		Name:       name,
		Meta:       map[string]string{"provider": "cloud", "type": m.Type},
	}
	if ts, err := strconv.ParseInt(m.Timestamp, 10, 64); err == nil && ts > 0 {
		in.ReceivedAt = time.Unix(ts, 0).UTC()
	} else {
		in.ReceivedAt = c.Now()
	}
	if m.Context != nil {
		in.ReplyTo = m.Context.ID
	}
	var md *media
	prefix := ""
	switch m.Type {
	case "text":
		if m.Text != nil {
			in.Text = m.Text.Body
		}
	case "image":
		md, prefix = m.Image, "gambar"
	case "document":
		md, prefix = m.Document, "dokumen"
	case "audio":
		md, prefix = m.Audio, "suara"
	case "video":
		md, prefix = m.Video, "video"
	case "sticker":
		md, prefix = m.Sticker, "stiker"
	case "location":
		if l := m.Location; l != nil {
			in.Text = strings.TrimSpace(fmt.Sprintf("[lokasi %.5f,%.5f] %s %s", l.Latitude, l.Longitude, l.Name, l.Address))
		}
	case "contacts":
		var parts []string
		for _, ct := range m.Contacts {
			p := ct.Name.FormattedName
			for _, ph := range ct.Phones {
				p += " " + ph.Phone
			}
			parts = append(parts, strings.TrimSpace(p))
		}
		in.Text = "[kontak] " + strings.Join(parts, "; ")
	case "interactive":
		// The bot's menu sent as a list or buttons: a row's ID is the menu
		// number, which is what the conversation engine understands.
		if it := m.Interactive; it != nil {
			switch {
			case it.ListReply != nil:
				in.Text, in.Meta["choice"] = firstNonEmpty(it.ListReply.ID, it.ListReply.Title), it.ListReply.Title
			case it.ButtonReply != nil:
				in.Text, in.Meta["choice"] = firstNonEmpty(it.ButtonReply.ID, it.ButtonReply.Title), it.ButtonReply.Title
			}
		}
	case "button":
		// A quick-reply button of a template (e.g. "Setuju" under a
		// Sijejak consent request): its text is what the citizen chose.
		if m.Button != nil {
			in.Text = firstNonEmpty(m.Button.Text, m.Button.Payload)
		}
	case "reaction":
		// An emoji on one of our messages: nothing to answer or file,
		// as with the linked device.
		return in, true, nil
	default:
		// "unsupported" (polls, view-once, …) and types newer than this
		// code: kept on the ticket so an operator sees something came.
		in.Meta["unsupported"] = m.Type
		for _, we := range m.Errors {
			in.Meta["error"] = strconv.Itoa(we.Code) + " " + we.Title
		}
		in.Text = "[pesan tidak didukung: " + m.Type + "]"
	}
	if md != nil {
		in.Text = md.Caption
		if err := c.attach(ctx, md, prefix, &in); err != nil {
			if !errors.Is(err, channels.ErrPermanent) {
				return in, false, err
			}
			// Media that can never be fetched (expired, refused, on a
			// host we do not trust) must not stall the notification:
			// Meta would resend it forever and nothing after this
			// message would be stored. Kept with a note, as an
			// unsupported message is, so an operator sees it came.
			c.log.Warn("whatsapp cloud media not retrievable; message stored without it", "type", m.Type, "err", err)
			in.Meta["attachment_error"] = err.Error()
			if in.Text == "" {
				in.Text = "[" + prefix + " tidak dapat diambil]"
			}
		}
	}
	return in, false, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// applyStatuses hands each status to the outbox row it names (the outbox
// ID we sent as biz_opaque_callback_data, else the wamid we recorded).
func (c *Channel) applyStatuses(ctx context.Context, sts []status) error {
	for _, s := range sts {
		c.statuses.WithLabelValues(s.Status).Inc()
		key := s.BizOpaqueCallbackData
		if key == "" {
			var err error
			if key, err = c.outboxIDFor(ctx, s.ID); err != nil {
				return err
			}
		}
		if key == "" || c.outb == nil {
			c.log.Debug("whatsapp cloud status for an unknown message", "status", s.Status)
			continue
		}
		// A part before the last of a multi-attachment message: only
		// its failure concerns the row (that part must go again); its
		// progress does not, the last part's speaks for the message.
		id, last := outboxIDOf(key)
		if !last && s.Status != channels.DeliveryFailed {
			continue
		}
		var outcome error
		if s.Status == channels.DeliveryFailed {
			code, title := 0, "failed"
			if len(s.Errors) > 0 {
				code, title = s.Errors[0].Code, s.Errors[0].Title
			}
			outcome = classify(code, 0, title)
			if errors.Is(outcome, channels.ErrNotReady) {
				c.setState(StateUnauthorized)
			}
			if errors.Is(outcome, channels.ErrHeld) && s.RecipientID != "" {
				// WhatsApp says the window is shut: believe it.
				if err := c.closeWindow(ctx, s.RecipientID); err != nil {
					return err
				}
			}
			// A failed part is not "already sent": a retry must send it
			// (and only it: the other parts keep their markers).
			if err := c.forgetSent(ctx, key); err != nil {
				return err
			}
			c.log.Info("whatsapp cloud message failed", "outbox_id", id, "code", code)
		}
		if err := c.outb.RecordDelivery(ctx, id, s.Status, outcome); err != nil {
			return err
		}
	}
	return nil
}
