-- A simulator delivery's seq is the cursor of `lindungi chat` and of the
-- simulator API (after=): it must only grow. Without AUTOINCREMENT SQLite
-- hands out MAX(seq)+1, so once an erasure deletes a contact's deliveries
-- the next ones reuse numbers a reader has already passed, and the erasure
-- confirmation was never shown. AUTOINCREMENT remembers the highest seq
-- ever used (sqlite_sequence); PostgreSQL's sequence already does.
CREATE TABLE simulator_deliveries_v2 (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    recipient    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    deliveries   INTEGER NOT NULL DEFAULT 1,
    delivered_at TIMESTAMP NOT NULL
);
INSERT INTO simulator_deliveries_v2 (seq, id, recipient, kind, body, deliveries, delivered_at)
    SELECT seq, id, recipient, kind, body, deliveries, delivered_at FROM simulator_deliveries;
DROP TABLE simulator_deliveries;
ALTER TABLE simulator_deliveries_v2 RENAME TO simulator_deliveries;
CREATE INDEX simulator_deliveries_recipient ON simulator_deliveries(recipient, seq);
