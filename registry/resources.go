package registry

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// The FHIR R4 resources the client reads, reduced to the elements it uses
// (https://hl7.org/fhir/R4/bundle.html, patient.html, immunization.html).

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int   `json:"total,omitempty"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

type identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type humanName struct {
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

type contactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use"`
}

type patient struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Identifier   []identifier   `json:"identifier"`
	Name         []humanName    `json:"name"`
	Gender       string         `json:"gender"`
	BirthDate    string         `json:"birthDate"`
	Telecom      []contactPoint `json:"telecom"`
}

func (p patient) hasNIK(nik string) bool {
	for _, id := range p.Identifier {
		if id.System == NIKSystem && id.Value == nik {
			return true
		}
	}
	return false
}

func (p patient) person(nik string) Person {
	out := Person{ID: p.ID, NIK: nik, BirthDate: p.BirthDate, Gender: p.Gender}
	// The official name first; Indonesians often have one name only, which
	// FHIR puts in text (or family).
	for _, use := range []string{"official", "usual", ""} {
		for _, n := range p.Name {
			if use != "" && n.Use != use {
				continue
			}
			out.Name = n.Text
			if out.Name == "" {
				out.Name = strings.TrimSpace(strings.Join(append(append([]string{}, n.Given...), n.Family), " "))
			}
			if out.Name != "" {
				break
			}
		}
		if out.Name != "" {
			break
		}
	}
	// A mobile phone; the first phone otherwise.
	for _, pass := range []bool{true, false} {
		for _, t := range p.Telecom {
			if t.System != "phone" || (pass && t.Use != "mobile") {
				continue
			}
			if n, err := phonenumbers.Parse(t.Value, "ID"); err == nil && phonenumbers.IsValidNumber(n) {
				out.Phone = phonenumbers.Format(n, phonenumbers.E164)
				break
			}
		}
		if out.Phone != "" {
			break
		}
	}
	return out
}

type codeableConcept struct {
	Coding []struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	} `json:"coding"`
	Text string `json:"text"`
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

type immunization struct {
	ResourceType       string          `json:"resourceType"`
	ID                 string          `json:"id"`
	Status             string          `json:"status"`
	VaccineCode        codeableConcept `json:"vaccineCode"`
	Patient            reference       `json:"patient"`
	OccurrenceDateTime string          `json:"occurrenceDateTime"`
	Location           *reference      `json:"location"`
	LotNumber          string          `json:"lotNumber"`
	ProtocolApplied    []struct {
		DoseNumberPositiveInt  int    `json:"doseNumberPositiveInt"`
		DoseNumberString       string `json:"doseNumberString"`
		SeriesDosesPositiveInt int    `json:"seriesDosesPositiveInt"`
		SeriesDosesString      string `json:"seriesDosesString"`
	} `json:"protocolApplied"`
}

func (im immunization) immunization() (Immunization, error) {
	out := Immunization{ID: im.ID, Status: im.Status, Lot: im.LotNumber, VaccineName: im.VaccineCode.Text}
	if len(im.VaccineCode.Coding) > 0 {
		c := im.VaccineCode.Coding[0]
		out.VaccineSystem, out.VaccineCode = c.System, c.Code
		if out.VaccineName == "" {
			out.VaccineName = c.Display
		}
	}
	if im.Location != nil {
		out.Place = im.Location.Display
	}
	if len(im.ProtocolApplied) > 0 {
		out.DoseNumber = im.ProtocolApplied[0].DoseNumberPositiveInt
		out.SeriesDoses = im.ProtocolApplied[0].SeriesDosesPositiveInt
	}
	// FHIR dateTime: a date, or a date and time with a zone.
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, im.OccurrenceDateTime); err == nil {
			out.Date = t
			return out, nil
		}
	}
	return out, fmt.Errorf("registry: Immunization %s: occurrenceDateTime %q", im.ID, im.OccurrenceDateTime)
}
