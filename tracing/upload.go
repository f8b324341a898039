package tracing

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"lindungi/audit"
	"lindungi/channels"
	"lindungi/coded"
	"lindungi/store"
	"lindungi/tracing/score"
)

// Record is one encounter as the app uploads it (BlueTrace/OpenTrace).
type Record struct {
	V         int      `json:"v"`
	Msg       string   `json:"msg"`
	Org       string   `json:"org"`
	ModelP    string   `json:"modelP"`
	ModelC    string   `json:"modelC"`
	RSSI      float64  `json:"rssi"`
	TxPower   *float64 `json:"txPower,omitempty"`
	Timestamp float64  `json:"timestamp"` // Unix seconds
}

// UploadResult says what happened to an upload. Rejected counts records per
// reason (no_msg, failed_decryption, unknown_key, expired_id,
// self_encounter, too_old, before_infectious). Contacts and Notified are
// for the server's own metrics and tests: the uploader is not told how many
// people were prompted.
type UploadResult struct {
	UploadID int64          `json:"-"`
	Received int            `json:"received"`
	Accepted int            `json:"accepted"`
	Rejected map[string]int `json:"rejected"`
	Replay   bool           `json:"replay,omitempty"`
	Contacts int            `json:"-"`
	Notified int            `json:"-"`
}

const (
	maxFieldLen = 128
	recordBytes = 64 // numbers and JSON punctuation per record, for the size cap
)

// checkRecord validates shape only; cryptographic checks come after.
func checkRecord(r *Record) bool {
	if r.V < 1 || r.V > 2 {
		return false
	}
	for _, f := range [...]string{r.Msg, r.Org, r.ModelP, r.ModelC} {
		if len(f) > maxFieldLen || !utf8.ValidString(f) {
			return false
		}
	}
	if math.IsNaN(r.RSSI) || r.RSSI < -127 || r.RSSI > 20 {
		return false
	}
	if r.TxPower != nil && (math.IsNaN(*r.TxPower) || *r.TxPower < -127 || *r.TxPower > 127) {
		return false
	}
	if math.IsNaN(r.Timestamp) || r.Timestamp <= 0 || r.Timestamp > math.MaxUint32 {
		return false
	}
	return true
}

// DecodeUpload reads the JSON body of POST /api/tracing/v1/uploads
// ({"records":[…]}) as a stream: records are decoded one by one and the
// record cap is enforced while reading, so a body of a million empty
// records costs what the first MaxRecords+1 of them cost, never the whole
// body parsed into memory. More than MaxUploadBytes, or a shape that is not
// an object with a records array, is refused with the coded errors Upload
// uses. Other top-level members are skipped token by token.
func (s *Service) DecodeUpload(r io.Reader) ([]Record, error) {
	lr := &io.LimitedReader{R: r, N: int64(s.cfg.MaxUploadBytes) + 1}
	recs, err := decodeRecords(json.NewDecoder(lr), s.cfg.MaxRecords)
	if lr.N <= 0 {
		return nil, ErrUploadTooLarge
	}
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// decodeRecords walks {"records":[…], …} with at most max records.
func decodeRecords(dec *json.Decoder, max int) ([]Record, error) {
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var recs []Record
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, ErrBadUpload
		}
		if key, _ := tok.(string); key != "records" {
			if err := skipValue(dec); err != nil {
				return nil, err
			}
			continue
		}
		if seen {
			return nil, ErrBadUpload
		}
		seen = true
		tok, err = dec.Token()
		if err != nil {
			return nil, ErrBadUpload
		}
		if tok == nil { // "records": null
			continue
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return nil, ErrBadUpload
		}
		for dec.More() {
			if len(recs) >= max {
				return nil, ErrTooManyRecords
			}
			recs = append(recs, Record{})
			if err := dec.Decode(&recs[len(recs)-1]); err != nil {
				return nil, ErrBadUpload
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return recs, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return ErrBadUpload
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return ErrBadUpload
	}
	return nil
}

// skipValue reads past one JSON value without keeping it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return ErrBadUpload
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// Admission is an upload the device may send: its token was valid, it
// holds an open consented window and it is within its rate limit. It is
// what AdmitUpload returns before any of the body is read.
type Admission struct {
	d   Device
	w   window
	now time.Time
	t0  time.Time
}

// AdmitUpload decides whether the device may upload at all, before its
// body is read: a device without an open window, or over its hourly limit,
// is refused at the cost of a query or two, however large the body it
// sends. Refusals are counted and audited (refuseUpload).
func (s *Service) AdmitUpload(ctx context.Context, d Device) (*Admission, error) {
	a := &Admission{d: d, now: s.now(), t0: time.Now()}
	ws := a.now.Truncate(time.Hour)
	if s.limits.over(d.ID, ws) {
		return nil, s.refuseUpload(ctx, d, a.now, ErrTooMany, "rate_limited")
	}
	w, err := s.openWindow(ctx, s.db, d, a.now)
	if errors.Is(err, ErrNotAuthorised) {
		return nil, s.refuseUpload(ctx, d, a.now, err, "not_authorised")
	}
	if err != nil {
		return nil, err
	}
	a.w = w
	if err := s.allowAll(ctx, a.now, fmt.Sprintf("upload:device:%d", d.ID), s.cfg.UploadsPerDevice); err != nil {
		if errors.Is(err, ErrTooMany) {
			// Until the hour turns, this device's next attempts are refused
			// without touching the database.
			s.limits.mark(d.ID, ws)
			return nil, s.refuseUpload(ctx, d, a.now, err, "rate_limited")
		}
		return nil, err
	}
	return a, nil
}

// UploadFrom is the HTTP route's upload: admission first, then the body
// decoded as a stream (DecodeUpload), then Upload's checks and matching.
func (s *Service) UploadFrom(ctx context.Context, d Device, body io.Reader) (UploadResult, error) {
	a, err := s.AdmitUpload(ctx, d)
	if err != nil {
		return UploadResult{Rejected: map[string]int{}}, err
	}
	records, err := s.DecodeUpload(body)
	if err != nil {
		why := "bad_upload"
		if c, ok := coded.As(err); ok {
			why = c.Code
		}
		return UploadResult{Rejected: map[string]int{}}, s.refuseUpload(ctx, d, a.now, err, why)
	}
	return s.upload(ctx, a, records)
}

// CountUnauthenticatedUpload counts an upload refused for its device token
// (the HTTP layer authenticates); with no device to name it is not audited.
func (s *Service) CountUnauthenticatedUpload(err error) {
	outcome := "refused"
	if c, ok := coded.As(err); ok {
		outcome = "refused_" + c.Code
	}
	s.m.uploads.WithLabelValues(outcome).Inc()
}

// refuseUpload counts a refused upload in the metrics and audits it at most
// once per device per hour: a phone (or a script holding its token) sending
// refused uploads in a loop must not fill the audit log, whose rows the
// retention trigger keeps for five years. The claim on the hour is a row in
// tracing_rate_limits written with the audit row, so replicas agree; a
// per-process note spares the database the claim for every later refusal.
func (s *Service) refuseUpload(ctx context.Context, d Device, now time.Time, err error, why string) error {
	outcome := "refused"
	if c, ok := coded.As(err); ok {
		outcome = "refused_" + c.Code
	}
	s.m.uploads.WithLabelValues(outcome).Inc()
	ws := now.Truncate(time.Hour)
	if s.audited.seen(d.ID, ws) {
		return err
	}
	aerr := s.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `INSERT INTO tracing_rate_limits (bucket, window_start, count, purge_after) VALUES (?, ?, 1, ?)
			ON CONFLICT (bucket, window_start) DO UPDATE SET count = tracing_rate_limits.count + 1 RETURNING count`,
			fmt.Sprintf("upload-refusal-audited:device:%d", d.ID), ws, ws.Add(time.Hour+s.cfg.CodeRetention)).Scan(&n); err != nil {
			return err
		}
		if n > 1 {
			return nil
		}
		return audit.Record(ctx, tx, fmt.Sprintf("device:%d", d.ID), "upload_refused", "tracing_device", fmt.Sprint(d.ID),
			why+"; further refusals of this device this hour are only counted in lindungi_tracing_uploads_total")
	})
	if aerr != nil {
		return fmt.Errorf("tracing: record refused upload: %w", aerr)
	}
	s.audited.mark(d.ID, ws)
	return err
}

// Upload validates and stores a positive citizen's encounter records, then
// matches them. A refused upload (no open window, rate limit, too many
// records, too large, malformed) stores nothing. Records failing
// decryption or validation are counted and dropped. The same upload again
// is recognised (Replay) and notifies no one; overlapping uploads cannot
// notify a contact twice for one day. Millisecond timestamps are turned
// into seconds in place. The HTTP route uses UploadFrom, which admits the
// device before reading its body.
func (s *Service) Upload(ctx context.Context, d Device, records []Record) (UploadResult, error) {
	a, err := s.AdmitUpload(ctx, d)
	if err != nil {
		return UploadResult{Received: len(records), Rejected: map[string]int{}}, err
	}
	return s.upload(ctx, a, records)
}

func (s *Service) upload(ctx context.Context, a *Admission, records []Record) (UploadResult, error) {
	res := UploadResult{Received: len(records), Rejected: map[string]int{}}
	d, w, now, t0 := a.d, a.w, a.now, a.t0
	actor := fmt.Sprintf("device:%d", d.ID)
	refuse := func(err error, why string) (UploadResult, error) {
		return res, s.refuseUpload(ctx, d, now, err, why)
	}
	if len(records) == 0 {
		return refuse(ErrBadUpload, "empty")
	}
	if len(records) > s.cfg.MaxRecords {
		return refuse(ErrTooManyRecords, fmt.Sprintf("records=%d", len(records)))
	}
	size := 0
	for i := range records {
		r := &records[i]
		size += len(r.Msg) + len(r.Org) + len(r.ModelP) + len(r.ModelC) + recordBytes
	}
	if size > s.cfg.MaxUploadBytes {
		return refuse(ErrUploadTooLarge, fmt.Sprintf("bytes=%d", size))
	}
	bad := 0
	for i := range records {
		// BlueTrace sends seconds; some builds send milliseconds. No
		// encounter is dated after the year 33658, so the unit is certain.
		if records[i].Timestamp >= 1e12 {
			records[i].Timestamp /= 1000
		}
		if !checkRecord(&records[i]) {
			bad++
		}
	}
	if bad > 0 {
		res.Rejected[ReasonBadRecord] = bad
		return refuse(ErrBadUpload, fmt.Sprintf("bad_records=%d", bad))
	}

	if err := s.refreshKeys(ctx, false); err != nil {
		return res, err
	}
	vp := ValidateParams{Grace: s.cfg.Grace, Retention: s.cfg.RecordRetention}
	acc, unknown := s.validate(records, d, now, vp, w.infectious.Unix(), res.Rejected)
	if unknown > 0 {
		// Another replica may have rotated since we loaded: reload once.
		if err := s.refreshKeys(ctx, true); err != nil {
			return res, err
		}
		clear(res.Rejected)
		acc, _ = s.validate(records, d, now, vp, w.infectious.Unix(), res.Rejected)
	}
	res.Accepted = len(acc.recs)
	s.m.records.WithLabelValues("accepted").Add(float64(res.Accepted))
	for reason, n := range res.Rejected {
		s.m.records.WithLabelValues(reason).Add(float64(n))
	}
	counts, _ := json.Marshal(res.Rejected)
	if res.Accepted == 0 {
		s.m.uploads.WithLabelValues("rejected").Inc()
		if err := audit.Record(ctx, s.db, actor, "upload_rejected", "tracing_case", fmt.Sprint(w.caseID), fmt.Sprintf("received=%d rejected=%s", res.Received, counts)); err != nil {
			return res, err
		}
		return res, nil
	}
	digest := digestRecords(records)
	raw := s.sealer.Seal(acc.encode())
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var prev int64
		err := tx.QueryRow(ctx, `SELECT id FROM tracing_uploads WHERE case_id = ? AND digest = ?`, w.caseID, digest).Scan(&prev)
		if err == nil {
			res.Replay = true
			res.UploadID = prev
			return audit.Record(ctx, tx, actor, "upload_replayed", "tracing_upload", fmt.Sprint(prev), "")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO tracing_uploads (case_id, device_id, window_id, digest, received, accepted, rejected, raw_sealed, received_at, purge_after)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			w.caseID, d.ID, w.id, digest, res.Received, res.Accepted, string(counts), raw, now, now.Add(s.cfg.Retention)).Scan(&res.UploadID); err != nil {
			return fmt.Errorf("tracing: store upload: %w", err)
		}
		return audit.Record(ctx, tx, actor, "upload_received", "tracing_upload", fmt.Sprint(res.UploadID), fmt.Sprintf("received=%d accepted=%d rejected=%s", res.Received, res.Accepted, counts))
	})
	if err != nil {
		if store.IsUniqueViolation(err) { // the same upload, concurrently
			res.Replay = true
			s.m.uploads.WithLabelValues("replay").Inc()
			return res, nil
		}
		return res, err
	}
	if res.Replay {
		s.m.uploads.WithLabelValues("replay").Inc()
		return res, nil
	}
	s.m.uploads.WithLabelValues("stored").Inc()
	s.m.duration.WithLabelValues("upload").Observe(time.Since(t0).Seconds())
	if s.crashBeforeMatch {
		return res, nil
	}
	res.Contacts, res.Notified, err = s.Match(ctx, res.UploadID)
	return res, err
}

// accepted holds validated records compactly until matching.
type accepted struct {
	strs  []string
	index map[string]uint32
	recs  []encounter
}

type encounter struct {
	contact UserID
	ts      float64
	rssi    float32
	tx      float32
	modelC  uint32
	modelP  uint32
}

func (a *accepted) str(s string) uint32 {
	if i, ok := a.index[s]; ok {
		return i
	}
	i := uint32(len(a.strs))
	a.strs = append(a.strs, s)
	a.index[s] = i
	return i
}

func (s *Service) validate(records []Record, d Device, now time.Time, vp ValidateParams, infectious int64, rejected map[string]int) (acc accepted, unknown int) {
	acc.index = map[string]uint32{}
	acc.recs = make([]encounter, 0, len(records))
	v := s.keys.Validator(d.UserID, now, vp)
	for i := range records {
		r := &records[i]
		ts := int64(r.Timestamp)
		p, err := v.Check(r.Msg, ts)
		if err != nil {
			reason := ReasonOf(err)
			if reason == "" {
				reason = ReasonFailedDecryption
			}
			if reason == ReasonUnknownKey {
				unknown++
			}
			rejected[reason]++
			continue
		}
		if ts < infectious {
			rejected[ReasonBeforeInfectious]++
			continue
		}
		e := encounter{contact: p.UserID, ts: r.Timestamp, rssi: float32(r.RSSI), modelC: acc.str(r.ModelC), modelP: acc.str(r.ModelP)}
		if r.TxPower != nil {
			e.tx = float32(*r.TxPower)
		}
		acc.recs = append(acc.recs, e)
	}
	return acc, unknown
}

// encode: uvarint n, n × (uvarint len, bytes), uvarint m, m × fixed 37-byte
// record + two uvarint string indexes.
func (a *accepted) encode() []byte {
	n := 16
	for _, s := range a.strs {
		n += len(s) + 2
	}
	b := make([]byte, 0, n+len(a.recs)*(UserIDLen+16+4))
	b = binary.AppendUvarint(b, uint64(len(a.strs)))
	for _, s := range a.strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(a.recs)))
	for _, e := range a.recs {
		b = append(b, e.contact[:]...)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(e.ts))
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(e.rssi))
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(e.tx))
		b = binary.AppendUvarint(b, uint64(e.modelC))
		b = binary.AppendUvarint(b, uint64(e.modelP))
	}
	return b
}

var errCorrupt = errors.New("tracing: corrupt stored upload")

func decodeAccepted(b []byte) (accepted, error) {
	var a accepted
	next := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errCorrupt
		}
		b = b[n:]
		return v, nil
	}
	ns, err := next()
	if err != nil || ns > uint64(len(b)) {
		return a, errCorrupt
	}
	for i := uint64(0); i < ns; i++ {
		l, err := next()
		if err != nil || l > uint64(len(b)) {
			return a, errCorrupt
		}
		a.strs = append(a.strs, string(b[:l]))
		b = b[l:]
	}
	nr, err := next()
	if err != nil || nr > uint64(len(b)) {
		return a, errCorrupt
	}
	a.recs = make([]encounter, 0, nr)
	for i := uint64(0); i < nr; i++ {
		if len(b) < UserIDLen+16 {
			return a, errCorrupt
		}
		var e encounter
		copy(e.contact[:], b)
		b = b[UserIDLen:]
		e.ts = math.Float64frombits(binary.BigEndian.Uint64(b))
		e.rssi = math.Float32frombits(binary.BigEndian.Uint32(b[8:]))
		e.tx = math.Float32frombits(binary.BigEndian.Uint32(b[12:]))
		b = b[16:]
		c, err1 := next()
		p, err2 := next()
		if err1 != nil || err2 != nil || c >= ns || p >= ns {
			return a, errCorrupt
		}
		e.modelC, e.modelP = uint32(c), uint32(p)
		a.recs = append(a.recs, e)
	}
	return a, nil
}

// digestRecords fingerprints an upload as sent, to recognise a replay.
func digestRecords(records []Record) string {
	h := sha256.New()
	var buf [8]byte
	for i := range records {
		r := &records[i]
		h.Write([]byte(r.Msg))
		h.Write([]byte{0})
		h.Write([]byte(r.ModelC))
		h.Write([]byte{0})
		h.Write([]byte(r.ModelP))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(buf[:], math.Float64bits(r.Timestamp))
		h.Write(buf[:])
		binary.BigEndian.PutUint64(buf[:], math.Float64bits(r.RSSI))
		h.Write(buf[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Match scores a stored upload per contact per day, records exposures and
// prompts each newly exposed contact once, then deletes the raw records.
// Idempotent: a matched upload is skipped, and an exposure that exists
// already is never notified again.
func (s *Service) Match(ctx context.Context, uploadID int64) (contacts, notified int, err error) {
	t0 := time.Now()
	defer func() {
		if err == nil {
			s.m.exposures.Add(float64(notified))
			s.m.duration.WithLabelValues("match").Observe(time.Since(t0).Seconds())
		}
	}()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		contacts, notified = 0, 0
		lock := ""
		if tx.Dialect() == store.Postgres {
			lock = " FOR UPDATE"
		}
		var raw []byte
		var caseID int64
		err := tx.QueryRow(ctx, `SELECT case_id, raw_sealed FROM tracing_uploads WHERE id = ? AND matched_at IS NULL AND raw_sealed IS NOT NULL`+lock, uploadID).Scan(&caseID, &raw)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		plain, err := s.sealer.Open(raw)
		if err != nil {
			return err
		}
		acc, err := decodeAccepted(plain)
		if err != nil {
			return err
		}
		byContact := map[UserID][]encounter{}
		// Every encounter of a day, whoever it was with, is the uploader's
		// scan timeline for that day: the scorer reads a scan in which the
		// phone heard others but not this contact as a sign of absence.
		dayTimes := map[string][]float64{}
		for _, e := range acc.recs {
			byContact[e.contact] = append(byContact[e.contact], e)
			day := time.Unix(int64(e.ts), 0).In(s.cfg.Location).Format("2006-01-02")
			dayTimes[day] = append(dayTimes[day], e.ts)
		}
		timelines := make(map[string]*score.Timeline, len(dayTimes))
		for day, ts := range dayTimes {
			timelines[day] = s.scorer.Timeline(ts)
		}
		ids := make([]string, 0, len(byContact))
		for u := range byContact {
			ids = append(ids, hex.EncodeToString(u[:]))
		}
		sort.Strings(ids)
		devs, err := s.devicesByUserID(ctx, tx, ids)
		if err != nil {
			return err
		}
		exposed, err := s.exposedDays(ctx, tx, devs)
		if err != nil {
			return err
		}
		now := s.now()
		for _, uid := range ids {
			dev, ok := devs[uid]
			if !ok {
				continue // unregistered or purged since
			}
			contacts++
			u, _ := parseUserID(uid)
			days := map[string][]score.Reading{}
			for _, e := range byContact[u] {
				day := time.Unix(int64(e.ts), 0).In(s.cfg.Location).Format("2006-01-02")
				days[day] = append(days[day], score.Reading{Timestamp: e.ts, RSSI: float64(e.rssi), TxPower: float64(e.tx), ModelC: acc.strs[e.modelC], ModelP: acc.strs[e.modelP]})
			}
			dayKeys := make([]string, 0, len(days))
			for day := range days {
				dayKeys = append(dayKeys, day)
			}
			sort.Strings(dayKeys)
			// All close days of this contact in one statement; RETURNING
			// says which are new (ON CONFLICT: a concurrent match won).
			var vals []string
			var args []any
			for _, day := range dayKeys {
				if exposed[exposureKey{dev.id, day}] {
					continue // notified then; the unique key still guards races
				}
				wm := s.scorer.WeightedMinutes(timelines[day], days[day])
				if wm < s.scorer.Params().MinMinutes {
					continue
				}
				until := s.quarantineUntil(day)
				vals = append(vals, "(?, ?, ?, ?, ?, ?, ?)")
				args = append(args, dev.id, day, math.Round(wm*100)/100, uploadID, until.Format("2006-01-02"), now, until.Add(s.cfg.Retention))
			}
			if len(vals) == 0 {
				continue
			}
			rows, err := tx.Query(ctx, `INSERT INTO tracing_exposures (device_id, day, weighted_minutes, upload_id, quarantine_until, created_at, purge_after)
				VALUES `+strings.Join(vals, ", ")+` ON CONFLICT (device_id, day) DO NOTHING RETURNING id, day`, args...)
			if err != nil {
				return fmt.Errorf("tracing: insert exposures: %w", err)
			}
			var newIDs []any
			latest := ""
			for rows.Next() {
				var id int64
				var day string
				if err := rows.Scan(&id, &day); err != nil {
					rows.Close()
					return err
				}
				newIDs = append(newIDs, id)
				if day > latest {
					latest = day
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(newIDs) == 0 {
				continue
			}
			phone, err := s.sealer.Open(dev.phoneSealed)
			if err != nil {
				return err
			}
			lang := s.langOfTx(ctx, tx, string(phone))
			until := formatDate(lang, s.quarantineUntil(latest))
			text := Text(lang, "exposure_prompt", map[string]string{"until": until})
			// lang and until also go to a channel that sends approved
			// templates (the WhatsApp Cloud API outside the 24-hour
			// window): the template's language and its parameter.
			msgID, err := s.sender.Enqueue(ctx, tx, channels.Outbound{Channel: s.cfg.Channel, To: string(phone), Kind: "prompt", Text: text,
				Meta: map[string]string{"tracing": "exposure", "lang": normLang(lang), "until": until}})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE tracing_exposures SET notified_at = ?, notice_id = ? WHERE id IN (?`+strings.Repeat(", ?", len(newIDs)-1)+`)`,
				append([]any{now, msgID}, newIDs...)...); err != nil {
				return err
			}
			// One audit row per notification, naming the latest exposure.
			if err := audit.Record(ctx, tx, "system:tracing", "exposure_notified", "tracing_exposure", fmt.Sprint(newIDs[len(newIDs)-1]),
				fmt.Sprintf("upload=%d exposures=%d", uploadID, len(newIDs))); err != nil {
				return err
			}
			notified++
		}
		if _, err := tx.Exec(ctx, `UPDATE tracing_uploads SET matched_at = ?, raw_sealed = NULL WHERE id = ?`, now, uploadID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "system:tracing", "upload_matched", "tracing_upload", fmt.Sprint(uploadID), fmt.Sprintf("contacts=%d notified=%d", contacts, notified))
	})
	return contacts, notified, err
}

func (s *Service) quarantineUntil(day string) time.Time {
	d, _ := time.ParseInLocation("2006-01-02", day, s.cfg.Location)
	return d.AddDate(0, 0, s.cfg.QuarantineDays)
}

type exposureKey struct {
	device int64
	day    string
}

// exposedDays lists the days on which these devices already have an
// exposure, so a replayed or overlapping upload costs one query instead of
// an insert attempt per contact per day.
func (s *Service) exposedDays(ctx context.Context, tx *store.Tx, devs map[string]contactDevice) (map[exposureKey]bool, error) {
	out := map[exposureKey]bool{}
	ids := make([]any, 0, len(devs))
	for _, d := range devs {
		ids = append(ids, d.id)
	}
	const chunk = 500
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		rows, err := tx.Query(ctx, `SELECT device_id, day FROM tracing_exposures WHERE device_id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, part...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k exposureKey
			if err := rows.Scan(&k.device, &k.day); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type contactDevice struct {
	id          int64
	phoneSealed []byte
}

func (s *Service) devicesByUserID(ctx context.Context, tx *store.Tx, ids []string) (map[string]contactDevice, error) {
	out := map[string]contactDevice{}
	const chunk = 500
	for i := 0; i < len(ids); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		args := make([]any, len(part))
		for j, id := range part {
			args[j] = id
		}
		rows, err := tx.Query(ctx, `SELECT id, user_id, phone_sealed FROM tracing_devices WHERE user_id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var d contactDevice
			var uid string
			if err := rows.Scan(&d.id, &uid, &d.phoneSealed); err != nil {
				rows.Close()
				return nil, err
			}
			out[uid] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// MatchPending matches uploads stored but not yet matched (a crash between
// the two steps); the jobs author can run it every few minutes.
func (s *Service) MatchPending(ctx context.Context) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM tracing_uploads WHERE matched_at IS NULL AND raw_sealed IS NOT NULL ORDER BY id LIMIT 100`)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, _, err := s.Match(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
