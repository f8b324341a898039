-- Self-service status and certificate lookups (selfservice): one row per
-- sender (channel + address, as an HMAC blind index) holding the count of
-- wrong NIK/birth-date combinations and a pending one-time code. The code
-- is hashed; the request it unlocks (NIK, birth date, what was asked) is
-- sealed. Rows go 24 hours after their last use (purge_after).
CREATE TABLE selfservice_senders (
    sender_index  TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMP,
    otp_hash      TEXT,
    otp_request   BLOB,
    otp_expires   TIMESTAMP,
    updated_at    TIMESTAMP NOT NULL,
    purge_after   TIMESTAMP NOT NULL
);
CREATE INDEX selfservice_senders_purge ON selfservice_senders(purge_after);
