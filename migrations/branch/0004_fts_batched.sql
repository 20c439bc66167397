-- Index new names once per transaction instead of once per row.
--
-- A statement that writes a table with triggers or unique indexes opens a statement savepoint,
-- and FTS5 flushes its pending terms to disk at every savepoint once it has been written in the
-- transaction. With the name index filled by a trigger, a 100k-row import therefore wrote 100k
-- one-row index segments and then merged them. Now the trigger only notes the row in
-- beneficiary_fts_pending and Writer::commit indexes every noted row in one statement just
-- before the transaction commits (crates/sila-store/src/lib.rs). A row still pending when its
-- name changes or it is deleted is simply not in the index yet, so the triggers skip the
-- index 'delete' for it (deleting terms that were never added corrupts an FTS5 index).
DROP TRIGGER beneficiaries_fts_insert;
DROP TRIGGER beneficiaries_fts_delete;
DROP TRIGGER beneficiaries_fts_update;

CREATE TABLE beneficiary_fts_pending (rid INTEGER PRIMARY KEY) STRICT;

CREATE TRIGGER beneficiaries_fts_insert AFTER INSERT ON beneficiaries BEGIN
    INSERT OR IGNORE INTO beneficiary_fts_pending (rid) VALUES (new.rid);
END;
CREATE TRIGGER beneficiaries_fts_delete AFTER DELETE ON beneficiaries BEGIN
    INSERT INTO beneficiary_fts (beneficiary_fts, rowid, name_key)
        SELECT 'delete', old.rid, old.name_key
        WHERE NOT EXISTS (SELECT 1 FROM beneficiary_fts_pending WHERE rid = old.rid);
    DELETE FROM beneficiary_fts_pending WHERE rid = old.rid;
END;
CREATE TRIGGER beneficiaries_fts_update AFTER UPDATE OF name_key ON beneficiaries
WHEN NOT EXISTS (SELECT 1 FROM beneficiary_fts_pending WHERE rid = new.rid) BEGIN
    INSERT INTO beneficiary_fts (beneficiary_fts, rowid, name_key) VALUES ('delete', old.rid, old.name_key);
    INSERT INTO beneficiary_fts (rowid, name_key) VALUES (new.rid, new.name_key);
END;
