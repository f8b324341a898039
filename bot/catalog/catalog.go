// Package catalog owns every text the bot sends to citizens, in Indonesian
// (the default) and English. The texts live in id.json and en.json, embedded
// in the binary, so that wording can be reviewed and changed without touching
// the conversation logic. A test fails when a key exists in one language and
// not in the other, or when their placeholders differ.
//
// T never panics: an unknown language falls back to Indonesian, a missing key
// to the Indonesian text and then to the key itself.
package catalog

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed id.json en.json
var files embed.FS

// Default is the language used when a contact's language is unknown.
const Default = "id"

// Languages lists the supported languages, default first.
var Languages = []string{"id", "en"}

var texts = map[string]map[string]string{}

func init() {
	for _, lang := range Languages {
		raw, err := files.ReadFile(lang + ".json")
		if err != nil {
			panic(fmt.Sprintf("catalog: %s.json not embedded: %v", lang, err))
		}
		m := map[string]string{}
		if err := json.Unmarshal(raw, &m); err != nil {
			// The files are embedded at build time and checked by tests,
			// so this is a programming error, not a runtime condition.
			panic(fmt.Sprintf("catalog: %s.json: %v", lang, err))
		}
		texts[lang] = m
	}
}

// T returns the text for key in lang with {placeholders} filled from args.
// Placeholders without an entry in args are left as they are, so the caller
// can fill {ticket} later. Argument values are inserted literally and never
// re-expanded; escape user-supplied values with Escape first.
func T(lang, key string, args map[string]string) string {
	s, ok := texts[lang][key]
	if !ok {
		if s, ok = texts[Default][key]; !ok {
			return key
		}
	}
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 32)
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		name := s[i+1 : i+j]
		b.WriteString(s[:i])
		if v, ok := args[name]; ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// Has reports whether key exists in lang itself (no fallback).
func Has(lang, key string) bool {
	_, ok := texts[lang][key]
	return ok
}

// Keys returns the keys of lang, sorted.
func Keys(lang string) []string {
	keys := make([]string, 0, len(texts[lang]))
	for k := range texts[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Supported reports whether lang is a catalogue language.
func Supported(lang string) bool {
	_, ok := texts[lang]
	return ok
}

// escaper replaces characters that WhatsApp reads as formatting (*bold*,
// _italic_, ~strike~, `mono`), our own placeholder braces, and angle
// brackets (so a mail client or console rendering HTML shows them as text)
// with look-alike characters that carry no meaning.
var escaper = strings.NewReplacer(
	"*", "\u2217", // ∗ asterisk operator
	"_", "\uff3f", // ＿
	"~", "\u223c", // ∼ tilde operator
	"`", "\u02cb", // ˋ
	"{", "\uff5b", // ｛
	"}", "\uff5d", // ｝
	"<", "\u2039", // ‹
	">", "\u203a", // ›
	"\r\n", " ", "\n", " ", "\r", " ", "\t", " ",
)

// Escape makes citizen-supplied text safe to interpolate into a reply: no
// formatting or placeholder characters, no control characters, one line.
// Use it on every value that came from a citizen before passing it to T.
func Escape(s string) string {
	s = escaper.Replace(s)
	if strings.IndexFunc(s, isControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isControl(r) {
				return -1
			}
			return r
		}, s)
	}
	return s
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) ||
		r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfffd
}
