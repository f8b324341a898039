-- An erasure an operator files through the API waits for a second person
-- (supervisor or admin) to approve it; who and when is kept with the request.
ALTER TABLE dsr_requests ADD COLUMN approved_by TEXT NOT NULL DEFAULT '';
ALTER TABLE dsr_requests ADD COLUMN approved_at TIMESTAMP;
