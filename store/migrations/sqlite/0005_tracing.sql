-- Sijejak (tracing): TempID keys, devices, registration codes, OTPs, rate
-- limits, cases, consents, upload windows, uploads, exposures.
-- Every row carries purge_after, computed when its purpose is known, so the
-- purge job is one bounded DELETE per table. Phone numbers are sealed
-- (AES-GCM) with an HMAC blind index; codes, OTPs and tokens are hashed.

CREATE TABLE tracing_keys (
    id           INTEGER PRIMARY KEY,       -- the key ID byte (1–255) in every TempID
    key_sealed   BLOB NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    retired_at   TIMESTAMP,                 -- stopped issuing; still decrypts
    purge_after  TIMESTAMP                  -- no ID made with it can be uploaded after this
);

CREATE TABLE tracing_devices (
    id              INTEGER PRIMARY KEY,
    user_id         TEXT NOT NULL UNIQUE,   -- hex of 21 random bytes: the TempID payload
    phone_sealed    BLOB NOT NULL,
    phone_index     TEXT NOT NULL UNIQUE,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    ids_valid_until TIMESTAMP,              -- expiry of the last TempID issued
    purge_after     TIMESTAMP NOT NULL
);

CREATE TABLE tracing_registrations (
    id           INTEGER PRIMARY KEY,
    phone_index  TEXT NOT NULL,
    code_hash    TEXT NOT NULL UNIQUE,
    expires_at   TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,                 -- the citizen's WhatsApp message arrived
    used_at      TIMESTAMP,                 -- exchanged for a device token
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL,
    purge_after  TIMESTAMP NOT NULL
);
CREATE INDEX tracing_registrations_phone ON tracing_registrations(phone_index, created_at);

CREATE TABLE tracing_otps (
    id          INTEGER PRIMARY KEY,
    phone_index TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    purge_after TIMESTAMP NOT NULL
);
CREATE INDEX tracing_otps_phone ON tracing_otps(phone_index, created_at);

-- Fixed-window counters: bucket is e.g. "register:phone:<index>" or
-- "register:ip:<hmac>"; never a raw phone number or IP address.
CREATE TABLE tracing_rate_limits (
    bucket       TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    count        INTEGER NOT NULL,
    purge_after  TIMESTAMP NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

CREATE TABLE tracing_cases (
    id              INTEGER PRIMARY KEY,
    device_id       INTEGER NOT NULL REFERENCES tracing_devices(id) ON DELETE CASCADE,
    officer         TEXT NOT NULL,
    onset_date      TEXT NOT NULL DEFAULT '',   -- YYYY-MM-DD
    specimen_date   TEXT NOT NULL DEFAULT '',
    infectious_from TIMESTAMP NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    purge_after     TIMESTAMP NOT NULL
);
CREATE INDEX tracing_cases_device ON tracing_cases(device_id);

CREATE TABLE tracing_consents (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES tracing_cases(id) ON DELETE CASCADE,
    device_id     INTEGER NOT NULL REFERENCES tracing_devices(id) ON DELETE CASCADE,
    lang          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',     -- outbox ID of the request
    requested_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,           -- unanswered requests lapse
    answered_at   TIMESTAMP,
    answer        BOOLEAN,
    text_shown    TEXT NOT NULL DEFAULT '',     -- the question exactly as the citizen saw it
    purge_after   TIMESTAMP NOT NULL
);
CREATE INDEX tracing_consents_device ON tracing_consents(device_id, requested_at);

CREATE TABLE tracing_upload_windows (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES tracing_cases(id) ON DELETE CASCADE,
    device_id   INTEGER NOT NULL REFERENCES tracing_devices(id) ON DELETE CASCADE,
    consent_id  INTEGER NOT NULL REFERENCES tracing_consents(id) ON DELETE CASCADE,
    opens_at    TIMESTAMP NOT NULL,
    closes_at   TIMESTAMP NOT NULL,
    purge_after TIMESTAMP NOT NULL
);
CREATE INDEX tracing_upload_windows_device ON tracing_upload_windows(device_id, closes_at);

-- raw_sealed holds the accepted records (decrypted contact IDs, times,
-- signal) until matching; it is set to NULL once matched.
CREATE TABLE tracing_uploads (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES tracing_cases(id) ON DELETE CASCADE,
    device_id   INTEGER NOT NULL REFERENCES tracing_devices(id) ON DELETE CASCADE,
    window_id   INTEGER NOT NULL REFERENCES tracing_upload_windows(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL,
    received    INTEGER NOT NULL,
    accepted    INTEGER NOT NULL,
    rejected    TEXT NOT NULL DEFAULT '{}',   -- JSON counts per reason
    raw_sealed  BLOB,
    received_at TIMESTAMP NOT NULL,
    matched_at  TIMESTAMP,
    purge_after TIMESTAMP NOT NULL,
    UNIQUE (case_id, digest)
);
CREATE INDEX tracing_uploads_pending ON tracing_uploads(matched_at);

-- One row per contact per day: the unique key makes notification
-- idempotent (a replayed or overlapping upload finds the row and stops).
CREATE TABLE tracing_exposures (
    id               INTEGER PRIMARY KEY,
    device_id        INTEGER NOT NULL REFERENCES tracing_devices(id) ON DELETE CASCADE,
    day              TEXT NOT NULL,             -- YYYY-MM-DD in the configured time zone
    weighted_minutes REAL NOT NULL,
    upload_id        INTEGER,
    quarantine_until TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    notified_at      TIMESTAMP,
    notice_id        TEXT NOT NULL DEFAULT '',  -- outbox ID of the prompt
    purge_after      TIMESTAMP NOT NULL,
    UNIQUE (device_id, day)
);

CREATE INDEX tracing_keys_purge ON tracing_keys(purge_after);
CREATE INDEX tracing_devices_purge ON tracing_devices(purge_after);
CREATE INDEX tracing_registrations_purge ON tracing_registrations(purge_after);
CREATE INDEX tracing_otps_purge ON tracing_otps(purge_after);
CREATE INDEX tracing_rate_limits_purge ON tracing_rate_limits(purge_after);
CREATE INDEX tracing_cases_purge ON tracing_cases(purge_after);
CREATE INDEX tracing_consents_purge ON tracing_consents(purge_after);
CREATE INDEX tracing_upload_windows_purge ON tracing_upload_windows(purge_after);
CREATE INDEX tracing_uploads_purge ON tracing_uploads(purge_after);
CREATE INDEX tracing_exposures_purge ON tracing_exposures(purge_after);
