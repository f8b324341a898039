package wafake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"go.mau.fi/whatsmeow/util/keys"
	"golang.org/x/crypto/curve25519"
)

// codePairing is the fake phone's half of "link with phone number".
type codePairing struct {
	ref        string
	wrappedEph []byte // the client's ephemeral key, wrapped with the code
	phoneEph   *keys.KeyPair
	phoneID    *keys.KeyPair
	clientEph  [32]byte
}

// ErrNoCodePairing means no client asked for a pairing code.
var ErrNoCodePairing = errors.New("wafake: no client is waiting for a pairing code")

func (s *Server) companionHello(c *conn, n *waBinary.Node) {
	reg := n.GetChildByTag("link_code_companion_reg")
	cp := &codePairing{ref: "ref-" + s.nextID(), wrappedEph: bytesOf(reg.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub"))}
	s.mu.Lock()
	c.code = cp
	s.notifyLocked()
	s.mu.Unlock()
	s.result(c, n, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
		{Tag: "link_code_pairing_ref", Content: []byte(cp.ref)},
	}})
}

// unwrapKey reverses the code-based key wrapping (salt | iv | AES-CTR(pub)).
func unwrapKey(code string, wrapped []byte) ([32]byte, error) {
	var out [32]byte
	if len(wrapped) != 80 {
		return out, errors.New("wafake: wrapped key has the wrong size")
	}
	key, err := pbkdf2.Key(sha256.New, code, wrapped[:32], 2<<16, 32)
	if err != nil {
		return out, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return out, err
	}
	cipher.NewCTR(block, wrapped[32:48]).XORKeyStream(out[:], wrapped[48:80])
	return out, nil
}

func wrapKey(code string, pub []byte) ([]byte, error) {
	out := make([]byte, 80)
	_, _ = rand.Read(out[:48])
	key, err := pbkdf2.Key(sha256.New, code, out[:32], 2<<16, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	cipher.NewCTR(block, out[32:48]).XORKeyStream(out[48:80], pub)
	return out, nil
}

// EnterCode is the operator typing the client's pairing code ("ABCD-EFGH")
// on the fake phone. The client then finishes the key exchange and is
// paired exactly as by QR.
func (s *Server) EnterCode(code string) error {
	code = strings.ReplaceAll(strings.TrimSpace(code), "-", "")
	s.mu.Lock()
	var c *conn
	var cp *codePairing
	for _, pc := range s.pairing {
		if pc.code != nil {
			c, cp = pc, pc.code
		}
	}
	s.mu.Unlock()
	if c == nil {
		return ErrNoCodePairing
	}
	eph, err := unwrapKey(code, cp.wrappedEph)
	if err != nil {
		return err
	}
	phoneEph, phoneID := keys.NewKeyPair(), keys.NewKeyPair()
	wrapped, err := wrapKey(code, phoneEph.Pub[:])
	if err != nil {
		return err
	}
	// The client answers over the network, which the race detector cannot
	// see as ordering: publish the phone's keys under the lock.
	s.mu.Lock()
	cp.clientEph, cp.phoneEph, cp.phoneID = eph, phoneEph, phoneID
	s.mu.Unlock()
	return c.send(waBinary.Node{Tag: "notification", Attrs: waBinary.Attrs{
		"from": serverJID, "type": "link_code_companion_reg", "id": s.nextID(), "t": strconv.FormatInt(time.Now().Unix(), 10),
	}, Content: []waBinary.Node{{Tag: "link_code_companion_reg", Attrs: waBinary.Attrs{"stage": "primary_hello"}, Content: []waBinary.Node{
		{Tag: "link_code_pairing_ref", Content: []byte(cp.ref)},
		{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: wrapped},
		{Tag: "primary_identity_pub", Content: cp.phoneID.Pub[:]},
	}}}})
}

// companionFinish derives the adv secret from the client's key bundle, as
// the phone does, and completes pairing with <pair-success>.
func (s *Server) companionFinish(c *conn, n *waBinary.Node) error {
	s.result(c, n)
	s.mu.Lock()
	var cp codePairing
	if c.code != nil {
		cp = *c.code
	}
	s.mu.Unlock()
	if cp.phoneEph == nil {
		return ErrNoCodePairing
	}
	reg := n.GetChildByTag("link_code_companion_reg")
	bundle := bytesOf(reg.GetChildByTag("link_code_pairing_wrapped_key_bundle"))
	if len(bundle) < 44 {
		return errors.New("wafake: short key bundle")
	}
	ephShared, err := curve25519.X25519(cp.phoneEph.Priv[:], cp.clientEph[:])
	if err != nil {
		return err
	}
	block, err := aes.NewCipher(hkdfutil.SHA256(ephShared, bundle[:32], []byte("link_code_pairing_key_bundle_encryption_key"), 32))
	if err != nil {
		return err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	plain, err := gcm.Open(nil, bundle[32:44], bundle[44:], nil)
	if err != nil || len(plain) != 96 {
		return fmt.Errorf("wafake: key bundle: %v", err)
	}
	companionID, advRandom := plain[:32], plain[64:96]
	idShared, err := curve25519.X25519(cp.phoneID.Priv[:], companionID)
	if err != nil {
		return err
	}
	input := append(append(append([]byte{}, ephShared...), idShared...), advRandom...)
	adv := hkdfutil.SHA256(input, nil, []byte("adv_secret"), 32)
	return s.pairSuccess(c, companionID, adv)
}
