package intent

import (
	_ "embed"
	"strings"
)

// The IndoCollex dictionary (MIT, see indocollex/LICENSE): 2,622 informal
// Indonesian spellings with their formal word, collected from social media
// by people other than this team. The hand-written abbreviations were
// fitted to the tables their authors saw; this list knows the spellings
// they did not think of.
//
//go:embed indocollex/informal-formal-dictionary.tsv
var collexTSV string

// collex maps an informal word to its formal form. Entries that would
// override a word the matcher already knows are left out: the lexicon's
// own reading of "min" (admin) or "hp" is the one the rules were built on.
var collex = func() map[string]string {
	m := make(map[string]string, 2600)
	for _, line := range strings.Split(collexTSV, "\n") {
		informal, formal, ok := strings.Cut(strings.TrimRight(line, "\r"), "\t")
		if !ok || informal == "informal" || !isLetters(informal) {
			continue
		}
		formal = strings.ToLower(strings.Trim(formal, `" `))
		if formal == "" || formal == informal || !lettersAndSpaces(formal) {
			continue
		}
		if _, clash := lexicon[informal]; clash {
			continue
		}
		if _, clash := abbreviations[informal]; clash {
			continue
		}
		if phraseWords[informal] { // "in" is "di" in chat, but not in "log in"
			continue
		}
		m[informal] = formal
	}
	return m
}()

func lettersAndSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != ' ' {
			return false
		}
	}
	return true
}
