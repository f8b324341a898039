package web

import (
	"crypto/x509"
	"encoding/json"
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
			}
			if strings.Contains(r.Header.Get("Accept"), "application/json") {
				w.Header().Set("Content-Type", "application/json")
				if qr == "" {
					w.WriteHeader(http.StatusBadRequest)
					json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "missing_qr", "message": "give the QR string as ?qr=HC1:…"}})
					return
				}
				json.NewEncoder(w).Encode(res)
				return
			}
			s.render(w, "verify.html", data)
		})
	}
}
