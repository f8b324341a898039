package wafake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/libsignal/ecc"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// ErrNoPairing means no connected client shows that QR code.
var ErrNoPairing = errors.New("wafake: no client waiting for this QR code")

// ScanQR is the fake phone scanning a QR code the client displayed
// ("ref,noisePub,identityPub,advSecret"). The device is registered at once;
// the client then confirms, gets the mandatory 515 restart and logs in.
func (s *Server) ScanQR(code string) error {
	parts := strings.Split(code, ",")
	if len(parts) != 4 {
		return fmt.Errorf("wafake: QR code has %d parts, want 4", len(parts))
	}
	noise, err1 := base64.StdEncoding.DecodeString(parts[1])
	ident, err2 := base64.StdEncoding.DecodeString(parts[2])
	adv, err3 := base64.StdEncoding.DecodeString(parts[3])
	if err := errors.Join(err1, err2, err3); err != nil || len(noise) != 32 || len(ident) != 32 {
		return fmt.Errorf("wafake: malformed QR code: %v", err)
	}
	s.mu.Lock()
	c := s.pairing[[32]byte(noise)]
	s.mu.Unlock()
	if c == nil {
		return ErrNoPairing
	}
	return s.pairSuccess(c, ident, adv)
}

// pairSuccess registers the new device and sends <pair-success> with a
// device identity HMAC'd with the adv secret the client holds.
func (s *Server) pairSuccess(c *conn, ident, adv []byte) error {
	s.mu.Lock()
	if s.pairing[c.noisePub] != c {
		s.mu.Unlock()
		return ErrNoPairing
	}
	delete(s.pairing, c.noisePub)
	s.nextDevice++
	d := &device{id: s.nextDevice, noisePub: c.noisePub}
	s.devices[d.id] = d
	c.dev = d
	c.pairID = s.nextID()
	s.mu.Unlock()

	// The account key is the fake phone's; the client verifies the account
	// signature with the key carried in the same message, so a fresh one does.
	account := keys.NewKeyPair()
	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID: proto.Uint32(uint32(d.id)), Timestamp: proto.Uint64(uint64(time.Now().Unix())), KeyIndex: proto.Uint32(uint32(d.id)),
	})
	if err != nil {
		return err
	}
	msg := append(append([]byte{6, 0}, details...), ident...)
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey(*account.Priv), msg)
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details: details, AccountSignatureKey: account.Pub[:], AccountSignature: sig[:],
	})
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, adv)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{Details: signed, HMAC: mac.Sum(nil)})
	if err != nil {
		return err
	}
	return c.send(waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": serverJID, "type": "set", "id": c.pairID},
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Content: container},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": s.accountJID(d.id), "lid": s.accountLID(d.id)}},
		}}}})
}

// pairConfirmed handles the client's <pair-device-sign>: like WhatsApp, the
// server then forces a reconnect (stream error 515) after which the client
// logs in as the new device.
func (s *Server) pairConfirmed(c *conn, n *waBinary.Node) {
	if n.Attrs["type"] != "result" {
		s.mu.Lock()
		delete(s.devices, c.dev.id)
		s.notifyLocked()
		s.mu.Unlock()
		c.close()
		return
	}
	_ = c.send(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "515"}})
	go func() { time.Sleep(200 * time.Millisecond); c.close() }()
}

// PendingQR reports whether a client is connected and waiting to be paired.
func (s *Server) PendingQR() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pairing)
}
