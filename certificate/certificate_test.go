package certificate

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lindungi/store/storetest"
)

func sampleDCC() DCC {
	return DCC{
		Name:        Name{Family: "Siti Nurhaliza", FamilyT: "SITI<NURHALIZA"},
		DateOfBirth: "1990-07-17",
		Vaccination: []Dose{{
			Disease: "840539006", Prophylaxis: "J07BX03", Product: "CoronaVac",
			Manufacturer: "Sinovac-Biotech", Number: 2, Series: 2, Date: "2021-08-02",
			Country: "ID", Issuer: "Kementerian Kesehatan Republik Indonesia",
			ID: "URN:UVCI:01:ID:TEST0001#X",
		}},
	}
}

func testSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := DemoSigner(t.TempDir(), "ID", 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBase45(t *testing.T) {
	// The examples of RFC 9285 §4.3 and §4.4.
	for _, c := range []struct{ plain, enc string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
		{"", ""},
	} {
		if got := base45Encode([]byte(c.plain)); got != c.enc {
			t.Errorf("encode %q = %q, want %q", c.plain, got, c.enc)
		}
		got, err := base45Decode(c.enc)
		if err != nil || string(got) != c.plain {
			t.Errorf("decode %q = %q, %v; want %q", c.enc, got, err, c.plain)
		}
	}
	for _, bad := range []string{"GGW", "A", "ABCD", "abc", "ÄB8"} {
		if _, err := base45Decode(bad); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	s := testSigner(t)
	// The demo signer certificate is valid from an hour before it was made.
	now := time.Now().Truncate(time.Second)
	qr, err := s.Issue(sampleDCC(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(qr, Prefix) {
		t.Fatalf("QR string %q lacks %s", qr[:10], Prefix)
	}
	t.Logf("QR string of one dose: %d characters", len(qr))
	trust := []*x509.Certificate{s.Certificate()}
	other := testSigner(t)
	for _, c := range []struct {
		name   string
		qr     string
		trust  []*x509.Certificate
		at     time.Time
		reason string
	}{
		{"valid", qr, trust, now.Add(time.Hour), ReasonOK},
		{"expired", qr, trust, now.AddDate(0, 0, 400), ReasonExpired},
		{"issued in the future", qr, trust, now.Add(-30 * time.Minute), ReasonNotYetValid},
		{"another signer", qr, []*x509.Certificate{other.Certificate()}, now, ReasonUnknownSigner},
		{"no prefix", strings.TrimPrefix(qr, Prefix), trust, now, ReasonPrefix},
		{"lowercase", strings.ToLower(qr), trust, now, ReasonPrefix},
		{"broken Base45", qr[:len(qr)-1] + "a", trust, now, ReasonBase45},
		{"truncated", qr[:len(qr)-30], trust, now, ReasonCompression},
		{"not zlib", Prefix + base45Encode([]byte("not compressed")), trust, now, ReasonCompression},
		{"tampered", tamper(t, qr), trust, now.Add(time.Hour), ReasonSignature},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := Verify(c.qr, c.trust, c.at)
			if r.Reason != c.reason || r.Valid != (c.reason == ReasonOK) {
				t.Fatalf("valid=%v reason=%q, want reason %q", r.Valid, r.Reason, c.reason)
			}
			if c.reason == ReasonOK {
				if r.Payload.Issuer != "ID" || r.Payload.HCert["dob"] != "1990-07-17" {
					t.Errorf("payload %+v", r.Payload)
				}
			}
		})
	}
}

// tamper re-encodes qr with one byte of the date of birth changed inside
// the signed payload, so that only the signature can tell.
func tamper(t *testing.T, qr string) string {
	t.Helper()
	z, err := base45Decode(strings.TrimPrefix(qr, Prefix))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := inflate(z)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("1990-07-17"))
	if i < 0 {
		t.Fatal("date of birth not found in the COSE message")
	}
	raw[i+3] = '1'
	var zb bytes.Buffer
	zw := newZlib(&zb)
	zw.Write(raw)
	zw.Close()
	return Prefix + base45Encode(zb.Bytes())
}

// TestIssuedVerifiesIndependently hands a certificate we issued to a small
// Python verifier built on Debian's python3-cbor2 and python3-cryptography
// (testdata/verify_hcert.py), which shares no code with this package.
func TestIssuedVerifiesIndependently(t *testing.T) {
	py := "/usr/bin/python3" // Debian's, where the apt packages are installed
	if err := exec.Command(py, "-c", "import cbor2, cryptography").Run(); err != nil {
		storetest.SkipOrFail(t, "python3-cbor2 and python3-cryptography are not installed (apt-get install python3-cbor2 python3-cryptography)")
	}
	s := testSigner(t)
	dcc := sampleDCC()
	qr, err := s.Issue(dcc, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(t.TempDir(), "signer.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/verify_hcert.py", pemFile)
	cmd.Stdin = strings.NewReader(qr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("independent verifier refused our certificate: %v: %s", err, stderr.String())
	}
	var got struct {
		Iss   string `json:"iss"`
		HCert DCC    `json:"hcert"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("verifier output %q: %v", out, err)
	}
	dcc.Version = SchemaVersion
	gb, _ := json.Marshal(got.HCert)
	wb, _ := json.Marshal(dcc)
	if got.Iss != "ID" || !bytes.Equal(gb, wb) {
		t.Errorf("independent verifier read iss=%q %s, want ID %s", got.Iss, gb, wb)
	}

	// And it must refuse what we would refuse, or its yes means nothing.
	cmd = exec.Command(py, "testdata/verify_hcert.py", pemFile)
	cmd.Stdin = strings.NewReader(tamper(t, qr))
	if err := cmd.Run(); err == nil {
		t.Error("independent verifier accepted a tampered certificate")
	}
}
