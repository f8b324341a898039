package privacy

import (
	"context"
	"errors"
	"fmt"

	"lindungi/audit"
	"lindungi/coded"
	"lindungi/store"
)

// Two pairs of eyes on an erasure. An operator who carries out a request
// that came by mail or letter only files it (Request); the erasure runs
// when a second person, a supervisor or admin, approves it. Erasure cannot
// be undone, and one operator token must not be enough to wipe a citizen.
// A citizen's own request from their own channel (the bot) needs no
// approval; an export stays one step (it is audited and changes nothing).

// Errors of the approval step, safe to show an operator.
var (
	ErrRequestNotFound = coded.New(coded.NotFound, "request_not_found", "no erasure request with that ID")
	ErrNotPending      = coded.New(coded.Conflict, "request_not_pending", "this request is no longer waiting for approval")
	ErrSamePerson      = coded.New(coded.Forbidden, "same_person", "an erasure must be approved by someone other than the person who requested it")
)

// Rejected is the status of an erasure its approver turned down.
const Rejected = "rejected"

// pendingDelete loads a delete request waiting for approval. With resume,
// a request that is pending but already approved is returned too: an
// approval committed by an older version whose erasure never ran (crash,
// client gone) must still be carried out; erasure is a legal duty.
func (s *Service) pendingDelete(ctx context.Context, id int64, resume bool) (DSRRequest, error) {
	rs, err := queryRequests(ctx, s.db, `SELECT `+requestCols+` FROM dsr_requests WHERE id = ?`, id)
	if err != nil {
		return DSRRequest{}, err
	}
	if len(rs) == 0 || rs[0].Kind != KindDelete {
		return DSRRequest{}, ErrRequestNotFound
	}
	if rs[0].Status != Pending || (rs[0].ApprovedBy != "" && !resume) {
		return DSRRequest{}, ErrNotPending
	}
	return rs[0], nil
}

// Approve records approver's approval of delete request id and carries the
// erasure out, both in one transaction: either the request is approved and
// erased, or neither, so no crash can leave it approved and never erased.
// The approver must not be the requester (actors compare as audit actors,
// "user:NAME"); of two approvals at once only one counts. A request left
// pending but approved (by an older version) is erased by the next Approve
// under its first approval.
//
// The work runs without the caller's cancellation: once the supervisor has
// approved, a client that disconnects must not roll the erasure back.
func (s *Service) Approve(ctx context.Context, id int64, approver string) error {
	ctx = context.WithoutCancel(ctx)
	req, err := s.pendingDelete(ctx, id, true)
	if err != nil {
		return err
	}
	if req.Actor == approver {
		return ErrSamePerson
	}
	var detail string
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if req.ApprovedBy == "" {
			res, err := tx.Exec(ctx, `UPDATE dsr_requests SET approved_by = ?, approved_at = ? WHERE id = ? AND status = ? AND approved_by = ''`,
				approver, s.Now().UTC(), id, Pending)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return ErrNotPending
			}
			if err := audit.Record(ctx, tx, approver, "privacy.delete.approved", "dsr_request", fmt.Sprint(id), ""); err != nil {
				return err
			}
		} else {
			// Resuming: claim the request as still pending, so two
			// resumptions at once erase once.
			res, err := tx.Exec(ctx, `UPDATE dsr_requests SET status = ? WHERE id = ? AND status = ?`, Pending, id, Pending)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return ErrNotPending
			}
			if err := audit.Record(ctx, tx, approver, "privacy.delete.resumed", "dsr_request", fmt.Sprint(id), "approved by "+req.ApprovedBy); err != nil {
				return err
			}
		}
		var err error
		detail, err = s.erase(ctx, tx, id, req)
		return err
	})
	if errors.Is(err, ErrNotPending) {
		return err
	}
	if err != nil {
		// Nothing was approved or erased; the request stays pending for
		// another approval, and the dsr-deadline job escalates it if
		// nobody retries.
		s.log.Error("approved deletion failed", "request", id, "contact_id", req.ContactID, "err", err)
		return fmt.Errorf("privacy: approve: %w", err)
	}
	if err := s.PurgeSearchIndex(ctx); err != nil {
		s.log.Warn("full-text index purge after deletion failed", "request", id, "err", err)
	}
	s.log.Info("deletion done", "request", id, "contact_id", req.ContactID, "detail", detail)
	return nil
}

// Reject closes delete request id without erasing anything. Anyone but
// the requester with the approving role may; the requester withdraws by
// asking a supervisor.
func (s *Service) Reject(ctx context.Context, id int64, approver, reason string) error {
	req, err := s.pendingDelete(ctx, id, false)
	if err != nil {
		return err
	}
	if req.Actor == approver {
		return ErrSamePerson
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE dsr_requests SET status = ?, approved_by = ?, approved_at = ?, completed_at = ?, error = ? WHERE id = ? AND status = ? AND approved_by = ''`,
			Rejected, approver, s.Now().UTC(), s.Now().UTC(), audit.Redact(reason), id, Pending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotPending
		}
		return audit.Record(ctx, tx, approver, "privacy.delete.rejected", "dsr_request", fmt.Sprint(id), reason)
	})
	if errors.Is(err, ErrNotPending) {
		return err
	}
	if err != nil {
		return fmt.Errorf("privacy: reject: %w", err)
	}
	return nil
}
