-- Full-text search with a rare word took 15 s at a million messages
-- (TestInboxAtScale): the planner takes the search index's statistics to
-- estimate how many messages a word matches, and with the default target
-- they keep only the ~200 commonest words, so any other word is guessed at
-- 0.5 % of the messages (6,000 of 1.2 million). With ORDER BY id LIMIT 51
-- that guess makes walking tickets newest first and testing each one's
-- messages look cheap; for a word in five messages the walk reads them all.
-- A target of 1000 keeps the words down to about 0.01 % in the statistics,
-- so a word outside them is guessed at dozens of messages and is looked up
-- in the GIN index instead (5 ms); a common word still walks (1 ms).
-- ANALYZE here so the new statistics hold from this start on.
ALTER INDEX messages_fts ALTER COLUMN 1 SET STATISTICS 1000;
ANALYZE messages;
