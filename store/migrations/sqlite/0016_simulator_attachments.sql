-- The simulator keeps what was sent with a message (a certificate PDF, a
-- data export) so that demos and end-to-end tests receive documents as a
-- WhatsApp user would: a JSON array of {name, contentType, data (base64)}.
ALTER TABLE simulator_deliveries ADD COLUMN attachments TEXT NOT NULL DEFAULT '';
