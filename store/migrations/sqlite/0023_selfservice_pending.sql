-- Self-service requests waiting for the registry (selfservice): written in
-- the transaction that stores the citizen's message, deleted in the one
-- that answers, so a request the citizen was told "we are checking" outlives
-- a crash. The request (NIK, birth date, sender) is sealed; contact_id lets
-- an erasure find it. not_before is the next time a worker may take the row
-- (a worker that takes it moves it forward by a lease).
CREATE TABLE selfservice_pending (
    id          INTEGER PRIMARY KEY,
    contact_id  INTEGER NOT NULL,
    body        BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    counted     INTEGER NOT NULL DEFAULT 0,
    not_before  TIMESTAMP NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_pending_due ON selfservice_pending(not_before);
CREATE INDEX selfservice_pending_contact ON selfservice_pending(contact_id);
