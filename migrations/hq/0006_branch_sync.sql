-- Sync protocol 3: the branch, not the device, is the unit of data, sync and trust.
-- Append-only: never edit once shipped.

-- Every record carries HQ's version (raised by every change, from any device or HQ) and, per
-- field, who changed it last at which version: {"field": {"v": 7, "by": "<device>|hq"}}. A field
-- with no entry was last written by the record's creation. This replaces version 2's
-- beneficiaries.field_writes and hq_writes.
ALTER TABLE beneficiaries ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE cases ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE records ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE records ADD COLUMN fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE beneficiaries DROP COLUMN field_writes;
DROP TABLE hq_writes;

-- One change feed per branch, numbered per branch under the branch row (feed_head), so entries of
-- a branch are numbered in the order they commit. An entry names a record; the payload sent is
-- the record's state when it is read. origin: the device whose operation caused it, or 'hq'.
ALTER TABLE branches ADD COLUMN feed_head INTEGER NOT NULL DEFAULT 0;
CREATE TABLE feed (
    branch    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    origin    TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (branch, seq)
);
-- Version 2's feed held HQ's own changes for one device; every device of version 3 re-downloads
-- its branch once, so nothing in it is still needed.
DROP TABLE changes;
INSERT INTO branches (name, created_at)
SELECT DISTINCT branch, '1970-01-01T00:00:00+00:00' FROM devices WHERE branch NOT IN (SELECT name FROM branches);

-- An operation may be recorded under a second number of its device (carried over by a store
-- restored from a backup after its first answer was lost), so op_id is no longer unique.
CREATE TABLE applied_ops_3 (
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    op_id      TEXT NOT NULL,
    op         TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    result     TEXT NOT NULL,
    reason     TEXT,
    created_at TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
INSERT INTO applied_ops_3 SELECT device_id, seq, op_id, op, entity, entity_id, result, reason, created_at, applied_at FROM applied_ops;
DROP TABLE applied_ops;
ALTER TABLE applied_ops_3 RENAME TO applied_ops;
CREATE INDEX applied_ops_op ON applied_ops(device_id, op_id);
CREATE INDEX applied_ops_refused ON applied_ops(result) WHERE result <> 'applied';

-- Conflicts belong to a branch (its devices show them); current/proposed replace hq/branch value.
ALTER TABLE conflicts ADD COLUMN branch TEXT;
UPDATE conflicts SET branch = (SELECT b.branch FROM beneficiaries b WHERE b.id = conflicts.entity_id);
CREATE INDEX conflicts_branch ON conflicts(branch, id);

-- Files: a branch reads a file only once it has delivered the bytes itself (proven) or HQ
-- published it (branch '*'). Declaring a hash gives the right to upload it, nothing more.
ALTER TABLE attachment_owners ADD COLUMN received INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attachment_owners ADD COLUMN proven INTEGER NOT NULL DEFAULT 0;
UPDATE attachment_owners SET proven = 1,
    received = (SELECT a.size FROM attachments a WHERE a.sha256 = attachment_owners.sha256)
WHERE (SELECT a.complete FROM attachments a WHERE a.sha256 = attachment_owners.sha256) = 1;
-- Bytes of an upload in progress, per branch (two branches may hold the same file).
CREATE TABLE upload_chunks (
    sha256 TEXT NOT NULL,
    branch TEXT NOT NULL,
    offset INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, branch, offset)
);
DROP TABLE attachment_chunks;
-- Which records reference which files (the console opens a case's documents through these).
CREATE TABLE attachment_refs (
    sha256    TEXT NOT NULL,
    branch    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (sha256, branch, entity, entity_id)
);

-- Devices asking whether a national ID is registered at another branch: who asked and when (never
-- the ID), so the questions are audited and a device asking too many is stopped.
CREATE TABLE lookups (
    id        INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    at        TEXT NOT NULL,
    found     INTEGER NOT NULL
);
CREATE INDEX lookups_device ON lookups(device_id, at);

-- Snapshot paging over records of one kind of one branch.
CREATE INDEX records_branch ON records(entity, branch);
