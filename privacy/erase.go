package privacy

import (
	"context"
	"fmt"
	"time"

	"lindungi/audit"
	"lindungi/store"
)

// What anonymisation keeps, for statistics: a ticket's number, channel,
// category, status, flags, rating, assignee, the Ministry mailbox it came
// in through and every timestamp; a message's
// direction, channel, author (the operator or "bot") and time. What it
// removes: the sealed personal fields (name, NIK, date of birth, phone),
// the masked NIK, subjects, message text and HTML, external message IDs
// (e-mail Message-IDs carry addresses), attachments, inbound dedupe keys,
// outbox rows, and the contact's name and addresses.

// ErasedAddressPrefix marks an anonymised contact's address:
// "erased:<contact id>" (the column is UNIQUE per channel).
const ErasedAddressPrefix = "erased:"

// anonymiseTickets blanks the personal data of tickets and their messages.
func anonymiseTickets(ctx context.Context, tx *store.Tx, ticketIDs []int64, now time.Time) error {
	if len(ticketIDs) == 0 {
		return nil
	}
	in, args := store.InList(ticketIDs)
	now = now.UTC()
	for _, q := range []string{
		`DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE ticket_id IN (` + in + `))`,
		`DELETE FROM inbound_keys WHERE message_id IN (SELECT id FROM messages WHERE ticket_id IN (` + in + `))`,
		`UPDATE messages SET subject = '', body = '', html = '', external_id = '' WHERE ticket_id IN (` + in + `)`,
		`DELETE FROM outbox WHERE ticket_id IN (` + in + `)`,
	} {
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("privacy: anonymise tickets: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE tickets SET subject = '', fields_sealed = NULL, nik_masked = '', thread_ref = '',
		anonymised_at = COALESCE(anonymised_at, ?) WHERE id IN (`+in+`)`, append([]any{now}, args...)...); err != nil {
		return fmt.Errorf("privacy: anonymise tickets: %w", err)
	}
	return nil
}

// anonymiseContacts erases the contacts themselves and everything addressed
// to or from them outside tickets: ticket-less messages (deleted), their
// attachments and dedupe keys, bot state, outbox rows to their addresses
// and simulator deliveries. addresses must be gathered before the call.
func anonymiseContacts(ctx context.Context, tx *store.Tx, contactIDs []int64, addresses []string, now time.Time) error {
	if len(contactIDs) == 0 {
		return nil
	}
	cin, cargs := store.InList(contactIDs)
	ain, aargs := store.InList(addresses)
	steps := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM attachments WHERE message_id IN (SELECT id FROM messages WHERE contact_id IN (` + cin + `))`, cargs},
		{`DELETE FROM inbound_keys WHERE message_id IN (SELECT id FROM messages WHERE contact_id IN (` + cin + `))`, cargs},
		{`DELETE FROM messages WHERE ticket_id IS NULL AND contact_id IN (` + cin + `)`, cargs},
		{`UPDATE messages SET subject = '', body = '', html = '', external_id = '' WHERE contact_id IN (` + cin + `)`, cargs},
		{`DELETE FROM bot_state WHERE contact_id IN (` + cin + `)`, cargs},
		{`DELETE FROM outbox WHERE recipient IN (` + ain + `)`, aargs},
		{`UPDATE contacts SET name = '', address = '` + ErasedAddressPrefix + `' || id, alt_address = '', person_id = id, updated_at = ? WHERE id IN (` + cin + `)`, append([]any{now.UTC()}, cargs...)},
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("privacy: anonymise contacts: %w", err)
		}
	}
	// The simulator's delivery log (migration 0002) keeps what was "sent".
	if ok, err := tableExists(ctx, tx, "simulator_deliveries"); err != nil {
		return err
	} else if ok {
		if _, err := tx.Exec(ctx, `DELETE FROM simulator_deliveries WHERE recipient IN (`+ain+`)`, aargs...); err != nil {
			return fmt.Errorf("privacy: anonymise contacts: %w", err)
		}
	}
	return nil
}

func tableExists(ctx context.Context, tx *store.Tx, name string) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if tx.Dialect() == store.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	var n int
	if err := tx.QueryRow(ctx, q, name).Scan(&n); err != nil {
		return false, fmt.Errorf("privacy: table %s: %w", name, err)
	}
	return n > 0, nil
}

// Delete erases the person of contactID: contacts anonymised, tickets
// closed and anonymised (statistics kept), messages blanked or deleted,
// attachments, dedupe keys, bot state and outbox rows deleted, and every
// Holder's data erased — all in one transaction. Audit rows stay (they hold
// IDs only). The request and its completion are recorded in dsr_requests
// and the audit log.
func (s *Service) Delete(ctx context.Context, contactID int64, actor string) error {
	id, err := s.Request(ctx, KindDelete, contactID, actor)
	if err != nil {
		return err
	}
	return s.CompleteDelete(ctx, id)
}

// CompleteDelete carries out a pending delete request made with Request.
func (s *Service) CompleteDelete(ctx context.Context, requestID int64) error {
	req, err := s.request(ctx, requestID, KindDelete)
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	var detail string
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sub, err := subject(ctx, tx, req.ContactID)
		if err != nil {
			return err
		}
		tin, targs := store.InList(sub.TicketIDs)
		if _, err := tx.Exec(ctx, `UPDATE tickets SET status = 'closed', handed_off = ?, closed_at = COALESCE(closed_at, ?), resolved_at = COALESCE(resolved_at, ?), updated_at = ?
			WHERE status <> 'closed' AND id IN (`+tin+`)`, append([]any{false, now, now, now}, targs...)...); err != nil {
			return fmt.Errorf("privacy: close tickets: %w", err)
		}
		if err := anonymiseTickets(ctx, tx, sub.TicketIDs, now); err != nil {
			return err
		}
		var held int64
		for _, h := range s.holders {
			n, err := h.Erase(ctx, tx, sub)
			if err != nil {
				return fmt.Errorf("privacy: erase %s: %w", h.Name(), err)
			}
			held += n
		}
		if err := anonymiseContacts(ctx, tx, sub.ContactIDs, sub.Addresses, now); err != nil {
			return err
		}
		detail = fmt.Sprintf("contacts %d, tickets %d, messages %d, other rows %d", len(sub.ContactIDs), len(sub.TicketIDs), len(sub.MessageIDs), held)
		for _, tid := range sub.TicketIDs {
			if err := audit.Record(ctx, tx, req.Actor, "ticket.anonymised", "ticket", fmt.Sprint(tid), fmt.Sprintf("data-subject request %d", requestID)); err != nil {
				return err
			}
		}
		return s.finish(ctx, tx, requestID, KindDelete, req.Actor, nil, detail)
	})
	if err != nil {
		s.log.Error("deletion failed", "request", requestID, "contact_id", req.ContactID, "err", err)
		if ferr := s.finish(ctx, s.db, requestID, KindDelete, req.Actor, err, ""); ferr != nil {
			s.log.Error("cannot record failed deletion", "request", requestID, "err", ferr)
		}
		return err
	}
	if err := s.PurgeSearchIndex(ctx); err != nil {
		s.log.Warn("full-text index purge after deletion failed", "request", requestID, "err", err)
	}
	s.log.Info("deletion done", "request", requestID, "contact_id", req.ContactID, "detail", detail)
	return nil
}

// RetentionStep anonymises up to limit closed tickets whose closed_at is
// before cutoff (a ticket closed exactly at cutoff is kept), in tx, and
// anonymises their contacts when nothing of the contact is left that is
// still within retention (no ticket left un-anonymised, no message at or
// after cutoff). It returns the tickets anonymised; the caller repeats
// until fewer than limit come back. Statistics stay (see above).
func (s *Service) RetentionStep(ctx context.Context, tx *store.Tx, cutoff, now time.Time, limit int) (int64, error) {
	cutoff = cutoff.UTC()
	tids, err := ids(ctx, tx, `SELECT id FROM tickets WHERE status = 'closed' AND closed_at < ? AND anonymised_at IS NULL ORDER BY id LIMIT ?`, cutoff, limit)
	if err != nil || len(tids) == 0 {
		return 0, err
	}
	tin, targs := store.InList(tids)
	cids, err := ids(ctx, tx, `SELECT DISTINCT contact_id FROM tickets WHERE id IN (`+tin+`)`, targs...)
	if err != nil {
		return 0, err
	}
	if err := anonymiseTickets(ctx, tx, tids, now); err != nil {
		return 0, err
	}
	cin, cargs := store.InList(cids)
	idle, err := ids(ctx, tx, `SELECT c.id FROM contacts c WHERE c.id IN (`+cin+`)
		AND c.address NOT LIKE '`+ErasedAddressPrefix+`%'
		AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id AND t.anonymised_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.created_at >= ?)`, append(cargs, cutoff)...)
	if err != nil {
		return 0, err
	}
	if len(idle) > 0 {
		var addrs []string
		for _, cid := range idle {
			// Only this contact's own addresses: linked contacts may still
			// be active.
			addrs = append(addrs, ownAddresses(ctx, tx, cid)...)
		}
		if err := anonymiseContacts(ctx, tx, idle, addrs, now); err != nil {
			return 0, err
		}
	}
	if err := audit.Record(ctx, tx, "system:retention-tickets", "ticket.anonymised", "ticket", fmt.Sprintf("%d..%d", tids[0], tids[len(tids)-1]),
		fmt.Sprintf("%d tickets closed before %s, %d contacts", len(tids), cutoff.Format(time.RFC3339), len(idle))); err != nil {
		return 0, err
	}
	return int64(len(tids)), nil
}

func ownAddresses(ctx context.Context, tx *store.Tx, contactID int64) []string {
	var addr, alt string
	if err := tx.QueryRow(ctx, `SELECT address, alt_address FROM contacts WHERE id = ?`, contactID).Scan(&addr, &alt); err != nil {
		return nil
	}
	out := []string{addr}
	if alt != "" {
		out = append(out, alt)
	}
	if p, ok := e164(addr); ok {
		out = append(out, p, p[1:]+"@s.whatsapp.net")
	}
	return out
}

// PurgeSearchIndex drops erased words from the SQLite full-text index and
// the write-ahead log.
// FTS4 keeps a deleted document's terms in older index segments (with a
// delete marker) until the segments are merged, so blanked message text
// would still be readable in messages_fts_segdir/_segments; "optimize"
// merges everything into one segment without them. It rewrites the whole
// index, so callers run it once per deletion or retention run, not per
// batch. On PostgreSQL the GIN index is maintained by the server (dead
// entries go with VACUUM) and this does nothing.
func (s *Service) PurgeSearchIndex(ctx context.Context) error {
	if s.db.Dialect() != store.SQLite {
		return nil
	}
	if _, err := s.db.Exec(ctx, `INSERT INTO messages_fts(messages_fts) VALUES ('optimize')`); err != nil {
		return fmt.Errorf("privacy: optimise full-text index: %w", err)
	}
	// The write-ahead log still holds the pages as they were before the
	// erasure; copy it into the (secure_delete) database and cut it to
	// zero. Best effort: a reader in the middle leaves the rest for the
	// next run, and the data itself is already gone from every table.
	if _, err := s.db.Exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("privacy: truncate write-ahead log: %w", err)
	}
	return nil
}

// ChatterRetentionStep deletes up to limit messages that never became part
// of a ticket (greetings, menu choices — often with a NIK typed into the
// bot) created before cutoff, with their attachments and dedupe keys.
func (s *Service) ChatterRetentionStep(ctx context.Context, tx *store.Tx, cutoff time.Time, limit int) (int64, error) {
	mids, err := ids(ctx, tx, `SELECT id FROM messages WHERE ticket_id IS NULL AND created_at < ? ORDER BY id LIMIT ?`, cutoff.UTC(), limit)
	if err != nil || len(mids) == 0 {
		return 0, err
	}
	in, args := store.InList(mids)
	for _, q := range []string{
		`DELETE FROM attachments WHERE message_id IN (` + in + `)`,
		`DELETE FROM inbound_keys WHERE message_id IN (` + in + `)`,
		`DELETE FROM messages WHERE id IN (` + in + `)`,
	} {
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return 0, fmt.Errorf("privacy: chatter retention: %w", err)
		}
	}
	return int64(len(mids)), nil
}

// ContactRetentionStep anonymises up to limit contacts that have nothing
// left within retention: not touched since cutoff, no ticket that is not
// anonymised, no message at or after cutoff.
func (s *Service) ContactRetentionStep(ctx context.Context, tx *store.Tx, cutoff, now time.Time, limit int) (int64, error) {
	cutoff = cutoff.UTC()
	cids, err := ids(ctx, tx, `SELECT c.id FROM contacts c WHERE c.address NOT LIKE '`+ErasedAddressPrefix+`%' AND c.updated_at < ?
		AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id AND t.anonymised_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.contact_id = c.id AND m.created_at >= ?)
		ORDER BY c.id LIMIT ?`, cutoff, cutoff, limit)
	if err != nil || len(cids) == 0 {
		return 0, err
	}
	var addrs []string
	for _, cid := range cids {
		addrs = append(addrs, ownAddresses(ctx, tx, cid)...)
	}
	if err := anonymiseContacts(ctx, tx, cids, addrs, now); err != nil {
		return 0, err
	}
	if err := audit.Record(ctx, tx, "system:retention-tickets", "contact.anonymised", "contact", fmt.Sprintf("%d..%d", cids[0], cids[len(cids)-1]),
		fmt.Sprintf("%d contacts idle since before %s", len(cids), cutoff.Format(time.RFC3339))); err != nil {
		return 0, err
	}
	return int64(len(cids)), nil
}
