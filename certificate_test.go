package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
