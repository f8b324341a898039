// Package tracing is Sijejak's server side (BlueTrace-shaped): TempID keys
// and issuance, device registration over WhatsApp, consent and upload
// authorisation, upload validation, exposure matching and the WhatsApp
// prompts to contacts, and the purge of all of it. The scoring of readings
// lives in tracing/score.
package tracing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"lindungi/audit"
	"lindungi/channels"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tickets"
	"lindungi/tracing/score"
)

// Sender is the durable outbox as tracing needs it (channels.Outbox).
type Sender interface {
	Enqueue(ctx context.Context, tx *store.Tx, m channels.Outbound) (string, error)
}

// Coded errors the HTTP layer and the bot map to answers.
var (
	ErrBadPhone        = coded.New(coded.Invalid, "bad_phone", "Nomor ponsel tidak valid / invalid phone number")
	ErrTooMany         = coded.New(coded.TooMany, "rate_limited", "Terlalu banyak permintaan, coba lagi nanti / too many requests, try again later")
	ErrBadCode         = coded.New(coded.Unauthorized, "invalid_code", "Kode salah atau kedaluwarsa / wrong or expired code")
	ErrNotConfirmed    = coded.New(coded.Conflict, "not_confirmed", "Pesan SIJEJAK belum kami terima dari nomor ini / the SIJEJAK message has not arrived from this number yet")
	ErrBadToken        = coded.New(coded.Unauthorized, "invalid_token", "Perangkat tidak dikenal / unknown device")
	ErrNotRegistered   = coded.New(coded.NotFound, "not_registered", "Nomor ini tidak terdaftar di Sijejak / this number is not registered for Sijejak")
	ErrNoDate          = coded.New(coded.Invalid, "no_date", "Tanggal gejala atau pengambilan spesimen wajib diisi / onset or specimen date required")
	ErrNoConsent       = coded.New(coded.NotFound, "no_pending_consent", "Tidak ada permintaan persetujuan yang menunggu / no consent request is waiting")
	ErrNotAuthorised   = coded.New(coded.Forbidden, "upload_not_authorised", "Unggahan belum disetujui atau sudah lewat waktu / upload not consented or window closed")
	ErrTooManyRecords  = coded.New(coded.TooLarge, "too_many_records", "Terlalu banyak catatan / too many records")
	ErrUploadTooLarge  = coded.New(coded.TooLarge, "upload_too_large", "Unggahan terlalu besar / upload too large")
	ErrBadUpload       = coded.New(coded.Invalid, "bad_upload", "Format unggahan tidak valid / malformed upload")
	ErrTooManyAttempts = coded.New(coded.TooMany, "too_many_attempts", "Terlalu banyak percobaan, minta kode baru / too many attempts, request a new code")
)

// Device is an authenticated phone.
type Device struct {
	ID     int64
	UserID UserID
}

// Service is Sijejak's server side over one database.
type Service struct {
	db     *store.DB
	sealer *store.Sealer
	sender Sender
	cfg    Config
	log    *slog.Logger
	scorer *score.Scorer

	m *metrics
	// crashBeforeMatch lets tests stop Upload between storing and matching.
	crashBeforeMatch bool

	keys       *KeyRing
	keysMu     sync.Mutex
	keysLoaded time.Time

	// audited: devices whose upload refusal this hour is in the audit log;
	// limits: devices over their upload limit this hour (refusals.go).
	audited, limits hourMarks
}

// NewService opens the service; on first start it creates the first TempID
// key (sealed in the database).
func NewService(ctx context.Context, db *store.DB, sealer *store.Sealer, sender Sender, cfg Config, log *slog.Logger) (*Service, error) {
	if db == nil || sealer == nil || sender == nil {
		return nil, fmt.Errorf("tracing: database, sealer and sender are required")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	s := &Service{db: db, sealer: sealer, sender: sender, cfg: cfg, log: log, scorer: score.New(cfg.Score), keys: NewKeyRing(), m: newMetrics()}
	if err := s.ensureKey(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// ---- keys ----

func (s *Service) ensureKey(ctx context.Context) error {
	if err := s.loadKeys(ctx); err != nil {
		return err
	}
	if _, ok := s.keys.Current(); ok {
		return nil
	}
	return s.RotateKeys(ctx, s.now())
}

// loadKeys replaces the ring with what the database holds, so replicas see
// each other's rotations.
func (s *Service) loadKeys(ctx context.Context) error {
	rows, err := s.db.Query(ctx, `SELECT id, key_sealed, retired_at FROM tracing_keys ORDER BY created_at`)
	if err != nil {
		return fmt.Errorf("tracing: load keys: %w", err)
	}
	defer rows.Close()
	ring := NewKeyRing()
	for rows.Next() {
		var id int
		var sealed []byte
		var retired sql.NullTime
		if err := rows.Scan(&id, &sealed, &retired); err != nil {
			return fmt.Errorf("tracing: load keys: %w", err)
		}
		key, err := s.sealer.Open(sealed)
		if err != nil {
			return fmt.Errorf("tracing: TempID key %d: %w", id, err)
		}
		if err := ring.Add(byte(id), key, !retired.Valid); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.keysMu.Lock()
	s.keys.replace(ring)
	s.keysLoaded = time.Now()
	s.keysMu.Unlock()
	return nil
}

// refreshKeys reloads the ring when it may be stale (another replica
// rotated); cheap enough to call per request.
func (s *Service) refreshKeys(ctx context.Context, force bool) error {
	s.keysMu.Lock()
	stale := force || time.Since(s.keysLoaded) > time.Minute
	s.keysMu.Unlock()
	if !stale {
		return nil
	}
	return s.loadKeys(ctx)
}

// RotateKeys is the rotate-tempid-keys job: it makes a new issuing key when
// the current one is older than KeyRotation (or none exists), retires the
// old one, and deletes keys no uploadable ID can have been made with. Safe
// to run on every replica and as often as wanted.
func (s *Service) RotateKeys(ctx context.Context, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7461627)`); err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `DELETE FROM tracing_keys WHERE purge_after IS NOT NULL AND purge_after <= ?`, now)
		if err != nil {
			return fmt.Errorf("tracing: delete keys: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := audit.Record(ctx, tx, "system:tracing", "tempid_keys_deleted", "tracing_key", "", fmt.Sprintf("%d keys", n)); err != nil {
				return err
			}
		}
		used := map[int]bool{}
		var curID int
		var curCreated time.Time
		rows, err := tx.Query(ctx, `SELECT id, created_at, retired_at FROM tracing_keys`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int
			var created time.Time
			var retired sql.NullTime
			if err := rows.Scan(&id, &created, &retired); err != nil {
				rows.Close()
				return err
			}
			used[id] = true
			if !retired.Valid && (curID == 0 || created.After(curCreated)) {
				curID, curCreated = id, created
			}
		}
		rows.Close()
		if curID != 0 && now.Sub(curCreated) < s.cfg.KeyRotation {
			return nil
		}
		next := 0
		for i := 0; i < 255; i++ {
			id := (curID+i)%255 + 1
			if !used[id] {
				next = id
				break
			}
		}
		if next == 0 {
			return fmt.Errorf("tracing: all 255 TempID key IDs in use; lower tracing key retention or raise rotation interval")
		}
		// IDs made with the old key live at most one batch span past its
		// retirement, and can be uploaded for RecordRetention after that.
		keep := s.cfg.Issue.Span() + s.cfg.RecordRetention + s.cfg.Grace
		if keep > s.cfg.KeyRetention {
			keep = s.cfg.KeyRetention
		}
		if curID != 0 {
			if _, err := tx.Exec(ctx, `UPDATE tracing_keys SET retired_at = ?, purge_after = ? WHERE retired_at IS NULL`, now, now.Add(keep)); err != nil {
				return err
			}
		}
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tracing_keys (id, key_sealed, created_at) VALUES (?, ?, ?)`, next, s.sealer.Seal(key), now); err != nil {
			return fmt.Errorf("tracing: insert key: %w", err)
		}
		return audit.Record(ctx, tx, "system:tracing", "tempid_key_rotated", "tracing_key", fmt.Sprint(next), "")
	})
	if err != nil {
		return err
	}
	return s.loadKeys(ctx)
}

// ---- phones, codes, rate limits ----

var phoneRE = regexp.MustCompile(`^\+628[1-35-9][0-9]{7,10}$`)

// NormalisePhone turns the ways Indonesians write a mobile number
// (0812…, 62812…, +62 812-…) into E.164 (+62812…).
func NormalisePhone(p string) (string, error) {
	var b strings.Builder
	for _, r := range p {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && b.Len() == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", ErrBadPhone
		}
	}
	s := b.String()
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(s, "62"):
		s = "+" + s
	case strings.HasPrefix(s, "0"):
		s = "+62" + s[1:]
	}
	if !phoneRE.MatchString(s) {
		return "", ErrBadPhone
	}
	return s, nil
}

func (s *Service) phoneIndex(phone string) string { return s.sealer.Index("tracing/phone:" + phone) }

func (s *Service) secretHash(kind, phoneIndex, secret string) string {
	return s.sealer.Index("tracing/" + kind + ":" + phoneIndex + ":" + secret)
}

// allow counts one event in a fixed one-hour window and reports whether it
// is within limit. It commits on its own so refused attempts still count.
func (s *Service) allow(ctx context.Context, bucket string, limit int, now time.Time) (bool, error) {
	ws := now.Truncate(time.Hour)
	var n int
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO tracing_rate_limits (bucket, window_start, count, purge_after) VALUES (?, ?, 1, ?)
			ON CONFLICT (bucket, window_start) DO UPDATE SET count = tracing_rate_limits.count + 1 RETURNING count`,
			bucket, ws, ws.Add(time.Hour+s.cfg.CodeRetention)).Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("tracing: rate limit: %w", err)
	}
	return n <= limit, nil
}

func (s *Service) allowAll(ctx context.Context, now time.Time, checks ...any) error {
	for i := 0; i+1 < len(checks); i += 2 {
		ok, err := s.allow(ctx, checks[i].(string), checks[i+1].(int), now)
		if err != nil {
			return err
		}
		if !ok {
			return ErrTooMany
		}
	}
	return nil
}

const codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // no 0/O, 1/I

func randomCode(n int, alphabet string) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("tracing: no randomness: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// Register starts a registration: it returns a code and the wa.me link
// that pre-fills "SIJEJAK <code>" to the gateway's WhatsApp number. The
// citizen sending that message from this phone proves they hold it.
func (s *Service) Register(ctx context.Context, phone, ip string) (code, waLink string, err error) {
	phone, err = NormalisePhone(phone)
	if err != nil {
		return "", "", err
	}
	now := s.now()
	idx, ipIdx := s.phoneIndex(phone), s.sealer.Index("ip:"+ip)
	if err := s.allowAll(ctx, now, "register:phone-ip:"+idx+":"+ipIdx, s.cfg.RegisterPerPhone, "register:ip:"+ipIdx, s.cfg.RegisterPerIP); err != nil {
		return "", "", err
	}
	code = randomCode(8, codeAlphabet)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		exp := now.Add(s.cfg.CodeTTL)
		if _, err := tx.Exec(ctx, `INSERT INTO tracing_registrations (phone_index, code_hash, expires_at, created_at, purge_after) VALUES (?, ?, ?, ?, ?)`,
			idx, s.secretHash("reg", "", code), exp, now, exp.Add(s.cfg.CodeRetention)); err != nil {
			return err
		}
		// The newest codes stay live; older unconfirmed ones beyond the cap
		// expire now. Refusing the new code instead would let anyone who
		// knows the number keep its owner from registering.
		_, err := tx.Exec(ctx, `UPDATE tracing_registrations SET expires_at = ?
			WHERE phone_index = ? AND confirmed_at IS NULL AND used_at IS NULL AND expires_at > ?
			AND id NOT IN (SELECT id FROM tracing_registrations WHERE phone_index = ? AND confirmed_at IS NULL AND used_at IS NULL AND expires_at > ?
				ORDER BY id DESC LIMIT ?)`, now, idx, now, idx, now, s.cfg.LiveCodesPerPhone)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("tracing: register: %w", err)
	}
	return code, "https://wa.me/" + s.cfg.WhatsAppNumber + "?text=" + url.PathEscape("SIJEJAK "+code), nil
}

// fromTracingChannel reports whether a message that arrived on channel can
// speak for a phone: only the tracing channel's own transport (WhatsApp in
// production) proves that the sender holds the number. Anything else — the
// simulator above all, where whoever holds a simulator token types any
// "from" — could register a citizen's phone or consent in their name, so
// it counts only when it is configured as the tracing channel (demos).
func (s *Service) fromTracingChannel(channel string) bool { return channel == s.cfg.Channel }

// ConfirmCode records that "SIJEJAK <code>" arrived on the tracing channel
// (WhatsApp) from phone (E.164). The bot calls it inside the transaction
// that stores the message, with the channel it came on. A code sent from
// another phone than the one that registered it, or on another channel,
// fails.
func (s *Service) ConfirmCode(ctx context.Context, tx *store.Tx, channel, phone, code string) error {
	if !s.fromTracingChannel(channel) {
		return ErrBadCode
	}
	phone, err := NormalisePhone(phone)
	if err != nil {
		return err
	}
	code = strings.ToUpper(strings.TrimSpace(code))
	now := s.now()
	res, err := tx.Exec(ctx, `UPDATE tracing_registrations SET confirmed_at = ? WHERE code_hash = ? AND phone_index = ? AND expires_at > ? AND used_at IS NULL AND confirmed_at IS NULL`,
		now, s.secretHash("reg", "", code), s.phoneIndex(phone), now)
	if err != nil {
		return fmt.Errorf("tracing: confirm code: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrBadCode
	}
	return nil
}

// SendOTP sends a 6-digit one-time code to phone on the configured channel
// (the fallback when the wa.me link cannot be used, e.g. re-installing).
// Only phones with a registered device get one, so the Ministry's number
// never writes to a stranger on anyone's request; the answer is the same
// either way, so it does not tell which phones are registered.
func (s *Service) SendOTP(ctx context.Context, phone, ip string) error {
	phone, err := NormalisePhone(phone)
	if err != nil {
		return err
	}
	now := s.now()
	idx := s.phoneIndex(phone)
	if err := s.allowAll(ctx, now, "otp:phone:"+idx, s.cfg.OTPPerPhone, "otp:ip:"+s.sealer.Index("ip:"+ip), s.cfg.OTPPerIP); err != nil {
		return err
	}
	var devices int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM tracing_devices WHERE phone_index = ?`, idx).Scan(&devices); err != nil {
		return fmt.Errorf("tracing: otp: %w", err)
	}
	if devices == 0 {
		return nil
	}
	otp := randomCode(6, "0123456789")
	lang := s.langOf(ctx, phone)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		exp := now.Add(s.cfg.OTPTTL)
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO tracing_otps (phone_index, code_hash, expires_at, created_at, purge_after) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			idx, s.secretHash("otp", idx, otp), exp, now, exp.Add(s.cfg.CodeRetention)).Scan(&id); err != nil {
			return fmt.Errorf("tracing: otp: %w", err)
		}
		text := Text(lang, "otp", map[string]string{"code": otp, "minutes": fmt.Sprint(int(s.cfg.OTPTTL / time.Minute))})
		if _, err := s.sender.Enqueue(ctx, tx, channels.Outbound{Channel: s.cfg.Channel, To: phone, Kind: channels.KindOTP, Text: text, Meta: map[string]string{"tracing": "otp", "code": otp}}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "system:tracing", "otp_sent", "tracing_otp", fmt.Sprint(id), "")
	})
}

// Verify is VerifyFrom for callers without a client address (tests,
// in-process tools); they share one budget per phone.
func (s *Service) Verify(ctx context.Context, phone, code, otp string) (token string, err error) {
	return s.VerifyFrom(ctx, phone, "", code, otp)
}

// VerifyFrom exchanges a confirmed registration code (or an OTP) for a
// device token; ip is the client's address. The token is shown once; only
// its hash is stored. Re-verifying a phone keeps its user ID and replaces
// its token. Attempts are limited per (phone, address) and per address, not
// per phone: wrong calls from elsewhere must not lock the owner out. A
// guesser gets no further for it: a code must first arrive from the phone's
// own WhatsApp, and an OTP dies after OTPMaxAttempts wrong guesses.
func (s *Service) VerifyFrom(ctx context.Context, phone, ip, code, otp string) (token string, err error) {
	phone, err = NormalisePhone(phone)
	if err != nil {
		return "", err
	}
	now := s.now()
	idx, ipIdx := s.phoneIndex(phone), s.sealer.Index("ip:"+ip)
	if err := s.allowAll(ctx, now, "verify:phone-ip:"+idx+":"+ipIdx, s.cfg.VerifyPerPhone, "verify:ip:"+ipIdx, s.cfg.VerifyPerIP); err != nil {
		return "", err
	}
	var outcome error
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		switch {
		case code != "":
			var id int64
			var confirmed sql.NullTime
			err := tx.QueryRow(ctx, `SELECT id, confirmed_at FROM tracing_registrations WHERE code_hash = ? AND phone_index = ? AND expires_at > ? AND used_at IS NULL`,
				s.secretHash("reg", "", strings.ToUpper(strings.TrimSpace(code))), idx, now).Scan(&id, &confirmed)
			if errors.Is(err, sql.ErrNoRows) {
				outcome = ErrBadCode
				return nil
			}
			if err != nil {
				return err
			}
			if !confirmed.Valid {
				outcome = ErrNotConfirmed
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE tracing_registrations SET used_at = ? WHERE id = ?`, now, id); err != nil {
				return err
			}
		case otp != "":
			var id int64
			var hash string
			var attempts int
			err := tx.QueryRow(ctx, `SELECT id, code_hash, attempts FROM tracing_otps WHERE phone_index = ? AND expires_at > ? AND used_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
				idx, now).Scan(&id, &hash, &attempts)
			if errors.Is(err, sql.ErrNoRows) {
				outcome = ErrBadCode
				return nil
			}
			if err != nil {
				return err
			}
			if attempts >= s.cfg.OTPMaxAttempts {
				outcome = ErrTooManyAttempts
				return nil
			}
			// The attempt counts whether or not it is right, and commits.
			if _, err := tx.Exec(ctx, `UPDATE tracing_otps SET attempts = attempts + 1 WHERE id = ?`, id); err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(hash), []byte(s.secretHash("otp", idx, strings.TrimSpace(otp)))) != 1 {
				outcome = ErrBadCode
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE tracing_otps SET used_at = ? WHERE id = ?`, now, id); err != nil {
				return err
			}
		default:
			outcome = ErrBadCode
			return nil
		}
		tok := make([]byte, 32)
		if _, err := rand.Read(tok); err != nil {
			return err
		}
		token = base64.RawURLEncoding.EncodeToString(tok)
		th := tokenHash(token)
		purge := now.Add(s.cfg.Issue.Span() + s.cfg.RecordRetention + s.cfg.Retention)
		var devID int64
		err := tx.QueryRow(ctx, `SELECT id FROM tracing_devices WHERE phone_index = ?`, idx).Scan(&devID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			u := NewUserID()
			if err := tx.QueryRow(ctx, `INSERT INTO tracing_devices (user_id, phone_sealed, phone_index, token_hash, created_at, last_seen_at, purge_after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				hex.EncodeToString(u[:]), s.sealer.Seal([]byte(phone)), idx, th, now, now, purge).Scan(&devID); err != nil {
				return fmt.Errorf("tracing: insert device: %w", err)
			}
		case err != nil:
			return err
		default:
			if _, err := tx.Exec(ctx, `UPDATE tracing_devices SET token_hash = ?, last_seen_at = ?, purge_after = ? WHERE id = ?`, th, now, purge, devID); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, fmt.Sprintf("device:%d", devID), "device_verified", "tracing_device", fmt.Sprint(devID), map[bool]string{true: "code", false: "otp"}[code != ""])
	})
	if err != nil {
		return "", fmt.Errorf("tracing: verify: %w", err)
	}
	if outcome != nil {
		return "", outcome
	}
	return token, nil
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte("lindungi/tracing/device-token:" + token))
	return hex.EncodeToString(h[:])
}

// Authenticate resolves a device token.
func (s *Service) Authenticate(ctx context.Context, token string) (Device, error) {
	var d Device
	if token == "" || len(token) > 200 {
		return d, ErrBadToken
	}
	var uid string
	err := s.db.QueryRow(ctx, `SELECT id, user_id FROM tracing_devices WHERE token_hash = ?`, tokenHash(token)).Scan(&d.ID, &uid)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrBadToken
	}
	if err != nil {
		return d, fmt.Errorf("tracing: authenticate: %w", err)
	}
	if d.UserID, err = parseUserID(uid); err != nil {
		return d, err
	}
	return d, nil
}

func parseUserID(h string) (UserID, error) {
	var u UserID
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != UserIDLen {
		return u, fmt.Errorf("tracing: corrupt user ID")
	}
	copy(u[:], b)
	return u, nil
}

// TempIDBatch is the body of GET /api/tracing/v1/tempids.
type TempIDBatch struct {
	TempIDs     []TempID `json:"tempIDs"`
	RefreshTime int64    `json:"refreshTime"`
}

// TempIDs issues the device a batch starting at now, and keeps the device
// (and its phone number) only as long as IDs it holds can be uploaded.
func (s *Service) TempIDs(ctx context.Context, d Device, now time.Time) (TempIDBatch, error) {
	if err := s.refreshKeys(ctx, false); err != nil {
		return TempIDBatch{}, err
	}
	ids, refresh, err := s.keys.Issue(d.UserID, now, s.cfg.Issue)
	if err != nil {
		return TempIDBatch{}, err
	}
	last := time.Unix(ids[len(ids)-1].ExpiryTime, 0).UTC()
	purge := last.Add(s.cfg.RecordRetention + s.cfg.Retention)
	if _, err := s.db.Exec(ctx, `UPDATE tracing_devices SET last_seen_at = ?, ids_valid_until = ?, purge_after = ? WHERE id = ?`, s.now(), last, purge, d.ID); err != nil {
		return TempIDBatch{}, fmt.Errorf("tracing: tempids: %w", err)
	}
	return TempIDBatch{TempIDs: ids, RefreshTime: refresh.Unix()}, nil
}

// langOf is the citizen's language if the bot knows it (the contacts table
// records what they chose or wrote in), else Indonesian.
func (s *Service) langOf(ctx context.Context, phone string) string {
	lang, err := tickets.ContactLang(ctx, s.db, s.cfg.Channel, phone)
	if err != nil {
		return Languages[0]
	}
	return normLang(lang)
}

func (s *Service) langOfTx(ctx context.Context, tx *store.Tx, phone string) string {
	lang, err := tickets.ContactLang(ctx, tx, s.cfg.Channel, phone)
	if err != nil {
		return Languages[0]
	}
	return normLang(lang)
}
