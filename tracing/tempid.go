package tracing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// TempID layout (BlueTrace): the plaintext is userID(21) ‖ start(uint32 BE) ‖
// expiry(uint32 BE); AES-256-GCM with a 16-byte IV; the wire value is
// base64(keyID(1) ‖ ciphertext(29) ‖ IV(16) ‖ tag(16)) = 84 characters.
// OpenTrace's value is the same without the leading key ID byte: a key ID
// lets the server pick the one key to try instead of every enabled key. It
// needs no binding as additional data: under another key the tag fails.
const (
	UserIDLen     = 21
	plainLen      = UserIDLen + 8
	ivLen         = 16
	tagLen        = 16
	tempIDRawLen  = 1 + plainLen + ivLen + tagLen
	TempIDWireLen = (tempIDRawLen + 2) / 3 * 4
)

// UserID is a device's random, stable pseudonym; it is never the phone number.
type UserID [UserIDLen]byte

// NewUserID draws a random user ID.
func NewUserID() UserID {
	var u UserID
	if _, err := rand.Read(u[:]); err != nil {
		panic("tracing: no randomness: " + err.Error())
	}
	return u
}

// TempID is one issued ID as the app receives it.
type TempID struct {
	TempID     string `json:"tempID"`
	StartTime  int64  `json:"startTime"`
	ExpiryTime int64  `json:"expiryTime"`
}

// Reasons a record is rejected. They are stable strings: they appear in
// upload results, metrics and the audit log.
const (
	ReasonNoMsg            = "no_msg"
	ReasonFailedDecryption = "failed_decryption"
	ReasonUnknownKey       = "unknown_key"
	ReasonExpiredID        = "expired_id"
	ReasonSelfEncounter    = "self_encounter"
	ReasonTooOld           = "too_old"
	ReasonBadRecord        = "bad_record"
	ReasonUnknownContact   = "unknown_contact"
	ReasonBeforeInfectious = "before_infectious"
)

// Payload is a decrypted TempID.
type Payload struct {
	UserID UserID
	Start  uint32 // Unix seconds
	Expiry uint32
	KeyID  byte
}

// ErrRecord carries a rejection reason.
type ErrRecord struct{ Reason string }

func (e *ErrRecord) Error() string { return "tracing: record rejected: " + e.Reason }

var (
	errNoMsg            = &ErrRecord{ReasonNoMsg}
	errFailedDecryption = &ErrRecord{ReasonFailedDecryption}
	errUnknownKey       = &ErrRecord{ReasonUnknownKey}
	errExpiredID        = &ErrRecord{ReasonExpiredID}
	errSelf             = &ErrRecord{ReasonSelfEncounter}
	errTooOld           = &ErrRecord{ReasonTooOld}
)

// ReasonOf returns the rejection reason in err, or "" if it is not one.
func ReasonOf(err error) string {
	var e *ErrRecord
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// KeyRing holds the TempID keys in memory: one current key that issues, and
// retired keys that still decrypt. It is safe for concurrent use.
//
// Decrypt runs on every uploaded record, so readers take no lock: the key
// table is an immutable snapshot swapped atomically by the rare writers.
type KeyRing struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[keySnapshot]
}

type keySnapshot struct {
	keys    [256]cipher.AEAD // by key ID; nil: unknown
	current int              // -1: none
}

// NewKeyRing returns an empty ring.
func NewKeyRing() *KeyRing {
	k := &KeyRing{}
	k.snap.Store(&keySnapshot{current: -1})
	return k
}

func (k *KeyRing) update(f func(s *keySnapshot)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := *k.snap.Load()
	f(&n)
	k.snap.Store(&n)
}

// Add installs a 32-byte key under id; current makes it the issuing key.
func (k *KeyRing) Add(id byte, key []byte, current bool) error {
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	k.update(func(s *keySnapshot) {
		s.keys[id] = aead
		if current {
			s.current = int(id)
		}
	})
	return nil
}

// Remove forgets a key.
func (k *KeyRing) Remove(id byte) {
	k.update(func(s *keySnapshot) {
		s.keys[id] = nil
		if s.current == int(id) {
			s.current = -1
		}
	})
}

// Current returns the issuing key's ID.
func (k *KeyRing) Current() (byte, bool) {
	s := k.snap.Load()
	return byte(s.current), s.current >= 0
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("tracing: TempID key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithNonceSize(block, ivLen)
}

// IssueParams shape a batch (BlueTrace: 100 IDs of 15 minutes, the first
// valid 60 s early, the app asks again after 12 h).
type IssueParams struct {
	Count      int
	Lifetime   time.Duration
	EarlyStart time.Duration
	Refresh    time.Duration
}

func (p IssueParams) withDefaults() IssueParams {
	if p.Count <= 0 {
		p.Count = 100
	}
	if p.Lifetime <= 0 {
		p.Lifetime = 15 * time.Minute
	}
	if p.EarlyStart == 0 {
		p.EarlyStart = time.Minute
	}
	if p.Refresh <= 0 {
		p.Refresh = 12 * time.Hour
	}
	return p
}

// Span is how long after issuing the last ID of a batch stays valid.
func (p IssueParams) Span() time.Duration {
	p = p.withDefaults()
	return time.Duration(p.Count)*p.Lifetime - p.EarlyStart
}

// Issue makes a batch for user starting at now with the current key, and
// the time the app should ask for the next batch.
func (k *KeyRing) Issue(user UserID, now time.Time, p IssueParams) ([]TempID, time.Time, error) {
	p = p.withDefaults()
	snap := k.snap.Load()
	cur := snap.current
	var aead cipher.AEAD
	if cur >= 0 {
		aead = snap.keys[cur]
	}
	if aead == nil {
		return nil, time.Time{}, fmt.Errorf("tracing: no current TempID key")
	}
	out := make([]TempID, p.Count)
	start := now.Add(-p.EarlyStart).Unix()
	life := int64(p.Lifetime / time.Second)
	for i := range out {
		s := start + int64(i)*life
		e := s + life
		out[i] = TempID{TempID: seal(aead, byte(cur), user, uint32(s), uint32(e)), StartTime: s, ExpiryTime: e}
	}
	return out, now.Add(p.Refresh), nil
}

func seal(aead cipher.AEAD, id byte, user UserID, start, expiry uint32) string {
	var plain [plainLen]byte
	copy(plain[:], user[:])
	binary.BigEndian.PutUint32(plain[UserIDLen:], start)
	binary.BigEndian.PutUint32(plain[UserIDLen+4:], expiry)
	var iv [ivLen]byte
	if _, err := rand.Read(iv[:]); err != nil {
		panic("tracing: no randomness: " + err.Error())
	}
	var raw [tempIDRawLen]byte
	raw[0] = id
	// Seal writes ciphertext ‖ tag; move the tag behind the IV.
	var sealed [plainLen + tagLen]byte
	aead.Seal(sealed[:0], iv[:], plain[:], nil)
	copy(raw[1:], sealed[:plainLen])
	copy(raw[1+plainLen:], iv[:])
	copy(raw[1+plainLen+ivLen:], sealed[plainLen:])
	return base64.StdEncoding.EncodeToString(raw[:])
}

// scratch buffers for Decrypt: slices handed to the cipher.AEAD interface
// escape, so stack arrays would be heap-allocated on every call.
type scratch struct {
	raw   [tempIDRawLen]byte
	ct    [plainLen + tagLen]byte
	plain [plainLen]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Decrypt opens a wire TempID. It allocates nothing on success.
func (k *KeyRing) Decrypt(msg string) (Payload, error) {
	var p Payload
	if msg == "" {
		return p, errNoMsg
	}
	if len(msg) != TempIDWireLen {
		return p, errFailedDecryption
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	return decrypt(msg, sc, k.snap.Load())
}

func decrypt(msg string, sc *scratch, snap *keySnapshot) (Payload, error) {
	var p Payload
	if msg == "" {
		return p, errNoMsg
	}
	if !decodeWire(msg, &sc.raw) {
		return p, errFailedDecryption
	}
	raw := sc.raw[:]
	id := raw[0]
	aead := snap.keys[id]
	if aead == nil {
		return p, errUnknownKey
	}
	copy(sc.ct[:], raw[1:1+plainLen])
	copy(sc.ct[plainLen:], raw[1+plainLen+ivLen:tempIDRawLen])
	plain := sc.plain[:]
	if _, err := aead.Open(plain[:0], raw[1+plainLen:1+plainLen+ivLen], sc.ct[:], nil); err != nil {
		return p, errFailedDecryption
	}
	copy(p.UserID[:], plain[:UserIDLen])
	p.Start = binary.BigEndian.Uint32(plain[UserIDLen:])
	p.Expiry = binary.BigEndian.Uint32(plain[UserIDLen+4:])
	p.KeyID = id
	return p, nil
}

// ValidateParams bound what an encounter record may claim.
type ValidateParams struct {
	// Grace widens [start, expiry] for clock skew between phones.
	Grace time.Duration
	// Retention: records older than this (phones keep 14 days) are refused.
	Retention time.Duration
}

// Validate decrypts msg and checks it against the record's timestamp (Unix
// seconds), the uploader's own user ID and the retention horizon.
func (k *KeyRing) Validate(msg string, ts int64, uploader UserID, now time.Time, vp ValidateParams) (Payload, error) {
	return k.Validator(uploader, now, vp).Check(msg, ts)
}

// Validator checks one upload's records: it holds the key snapshot taken
// when the upload started and its own scratch space. Not for concurrent use.
type Validator struct {
	snap          *keySnapshot
	sc            scratch
	uploader      UserID
	grace, oldest int64
	latest        int64
}

// Validator starts checking records uploaded by uploader at now.
func (k *KeyRing) Validator(uploader UserID, now time.Time, vp ValidateParams) *Validator {
	v := &Validator{snap: k.snap.Load(), uploader: uploader, grace: int64(vp.Grace / time.Second), oldest: math.MinInt64}
	if vp.Retention > 0 {
		v.oldest = now.Add(-vp.Retention).Unix()
	}
	v.latest = now.Unix() + v.grace
	return v
}

// Check decrypts one record's TempID and validates its timestamp.
func (v *Validator) Check(msg string, ts int64) (Payload, error) {
	p, err := decrypt(msg, &v.sc, v.snap)
	if err != nil {
		return p, err
	}
	if ts < int64(p.Start)-v.grace || ts > int64(p.Expiry)+v.grace || ts > v.latest {
		return p, errExpiredID
	}
	if ts < v.oldest {
		return p, errTooOld
	}
	if p.UserID == v.uploader {
		return p, errSelf
	}
	return p, nil
}

// b64 maps a standard-alphabet base64 character to its 6 bits, 0xFF if not
// in the alphabet.
var b64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeWire decodes exactly TempIDWireLen standard base64 characters (62
// bytes: 20 full quanta and one padded "xxx=") into dst. encoding/base64 is
// general and costs as much as the AES-GCM open itself; this is the one
// shape we issue, so the one shape we accept (non-canonical trailing bits
// are refused).
func decodeWire(s string, dst *[tempIDRawLen]byte) bool {
	if len(s) != TempIDWireLen || s[TempIDWireLen-1] != '=' {
		return false
	}
	_ = s[TempIDWireLen-1]
	var bad byte
	var c0, c1, c2, c3 byte
	// Unrolled with constant offsets (generated): no bounds checks, no loop.
	c0, c1, c2, c3 = b64[s[0]], b64[s[1]], b64[s[2]], b64[s[3]]
	bad |= c0 | c1 | c2 | c3
	dst[0], dst[1], dst[2] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[4]], b64[s[5]], b64[s[6]], b64[s[7]]
	bad |= c0 | c1 | c2 | c3
	dst[3], dst[4], dst[5] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[8]], b64[s[9]], b64[s[10]], b64[s[11]]
	bad |= c0 | c1 | c2 | c3
	dst[6], dst[7], dst[8] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[12]], b64[s[13]], b64[s[14]], b64[s[15]]
	bad |= c0 | c1 | c2 | c3
	dst[9], dst[10], dst[11] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[16]], b64[s[17]], b64[s[18]], b64[s[19]]
	bad |= c0 | c1 | c2 | c3
	dst[12], dst[13], dst[14] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[20]], b64[s[21]], b64[s[22]], b64[s[23]]
	bad |= c0 | c1 | c2 | c3
	dst[15], dst[16], dst[17] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[24]], b64[s[25]], b64[s[26]], b64[s[27]]
	bad |= c0 | c1 | c2 | c3
	dst[18], dst[19], dst[20] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[28]], b64[s[29]], b64[s[30]], b64[s[31]]
	bad |= c0 | c1 | c2 | c3
	dst[21], dst[22], dst[23] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[32]], b64[s[33]], b64[s[34]], b64[s[35]]
	bad |= c0 | c1 | c2 | c3
	dst[24], dst[25], dst[26] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[36]], b64[s[37]], b64[s[38]], b64[s[39]]
	bad |= c0 | c1 | c2 | c3
	dst[27], dst[28], dst[29] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[40]], b64[s[41]], b64[s[42]], b64[s[43]]
	bad |= c0 | c1 | c2 | c3
	dst[30], dst[31], dst[32] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[44]], b64[s[45]], b64[s[46]], b64[s[47]]
	bad |= c0 | c1 | c2 | c3
	dst[33], dst[34], dst[35] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[48]], b64[s[49]], b64[s[50]], b64[s[51]]
	bad |= c0 | c1 | c2 | c3
	dst[36], dst[37], dst[38] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[52]], b64[s[53]], b64[s[54]], b64[s[55]]
	bad |= c0 | c1 | c2 | c3
	dst[39], dst[40], dst[41] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[56]], b64[s[57]], b64[s[58]], b64[s[59]]
	bad |= c0 | c1 | c2 | c3
	dst[42], dst[43], dst[44] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[60]], b64[s[61]], b64[s[62]], b64[s[63]]
	bad |= c0 | c1 | c2 | c3
	dst[45], dst[46], dst[47] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[64]], b64[s[65]], b64[s[66]], b64[s[67]]
	bad |= c0 | c1 | c2 | c3
	dst[48], dst[49], dst[50] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[68]], b64[s[69]], b64[s[70]], b64[s[71]]
	bad |= c0 | c1 | c2 | c3
	dst[51], dst[52], dst[53] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[72]], b64[s[73]], b64[s[74]], b64[s[75]]
	bad |= c0 | c1 | c2 | c3
	dst[54], dst[55], dst[56] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2, c3 = b64[s[76]], b64[s[77]], b64[s[78]], b64[s[79]]
	bad |= c0 | c1 | c2 | c3
	dst[57], dst[58], dst[59] = c0<<2|c1>>4, c1<<4|c2>>2, c2<<6|c3
	c0, c1, c2 = b64[s[80]], b64[s[81]], b64[s[82]]
	bad |= c0 | c1 | c2
	dst[60], dst[61] = c0<<2|c1>>4, c1<<4|c2>>2
	return bad&0xC0 == 0 && c2&0x03 == 0
}

// replace swaps in another ring's keys (after a reload from the database).
func (k *KeyRing) replace(o *KeyRing) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.snap.Store(o.snap.Load())
}
