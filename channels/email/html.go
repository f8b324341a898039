package email

import (
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLPolicy is the sanitiser for a mail's HTML. It keeps structure,
// tables and links but nothing that loads remote content: no style
// attributes (url() backgrounds), no forms, scripts or iframes, and images
// only whose src matches imgSrc — at import the mail's own inline parts
// (cid:), in the console those parts embedded as data: URIs (the caller
// allows the data scheme on the policy it gets).
func HTMLPolicy(imgSrc *regexp.Regexp) *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardURLs()
	// A relative link in a mail would point into the console itself.
	p.AllowRelativeURLs(false)
	p.AllowURLSchemes("http", "https", "mailto", "cid")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("src").Matching(imgSrc).OnElements("img")
	p.AllowAttrs("alt", "title", "width", "height").OnElements("img")
	p.AllowElements("p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "small", "sub", "sup",
		"blockquote", "pre", "code", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
		"ul", "ol", "li", "dl", "dt", "dd", "font", "center")
	p.AllowTables()
	p.AllowAttrs("colspan", "rowspan", "align", "valign").OnElements("td", "th")
	return p
}

var htmlPolicy = HTMLPolicy(regexp.MustCompile(`(?i)^cid:`))

// SanitizeHTML cleans s with p and balances the result. bluemonday drops
// what p does not allow but leaves the tags it keeps as they were, so a
// stray </div> or an unclosed <a> in a mail would reach beyond the mail
// once it is embedded in a page (close the console's box, or turn the rest
// of the page into a link). Parsing the result as the content of a <div>
// and rendering it back closes every element inside it.
func SanitizeHTML(p *bluemonday.Policy, s string) string {
	return balanceHTML(p.Sanitize(s))
}

// balanceHTML re-renders an HTML fragment until it is a fixed point: what
// a browser builds from the result, inside a <div>, is exactly what it
// says (a tag cut off at the end becomes text or is dropped). One pass is
// not always enough: mis-nested input such as <li><table><div></td><li>
// renders as markup that parses differently again, and could then close
// elements around it. A fragment still changing after a few passes is
// dropped ("" — the mail's text is kept apart).
func balanceHTML(s string) string {
	for range 4 {
		out := renderFragment(s)
		if out == s {
			return out
		}
		s = out
	}
	if renderFragment(s) == s {
		return s
	}
	return ""
}

func renderFragment(s string) string {
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		return "" // only a reader error; a string reader has none
	}
	var b strings.Builder
	for _, n := range nodes {
		if err := html.Render(&b, n); err != nil {
			return ""
		}
	}
	return strings.TrimSpace(b.String())
}

var blankLines = regexp.MustCompile(`\n{3,}`)

// htmlToText renders HTML as readable plain text for the ticket: block
// elements become line breaks, links keep their target, script/style vanish.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	pre := 0
	var href []string
	nl := func() {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte('\n')
		}
	}
	for steps := 0; steps < 2_000_000; steps++ {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		name, hasAttr := z.TagName()
		tag := string(name)
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch tag {
			case "script", "style", "head", "title", "noscript", "template":
				if tt == html.StartTagToken {
					skip++
				}
			case "br":
				b.WriteByte('\n')
			case "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "dl", "dt", "dd", "section", "article", "header", "footer":
				nl()
			case "li":
				nl()
				b.WriteString("- ")
			case "hr":
				nl()
				b.WriteString("----\n")
			case "td", "th":
				b.WriteByte('\t')
			case "pre":
				nl()
				pre++
			case "img":
				if alt := strings.TrimSpace(attrs["alt"]); alt != "" {
					b.WriteString("[" + alt + "]")
				}
			case "a":
				if tt == html.StartTagToken {
					href = append(href, attrs["href"])
				}
			}
		case html.EndTagToken:
			switch tag {
			case "script", "style", "head", "title", "noscript", "template":
				if skip > 0 {
					skip--
				}
			case "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "li", "ul", "ol", "section", "article":
				nl()
			case "pre":
				if pre > 0 {
					pre--
				}
				nl()
			case "a":
				if n := len(href); n > 0 {
					h := href[n-1]
					href = href[:n-1]
					if (strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://")) && !strings.HasSuffix(b.String(), h) {
						b.WriteString(" (" + h + ")")
					}
				}
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre == 0 {
				t = strings.Join(strings.Fields(t), " ")
				if t == "" {
					continue
				}
				cur := b.String()
				if len(cur) > 0 && !strings.HasSuffix(cur, "\n") && !strings.HasSuffix(cur, " ") && !strings.HasSuffix(cur, "\t") {
					b.WriteByte(' ')
				}
			}
			b.WriteString(t)
		}
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}
