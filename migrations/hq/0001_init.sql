-- Headquarters store, first schema. Append-only: never edit once shipped; add 0002_… instead.
-- Written in the SQL that SQLite and PostgreSQL share where it costs nothing (TEXT ids, INTEGER
-- counters, JSON kept as TEXT), so the PostgreSQL backend's schema is a translation, not a redesign.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE branches (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);

-- One-time enrolment codes; only their SHA-256 is kept.
CREATE TABLE enrol_codes (
    code_hash      TEXT PRIMARY KEY,
    branch         TEXT NOT NULL REFERENCES branches(name),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_by_device TEXT,
    used_at        TEXT
);

-- Enrolled branch devices. last_seq: the highest outbox sequence of the device HQ has applied.
CREATE TABLE devices (
    device_id        TEXT PRIMARY KEY,
    branch           TEXT NOT NULL REFERENCES branches(name),
    token_hash       TEXT NOT NULL UNIQUE,
    enrolled_at      TEXT NOT NULL,
    revoked_at       TEXT,
    last_seen_at     TEXT,
    last_seq         INTEGER NOT NULL DEFAULT 0,
    resync_requested INTEGER NOT NULL DEFAULT 0
);

-- What HQ did with every operation it received: a repeat is answered from here, never applied twice.
CREATE TABLE applied_ops (
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    op_id      TEXT NOT NULL UNIQUE,
    op         TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    result     TEXT NOT NULL,            -- applied | conflict | rejected
    reason     TEXT,
    created_at TEXT NOT NULL,            -- the device's clock: shown, never used to order
    applied_at TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX applied_ops_refused ON applied_ops(result) WHERE result <> 'applied';

-- Records as the branches sent them. data is the domain record as JSON; version counts the
-- owning device's versions. field_writes: {field: {"write_id": n, "seen_at": v|null}} for fields
-- HQ itself wrote, so an edit made without having seen HQ's write is a conflict, not an overwrite.
CREATE TABLE beneficiaries (
    rid          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    branch       TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    national_id  TEXT,
    data         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    field_writes TEXT NOT NULL DEFAULT '{}',
    merged_into  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX beneficiaries_branch ON beneficiaries(branch);
CREATE INDEX beneficiaries_device ON beneficiaries(device_id);
CREATE INDEX beneficiaries_national_id ON beneficiaries(national_id) WHERE national_id IS NOT NULL;

-- hq_decided: the last transition was HQ's; a branch transition from an earlier state is refused.
CREATE TABLE cases (
    rid            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    branch         TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    beneficiary_id TEXT NOT NULL,
    state          TEXT NOT NULL,
    data           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    hq_decided     INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX cases_branch ON cases(branch, state);
CREATE INDEX cases_device ON cases(device_id);

CREATE TABLE case_events (
    seq     INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL,
    origin  TEXT NOT NULL,               -- 'branch' or 'hq'
    data    TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events(case_id, seq);

-- Append-only records, and tasks, keyed by the IDs the branches made.
CREATE TABLE records (
    entity    TEXT NOT NULL,             -- interaction | delivery | survey | task | staff | kb
    id        TEXT NOT NULL,
    branch    TEXT NOT NULL,
    device_id TEXT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (entity, id)
);

-- Content-addressed files. received counts the bytes held so far, in `attachment_chunks`, until
-- the whole file is there and its SHA-256 checks; then the bytes move to `bytes`.
CREATE TABLE attachments (
    sha256   TEXT PRIMARY KEY,
    mime     TEXT NOT NULL,
    size     INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0,
    bytes    BLOB
);
CREATE TABLE attachment_chunks (
    sha256 TEXT NOT NULL,
    offset INTEGER NOT NULL,
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, offset)
);
-- Which branches declared a file (an attachment.add they pushed): only they may upload it.
CREATE TABLE attachment_owners (
    sha256 TEXT NOT NULL,
    branch TEXT NOT NULL,
    PRIMARY KEY (sha256, branch)
);

-- Edits that collided: both values, for a person to resolve in the HQ console.
CREATE TABLE conflicts (
    id           INTEGER PRIMARY KEY,
    entity       TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    field        TEXT NOT NULL,
    hq_value     TEXT,
    branch_value TEXT,
    base_version INTEGER,
    device_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    resolved_at  TEXT,
    resolution   TEXT
);
CREATE INDEX conflicts_open ON conflicts(resolved_at, id);

-- HQ's writes to beneficiary fields (HQ edits, conflict resolutions), numbered.
CREATE TABLE hq_writes (
    write_id       INTEGER PRIMARY KEY,
    beneficiary_id TEXT NOT NULL,
    fields         TEXT NOT NULL,
    at             TEXT NOT NULL
);

-- The change feed, numbered by HQ. branch NULL: every branch receives the entry.
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    branch    TEXT,
    kind      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    payload   TEXT NOT NULL,
    at        TEXT NOT NULL
);
CREATE INDEX changes_branch ON changes(branch, seq);
