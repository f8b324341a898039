package certificate_test

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"lindungi/certificate"
	"lindungi/internal/app/apptest"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// TestVerifyPage checks the public GET /verify page against the gateway's
// own signer: JSON for programs, HTML in both languages for people.
func TestVerifyPage(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
	qr := issueDemo(t, ta.Signer)
	forged := qr[:len(qr)-6] + "AAAAAA"
	for _, c := range []struct {
		name, qr, accept string
		status           int
		want             []string
	}{
		{"valid, JSON", qr, "application/json", 200, []string{`"valid":true`, `"reason":"ok"`, `"dob":"1985-03-02"`}},
		{"valid, HTML", qr, "text/html", 200, []string{`data-valid="true"`, "Sah.", "Valid.", "Budi Santoso", "1985-03-02"}},
		{"altered, HTML", forged, "text/html", 200, []string{`data-valid="false"`, "Tidak sah.", "Not valid."}},
		{"not a certificate, JSON", "hello", "application/json", 200, []string{`"valid":false`, `"reason":"prefix"`}},
		{"no QR, JSON", "", "application/json", 400, []string{`"missing_qr"`}},
		{"no QR, HTML form", "", "text/html", 200, []string{`<form method="get" action="/verify">`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ta.Base+"/verify?qr="+url.QueryEscape(c.qr), nil)
			req.Header.Set("Accept", c.accept)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			for _, w := range c.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("answer lacks %q:\n%s", w, b)
				}
			}
			if strings.Contains(string(b), "<no value>") {
				t.Errorf("template printed <no value>:\n%s", b)
			}
		})
	}
}

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
	return certificate.Prefix + certificate.Base45Encode(z.Bytes())
}

// The page is rendered from a typed view built only for payloads a trusted
// signer signed: a pasted payload of another shape ("nam" a string, "v"
// not a list) aborted the page half-way and logged an error per request,
// and one holding a NaN broke the JSON answer after its 200.
func TestVerifyPageAttackerShapedPayload(t *testing.T) {
	ta := apptest.Start(t, apptest.Config(t))
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
			req, _ := http.NewRequest("GET", ta.Base+"/verify?qr="+url.QueryEscape(c.qr), nil)
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
	if strings.Contains(ta.Logs.String(), "template failed") {
		t.Errorf("the page logged a template failure:\n%s", ta.Logs.String())
	}
}
