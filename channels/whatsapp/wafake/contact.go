package wafake

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/util/keyhelper"
	"go.mau.fi/libsignal/util/optional"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/cbcutil"
	"go.mau.fi/whatsmeow/util/hkdfutil"
	"google.golang.org/protobuf/proto"
)

// Received is one message the client sent to a fake contact, decrypted.
type Received struct {
	ID        string // WhatsApp message ID as the client chose it
	To        string // contact phone (digits)
	Text      string // Conversation, extended text or media caption
	Media     []byte // decrypted attachment, if any
	MediaType string // mimetype of the attachment
	FileName  string
	QuotedID  string
	Acked     bool   // false when acks were withheld
	Err       string // decryption failure, if any
	At        time.Time
}

// Contact is a fake WhatsApp user (one phone, device 0) with real Signal keys.
type Contact struct {
	Phone string // digits, e.g. 6281234567890
	LID   string // LID user part
	Name  string // push name

	srv   *Server
	store *memStore
	skey  *record.SignedPreKey

	mu        sync.Mutex
	nextPK    uint32
	delivered map[string]bool
	read      map[string]bool
}

// AddContact creates a fake contact. lid may be empty (one is derived).
func (s *Server) AddContact(phone, lid, name string) (*Contact, error) {
	phone = strings.TrimPrefix(phone, "+")
	if lid == "" {
		lid = "9" + phone
	}
	idk, err := keyhelper.GenerateIdentityKeyPair()
	if err != nil {
		return nil, err
	}
	skey, err := keyhelper.GenerateSignedPreKey(idk, 1, serializer.SignedPreKeyRecord)
	if err != nil {
		return nil, err
	}
	st := newMemStore(idk, keyhelper.GenerateRegistrationID())
	_ = st.StoreSignedPreKey(context.Background(), 1, skey)
	ct := &Contact{Phone: phone, LID: lid, Name: name, srv: s, store: st, skey: skey, nextPK: 1,
		delivered: map[string]bool{}, read: map[string]bool{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contacts[phone] != nil {
		return nil, fmt.Errorf("wafake: contact exists")
	}
	s.contacts[phone] = ct
	s.lids[lid] = ct
	return ct, nil
}

// Contact returns the contact with that phone (digits or +digits), or nil.
func (s *Server) Contact(phone string) *Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.contacts[strings.TrimPrefix(phone, "+")]
}

// Delivered reports whether the client sent a delivery receipt for id.
func (ct *Contact) Delivered(id string) bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.delivered[id]
}

// Read reports whether the client marked id as read.
func (ct *Contact) Read(id string) bool {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return ct.read[id]
}

func (ct *Contact) markDelivered(id string) {
	ct.mu.Lock()
	ct.delivered[id] = true
	ct.mu.Unlock()
}

func (ct *Contact) markRead(id string) {
	ct.mu.Lock()
	ct.read[id] = true
	ct.mu.Unlock()
}

// bundleNode hands out a one-time pre-key of the contact, for a client
// that starts a session (it writes first).
func (ct *Contact) bundleNode(jid types.JID) waBinary.Node {
	ct.mu.Lock()
	id := ct.nextPK
	ct.nextPK++
	ct.mu.Unlock()
	kp, _ := ecc.GenerateKeyPair()
	_ = ct.store.StorePreKey(context.Background(), id, record.NewPreKey(id, kp, serializer.PreKeyRecord))
	reg := make([]byte, 4)
	binary.BigEndian.PutUint32(reg, ct.store.regID)
	idb := func(v uint32) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }
	pub := kp.PublicKey().PublicKey()
	spub := ct.skey.KeyPair().PublicKey().PublicKey()
	sig := ct.skey.Signature()
	ipub := ct.store.identity.PublicKey().PublicKey().PublicKey()
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
		{Tag: "registration", Content: reg},
		{Tag: "type", Content: []byte{ecc.DjbType}},
		{Tag: "identity", Content: ipub[:]},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: idb(ct.skey.ID())}, {Tag: "value", Content: spub[:]}, {Tag: "signature", Content: sig[:]},
		}},
		{Tag: "key", Content: []waBinary.Node{{Tag: "id", Content: idb(id)}, {Tag: "value", Content: pub[:]}}},
	}}
}

// clientAddress is how a contact names the client device in its own Signal
// store; device IDs are never reused, so one address per device suffices.
func clientAddress(dev uint16) *protocol.SignalAddress {
	return protocol.NewSignalAddress("client", uint32(dev))
}

// SendOptions shape one message from a contact.
type SendOptions struct {
	ViaLID   bool   // address it from the contact's @lid with sender_pn (modern WhatsApp)
	HidePN   bool   // with ViaLID: omit sender_pn (the client cannot learn the phone)
	QuotedID string // quote an earlier message
}

// SendText makes the contact write text to the account. It returns the
// WhatsApp message ID. The message waits on the server until the client
// sends a delivery receipt; unreceipted messages are redelivered on login.
func (ct *Contact) SendText(text string, o SendOptions) (string, error) {
	m := &waE2E.Message{Conversation: proto.String(text)}
	if o.QuotedID != "" {
		m = &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String(text), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String(o.QuotedID)},
		}}
	}
	return ct.send(m, "text", "", o)
}

// SendImage makes the contact send an image (JPEG/PNG bytes) with a caption.
func (ct *Contact) SendImage(data []byte, mimetype, caption string, o SendOptions) (string, error) {
	mk, path, encSHA, sha := ct.srv.putMedia(data, "WhatsApp Image Keys")
	m := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		URL: proto.String("https://mmg.whatsapp.net" + path), DirectPath: proto.String(path),
		MediaKey: mk, FileEncSHA256: encSHA, FileSHA256: sha, FileLength: proto.Uint64(uint64(len(data))),
		Mimetype: proto.String(mimetype), Caption: proto.String(caption),
	}}
	return ct.send(m, "media", "image", o)
}

// SendDocument makes the contact send a document.
func (ct *Contact) SendDocument(data []byte, mimetype, fileName string, o SendOptions) (string, error) {
	mk, path, encSHA, sha := ct.srv.putMedia(data, "WhatsApp Document Keys")
	m := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: proto.String("https://mmg.whatsapp.net" + path), DirectPath: proto.String(path),
		MediaKey: mk, FileEncSHA256: encSHA, FileSHA256: sha, FileLength: proto.Uint64(uint64(len(data))),
		Mimetype: proto.String(mimetype), FileName: proto.String(fileName),
	}}
	return ct.send(m, "media", "document", o)
}

func newMessageID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "3A" + strings.ToUpper(hex.EncodeToString(b))
}

func pad(b []byte) []byte {
	var r [1]byte
	_, _ = rand.Read(r[:])
	n := r[0] & 0xf
	if n == 0 {
		n = 0xf
	}
	for i := byte(0); i < n; i++ {
		b = append(b, n)
	}
	return b
}

func (ct *Contact) send(m *waE2E.Message, typ, mediaType string, o SendOptions) (string, error) {
	s := ct.srv
	plain, err := proto.Marshal(m)
	if err != nil {
		return "", err
	}
	id := newMessageID()
	s.mu.Lock()
	var targets []*device
	for _, d := range s.devices {
		if !d.removed && d.keys != nil {
			targets = append(targets, d)
		}
	}
	s.mu.Unlock()
	if len(targets) == 0 {
		return "", errors.New("wafake: no paired device has uploaded keys yet")
	}
	for _, d := range targets {
		pm := &pendingMsg{id: id, from: ct, plain: plain, typ: typ, mediaType: mediaType, opts: o,
			t: time.Now()}
		if err := ct.encryptFor(d, pm); err != nil {
			return "", err
		}
		s.mu.Lock()
		if s.faults.corrupt > 0 {
			s.faults.corrupt--
			corrupt(&pm.node)
		}
		d.pending = append(d.pending, pm)
		c := d.conn
		s.notifyLocked()
		s.mu.Unlock()
		if c != nil {
			_ = c.send(pm.node)
		}
	}
	return id, nil
}

// encryptFor (re)builds pm.node for device d, starting a Signal session from
// the device's uploaded pre-keys when there is none.
func (ct *Contact) encryptFor(d *device, pm *pendingMsg) error {
	s := ct.srv
	ctx := context.Background()
	addr := clientAddress(d.id)
	builder := session.NewBuilderFromSignal(ct.store, addr, serializer)
	if ok, _ := ct.store.ContainsSession(ctx, addr); !ok {
		s.mu.Lock()
		if len(d.keys.preKeys) == 0 {
			s.mu.Unlock()
			return errors.New("wafake: client has no one-time pre-keys left")
		}
		otk := d.keys.preKeys[0]
		d.keys.preKeys = d.keys.preKeys[1:]
		k := *d.keys
		s.mu.Unlock()
		b := prekey.NewBundle(k.regID, uint32(d.id), optional.NewOptionalUint32(otk.id), k.skeyID,
			ecc.NewDjbECPublicKey(otk.pub), ecc.NewDjbECPublicKey(k.skeyPub), k.skeySig,
			identity.NewKey(ecc.NewDjbECPublicKey(k.identity)))
		if err := builder.ProcessBundle(ctx, b); err != nil {
			return fmt.Errorf("wafake: process client bundle: %w", err)
		}
	}
	ctm, err := session.NewCipher(builder, addr).Encrypt(ctx, pad(append([]byte(nil), pm.plain...)))
	if err != nil {
		return fmt.Errorf("wafake: encrypt: %w", err)
	}
	encType := "msg"
	if ctm.Type() == protocol.PREKEY_TYPE {
		encType = "pkmsg"
	}
	encAttrs := waBinary.Attrs{"v": "2", "type": encType}
	if pm.mediaType != "" {
		encAttrs["mediatype"] = pm.mediaType
	}
	if pm.retries > 0 {
		encAttrs["count"] = strconv.Itoa(pm.retries)
	}
	attrs := waBinary.Attrs{
		"id": pm.id, "type": pm.typ, "t": strconv.FormatInt(pm.t.Unix(), 10), "notify": ct.Name,
	}
	pn := types.JID{User: ct.Phone, Server: types.DefaultUserServer}
	lid := types.JID{User: ct.LID, Server: types.HiddenUserServer}
	if pm.opts.ViaLID {
		attrs["from"] = lid
		if !pm.opts.HidePN {
			attrs["sender_pn"] = pn
		}
	} else {
		attrs["from"] = pn
		attrs["sender_lid"] = lid
	}
	pm.node = waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{{Tag: "enc", Attrs: encAttrs, Content: ctm.Serialize()}}}
	return nil
}

// retry answers a retry receipt like a phone does: a fresh session from a
// new one-time pre-key, the same message re-encrypted under the same ID.
func (ct *Contact) retry(d *device, pm *pendingMsg) (waBinary.Node, error) {
	_ = ct.store.DeleteSession(context.Background(), clientAddress(d.id))
	pm.retries++
	if err := ct.encryptFor(d, pm); err != nil {
		return waBinary.Node{}, err
	}
	return pm.node, nil
}

func (ct *Contact) decrypt(s *Server, dev uint16, id string, enc waBinary.Node) (Received, error) {
	rec := Received{ID: id, To: ct.Phone}
	data := bytesOf(enc)
	ctx := context.Background()
	addr := clientAddress(dev)
	ciph := session.NewCipher(session.NewBuilderFromSignal(ct.store, addr, serializer), addr)
	var plain []byte
	var err error
	if enc.Attrs["type"] == "pkmsg" {
		var m *protocol.PreKeySignalMessage
		if m, err = protocol.NewPreKeySignalMessageFromBytes(data, serializer.PreKeySignalMessage, serializer.SignalMessage); err == nil {
			plain, err = ciph.DecryptMessage(ctx, m)
		}
	} else {
		var m *protocol.SignalMessage
		if m, err = protocol.NewSignalMessageFromBytes(data, serializer.SignalMessage); err == nil {
			plain, err = ciph.Decrypt(ctx, m)
		}
	}
	if err != nil {
		return rec, err
	}
	if len(plain) == 0 || int(plain[len(plain)-1]) > len(plain) {
		return rec, errors.New("bad padding")
	}
	plain = plain[:len(plain)-int(plain[len(plain)-1])]
	var m waE2E.Message
	if err := proto.Unmarshal(plain, &m); err != nil {
		return rec, err
	}
	switch {
	case m.Conversation != nil:
		rec.Text = m.GetConversation()
	case m.ExtendedTextMessage != nil:
		rec.Text = m.GetExtendedTextMessage().GetText()
		rec.QuotedID = m.GetExtendedTextMessage().GetContextInfo().GetStanzaID()
	case m.ImageMessage != nil:
		im := m.GetImageMessage()
		rec.Text, rec.MediaType = im.GetCaption(), im.GetMimetype()
		rec.Media, err = s.getMedia(im.GetDirectPath(), im.GetMediaKey(), "WhatsApp Image Keys")
	case m.DocumentMessage != nil:
		dm := m.GetDocumentMessage()
		rec.Text, rec.MediaType, rec.FileName = dm.GetCaption(), dm.GetMimetype(), dm.GetFileName()
		rec.Media, err = s.getMedia(dm.GetDirectPath(), dm.GetMediaKey(), "WhatsApp Document Keys")
	}
	return rec, err
}

// putMedia encrypts data the way WhatsApp media is stored (AES-CBC plus a
// truncated HMAC, keys expanded from a random media key) and serves it.
func (s *Server) putMedia(data []byte, info string) (mediaKey []byte, path string, encSHA, sha []byte) {
	mediaKey = make([]byte, 32)
	_, _ = rand.Read(mediaKey)
	exp := hkdfutil.SHA256(mediaKey, nil, []byte(info), 112)
	iv, ck, mk := exp[:16], exp[16:48], exp[48:80]
	ct, _ := cbcutil.Encrypt(ck, iv, data)
	h := hmac.New(sha256.New, mk)
	h.Write(iv)
	h.Write(ct)
	blob := append(ct, h.Sum(nil)[:10]...)
	es := sha256.Sum256(blob)
	ps := sha256.Sum256(data)
	path = "/m/" + newMessageID()
	s.mu.Lock()
	s.media[path] = blob
	s.mu.Unlock()
	return mediaKey, path, es[:], ps[:]
}

func (s *Server) getMedia(path string, mediaKey []byte, info string) ([]byte, error) {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	s.mu.Lock()
	blob := s.media[path]
	s.mu.Unlock()
	if len(blob) <= 10 {
		return nil, fmt.Errorf("wafake: no media at %q", path)
	}
	exp := hkdfutil.SHA256(mediaKey, nil, []byte(info), 112)
	iv, ck, mk := exp[:16], exp[16:48], exp[48:80]
	ct, mac := blob[:len(blob)-10], blob[len(blob)-10:]
	h := hmac.New(sha256.New, mk)
	h.Write(iv)
	h.Write(ct)
	if !hmac.Equal(h.Sum(nil)[:10], mac) {
		return nil, errors.New("wafake: media HMAC mismatch")
	}
	return cbcutil.Decrypt(ck, iv, ct)
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	blob, ok := s.media[r.URL.Path]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(blob)
}

// serveUpload accepts the client's encrypted upload (POST /mms/<type>/<token>)
// and stores it where the recipient contact will fetch it.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method", http.StatusMethodNotAllowed)
		return
	}
	blob, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	path := "/m/" + newMessageID()
	s.mu.Lock()
	s.media[path] = blob
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"url":"https://mmg.whatsapp.net%s","direct_path":"%s"}`, path, path)
}

// corrupt flips the last ciphertext byte (inside the MAC'd part), so the
// client fails to decrypt and must ask for a retry.
func corrupt(n *waBinary.Node) {
	enc := n.GetChildByTag("enc")
	b := append([]byte(nil), bytesOf(enc)...)
	if len(b) > 0 {
		b[len(b)-1] ^= 0xff
	}
	enc.Content = b
	n.Content = []waBinary.Node{enc}
}
