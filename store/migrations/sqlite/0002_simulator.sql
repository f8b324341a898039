-- What the simulator channel delivered, so `lindungi chat`, the console's
-- try-it page and crash tests can read replies back after a restart.
-- deliveries counts hand-overs of the same outbox ID (at-least-once).
CREATE TABLE simulator_deliveries (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    recipient    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    deliveries   INTEGER NOT NULL DEFAULT 1,
    delivered_at TIMESTAMP NOT NULL
);
CREATE INDEX simulator_deliveries_recipient ON simulator_deliveries(recipient, seq);
