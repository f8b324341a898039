package web

import (
	"testing"

	"lindungi/channels/email"
)

// TestMailHTMLStaysInBox: what the console shows of a mail's HTML is parsed
// into its box and nothing else — also for markup that a single
// parse-and-render pass would leave able to close elements around it.
func TestMailHTMLStaysInBox(t *testing.T) {
	hostile := []string{
		`<p>lihat</p></div></div></div><h2>Status: Selesai</h2>`,
		`<p><a href="https://phish.example/login">Masuk ulang`,
		`<li><table><div></td><li>Dosis 2`,
		`<ul><li><table><div></td><li>Dosis 2</ul></div></div></div><h2>Status: Selesai</h2>`,
		`<table><tr><td><li><div><li>x</table></details></div><form><button>kirim</button>`,
		`<dl><dt><div><dd>a</dl></div></details>`,
	}
	for _, in := range hostile {
		frag := email.SanitizeHTML(mailPolicy, in)
		if frag != "" && !staysInBox(frag) {
			t.Errorf("sanitised %q → %q does not stay in its box", in, frag)
		}
	}
	// The check itself: unbalanced or non-fixed-point markup is refused.
	for _, raw := range []string{`</div><h2>x</h2>`, `<li><div><li></li></div>`, `<a href="https://x.example/">y`} {
		if staysInBox(raw) {
			t.Errorf("staysInBox(%q) = true", raw)
		}
	}
	if !staysInBox(`<table><tbody><tr><td>Dosis 2</td></tr></tbody></table>`) {
		t.Error("a plain table does not stay in its box")
	}
}

// FuzzMailHTMLStaysInBox: whatever a mail's HTML is, sanitising gives
// either nothing or a fixed point that stays in the console's box.
//
//	go test ./web -run '^$' -fuzz FuzzMailHTMLStaysInBox -fuzztime 5m
func FuzzMailHTMLStaysInBox(f *testing.F) {
	for _, s := range []string{`<li><table><div></td><li>x`, `<p>a</div><h2>b`, `<dl><dt><div><dd>a</dl>`, `<table><tr><td><li><div><li>x</table>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		frag := email.SanitizeHTML(mailPolicy, in)
		if frag == "" {
			return
		}
		if again := email.SanitizeHTML(mailPolicy, frag); again != frag {
			t.Fatalf("not a fixed point:\n%q\n%q", frag, again)
		}
		if !staysInBox(frag) {
			t.Fatalf("escapes its box: %q", frag)
		}
	})
}
