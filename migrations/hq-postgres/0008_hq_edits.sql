-- Edits made by HQ's staff in the register, the twin of migrations/hq/0014_hq_edits.sql.
-- Append-only: never edit once shipped.
CREATE TABLE hq_edits (
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    at        TEXT NOT NULL,
    staff_id  TEXT NOT NULL,
    by_name   TEXT NOT NULL,
    fields    TEXT NOT NULL,
    PRIMARY KEY (entity, entity_id, version)
);
