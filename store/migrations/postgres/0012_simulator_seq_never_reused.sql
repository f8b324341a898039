-- SQLite needed AUTOINCREMENT so that simulator_deliveries.seq is never
-- reused after an erasure deletes rows (see the SQLite file). A BIGSERIAL
-- sequence never goes back, so there is nothing to change here; the file
-- keeps both dialects' migration lists in step.
SELECT 1;
