package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"lindungi/certificate"
)

func issueDemo(t *testing.T, s *certificate.Signer) string {
	t.Helper()
	qr, err := s.Issue(certificate.DCC{
		Name:        certificate.Name{Family: "Budi Santoso", FamilyT: "BUDI<SANTOSO"},
		DateOfBirth: "1985-03-02",
		Vaccination: []certificate.Dose{{Disease: "840539006", Prophylaxis: "J07BX03", Product: "CoronaVac",
			Manufacturer: "Sinovac-Biotech", Number: 2, Series: 2, Date: "2021-08-02", Country: "ID",
			Issuer: "Kementerian Kesehatan Republik Indonesia", ID: "URN:UVCI:01:ID:DEMO#1"}},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return qr
}

// TestCertificateVerifyCommand runs `lindungi certificate verify` as the
// command line does: JSON on stdout, an error (exit 1) when not valid.
func TestCertificateVerifyCommand(t *testing.T) {
	s, err := certificate.DemoSigner(t.TempDir(), "ID", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	trust := filepath.Join(t.TempDir(), "signer.pem")
	if err := os.WriteFile(trust, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	qr := issueDemo(t, s)
	for _, c := range []struct {
		name   string
		args   []string
		valid  bool
		reason string
	}{
		{"now", nil, true, "ok"},
		{"after expiry", []string{"--at", time.Now().Add(2 * time.Hour).Format(time.RFC3339)}, false, "expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"certificate", "verify", "--trust", trust}, c.args...)
			err := realMain(context.Background(), args, strings.NewReader(qr+"\n"), &out, io.Discard)
			var res struct {
				Valid   bool            `json:"valid"`
				Reason  string          `json:"reason"`
				Payload json.RawMessage `json:"payload"`
			}
			if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
				t.Fatalf("stdout %q: %v", out.String(), jerr)
			}
			if res.Valid != c.valid || res.Reason != c.reason || len(res.Payload) < 10 {
				t.Errorf("got %s", out.String())
			}
			if c.valid != (err == nil) || (err != nil && !errors.Is(err, certificate.ErrNotValid)) {
				t.Errorf("error %v for valid=%v", err, c.valid)
			}
		})
	}
}

// craftQR signs hcert, a health certificate of any shape, with a key of
// its own that nobody trusts: what anyone can paste into /verify.
func craftQR(t *testing.T, hcert map[string]any) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := cbor.Marshal(map[int]any{1: "XX", 4: time.Now().Add(time.Hour).Unix(), -260: map[int]any{1: hcert}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		t.Fatal(err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = []byte("attacker")
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		t.Fatal(err)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	return certificate.Prefix + base45(z.Bytes())
}

// base45 is RFC 9285's encoding (the certificate package keeps its own
// unexported).
func base45(b []byte) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	var out []byte
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])*256 + int(b[i+1])
		out = append(out, alphabet[n%45], alphabet[n/45%45], alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, alphabet[n%45], alphabet[n/45])
	}
	return string(out)
}

// The page is rendered from a typed view built only for payloads a trusted
// signer signed: a pasted payload of another shape ("nam" a string, "v"
// not a list) aborted the page half-way and logged an error per request,
// and one holding a NaN broke the JSON answer after its 200.
func TestVerifyPageAttackerShapedPayload(t *testing.T) {
	ta := startApp(t, testConfig(t))
	shaped := craftQR(t, map[string]any{"ver": "1.3.0", "nam": "Penipu Ulung", "dob": "1985-03-02", "v": "y"})
	withNaN := craftQR(t, map[string]any{"ver": "1.3.0", "nam": map[string]any{"fn": "Budi"}, "v": []any{map[string]any{"dn": math.NaN()}}})
	for _, c := range []struct {
		name, qr, accept string
		status           int
		want, not        []string
	}{
		{"odd shape, HTML: the whole page, nothing of the payload", shaped, "text/html", 200,
			[]string{`data-valid="false"`, "tidak ditandatangani oleh penerbit yang kami percayai", "</main></body></html>"},
			[]string{"Penipu Ulung", "1985-03-02", "<table>"}},
		{"NaN, JSON: an error, not half an answer", withNaN, "application/json", 422,
			[]string{`"unencodable_certificate"`}, []string{"Budi"}},
		{"NaN, HTML", withNaN, "text/html", 200, []string{`data-valid="false"`, "</main></body></html>"}, []string{"Budi"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ta.base+"/verify?qr="+url.QueryEscape(c.qr), nil)
			req.Header.Set("Accept", c.accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			if c.accept == "application/json" && !json.Valid(b) {
				t.Errorf("not JSON: %s", b)
			}
			for _, w := range c.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("answer lacks %q:\n%s", w, b)
				}
			}
			for _, n := range c.not {
				if strings.Contains(string(b), n) {
					t.Errorf("answer shows %q of an untrusted payload:\n%s", n, b)
				}
			}
		})
	}
	if strings.Contains(ta.logs.String(), "template failed") {
		t.Errorf("the page logged a template failure:\n%s", ta.logs.String())
	}
}
