// Package certificate owns the vaccination certificate a citizen can show:
// the signed HCERT payload of the EU Digital COVID Certificate / WHO
// DDCC:VS (a CBOR Web Token in a COSE_Sign1 envelope, zlib, Base45, "HC1:"),
// issuing it with the Ministry's signing key and verifying any issuer's QR
// string against a signer certificate. It knows nothing of the registry or
// of channels: callers hand it a person and a dose.
package certificate

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Prefix is the context identifier of a version 1 health certificate.
const Prefix = "HC1:"

// CWT claim keys (RFC 8392) and the HCERT claim (EU eHN HCERT spec §2.6).
const (
	claimIss   = 1
	claimExp   = 4
	claimIat   = 6
	claimHcert = -260
	hcertEUDCC = 1
)

// Dose is one vaccination event as the certificate carries it. The codes
// are the EU DCC value sets (vp, mp, ma), which WHO DDCC:VS maps to.
type Dose struct {
	Disease      string `json:"tg"` // 840539006 = COVID-19
	Prophylaxis  string `json:"vp"`
	Product      string `json:"mp"`
	Manufacturer string `json:"ma"`
	Number       int    `json:"dn"`
	Series       int    `json:"sd"`
	Date         string `json:"dt"` // YYYY-MM-DD
	Country      string `json:"co"`
	Issuer       string `json:"is"`
	ID           string `json:"ci"` // UVCI
}

// Name is the holder's name; the *T fields are the ICAO 9303
// transliteration a border officer's reader compares.
type Name struct {
	Family  string `json:"fn,omitempty"`
	FamilyT string `json:"fnt"`
	Given   string `json:"gn,omitempty"`
	GivenT  string `json:"gnt,omitempty"`
}

// DCC is the health certificate itself (schema 1.3.0, vaccination only:
// this service issues nothing else).
type DCC struct {
	Version     string `json:"ver"`
	Name        Name   `json:"nam"`
	DateOfBirth string `json:"dob"`
	Vaccination []Dose `json:"v"`
}

// SchemaVersion is the DCC JSON schema version this package writes.
const SchemaVersion = "1.3.0"

// Signer signs certificates with the Ministry's document signer key.
type Signer struct {
	key     *ecdsa.PrivateKey
	cert    *x509.Certificate
	kid     []byte
	country string
	ttl     time.Duration
}

// kidOf is the HCERT key identifier: the first 8 bytes of the SHA-256 of
// the signer certificate's DER encoding.
func kidOf(cert *x509.Certificate) []byte {
	h := sha256.Sum256(cert.Raw)
	return h[:8]
}

// NewSigner signs as the holder of cert; country is the CWT issuer (ISO
// 3166 alpha-2, "ID") and ttl how long a certificate stays valid.
func NewSigner(key *ecdsa.PrivateKey, cert *x509.Certificate, country string, ttl time.Duration) (*Signer, error) {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("certificate: the signer certificate is not the signing key's")
	}
	if key.Curve != elliptic.P256() {
		return nil, errors.New("certificate: ES256 needs a P-256 key")
	}
	return &Signer{key: key, cert: cert, kid: kidOf(cert), country: country, ttl: ttl}, nil
}

// Certificate is the signer certificate a verifier must trust.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Issue returns the QR string ("HC1:…") of dcc, issued at now.
func (s *Signer) Issue(dcc DCC, now time.Time) (string, error) {
	if dcc.Version == "" {
		dcc.Version = SchemaVersion
	}
	claims := map[int]any{
		claimIss:   s.country,
		claimIat:   now.Unix(),
		claimExp:   now.Add(s.ttl).Unix(),
		claimHcert: map[int]any{hcertEUDCC: dcc},
	}
	// Core deterministic encoding keeps the payload the same bytes for the
	// same certificate, which keeps QR codes comparable in tests.
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return "", fmt.Errorf("certificate: cbor mode: %w", err)
	}
	payload, err := em.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("certificate: encode claims: %w", err)
	}
	signer, err := cose.NewSigner(cose.AlgorithmES256, s.key)
	if err != nil {
		return "", fmt.Errorf("certificate: signer: %w", err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmES256)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = s.kid
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return "", fmt.Errorf("certificate: sign: %w", err)
	}
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return "", fmt.Errorf("certificate: encode COSE: %w", err)
	}
	var z bytes.Buffer
	zw := newZlib(&z)
	if _, err := zw.Write(raw); err != nil {
		return "", fmt.Errorf("certificate: zlib: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("certificate: zlib: %w", err)
	}
	return Prefix + base45Encode(z.Bytes()), nil
}

func newZlib(w io.Writer) *zlib.Writer {
	zw, _ := zlib.NewWriterLevel(w, zlib.BestCompression) // errs only on a bad level
	return zw
}

// DefaultValidity is how long a certificate we issue stays valid. A year:
// the QR must be re-issued after a booster anyway, and a short life limits
// what a leaked certificate can be used for.
const DefaultValidity = 365 * 24 * time.Hour

// Country is the CWT issuer of the certificates this service signs.
const Country = "ID"

// OpenSigner loads the configured signing key and certificate, or, when
// both files are unset, the demo pair in dataDir (generated on first use).
func OpenSigner(keyFile, certFile, dataDir string, validity time.Duration) (*Signer, error) {
	if validity <= 0 {
		validity = DefaultValidity
	}
	if keyFile == "" && certFile == "" {
		return DemoSigner(dataDir, Country, validity)
	}
	return LoadSigner(keyFile, certFile, Country, validity)
}

// LoadSigner reads a PEM private key (PKCS#8 or SEC 1) and a PEM signer
// certificate.
func LoadSigner(keyFile, certFile, country string, ttl time.Duration) (*Signer, error) {
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: signing key: %w", err)
	}
	key, err := parseECKey(kb)
	if err != nil {
		return nil, fmt.Errorf("certificate: signing key %s: %w", keyFile, err)
	}
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: signer certificate: %w", err)
	}
	certs, err := ParseCertificates(cb)
	if err != nil {
		return nil, fmt.Errorf("certificate: signer certificate %s: %w", certFile, err)
	}
	return NewSigner(key, certs[0], country, ttl)
}

// DemoSigner loads the demo key and certificate from dir, generating them
// on first use. Only for demos and tests: a real deployment configures the
// key the Ministry's country signing CA certified.
func DemoSigner(dir, country string, ttl time.Duration) (*Signer, error) {
	keyFile := filepath.Join(dir, "certificate-demo-key.pem")
	certFile := filepath.Join(dir, "certificate-demo-signer.pem")
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		if err := generateDemo(keyFile, certFile, country); err != nil {
			return nil, err
		}
	}
	return LoadSigner(keyFile, certFile, country, ttl)
}

func generateDemo(keyFile, certFile, country string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("certificate: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return fmt.Errorf("certificate: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Lindungi demo document signer", Country: []string{country}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("certificate: self-sign: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("certificate: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("certificate: write signer certificate: %w", err)
	}
	// The key last: its presence is what says the pair is complete.
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("certificate: write signing key: %w", err)
	}
	return nil
}

func parseECKey(b []byte) (*ecdsa.PrivateKey, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM private key")
		}
		switch blk.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(blk.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, err
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("a %T key; ES256 needs ECDSA P-256", k)
			}
			return ek, nil
		}
	}
}

// ParseCertificates reads signer certificates as PEM blocks, or as one
// bare base64 DER certificate (the form trust lists and the DCC test
// vectors use).
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	der, err := decodeStdBase64(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, errors.New("certificate: neither PEM nor base64 DER")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	return []*x509.Certificate{c}, nil
}
