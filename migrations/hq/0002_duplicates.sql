-- Duplicate review at HQ: merges that can be undone, "not the same person" remembered, and an
-- audit trail of what HQ staff did.

-- A pair a reviewer said are different people: never proposed again. a < b.
CREATE TABLE not_duplicates (
    a        TEXT NOT NULL,
    b        TEXT NOT NULL,
    staff_id TEXT NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (a, b),
    CHECK (a < b)
);

-- Every merge, with the values chosen for the survivor and where each came from, and the
-- survivor's values before, so that an undo puts them back.
CREATE TABLE merges (
    id         INTEGER PRIMARY KEY,
    survivor   TEXT NOT NULL,
    merged     TEXT NOT NULL,
    chosen     TEXT NOT NULL,     -- {"field": {"value": …, "from": "survivor" | "merged"}}
    previous   TEXT NOT NULL,     -- {"field": survivor's value before the merge}
    staff_id   TEXT NOT NULL,
    staff_name TEXT NOT NULL,
    at         TEXT NOT NULL,
    undone_at  TEXT,
    undone_by  TEXT
);
CREATE INDEX merges_merged ON merges(merged) WHERE undone_at IS NULL;

-- What HQ staff did (console and command line): actions and record IDs, never names or values.
CREATE TABLE hq_audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    staff_id  TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL
);
CREATE INDEX hq_audit_entity ON hq_audit(entity, entity_id);
