package privacy

import (
	"context"
	"fmt"
	"time"

	"lindungi/audit"
	"lindungi/bot"
	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/channels/whatsapp/cloud"
	"lindungi/store"
	"lindungi/tickets"
)

// What anonymisation keeps and removes is written down by the owners:
// tickets.AnonymiseTickets and tickets.EraseContacts (statistics kept,
// personal data removed); the outbox rows, the bot's conversation state
// and the simulator's delivery log go too, through their owners.

// ErasedAddressPrefix marks an anonymised contact's address
// (tickets.ErasedAddressPrefix).
const ErasedAddressPrefix = tickets.ErasedAddressPrefix

// anonymiseTickets blanks the personal data of tickets and their messages
// and drops their outbox rows.
func anonymiseTickets(ctx context.Context, tx *store.Tx, ticketIDs []int64, now time.Time) error {
	if len(ticketIDs) == 0 {
		return nil
	}
	if err := tickets.AnonymiseTickets(ctx, tx, ticketIDs, now); err != nil {
		return fmt.Errorf("privacy: %w", err)
	}
	if err := channels.EraseForTickets(ctx, tx, ticketIDs); err != nil {
		return fmt.Errorf("privacy: %w", err)
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
	for _, step := range []func() error{
		func() error { return tickets.EraseContacts(ctx, tx, contactIDs, now) },
		func() error { return bot.EraseStates(ctx, tx, contactIDs) },
		func() error { return channels.EraseTo(ctx, tx, addresses) },
		func() error { return simulator.EraseDeliveries(ctx, tx, addresses) },
		func() error { return cloud.Erase(ctx, tx, addresses) },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("privacy: anonymise contacts: %w", err)
		}
	}
	return nil
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
	var detail string
	err = s.db.InTx(ctx, func(tx *store.Tx) (err error) {
		detail, err = s.erase(ctx, tx, requestID, req)
		return err
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

// erase carries out delete request requestID (req) in tx: everything of the
// subject, every Holder's data, and the request marked completed. It
// returns the summary recorded in the audit log.
func (s *Service) erase(ctx context.Context, tx *store.Tx, requestID int64, req DSRRequest) (string, error) {
	now := s.Now().UTC()
	var detail string
	sub, err := subject(ctx, tx, req.ContactID)
	if err != nil {
		return "", err
	}
	if err := tickets.CloseForErasure(ctx, tx, sub.TicketIDs, now); err != nil {
		return "", fmt.Errorf("privacy: %w", err)
	}
	if err := anonymiseTickets(ctx, tx, sub.TicketIDs, now); err != nil {
		return "", err
	}
	var held int64
	for _, h := range s.holders {
		n, err := h.Erase(ctx, tx, sub)
		if err != nil {
			return "", fmt.Errorf("privacy: erase %s: %w", h.Name(), err)
		}
		held += n
	}
	if err := anonymiseContacts(ctx, tx, sub.ContactIDs, sub.Addresses, now); err != nil {
		return "", err
	}
	detail = fmt.Sprintf("contacts %d, tickets %d, messages %d, other rows %d", len(sub.ContactIDs), len(sub.TicketIDs), len(sub.MessageIDs), held)
	for _, tid := range sub.TicketIDs {
		if err := audit.Record(ctx, tx, req.Actor, "ticket.anonymised", "ticket", fmt.Sprint(tid), fmt.Sprintf("data-subject request %d", requestID)); err != nil {
			return "", err
		}
	}
	return detail, s.finish(ctx, tx, requestID, KindDelete, req.Actor, nil, detail)
}

// RetentionStep anonymises up to limit closed tickets whose closed_at is
// before cutoff (a ticket closed exactly at cutoff is kept), in tx, and
// anonymises their contacts when nothing of the contact is left that is
// still within retention (no ticket left un-anonymised, no message at or
// after cutoff). It returns the tickets anonymised; the caller repeats
// until fewer than limit come back. Statistics stay (see above).
func (s *Service) RetentionStep(ctx context.Context, tx *store.Tx, cutoff, now time.Time, limit int) (int64, error) {
	cutoff = cutoff.UTC()
	tids, err := tickets.ClosedBefore(ctx, tx, cutoff, limit)
	if err != nil || len(tids) == 0 {
		return 0, err
	}
	cids, err := tickets.ContactsOf(ctx, tx, tids)
	if err != nil {
		return 0, err
	}
	if err := anonymiseTickets(ctx, tx, tids, now); err != nil {
		return 0, err
	}
	idle, err := tickets.IdleAmong(ctx, tx, cids, cutoff)
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
	out := tickets.ContactAddresses(ctx, tx, contactID)
	if len(out) == 0 {
		return nil
	}
	if p, ok := e164(out[0]); ok {
		out = append(out, p, p[1:]+"@s.whatsapp.net")
	}
	return out
}

// PurgeSearchIndex drops erased words from the SQLite full-text index
// (tickets.OptimiseSearchIndex) and the write-ahead log. It rewrites the
// whole index, so callers run it once per deletion or retention run, not
// per batch. On PostgreSQL it does nothing.
func (s *Service) PurgeSearchIndex(ctx context.Context) error {
	if s.db.Dialect() != store.SQLite {
		return nil
	}
	if err := tickets.OptimiseSearchIndex(ctx, s.db); err != nil {
		return fmt.Errorf("privacy: %w", err)
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
	n, err := tickets.DeleteLooseBefore(ctx, tx, cutoff, limit)
	if err != nil {
		return n, fmt.Errorf("privacy: %w", err)
	}
	return n, nil
}

// ContactRetentionStep anonymises up to limit contacts that have nothing
// left within retention: not touched since cutoff, no ticket that is not
// anonymised, no message at or after cutoff.
func (s *Service) ContactRetentionStep(ctx context.Context, tx *store.Tx, cutoff, now time.Time, limit int) (int64, error) {
	cutoff = cutoff.UTC()
	cids, err := tickets.IdleBefore(ctx, tx, cutoff, limit)
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
