package selfservice_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lindungi/channels/whatsapp"
	"lindungi/channels/whatsapp/wafake"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/registry/fhirfake"
	"lindungi/store/storetest"
	"lindungi/testlog"
)

var ticketNumberRE = regexp.MustCompile(`PL-\d{4}-\d{6}`)

// Citizens of the fake registry, one per scenario so that no conversation
// state or attempt count carries over. NIKs agree with their birth dates.
var (
	siti = fhirfake.Patient{ID: "P02478375538", NIK: "3174055708900003", Name: "Siti Aminah", Gender: "female", BirthDate: "1990-08-17", Phone: "081234567890"}
	rina = fhirfake.Patient{ID: "P03371118204", NIK: "3171014203920002", Name: "Rina Wulandari", Gender: "female", BirthDate: "1992-03-02", Phone: "+6281311112222"}
	dewi = fhirfake.Patient{ID: "P05512349876", NIK: "3578015505880004", Name: "Dewi Lestari", Gender: "female", BirthDate: "1988-05-15", Phone: "+6285733334444"}
	agus = fhirfake.Patient{ID: "P01234567890", NIK: "3273010101850007", Name: "Agus Salim", Gender: "male", BirthDate: "1985-01-01", Phone: "+6281398765432"}
	// budi is asked for only while the registry is down (nothing cached).
	budi  = fhirfake.Patient{ID: "P07700112233", NIK: "3171011708850001", Name: "Budi Santoso", Gender: "male", BirthDate: "1985-08-17", Phone: "+6281277778888"}
	dosed = []fhirfake.Patient{siti, rina}
)

type selfServiceApp struct {
	*apptest.Gateway
	fake *fhirfake.Server
}

// startSelfService runs the gateway against a fake registry, with the
// simulator answered as if it were WhatsApp (selfservice.demo_channels).
func startSelfService(t *testing.T) *selfServiceApp {
	t.Helper()
	fake := fhirfake.New("lindungi-gateway", "rahasia")
	for _, p := range []fhirfake.Patient{siti, rina, dewi, agus, budi} {
		fake.AddPatient(p)
	}
	for i, p := range dosed {
		fake.AddDose(fhirfake.Dose{ID: "imm-a" + p.ID, PatientID: p.ID, Date: "2021-08-1" + string(rune('0'+i)), KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 1, Series: 2, Lot: "J2108A"})
		fake.AddDose(fhirfake.Dose{ID: "imm-b" + p.ID, PatientID: p.ID, Date: "2021-09-14", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 2, Series: 2, Lot: "J2109B"})
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	secret := filepath.Join(t.TempDir(), "registry-secret")
	if err := os.WriteFile(secret, []byte("rahasia\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := apptest.Config(t,
		"LINDUNGI_REGISTRY_BASE_URL="+srv.URL+fhirfake.FHIRPath,
		"LINDUNGI_REGISTRY_TOKEN_URL="+srv.URL+fhirfake.TokenPath,
		"LINDUNGI_REGISTRY_CLIENT_ID=lindungi-gateway",
		"LINDUNGI_REGISTRY_CLIENT_SECRET_FILE="+secret,
		"LINDUNGI_REGISTRY_TIMEOUT=2s",
		"LINDUNGI_SELFSERVICE_DEMO_CHANNELS=simulator")
	return &selfServiceApp{Gateway: apptest.Start(t, cfg), fake: fake}
}

type simDoc struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Data        []byte `json:"data"`
}

type simFull struct {
	Text        string   `json:"text"`
	To          string   `json:"to"`
	Attachments []simDoc `json:"attachments"`
}

// converse sends each text as from, in order, waiting for the bot's
// answer to each before the next (a person reads before typing).
// in returns a with t as the test that fails, for subtests.
func (a *selfServiceApp) in(t *testing.T) *selfServiceApp {
	c := *a.Gateway
	c.T = t
	return &selfServiceApp{Gateway: &c, fake: a.fake}
}

func (a *selfServiceApp) converse(from string, texts ...string) {
	a.T.Helper()
	for _, text := range texts {
		if got := a.Say(from, text); len(got) == 0 {
			a.T.Fatalf("no answer to %q", text)
		}
	}
}

// await returns the first message to `to` containing want, waiting for
// the registry work that runs after the citizen's message committed.
func (a *selfServiceApp) await(to, want string) simFull {
	a.T.Helper()
	var got struct {
		Messages []simFull `json:"messages"`
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		a.Call("GET", "/api/v1/simulator/messages?to="+apptest.URLQ(to)+"&wait=1s", nil, &got)
		for _, m := range got.Messages {
			if strings.Contains(m.Text, want) {
				return m
			}
		}
	}
	var texts []string
	for _, m := range got.Messages {
		texts = append(texts, m.Text)
	}
	a.T.Fatalf("no message to %s containing %q; it got:\n%s", to, want, strings.Join(texts, "\n---\n"))
	return simFull{}
}

func (a *selfServiceApp) ticketCount() int {
	var got struct {
		Tickets []struct {
			Number string `json:"number"`
		} `json:"tickets"`
	}
	if code := a.Call("GET", "/api/v1/tickets", nil, &got); code != http.StatusOK {
		a.T.Fatalf("tickets: %d", code)
	}
	return len(got.Tickets)
}

func phone(p fhirfake.Patient) string {
	if strings.HasPrefix(p.Phone, "0") {
		return "+62" + p.Phone[1:]
	}
	return p.Phone
}

func ddmmyyyy(iso string) string { return iso[8:10] + "-" + iso[5:7] + "-" + iso[0:4] }

// TestSelfServiceThroughSimulator is Must-show 1 and 3 of the issue,
// through the simulator API against the fake FHIR registry.
func TestSelfServiceThroughSimulator(t *testing.T) {
	a := startSelfService(t)

	t.Run("status", func(t *testing.T) {
		a := a.in(t)
		from := phone(siti)
		a.converse(from, "halo", "5", "LAPOR", siti.Name, siti.NIK, ddmmyyyy(siti.BirthDate), siti.Phone, "mau cek status vaksin")
		a.Say(from, "ya")
		m := a.await(from, "Status vaksinasi atas nama *Siti Aminah*")
		for _, w := range []string{"Dosis 1: 10 Agustus 2021, CoronaVac, Puskesmas Kebayoran Baru", "Dosis 2: 14 September 2021"} {
			if !strings.Contains(m.Text, w) {
				t.Errorf("status %q lacks %q", m.Text, w)
			}
		}
	})

	t.Run("certificate as a document", func(t *testing.T) {
		a := a.in(t)
		from := phone(rina)
		a.converse(from, "halo", "6", "LAPOR", rina.Name, rina.NIK, ddmmyyyy(rina.BirthDate), "minta sertifikat")
		a.Say(from, "ya")
		m := a.await(from, "sertifikat vaksinasi atas nama *Rina Wulandari*")
		if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/pdf" {
			t.Fatalf("attachments %+v, want one PDF", m.Attachments)
		}
		renderFirstPage(t, m.Attachments[0].Data, "e2e-certificate")
	})

	t.Run("certificate missing, the dose is there now: certificate, no ticket", func(t *testing.T) {
		a := a.in(t)
		from := phone(dewi)
		before := a.ticketCount()
		// The dose was recorded late: it is in the registry by the time she writes.
		a.fake.AddDose(fhirfake.Dose{ID: "imm-late", PatientID: dewi.ID, Date: "2022-01-20", KFACode: "93001020", VaccineName: "Comirnaty (Pfizer)", Place: "RSUD Dr. Soetomo", Dose: 3, Series: 3})
		a.converse(from, "halo", "1", dewi.Name, dewi.NIK, ddmmyyyy(dewi.BirthDate), dewi.Phone, "booster belum muncul", "LEWATI")
		a.Say(from, "ya")
		m := a.await(from, "sertifikat vaksinasi atas nama *Dewi Lestari*")
		if len(m.Attachments) != 1 {
			t.Fatalf("no certificate attached: %+v", m)
		}
		if after := a.ticketCount(); after != before {
			t.Errorf("tickets went from %d to %d; a dose that exists needs none", before, after)
		}
	})

	t.Run("certificate missing, no dose: filed with the registry's answer", func(t *testing.T) {
		a := a.in(t)
		from := phone(agus)
		a.converse(from, "halo", "1", agus.Name, agus.NIK, ddmmyyyy(agus.BirthDate), agus.Phone, "dosis 1 tgl 3 Maret 2022 belum muncul", "LEWATI")
		a.Say(from, "ya")
		m := a.await(from, "belum tercatat")
		number := ticketNumberRE.FindString(m.Text)
		var got struct {
			Ticket struct {
				Category string            `json:"category"`
				Fields   map[string]string `json:"fields"`
			} `json:"ticket"`
		}
		if code := a.Call("GET", "/api/v1/tickets/"+number, nil, &got); code != http.StatusOK {
			t.Fatalf("ticket %q: %d", number, code)
		}
		if got.Ticket.Category != "certificate_missing" || !strings.Contains(got.Ticket.Fields["registry_result"], "no completed Immunization") {
			t.Errorf("ticket %s: %+v", number, got.Ticket)
		}
	})

	t.Run("change of data: the registry's values beside the requested ones", func(t *testing.T) {
		a := a.in(t)
		from := phone(siti)
		a.converse(from, "menu", "2", "1", "Siti Aminah", siti.NIK, ddmmyyyy(siti.BirthDate), siti.Phone, "Siti Aminah Rahayu", "LEWATI")
		got := a.Say(from, "ya")
		number := ticketNumberRE.FindString(strings.Join(got, "\n"))
		if number == "" {
			t.Fatalf("no ticket number in %q", got)
		}
		var tk struct {
			Ticket struct {
				Category string            `json:"category"`
				Fields   map[string]string `json:"fields"`
			} `json:"ticket"`
		}
		// The registry is asked after the ticket committed.
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && tk.Ticket.Fields["registry_name"] == ""; {
			a.Call("GET", "/api/v1/tickets/"+number, nil, &tk)
			time.Sleep(50 * time.Millisecond) // polling pace, not an assertion
		}
		f := tk.Ticket.Fields
		if tk.Ticket.Category != "change_data" || f["registry_name"] != "Siti Aminah" || f["registry_dob"] != siti.BirthDate ||
			f["new_value"] != "Siti Aminah Rahayu" || f["registry_phone"] != phone(siti) {
			t.Errorf("ticket %s: %s %v", number, tk.Ticket.Category, f)
		}
	})

	t.Run("refused: wrong birth date", func(t *testing.T) {
		a := a.in(t)
		from := "+6281200000001" // a different sender: attempt counts are per sender
		a.converse(from, "halo", "5", "LAPOR", siti.Name, siti.NIK, "18-08-1990", from, "cek status")
		a.Say(from, "ya")
		m := a.await(from, "tidak menemukan data")
		if strings.Contains(m.Text, "Dosis") {
			t.Errorf("a wrong birth date got %q", m.Text)
		}
	})

	t.Run("refused: not the registered number, no code", func(t *testing.T) {
		a := a.in(t)
		from := "+6281200000002"
		a.converse(from, "halo", "5", "LAPOR", siti.Name, siti.NIK, ddmmyyyy(siti.BirthDate), from, "cek status ibu saya")
		a.Say(from, "ya")
		a.await(from, "kode 6 angka ke nomor yang terdaftar")
		a.await(phone(siti), "Kode verifikasi PeduliLindungi")
		a.Say(from, "KODE 000000") // a guess; the real code went to Siti's phone
		m := a.await(from, "tidak cocok")
		if strings.Contains(m.Text, "Dosis") {
			t.Errorf("a guessed code got %q", m.Text)
		}
	})

	t.Run("refused: registry down, try later, nothing lost", func(t *testing.T) {
		a := a.in(t)
		from := "+6281200000003"
		a.fake.Fail5xx(1000)
		defer a.fake.Fail5xx(0)
		a.converse(from, "halo", "5", "LAPOR", budi.Name, budi.NIK, ddmmyyyy(budi.BirthDate), from, "cek status")
		a.Say(from, "ya")
		a.await(from, "coba lagi beberapa saat lagi")

		// A report is filed even so, with the outage noted for the operator.
		from = "+6281200000004"
		a.converse(from, "halo", "1", budi.Name, budi.NIK, ddmmyyyy(budi.BirthDate), from, "sertifikat belum muncul", "LEWATI")
		a.Say(from, "ya")
		m := a.await(from, "tidak dapat dihubungi")
		var got struct {
			Ticket struct {
				Fields map[string]string `json:"fields"`
			} `json:"ticket"`
		}
		number := ticketNumberRE.FindString(m.Text)
		if code := a.Call("GET", "/api/v1/tickets/"+number, nil, &got); code != http.StatusOK || !strings.Contains(got.Ticket.Fields["registry_result"], "registry unavailable") {
			t.Errorf("ticket %q (%d): %+v", number, code, got.Ticket)
		}
	})

	testlog.AssertClean(t, a.Logs.String(), siti.NIK, rina.NIK, dewi.NIK, agus.NIK, "Siti Aminah", "Rina Wulandari")
}

// renderFirstPage saves the PDF's first page as a PNG for a person to look
// at (pdftoppm, from poppler-utils) and logs where.
func renderFirstPage(t *testing.T, pdf []byte, name string) {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		storetest.SkipOrFail(t, "pdftoppm is not installed (apt-get install poppler-utils)")
	}
	dir := filepath.Join(os.TempDir(), "lindungi-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), name+".pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if b, err := exec.Command("pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", in, out).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, b)
	}
	st, err := os.Stat(out + ".png")
	if err != nil || st.Size() < 10_000 {
		t.Fatalf("rendered page %s: %v (%d bytes)", out+".png", err, st.Size())
	}
	t.Logf("certificate received, first page rendered to %s", out+".png")
}

// TestSelfServiceThroughWhatsApp runs status and the certificate through
// the real whatsmeow client against the fake WhatsApp server: the sender's
// number is the one WhatsApp vouches for, no demo setting involved, and the
// PDF arrives as a WhatsApp document.
func TestSelfServiceThroughWhatsApp(t *testing.T) {
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	opts := app.Options{WhatsAppTestServer: &whatsapp.TestServer{Addr: fake.Addr(), RootKey: fake.RootKey()}}

	reg := fhirfake.New("lindungi-gateway", "rahasia")
	reg.AddPatient(rina)
	reg.AddDose(fhirfake.Dose{ID: "imm-1", PatientID: rina.ID, Date: "2021-08-11", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Tebet", Dose: 1, Series: 2})
	reg.AddDose(fhirfake.Dose{ID: "imm-2", PatientID: rina.ID, Date: "2021-09-14", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Tebet", Dose: 2, Series: 2})
	srv := httptest.NewServer(reg)
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "registry-secret")
	if err := os.WriteFile(secret, []byte("rahasia"), 0o600); err != nil {
		t.Fatal(err)
	}
	ta := apptest.Start(t, apptest.Config(t, "LINDUNGI_WHATSAPP_ENABLED=true", "LINDUNGI_WHATSAPP_RECIPIENT_GAP=1ms",
		"LINDUNGI_REGISTRY_BASE_URL="+srv.URL+fhirfake.FHIRPath, "LINDUNGI_REGISTRY_TOKEN_URL="+srv.URL+fhirfake.TokenPath,
		"LINDUNGI_REGISTRY_CLIENT_ID=lindungi-gateway", "LINDUNGI_REGISTRY_CLIENT_SECRET_FILE="+secret), opts)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) { // failure guard only
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	var status struct{ State, JID, QR string }
	waitFor("a QR code", func() bool { ta.Call("GET", "/api/v1/whatsapp/status", nil, &status); return status.QR != "" })
	if err := fake.ScanQR(status.QR); err != nil {
		t.Fatal(err)
	}
	waitFor("connected", func() bool {
		ta.Call("GET", "/api/v1/whatsapp/status", nil, &status)
		return status.State == "connected"
	})
	waitFor("pre-keys", fake.ReadyForMessages)

	ct, err := fake.AddContact(strings.TrimPrefix(rina.Phone, "+"), "", "Rina")
	if err != nil {
		t.Fatal(err)
	}
	// say sends text and waits for the bot's answer to it.
	say := func(text string) {
		t.Helper()
		n := len(fake.Received(ct.Phone))
		if _, err := ct.SendText(text, wafake.SendOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor("an answer to "+text, func() bool { return len(fake.Received(ct.Phone)) > n })
	}
	find := func(substr string) *wafake.Received {
		for _, r := range fake.Received(ct.Phone) {
			if strings.Contains(r.Text, substr) {
				return &r
			}
		}
		return nil
	}

	for _, text := range []string{"halo", "5", "LAPOR", rina.Name, rina.NIK, ddmmyyyy(rina.BirthDate), "SAMA", "cek status", "ya"} {
		say(text)
	}
	waitFor("the status", func() bool { return find("Dosis 2: 14 September 2021, CoronaVac, Puskesmas Tebet") != nil })

	for _, text := range []string{"menu", "6", "LAPOR", rina.Name, rina.NIK, ddmmyyyy(rina.BirthDate), "minta sertifikat", "ya"} {
		say(text)
	}
	waitFor("the certificate", func() bool { return find("sertifikat vaksinasi atas nama *Rina Wulandari*") != nil })
	doc := find("sertifikat vaksinasi atas nama")
	if doc.MediaType != "application/pdf" || doc.FileName != "sertifikat-vaksin.pdf" || !strings.HasPrefix(string(doc.Media), "%PDF-") {
		t.Fatalf("document %q %q, %d bytes: want the certificate PDF", doc.MediaType, doc.FileName, len(doc.Media))
	}
	renderFirstPage(t, doc.Media, "whatsapp-certificate")
	testlog.AssertClean(t, ta.Logs.String(), rina.NIK, rina.Name, strings.TrimPrefix(rina.Phone, "+"))
}
