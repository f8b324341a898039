package cloud

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"lindungi/channels"
)

// Send implements channels.Channel. Within the citizen's 24-hour window
// the message goes as text (attachments as media); outside it, a message
// whose purpose has a configured template goes as that template, and
// anything else is held with the reason. The outbox ID travels as
// biz_opaque_callback_data, so statuses find the row even before the
// send's answer is recorded.
func (c *Channel) Send(ctx context.Context, msg channels.Outbound) error {
	to, err := waID(msg.To)
	if err != nil {
		return err
	}
	// Each part of a message with several attachments has its own marker
	// (and callback data), so a retry after a failure half-way, or after
	// a part's failure reported by webhook, sends only what WhatsApp does
	// not have. The last part is keyed by the outbox ID itself.
	parts := max(1, len(msg.Attachments))
	done := make([]bool, parts)
	all := true
	for i := range done {
		if done[i], err = c.alreadySent(ctx, partKey(msg.ID, i, parts)); err != nil {
			return err
		}
		all = all && done[i]
	}
	if all {
		return nil // accepted before a crash kept the outbox from recording it
	}
	open, err := c.windowOpen(ctx, to)
	if err != nil {
		return err
	}
	if !open {
		return c.sendTemplate(ctx, to, msg)
	}
	var reqs []map[string]any
	for i, a := range msg.Attachments {
		if done[i] {
			reqs = append(reqs, nil) // keeps i the part's index
			continue
		}
		id, err := c.upload(ctx, a)
		if err != nil {
			c.sends.WithLabelValues("media", kindOf(err)).Inc()
			return err
		}
		typ := "document"
		if strings.HasPrefix(a.ContentType, "image/") {
			typ = "image"
		}
		obj := map[string]any{"id": id}
		if i == 0 && msg.Text != "" {
			obj["caption"] = msg.Text
		}
		if typ == "document" {
			obj["filename"] = a.Name
		}
		reqs = append(reqs, map[string]any{"type": typ, typ: obj})
	}
	if len(reqs) == 0 {
		if list, ok := menuList(msg); ok {
			reqs = append(reqs, map[string]any{"type": "interactive", "interactive": list})
		} else {
			reqs = append(reqs, map[string]any{"type": "text", "text": map[string]any{"preview_url": false, "body": msg.Text}})
		}
	}
	for i, r := range reqs {
		if r == nil {
			continue
		}
		key := partKey(msg.ID, i, len(reqs))
		r["messaging_product"] = "whatsapp"
		r["recipient_type"] = "individual"
		r["to"] = to
		r["biz_opaque_callback_data"] = key
		if msg.InReplyTo != "" && strings.HasPrefix(msg.InReplyTo, "wamid.") {
			r["context"] = map[string]string{"message_id": msg.InReplyTo}
		}
		kind := r["type"].(string)
		wamid, err := c.post(ctx, r)
		if err != nil && kind == "interactive" && errors.Is(err, channels.ErrPermanent) {
			// A list WhatsApp will not take (a limit we misjudged) is
			// still a menu the citizen can answer with a number.
			delete(r, "interactive")
			r["type"], r["text"] = "text", map[string]any{"preview_url": false, "body": msg.Text}
			kind = "text"
			wamid, err = c.post(ctx, r)
		}
		if err != nil {
			if errors.Is(err, channels.ErrHeld) {
				// WhatsApp's view of the window beats ours (a message we
				// never saw, a clock apart): forget it, try the template.
				if ferr := c.closeWindow(ctx, to); ferr != nil {
					return ferr
				}
				if i == 0 {
					return c.sendTemplate(ctx, to, msg)
				}
			}
			c.sends.WithLabelValues(kindIf(kind), kindOf(err)).Inc()
			return err
		}
		c.sends.WithLabelValues(kindIf(kind), "ok").Inc()
		if err := c.markSent(ctx, key, wamid, to, false); err != nil {
			return err
		}
	}
	return nil
}

// partKey names part i of n of outbox message id: the last part (the only
// one of most messages) is id itself, earlier ones id#i.
func partKey(id string, i, n int) string {
	if i == n-1 {
		return id
	}
	return fmt.Sprintf("%s#%d", id, i)
}

// outboxIDOf is the outbox row a part's key belongs to.
func outboxIDOf(key string) (id string, last bool) {
	if i := strings.IndexByte(key, '#'); i >= 0 {
		return key[:i], false
	}
	return key, true
}

// ReportsDelivery implements channels.DeliveryReporter: Send returning
// nil only means Meta accepted the message; whether it arrived comes
// later by webhook.
func (c *Channel) ReportsDelivery() bool { return true }

func kindIf(t string) string {
	if t == "text" || t == "interactive" {
		return t
	}
	return "media"
}

// menuItem is one line "N. title" of a numbered menu.
var menuItem = regexp.MustCompile(`^\s*(\d{1,2})[.)]\s+(\S.*)$`)

// menuList turns the bot's numbered menu into an interactive list message
// (a button that opens the choices; a choice comes back as its number, see
// inbound), within Meta's limits: 10 rows, titles of 24 and descriptions of
// 72 characters, a body of 1,024. Only the bot's own replies qualify: an
// operator's numbered steps stay text, which is why Meta["operator"]
// rules it out. Anything else, or a menu that does not fit, stays text.
func menuList(msg channels.Outbound) (map[string]any, bool) {
	if msg.Meta["operator"] != "" || msg.Kind != "reply" || len(msg.Attachments) > 0 {
		return nil, false
	}
	lines := strings.Split(msg.Text, "\n")
	var rows []map[string]string
	var body []string
	first, last := -1, -1
	for i, l := range lines {
		m := menuItem.FindStringSubmatch(l)
		if m != nil && (first < 0 || i == last+1) && m[1] == strconv.Itoa(len(rows)+1) {
			if first < 0 {
				first = i
			}
			last = i
			title := strings.TrimSpace(m[2])
			row := map[string]string{"id": m[1], "title": clip(title, 24)}
			if len([]rune(title)) > 24 {
				row["description"] = clip(title, 72)
			}
			rows = append(rows, row)
			continue
		}
		body = append(body, l)
	}
	text := strings.TrimSpace(strings.Join(body, "\n"))
	if len(rows) < 3 || len(rows) > 10 || text == "" || len([]rune(text)) > 1024 {
		return nil, false
	}
	return map[string]any{
		"type":   "list",
		"body":   map[string]string{"text": text},
		"action": map[string]any{"button": "Pilih / Choose", "sections": []map[string]any{{"title": "Menu", "rows": rows}}},
	}, true
}

// clip shortens s to n characters, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func kindOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, channels.ErrPermanent):
		return "permanent"
	case errors.Is(err, channels.ErrHeld):
		return "held"
	case errors.Is(err, channels.ErrNotReady):
		return "not_ready"
	}
	return "retry"
}

// purpose names the template an outbound message would use: set by its
// producer in Meta["template"], else Sijejak's Meta["tracing"] (exposure,
// consent_request, otp), else "otp" for any one-time code.
func purpose(msg channels.Outbound) string {
	if p := msg.Meta["template"]; p != "" {
		return p
	}
	if p := msg.Meta["tracing"]; p != "" {
		return p
	}
	if msg.Kind == channels.KindOTP {
		return otpPurpose
	}
	return ""
}

// otpPurpose is the purpose of one-time codes. Meta only lets a code
// leave outside the window as an authentication template, whose send
// names the code twice: as the body's one parameter and as the copy-code
// button's (a URL button at index 0). Its producers put the code in
// Meta["code"].
const otpPurpose = "otp"

// errNoCode holds a one-time code whose producer did not put the code in
// Meta: an authentication template without it would be refused.
var errNoCode = errors.New("one-time code without Meta[\"code\"]: the authentication template cannot be filled")

// sendTemplate sends msg as its purpose's approved template, or holds it.
func (c *Channel) sendTemplate(ctx context.Context, to string, msg channels.Outbound) error {
	p := purpose(msg)
	t, ok := c.cfg.Templates[p]
	if !ok || t.Name == "" {
		c.sends.WithLabelValues("template", "held").Inc()
		return fmt.Errorf("whatsapp cloud: %w: %w", errHold, channels.ErrHeld)
	}
	lang := msg.Meta["lang"]
	if lang == "" {
		lang = "id"
	}
	code := t.Languages[lang]
	if code == "" {
		code = map[string]string{"id": "id", "en": "en"}[lang]
	}
	if code == "" {
		code = "id"
	}
	if err := c.withinTier(ctx, to); err != nil {
		c.sends.WithLabelValues("template", "deferred").Inc()
		return err
	}
	tpl := map[string]any{"name": t.Name, "language": map[string]string{"code": code}}
	if p == otpPurpose {
		otp := msg.Meta["code"]
		if otp == "" {
			c.sends.WithLabelValues("template", "held").Inc()
			return fmt.Errorf("whatsapp cloud: %w: %w", errNoCode, channels.ErrHeld)
		}
		param := []map[string]string{{"type": "text", "text": otp}}
		tpl["components"] = []map[string]any{
			{"type": "body", "parameters": param},
			{"type": "button", "sub_type": "url", "index": "0", "parameters": param},
		}
	} else if len(t.Params) > 0 {
		var params []map[string]string
		for _, k := range t.Params {
			params = append(params, map[string]string{"type": "text", "text": msg.Meta[k]})
		}
		tpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
	}
	wamid, err := c.post(ctx, map[string]any{
		"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
		"type": "template", "template": tpl, "biz_opaque_callback_data": msg.ID,
	})
	if err != nil {
		c.sends.WithLabelValues("template", kindOf(err)).Inc()
		return err
	}
	c.sends.WithLabelValues("template", "ok").Inc()
	return c.markSent(ctx, msg.ID, wamid, to, true)
}

// post sends one message request and returns the wamid WhatsApp gave it.
func (c *Channel) post(ctx context.Context, body map[string]any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("whatsapp cloud: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(c.cfg.PhoneNumberID, "messages"), bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("whatsapp cloud: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := c.do(req, &out); err != nil {
		return "", err
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return "", errors.New("whatsapp cloud: answer without a message ID")
	}
	return out.Messages[0].ID, nil
}

func (c *Channel) endpoint(parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return c.cfg.APIURL + "/" + c.cfg.APIVersion + "/" + strings.Join(parts, "/")
}

// do runs a Graph API request with the access token and decodes a 2xx
// answer into out; an error answer becomes a classified error. Transport
// errors (timeouts, refused connections) are retried by the outbox; they
// name the host, never the token, which travels in a header only.
func (c *Channel) do(req *http.Request, out any) error {
	req.Header.Set("Authorization", "Bearer "+c.cfg.AccessToken)
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("whatsapp cloud: %s %s: %w", req.Method, req.URL.Path, unwrapURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("whatsapp cloud: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error GraphError `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		e.Error.HTTPStatus = resp.StatusCode
		title := ""
		if e.Error.Code == 0 && resp.StatusCode >= 500 {
			title = "server error"
		}
		err := classify(e.Error.Code, resp.StatusCode, title)
		if errors.Is(err, channels.ErrNotReady) {
			c.setState(StateUnauthorized)
		}
		return fmt.Errorf("%w: %w", err, &e.Error)
	}
	c.setState(channels.StateUp)
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("whatsapp cloud: decode answer: %w", err)
	}
	return nil
}

// unwrapURL drops url.Error's URL (it would name the media URL, whose
// query identifies a citizen's file) and keeps the cause.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// upload puts an outgoing attachment into WhatsApp's media store and
// returns its media ID.
func (c *Channel) upload(ctx context.Context, a channels.Attachment) (string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("messaging_product", "whatsapp")
	_ = mw.WriteField("type", a.ContentType)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, a.Name))
	h.Set("Content-Type", a.ContentType)
	pw, err := mw.CreatePart(h)
	if err != nil {
		return "", fmt.Errorf("whatsapp cloud: upload: %w", err)
	}
	pw.Write(a.Data)
	if err := mw.Close(); err != nil {
		return "", fmt.Errorf("whatsapp cloud: upload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(c.cfg.PhoneNumberID, "media"), &buf)
	if err != nil {
		return "", fmt.Errorf("whatsapp cloud: upload: %w", err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(req, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// attach downloads a message's media through the media endpoint (its URL
// first, then the file), within MaxMediaBytes; bigger media is noted in
// Meta instead. An error wrapping channels.ErrPermanent means the media
// can never be had (inbound notes it and stores the message); any other
// leaves the webhook unanswered, so Meta retries.
func (c *Channel) attach(ctx context.Context, md *media, prefix string, in *channels.Inbound) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint(md.ID), nil)
	if err != nil {
		return fmt.Errorf("whatsapp cloud: media: %w", err)
	}
	var info struct {
		URL      string          `json:"url"`
		MimeType string          `json:"mime_type"`
		FileSize json.RawMessage `json:"file_size"` // a string in the docs, a number in some answers
	}
	if err := c.do(req, &info); err != nil {
		return fmt.Errorf("media %s: %w", md.ID, err)
	}
	size := parseSize(info.FileSize)
	if size > c.cfg.MaxMediaBytes {
		in.Meta["attachment_skipped"] = fmt.Sprintf("%s of %d bytes exceeds the %d-byte limit", prefix, size, c.cfg.MaxMediaBytes)
		return nil
	}
	if !c.trustedMediaURL(info.URL) {
		return fmt.Errorf("whatsapp cloud: media %s: download URL on an unexpected host: %w", md.ID, channels.ErrPermanent)
	}
	dreq, err := http.NewRequestWithContext(ctx, http.MethodGet, info.URL, nil)
	if err != nil {
		return fmt.Errorf("whatsapp cloud: media: %w", err)
	}
	dreq.Header.Set("Authorization", "Bearer "+c.cfg.AccessToken)
	resp, err := c.cfg.HTTP.Do(dreq)
	if err != nil {
		return fmt.Errorf("whatsapp cloud: media download: %w", unwrapURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("whatsapp cloud: media download: HTTP %d", resp.StatusCode)
		if s := resp.StatusCode; s/100 == 4 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests {
			// Gone (expired media) or refused: asking again will not help.
			return fmt.Errorf("%w: %w", err, channels.ErrPermanent)
		}
		return err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxMediaBytes+1))
	if err != nil {
		return fmt.Errorf("whatsapp cloud: media download: %w", err)
	}
	if int64(len(data)) > c.cfg.MaxMediaBytes {
		in.Meta["attachment_skipped"] = fmt.Sprintf("%s exceeds the %d-byte limit", prefix, c.cfg.MaxMediaBytes)
		return nil
	}
	mt := firstNonEmpty(md.MimeType, info.MimeType)
	mt = strings.TrimSpace(strings.Split(mt, ";")[0])
	name := md.Filename
	if name == "" {
		name = prefix + "-" + shortID(in.ExternalID) + extFor(mt)
	}
	in.Attachments = append(in.Attachments, channels.Attachment{Name: channels.SafeFileName(name), ContentType: mt, Data: data})
	return nil
}

// trustedMediaURL: the access token goes only to Meta's media host or to
// the configured API's own host (the fake in tests), never to wherever a
// forged answer might point.
func (c *Channel) trustedMediaURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	api, err := url.Parse(c.cfg.APIURL)
	if err != nil {
		return false
	}
	if u.Host == api.Host && u.Scheme == api.Scheme {
		return true
	}
	return u.Scheme == "https" && (u.Hostname() == "lookaside.fbsbx.com" || strings.HasSuffix(u.Hostname(), ".fbsbx.com"))
}

func parseSize(raw json.RawMessage) int64 {
	s := strings.Trim(string(raw), `"`)
	var n int64
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int64(r-'0')
	}
	return n
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "wamid.")
	if len(id) > 16 {
		id = id[len(id)-16:]
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id)
}

func extFor(mt string) string {
	switch mt {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "application/pdf":
		return ".pdf"
	case "audio/ogg":
		return ".ogg"
	case "video/mp4":
		return ".mp4"
	}
	return ""
}

// The window and the sent markers: this package's own tables.

// opened records that the citizen wrote at t (monotonic: a late retry of
// an old message never shortens the window).
func (c *Channel) opened(ctx context.Context, from string, t time.Time) error {
	if from == "" {
		return nil
	}
	if _, err := c.db.Exec(ctx, `INSERT INTO whatsapp_cloud_windows (wa_id, last_inbound_at) VALUES (?, ?)
		ON CONFLICT (wa_id) DO UPDATE SET last_inbound_at = excluded.last_inbound_at
		WHERE whatsapp_cloud_windows.last_inbound_at < excluded.last_inbound_at`, from, t.UTC()); err != nil {
		return fmt.Errorf("whatsapp cloud: window: %w", err)
	}
	return nil
}

// release queues again what was held for the citizen who wrote at t,
// once their message is stored (and so, the window open).
func (c *Channel) release(ctx context.Context, from string, t time.Time) error {
	if from == "" || c.outb == nil || c.Now().Sub(t) >= c.cfg.Window {
		return nil
	}
	if n, err := c.outb.ReleaseHeld(ctx, channels.WhatsApp, e164(from)); err != nil {
		return err
	} else if n > 0 {
		c.log.Info("whatsapp cloud released held messages", "messages", n)
	}
	return nil
}

func (c *Channel) windowOpen(ctx context.Context, to string) (bool, error) {
	var last time.Time
	err := c.db.QueryRow(ctx, `SELECT last_inbound_at FROM whatsapp_cloud_windows WHERE wa_id = ?`, to).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("whatsapp cloud: window: %w", err)
	}
	return c.Now().Sub(last) < c.cfg.Window, nil
}

func (c *Channel) closeWindow(ctx context.Context, to string) error {
	if _, err := c.db.Exec(ctx, `DELETE FROM whatsapp_cloud_windows WHERE wa_id = ?`, to); err != nil {
		return fmt.Errorf("whatsapp cloud: window: %w", err)
	}
	return nil
}

func (c *Channel) alreadySent(ctx context.Context, outboxID string) (bool, error) {
	var n int
	if err := c.db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_sent WHERE outbox_id = ?`, outboxID).Scan(&n); err != nil {
		return false, fmt.Errorf("whatsapp cloud: sent marker: %w", err)
	}
	return n > 0, nil
}

// withinTier defers a template that would open a new business-initiated
// conversation beyond the day's limit. A citizen already reached in the
// last 24 hours is within the conversation that opened, so costs nothing.
func (c *Channel) withinTier(ctx context.Context, to string) error {
	limit := c.dailyLimit()
	if limit <= 0 {
		return nil
	}
	since := c.Now().Add(-24 * time.Hour)
	var mine, all int
	if err := c.db.QueryRow(ctx, `SELECT COUNT(*) FROM whatsapp_cloud_sent WHERE initiated = 1 AND recipient = ? AND sent_at > ?`, to, since).Scan(&mine); err != nil {
		return fmt.Errorf("whatsapp cloud: tier: %w", err)
	}
	if mine > 0 {
		return nil
	}
	if err := c.db.QueryRow(ctx, `SELECT COUNT(DISTINCT recipient) FROM whatsapp_cloud_sent WHERE initiated = 1 AND sent_at > ?`, since).Scan(&all); err != nil {
		return fmt.Errorf("whatsapp cloud: tier: %w", err)
	}
	if all >= limit {
		return fmt.Errorf("whatsapp cloud: %d business-initiated conversations in 24 hours, the number's limit: %w", all, channels.ErrDeferred)
	}
	return nil
}

func (c *Channel) markSent(ctx context.Context, outboxID, wamid, to string, initiated bool) error {
	init := 0
	if initiated {
		init = 1
	}
	if _, err := c.db.Exec(ctx, `INSERT INTO whatsapp_cloud_sent (outbox_id, wamid, recipient, initiated, sent_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (outbox_id) DO NOTHING`,
		outboxID, wamid, to, init, c.Now()); err != nil {
		// The message went out; failing here would send it twice.
		c.log.Warn("whatsapp cloud: sent marker not written", "outbox_id", outboxID, "err", err)
	}
	return nil
}

func (c *Channel) forgetSent(ctx context.Context, outboxID string) error {
	if _, err := c.db.Exec(ctx, `DELETE FROM whatsapp_cloud_sent WHERE outbox_id = ?`, outboxID); err != nil {
		return fmt.Errorf("whatsapp cloud: sent marker: %w", err)
	}
	return nil
}

func (c *Channel) outboxIDFor(ctx context.Context, wamid string) (string, error) {
	var id string
	err := c.db.QueryRow(ctx, `SELECT outbox_id FROM whatsapp_cloud_sent WHERE wamid = ?`, wamid).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("whatsapp cloud: sent marker: %w", err)
	}
	return id, nil
}

var _ channels.Channel = (*Channel)(nil)
