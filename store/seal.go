package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sealer encrypts personal data at rest (NIK, names, attachments, tracing
// phone numbers) with AES-256-GCM, and computes blind indexes (HMAC-SHA256)
// so sealed values can still be looked up by equality. One key, derived into
// separate subkeys for sealing and indexing.
type Sealer struct {
	aead cipher.AEAD
	mac  []byte
}

// NewSealer derives the subkeys from a 32-byte master key.
func NewSealer(master []byte) (*Sealer, error) {
	if len(master) != 32 {
		return nil, fmt.Errorf("store: data key must be 32 bytes, got %d", len(master))
	}
	encKey := derive(master, "seal")
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, mac: derive(master, "index")}, nil
}

func derive(master []byte, label string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("lindungi/" + label))
	return m.Sum(nil)
}

// Seal encrypts plaintext; the nonce is prepended.
func (s *Sealer) Seal(plaintext []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("store: no randomness: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plaintext, nil)
}

// ErrUnseal means the ciphertext is damaged or sealed with another key.
var ErrUnseal = errors.New("store: cannot decrypt sealed value (wrong data key?)")

// Open decrypts what Seal produced. An empty input opens to nil.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, ErrUnseal
	}
	return out, nil
}

// Index is a deterministic keyed hash for equality lookups on sealed values.
func (s *Sealer) Index(value string) string {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// LoadOrCreateKey returns the 32-byte master key from hexKey, or, when empty,
// from DataDir/data.key, creating it on first start. A production deployment
// sets LINDUNGI_DATA_KEY_FILE to a mounted secret instead, so that a stolen
// database file alone reveals nothing.
func LoadOrCreateKey(hexKey, dataDir string) ([]byte, error) {
	if hexKey != "" {
		k, err := hex.DecodeString(strings.TrimSpace(hexKey))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("data key must be 64 hex characters (32 bytes); generate one with: openssl rand -hex 32")
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "data.key")
	if b, err := os.ReadFile(path); err == nil {
		return LoadOrCreateKey(string(b), dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dataDir, err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write data key %s: %w", path, err)
	}
	return k, nil
}
