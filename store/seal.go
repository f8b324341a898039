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

// Data-key errors: start-up stops with these rather than run with a key
// that cannot open what the database holds.
var (
	ErrKeyMissing   = errors.New("store: data key missing")
	ErrKeyMalformed = errors.New("store: data key malformed")
)

// LoadOrCreateKey returns the 32-byte master key from hexKey, or, when empty,
// from dataDir/data.key. A new key is generated only when fresh says the
// database holds nothing yet: for a database with data, a new key would
// leave everything sealed before unreadable (and, written to disk, would
// hide the real problem until someone opened a ticket), so a missing or
// malformed key stops start-up with what to restore. A production
// deployment sets LINDUNGI_DATA_KEY_FILE to a mounted secret instead, so
// that a stolen database file alone reveals nothing.
func LoadOrCreateKey(hexKey, dataDir string, fresh bool) ([]byte, error) {
	if hexKey != "" {
		k, err := parseKey(hexKey)
		if err != nil {
			return nil, fmt.Errorf("%w: data_key (LINDUNGI_DATA_KEY or LINDUNGI_DATA_KEY_FILE) must be 64 hex characters (32 bytes): set the key this database was sealed with", ErrKeyMalformed)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "data.key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, err := parseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is empty or not 64 hex characters: restore data.key from the backup of this data directory (or set LINDUNGI_DATA_KEY_FILE to the key this database was sealed with); a new key cannot open the data already stored", ErrKeyMalformed, path)
		}
		return k, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read data key %s: %w", path, err)
	case !fresh:
		return nil, fmt.Errorf("%w: %s does not exist but the database already holds data sealed with it: restore data.key from the backup of this data directory (or set LINDUNGI_DATA_KEY_FILE to the key); refusing to start with a new key, which could not open that data", ErrKeyMissing, path)
	}
	return createKey(dataDir, path)
}

func parseKey(h string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return nil, err
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%d bytes, want 32", len(k))
	}
	return k, nil
}

// createKey writes a new key to path without ever leaving a partial file
// there (a half-written key would stop the next start): it goes to a
// temporary file first and is linked into place only when complete. Two
// processes creating at once agree on the first one linked.
func createKey(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dataDir, err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dataDir, ".data.key-*")
	if err != nil {
		return nil, fmt.Errorf("write data key in %s: %w", dataDir, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(hex.EncodeToString(k) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write data key %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateKey("", dataDir, false)
		}
		return nil, fmt.Errorf("write data key %s: %w", path, err)
	}
	syncDir(dataDir)
	return k, nil
}

// syncDir makes a new directory entry durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
