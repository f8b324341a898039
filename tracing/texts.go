package tracing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

//go:embed texts.json
var textsJSON []byte

// Languages the citizen-facing texts exist in; the first is the default.
var Languages = []string{"id", "en"}

var texts = func() map[string]map[string]string {
	var t map[string]map[string]string
	if err := json.Unmarshal(textsJSON, &t); err != nil {
		panic("tracing: texts.json: " + err.Error())
	}
	return t
}()

// Text returns the text for key in lang (falling back to Indonesian) with
// {name} placeholders filled from vars.
func Text(lang, key string, vars map[string]string) string {
	l, ok := texts[lang]
	if !ok {
		l = texts[Languages[0]]
	}
	s, ok := l[key]
	if !ok {
		s = texts[Languages[0]][key]
	}
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func normLang(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(lang, "-_"); i > 0 {
		lang = lang[:i]
	}
	for _, l := range Languages {
		if l == lang {
			return l
		}
	}
	return Languages[0]
}

var monthsID = [...]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober", "November", "Desember"}

// formatDate writes a calendar date the way each language reads it:
// "2 Desember 2026" / "2 December 2026".
func formatDate(lang string, d time.Time) string {
	if lang == "id" {
		return fmt.Sprintf("%d %s %d", d.Day(), monthsID[d.Month()-1], d.Year())
	}
	return d.Format("2 January 2006")
}
