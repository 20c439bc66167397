-- Sync bookkeeping of the branch store. Append-only: never edit once shipped.
-- The device credential and the pull cursor are rows of `meta` (inside the encrypted store):
--   hq_url, device_token, enrolled_branch, enrolled_at, pull_cursor, last_sync_at, last_sync_error.

-- Feed entries from HQ already applied, by their own identity (decision, HQ write, merge, document),
-- so a full re-download that replays the feed changes nothing twice.
CREATE TABLE sync_applied (
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    change_seq INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT;

-- Records HQ sent that were born elsewhere (a merge survivor from another branch). They are shown,
-- never pushed, and left out of the holding digest.
CREATE TABLE foreign_records (
    entity TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (entity, id)
) STRICT;

-- Which attachments HQ holds completely (verified by SHA-256 there). Bytes stay in `attachments`.
CREATE TABLE attachment_uploads (
    sha256      TEXT PRIMARY KEY,
    uploaded_at TEXT,
    last_error  TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_attachment_add ON outbox(entity_id) WHERE op = 'attachment.add';
CREATE INDEX outbox_refused ON outbox(seq) WHERE result IS NOT NULL AND result <> 'applied';

-- Knowledge-base documents published at HQ whose file is still on its way. Once the file is here
-- and its SHA-256 checked, the document moves to the knowledge base (kb_documents, source 'hq').
CREATE TABLE kb_downloads (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',
    sha256       TEXT NOT NULL,
    mime         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    published_at TEXT NOT NULL
) STRICT;

-- A download in progress, chunk by chunk, so a cut resumes where it stopped.
CREATE TABLE download_parts (
    sha256 TEXT NOT NULL,
    offset INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, offset)
) STRICT;
