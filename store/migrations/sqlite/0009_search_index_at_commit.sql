-- Messages are added to the full-text index once per commit instead of once
-- per message. FTS4 writes its pending terms out as a new index segment at
-- every SAVEPOINT, and group commit runs each message in its own SAVEPOINT,
-- so the old per-row trigger wrote one segment (and paid for the merges)
-- per message: a third of the e-mail import's write time. Now the insert
-- trigger only notes the row; tickets.AddMessage registers a before-commit
-- hook that indexes every noted row in one statement and clears the list.
-- A row still on the list is not in the index yet, so the update and delete
-- triggers leave the index alone for it: the hook reads its final text, and
-- the index is not asked to drop terms it never held or to take the same
-- row twice (FTS4 happens to tolerate both, but nothing should rely on it).
CREATE TABLE messages_fts_pending (id INTEGER PRIMARY KEY);

DROP TRIGGER messages_fts_ai;
CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages WHEN new.author <> 'bot' BEGIN
    INSERT OR IGNORE INTO messages_fts_pending(id) VALUES (new.id);
END;

DROP TRIGGER messages_fts_bd;
CREATE TRIGGER messages_fts_bd BEFORE DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = old.id) BEGIN
    DELETE FROM messages_fts WHERE docid = old.id;
END;

DROP TRIGGER messages_fts_bu;
CREATE TRIGGER messages_fts_bu BEFORE UPDATE OF body, subject ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = old.id) BEGIN
    DELETE FROM messages_fts WHERE docid = old.id;
END;

DROP TRIGGER messages_fts_au;
CREATE TRIGGER messages_fts_au AFTER UPDATE OF body, subject ON messages
WHEN new.author <> 'bot' AND NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = new.id) BEGIN
    INSERT INTO messages_fts(docid, body, subject) VALUES (new.id, new.body, new.subject);
END;
