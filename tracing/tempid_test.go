package tracing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

func testRing(t testing.TB, ids ...byte) *KeyRing {
	t.Helper()
	k := NewKeyRing()
	for i, id := range ids {
		key := make([]byte, 32)
		rand.Read(key)
		if err := k.Add(id, key, i == len(ids)-1); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func TestTempIDRoundTrip(t *testing.T) {
	k := testRing(t, 1, 2)
	u := NewUserID()
	now := time.Unix(1_780_000_000, 0)
	ids, refresh, err := k.Issue(u, now, IssueParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 100 || !refresh.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("batch %d, refresh %v", len(ids), refresh)
	}
	if ids[0].StartTime != now.Unix()-60 || ids[0].ExpiryTime-ids[0].StartTime != 900 || ids[99].ExpiryTime != now.Unix()-60+100*900 {
		t.Errorf("times: first %d–%d last %d", ids[0].StartTime, ids[0].ExpiryTime, ids[99].ExpiryTime)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i].StartTime != ids[i-1].ExpiryTime {
			t.Fatalf("gap between IDs %d and %d", i-1, i)
		}
	}
	if len(ids[0].TempID) != TempIDWireLen || TempIDWireLen != 84 {
		t.Errorf("wire length %d (const %d)", len(ids[0].TempID), TempIDWireLen)
	}
	raw, _ := base64.StdEncoding.DecodeString(ids[0].TempID)
	if raw[0] != 2 {
		t.Errorf("key ID byte %d, want current key 2", raw[0])
	}
	p, err := k.Decrypt(ids[5].TempID)
	if err != nil || p.UserID != u || int64(p.Start) != ids[5].StartTime || int64(p.Expiry) != ids[5].ExpiryTime || p.KeyID != 2 {
		t.Fatalf("decrypt: %+v %v", p, err)
	}
	// IDs from the older key still open (rotation).
	k2 := testRing(t, 1)
	old, _, _ := k2.Issue(u, now, IssueParams{Count: 1})
	if _, err := k.Decrypt(old[0].TempID); ReasonOf(err) != ReasonFailedDecryption {
		t.Errorf("same key ID, different key: %v", err)
	}

	vp := ValidateParams{Grace: 2 * time.Minute, Retention: 14 * 24 * time.Hour}
	other := NewUserID()
	ts := ids[3].StartTime + 10
	at := time.Unix(ts+3600, 0)
	if _, err := k.Validate(ids[3].TempID, ts, other, at, vp); err != nil {
		t.Errorf("valid record: %v", err)
	}
	cases := map[string]struct {
		msg  string
		ts   int64
		up   UserID
		now  time.Time
		want string
	}{
		"empty":        {"", ts, other, at, ReasonNoMsg},
		"garbage":      {"not base64 at all", ts, other, at, ReasonFailedDecryption},
		"outside":      {ids[3].TempID, ids[3].ExpiryTime + 600, other, at, ReasonExpiredID},
		"future":       {ids[3].TempID, ts, other, time.Unix(ts-3600, 0), ReasonExpiredID},
		"self":         {ids[3].TempID, ts, u, at, ReasonSelfEncounter},
		"too old":      {ids[3].TempID, ts, other, at.Add(15 * 24 * time.Hour), ReasonTooOld},
		"unknown key":  {tamper(ids[3].TempID, 0, 9), ts, other, at, ReasonUnknownKey},
		"swapped key":  {tamper(ids[3].TempID, 0, 1), ts, other, at, ReasonFailedDecryption},
		"flipped ct":   {tamper(ids[3].TempID, 5, 0x55), ts, other, at, ReasonFailedDecryption},
		"flipped tag":  {tamper(ids[3].TempID, 61, 0x01), ts, other, at, ReasonFailedDecryption},
		"OpenTrace-ID": {base64.StdEncoding.EncodeToString(make([]byte, 61)), ts, other, at, ReasonFailedDecryption},
	}
	for name, c := range cases {
		if _, err := k.Validate(c.msg, c.ts, c.up, c.now, vp); ReasonOf(err) != c.want {
			t.Errorf("%s: got %v, want %s", name, err, c.want)
		}
	}
}

// tamper sets (i == 0) or XORs byte i of the raw TempID.
func tamper(msg string, i int, v byte) string {
	raw, _ := base64.StdEncoding.DecodeString(msg)
	if i == 0 {
		raw[0] = v
	} else {
		raw[i] ^= v
	}
	return base64.StdEncoding.EncodeToString(raw)
}

func TestDecodeWire(t *testing.T) {
	for i := 0; i < 200; i++ {
		var raw [tempIDRawLen]byte
		rand.Read(raw[:])
		enc := base64.StdEncoding.EncodeToString(raw[:])
		var got [tempIDRawLen]byte
		if !decodeWire(enc, &got) || got != raw {
			t.Fatalf("round trip %q", enc)
		}
		bad := []byte(enc)
		bad[mrand.Int64N(TempIDWireLen-1)] = '*'
		if decodeWire(string(bad), &got) {
			t.Fatalf("accepted %q", bad)
		}
	}
	var got [tempIDRawLen]byte
	if decodeWire(strings.Repeat("A", TempIDWireLen), &got) {
		t.Error("accepted unpadded")
	}
}

func TestDecryptAllocs(t *testing.T) {
	k := testRing(t, 7)
	ids, _, _ := k.Issue(NewUserID(), time.Now(), IssueParams{Count: 1})
	n := testing.AllocsPerRun(100, func() { k.Decrypt(ids[0].TempID) })
	if n > 0 {
		t.Errorf("Decrypt allocates %v times", n)
	}
}

// BenchmarkValidate compares decrypt-and-validate (base64, key lookup, GCM
// open, parse, time and self checks) with bare AES-256-GCM opens of the same
// 45 bytes, per core, and reports the ratio (target ≥ 0.5).
func BenchmarkValidate(b *testing.B) {
	k := testRing(b, 3)
	u := NewUserID()
	now := time.Now()
	ids, _, _ := k.Issue(u, now, IssueParams{})
	other := NewUserID()
	vp := ValidateParams{Grace: 2 * time.Minute, Retention: 14 * 24 * time.Hour}
	later := time.Unix(ids[len(ids)-1].ExpiryTime+60, 0)

	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCMWithNonceSize(block, 16)
	iv := make([]byte, 16)
	ct := aead.Seal(nil, iv, make([]byte, plainLen), nil)
	dst := make([]byte, 0, plainLen)

	// The two are timed in alternating chunks so a noisy neighbour on a
	// shared machine slows both alike and the ratio stays meaningful.
	const chunk = 1000
	var tRaw, tVal time.Duration
	var n int
	v := k.Validator(other, later, vp)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		for j := 0; j < chunk; j++ {
			if _, err := aead.Open(dst, iv, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for j := 0; j < chunk; j++ {
			id := ids[j%len(ids)]
			if _, err := v.Check(id.TempID, id.StartTime+1); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		tRaw += t1.Sub(t0)
		tVal += t2.Sub(t1)
		n += chunk
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/tVal.Seconds(), "records/s")
	b.ReportMetric(float64(n)/tRaw.Seconds(), "raw-opens/s")
	b.ReportMetric(tRaw.Seconds()/tVal.Seconds(), "ratio")
}

func BenchmarkDecodeWire(b *testing.B) {
	var raw [tempIDRawLen]byte
	rand.Read(raw[:])
	enc := base64.StdEncoding.EncodeToString(raw[:])
	var got [tempIDRawLen]byte
	for b.Loop() {
		decodeWire(enc, &got)
	}
}

// FuzzDecrypt: arbitrary strings never panic and never decrypt.
func FuzzDecrypt(f *testing.F) {
	k := testRing(f, 1)
	ids, _, _ := k.Issue(NewUserID(), time.Now(), IssueParams{Count: 2})
	f.Add(ids[0].TempID)
	f.Add("")
	f.Add(strings.Repeat("A", TempIDWireLen-1) + "=")
	f.Fuzz(func(t *testing.T, msg string) {
		p, err := k.Decrypt(msg)
		if err == nil && msg != ids[0].TempID && msg != ids[1].TempID {
			t.Fatalf("forged %q decrypted to %+v", msg, p)
		}
	})
}
