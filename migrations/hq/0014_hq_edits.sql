-- Edits made by HQ's staff in the register (issue 11): who changed which fields of a record, at
-- which version, so the branch's timeline can show "edited at HQ" with who and when. Field names
-- only, never values. Written in the same transaction as the edit. Append-only: never edit once
-- shipped.
CREATE TABLE hq_edits (
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    version   INTEGER NOT NULL,
    at        TEXT NOT NULL,
    staff_id  TEXT NOT NULL,
    by_name   TEXT NOT NULL,
    fields    TEXT NOT NULL,                 -- a JSON array of field names
    PRIMARY KEY (entity, entity_id, version)
) WITHOUT ROWID;
