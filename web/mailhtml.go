package web

import (
	"context"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"

	"lindungi/channels/email"
	"lindungi/tickets"
)

// mailPolicy sanitises a mail's HTML again as the console shows it: the
// import policy, with images only as embedded raster data. The stored HTML
// was sanitised at import; doing it again here means a stored row (or a
// policy that has since been tightened) can never put more than this on an
// operator's page.
var mailPolicy = func() *bluemonday.Policy {
	p := email.HTMLPolicy(regexp.MustCompile(`^data:image/(png|jpeg|gif|webp);base64,`))
	p.AllowDataURIImages()
	return p
}()

// cidSrc finds the inline-part references the import policy kept.
var cidSrc = regexp.MustCompile(`(?i)src="cid:([^"]*)"`)

// Inline images are embedded into the page (CSP allows img-src data:, and
// nothing is served from the console's origin as an image), so their size
// is capped; a larger one stays a download below the message.
const (
	maxInlineImage = 2 << 20
	maxInlinePage  = 8 << 20
)

var rasterTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// mailHTML renders the HTML of a ticket's messages for the console, keyed
// by message ID, with each cid: image that names one of the message's own
// attachments replaced by its bytes when they really are a raster image
// (sniffed, not the sender's label) within the caps; any other image loses
// its source. An attachment that cannot be read (erased meanwhile, or not
// decryptable) only loses its image: the operator must still be able to
// read and answer the ticket. It returns the attachments it read, once
// each, for the audit log.
func (s *Server) mailHTML(ctx context.Context, t tickets.Ticket, msgs []tickets.Message) (map[int64]template.HTML, []int64) {
	out := map[int64]template.HTML{}
	var read []int64
	embedded := map[int64]string{} // attachment ID → its src value ("" when not shown)
	budget := maxInlinePage
	for _, m := range msgs {
		if m.HTML == "" {
			continue
		}
		byCID := map[string]tickets.AttachmentMeta{}
		for _, a := range m.Attachments {
			if a.ContentID != "" {
				byCID[strings.ToLower(a.ContentID)] = a
			}
		}
		doc := cidSrc.ReplaceAllStringFunc(m.HTML, func(ref string) string {
			cid := html.UnescapeString(cidSrc.FindStringSubmatch(ref)[1])
			if u, err := url.PathUnescape(cid); err == nil { // RFC 2392 %-encodes
				cid = u
			}
			a, ok := byCID[strings.ToLower(cid)]
			if !ok {
				return `src=""`
			}
			if src, done := embedded[a.ID]; done {
				return `src="` + src + `"`
			}
			embedded[a.ID] = ""
			if a.Size > maxInlineImage || int(a.Size) > budget {
				return `src=""`
			}
			_, data, err := s.Tickets.Attachment(ctx, t.ID, a.ID)
			if err != nil {
				s.Log.Warn("console: inline image not shown", "ticket", t.Number, "attachment_id", a.ID, "err", err)
				return `src=""`
			}
			ct := http.DetectContentType(data)
			if !rasterTypes[ct] || len(data) > budget {
				return `src=""`
			}
			budget -= len(data)
			read = append(read, a.ID)
			embedded[a.ID] = "data:" + ct + ";base64," + base64.StdEncoding.EncodeToString(data)
			return `src="` + embedded[a.ID] + `"`
		})
		frag := email.SanitizeHTML(mailPolicy, doc)
		if !staysInBox(frag) {
			s.Log.Warn("console: a mail's HTML would not stay in its box; showing its text only", "ticket", t.Number, "message_id", m.ID)
			frag = `<p><em>Tampilan HTML surel ini tidak dapat ditampilkan dengan aman; lihat teksnya di atas.</em></p>`
		}
		out[m.ID] = template.HTML(frag)
	}
	return out, read
}

// staysInBox reports whether frag, placed in the console's box, is parsed
// into the box and nothing else. The ticket page around it (nested as
// ticket.html nests it) is parsed with the HTML5 algorithm browsers use:
// the box must render back to frag, and what follows the box on the page
// must still be where the page put it. email.SanitizeHTML already makes
// frag a fixed point of that parser; this checks it in the real setting,
// so an operator's page can never be restructured by a mail.
func staysInBox(frag string) bool {
	doc := `<!doctype html><html><head></head><body><main><div id="messages"><div class="msg" id="msg"><div class="meta">m</div>t` +
		`<details class="mailhtml" id="details"><summary>s</summary><div class="mailhtml-body" id="box">` + frag +
		`</div></details><a id="after" href="#">a</a></div><div class="msg" id="next">n</div></div>` +
		`<form id="reply"><button id="send">b</button></form></main></body></html>`
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return false
	}
	byID := map[string]*html.Node{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "id" && byID[a.Val] == nil {
				byID[a.Val] = n
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	box, after, next, send, reply := byID["box"], byID["after"], byID["next"], byID["send"], byID["reply"]
	if box == nil || after == nil || next == nil || send == nil || reply == nil || reply.Parent == nil {
		return false
	}
	var b strings.Builder
	for c := box.FirstChild; c != nil; c = c.NextSibling {
		if html.Render(&b, c) != nil {
			return false
		}
	}
	id := func(n *html.Node) string {
		if n == nil {
			return ""
		}
		for _, a := range n.Attr {
			if a.Key == "id" {
				return a.Val
			}
		}
		return ""
	}
	return strings.TrimSpace(b.String()) == frag &&
		id(box.Parent) == "details" && id(box.Parent.Parent) == "msg" &&
		id(after.Parent) == "msg" && id(after.PrevSibling) == "details" &&
		id(next.Parent) == "messages" && id(send.Parent) == "reply" && reply.Parent.Data == "main"
}

// idList joins attachment IDs for an audit row.
func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}
