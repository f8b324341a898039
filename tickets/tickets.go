// Package tickets owns the service desk's records: contacts (one per channel
// address, linkable across channels into one person), tickets with human
// numbers PL-YYYY-NNNNNN, the conversation log (messages in and out, with
// attachments sealed at rest), categories, the status workflow, SLA
// timestamps and full-text search.
//
// Writes take a *store.Tx so that the bot can store a message, its ticket and
// the outbox rows for the reply in one transaction.
package tickets

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"lindungi/coded"
	"lindungi/store"
)

// Categories from what citizens actually wrote (MISSION.md). The keys are
// stored and served by the API; the bot's engine, intents, texts and the
// console's labels use the same ones (bot's and web's vocabulary tests).
const (
	CertificateMissing  = "certificate_missing"
	ChangeData          = "change_data"
	NIKMisuse           = "nik_misuse"
	VaccinationStatus   = "vaccination_status"
	CertificateDownload = "certificate_download"
	LoginProblem        = "login_problem"
	Sijejak             = "sijejak"
	Other               = "other"
)

// Categories lists them in the menu's order.
var Categories = []string{
	CertificateMissing, ChangeData, NIKMisuse, VaccinationStatus,
	CertificateDownload, LoginProblem, Sijejak, Other,
}

// Channels are the channels a ticket can come from (the channel adapters'
// names); a list filter naming another is a mistake, not an empty queue.
// "phone" is the 119 ext. 9 call centre: its tickets are logged by an agent
// in the console, and there is no outbound adapter of that name.
var Channels = []string{"whatsapp", "email", "simulator", Phone}

// Phone is the call centre's channel.
const Phone = "phone"

// MaxQueryBytes bounds a search text: longer is a paste accident, and every
// term costs an index lookup.
const MaxQueryBytes = 1024

// Statuses in workflow order.
const (
	Open     = "open"
	Pending  = "pending"
	Resolved = "resolved"
	Closed   = "closed"
)

// Statuses lists them in workflow order.
var Statuses = []string{Open, Pending, Resolved, Closed}

// allowed lists the status changes an operator may make. Closed is final; a
// citizen reply reopens a resolved ticket (Reopen, not a PATCH).
var allowed = map[string][]string{
	Open:     {Pending, Resolved, Closed},
	Pending:  {Open, Resolved, Closed},
	Resolved: {Open, Closed},
	Closed:   {},
}

// Config tunes the ticket desk (config keys tickets.*).
type Config struct {
	SLA                time.Duration // tickets.sla: first response due within
	MaxAttachmentBytes int           // tickets.max_attachment_bytes: one stored attachment
}

// DefaultConfig is the desk's setup when nothing is configured;
// config.Default carries the same values (a test checks they agree).
func DefaultConfig() Config {
	return Config{SLA: 24 * time.Hour, MaxAttachmentBytes: DefaultMaxAttachmentBytes}
}

// Store reads and writes tickets.
type Store struct {
	db     *store.DB
	sealer *store.Sealer
	cfg    Config
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New makes a Store.
func New(db *store.DB, sealer *store.Sealer) *Store {
	return NewStore(db, sealer, DefaultConfig())
}

// NewStore makes a Store with cfg; zero fields take DefaultConfig's values.
func NewStore(db *store.DB, sealer *store.Sealer, cfg Config) *Store {
	def := DefaultConfig()
	if cfg.SLA <= 0 {
		cfg.SLA = def.SLA
	}
	if cfg.MaxAttachmentBytes <= 0 {
		cfg.MaxAttachmentBytes = def.MaxAttachmentBytes
	}
	return &Store{db: db, sealer: sealer, cfg: cfg, Now: store.Now}
}

// DB exposes the database for packages that share a transaction.
func (s *Store) DB() *store.DB { return s.db }

// Contact is one channel address of a citizen.
type Contact struct {
	ID       int64  `json:"id"`
	Channel  string `json:"channel"`
	Address  string `json:"address"`
	Name     string `json:"name"`
	Lang     string `json:"lang"`
	PersonID int64  `json:"personId"`
	// Created says UpsertContact made this contact just now (so nothing
	// has been sent to it yet); not stored.
	Created bool `json:"-"`
}

// UpsertContact finds or creates the contact for (channel, address) and
// refreshes its display name.
func (s *Store) UpsertContact(ctx context.Context, tx *store.Tx, channel, address, name string) (Contact, error) {
	now := s.Now()
	c := Contact{Channel: channel, Address: address}
	err := tx.QueryRow(ctx, `SELECT id, name, lang, COALESCE(person_id, 0) FROM contacts WHERE channel = ? AND address = ?`, channel, address).
		Scan(&c.ID, &c.Name, &c.Lang, &c.PersonID)
	switch {
	case err == nil:
		if name != "" && name != c.Name {
			if _, err := tx.Exec(ctx, `UPDATE contacts SET name = ?, updated_at = ? WHERE id = ?`, name, now, c.ID); err != nil {
				return c, fmt.Errorf("tickets: update contact: %w", err)
			}
			c.Name = name
		}
		return c, nil
	case errors.Is(err, sql.ErrNoRows):
	default:
		return c, fmt.Errorf("tickets: find contact: %w", err)
	}
	c.Name, c.Lang = name, "id"
	if c.ID, err = tx.InsertID(ctx, contactInsert, contactRow(c, now)...); err != nil {
		return c, fmt.Errorf("tickets: create contact: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE contacts SET person_id = id WHERE id = ?`, c.ID); err != nil {
		return c, fmt.Errorf("tickets: create contact: %w", err)
	}
	c.PersonID, c.Created = c.ID, true
	return c, nil
}

// contactInsertCols and contactRow are the one definition of a new
// contact's row, for UpsertContact and Staged.Contact.
var contactInsertCols = []string{"channel", "address", "name", "lang", "created_at", "updated_at"}

// contactInsert is UpsertContact's statement.
var contactInsert = insertReturningID("contacts", contactInsertCols)

func contactRow(c Contact, now time.Time) []any {
	return []any{c.Channel, c.Address, c.Name, c.Lang, now, now}
}

// ContactsByAddress looks up the contacts of many addresses of one channel
// at once; an address without a contact is absent from the map.
func (s *Store) ContactsByAddress(ctx context.Context, tx *store.Tx, channel string, addresses []string) (map[string]Contact, error) {
	out := make(map[string]Contact, len(addresses))
	err := store.InBatches(addresses, func(part []string) error {
		in, args := store.InList(part)
		rows, err := tx.Query(ctx, `SELECT id, address, name, lang, COALESCE(person_id, 0) FROM contacts WHERE channel = ? AND address IN (`+in+`)`, append([]any{channel}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			c := Contact{Channel: channel}
			if err := rows.Scan(&c.ID, &c.Address, &c.Name, &c.Lang, &c.PersonID); err != nil {
				return err
			}
			out[c.Address] = c
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: find contacts: %w", err)
	}
	return out, nil
}

// SetContactLang remembers the language a citizen chose.
func (s *Store) SetContactLang(ctx context.Context, tx *store.Tx, contactID int64, lang string) error {
	_, err := tx.Exec(ctx, `UPDATE contacts SET lang = ?, updated_at = ? WHERE id = ?`, lang, s.Now(), contactID)
	return err
}

// LinkContacts makes two contacts one person (e.g. the same citizen on
// WhatsApp and e-mail), so exports and deletions cover both.
func (s *Store) LinkContacts(ctx context.Context, tx *store.Tx, a, b int64) error {
	var pa, pb int64
	if err := tx.QueryRow(ctx, `SELECT person_id FROM contacts WHERE id = ?`, a).Scan(&pa); err != nil {
		return fmt.Errorf("tickets: link: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT person_id FROM contacts WHERE id = ?`, b).Scan(&pb); err != nil {
		return fmt.Errorf("tickets: link: %w", err)
	}
	_, err := tx.Exec(ctx, `UPDATE contacts SET person_id = ? WHERE person_id = ?`, pa, pb)
	return err
}

// ContactByAddress looks a contact up.
func (s *Store) ContactByAddress(ctx context.Context, channel, address string) (Contact, error) {
	c := Contact{Channel: channel, Address: address}
	err := s.db.QueryRow(ctx, `SELECT id, name, lang, COALESCE(person_id, 0) FROM contacts WHERE channel = ? AND address = ?`, channel, address).
		Scan(&c.ID, &c.Name, &c.Lang, &c.PersonID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, store.ErrNotFound
	}
	return c, err
}

// Ticket is a complaint and its workflow state.
type Ticket struct {
	ID          int64             `json:"-"`
	Number      string            `json:"id"`
	ContactID   int64             `json:"-"`
	Channel     string            `json:"channel"`
	Contact     string            `json:"contact"` // the channel address
	ContactName string            `json:"contactName"`
	Subject     string            `json:"subject"`
	Category    string            `json:"category"`
	Status      string            `json:"status"`
	Assignee    string            `json:"assignee"`
	HandedOff   bool              `json:"handedOff"`
	Flags       []string          `json:"flags"`
	NIKMasked   string            `json:"nik,omitempty"`
	Fields      map[string]string `json:"fields,omitempty"` // only in detail views
	Rating      int               `json:"rating,omitempty"`
	// CSATComment is what the citizen wrote after rating the service.
	CSATComment string `json:"csatComment,omitempty"`
	ThreadRef   string `json:"-"`
	// Mailbox is the address an e-mail ticket came in through.
	Mailbox         string     `json:"mailbox,omitempty"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	FirstResponseAt *time.Time `json:"firstResponseAt,omitempty"`
	ResolvedAt      *time.Time `json:"resolvedAt,omitempty"`
	ClosedAt        *time.Time `json:"closedAt,omitempty"`
	// AnswerVia and CallbackDue: how a 119 call is answered (phone tickets).
	AnswerVia   string     `json:"answerVia,omitempty"`
	CallbackDue *time.Time `json:"callbackDue,omitempty"`
}

// NewTicket is what Create needs.
type NewTicket struct {
	ContactID int64
	Channel   string
	Subject   string
	Category  string
	Fields    map[string]string // name, nik, dob, phone … sealed at rest
	Flags     []string
	ThreadRef string
	Mailbox   string // e-mail: the mailbox the first mail came to
	HandedOff bool
}

// MaskNIK shows the region and serial, hiding the birth date and district:
// 3174********0001. Anything that is not 16 digits is fully masked.
func MaskNIK(nik string) string {
	if len(nik) != 16 {
		if nik == "" {
			return ""
		}
		return "****************"
	}
	return nik[:4] + "********" + nik[12:]
}

// nextNumber takes the year's next ticket sequence number in tx. The row
// stays locked (PostgreSQL) or the database write-locked (SQLite) until tx
// ends, so two tickets never share a number. On SQLite an UPDATE and a
// point SELECT cost less than UPDATE … RETURNING, which materialises its
// result (measured: a sixth of an e-mail's intake went to it).
func nextNumber(ctx context.Context, tx *store.Tx, year int) (int64, error) {
	var seq int64
	if tx.Dialect() == store.SQLite {
		res, err := tx.Exec(ctx, `UPDATE ticket_counters SET last = last + 1 WHERE year = ?`, year)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			err = tx.QueryRow(ctx, `SELECT last FROM ticket_counters WHERE year = ?`, year).Scan(&seq)
			return seq, err
		}
	} else {
		err := tx.QueryRow(ctx, `UPDATE ticket_counters SET last = last + 1 WHERE year = ? RETURNING last`, year).Scan(&seq)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return seq, err
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO ticket_counters (year, last) VALUES (?, 1)`, year)
	return 1, err
}

// Create opens a ticket with the next number of the year.
func (s *Store) Create(ctx context.Context, tx *store.Tx, nt NewTicket) (Ticket, error) {
	now := s.Now()
	seq, err := nextNumber(ctx, tx, now.In(jakarta).Year())
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: next number: %w", err)
	}
	t, vals, err := s.ticketRow(nt, seq, now)
	if err != nil {
		return t, err
	}
	t.ID, err = tx.InsertID(ctx, ticketInsert, vals...)
	if err != nil {
		return t, fmt.Errorf("tickets: create: %w", err)
	}
	return t, nil
}

// ticketInsertCols and ticketRow are the one definition of a new ticket's
// row, for Create and Staged.Ticket.
var ticketInsertCols = []string{"number", "contact_id", "channel", "subject", "category", "status", "handed_off", "flags", "fields_sealed", "nik_masked", "thread_ref", "mailbox", "created_at", "updated_at"}

// ticketInsert is Create's statement.
var ticketInsert = insertReturningID("tickets", ticketInsertCols)

// ticketRow builds ticket number seq of now's year (Jakarta time) and its
// column values in ticketInsertCols order.
func (s *Store) ticketRow(nt NewTicket, seq int64, now time.Time) (Ticket, []any, error) {
	if nt.Category == "" {
		nt.Category = Other
	}
	t := Ticket{
		Number: fmt.Sprintf("PL-%d-%06d", now.In(jakarta).Year(), seq), ContactID: nt.ContactID, Channel: nt.Channel,
		Subject: nt.Subject, Category: nt.Category, Status: Open, Flags: nt.Flags, HandedOff: nt.HandedOff,
		NIKMasked: MaskNIK(nt.Fields["nik"]), ThreadRef: nt.ThreadRef, Mailbox: nt.Mailbox, CreatedAt: now, UpdatedAt: now,
	}
	sealed, err := s.sealFields(nt.Fields)
	if err != nil {
		return t, nil, err
	}
	return t, []any{t.Number, t.ContactID, t.Channel, t.Subject, t.Category, t.Status, t.HandedOff, strings.Join(t.Flags, ","), sealed, t.NIKMasked, t.ThreadRef, t.Mailbox, now, now}, nil
}

// insertReturningID is a one-row INSERT of cols into table that returns
// the new id (store.Tx.InsertID).
func insertReturningID(table string, cols []string) string {
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + store.Placeholders(len(cols)) + ") RETURNING id"
}

var jakarta = func() *time.Location {
	l, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		return time.FixedZone("WIB", 7*3600)
	}
	return l
}()

func (s *Store) sealFields(f map[string]string) ([]byte, error) {
	if len(f) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return s.sealer.Seal(b), nil
}

// UpdateFields merges fields into a ticket's sealed fields.
func (s *Store) UpdateFields(ctx context.Context, tx *store.Tx, ticketID int64, add map[string]string) error {
	var sealed []byte
	if err := tx.QueryRow(ctx, `SELECT fields_sealed FROM tickets WHERE id = ?`, ticketID).Scan(&sealed); err != nil {
		return fmt.Errorf("tickets: fields: %w", err)
	}
	f, err := s.openFields(sealed)
	if err != nil {
		return err
	}
	if f == nil {
		f = map[string]string{}
	}
	for k, v := range add {
		f[k] = v
	}
	ns, err := s.sealFields(f)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE tickets SET fields_sealed = ?, nik_masked = ?, updated_at = ? WHERE id = ?`, ns, MaskNIK(f["nik"]), s.Now(), ticketID)
	return err
}

func (s *Store) openFields(sealed []byte) (map[string]string, error) {
	if len(sealed) == 0 {
		return nil, nil
	}
	b, err := s.sealer.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("tickets: open fields: %w", err)
	}
	var f map[string]string
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tickets: fields: %w", err)
	}
	return f, nil
}

const ticketCols = `t.id, t.number, t.contact_id, t.channel, c.address, c.name, t.subject, t.category, t.status, t.assignee, t.handed_off, t.flags,
	t.nik_masked, t.rating, t.thread_ref, t.mailbox, t.created_at, t.updated_at, t.first_response_at, t.resolved_at, t.closed_at,
	t.answer_via, t.callback_due, t.csat_comment`

type scanner interface{ Scan(dest ...any) error }

func scanTicket(r scanner) (Ticket, error) {
	var t Ticket
	var flags string
	var fr, rs, cl, cb sql.NullTime
	err := r.Scan(&t.ID, &t.Number, &t.ContactID, &t.Channel, &t.Contact, &t.ContactName, &t.Subject, &t.Category, &t.Status, &t.Assignee,
		&t.HandedOff, &flags, &t.NIKMasked, &t.Rating, &t.ThreadRef, &t.Mailbox, &t.CreatedAt, &t.UpdatedAt, &fr, &rs, &cl, &t.AnswerVia, &cb, &t.CSATComment)
	if err != nil {
		return t, err
	}
	t.Flags = splitFlags(flags)
	t.FirstResponseAt, t.ResolvedAt, t.ClosedAt, t.CallbackDue = ptr(fr), ptr(rs), ptr(cl), ptr(cb)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

func splitFlags(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func ptr(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

// ActiveFor returns the contact's newest ticket that is not closed, or nil.
func (s *Store) ActiveFor(ctx context.Context, tx *store.Tx, contactID int64) (*Ticket, error) {
	t, err := scanTicket(tx.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets t JOIN contacts c ON c.id = t.contact_id
		WHERE t.contact_id = ? AND t.status <> 'closed' ORDER BY t.id DESC LIMIT 1`, contactID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tickets: active ticket: %w", err)
	}
	return &t, nil
}

// ByNumberTx finds a ticket by number inside a transaction.
func (s *Store) ByNumberTx(ctx context.Context, tx *store.Tx, number string) (*Ticket, error) {
	t, err := scanTicket(tx.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE t.number = ?`, number))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tickets: by number: %w", err)
	}
	return &t, nil
}

// ByExternalMessage finds the ticket of an inbound message by its channel ID
// (e-mail threading: In-Reply-To/References point at earlier Message-IDs;
// our own outgoing ones carry the ticket number and are read before). An ID
// also matches external IDs that extend it after a colon, because e-mail
// external IDs are "<Message-ID>:<content hash>".
func (s *Store) ByExternalMessage(ctx context.Context, tx *store.Tx, channel string, externalIDs ...string) (*Ticket, error) {
	for _, id := range externalIDs {
		if id == "" {
			continue
		}
		var tid int64
		// The dedupe key of every inbound message is its external ID (kept
		// as long as the message; migration 0011). The range (id":", id";")
		// is the prefix id":" on the key's index.
		err := tx.QueryRow(ctx, `SELECT m.ticket_id FROM inbound_keys k JOIN messages m ON m.id = k.message_id
			WHERE k.channel = ? AND (k.external_id = ? OR (k.external_id > ? AND k.external_id < ?)) AND m.ticket_id IS NOT NULL
			ORDER BY m.id DESC LIMIT 1`, channel, id, id+":", id+";").Scan(&tid)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tickets: by message: %w", err)
		}
		t, err := scanTicket(tx.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE t.id = ?`, tid))
		if err != nil {
			return nil, fmt.Errorf("tickets: by message: %w", err)
		}
		return &t, nil
	}
	return nil, nil
}

// Resolve finds a ticket by number (PL-…) or internal ID, as the API's {id}.
func (s *Store) Resolve(ctx context.Context, ref string) (Ticket, error) {
	q := `SELECT ` + ticketCols + ` FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE t.number = ?`
	var arg any = strings.ToUpper(ref)
	if n, err := strconv.ParseInt(ref, 10, 64); err == nil {
		q = `SELECT ` + ticketCols + ` FROM tickets t JOIN contacts c ON c.id = t.contact_id WHERE t.id = ?`
		arg = n
	}
	t, err := scanTicket(s.db.QueryRow(ctx, q, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return t, coded.New(coded.NotFound, "ticket_not_found", "no ticket %s", safeRef(ref))
	}
	if err != nil {
		return t, fmt.Errorf("tickets: get: %w", err)
	}
	return t, nil
}

func safeRef(ref string) string {
	if len(ref) > 40 {
		ref = ref[:40]
	}
	return strconv.Quote(ref)
}

// Detail returns a ticket with its unsealed fields and its messages.
func (s *Store) Detail(ctx context.Context, ref string) (Ticket, []Message, error) {
	t, err := s.Resolve(ctx, ref)
	if err != nil {
		return t, nil, err
	}
	var sealed []byte
	if err := s.db.QueryRow(ctx, `SELECT fields_sealed FROM tickets WHERE id = ?`, t.ID).Scan(&sealed); err != nil {
		return t, nil, fmt.Errorf("tickets: detail: %w", err)
	}
	if t.Fields, err = s.openFields(sealed); err != nil {
		return t, nil, err
	}
	msgs, err := s.Messages(ctx, t.ID)
	return t, msgs, err
}

// Inbox views: the queues an operator works from. Views select; the other
// Filter fields narrow within them.
const (
	ViewAll        = "all"
	ViewUnassigned = "unassigned" // open or pending, nobody's yet
	ViewMine       = "mine"       // open or pending, assigned to Filter.Me
	ViewWaiting    = "waiting"    // pending: the ball is with the citizen
	ViewBreaching  = "breaching"  // open or pending, no first response, past the SLA
)

// Views lists them in the console's tab order.
var Views = []string{ViewUnassigned, ViewMine, ViewAll, ViewWaiting, ViewBreaching}

// Sort orders of List.
const (
	SortNewest = "newest"
	SortOldest = "oldest" // by age: the longest-waiting first
	SortSLA    = "sla"    // tickets still owed a first response first, earliest due first
)

// Sorts lists them.
var Sorts = []string{SortNewest, SortOldest, SortSLA}

// Filter selects tickets for List.
type Filter struct {
	Status, Category, Channel, Q, Assignee string
	View                                   string
	Me                                     string // the asking operator, for ViewMine
	Sort                                   string
	Cursor                                 string
	Limit                                  int
}

// SLA is the configured first-response time.
func (s *Store) SLA() time.Duration { return s.cfg.SLA }

// SLADue is when a ticket's first response is due, or nil once it has been
// answered or is finished (the clock no longer runs).
func (s *Store) SLADue(t Ticket) *time.Time {
	if t.FirstResponseAt != nil || (t.Status != Open && t.Status != Pending) {
		return nil
	}
	if t.CallbackDue != nil {
		// A call-back promised to a 119 caller is due when promised.
		d := *t.CallbackDue
		return &d
	}
	d := t.CreatedAt.Add(s.cfg.SLA)
	return &d
}

// List returns tickets newest first, with a cursor for the next page.
func (s *Store) List(ctx context.Context, f Filter) ([]Ticket, string, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	// A misspelt filter must not look like an empty queue.
	if f.Status != "" && allowed[f.Status] == nil {
		return nil, "", coded.New(coded.Invalid, "bad_status", "unknown status %q; use one of open, pending, resolved, closed", f.Status)
	}
	if f.Category != "" && !validCategory(f.Category) {
		return nil, "", coded.New(coded.Invalid, "bad_category", "unknown category %q; use one of %s", f.Category, strings.Join(Categories, ", "))
	}
	if f.Channel != "" && !slices.Contains(Channels, f.Channel) {
		return nil, "", coded.New(coded.Invalid, "bad_channel", "unknown channel %q; use one of %s", f.Channel, strings.Join(Channels, ", "))
	}
	if err := checkQuery(f.Q); err != nil {
		return nil, "", err
	}
	if f.View != "" && !slices.Contains(Views, f.View) {
		return nil, "", coded.New(coded.Invalid, "bad_view", "unknown view %q; use one of %s", f.View, strings.Join(Views, ", "))
	}
	if f.Sort != "" && !slices.Contains(Sorts, f.Sort) {
		return nil, "", coded.New(coded.Invalid, "bad_sort", "unknown sort %q; use one of %s", f.Sort, strings.Join(Sorts, ", "))
	}
	if f.View == ViewMine && f.Me == "" {
		return nil, "", coded.New(coded.Invalid, "bad_view", "the view mine needs a signed-in operator")
	}
	var where []string
	var args []any
	walk := false // a search that walks the tickets (common words, SQLite)
	add := func(cond string, a any) { where = append(where, cond); args = append(args, a) }
	if f.Status != "" {
		add("t.status = ?", f.Status)
	}
	if f.Category != "" {
		add("t.category = ?", f.Category)
	}
	if f.Channel != "" {
		add("t.channel = ?", f.Channel)
	}
	if f.Assignee != "" {
		add("t.assignee = ?", f.Assignee)
	}
	switch f.View {
	case ViewUnassigned:
		where = append(where, "t.status IN ('open', 'pending')", "t.assignee = ''")
	case ViewMine:
		where = append(where, "t.status IN ('open', 'pending')")
		add("t.assignee = ?", f.Me)
	case ViewWaiting:
		where = append(where, "t.status = 'pending'")
	case ViewBreaching:
		where = append(where, "t.status IN ('open', 'pending')", "t.first_response_at IS NULL")
		add("t.created_at < ?", s.Now().Add(-s.cfg.SLA).UTC())
	}
	// The SLA order puts the tickets still owed a first response first; as
	// the SLA is one duration for all, their due order is their age order.
	// Its cursor carries the group: "0:123" (owed) or "1:123" (answered).
	owed := "(t.first_response_at IS NOT NULL)" // false (0) first: the tickets still owed an answer
	if f.Cursor != "" {
		bad := coded.New(coded.Invalid, "bad_cursor", "cursor is not valid")
		switch f.Sort {
		case SortSLA:
			g, id, ok := strings.Cut(f.Cursor, ":")
			n, err := strconv.ParseInt(id, 10, 64)
			if !ok || err != nil || (g != "0" && g != "1") {
				return nil, "", bad
			}
			// Booleans compare alike in both dialects only as conditions.
			if g == "0" {
				add("(t.first_response_at IS NOT NULL OR t.id > ?)", n)
			} else {
				add("(t.first_response_at IS NOT NULL AND t.id > ?)", n)
			}
		default:
			n, err := strconv.ParseInt(f.Cursor, 10, 64)
			if err != nil {
				return nil, "", bad
			}
			if f.Sort == SortOldest {
				add("t.id > ?", n)
			} else {
				add("t.id < ?", n)
			}
		}
	}
	if q := strings.TrimSpace(f.Q); q != "" {
		if strings.HasPrefix(strings.ToUpper(q), "PL-") {
			add("t.number = ?", strings.ToUpper(q))
		} else if s.db.Dialect() == store.Postgres {
			add(`t.id IN (SELECT ticket_id FROM messages WHERE ticket_id IS NOT NULL AND to_tsvector('simple', subject || ' ' || body) @@ plainto_tsquery('simple', ?))`, q)
		} else if fq := ftsQuery(q); (f.Sort == "" || f.Sort == SortNewest || f.Sort == SortOldest) && s.commonWords(ctx, fq) {
			walk = true
			// Words in many messages: walk the tickets in the page's order
			// and stop at a full page, rather than look up the ticket of
			// every matching message first (600,000 of them for
			// "sertifikat" at a million tickets).
			add(`EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND +m.id IN (SELECT docid FROM messages_fts WHERE messages_fts MATCH ?))`, fq)
		} else {
			add(`t.id IN (SELECT ticket_id FROM messages WHERE ticket_id IS NOT NULL AND id IN (SELECT docid FROM messages_fts WHERE messages_fts MATCH ?))`, fq)
		}
	}
	from := "tickets t"
	if f.View == ViewBreaching && f.Sort != SortSLA && (f.Q == "" || walk) && s.db.Dialect() == store.SQLite {
		// SQLite's planner walks tickets_status (every open ticket) and
		// sorts, rather than the partial tickets_unanswered in id order:
		// 166 ms against under 1 ms at a million tickets. A search that
		// walks the tickets walks these few too.
		from = "tickets t INDEXED BY tickets_unanswered"
	}
	q := `SELECT ` + ticketCols + ` FROM ` + from + ` JOIN contacts c ON c.id = t.contact_id`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	switch f.Sort {
	case SortOldest:
		q += " ORDER BY t.id ASC"
	case SortSLA:
		q += " ORDER BY " + owed + ", t.id ASC"
	default:
		q += " ORDER BY t.id DESC"
	}
	q += fmt.Sprintf(" LIMIT %d", f.Limit+1)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil && f.Q != "" {
		return nil, "", searchError{err}
	}
	if err != nil {
		return nil, "", fmt.Errorf("tickets: list: %w", err)
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, "", fmt.Errorf("tickets: list: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("tickets: list: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = strconv.FormatInt(last.ID, 10)
		if f.Sort == SortSLA {
			g := "1"
			if last.FirstResponseAt == nil {
				g = "0"
			}
			next = g + ":" + next
		}
	}
	return out, next, nil
}

// searchError hides the database's message for a failed search: drivers
// quote the query in it (SQLite: "malformed MATCH expression: [...]"), and
// the search text is personal data that must not reach the log. Unwrap
// keeps the cause for errors.Is/As (a full disk is still recognised).
type searchError struct{ err error }

func (e searchError) Error() string {
	return "tickets: search failed (the database's message is withheld: it may quote the search text)"
}
func (e searchError) Unwrap() error { return e.err }

// checkQuery refuses search text the databases cannot take as it is: a NUL
// byte (PostgreSQL rejects it in a text parameter, SQLite's FTS stops at
// it), other control characters, bytes that are not UTF-8, or a text too
// long to be a search. The message never repeats the text: it is personal
// data (names, NIKs) and error messages end up in logs.
func checkQuery(q string) error {
	if len(q) > MaxQueryBytes {
		return coded.New(coded.Invalid, "bad_query", "q is longer than %d bytes; search for a few words or a ticket number", MaxQueryBytes)
	}
	if !utf8.ValidString(q) {
		return coded.New(coded.Invalid, "bad_query", "q is not valid UTF-8 text")
	}
	for _, r := range q {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return coded.New(coded.Invalid, "bad_query", "q contains a control character (such as a NUL byte); send plain text")
		}
	}
	return nil
}

// ftsQuery turns free text into an FTS4 query of quoted terms (all must
// match), so user input can never be FTS syntax.
// commonMatches is where a search stops counting and walks the tickets
// instead: below it, looking up each match's ticket costs a few
// milliseconds; above it, a page of tickets newest first is found after
// about limit × tickets / matches of them, when the word is spread over
// time. A word common only in old tickets makes the walk long, but no
// longer than looking up every match.
var commonMatches = 20000 // a variable for the test that compares both shapes

// commonWords reports whether the SQLite full-text query fq matches at
// least commonMatches messages (counting stops there).
func (s *Store) commonWords(ctx context.Context, fq string) bool {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT docid FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)`, fq, commonMatches).Scan(&n)
	return err == nil && n >= commonMatches
}

func ftsQuery(q string) string {
	var terms []string
	for _, w := range strings.Fields(q) {
		w = strings.Map(func(r rune) rune {
			if r == '"' || r == '*' || r == '^' {
				return -1
			}
			return r
		}, w)
		if w != "" {
			terms = append(terms, `"`+w+`"`)
		}
	}
	if len(terms) == 0 {
		return `""`
	}
	return strings.Join(terms, " ")
}

// Patch changes an operator may make.
type Patch struct {
	Status   *string `json:"status"`
	Category *string `json:"category"`
	Assignee *string `json:"assignee"`
}

// Update applies an operator's patch, enforcing the workflow.
func (s *Store) Update(ctx context.Context, tx *store.Tx, t Ticket, p Patch) (Ticket, error) {
	now := s.Now()
	if p.Category != nil {
		if !validCategory(*p.Category) {
			return t, coded.New(coded.Invalid, "bad_category", "unknown category %q; use one of %s", *p.Category, strings.Join(Categories, ", "))
		}
		t.Category = *p.Category
	}
	if p.Assignee != nil {
		if len(*p.Assignee) > 100 {
			return t, coded.New(coded.Invalid, "bad_assignee", "assignee is too long")
		}
		t.Assignee = *p.Assignee
	}
	if p.Status != nil && *p.Status != t.Status {
		if allowed[*p.Status] == nil {
			return t, coded.New(coded.Invalid, "bad_status", "unknown status %q; use one of open, pending, resolved, closed", *p.Status)
		}
		if !canMove(t.Status, *p.Status) {
			return t, coded.New(coded.Conflict, "invalid_transition", "a %s ticket cannot become %s", t.Status, strconv.Quote(*p.Status))
		}
		if err := s.setStatus(ctx, tx, &t, *p.Status, now); err != nil {
			return t, err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE tickets SET category = ?, assignee = ?, updated_at = ? WHERE id = ?`, t.Category, t.Assignee, now, t.ID)
	if err != nil {
		return t, fmt.Errorf("tickets: update: %w", err)
	}
	t.UpdatedAt = now
	return t, nil
}

func validCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

func canMove(from, to string) bool {
	for _, s := range allowed[from] {
		if s == to {
			return true
		}
	}
	return false
}

func (s *Store) setStatus(ctx context.Context, tx *store.Tx, t *Ticket, status string, now time.Time) error {
	q := `UPDATE tickets SET status = ?, updated_at = ?`
	args := []any{status, now}
	switch status {
	case Resolved:
		q += `, resolved_at = ?, handed_off = ?`
		args = append(args, now, false)
		t.ResolvedAt, t.HandedOff = &now, false
	case Closed:
		q += `, closed_at = ?, handed_off = ?`
		args = append(args, now, false)
		t.ClosedAt, t.HandedOff = &now, false
		if t.ResolvedAt == nil {
			q += `, resolved_at = ?`
			args = append(args, now)
			t.ResolvedAt = &now
		}
	case Open:
		q += `, resolved_at = NULL`
		t.ResolvedAt = nil
	}
	q += ` WHERE id = ?`
	args = append(args, t.ID)
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		return fmt.Errorf("tickets: status: %w", err)
	}
	t.Status = status
	return nil
}

// SetStatus moves a ticket without operator rules (bot: citizen closes with
// "selesai", citizen reply reopens a resolved ticket).
func (s *Store) SetStatus(ctx context.Context, tx *store.Tx, t *Ticket, status string) error {
	if t.Status == status {
		return nil
	}
	return s.setStatus(ctx, tx, t, status, s.Now())
}

// SetHandedOff marks whether the bot must stay quiet on the ticket.
func (s *Store) SetHandedOff(ctx context.Context, tx *store.Tx, ticketID int64, on bool) error {
	_, err := tx.Exec(ctx, `UPDATE tickets SET handed_off = ?, updated_at = ? WHERE id = ?`, on, s.Now(), ticketID)
	return err
}

// SetRating stores the citizen's satisfaction (1–5).
func (s *Store) SetRating(ctx context.Context, tx *store.Tx, ticketID int64, rating int) error {
	if rating < 1 || rating > 5 {
		return coded.New(coded.Invalid, "bad_rating", "rating must be 1 to 5")
	}
	_, err := tx.Exec(ctx, `UPDATE tickets SET rating = ?, updated_at = ? WHERE id = ?`, rating, s.Now(), ticketID)
	return err
}

// MaxCSATComment caps a citizen's comment on the service (runes).
const MaxCSATComment = 1000

// SetCSATComment stores what the citizen wrote after rating a ticket.
func (s *Store) SetCSATComment(ctx context.Context, tx *store.Tx, ticketID int64, comment string) error {
	comment = strings.TrimSpace(CleanText(comment))
	if r := []rune(comment); len(r) > MaxCSATComment {
		comment = string(r[:MaxCSATComment])
	}
	if comment == "" {
		return nil
	}
	_, err := tx.Exec(ctx, `UPDATE tickets SET csat_comment = ?, updated_at = ? WHERE id = ?`, comment, s.Now(), ticketID)
	if err != nil {
		return fmt.Errorf("tickets: csat comment: %w", err)
	}
	return nil
}

// AddFlag adds a flag (unparseable, sla_breached, delivery_failed) once.
func (s *Store) AddFlag(ctx context.Context, tx *store.Tx, ticketID int64, flag string) error {
	var flags string
	if err := tx.QueryRow(ctx, `SELECT flags FROM tickets WHERE id = ?`, ticketID).Scan(&flags); err != nil {
		return fmt.Errorf("tickets: flag: %w", err)
	}
	fs := splitFlags(flags)
	for _, f := range fs {
		if f == flag {
			return nil
		}
	}
	fs = append(fs, flag)
	_, err := tx.Exec(ctx, `UPDATE tickets SET flags = ?, updated_at = ? WHERE id = ?`, strings.Join(fs, ","), s.Now(), ticketID)
	return err
}

// MarkFirstResponse records the first operator answer (the SLA clock stops).
func (s *Store) MarkFirstResponse(ctx context.Context, tx *store.Tx, ticketID int64) error {
	_, err := tx.Exec(ctx, `UPDATE tickets SET first_response_at = ? WHERE id = ? AND first_response_at IS NULL`, s.Now(), ticketID)
	return err
}

// Touch bumps updated_at (a new message arrived).
func (s *Store) Touch(ctx context.Context, tx *store.Tx, ticketID int64) error {
	_, err := tx.Exec(ctx, `UPDATE tickets SET updated_at = ? WHERE id = ?`, s.Now(), ticketID)
	return err
}

// Take assigns a ticket to operator unless another operator already has it:
// two operators pressing "take" on the same new complaint must not both
// answer it. The check and the write are one statement, so it holds
// without a lock.
func (s *Store) Take(ctx context.Context, tx *store.Tx, ticketID int64, operator string) error {
	res, err := tx.Exec(ctx, `UPDATE tickets SET assignee = ?, updated_at = ? WHERE id = ? AND assignee IN ('', ?) AND status <> 'closed'`,
		operator, s.Now(), ticketID, operator)
	if err != nil {
		return fmt.Errorf("tickets: take: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return coded.New(coded.Conflict, "already_taken", "this ticket is already assigned to another operator, or it is closed")
	}
	return nil
}

// Retitle sets a ticket's subject and category (a hand-off ticket takes
// them from the citizen's first real message).
func (s *Store) Retitle(ctx context.Context, tx *store.Tx, ticketID int64, subject, category string) error {
	if !validCategory(category) {
		return coded.New(coded.Invalid, "bad_category", "unknown category %q", category)
	}
	if _, err := tx.Exec(ctx, `UPDATE tickets SET subject = ?, category = ?, updated_at = ? WHERE id = ?`, subject, category, s.Now(), ticketID); err != nil {
		return fmt.Errorf("tickets: retitle: %w", err)
	}
	return nil
}

// MarkCSATAsked records that the citizen was asked to rate the ticket.
func (s *Store) MarkCSATAsked(ctx context.Context, tx *store.Tx, ticketID int64) error {
	if _, err := tx.Exec(ctx, `UPDATE tickets SET csat_asked_at = ? WHERE id = ?`, s.Now().UTC(), ticketID); err != nil {
		return fmt.Errorf("tickets: csat asked: %w", err)
	}
	return nil
}
