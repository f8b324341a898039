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

// pendingDelete loads a delete request waiting for approval.
func (s *Service) pendingDelete(ctx context.Context, id int64) (DSRRequest, error) {
	rs, err := queryRequests(ctx, s.db, `SELECT `+requestCols+` FROM dsr_requests WHERE id = ?`, id)
	if err != nil {
		return DSRRequest{}, err
	}
	if len(rs) == 0 || rs[0].Kind != KindDelete {
		return DSRRequest{}, ErrRequestNotFound
	}
	if rs[0].Status != Pending || rs[0].ApprovedBy != "" {
		return DSRRequest{}, ErrNotPending
	}
	return rs[0], nil
}

// Approve records approver's approval of delete request id and carries the
// erasure out. The approver must not be the requester (actors compare as
// audit actors, "user:NAME"); of two approvals at once only one counts.
func (s *Service) Approve(ctx context.Context, id int64, approver string) error {
	req, err := s.pendingDelete(ctx, id)
	if err != nil {
		return err
	}
	if req.Actor == approver {
		return ErrSamePerson
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE dsr_requests SET approved_by = ?, approved_at = ? WHERE id = ? AND status = ? AND approved_by = ''`,
			approver, s.Now().UTC(), id, Pending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotPending
		}
		return audit.Record(ctx, tx, approver, "privacy.delete.approved", "dsr_request", fmt.Sprint(id), "")
	})
	if errors.Is(err, ErrNotPending) {
		return err
	}
	if err != nil {
		return fmt.Errorf("privacy: approve: %w", err)
	}
	return s.CompleteDelete(ctx, id)
}

// Reject closes delete request id without erasing anything. Anyone but
// the requester with the approving role may; the requester withdraws by
// asking a supervisor.
func (s *Service) Reject(ctx context.Context, id int64, approver, reason string) error {
	req, err := s.pendingDelete(ctx, id)
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
