package web

import (
	"context"
	"encoding/base64"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/microcosm-cc/bluemonday"

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
		out[m.ID] = template.HTML(email.SanitizeHTML(mailPolicy, doc))
	}
	return out, read
}

// idList joins attachment IDs for an audit row.
func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}
