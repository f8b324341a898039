package email

import (
	"bytes"
	"mime"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/emersion/go-message/charset"
)

// header is a leniently parsed header block. go-message's textproto reader
// stops at the first malformed line (a missing colon, a space in a key), which
// real mail and the adversarial corpora have plenty of; here a bad line is
// skipped and counted instead.
type header struct {
	fields []field
	bad    int // lines that were neither a field nor a continuation
	// firstBad: the block did not even start with a field, so it is most
	// likely not a header at all.
	firstBad bool
}

type field struct {
	key   string // canonical (Content-Type)
	value string // unfolded, trimmed, still RFC 2047 encoded
	raw   []byte // the field's lines as received, for the content hash
}

// splitHeader finds the blank line ending the header block. It returns the
// header bytes and the body. A message without a blank line is all header.
func splitHeader(raw []byte) (hdr, body []byte) {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return raw, nil
		}
		line := raw[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if i == 0 {
				return nil, raw[i+j+1:]
			}
			return raw[:i], raw[i+j+1:]
		}
		i += j + 1
	}
	return raw, nil
}

// parseHeader reads at most max bytes of a header block.
func parseHeader(b []byte, max int) (h header, truncated bool) {
	if max > 0 && len(b) > max {
		b, truncated = b[:max], true
	}
	var cur *field
	first := true
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			line, b = b, nil
		}
		content := bytes.TrimRight(line, "\r\n")
		if first && bytes.HasPrefix(content, []byte("From ")) {
			// mbox separator line.
			first = false
			continue
		}
		first = false
		if len(content) > 0 && (content[0] == ' ' || content[0] == '\t') {
			if cur != nil {
				cur.value += " " + strings.TrimSpace(string(content))
				cur.raw = append(cur.raw, line...)
			} else {
				h.bad++
			}
			continue
		}
		i := bytes.IndexByte(content, ':')
		if i <= 0 || !validKey(bytes.TrimRight(content[:i], " \t")) {
			if len(h.fields) == 0 {
				h.firstBad = true
			}
			h.bad++
			cur = nil
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(string(bytes.TrimRight(content[:i], " \t")))
		h.fields = append(h.fields, field{key: key, value: strings.TrimSpace(string(content[i+1:])), raw: append([]byte(nil), line...)})
		cur = &h.fields[len(h.fields)-1]
	}
	return h, truncated
}

func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 127 || c == ':' {
			return false
		}
	}
	return true
}

// Get returns the first value of key ("" if absent).
func (h *header) Get(key string) string {
	key = textproto.CanonicalMIMEHeaderKey(key)
	for _, f := range h.fields {
		if f.key == key {
			return f.value
		}
	}
	return ""
}

// Has reports whether key is present.
func (h *header) Has(key string) bool {
	key = textproto.CanonicalMIMEHeaderKey(key)
	for _, f := range h.fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// Values returns all values of key.
func (h *header) Values(key string) []string {
	key = textproto.CanonicalMIMEHeaderKey(key)
	var vs []string
	for _, f := range h.fields {
		if f.key == key {
			vs = append(vs, f.value)
		}
	}
	return vs
}

var wordDecoder = mime.WordDecoder{CharsetReader: charset.Reader}

// decodeText decodes RFC 2047 encoded words and returns valid UTF-8 on one
// line. Undecodable words are kept as written; raw 8-bit bytes are repaired.
func decodeText(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		} else {
			// Decode word by word so one bad word does not spoil the rest.
			var b strings.Builder
			for i, w := range strings.Fields(s) {
				if i > 0 {
					b.WriteByte(' ')
				}
				if d, err := wordDecoder.Decode(w); err == nil {
					b.WriteString(d)
				} else if d, ok := decodeWordLenient(w); ok {
					b.WriteString(d)
				} else {
					b.WriteString(w)
				}
			}
			s = b.String()
		}
	}
	if strings.Contains(s, "=?") {
		// Words the standard decoder left alone (bad padding, odd charset).
		s = looseWord.ReplaceAllStringFunc(s, func(w string) string {
			if d, ok := decodeWordLenient(w); ok {
				return d
			}
			return w
		})
	}
	return oneLine(repairUTF8([]byte(s)))
}

var looseWord = regexp.MustCompile(`=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=`)

// oneLine makes s safe as a single-line field: no control characters (NUL
// included, which PostgreSQL rejects in TEXT), collapsed spaces.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

var encodedWord = regexp.MustCompile(`^=\?([^?]+)\?([bBqQ])\?([^?]*)\?=$`)

// decodeWordLenient decodes an RFC 2047 word the standard decoder refuses
// (extra base64 padding, unknown-to-stdlib charsets, stray characters).
func decodeWordLenient(w string) (string, bool) {
	m := encodedWord.FindStringSubmatch(w)
	if m == nil {
		return "", false
	}
	cs, enc, text := m[1], strings.ToLower(m[2]), m[3]
	if i := strings.IndexByte(cs, '*'); i >= 0 {
		cs = cs[:i] // RFC 2231 language suffix
	}
	var data []byte
	if enc == "b" {
		data = decodeBase64([]byte(text))
	} else {
		data = lenientQP([]byte(strings.ReplaceAll(text, "_", " ")))
	}
	return decodeCharset(cs, data), true
}
