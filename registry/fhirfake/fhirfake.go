// Package fhirfake is a fake of the vaccination registry for tests and
// demos: an OAuth2 client-credentials token endpoint and a FHIR R4 server
// answering Patient searches by NIK and Immunization searches by patient
// with well-formed searchset Bundles, in the shapes SATUSEHAT documents. It
// can misbehave on request: slow answers, 5xx, revoked tokens (401),
// malformed bundles.
package fhirfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Paths the fake serves, as SATUSEHAT lays them out.
const (
	TokenPath = "/oauth2/v1/accesstoken"
	FHIRPath  = "/fhir-r4/v1"
	nikSystem = "https://fhir.kemkes.go.id/id/nik"
)

// Patient seeds a person.
type Patient struct {
	ID        string // the registry's patient ID (IHS number), e.g. P02478375538
	NIK       string
	Name      string
	Gender    string // male | female
	BirthDate string // YYYY-MM-DD
	Phone     string // as the registry stores it, e.g. 081234567890 or +62812…
}

// Dose seeds an immunisation.
type Dose struct {
	ID          string
	PatientID   string
	Date        string // YYYY-MM-DD
	KFACode     string // SATUSEHAT's vaccine product code (Kamus Farmasi dan Alat Kesehatan)
	VaccineName string
	Place       string
	Dose        int
	Series      int
	Lot         string
	Status      string // completed (default) | entered-in-error | not-done
}

// Server is the fake registry. Its zero value is not usable; call New.
type Server struct {
	ClientID, ClientSecret string

	mu        sync.Mutex
	patients  []Patient
	doses     []Dose
	tokens    map[string]bool
	delay     time.Duration
	fail5xx   int
	malformed int
	requests  int
	tokenReqs int
}

// New returns a fake with these credentials and no data.
func New(clientID, clientSecret string) *Server {
	return &Server{ClientID: clientID, ClientSecret: clientSecret, tokens: map[string]bool{}}
}

// AddPatient and AddDose seed the registry; AddDose also stands for a
// dose recorded late ("my certificate is missing" until it is there).
func (s *Server) AddPatient(p Patient) {
	s.mu.Lock()
	s.patients = append(s.patients, p)
	s.mu.Unlock()
}

// AddDose adds an immunisation record.
func (s *Server) AddDose(d Dose) { s.mu.Lock(); s.doses = append(s.doses, d); s.mu.Unlock() }

// SetDelay makes every FHIR answer wait d (or until the client gives up).
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// Fail5xx makes the next n FHIR requests answer 503.
func (s *Server) Fail5xx(n int) { s.mu.Lock(); s.fail5xx = n; s.mu.Unlock() }

// Malformed makes the next n FHIR answers bundles that do not parse.
func (s *Server) Malformed(n int) { s.mu.Lock(); s.malformed = n; s.mu.Unlock() }

// RevokeTokens invalidates every token issued so far: the next FHIR
// request answers 401 until the client fetches a new token.
func (s *Server) RevokeTokens() { s.mu.Lock(); s.tokens = map[string]bool{}; s.mu.Unlock() }

// Requests counts FHIR requests and token requests served.
func (s *Server) Requests() (fhir, token int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.tokenReqs
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == TokenPath:
		s.token(w, r)
	case r.URL.Path == FHIRPath+"/Patient" && r.Method == http.MethodGet:
		s.fhir(w, r, s.patientBundle)
	case r.URL.Path == FHIRPath+"/Immunization" && r.Method == http.MethodGet:
		s.fhir(w, r, s.immunizationBundle)
	default:
		outcome(w, http.StatusNotFound, "not-found", "unknown path")
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenReqs++
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Query().Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	if r.PostFormValue("client_id") != s.ClientID || r.PostFormValue("client_secret") != s.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	// SATUSEHAT's answer carries expires_in as a string.
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "BearerToken", "expires_in": "14399",
		"client_id": s.ClientID, "status": "approved",
		"issued_at": time.Now().UnixMilli(),
	})
}

func (s *Server) fhir(w http.ResponseWriter, r *http.Request, answer func(r *http.Request) map[string]any) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	fail := s.fail5xx > 0
	if fail {
		s.fail5xx--
	}
	bad := !fail && s.malformed > 0
	if bad {
		s.malformed--
	}
	authorised := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	switch {
	case !authorised:
		outcome(w, http.StatusUnauthorized, "login", "invalid access token")
	case fail:
		outcome(w, http.StatusServiceUnavailable, "transient", "service unavailable")
	case bad:
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":`))
	default:
		writeJSON(w, http.StatusOK, answer(r))
	}
}

func (s *Server) patientBundle(r *http.Request) map[string]any {
	system, nik, _ := strings.Cut(r.URL.Query().Get("identifier"), "|")
	s.mu.Lock()
	defer s.mu.Unlock()
	var entries []any
	for _, p := range s.patients {
		if system != nikSystem || p.NIK != nik {
			continue
		}
		res := map[string]any{
			"resourceType": "Patient",
			"id":           p.ID,
			"meta":         map[string]any{"lastUpdated": "2022-03-01T08:00:00+00:00", "versionId": "1"},
			"identifier": []any{
				map[string]any{"use": "official", "system": "https://fhir.kemkes.go.id/id/ihs-number", "value": p.ID},
				map[string]any{"use": "official", "system": nikSystem, "value": p.NIK},
			},
			"active":    true,
			"name":      []any{map[string]any{"use": "official", "text": p.Name}},
			"gender":    p.Gender,
			"birthDate": p.BirthDate,
		}
		if p.Phone != "" {
			res["telecom"] = []any{map[string]any{"system": "phone", "value": p.Phone, "use": "mobile"}}
		}
		entries = append(entries, entry(r, "Patient/"+p.ID, res))
	}
	return searchset(r, entries)
}

func (s *Server) immunizationBundle(r *http.Request) map[string]any {
	pid := strings.TrimPrefix(r.URL.Query().Get("patient"), "Patient/")
	s.mu.Lock()
	defer s.mu.Unlock()
	var entries []any
	for _, d := range s.doses {
		if d.PatientID != pid {
			continue
		}
		status := d.Status
		if status == "" {
			status = "completed"
		}
		res := map[string]any{
			"resourceType": "Immunization",
			"id":           d.ID,
			"status":       status,
			"vaccineCode": map[string]any{
				"coding": []any{map[string]any{"system": "http://sys-ids.kemkes.go.id/kfa", "code": d.KFACode, "display": d.VaccineName}},
			},
			"patient":            map[string]any{"reference": "Patient/" + d.PatientID},
			"occurrenceDateTime": d.Date + "T09:00:00+07:00",
			"primarySource":      true,
			"location":           map[string]any{"reference": "Location/" + strings.ReplaceAll(strings.ToLower(d.Place), " ", "-"), "display": d.Place},
			"lotNumber":          d.Lot,
			"protocolApplied": []any{map[string]any{
				"targetDisease":          []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "840539006", "display": "COVID-19"}}}},
				"doseNumberPositiveInt":  d.Dose,
				"seriesDosesPositiveInt": d.Series,
			}},
		}
		entries = append(entries, entry(r, "Immunization/"+d.ID, res))
	}
	return searchset(r, entries)
}

func entry(r *http.Request, path string, res map[string]any) map[string]any {
	return map[string]any{
		"fullUrl":  "http://" + r.Host + FHIRPath + "/" + path,
		"resource": res,
		"search":   map[string]any{"mode": "match"},
	}
}

func searchset(r *http.Request, entries []any) map[string]any {
	b := map[string]any{
		"resourceType": "Bundle",
		"type":         "searchset",
		"total":        len(entries),
		"link":         []any{map[string]any{"relation": "self", "url": "http://" + r.Host + r.URL.RequestURI()}},
	}
	if len(entries) > 0 {
		b["entry"] = entries
	}
	return b
}

// outcome answers an error as FHIR does, with an OperationOutcome.
func outcome(w http.ResponseWriter, status int, code, text string) {
	writeJSONType(w, status, "application/fhir+json", map[string]any{
		"resourceType": "OperationOutcome",
		"issue":        []any{map[string]any{"severity": "error", "code": code, "details": map[string]any{"text": text}}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONType(w, status, "application/json", v)
}

func writeJSONType(w http.ResponseWriter, status int, ct string, v any) {
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
