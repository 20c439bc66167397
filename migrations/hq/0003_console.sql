-- The HQ console: staff accounts of HQ, their sessions, the console's audit trail, and the
-- indexes its pages need at 100k+ cases. Append-only: never edit once shipped.

-- HQ staff who sign in to the console. roles: JSON array of "reviewer" | "committee" | "admin".
-- password_hash: an Argon2id PHC string; the password itself is never stored.
CREATE TABLE console_staff (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    roles         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Only the SHA-256 of a session token is kept; the cookie holds the token.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES console_staff(id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX console_sessions_staff ON console_sessions(staff_id);

-- Every console action: who, when, what, on which record. detail holds codes and IDs only.
CREATE TABLE console_audit (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    staff_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER console_audit_append_only_u BEFORE UPDATE ON console_audit
BEGIN SELECT RAISE(ABORT, 'console_audit is append-only'); END;
CREATE TRIGGER console_audit_append_only_d BEFORE DELETE ON console_audit
BEGIN SELECT RAISE(ABORT, 'console_audit is append-only'); END;

-- What the console's pages read from the JSON records, as virtual generated columns (computed
-- when read, stored only in the indexes below), so a page or a dashboard is served from an
-- index alone: SQLite counts an index on plain (generated) columns as covering, not one on
-- expressions over `data`.
ALTER TABLE cases ADD COLUMN c_channel TEXT GENERATED ALWAYS AS (json_extract(data, '$.channel')) VIRTUAL;
ALTER TABLE cases ADD COLUMN c_month TEXT GENERATED ALWAYS AS (substr(json_extract(data, '$.submitted_at'), 1, 7)) VIRTUAL;
ALTER TABLE cases ADD COLUMN c_outcome TEXT GENERATED ALWAYS AS (json_extract(data, '$.decision.outcome')) VIRTUAL;
ALTER TABLE cases ADD COLUMN c_promised TEXT GENERATED ALWAYS AS (json_extract(data, '$.promised_reply_date')) VIRTUAL;
ALTER TABLE cases ADD COLUMN c_decided TEXT GENERATED ALWAYS AS (substr(json_extract(data, '$.decision.decided_at'), 1, 10)) VIRTUAL;
ALTER TABLE records ADD COLUMN r_channel TEXT GENERATED ALWAYS AS (json_extract(data, '$.channel')) VIRTUAL;
ALTER TABLE records ADD COLUMN r_value TEXT GENERATED ALWAYS AS (coalesce(json_extract(data, '$.purpose'), json_extract(data, '$.overall'))) VIRTUAL;
ALTER TABLE records ADD COLUMN r_month TEXT GENERATED ALWAYS AS (substr(coalesce(json_extract(data, '$.answered_on'), json_extract(data, '$.at')), 1, 7)) VIRTUAL;
ALTER TABLE records ADD COLUMN r_case TEXT GENERATED ALWAYS AS (json_extract(data, '$.case_id')) VIRTUAL;

-- The committee queue: waiting cases in promised-date order, paged by (date, rid).
CREATE INDEX cases_promised ON cases(state, c_promised, rid);
-- The whole file: a person's other cases.
CREATE INDEX cases_beneficiary ON cases(beneficiary_id);
-- Dashboards: every figure over cases is read from this index alone.
CREATE INDEX cases_dashboard ON cases(branch, c_channel, state, c_month, c_outcome, c_promised, c_decided);
-- Surveys (r_value = the overall score) and interactions (r_value = the purpose) for the
-- dashboards, and a case's records for its file.
CREATE INDEX records_dashboard ON records(entity, branch, r_channel, r_value, r_month);
CREATE INDEX records_case ON records(entity, r_case);
