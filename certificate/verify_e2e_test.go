package certificate_test

import (
	"io"
	"lindungi/certificate"
	"lindungi/internal/app/apptest"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
