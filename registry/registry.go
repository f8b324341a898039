// Package registry owns the conversation with the vaccination registry
// where the records actually live (SATUSEHAT, a FHIR R4 server): finding a
// person by NIK and birth date, and listing their immunisations. It keeps
// nothing on disk; its cache lives in memory for minutes and can be told to
// forget a person. Callers decide who may see what.
package registry

import (
	"context"
	"errors"
	"time"
)

// Person is the registry's record of a citizen, reduced to what the
// service desk needs.
type Person struct {
	ID        string // the registry's Patient ID (IHS number)
	NIK       string
	Name      string
	BirthDate string // YYYY-MM-DD
	Gender    string // male | female | other | unknown (FHIR)
	// Phone is the mobile number registered on the record, E.164 (+62…);
	// the certificate goes to this number only.
	Phone string
}

// Immunization is one dose as the registry records it.
type Immunization struct {
	ID            string
	Status        string // completed | entered-in-error | not-done (FHIR)
	Date          time.Time
	VaccineSystem string // e.g. http://sys-ids.kemkes.go.id/kfa, http://hl7.org/fhir/sid/cvx
	VaccineCode   string
	VaccineName   string
	Place         string
	DoseNumber    int
	SeriesDoses   int
	Lot           string
}

// Registry finds people and their doses.
type Registry interface {
	// FindPerson returns the person with this NIK whose birth date is
	// birthDate (YYYY-MM-DD), or ErrNoMatch. An unknown NIK and a wrong
	// birth date are the same answer, so that the registry cannot be asked
	// which NIKs exist.
	FindPerson(ctx context.Context, nik, birthDate string) (Person, error)
	// Immunizations lists the completed doses of a person, oldest first.
	Immunizations(ctx context.Context, personID string) ([]Immunization, error)
}

var (
	// ErrNoMatch: no person with this NIK and birth date.
	ErrNoMatch = errors.New("registry: no person with this NIK and birth date")
	// ErrUnavailable: the registry did not answer usably (down, slow,
	// refusing our credentials, answering nonsense, or the circuit breaker
	// is open). The citizen is asked to try later; nothing is lost.
	ErrUnavailable = errors.New("registry: unavailable")
)
