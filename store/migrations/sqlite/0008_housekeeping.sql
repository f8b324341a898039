-- The housekeeping job deletes dedupe keys and console sessions by age;
-- without these indexes each of its batches would scan the whole table.
CREATE INDEX inbound_keys_received ON inbound_keys(received_at);
CREATE INDEX sessions_expires ON sessions(expires_at);
