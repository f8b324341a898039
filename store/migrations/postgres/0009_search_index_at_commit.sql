-- Nothing to do: PostgreSQL's search index is a GIN expression index kept
-- by the database itself (SQLite's deferred FTS4 indexing is in the sqlite
-- migration of the same number).
SELECT 1;
