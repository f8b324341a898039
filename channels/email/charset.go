package email

import (
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/transform"
)

// Charsets real mail uses that go-message/charset does not know, or knows
// wrongly. Registered once at init; charset.Reader lower-cases names before
// the lookup.
func init() {
	for name, enc := range map[string]encoding.Encoding{
		"cp932":             japanese.ShiftJIS,
		"windows-31j":       japanese.ShiftJIS,
		"ms932":             japanese.ShiftJIS,
		"iso-2022-jp-ms":    japanese.ISO2022JP,
		"cp949":             korean.EUCKR,
		"ks_c_5601-1987":    korean.EUCKR,
		"utf-7":             utf7Encoding{},
		"unicode-1-1-utf-7": utf7Encoding{},
		// Labels that say "we do not know": keep valid UTF-8, read the rest
		// as windows-1252, which is what such mail nearly always is.
		"unknown-8bit":   lenientEncoding{},
		"x-unknown":      lenientEncoding{},
		"default":        lenientEncoding{},
		"unknown":        lenientEncoding{},
		"x-user-defined": lenientEncoding{},
		// Mail labelled Latin-1 is written by Windows clients in
		// windows-1252 (curly quotes, euro sign in the C1 range); the
		// WHATWG encoding standard decodes it the same way.
		"iso-8859-1": charmap.Windows1252,
		"iso8859-1":  charmap.Windows1252,
		"iso_8859-1": charmap.Windows1252,
		"latin1":     charmap.Windows1252,
		"l1":         charmap.Windows1252,
		"us-ascii":   lenientEncoding{},
		"ascii":      lenientEncoding{},
		"utf8":       lenientEncoding{},
	} {
		charset.RegisterEncoding(name, enc)
	}
}

// repairUTF8 returns s as valid UTF-8: valid sequences are kept and every
// invalid byte is decoded as windows-1252 (the usual culprit is Latin-1 text
// in a part labelled utf-8), so no text is lost to U+FFFD.
func repairUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			out = utf8.AppendRune(out, cp1252Rune(b[i]))
			i++
			continue
		}
		out = append(out, b[i:i+n]...)
		i += n
	}
	return string(out)
}

func cp1252Rune(c byte) rune {
	r := charmap.Windows1252.DecodeByte(c)
	if r == utf8.RuneError {
		return '\uFFFD'
	}
	return r
}

// lenientEncoding decodes valid UTF-8 unchanged and other bytes as
// windows-1252, streaming.
type lenientEncoding struct{}

func (lenientEncoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: lenientTransformer{}}
}
func (lenientEncoding) NewEncoder() *encoding.Encoder {
	return &encoding.Encoder{Transformer: encoding.UTF8Validator}
}

type lenientTransformer struct{ transform.NopResetter }

func (lenientTransformer) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		c := src[nSrc]
		if c < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = c
			nDst++
			nSrc++
			continue
		}
		if !atEOF && !utf8.FullRune(src[nSrc:]) {
			return nDst, nSrc, transform.ErrShortSrc
		}
		r, n := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && n <= 1 {
			r, n = cp1252Rune(c), 1
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += n
	}
	return nDst, nSrc, nil
}

// utf7Encoding decodes RFC 2152 UTF-7 (still sent by a few old clients).
// Malformed input becomes U+FFFD instead of an error.
type utf7Encoding struct{}

func (utf7Encoding) NewDecoder() *encoding.Decoder {
	return &encoding.Decoder{Transformer: &utf7Decoder{}}
}
func (utf7Encoding) NewEncoder() *encoding.Encoder { return encoding.Nop.NewEncoder() }

type utf7Decoder struct {
	inB64 bool
	first bool // just after '+': "+-" means a literal '+'
	bits  uint32
	nbits uint
	hi    rune // pending high surrogate
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

func b64val(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	emit := func(r rune) bool {
		if nDst+utf8.UTFMax > len(dst) {
			return false
		}
		if !utf8.ValidRune(r) {
			r = '\uFFFD'
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		return true
	}
	for nSrc < len(src) {
		if nDst+2*utf8.UTFMax > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if !d.inB64 {
			if c == '+' {
				d.inB64, d.first, d.bits, d.nbits = true, true, 0, 0
			} else if c < utf8.RuneSelf {
				emit(rune(c))
			} else {
				emit(cp1252Rune(c))
			}
			nSrc++
			continue
		}
		v := b64val(c)
		if v < 0 {
			if d.first && c == '-' {
				emit('+')
			} else if d.hi != 0 {
				emit('\uFFFD')
			}
			d.hi = 0
			d.inB64 = false
			if c != '-' {
				continue // re-read c in direct mode
			}
			nSrc++
			continue
		}
		d.first = false
		d.bits = d.bits<<6 | uint32(v)
		d.nbits += 6
		if d.nbits >= 16 {
			d.nbits -= 16
			u := rune(d.bits>>d.nbits) & 0xFFFF
			d.bits &= 1<<d.nbits - 1
			switch {
			case u >= 0xD800 && u < 0xDC00:
				if d.hi != 0 {
					emit('\uFFFD')
				}
				d.hi = u
			case u >= 0xDC00 && u < 0xE000:
				if d.hi != 0 {
					emit((d.hi-0xD800)<<10 + (u - 0xDC00) + 0x10000)
					d.hi = 0
				} else {
					emit('\uFFFD')
				}
			default:
				if d.hi != 0 {
					emit('\uFFFD')
					d.hi = 0
				}
				emit(u)
			}
		}
		nSrc++
	}
	if atEOF && d.hi != 0 {
		if !emit('\uFFFD') {
			return nDst, nSrc, transform.ErrShortDst
		}
		d.hi = 0
	}
	return nDst, nSrc, nil
}
