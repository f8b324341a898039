package wafake

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

// The root key is process-wide because whatsmeow.WACertPubKey is a package
// variable: every Server in a process shares one root, set exactly once.
var (
	rootOnce sync.Once
	rootKey  *keys.KeyPair
)

func processRoot() *keys.KeyPair {
	rootOnce.Do(func() {
		rootKey = keys.NewKeyPair()
		whatsmeow.WACertPubKey = *rootKey.Pub
	})
	return rootKey
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// AccountPhone is the WhatsApp account the fake phone pairs the client
	// to, as digits without "+". Default 6281110500567 (the PeduliLindungi number).
	AccountPhone string
	// AccountLID is the account's LID user part. Default 100000000000001.
	AccountLID string
	// Logf, if set, receives protocol-level debug lines.
	Logf func(format string, args ...any)
}

// Server is a fake WhatsApp server for one account.
type Server struct {
	opts   Options
	root   *keys.KeyPair
	static *keys.KeyPair
	ln     net.Listener
	http   *http.Server

	reqID atomic.Uint64

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every state change
	nextDevice uint16
	devices    map[uint16]*device
	pairing    map[[32]byte]*conn
	contacts   map[string]*Contact // by phone user
	lids       map[string]*Contact // by LID user
	media      map[string][]byte   // path → encrypted blob (both directions)
	received   []Received
	faults     faults
	logins     int
}

type faults struct {
	withholdAcks bool
	failLogin    int // reason for the next login attempts, 0 = none
	refused      map[string]bool
	corrupt      int // garble this many of the next contact messages
}

type device struct {
	id       uint16
	noisePub [32]byte
	removed  bool
	conn     *conn
	keys     *uploadedKeys
	pending  []*pendingMsg // sent by contacts, not yet receipted by the client
}

type uploadedKeys struct {
	regID    uint32
	identity [32]byte
	skeyID   uint32
	skeyPub  [32]byte
	skeySig  [64]byte
	preKeys  []oneTimeKey
}

type oneTimeKey struct {
	id  uint32
	pub [32]byte
}

type pendingMsg struct {
	id        string
	node      waBinary.Node
	from      *Contact
	plain     []byte // unpadded protobuf, kept to answer retry receipts
	typ       string
	mediaType string
	opts      SendOptions
	t         time.Time
	retries   int
}

// New starts a Server listening on addr ("127.0.0.1:0" for tests). It also
// points whatsmeow.WACertPubKey at the process-wide fake root; call it before
// any whatsmeow client of the process connects.
func New(addr string, opts Options) (*Server, error) {
	if opts.AccountPhone == "" {
		opts.AccountPhone = "6281110500567"
	}
	if opts.AccountLID == "" {
		opts.AccountLID = "100000000000001"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wafake: listen: %w", err)
	}
	s := &Server{
		opts:     opts,
		root:     processRoot(),
		static:   keys.NewKeyPair(),
		ln:       ln,
		changed:  make(chan struct{}),
		devices:  map[uint16]*device{},
		pairing:  map[[32]byte]*conn{},
		contacts: map[string]*Contact{},
		lids:     map[string]*Contact{},
		media:    map[string][]byte{},
	}
	s.faults.refused = map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws/chat", s.serveWS)
	mux.HandleFunc("/mms/", s.serveUpload)
	mux.HandleFunc("/m/", s.serveMedia)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// Addr is the host:port clients must dial (in place of web.whatsapp.com:443
// and the media hosts).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// RootKey is the public key clients must trust (whatsmeow.WACertPubKey).
func (s *Server) RootKey() [32]byte { return *s.root.Pub }

// RootKeyHex is RootKey in the form LINDUNGI_WHATSAPP_TEST_ROOT_KEY expects.
func (s *Server) RootKeyHex() string { k := s.RootKey(); return hex.EncodeToString(k[:]) }

// AccountPhone is the paired account's number as digits.
func (s *Server) AccountPhone() string { return s.opts.AccountPhone }

// Close stops the listener and drops every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, d := range s.devices {
		if d.conn != nil {
			d.conn.close()
		}
	}
	for _, c := range s.pairing {
		c.close()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	return s.http.Close()
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// notifyLocked wakes everyone waiting in WaitFor. Callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor blocks until cond is true or ctx ends; cond is re-evaluated on
// every server state change (it may call the Server's methods). Tests use it
// instead of sleeping.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) nextID() string {
	return fmt.Sprintf("%d.%d", time.Now().Unix()%100000, s.reqID.Add(1))
}

// conn is one client websocket after the Noise handshake.
type conn struct {
	srv      *Server
	ws       *websocket.Conn
	ctx      context.Context
	cancel   context.CancelFunc
	read     cipher.AEAD
	write    cipher.AEAD
	rc, wc   uint32
	wmu      sync.Mutex
	noisePub [32]byte
	dev      *device      // nil while pairing
	pairID   string       // id of the pair-success iq we sent
	code     *codePairing // phone-code pairing in progress
	closed   atomic.Bool
}

func (c *conn) close() {
	if c.closed.CompareAndSwap(false, true) {
		c.cancel()
		_ = c.ws.CloseNow()
	}
}

func (c *conn) send(n waBinary.Node) error {
	data, err := waBinary.Marshal(n)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ct := c.write.Seal(nil, ivFor(c.wc), data, nil)
	c.wc++
	return c.ws.Write(c.ctx, websocket.MessageBinary, frame(ct))
}

func frame(data []byte) []byte {
	out := make([]byte, 3+len(data))
	out[0] = byte(len(data) >> 16)
	binary.BigEndian.PutUint16(out[1:3], uint16(len(data)))
	copy(out[3:], data)
	return out
}

// frameReader splits the websocket stream into WhatsApp frames; the client
// prefixes its very first frame with the 4-byte connection header.
type frameReader struct {
	ws     *websocket.Conn
	buf    []byte
	header bool
}

func (fr *frameReader) next(ctx context.Context) ([]byte, error) {
	for {
		if !fr.header && len(fr.buf) >= 4 {
			fr.buf = fr.buf[4:]
			fr.header = true
		}
		if fr.header && len(fr.buf) >= 3 {
			n := int(fr.buf[0])<<16 | int(binary.BigEndian.Uint16(fr.buf[1:3]))
			if len(fr.buf) >= 3+n {
				f := append([]byte(nil), fr.buf[3:3+n]...)
				fr.buf = fr.buf[3+n:]
				return f, nil
			}
		}
		_, data, err := fr.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		fr.buf = append(fr.buf, data...)
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 24)
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{srv: s, ws: ws, ctx: ctx, cancel: cancel}
	defer c.close()
	fr := &frameReader{ws: ws}
	payload, err := s.handshake(ctx, c, fr)
	if err != nil {
		s.logf("handshake: %v", err)
		return
	}
	if err := s.login(c, payload); err != nil {
		s.logf("login: %v", err)
		for { // wait for the client to hang up (see login)
			if _, err := fr.next(ctx); err != nil {
				return
			}
		}
	}
	for {
		f, err := fr.next(ctx)
		if err != nil {
			break
		}
		pt, err := c.read.Open(nil, ivFor(c.rc), f, nil)
		c.rc++
		if err != nil {
			s.logf("frame decrypt: %v", err)
			break
		}
		data, err := waBinary.Unpack(pt)
		if err != nil {
			break
		}
		n, err := waBinary.Unmarshal(data)
		if err != nil {
			s.logf("bad node: %v", err)
			continue
		}
		s.handle(c, n)
	}
	s.detach(c)
}

func (s *Server) handshake(ctx context.Context, c *conn, fr *frameReader) (*waWa6.ClientPayload, error) {
	ns, err := newNoiseState([]byte{'W', 'A', 6, 3})
	if err != nil {
		return nil, err
	}
	f, err := fr.next(ctx)
	if err != nil {
		return nil, err
	}
	var hello waWa6.HandshakeMessage
	if err := proto.Unmarshal(f, &hello); err != nil {
		return nil, err
	}
	ce := hello.GetClientHello().GetEphemeral()
	if len(ce) != 32 {
		return nil, errors.New("bad client ephemeral")
	}
	clientEph := [32]byte(ce)
	ns.authenticate(ce)
	eph := keys.NewKeyPair()
	ns.authenticate(eph.Pub[:])
	if err := ns.mixDH(*eph.Priv, clientEph); err != nil {
		return nil, err
	}
	encStatic := ns.encrypt(s.static.Pub[:])
	if err := ns.mixDH(*s.static.Priv, clientEph); err != nil {
		return nil, err
	}
	chain, err := certChain(s.root, *s.static.Pub)
	if err != nil {
		return nil, err
	}
	encCert := ns.encrypt(chain)
	out, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: eph.Pub[:], Static: encStatic, Payload: encCert,
	}})
	if err != nil {
		return nil, err
	}
	if err := c.ws.Write(ctx, websocket.MessageBinary, frame(out)); err != nil {
		return nil, err
	}
	if f, err = fr.next(ctx); err != nil {
		return nil, err
	}
	var finish waWa6.HandshakeMessage
	if err := proto.Unmarshal(f, &finish); err != nil {
		return nil, err
	}
	cs, err := ns.decrypt(finish.GetClientFinish().GetStatic())
	if err != nil || len(cs) != 32 {
		return nil, fmt.Errorf("client static: %v", err)
	}
	c.noisePub = [32]byte(cs)
	if err := ns.mixDH(*eph.Priv, c.noisePub); err != nil {
		return nil, err
	}
	pl, err := ns.decrypt(finish.GetClientFinish().GetPayload())
	if err != nil {
		return nil, fmt.Errorf("client payload: %w", err)
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(pl, &payload); err != nil {
		return nil, err
	}
	if c.read, c.write, err = ns.finish(); err != nil {
		return nil, err
	}
	return &payload, nil
}

var serverJID = types.ServerJID

func (s *Server) accountJID(dev uint16) types.JID {
	return types.JID{User: s.opts.AccountPhone, Server: types.DefaultUserServer, Device: dev}
}

func (s *Server) accountLID(dev uint16) types.JID {
	return types.JID{User: s.opts.AccountLID, Server: types.HiddenUserServer, Device: dev}
}

func (s *Server) login(c *conn, p *waWa6.ClientPayload) error {
	if p.GetUsername() == 0 {
		// A new device: offer pairing refs and wait for the fake phone to scan.
		s.mu.Lock()
		s.pairing[c.noisePub] = c
		s.notifyLocked()
		s.mu.Unlock()
		refs := make([]waBinary.Node, 6)
		for i := range refs {
			refs[i] = waBinary.Node{Tag: "ref", Content: []byte(fmt.Sprintf("2@fake%d-%d", s.reqID.Add(1), i))}
		}
		return c.send(waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
			"from": serverJID, "type": "set", "id": s.nextID(), "xmlns": "md",
		}, Content: []waBinary.Node{{Tag: "pair-device", Content: refs}}})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.devices[uint16(p.GetDevice())]
	reason := s.faults.failLogin
	if d == nil || d.removed || strconv.FormatUint(p.GetUsername(), 10) != s.opts.AccountPhone || d.noisePub != c.noisePub {
		reason = 401
	}
	if reason != 0 {
		s.logins++
		s.notifyLocked()
		_ = c.send(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": strconv.Itoa(reason), "location": "fake"}})
		// Leave closing to the client: whatsmeow marks the disconnect as
		// expected while handling <failure>, and an earlier close from our
		// side would race its store wipe against its auto-reconnect.
		go func() {
			select {
			case <-c.ctx.Done():
			case <-time.After(10 * time.Second):
				c.close()
			}
		}()
		return errors.New("login refused")
	}
	if old := d.conn; old != nil {
		// Real WhatsApp tells the older connection it was replaced.
		_ = old.send(waBinary.Node{Tag: "stream:error", Content: []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": "replaced"}}}})
		// As after <failure>, the client hangs up itself once it has marked
		// the disconnect as expected; closing first would make it reconnect
		// and replace the new connection in turn.
		go func() {
			select {
			case <-old.ctx.Done():
			case <-time.After(10 * time.Second):
				old.close()
			}
		}()
	}
	c.dev = d
	d.conn = c
	s.logins++
	err := c.send(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t": strconv.FormatInt(time.Now().Unix(), 10), "lid": s.accountLID(d.id), "props": "1", "location": "fake",
	}})
	// Everything never acknowledged by a receipt is delivered again, as the
	// real server does for offline messages.
	for _, pm := range d.pending {
		_ = c.send(pm.node)
	}
	s.notifyLocked()
	return err
}

func (s *Server) detach(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.dev != nil && c.dev.conn == c {
		c.dev.conn = nil
	}
	if s.pairing[c.noisePub] == c {
		delete(s.pairing, c.noisePub)
	}
	s.notifyLocked()
}

func (s *Server) result(c *conn, req *waBinary.Node, content ...waBinary.Node) {
	n := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": serverJID, "id": req.Attrs["id"], "type": "result"}}
	if len(content) > 0 {
		n.Content = content
	}
	_ = c.send(n)
}

func (s *Server) handle(c *conn, n *waBinary.Node) {
	switch n.Tag {
	case "iq":
		s.handleIQ(c, n)
	case "message":
		s.handleClientMessage(c, n)
	case "receipt":
		s.handleReceipt(c, n)
	}
}

func (s *Server) handleIQ(c *conn, n *waBinary.Node) {
	typ, _ := n.Attrs["type"].(string)
	id, _ := n.Attrs["id"].(string)
	if typ == "result" || typ == "error" {
		s.mu.Lock()
		isPair := id != "" && id == c.pairID
		s.mu.Unlock()
		if isPair {
			s.pairConfirmed(c, n)
		}
		return
	}
	xmlns, _ := n.Attrs["xmlns"].(string)
	switch xmlns {
	case "encrypt":
		switch {
		case hasChild(n, "count"):
			s.mu.Lock()
			cnt := 0
			if c.dev != nil && c.dev.keys != nil {
				cnt = len(c.dev.keys.preKeys)
			}
			s.mu.Unlock()
			s.result(c, n, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": strconv.Itoa(cnt)}})
		case hasChild(n, "key"):
			s.result(c, n, s.bundles(n.GetChildByTag("key")))
		default:
			s.storeUpload(c, n)
			s.result(c, n)
		}
	case "usync":
		s.result(c, n, s.usync(c, n))
	case "md":
		reg := n.GetChildByTag("link_code_companion_reg")
		switch reg.Attrs["stage"] {
		case "companion_hello":
			s.companionHello(c, n)
		case "companion_finish":
			if err := s.companionFinish(c, n); err != nil {
				s.logf("code pairing: %v", err)
			}
		default:
			s.result(c, n)
		}
	case "privacy":
		s.result(c, n, waBinary.Node{Tag: "privacy", Content: []waBinary.Node{
			{Tag: "category", Attrs: waBinary.Attrs{"name": "readreceipts", "value": "all"}},
		}})
	case "w:m":
		s.result(c, n, waBinary.Node{Tag: "media_conn", Attrs: waBinary.Attrs{
			"auth": "fake-auth", "ttl": "3600", "auth_ttl": "3600", "max_buckets": "1",
		}, Content: []waBinary.Node{{Tag: "host", Attrs: waBinary.Attrs{"hostname": "mmg.whatsapp.net"}}}})
	default:
		// passive/active, keepalive pings, props, presence keys …: an empty
		// result is what the client needs to move on.
		s.result(c, n)
	}
}

func hasChild(n *waBinary.Node, tag string) bool {
	_, ok := n.GetOptionalChildByTag(tag)
	return ok
}

func bytesOf(n waBinary.Node) []byte { b, _ := n.Content.([]byte); return b }

func keyID(b []byte) uint32 {
	if len(b) != 3 {
		return 0
	}
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

func (s *Server) storeUpload(c *conn, n *waBinary.Node) {
	k := &uploadedKeys{}
	if r := bytesOf(n.GetChildByTag("registration")); len(r) == 4 {
		k.regID = binary.BigEndian.Uint32(r)
	}
	copy(k.identity[:], bytesOf(n.GetChildByTag("identity")))
	sk := n.GetChildByTag("skey")
	k.skeyID = keyID(bytesOf(sk.GetChildByTag("id")))
	copy(k.skeyPub[:], bytesOf(sk.GetChildByTag("value")))
	copy(k.skeySig[:], bytesOf(sk.GetChildByTag("signature")))
	list := n.GetChildByTag("list")
	for _, key := range list.GetChildren() {
		var otk oneTimeKey
		otk.id = keyID(bytesOf(key.GetChildByTag("id")))
		copy(otk.pub[:], bytesOf(key.GetChildByTag("value")))
		k.preKeys = append(k.preKeys, otk)
	}
	s.mu.Lock()
	if c.dev != nil {
		c.dev.keys = k
	}
	s.notifyLocked()
	s.mu.Unlock()
}

// usync answers device-list queries: contacts have one device (their
// phone, 0); refused contacts and unknown numbers have none.
func (s *Server) usync(c *conn, n *waBinary.Node) waBinary.Node {
	var users []waBinary.Node
	list := n.GetChildByTag("usync", "list")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range list.GetChildren() {
		jid, ok := u.Attrs["jid"].(types.JID)
		if !ok {
			continue
		}
		var devs []waBinary.Node
		switch {
		case jid.User == s.opts.AccountPhone || jid.User == s.opts.AccountLID:
			// No other devices of the account: the client then never has to
			// encrypt copies for a fake primary phone.
		case s.contactByJIDLocked(jid) != nil && !s.faults.refused[s.contactByJIDLocked(jid).Phone]:
			devs = append(devs, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{"id": "0"}})
		}
		user := waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}}
		if len(devs) > 0 {
			user.Content = []waBinary.Node{{Tag: "devices", Content: []waBinary.Node{{Tag: "device-list", Content: devs}}}}
		}
		users = append(users, user)
	}
	return waBinary.Node{Tag: "usync", Content: []waBinary.Node{{Tag: "list", Content: users}}}
}

func (s *Server) contactByJIDLocked(j types.JID) *Contact {
	if j.Server == types.HiddenUserServer {
		return s.lids[j.User]
	}
	return s.contacts[j.User]
}

func (s *Server) bundles(key waBinary.Node) waBinary.Node {
	var users []waBinary.Node
	for _, u := range key.GetChildren() {
		jid, ok := u.Attrs["jid"].(types.JID)
		if !ok {
			continue
		}
		s.mu.Lock()
		ct := s.contactByJIDLocked(jid)
		s.mu.Unlock()
		if ct == nil {
			users = append(users, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid},
				Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": "404", "text": "item-not-found"}}}})
			continue
		}
		users = append(users, ct.bundleNode(jid))
	}
	return waBinary.Node{Tag: "list", Content: users}
}

func (s *Server) handleReceipt(c *conn, n *waBinary.Node) {
	id, _ := n.Attrs["id"].(string)
	typ, _ := n.Attrs["type"].(string)
	ids := []string{id}
	if list, ok := n.GetOptionalChildByTag("list"); ok {
		for _, it := range list.GetChildren() {
			if v, ok := it.Attrs["id"].(string); ok {
				ids = append(ids, v)
			}
		}
	}
	if typ == "retry" {
		s.retryPending(c, id)
		_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "receipt", "id": id, "type": typ, "from": n.Attrs["to"]}})
		return
	}
	s.mu.Lock()
	if c.dev != nil {
		for _, rid := range ids {
			for i, pm := range c.dev.pending {
				if pm.id == rid {
					c.dev.pending = append(c.dev.pending[:i], c.dev.pending[i+1:]...)
					pm.from.markDelivered(rid)
					break
				}
			}
			if typ == "read" {
				for _, ct := range s.contacts {
					ct.markRead(rid)
				}
			}
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	attrs := waBinary.Attrs{"class": "receipt", "id": id, "from": n.Attrs["to"]}
	if typ != "" {
		attrs["type"] = typ
	}
	_ = c.send(waBinary.Node{Tag: "ack", Attrs: attrs})
}

// handleClientMessage decrypts what the client sent to fake contacts, keeps
// it in the transcript and acknowledges it (unless acks are withheld).
func (s *Server) handleClientMessage(c *conn, n *waBinary.Node) {
	id, _ := n.Attrs["id"].(string)
	to, _ := n.Attrs["to"].(types.JID)
	if c.dev == nil {
		return
	}
	s.mu.Lock()
	ct := s.contactByJIDLocked(to)
	withhold := s.faults.withholdAcks
	s.mu.Unlock()
	if ct != nil {
		parts := n.GetChildByTag("participants")
		for _, p := range parts.GetChildren() {
			pj, _ := p.Attrs["jid"].(types.JID)
			if pj.User != ct.Phone && pj.User != ct.LID {
				continue
			}
			rec, err := ct.decrypt(s, c.dev.id, id, p.GetChildByTag("enc"))
			if err != nil {
				s.logf("contact decrypt %s: %v", id, err)
				rec = Received{ID: id, To: ct.Phone, Err: err.Error()}
			}
			rec.Acked = !withhold
			rec.At = time.Now()
			s.mu.Lock()
			s.received = append(s.received, rec)
			s.notifyLocked()
			s.mu.Unlock()
		}
	}
	if withhold {
		return
	}
	_ = c.send(waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{
		"class": "message", "id": id, "from": to, "t": strconv.FormatInt(time.Now().Unix(), 10),
	}})
}

// retryPending re-sends a message the client could not decrypt.
func (s *Server) retryPending(c *conn, id string) {
	s.mu.Lock()
	d := c.dev
	var pm *pendingMsg
	if d != nil {
		for _, p := range d.pending {
			if p.id == id {
				pm = p
			}
		}
	}
	s.mu.Unlock()
	if pm == nil || pm.retries >= 3 {
		return
	}
	node, err := pm.from.retry(d, pm)
	if err != nil {
		s.logf("retry %s: %v", id, err)
		return
	}
	_ = c.send(node)
}
