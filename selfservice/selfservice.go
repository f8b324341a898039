// Package selfservice owns the citizen's own look-ups in the vaccination
// registry: vaccination status and the signed certificate, and "my
// certificate is missing" checked against the registry before it becomes a
// ticket. It decides who may see what: a record goes only to the WhatsApp
// number registered on it, or to another number after a one-time code sent
// to the registered one; five wrong NIK/birth-date combinations from one
// sender stop the look-ups and point to an operator; every look-up is
// audited with the NIK as a keyed hash, never in clear. E-mail and the
// simulator are served only when configured for demos.
//
// The bot calls it after the citizen's message committed (registry calls
// are network I/O and must not hold a database transaction); everything it
// sends goes through the outbox.
package selfservice

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/prometheus/client_golang/prometheus"

	"lindungi/audit"
	"lindungi/certificate"
	"lindungi/channels"
	"lindungi/jobs"
	"lindungi/registry"
	"lindungi/store"
	"lindungi/tickets"
)

// The requests a citizen can make; they are the ticket categories of the
// complaint flows that collect a NIK and a birth date.
var Kinds = []string{tickets.VaccinationStatus, tickets.CertificateDownload, tickets.CertificateMissing}

// Config tunes the rules.
type Config struct {
	// DemoChannels are channels other than WhatsApp served anyway
	// (simulator, email): for demos and tests only, since only WhatsApp
	// tells us the sender's number.
	DemoChannels []string
	// VerifyURL is the public /verify page printed on certificates.
	VerifyURL   string
	MaxFailures int           // wrong NIK/birth-date combinations before the stop (5)
	LockFor     time.Duration // how long the stop lasts (24 h)
	OTPTTL      time.Duration // how long a one-time code is good (10 min)
	// LookupTimeout bounds one registry call, the client's retries
	// included; a request has room for two calls and its own writes.
	LookupTimeout time.Duration
}

// Service carries out self-service requests.
type Service struct {
	db       *store.DB
	sealer   *store.Sealer
	tickets  *tickets.Store
	outbox   *channels.Outbox
	registry registry.Registry
	signer   *certificate.Signer
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	outcomes *prometheus.CounterVec
	wake     chan struct{} // Nudge → Run
}

// New makes the service; zero fields of cfg take the defaults above.
func New(db *store.DB, sealer *store.Sealer, ts *tickets.Store, ob *channels.Outbox, reg registry.Registry, signer *certificate.Signer, cfg Config, log *slog.Logger) *Service {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 24 * time.Hour
	}
	if cfg.OTPTTL <= 0 {
		cfg.OTPTTL = 10 * time.Minute
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 30 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, sealer: sealer, tickets: ts, outbox: ob, registry: reg, signer: signer, cfg: cfg,
		log: log.With("component", "selfservice"), now: store.Now, wake: make(chan struct{}, 1),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lindungi_selfservice_requests_total",
			Help: "Self-service requests by kind and outcome (status_sent, certificate_sent, no_match, otp_sent, registry_unavailable, …)."}, []string{"kind", "outcome"}),
	}
}

// Register adds the service's metrics to reg. An outage of the registry
// shows as registry_unavailable; a rise of no_match_locked as someone
// trying NIKs.
func (s *Service) Register(reg prometheus.Registerer) {
	if reg != nil {
		_ = reg.Register(s.outcomes)
	}
}

// Request is one citizen's request, as the bot collected it.
type Request struct {
	Kind      string `json:"kind"` // one of Kinds
	Channel   string `json:"channel"`
	From      string `json:"from"`
	ContactID int64  `json:"contactId"`
	Lang      string `json:"lang"`
	// Fields are the complaint flow's answers (nik, dob as YYYY-MM-DD,
	// name, phone, description …); a ticket filed from here carries them.
	Fields map[string]string `json:"fields"`
}

// Serves reports whether requests on channel are answered here. Requests
// on other channels become tickets as before.
func (s *Service) Serves(channel, kind string) bool {
	if !slices.Contains(Kinds, kind) {
		return false
	}
	return channel == "whatsapp" || slices.Contains(s.cfg.DemoChannels, channel)
}

// Checking is what the bot tells the citizen while the look-up runs.
func Checking(lang string) string { return T(lang, "checking", nil) }

// IsCode reports whether text is a one-time code answer ("KODE 123456").
func IsCode(text string) (string, bool) {
	f := strings.Fields(strings.ToUpper(strings.TrimSpace(text)))
	if len(f) != 2 || (f[0] != "KODE" && f[0] != "CODE") || len(f[1]) != 6 {
		return "", false
	}
	for _, c := range f[1] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return f[1], true
}

func (s *Service) senderIndex(channel, from string) string {
	return s.sealer.Index("selfservice-sender:" + channel + ":" + from)
}

// personRef is what the audit log names a person by: a keyed hash of the
// NIK, enough to find every look-up of one NIK, useless without the key.
func (s *Service) personRef(nik string) string {
	return s.sealer.Index("selfservice-nik:" + nik)[:24]
}

// The sender's row is only ever changed by single statements that read and
// write it together (a failure is "failures = failures + 1 … RETURNING", a
// code is consumed by an UPDATE that must find it): eight workers per
// process and several replicas take one sender's messages at once, and a
// read followed by a write of the whole row lost counts and brought back
// codes already used or replaced.

// reserve counts an attempt of the sender before the registry is asked, so
// that concurrent guesses each spend one; the attempt is given back
// (release) or cleared (reset) once its outcome is known. It returns the
// count including this attempt and the time a stop ends (zero: none).
func (s *Service) reserve(ctx context.Context, idx string) (failures int, lockedUntil time.Time, err error) {
	now := s.now()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var locked *time.Time
		err := tx.QueryRow(ctx, `INSERT INTO selfservice_senders (sender_index, failures, updated_at, purge_after) VALUES (?, 1, ?, ?)
			ON CONFLICT (sender_index) DO UPDATE SET failures = selfservice_senders.failures + 1,
			updated_at = excluded.updated_at, purge_after = excluded.purge_after
			RETURNING failures, locked_until`, idx, now, s.purgeAfter(now)).Scan(&failures, &locked)
		if err != nil {
			return err
		}
		if err := markCounted(ctx, tx, true); err != nil {
			return err
		}
		if locked == nil {
			return nil
		}
		if now.Before(*locked) {
			lockedUntil = *locked
			return nil
		}
		// The stop is over: the sender starts again with this attempt.
		// The row is locked by the upsert above, so this cannot race.
		failures = 1
		_, err = tx.Exec(ctx, `UPDATE selfservice_senders SET failures = 1, locked_until = NULL WHERE sender_index = ?`, idx)
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("selfservice: reserve attempt: %w", err)
	}
	return failures, lockedUntil, nil
}

// counted reads the sender's count without adding to it: for the retry of
// a request whose attempt a crashed or timed-out run already counted.
func (s *Service) counted(ctx context.Context, idx string) (failures int, lockedUntil time.Time, err error) {
	var locked *time.Time
	err = s.db.QueryRow(ctx, `SELECT failures, locked_until FROM selfservice_senders WHERE sender_index = ?`, idx).Scan(&failures, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return 1, time.Time{}, nil // forgotten since: count this one as the first
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("selfservice: read attempts: %w", err)
	}
	if locked != nil && s.now().Before(*locked) {
		lockedUntil = *locked
	}
	return max(failures, 1), lockedUntil, nil
}

// findPerson asks the registry within one call's time, so that a slow
// registry leaves the request's own writes (giving an attempt back, the
// answer) time to run.
func (s *Service) findPerson(ctx context.Context, nik, dob string) (registry.Person, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	return s.registry.FindPerson(ctx, nik, dob)
}

// budget is one request's time: two registry calls and its writes.
func (s *Service) budget() time.Duration { return 2*s.cfg.LookupTimeout + 30*time.Second }

func (s *Service) purgeAfter(now time.Time) time.Time {
	return now.Add(max(s.cfg.LockFor, 24*time.Hour))
}

// release gives back an attempt reserved for a request that turned out not
// to be a wrong guess (the registry was down, or the record is someone
// else's number and a code is sent to it).
func release(ctx context.Context, tx *store.Tx, idx string) error {
	if err := markCounted(ctx, tx, false); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE selfservice_senders SET failures = failures - 1 WHERE sender_index = ? AND failures > 0`, idx); err != nil {
		return fmt.Errorf("selfservice: release attempt: %w", err)
	}
	return nil
}

// reset clears the count: only for a match on the sender's own registered
// number, which no guesser can produce from another number.
func reset(ctx context.Context, tx *store.Tx, idx string) error {
	if err := markCounted(ctx, tx, false); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE selfservice_senders SET failures = 0 WHERE sender_index = ?`, idx); err != nil {
		return fmt.Errorf("selfservice: reset attempts: %w", err)
	}
	return nil
}

// lock stops the sender until the end of the stop.
func (s *Service) lock(ctx context.Context, tx *store.Tx, idx string) error {
	if _, err := tx.Exec(ctx, `UPDATE selfservice_senders SET locked_until = ? WHERE sender_index = ?`, s.now().Add(s.cfg.LockFor), idx); err != nil {
		return fmt.Errorf("selfservice: lock sender: %w", err)
	}
	return nil
}

// Purge deletes sender rows past their purge time (a scheduled job).
func (s *Service) Purge(ctx context.Context) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM selfservice_senders WHERE purge_after < ?`, s.now())
	if err != nil {
		return 0, fmt.Errorf("selfservice: purge: %w", err)
	}
	return res.RowsAffected()
}

// handle carries out a look-up: the registry, the checks, the answer.
func (s *Service) handle(ctx context.Context, r Request) error {
	idx := s.senderIndex(r.Channel, r.From)
	nik, dob := r.Fields["nik"], r.Fields["dob"]
	ref := s.personRef(nik)
	// A retry of a queued request whose attempt is already counted reads
	// the count instead of adding to it.
	count := s.reserve
	if retryCounted(ctx) {
		count = s.counted
	}
	failures, lockedUntil, err := count(ctx, idx)
	if err != nil {
		return err
	}
	// More attempts in flight than the sender has left are refused before
	// the registry sees them, as a stop is.
	if !lockedUntil.IsZero() || failures > s.cfg.MaxFailures {
		return s.answer(ctx, r, ref, "refused_locked", T(r.Lang, "locked", nil), func(tx *store.Tx) error {
			if lockedUntil.IsZero() {
				return release(ctx, tx, idx)
			}
			return nil
		})
	}
	person, err := s.findPerson(ctx, nik, dob)
	switch {
	case errors.Is(err, registry.ErrNoMatch):
		// The reserved attempt stays counted.
		text := T(r.Lang, "not_found", map[string]string{"left": fmt.Sprint(s.cfg.MaxFailures - failures)})
		outcome := "no_match"
		if failures < s.cfg.MaxFailures {
			return s.answer(ctx, r, ref, outcome, text, nil)
		}
		return s.answer(ctx, r, ref, "no_match_locked", T(r.Lang, "locked", nil), func(tx *store.Tx) error { return s.lock(ctx, tx, idx) })
	case err != nil:
		if rerr := s.db.InTx(ctx, func(tx *store.Tx) error { return release(ctx, tx, idx) }); rerr != nil {
			return rerr
		}
		return s.unavailable(ctx, r, ref, err)
	}
	if !samePhone(r.From, person.Phone) {
		// A match from another number proves only that the asker knows a
		// NIK and a birth date: it gives the attempt back but does not
		// clear earlier mistakes, or one known pair would buy endless
		// guesses four at a time.
		if err := s.db.InTx(ctx, func(tx *store.Tx) error { return release(ctx, tx, idx) }); err != nil {
			return err
		}
		if person.Phone == "" {
			return s.fileTicket(ctx, r, ref, "no_phone", "no_phone", map[string]string{"registry_result": "patient found; no phone registered on the record"})
		}
		return s.sendOTP(ctx, r, ref, idx, person)
	}
	// The record's own number asking: the mistakes were the owner's.
	if err := s.db.InTx(ctx, func(tx *store.Tx) error { return reset(ctx, tx, idx) }); err != nil {
		return err
	}
	return s.fulfil(ctx, r, ref, person)
}

// code takes a one-time code answer from the sender of r.
func (s *Service) code(ctx context.Context, r Request, code string) error {
	idx := s.senderIndex(r.Channel, r.From)
	var (
		sealed   []byte
		ok       bool
		failures int
		orig     Request
	)
	// One transaction per answer, and the row locked by its first
	// statement: of several answers at once, the first decides, and a
	// wrong one takes the code with it, so one live code is checked once.
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		now := s.now()
		res, err := tx.Exec(ctx, `UPDATE selfservice_senders SET updated_at = ?, purge_after = ? WHERE sender_index = ?`, now, s.purgeAfter(now), idx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Nothing asked from this sender (or forgotten): a guess all
			// the same, counted like any wrong code.
			return tx.QueryRow(ctx, `INSERT INTO selfservice_senders (sender_index, failures, updated_at, purge_after) VALUES (?, 1, ?, ?)
				ON CONFLICT (sender_index) DO UPDATE SET failures = selfservice_senders.failures + 1 RETURNING failures`,
				idx, now, s.purgeAfter(now)).Scan(&failures)
		}
		var hash *string
		var expires *time.Time
		if err := tx.QueryRow(ctx, `SELECT otp_hash, otp_request, otp_expires FROM selfservice_senders WHERE sender_index = ?`, idx).
			Scan(&hash, &sealed, &expires); err != nil {
			return err
		}
		want := s.hashCode(idx, code)
		ok = hash != nil && expires != nil && now.Before(*expires) && hmac.Equal([]byte(*hash), []byte(want))
		// Right or wrong, the code is used up.
		if ok {
			plain, err := s.sealer.Open(sealed)
			if err != nil {
				return fmt.Errorf("open pending request: %w", err)
			}
			if err := json.Unmarshal(plain, &orig); err != nil {
				return fmt.Errorf("pending request: %w", err)
			}
			// A retry after a crash must not check the used-up code again.
			if err := s.becomeFulfil(ctx, tx, orig); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE selfservice_senders SET otp_hash = NULL, otp_request = NULL, otp_expires = NULL WHERE sender_index = ?`, idx)
			return err
		}
		// A wrong code counts like a wrong birth date: guessing either is
		// the same attack.
		return tx.QueryRow(ctx, `UPDATE selfservice_senders SET otp_hash = NULL, otp_request = NULL, otp_expires = NULL,
			failures = failures + 1 WHERE sender_index = ? RETURNING failures`, idx).Scan(&failures)
	})
	if err != nil {
		return fmt.Errorf("selfservice: check code: %w", err)
	}
	if !ok {
		text, outcome := T(r.Lang, "otp_wrong", nil), "otp_wrong"
		if failures < s.cfg.MaxFailures {
			return s.answer(ctx, r, "", outcome, text, nil)
		}
		return s.answer(ctx, r, "", "otp_wrong_locked", T(r.Lang, "locked", nil), func(tx *store.Tx) error { return s.lock(ctx, tx, idx) })
	}
	return s.lookUpAndFulfil(ctx, orig)
}

// lookUpAndFulfil answers a request whose one-time code was accepted.
func (s *Service) lookUpAndFulfil(ctx context.Context, orig Request) error {
	ref := s.personRef(orig.Fields["nik"])
	person, err := s.findPerson(ctx, orig.Fields["nik"], orig.Fields["dob"])
	if err != nil {
		return s.unavailable(ctx, orig, ref, err)
	}
	return s.fulfil(ctx, orig, ref, person)
}

func (s *Service) sendOTP(ctx context.Context, r Request, ref, idx string, p registry.Person) error {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return fmt.Errorf("selfservice: code: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("selfservice: pending request: %w", err)
	}
	// The code goes to the registered number on WhatsApp; in a demo on
	// another channel, to that number on the same channel.
	otpChannel := "whatsapp"
	if r.Channel != "whatsapp" {
		otpChannel = r.Channel
	}
	lang := "id"
	if r.Lang == "en" {
		lang = "en"
	}
	// The asker is not told which number the code went to: even its last
	// digits tell a stranger something about the person they looked up.
	return s.answer(ctx, r, ref, "otp_sent", T(r.Lang, "otp_sent", nil), func(tx *store.Tx) error {
		// Only the code's columns: the count is another statement's.
		if _, err := tx.Exec(ctx, `UPDATE selfservice_senders SET otp_hash = ?, otp_request = ?, otp_expires = ? WHERE sender_index = ?`,
			s.hashCode(idx, code), s.sealer.Seal(raw), s.now().Add(s.cfg.OTPTTL), idx); err != nil {
			return fmt.Errorf("selfservice: store code: %w", err)
		}
		// Outside WhatsApp's 24-hour window the Cloud API sends only a
		// template: these name Meta's authentication template and its
		// parameter.
		_, err := s.outbox.Enqueue(ctx, tx, channels.Outbound{Channel: otpChannel, To: p.Phone, Kind: "otp",
			Text: T(r.Lang, "otp_message", map[string]string{"code": code}),
			Meta: map[string]string{"template": "otp", "code": code, "lang": lang}})
		return err
	})
}

// hashCode is the stored form of a one-time code: keyed with the data key,
// so a copy of the database without the key does not give a live code
// away by hashing the million candidates.
func (s *Service) hashCode(idx, code string) string {
	return s.sealer.Index("selfservice-otp:" + idx + ":" + code)
}

// samePhone compares a sender address with a registered number, both read
// as Indonesian numbers.
func samePhone(from, registered string) bool {
	norm := func(s string) string {
		s = strings.TrimSuffix(s, "@s.whatsapp.net")
		if !strings.HasPrefix(s, "+") && strings.HasPrefix(s, "62") {
			s = "+" + s
		}
		n, err := phonenumbers.Parse(s, "ID")
		if err != nil {
			return ""
		}
		return phonenumbers.Format(n, phonenumbers.E164)
	}
	a := norm(from)
	return a != "" && a == norm(registered)
}

// unavailable answers a registry failure: "try later", and a "certificate
// missing" report is filed anyway so that nothing the citizen gave is lost.
func (s *Service) unavailable(ctx context.Context, r Request, ref string, err error) error {
	s.log.Warn("selfservice: registry unavailable", "kind", r.Kind, "err", err)
	if r.Kind == tickets.CertificateMissing {
		return s.fileTicket(ctx, r, ref, "unavailable_filed", "registry_unavailable",
			map[string]string{"registry_result": "registry unavailable at " + s.now().Format(time.RFC3339)})
	}
	return s.answer(ctx, r, ref, "registry_unavailable", T(r.Lang, "unavailable", nil), nil)
}

// fulfil answers an authorised request from the registry's doses.
func (s *Service) fulfil(ctx context.Context, r Request, ref string, p registry.Person) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.LookupTimeout)
	defer cancel()
	doses, err := s.registry.Immunizations(rctx, p.ID)
	if err != nil {
		return s.unavailable(ctx, r, ref, err)
	}
	name := p.Name
	switch {
	case r.Kind == tickets.VaccinationStatus && len(doses) == 0:
		return s.answer(ctx, r, ref, "status_none", T(r.Lang, "status_none", map[string]string{"name": name}), nil)
	case r.Kind == tickets.VaccinationStatus:
		var lines []string
		for _, d := range doses {
			lines = append(lines, T(r.Lang, "dose_line", map[string]string{"n": fmt.Sprint(d.DoseNumber),
				"date": longDate(r.Lang, d.Date), "vaccine": d.VaccineName, "place": orDash(d.Place)}))
		}
		return s.answerWith(ctx, r, ref, "status_sent", T(r.Lang, "status", map[string]string{"name": name, "doses": strings.Join(lines, "\n")}), nil, nil)
	case len(doses) == 0 && r.Kind == tickets.CertificateMissing:
		return s.fileTicket(ctx, r, ref, "missing_filed", "no_dose_filed",
			map[string]string{"registry_result": fmt.Sprintf("patient %s found; no completed Immunization recorded (checked %s)", p.ID, s.now().Format(time.RFC3339))})
	case len(doses) == 0:
		return s.answer(ctx, r, ref, "certificate_none", T(r.Lang, "cert_none", map[string]string{"name": name}), nil)
	}
	pdf, err := s.certificatePDF(p, doses)
	if err != nil {
		return err
	}
	att := channels.Attachment{Name: "sertifikat-vaksin.pdf", ContentType: "application/pdf", Data: pdf}
	return s.answerWith(ctx, r, ref, "certificate_sent", T(r.Lang, "certificate", map[string]string{"name": name, "verify": s.cfg.VerifyURL}), []channels.Attachment{att}, nil)
}

// fileTicket files r as the ticket the complaint flow would have filed,
// with what the registry said beside the citizen's answers.
func (s *Service) fileTicket(ctx context.Context, r Request, ref, textKey, outcome string, extra map[string]string) error {
	fields := map[string]string{}
	for k, v := range r.Fields {
		fields[k] = v
	}
	for k, v := range extra {
		fields[k] = v
	}
	var number string
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := done(ctx, tx); err != nil {
			return err
		}
		t, err := s.tickets.Create(ctx, tx, tickets.NewTicket{ContactID: r.ContactID, Channel: r.Channel,
			Subject: subjectFor(r.Kind), Category: r.Kind, Fields: fields})
		if err != nil {
			return err
		}
		number = t.Number
		if err := s.record(ctx, tx, r, ref, outcome); err != nil {
			return err
		}
		_, err = s.enqueue(ctx, tx, r, "reply", T(r.Lang, textKey, map[string]string{"ticket": t.Number}), nil, t.ID, t.Number)
		return err
	})
	if err != nil {
		return fmt.Errorf("selfservice: file ticket: %w", err)
	}
	s.log.Info("selfservice: ticket filed", "ticket", number, "outcome", outcome)
	return nil
}

func subjectFor(kind string) string {
	switch kind {
	case tickets.CertificateMissing:
		return "Sertifikat vaksin belum muncul"
	case tickets.VaccinationStatus:
		return "Status vaksinasi"
	}
	return "Unduh sertifikat vaksin"
}

func (s *Service) answer(ctx context.Context, r Request, ref, outcome, text string, also func(tx *store.Tx) error) error {
	return s.answerWith(ctx, r, ref, outcome, text, nil, also)
}

// answerWith sends text (and attachments) to the requester and audits the
// look-up, in one transaction with whatever else also writes.
func (s *Service) answerWith(ctx context.Context, r Request, ref, outcome, text string, atts []channels.Attachment, also func(tx *store.Tx) error) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := done(ctx, tx); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if err := s.record(ctx, tx, r, ref, outcome); err != nil {
			return err
		}
		_, err := s.enqueue(ctx, tx, r, kindFor(outcome), text, atts, 0, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("selfservice: answer %s: %w", outcome, err)
	}
	s.log.Info("selfservice: answered", "kind", r.Kind, "channel", r.Channel, "outcome", outcome)
	return nil
}

// kindFor is the outbox kind of an answer. A status or a certificate is
// health data: sent as an export, the outbox drops its payload once it is
// delivered instead of keeping it for the outbox retention.
func kindFor(outcome string) string {
	if outcome == "status_sent" || outcome == "certificate_sent" {
		return channels.KindExport
	}
	return "reply"
}

func (s *Service) enqueue(ctx context.Context, tx *store.Tx, r Request, kind, text string, atts []channels.Attachment, ticketID int64, number string) (string, error) {
	m := channels.Outbound{Channel: r.Channel, To: r.From, Kind: kind, Text: text, Attachments: atts, TicketID: ticketID}
	if number != "" {
		m.Meta = map[string]string{"ticket_number": number}
	}
	id, err := s.outbox.Enqueue(ctx, tx, m)
	if err != nil {
		return "", err
	}
	// The conversation shows what the bot sent, as for every bot reply.
	_, err = s.tickets.AddMessage(ctx, tx, tickets.NewMessage{ContactID: r.ContactID, TicketID: ticketID, Direction: "out",
		Channel: r.Channel, Author: "bot", Text: text, ExternalID: id, Fresh: ticketID != 0})
	return id, err
}

// record audits one look-up: who asked (the contact), about whom (the
// keyed hash of the NIK), and the outcome. Never the NIK itself.
func (s *Service) record(ctx context.Context, tx *store.Tx, r Request, ref, outcome string) error {
	s.outcomes.WithLabelValues(r.Kind, outcome).Inc()
	return audit.Record(ctx, tx, fmt.Sprintf("citizen:%d", r.ContactID), "selfservice."+r.Kind, "person", ref,
		"outcome="+outcome+" channel="+r.Channel)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func longDate(lang string, t time.Time) string {
	if lang == "en" {
		return fmt.Sprintf("%d %s %d", t.Day(), monthEN[t.Month()-1], t.Year())
	}
	return fmt.Sprintf("%d %s %d", t.Day(), bulanID[t.Month()-1], t.Year())
}

// Jobs are the service's scheduled work: forgetting senders a day after
// their last request (attempt counts, stops, expired codes).
func (s *Service) Jobs() []jobs.Job {
	return []jobs.Job{{Name: "purge-selfservice", Spec: "0 20 * * * *", Timeout: 5 * time.Minute,
		Description: "forget self-service senders (attempt counts, one-time codes) a day after their last request",
		Run:         func(ctx context.Context, env jobs.Env) (int64, error) { return s.Purge(ctx) }}}
}

// annotate puts the registry's current values beside a change-of-data
// request (ticket ticketID, already filed), so that the operator who makes
// the change in the registry sees both. Nothing is shown to the citizen,
// so a miss is not counted against the sender.
func (s *Service) annotate(ctx context.Context, ticketID int64, r Request) error {
	nik := r.Fields["nik"]
	ref := s.personRef(nik)
	// The birth date given is the one on record, unless the birth date is
	// what is being corrected and the registry already has the new one.
	dates := []string{r.Fields["dob"]}
	if r.Fields["data_field"] == "dob" && r.Fields["new_value"] != "" {
		dates = append(dates, r.Fields["new_value"])
	}
	var p registry.Person
	var err error
	for _, d := range dates {
		if p, err = s.findPerson(ctx, nik, d); !errors.Is(err, registry.ErrNoMatch) {
			break
		}
	}
	add := map[string]string{}
	outcome := "annotated"
	switch {
	case errors.Is(err, registry.ErrNoMatch):
		add["registry_result"] = "no record with this NIK and the birth date given"
		outcome = "no_match"
	case err != nil:
		add["registry_result"] = "registry unavailable at " + s.now().Format(time.RFC3339)
		outcome = "registry_unavailable"
	default:
		add["registry_result"] = "record " + p.ID + " as of " + s.now().Format(time.RFC3339)
		add["registry_name"], add["registry_dob"], add["registry_phone"] = p.Name, p.BirthDate, p.Phone
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := done(ctx, tx); err != nil {
			return err
		}
		if err := s.tickets.UpdateFields(ctx, tx, ticketID, add); err != nil {
			return err
		}
		return s.record(ctx, tx, r, ref, outcome)
	})
	if err != nil {
		return fmt.Errorf("selfservice: annotate: %w", err)
	}
	return nil
}

// senderChannels are the channels whose senders can have a row here.
var senderChannels = []string{"whatsapp", "simulator"}

func (s *Service) senderIndexes(addresses []string) []any {
	var idx []any
	for _, a := range addresses {
		for _, ch := range senderChannels {
			idx = append(idx, s.senderIndex(ch, a))
		}
	}
	return idx
}

// SenderRecord is what self-service holds about a sender, for a data
// export: no NIK, no code, only the counts and times that govern them.
type SenderRecord struct {
	FailedAttempts int        `json:"failedAttempts"`
	StoppedUntil   *time.Time `json:"stoppedUntil,omitempty"`
	CodePending    bool       `json:"codePending"`
	LastRequest    time.Time  `json:"lastRequest"`
}

// ExportSenders lists the rows of the citizen's addresses.
func (s *Service) ExportSenders(ctx context.Context, addresses []string) ([]SenderRecord, error) {
	idx := s.senderIndexes(addresses)
	if len(idx) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT failures, locked_until, otp_hash IS NOT NULL, updated_at FROM selfservice_senders WHERE sender_index IN (?`+strings.Repeat(", ?", len(idx)-1)+`)`, idx...)
	if err != nil {
		return nil, fmt.Errorf("selfservice: export: %w", err)
	}
	defer rows.Close()
	out := []SenderRecord{}
	for rows.Next() {
		var r SenderRecord
		if err := rows.Scan(&r.FailedAttempts, &r.StoppedUntil, &r.CodePending, &r.LastRequest); err != nil {
			return nil, fmt.Errorf("selfservice: export: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// EraseSenders deletes the rows of the citizen's addresses (their pending
// request holds a NIK and a birth date, sealed) and empties the registry
// cache, which is keyed by hashes this package cannot trace to a contact.
func (s *Service) EraseSenders(ctx context.Context, tx *store.Tx, addresses []string) (int64, error) {
	if f, ok := s.registry.(interface{ Forget() }); ok {
		f.Forget()
	}
	idx := s.senderIndexes(addresses)
	if len(idx) == 0 {
		return 0, nil
	}
	res, err := tx.Exec(ctx, `DELETE FROM selfservice_senders WHERE sender_index IN (?`+strings.Repeat(", ?", len(idx)-1)+`)`, idx...)
	if err != nil {
		return 0, fmt.Errorf("selfservice: erase: %w", err)
	}
	return res.RowsAffected()
}
