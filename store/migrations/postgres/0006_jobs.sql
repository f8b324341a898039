-- Scheduler run history, data-subject requests, and the audit log made
-- append-only.

-- One row per job run. A scheduled run is claimed by inserting its row
-- before the job starts: UNIQUE (job, scheduled_at) lets exactly one replica
-- run a given cron tick even if two briefly believe they lead. Manual runs
-- (`lindungi jobs run NAME`) have no scheduled_at and are never fenced.
CREATE TABLE job_runs (
    id            BIGSERIAL PRIMARY KEY,
    job           TEXT NOT NULL,
    source        TEXT NOT NULL,             -- schedule | manual
    scheduled_at  TIMESTAMP,                 -- the cron tick (UTC)
    node          TEXT NOT NULL DEFAULT '',  -- host that ran it
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    outcome       TEXT NOT NULL,             -- running | ok | failed | skipped
    rows_affected BIGINT NOT NULL DEFAULT 0,
    error         TEXT NOT NULL DEFAULT '',  -- never personal data
    UNIQUE (job, scheduled_at)
);
CREATE INDEX job_runs_job ON job_runs(job, id);

-- Data-subject requests (UU 27/2022: answered within 3×24 h). contact_id is
-- an ID only; after a deletion it points at the anonymised contact row.
CREATE TABLE dsr_requests (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT NOT NULL,              -- export | delete
    contact_id   BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    status       TEXT NOT NULL,              -- pending | completed | failed
    requested_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    escalated_at TIMESTAMP,
    error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dsr_requests_open ON dsr_requests(status, requested_at);

-- Retention jobs select by these.
CREATE INDEX outbox_sent ON outbox(status, sent_at);
CREATE INDEX tickets_closed ON tickets(status, closed_at);

-- audit_log is append-only: no row is ever updated, and a row can only be
-- deleted once it is more than five years old (the audit-retention job).
-- The floor lives in the database so that not even a bug or a compromised
-- process can erase recent history. (TRUNCATE needs table ownership, which
-- the application role should not have in production.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit_log is append-only';
    END IF;
    IF OLD.at >= (now() AT TIME ZONE 'UTC') - interval '5 years' THEN
        RAISE EXCEPTION 'audit_log rows younger than 5 years cannot be deleted';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
