package certificate

import (
	"crypto/x509"
	"testing"
	"time"
)

// go test ./certificate -run '^$' -bench . -benchtime 2000x
func BenchmarkIssue(b *testing.B) {
	s, err := DemoSigner(b.TempDir(), "ID", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Issue(sampleDCC(), now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, err := DemoSigner(b.TempDir(), "ID", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	qr, err := s.Issue(sampleDCC(), now)
	if err != nil {
		b.Fatal(err)
	}
	trust := []*x509.Certificate{s.Certificate()}
	b.ReportAllocs()
	for b.Loop() {
		if r := Verify(qr, trust, now); !r.Valid {
			b.Fatal(r.Reason)
		}
	}
}

func BenchmarkPDF(b *testing.B) {
	s, err := DemoSigner(b.TempDir(), "ID", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	qr, err := s.Issue(sampleDCC(), now)
	if err != nil {
		b.Fatal(err)
	}
	doc := Document{Name: "Siti Nurhaliza", NIK: "3174055708900003", BirthDate: now.AddDate(-30, 0, 0),
		Doses: []DocumentDose{{1, now, "CoronaVac", "Puskesmas"}, {2, now, "CoronaVac", "Puskesmas"}}, QR: qr, VerifyURL: "https://x/verify", IssuedAt: now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PDF(doc); err != nil {
			b.Fatal(err)
		}
	}
}
