package web

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"lindungi/certificate"
)

// verifyReasons says why a QR string is not valid, in the citizen's two
// languages; the keys are certificate's stable reasons.
var verifyReasons = map[string][2]string{
	certificate.ReasonPrefix:        {"Ini bukan kode QR sertifikat kesehatan (tidak diawali HC1:).", "This is not a health certificate QR code (it does not begin with HC1:)."},
	certificate.ReasonBase45:        {"Isi kode QR rusak atau tidak lengkap.", "The QR code's content is damaged or incomplete."},
	certificate.ReasonCompression:   {"Isi kode QR rusak atau tidak lengkap.", "The QR code's content is damaged or incomplete."},
	certificate.ReasonCOSE:          {"Isi kode QR tidak dapat dibaca sebagai sertifikat bertanda tangan.", "The QR code cannot be read as a signed certificate."},
	certificate.ReasonCWT:           {"Isi kode QR tidak dapat dibaca sebagai sertifikat bertanda tangan.", "The QR code cannot be read as a signed certificate."},
	certificate.ReasonUnknownSigner: {"Sertifikat ini tidak ditandatangani oleh penerbit yang kami percayai.", "This certificate was not signed by an issuer we trust."},
	certificate.ReasonAlgorithm:     {"Tanda tangan sertifikat ini tidak dapat diperiksa.", "This certificate's signature cannot be checked."},
	certificate.ReasonSignature:     {"Tanda tangan tidak cocok: isi sertifikat telah diubah.", "The signature does not match: the certificate has been altered."},
	certificate.ReasonExpired:       {"Masa berlaku sertifikat ini telah habis. Pemegang dapat meminta sertifikat baru melalui WhatsApp 0811 10 500 567.", "This certificate has expired. The holder can request a new one on WhatsApp 0811 10 500 567."},
	certificate.ReasonNotYetValid:   {"Tanggal terbit sertifikat ini berada di masa depan.", "This certificate's issue date lies in the future."},
	certificate.ReasonKeyUsage:      {"Penerbit sertifikat ini tidak berwenang menerbitkan jenis sertifikat ini.", "This certificate's issuer is not entitled to issue this type of certificate."},
	certificate.ReasonSignerExpired: {"Kunci penandatangan sertifikat ini sudah tidak berlaku.", "The key that signed this certificate is no longer valid."},
}

// VerifyRoutes adds the public certificate check, GET /verify: a form,
// and with ?qr=HC1:… the verdict (HTML, or JSON {"valid","reason",
// "payload"} when the client asks for application/json). Nothing about a
// check is stored or logged: who checks whose certificate is nobody's
// business.
func VerifyRoutes(trust []*x509.Certificate) func(mux *http.ServeMux, s *Server) {
	return func(mux *http.ServeMux, s *Server) {
		mux.HandleFunc("GET /verify", func(w http.ResponseWriter, r *http.Request) {
			qr := strings.TrimSpace(r.URL.Query().Get("qr"))
			if len(qr) > 8<<10 {
				qr = qr[:8<<10] // a QR code holds under 3 KB
			}
			data := map[string]any{"QR": qr}
			var res certificate.Result
			if qr != "" {
				res = certificate.Verify(qr, trust, time.Now())
				data["Result"] = res
				reason := verifyReasons[res.Reason]
				data["ReasonID"], data["ReasonEN"] = reason[0], reason[1]
				if signedByTrusted(res.Reason) {
					data["View"] = newCertView(res.Payload)
				}
			}
			if strings.Contains(r.Header.Get("Accept"), "application/json") {
				w.Header().Set("Content-Type", "application/json")
				if qr == "" {
					w.WriteHeader(http.StatusBadRequest)
					json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "missing_qr", "message": "give the QR string as ?qr=HC1:…"}})
					return
				}
				// Encoded whole before anything is written: a payload JSON
				// cannot carry (a NaN in the CBOR) is an answer, not half
				// a body after a 200.
				var buf bytes.Buffer
				if err := json.NewEncoder(&buf).Encode(res); err != nil {
					w.WriteHeader(http.StatusUnprocessableEntity)
					json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "unencodable_certificate",
						"message": "the certificate holds values JSON cannot express"}, "valid": false})
					return
				}
				w.Write(buf.Bytes())
				return
			}
			s.render(w, "verify.html", data)
		})
	}
}

// signedByTrusted reports whether a verdict means the payload was signed by
// a trusted signer (valid, or refused only for dates or usage). Anything
// else is a payload anyone could have written: the page shows none of it.
func signedByTrusted(reason string) bool {
	switch reason {
	case certificate.ReasonOK, certificate.ReasonExpired, certificate.ReasonNotYetValid,
		certificate.ReasonSignerExpired, certificate.ReasonKeyUsage:
		return true
	}
	return false
}

// certView is what the page shows of a certificate. It is built here, with
// every field's type checked, because even a trusted issuer's payload is
// generic CBOR of any schema version: the template only prints strings.
type certView struct {
	Name, DateOfBirth, Issuer string
	Doses                     []doseView
	ExpiresAt                 time.Time
}

type doseView struct {
	Number, Series, Date, Product, Country string
}

func newCertView(p *certificate.Payload) *certView {
	if p == nil {
		return nil
	}
	v := &certView{Issuer: p.Issuer, ExpiresAt: p.ExpiresAt, DateOfBirth: str(p.HCert["dob"])}
	if nam, ok := p.HCert["nam"].(map[string]any); ok {
		v.Name = strings.TrimSpace(str(nam["fn"]) + " " + str(nam["gn"]))
	}
	doses, _ := p.HCert["v"].([]any)
	for _, d := range doses {
		m, ok := d.(map[string]any)
		if !ok {
			continue
		}
		v.Doses = append(v.Doses, doseView{Number: num(m["dn"]), Series: num(m["sd"]), Date: str(m["dt"]),
			Product: str(m["mp"]), Country: str(m["co"])})
	}
	return v
}

// str is v if it is a string, else nothing.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// num prints a dose number, whichever integer or float type CBOR gave.
func num(v any) string {
	switch n := v.(type) {
	case uint64, int64, int:
		return fmt.Sprint(n)
	case float64:
		if !math.IsNaN(n) && !math.IsInf(n, 0) && n == math.Trunc(n) && math.Abs(n) < 1e6 {
			return fmt.Sprint(int64(n))
		}
	}
	return "?"
}
