-- The operator console of issue 18: internal notes, canned replies, the
-- call centre's answer route, and the satisfaction survey's state.

-- An internal note is an operator's remark on a ticket. It lives apart from
-- messages on purpose: nothing that reads messages to send or export them
-- to the citizen can pick a note up by mistake.
CREATE TABLE ticket_notes (
    id         BIGSERIAL PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets(id),
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_notes_ticket ON ticket_notes(ticket_id, id);

-- Canned replies, kept by supervisors; {{nomor}} and {{nama}} are filled
-- in from the ticket when an operator uses one.
CREATE TABLE canned_replies (
    id         BIGSERIAL PRIMARY KEY,
    title      TEXT NOT NULL UNIQUE,
    body       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A 119 call is answered by WhatsApp, e-mail or a call back by a given time.
ALTER TABLE tickets ADD COLUMN answer_via TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN callback_due TIMESTAMP;
-- The satisfaction survey: when it was asked, and the citizen's comment
-- next to the existing rating.
ALTER TABLE tickets ADD COLUMN csat_asked_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN csat_comment TEXT NOT NULL DEFAULT '';

-- The inbox's queues are the open and pending tickets, a small part of
-- millions: partial indexes keep Unassigned/Mine, Breaching SLA and the
-- SLA order off the closed ones. The query terms repeat these WHERE terms
-- word for word (SQLite uses a partial index only then).
CREATE INDEX tickets_queue ON tickets(assignee, id) WHERE status IN ('open', 'pending');
CREATE INDEX tickets_unanswered ON tickets(id) WHERE status IN ('open', 'pending') AND first_response_at IS NULL;
CREATE INDEX tickets_sla_order ON tickets((first_response_at IS NOT NULL), id) WHERE status IN ('open', 'pending');
