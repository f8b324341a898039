-- The mailbox an e-mail ticket came in through, so an operator's reply
-- leaves from the address the citizen wrote to ('' for other channels and
-- for tickets opened before this column).
ALTER TABLE tickets ADD COLUMN mailbox TEXT NOT NULL DEFAULT '';
