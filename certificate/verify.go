package certificate

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Reasons a QR string is not valid. They are stable strings: the CLI
// prints them and the public /verify page translates them.
const (
	ReasonOK            = "ok"
	ReasonPrefix        = "prefix"         // not "HC1:"
	ReasonBase45        = "base45"         // not Base45
	ReasonCompression   = "compression"    // not zlib, or too large
	ReasonCOSE          = "cose"           // not a COSE_Sign1 structure
	ReasonCWT           = "cwt"            // payload not a CWT with an HCERT claim
	ReasonUnknownSigner = "unknown_signer" // no trusted certificate has this key ID
	ReasonAlgorithm     = "algorithm"      // algorithm missing or not the key's
	ReasonSignature     = "signature"      // signature does not verify
	ReasonExpired       = "expired"        // past the CWT's expiry
	ReasonNotYetValid   = "not_yet_valid"  // issued in the future
	ReasonSignerExpired = "signer_expired" // outside the signer certificate's validity
	ReasonKeyUsage      = "key_usage"      // the signer may not sign this type of certificate
)

// maxInflated caps what a QR string may inflate to: a QR code holds under
// 3 KB, so anything near this is a decompression bomb, not a certificate.
const maxInflated = 64 << 10

// clockSkew tolerates a signer whose clock runs a little ahead.
const clockSkew = 5 * time.Minute

// Payload is what a QR string says, decoded (whether or not it verified).
type Payload struct {
	Issuer    string    `json:"iss,omitempty"`
	IssuedAt  time.Time `json:"iat,omitzero"`
	ExpiresAt time.Time `json:"exp,omitzero"`
	// HCert is the health certificate as its issuer wrote it: the DCC JSON
	// of any schema version, kept generic so other countries' certificates
	// are shown whole.
	HCert map[string]any `json:"hcert"`
}

// Result is the answer of Verify; the CLI prints it as JSON.
type Result struct {
	Valid   bool     `json:"valid"`
	Reason  string   `json:"reason"`
	Payload *Payload `json:"payload"`
	// Decoded tells whether the QR string decoded as far as the
	// certificate's content (the DCC test vectors' EXPECTEDDECODE).
	Decoded bool `json:"-"`
}

func invalid(reason string, p *Payload) Result {
	return Result{Reason: reason, Payload: p, Decoded: p != nil}
}

// Verify checks qr against the trusted signer certificates at time now.
// The key ID is read from the protected header, and from the unprotected
// header only when the protected one has none (HCERT spec §3.3.1): a
// protected key ID can never be overridden by an unprotected one.
func Verify(qr string, trust []*x509.Certificate, now time.Time) Result {
	b45, ok := strings.CutPrefix(qr, Prefix)
	if !ok {
		return invalid(ReasonPrefix, nil)
	}
	zipped, err := base45Decode(b45)
	if err != nil {
		return invalid(ReasonBase45, nil)
	}
	raw, err := inflate(zipped)
	if err != nil {
		return invalid(ReasonCompression, nil)
	}
	msg, err := parseSign1(raw)
	if err != nil {
		return invalid(ReasonCOSE, nil)
	}
	p, err := decodeCWT(msg.Payload)
	if err != nil {
		return invalid(ReasonCWT, nil)
	}
	kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if kid == nil {
		kid, _ = msg.Headers.Unprotected[cose.HeaderLabelKeyID].([]byte)
	}
	var signer *x509.Certificate
	for _, c := range trust {
		if kid != nil && bytes.Equal(kidOf(c), kid) {
			signer = c
			break
		}
	}
	if signer == nil {
		return invalid(ReasonUnknownSigner, p)
	}
	if err := verifySignature(msg, signer.PublicKey); err != nil {
		if errors.Is(err, errAlgorithm) {
			return invalid(ReasonAlgorithm, p)
		}
		return invalid(ReasonSignature, p)
	}
	// The certificate's own dates first: they are what a holder can act on.
	if !p.ExpiresAt.IsZero() && now.After(p.ExpiresAt) {
		return invalid(ReasonExpired, p)
	}
	if !p.IssuedAt.IsZero() && p.IssuedAt.After(now.Add(clockSkew)) {
		return invalid(ReasonNotYetValid, p)
	}
	if now.Before(signer.NotBefore) || now.After(signer.NotAfter) {
		return invalid(ReasonSignerExpired, p)
	}
	if !usageAllows(signer, p.HCert) {
		return invalid(ReasonKeyUsage, p)
	}
	return Result{Valid: true, Reason: ReasonOK, Payload: p, Decoded: true}
}

// The extended key usages a document signer certificate may carry to
// limit what it signs (EU DCC, "Technical Specifications for Digital Green
// Certificates", volume 1, §5.1.1): test, vaccination, recovery. Early
// versions of the specification wrote them with an extra ".0" arc, and
// signer certificates with those are in the field (the EU test vectors
// use them), so both spellings count.
var usageOIDs = map[string]string{
	"1.3.6.1.4.1.1847.2021.1.1":   "t",
	"1.3.6.1.4.1.1847.2021.1.2":   "v",
	"1.3.6.1.4.1.1847.2021.1.3":   "r",
	"1.3.6.1.4.1.0.1847.2021.1.1": "t",
	"1.3.6.1.4.1.0.1847.2021.1.2": "v",
	"1.3.6.1.4.1.0.1847.2021.1.3": "r",
}

// usageAllows reports whether signer may sign a certificate of hc's type:
// a signer with none of the three usages may sign any type; one with some
// of them only those.
func usageAllows(signer *x509.Certificate, hc map[string]any) bool {
	allowed := map[string]bool{}
	for _, oid := range signer.UnknownExtKeyUsage {
		if typ, ok := usageOIDs[oid.String()]; ok {
			allowed[typ] = true
		}
	}
	if len(allowed) == 0 {
		return true
	}
	for _, typ := range []string{"v", "t", "r"} {
		if _, present := hc[typ]; present && !allowed[typ] {
			return false
		}
	}
	return true
}

var errAlgorithm = errors.New("algorithm missing or not the signer key's")

// verifySignature checks msg's signature with pub. RFC 9052 wants the
// algorithm in the protected header, and go-cose insists on it; issuers in
// the field also put it in the unprotected header alone, and the EU test
// vectors count those certificates valid (CO20). For them the signature is
// checked over the Sig_structure built here. That is no weaker: the
// algorithm must still fit the trusted key's type, and the signature covers
// the protected header and payload either way.
func verifySignature(msg *cose.Sign1Message, pub any) error {
	alg, err := msg.Headers.Protected.Algorithm()
	protectedAlg := err == nil
	if !protectedAlg {
		a, ok := msg.Headers.Unprotected[cose.HeaderLabelAlgorithm]
		if !ok {
			return errAlgorithm
		}
		alg, err = (cose.ProtectedHeader{cose.HeaderLabelAlgorithm: a}).Algorithm()
		if err != nil {
			return errAlgorithm
		}
	}
	if !algFits(alg, pub) {
		return errAlgorithm
	}
	v, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return fmt.Errorf("%w: %w", errAlgorithm, err)
	}
	if protectedAlg {
		return msg.Verify(nil, v)
	}
	protected := cbor.RawMessage(msg.Headers.RawProtected)
	if len(protected) == 0 {
		protected = cbor.RawMessage{0x40} // an empty protected header is an empty bstr
	}
	tbs, err := cbor.Marshal([]any{"Signature1", protected, []byte{}, msg.Payload})
	if err != nil {
		return fmt.Errorf("certificate: Sig_structure: %w", err)
	}
	return v.Verify(tbs, msg.Signature)
}

func algFits(alg cose.Algorithm, pub any) bool {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return alg == cose.AlgorithmES256 || alg == cose.AlgorithmES384 || alg == cose.AlgorithmES512
	case *rsa.PublicKey:
		return alg == cose.AlgorithmPS256 || alg == cose.AlgorithmPS384 || alg == cose.AlgorithmPS512
	}
	return false
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if len(out) > maxInflated {
		return nil, errors.New("zlib: inflates beyond a certificate's size")
	}
	return out, nil
}

// parseSign1 accepts the COSE_Sign1 tagged (18) or untagged, also inside
// the CWT tag (61), as issuers in the field produce all three.
func parseSign1(raw []byte) (*cose.Sign1Message, error) {
	var tagged cbor.RawTag
	for len(raw) > 0 && raw[0]&0xe0 == 0xc0 { // major type 6: a tag
		if err := cbor.Unmarshal(raw, &tagged); err != nil {
			return nil, fmt.Errorf("cose: %w", err)
		}
		switch tagged.Number {
		case 61, 18:
			raw = tagged.Content
		default:
			return nil, fmt.Errorf("cose: unexpected tag %d", tagged.Number)
		}
	}
	var m cose.UntaggedSign1Message
	if err := m.UnmarshalCBOR(raw); err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	if m.Payload == nil {
		return nil, errors.New("cose: detached payload")
	}
	return (*cose.Sign1Message)(&m), nil
}

var genericDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DefaultMapType:  reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels: 16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

func decodeCWT(b []byte) (*Payload, error) {
	var claims map[int]cbor.RawMessage
	if err := cbor.Unmarshal(b, &claims); err != nil {
		return nil, fmt.Errorf("cwt: %w", err)
	}
	var hc map[int]cbor.RawMessage
	if err := cbor.Unmarshal(claims[claimHcert], &hc); err != nil {
		return nil, fmt.Errorf("cwt: hcert claim: %w", err)
	}
	raw, ok := hc[hcertEUDCC]
	if !ok {
		return nil, errors.New("cwt: no health certificate in the hcert claim")
	}
	p := &Payload{}
	if err := genericDec.Unmarshal(raw, &p.HCert); err != nil {
		return nil, fmt.Errorf("cwt: health certificate: %w", err)
	}
	if p.HCert == nil {
		return nil, errors.New("cwt: health certificate is not a map")
	}
	if v, ok := claims[claimIss]; ok {
		if err := cbor.Unmarshal(v, &p.Issuer); err != nil {
			return nil, fmt.Errorf("cwt: iss: %w", err)
		}
	}
	for key, dst := range map[int]*time.Time{claimIat: &p.IssuedAt, claimExp: &p.ExpiresAt} {
		v, ok := claims[key]
		if !ok {
			continue
		}
		// NumericDate may be an integer or a float (RFC 8392 §2).
		var f float64
		if err := cbor.Unmarshal(v, &f); err != nil {
			return nil, fmt.Errorf("cwt: claim %d: %w", key, err)
		}
		*dst = time.Unix(int64(f), 0).UTC()
	}
	return p, nil
}

func decodeStdBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}
