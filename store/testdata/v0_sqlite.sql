-- Foundation: people, tickets, conversation log, outbox, operators, audit.
-- Frozen once released: later changes go in new numbered files.

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,            -- E.164 phone, e-mail address, simulator id
    name        TEXT NOT NULL DEFAULT '',
    lang        TEXT NOT NULL DEFAULT 'id',
    person_id   INTEGER,                  -- links one citizen's contacts across channels
    alt_address TEXT NOT NULL DEFAULT '', -- e.g. WhatsApp LID
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (channel, address)
);
CREATE INDEX contacts_person ON contacts(person_id);

CREATE TABLE ticket_counters (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    number            TEXT NOT NULL UNIQUE,
    contact_id        INTEGER NOT NULL REFERENCES contacts(id),
    channel           TEXT NOT NULL,
    subject           TEXT NOT NULL DEFAULT '',
    category          TEXT NOT NULL DEFAULT 'other',
    status            TEXT NOT NULL DEFAULT 'open',
    assignee          TEXT NOT NULL DEFAULT '',
    handed_off        BOOLEAN NOT NULL DEFAULT FALSE,
    flags             TEXT NOT NULL DEFAULT '',   -- comma list: unparseable, sla_breached, delivery_failed
    fields_sealed     BLOB,                       -- AES-GCM JSON of name, nik, dob, phone …
    nik_masked        TEXT NOT NULL DEFAULT '',
    rating            INTEGER NOT NULL DEFAULT 0,
    thread_ref        TEXT NOT NULL DEFAULT '',   -- e-mail Message-ID that opened it
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    first_response_at TIMESTAMP,
    resolved_at       TIMESTAMP,
    closed_at         TIMESTAMP,
    anonymised_at     TIMESTAMP
);
CREATE INDEX tickets_contact ON tickets(contact_id, status);
CREATE INDEX tickets_status ON tickets(status, created_at);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER REFERENCES tickets(id),
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    direction   TEXT NOT NULL,               -- in | out
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',    -- inbound: channel message ID; outbound: outbox ID
    author      TEXT NOT NULL DEFAULT '',    -- out: bot or operator name
    subject     TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL DEFAULT '',
    html        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX messages_ticket ON messages(ticket_id, id);
CREATE INDEX messages_contact ON messages(contact_id, id);
CREATE INDEX messages_external ON messages(channel, external_id);

-- Inbound dedupe: one row per (channel, external ID), written in the same
-- transaction as the message so a redelivery is recognised.
CREATE TABLE inbound_keys (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    message_id  INTEGER,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    inline       BOOLEAN NOT NULL DEFAULT FALSE,
    content_id   TEXT NOT NULL DEFAULT '',
    data_sealed  BLOB NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id);

CREATE VIRTUAL TABLE messages_fts USING fts4(body, subject, content="messages");
-- Bot replies are boilerplate: indexing them would only slow intake and
-- pollute search, so only citizens' and operators' words are indexed.
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages WHEN new.author <> 'bot' BEGIN
    INSERT INTO messages_fts(docid, body, subject) VALUES (new.id, new.body, new.subject);
END;
CREATE TRIGGER messages_fts_bd BEFORE DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE docid = old.id;
END;
CREATE TRIGGER messages_fts_bu BEFORE UPDATE OF body, subject ON messages BEGIN
    DELETE FROM messages_fts WHERE docid = old.id;
END;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, subject ON messages WHEN new.author <> 'bot' BEGIN
    INSERT INTO messages_fts(docid, body, subject) VALUES (new.id, new.body, new.subject);
END;

CREATE TABLE bot_state (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts(id),
    state      TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,        -- stable: becomes the wire message ID
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    ticket_id       INTEGER,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,           -- JSON: subject, text, threading, attachments
    status          TEXT NOT NULL,           -- queued | sending | sent | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until   TIMESTAMP,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_due ON outbox(channel, status, next_attempt_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    csrf       TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

-- Append-only record of who did what to which record. No personal data in
-- any column: object IDs only.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,               -- user:NAME, token:ID, system:JOB, citizen:CONTACT_ID
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit_log(at);
