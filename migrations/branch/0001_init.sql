-- Branch store, first schema. Append-only: never edit this file once shipped; add 0002_… instead.
-- Records keep their full domain form as JSON in `data`; the columns beside it are what queries and
-- indexes need. IDs are UUIDv7 text made on the device.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

CREATE TABLE staff (
    id           TEXT PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    roles        TEXT NOT NULL,            -- JSON array of role codes
    branch       TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

-- rid is the stable integer key the full-text index points at (a TEXT primary key's rowid may move on VACUUM).
CREATE TABLE beneficiaries (
    rid          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    branch       TEXT NOT NULL,
    full_name    TEXT NOT NULL,
    name_key     TEXT NOT NULL,            -- arabic::name_key of every name form, for search
    national_id  TEXT,
    phone        TEXT,                     -- E.164
    phone_rev    TEXT,                     -- national-format digits reversed: a phone tail is an index prefix
    birth_date   TEXT,
    data         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    merged_into  TEXT,                     -- set when HQ merged this person into another
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX beneficiaries_national_id ON beneficiaries(national_id)
    WHERE national_id IS NOT NULL AND merged_into IS NULL;
CREATE INDEX beneficiaries_phone_rev ON beneficiaries(phone_rev) WHERE phone_rev IS NOT NULL;
CREATE INDEX beneficiaries_name_key ON beneficiaries(name_key);

CREATE VIRTUAL TABLE beneficiary_fts USING fts5(
    name_key,
    content = 'beneficiaries',
    content_rowid = 'rid',
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '2 3'
);
CREATE TRIGGER beneficiaries_fts_insert AFTER INSERT ON beneficiaries BEGIN
    INSERT INTO beneficiary_fts(rowid, name_key) VALUES (new.rid, new.name_key);
END;
CREATE TRIGGER beneficiaries_fts_delete AFTER DELETE ON beneficiaries BEGIN
    INSERT INTO beneficiary_fts(beneficiary_fts, rowid, name_key) VALUES ('delete', old.rid, old.name_key);
END;
CREATE TRIGGER beneficiaries_fts_update AFTER UPDATE OF name_key ON beneficiaries BEGIN
    INSERT INTO beneficiary_fts(beneficiary_fts, rowid, name_key) VALUES ('delete', old.rid, old.name_key);
    INSERT INTO beneficiary_fts(rowid, name_key) VALUES (new.rid, new.name_key);
END;

CREATE TABLE cases (
    rid                 INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    number              TEXT NOT NULL UNIQUE,
    beneficiary_id      TEXT NOT NULL REFERENCES beneficiaries(id),
    branch              TEXT NOT NULL,
    state               TEXT NOT NULL,
    support_type        TEXT NOT NULL,
    channel             TEXT NOT NULL,
    promised_reply_date TEXT,
    data                TEXT NOT NULL,
    version             INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;
CREATE INDEX cases_beneficiary ON cases(beneficiary_id);
CREATE INDEX cases_state_promise ON cases(state, promised_reply_date);

-- The history of every case. Append-only, enforced here as well as in code.
CREATE TABLE case_events (
    seq     INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(id),
    at      TEXT NOT NULL,
    data    TEXT NOT NULL
) STRICT;
CREATE INDEX case_events_case ON case_events(case_id, seq);
CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events BEGIN SELECT RAISE(ABORT, 'case history is append-only'); END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events BEGIN SELECT RAISE(ABORT, 'case history is append-only'); END;

CREATE TABLE interactions (
    id             TEXT PRIMARY KEY,
    beneficiary_id TEXT NOT NULL REFERENCES beneficiaries(id),
    case_id        TEXT REFERENCES cases(id),
    at             TEXT NOT NULL,
    data           TEXT NOT NULL
) STRICT;
CREATE INDEX interactions_beneficiary ON interactions(beneficiary_id, at);

CREATE TABLE deliveries (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(id),
    delivered_on TEXT NOT NULL,
    data         TEXT NOT NULL
) STRICT;
CREATE INDEX deliveries_case ON deliveries(case_id);

CREATE TABLE surveys (
    id      TEXT PRIMARY KEY,
    case_id TEXT REFERENCES cases(id),     -- NULL when answered anonymously
    data    TEXT NOT NULL
) STRICT;

-- Content-addressed files. Bytes live inside the encrypted store.
CREATE TABLE attachments (
    sha256     TEXT PRIMARY KEY,
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    bytes      BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE tasks (
    id      TEXT PRIMARY KEY,
    key     TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    role    TEXT NOT NULL,
    due_on  TEXT NOT NULL,
    done_at TEXT,
    data    TEXT NOT NULL
) STRICT;
CREATE INDEX tasks_open ON tasks(done_at, due_on);

-- Wizard drafts: every step of the intake is saved here as it is typed.
CREATE TABLE drafts (
    key        TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- Who opened which file and who changed what. No personal data: IDs only.
CREATE TABLE audit_events (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    staff_id  TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL
) STRICT;

-- Every local change as a named operation, written in the same transaction as the change.
-- seq is the per-device sequence: AUTOINCREMENT so a number is never reused.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id        TEXT NOT NULL UNIQUE,
    device_id    TEXT NOT NULL,
    op           TEXT NOT NULL,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    base_version INTEGER,
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    acked_at     TEXT,
    result       TEXT
) STRICT;
CREATE INDEX outbox_unacked ON outbox(seq) WHERE acked_at IS NULL;
