package selfservice

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"lindungi/certificate"
	"lindungi/registry"
)

// vaccine maps a registry vaccine name to the EU DCC value sets
// (vaccine-medicinal-product, vaccine-mah-manf, vaccine-prophylaxis). The
// registry codes products in its own dictionary (KFA), whose codes we do
// not hold, so the product name decides; an unknown product is carried by
// name with the generic ATC code.
type vaccine struct{ match, mp, ma, vp string }

var vaccines = []vaccine{
	{"coronavac", "CoronaVac", "Sinovac-Biotech", "J07BX03"},
	{"sinovac", "CoronaVac", "Sinovac-Biotech", "J07BX03"},
	{"sinopharm", "BBIBP-CorV", "ORG-100020693", "J07BX03"},
	{"bbibp", "BBIBP-CorV", "ORG-100020693", "J07BX03"},
	{"comirnaty", "EU/1/20/1528", "ORG-100030215", "1119349007"},
	{"pfizer", "EU/1/20/1528", "ORG-100030215", "1119349007"},
	{"moderna", "EU/1/20/1507", "ORG-100031184", "1119349007"},
	{"spikevax", "EU/1/20/1507", "ORG-100031184", "1119349007"},
	{"astrazeneca", "EU/1/21/1529", "ORG-100001699", "J07BX03"},
	{"vaxzevria", "EU/1/21/1529", "ORG-100001699", "J07BX03"},
	{"janssen", "EU/1/20/1525", "ORG-100001417", "J07BX03"},
	{"novavax", "EU/1/21/1618", "ORG-100032020", "J07BX03"},
	{"nuvaxovid", "EU/1/21/1618", "ORG-100032020", "J07BX03"},
}

func vaccineCodes(name string) vaccine {
	l := strings.ToLower(name)
	for _, v := range vaccines {
		if strings.Contains(l, v.match) {
			return v
		}
	}
	return vaccine{mp: name, ma: name, vp: "J07BX03"}
}

// icao transliterates a name the ICAO 9303 way the DCC asks for in fnt:
// capitals A–Z, diacritics dropped, every other character a "<".
func icao(name string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToUpper(strings.TrimSpace(name))) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			b.WriteByte('<')
		}
	}
	return b.String()
}

// certificatePDF signs the latest dose into the QR and renders every dose
// on the page.
func (s *Service) certificatePDF(p registry.Person, doses []registry.Immunization) ([]byte, error) {
	latest := doses[len(doses)-1]
	v := vaccineCodes(latest.VaccineName)
	series := latest.SeriesDoses
	if series < latest.DoseNumber {
		series = latest.DoseNumber
	}
	uvci := sha256.Sum256([]byte(p.ID + "/" + latest.ID))
	dcc := certificate.DCC{
		// Indonesian names are often a single name; the DCC puts a mononym
		// in the family name.
		Name:        certificate.Name{Family: p.Name, FamilyT: icao(p.Name)},
		DateOfBirth: p.BirthDate,
		Vaccination: []certificate.Dose{{
			Disease: "840539006", Prophylaxis: v.vp, Product: v.mp, Manufacturer: v.ma,
			Number: latest.DoseNumber, Series: series, Date: latest.Date.Format("2006-01-02"),
			Country: certificate.Country, Issuer: "Kementerian Kesehatan Republik Indonesia",
			ID: fmt.Sprintf("URN:UVCI:01:ID:%X", uvci[:10]),
		}},
	}
	now := s.now()
	qr, err := s.signer.Issue(dcc, now)
	if err != nil {
		return nil, err
	}
	dob, _ := time.Parse("2006-01-02", p.BirthDate)
	doc := certificate.Document{Name: p.Name, NIK: p.NIK, BirthDate: dob, QR: qr, VerifyURL: s.cfg.VerifyURL, IssuedAt: now}
	for _, d := range doses {
		doc.Doses = append(doc.Doses, certificate.DocumentDose{Number: d.DoseNumber, Date: d.Date, Vaccine: d.VaccineName, Place: d.Place})
	}
	return certificate.PDF(doc)
}
