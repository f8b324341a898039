-- The WhatsApp Cloud API provider (issue 17).
--
-- delivery is what WhatsApp reported about a sent message (sent, delivered,
-- read, failed), kept apart from status, which is the outbox's own
-- progress: a status webhook can arrive before the send's answer is
-- recorded, and neither may overwrite the other.
ALTER TABLE outbox ADD COLUMN delivery TEXT NOT NULL DEFAULT '';

-- When each citizen (by WhatsApp ID) last wrote: free text may go to them
-- only within 24 hours of it; outside, only approved templates.
CREATE TABLE whatsapp_cloud_windows (
    wa_id           TEXT PRIMARY KEY,
    last_inbound_at TIMESTAMP NOT NULL
);

-- The Cloud API chooses its own message IDs (wamid.…); the outbox ID goes
-- with each send as biz_opaque_callback_data and comes back on its
-- statuses. This row says an outbox row was accepted, so a retry after a
-- crash between the answer and the outbox's record does not send twice.
-- initiated marks a template sent outside the window: a business-initiated
-- conversation, of which the number's tier allows so many a day.
CREATE TABLE whatsapp_cloud_sent (
    outbox_id TEXT PRIMARY KEY,
    wamid     TEXT NOT NULL,
    recipient TEXT NOT NULL DEFAULT '',
    initiated INTEGER NOT NULL DEFAULT 0,
    sent_at   TIMESTAMP NOT NULL
);
CREATE INDEX whatsapp_cloud_sent_time ON whatsapp_cloud_sent(sent_at);
-- Statuses that came without our callback data are matched by wamid.
CREATE INDEX whatsapp_cloud_sent_wamid ON whatsapp_cloud_sent(wamid);
