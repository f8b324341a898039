-- E-mail ingest: one IMAP UID cursor per (mailbox, folder, UIDVALIDITY).
-- A new UIDVALIDITY starts a new row at 0 (the mailbox is rescanned and the
-- inbound dedupe on ExternalID drops what was already imported). The runner
-- advances last_uid in the same transaction that stores the message.
CREATE TABLE email_cursors (
    mailbox     TEXT NOT NULL,            -- our address, lower case
    folder      TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid    BIGINT NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (mailbox, folder, uidvalidity)
);
