-- The bot counts recent acknowledgements and notices per recipient for
-- every e-mail (loop guard, per-sender rate limit); without this index that
-- count scans the whole outbox and intake slows as the outbox grows.
CREATE INDEX outbox_recipient ON outbox(channel, recipient, kind, created_at);
