package wafake

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow/proto/waCert"
	"go.mau.fi/whatsmeow/util/gcmutil"
	"go.mau.fi/whatsmeow/util/keys"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"
	"google.golang.org/protobuf/proto"
)

// noisePattern is the protocol name the client hashes first; it is exactly
// 32 bytes, so it is used as the initial hash directly.
const noisePattern = "Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"

// noiseState is the responder side of WhatsApp's Noise XX handshake. The
// client's implementation is the reference: every step here mirrors one of
// its steps so that hash, salt and counters stay in lockstep.
type noiseState struct {
	hash    []byte
	salt    []byte
	key     cipher.AEAD
	counter uint32
}

func newNoiseState(header []byte) (*noiseState, error) {
	ns := &noiseState{hash: []byte(noisePattern)}
	ns.salt = ns.hash
	var err error
	if ns.key, err = gcmutil.Prepare(ns.hash); err != nil {
		return nil, err
	}
	ns.authenticate(header)
	return ns, nil
}

func (ns *noiseState) authenticate(data []byte) {
	h := sha256.Sum256(append(append([]byte{}, ns.hash...), data...))
	ns.hash = h[:]
}

func ivFor(counter uint32) []byte {
	iv := make([]byte, 12)
	binary.BigEndian.PutUint32(iv[8:], counter)
	return iv
}

func (ns *noiseState) encrypt(plaintext []byte) []byte {
	ct := ns.key.Seal(nil, ivFor(ns.counter), plaintext, ns.hash)
	ns.counter++
	ns.authenticate(ct)
	return ct
}

func (ns *noiseState) decrypt(ciphertext []byte) ([]byte, error) {
	pt, err := ns.key.Open(nil, ivFor(ns.counter), ciphertext, ns.hash)
	ns.counter++
	if err != nil {
		return nil, err
	}
	ns.authenticate(ciphertext)
	return pt, nil
}

func (ns *noiseState) mixDH(priv, pub [32]byte) error {
	secret, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return err
	}
	write, read, err := expand(ns.salt, secret)
	if err != nil {
		return err
	}
	ns.salt = write
	ns.counter = 0
	ns.key, err = gcmutil.Prepare(read)
	return err
}

// finish returns the transport ciphers. The client writes with the first
// derived key, so the server reads with it.
func (ns *noiseState) finish() (read, write cipher.AEAD, err error) {
	k1, k2, err := expand(ns.salt, nil)
	if err != nil {
		return nil, nil, err
	}
	if read, err = gcmutil.Prepare(k1); err != nil {
		return nil, nil, err
	}
	write, err = gcmutil.Prepare(k2)
	return read, write, err
}

func expand(salt, data []byte) (a, b []byte, err error) {
	h := hkdf.New(sha256.New, data, salt, nil)
	a, b = make([]byte, 32), make([]byte, 32)
	if _, err = io.ReadFull(h, a); err == nil {
		_, err = io.ReadFull(h, b)
	}
	return a, b, err
}

// certChain builds the intermediate (signed by the root, issuer serial 0)
// and leaf (signed by the intermediate, carrying the server's Noise static
// key) that whatsmeow verifies against WACertPubKey.
func certChain(root *keys.KeyPair, static [32]byte) ([]byte, error) {
	inter := keys.NewKeyPair()
	interDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial: proto.Uint32(1), IssuerSerial: proto.Uint32(0), Key: inter.Pub[:],
	})
	if err != nil {
		return nil, err
	}
	leafDetails, err := proto.Marshal(&waCert.CertChain_NoiseCertificate_Details{
		Serial: proto.Uint32(2), IssuerSerial: proto.Uint32(1), Key: static[:],
	})
	if err != nil {
		return nil, err
	}
	interSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*root.Priv), interDetails)
	leafSig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*inter.Priv), leafDetails)
	out, err := proto.Marshal(&waCert.CertChain{
		Intermediate: &waCert.CertChain_NoiseCertificate{Details: interDetails, Signature: interSig[:]},
		Leaf:         &waCert.CertChain_NoiseCertificate{Details: leafDetails, Signature: leafSig[:]},
	})
	if err != nil {
		return nil, fmt.Errorf("wafake: cert chain: %w", err)
	}
	return out, nil
}
