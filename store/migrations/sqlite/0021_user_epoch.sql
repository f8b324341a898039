-- A per-account generation (issue 18, admin console): disabling an account
-- or resetting its password moves it on, and what was issued before —
-- console sessions (which carry the epoch they were opened under) and the
-- console's device cookie (keyed on it) — stops working for good, even if
-- the account is enabled again with the same password.
ALTER TABLE users ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
