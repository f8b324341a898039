package registry

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"lindungi/registry/fhirfake"
	"lindungi/testlog"
)

const (
	testNIK = "3174055708900003"
	testDOB = "1990-08-17"
)

func seeded(t *testing.T) (*fhirfake.Server, *httptest.Server) {
	t.Helper()
	fake := fhirfake.New("lindungi", "s3cret")
	fake.AddPatient(fhirfake.Patient{ID: "P02478375538", NIK: testNIK, Name: "Siti Aminah", Gender: "female", BirthDate: testDOB, Phone: "0812-3456-7890"})
	fake.AddDose(fhirfake.Dose{ID: "imm-2", PatientID: "P02478375538", Date: "2021-09-14", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 2, Series: 2, Lot: "J202108"})
	fake.AddDose(fhirfake.Dose{ID: "imm-1", PatientID: "P02478375538", Date: "2021-08-17", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 1, Series: 2, Lot: "J202107"})
	fake.AddDose(fhirfake.Dose{ID: "imm-x", PatientID: "P02478375538", Date: "2021-08-18", KFACode: "93001019", VaccineName: "CoronaVac", Dose: 1, Series: 2, Status: "entered-in-error"})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv
}

// clock is a settable time for the cache and the breaker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func client(srv *httptest.Server, secret string, logs *testlog.Buffer, c *clock) *FHIR {
	f := NewFHIR(Config{
		BaseURL: srv.URL + fhirfake.FHIRPath, TokenURL: srv.URL + fhirfake.TokenPath,
		ClientID: "lindungi", ClientSecret: secret,
		Timeout: 200 * time.Millisecond, Attempts: 3,
		BreakerFailures: 3, BreakerCooldown: time.Minute, CacheTTL: time.Minute,
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	f.now = c.now
	f.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() } // no waiting in tests
	return f
}

func TestFHIRFaults(t *testing.T) {
	for _, c := range []struct {
		name      string
		nik, dob  string
		secret    string
		fault     func(*fhirfake.Server)
		want      error
		fhirReqs  int // requests that reached the FHIR server
		tokenReqs int
	}{
		{name: "found", nik: testNIK, dob: testDOB, want: nil, fhirReqs: 1, tokenReqs: 1},
		{name: "wrong birth date", nik: testNIK, dob: "1990-08-18", want: ErrNoMatch, fhirReqs: 1, tokenReqs: 1},
		{name: "unknown NIK", nik: "3174055708900004", dob: testDOB, want: ErrNoMatch, fhirReqs: 1, tokenReqs: 1},
		{name: "two 503s, then an answer", nik: testNIK, dob: testDOB, fault: func(s *fhirfake.Server) { s.Fail5xx(2) }, fhirReqs: 3, tokenReqs: 1},
		{name: "503 on every attempt", nik: testNIK, dob: testDOB, fault: func(s *fhirfake.Server) { s.Fail5xx(10) }, want: ErrUnavailable, fhirReqs: 3, tokenReqs: 1},
		{name: "401: token revoked, fetched again", nik: testNIK, dob: testDOB, fault: func(s *fhirfake.Server) { s.RevokeTokens() }},
		{name: "malformed bundle once", nik: testNIK, dob: testDOB, fault: func(s *fhirfake.Server) { s.Malformed(1) }, fhirReqs: 2, tokenReqs: 1},
		{name: "malformed bundle always", nik: testNIK, dob: testDOB, fault: func(s *fhirfake.Server) { s.Malformed(10) }, want: ErrUnavailable, fhirReqs: 3, tokenReqs: 1},
		{name: "slower than the timeout", nik: testNIK, dob: testDOB, fault: func(s *fhirfake.Server) { s.SetDelay(time.Minute) }, want: ErrUnavailable, fhirReqs: 3, tokenReqs: 1},
		{name: "wrong client secret: no retries", nik: testNIK, dob: testDOB, secret: "wrong", want: ErrUnavailable, fhirReqs: 0, tokenReqs: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake, srv := seeded(t)
			var logs testlog.Buffer
			secret := c.secret
			if secret == "" {
				secret = "s3cret"
			}
			f := client(srv, secret, &logs, &clock{time.Now()})
			if c.name == "401: token revoked, fetched again" {
				// Hold a token first, then have the registry revoke it.
				if _, err := f.accessToken(context.Background()); err != nil {
					t.Fatal(err)
				}
				c.tokenReqs, c.fhirReqs = 2, 2
			}
			if c.fault != nil {
				c.fault(fake)
			}
			p, err := f.FindPerson(context.Background(), c.nik, c.dob)
			if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want == nil && (p.ID != "P02478375538" || p.Name != "Siti Aminah" || p.Phone != "+6281234567890") {
				t.Errorf("person %+v", p)
			}
			fhir, tok := fake.Requests()
			if fhir != c.fhirReqs || tok != c.tokenReqs {
				t.Errorf("requests: FHIR %d token %d, want %d and %d", fhir, tok, c.fhirReqs, c.tokenReqs)
			}
			testlog.AssertClean(t, logs.String(), c.nik, c.dob, "Siti Aminah", "s3cret")
		})
	}
}

func TestImmunizations(t *testing.T) {
	_, srv := seeded(t)
	var logs testlog.Buffer
	f := client(srv, "s3cret", &logs, &clock{time.Now()})
	got, err := f.Immunizations(context.Background(), "P02478375538")
	if err != nil {
		t.Fatal(err)
	}
	// Oldest first; the dose entered in error is no dose.
	if len(got) != 2 || got[0].ID != "imm-1" || got[1].ID != "imm-2" {
		t.Fatalf("doses %+v", got)
	}
	d := got[1]
	if d.DoseNumber != 2 || d.SeriesDoses != 2 || d.VaccineName != "CoronaVac" || d.VaccineCode != "93001019" ||
		d.Place != "Puskesmas Kebayoran Baru" || d.Date.Format("2006-01-02") != "2021-09-14" {
		t.Errorf("dose %+v", d)
	}
}

func TestBreakerOpensAndRecovers(t *testing.T) {
	fake, srv := seeded(t)
	var logs testlog.Buffer
	clk := &clock{time.Now()}
	f := client(srv, "s3cret", &logs, clk)
	ctx := context.Background()
	fake.Fail5xx(1000)
	for i := 0; i < 3; i++ { // BreakerFailures
		if _, err := f.FindPerson(ctx, testNIK, testDOB); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	before, _ := fake.Requests()
	if _, err := f.FindPerson(ctx, testNIK, testDOB); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("open circuit: %v", err)
	}
	if after, _ := fake.Requests(); after != before {
		t.Fatalf("the open circuit let %d requests through", after-before)
	}
	fake.Fail5xx(0)
	clk.t = clk.t.Add(2 * time.Minute) // past the cooldown: one trial goes through
	if _, err := f.FindPerson(ctx, testNIK, testDOB); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
}

func TestCacheExpires(t *testing.T) {
	fake, srv := seeded(t)
	var logs testlog.Buffer
	clk := &clock{time.Now()}
	f := client(srv, "s3cret", &logs, clk)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := f.FindPerson(ctx, testNIK, testDOB); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := fake.Requests(); n != 1 {
		t.Fatalf("second lookup within the TTL reached the registry (%d requests)", n)
	}
	clk.t = clk.t.Add(61 * time.Second)
	if _, err := f.FindPerson(ctx, testNIK, testDOB); err != nil {
		t.Fatal(err)
	}
	if n, _ := fake.Requests(); n != 2 {
		t.Fatalf("lookup after the TTL was answered from the cache (%d requests)", n)
	}
	f.Forget()
	if _, err := f.FindPerson(ctx, testNIK, testDOB); err != nil {
		t.Fatal(err)
	}
	if n, _ := fake.Requests(); n != 3 {
		t.Fatalf("lookup after Forget was answered from the cache (%d requests)", n)
	}
}

func TestCacheTTLCapped(t *testing.T) {
	f := NewFHIR(Config{CacheTTL: 24 * time.Hour}, nil)
	if f.cfg.CacheTTL != MaxCacheTTL {
		t.Errorf("cache TTL %v, want the cap %v", f.cfg.CacheTTL, MaxCacheTTL)
	}
}
