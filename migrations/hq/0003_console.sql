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

-- The committee queue and a case's file read two values out of the JSON records through virtual
-- generated columns (computed when read, kept only in their indexes).
ALTER TABLE cases ADD COLUMN c_promised TEXT GENERATED ALWAYS AS (json_extract(data, '$.promised_reply_date')) VIRTUAL;
ALTER TABLE records ADD COLUMN r_case TEXT GENERATED ALWAYS AS (json_extract(data, '$.case_id')) VIRTUAL;

-- The committee queue: waiting cases in promised-date order, paged by (date, rid).
CREATE INDEX cases_promised ON cases(state, c_promised, rid);
CREATE INDEX cases_promised_branch ON cases(state, branch, c_promised, rid);
-- The whole file: a person's other cases, a case's interactions, deliveries and surveys.
CREATE INDEX cases_beneficiary ON cases(beneficiary_id);
CREATE INDEX records_case ON records(entity, r_case);

-- Dashboards: the few facts of each case and of each survey and interaction they count, in narrow
-- tables kept by triggers in the same transaction as the change, so every dashboard is a scan of
-- one covering index with no JSON parsed (at 100k cases a scan of the JSON records takes seconds).
CREATE TABLE case_facts (
    rid      INTEGER PRIMARY KEY,          -- cases.rid
    branch   TEXT NOT NULL,
    channel  TEXT,
    state    TEXT NOT NULL,
    month    TEXT,                         -- submitted, YYYY-MM
    outcome  TEXT,                         -- approved | rejected
    promised TEXT,                         -- YYYY-MM-DD
    decided  TEXT                          -- YYYY-MM-DD
);
CREATE INDEX case_facts_dashboard ON case_facts(branch, channel, state, month, outcome, promised, decided);
CREATE TRIGGER case_facts_insert AFTER INSERT ON cases BEGIN
    INSERT OR REPLACE INTO case_facts VALUES (new.rid, new.branch, json_extract(new.data, '$.channel'), new.state,
        substr(json_extract(new.data, '$.submitted_at'), 1, 7), json_extract(new.data, '$.decision.outcome'),
        json_extract(new.data, '$.promised_reply_date'), substr(json_extract(new.data, '$.decision.decided_at'), 1, 10));
END;
CREATE TRIGGER case_facts_update AFTER UPDATE OF branch, state, data ON cases BEGIN
    INSERT OR REPLACE INTO case_facts VALUES (new.rid, new.branch, json_extract(new.data, '$.channel'), new.state,
        substr(json_extract(new.data, '$.submitted_at'), 1, 7), json_extract(new.data, '$.decision.outcome'),
        json_extract(new.data, '$.promised_reply_date'), substr(json_extract(new.data, '$.decision.decided_at'), 1, 10));
END;
CREATE TRIGGER case_facts_delete AFTER DELETE ON cases BEGIN
    DELETE FROM case_facts WHERE rid = old.rid;
END;
INSERT INTO case_facts
SELECT rid, branch, json_extract(data, '$.channel'), state, substr(json_extract(data, '$.submitted_at'), 1, 7),
       json_extract(data, '$.decision.outcome'), json_extract(data, '$.promised_reply_date'),
       substr(json_extract(data, '$.decision.decided_at'), 1, 10)
FROM cases;

-- value: a survey's overall score (1..5) or an interaction's purpose.
CREATE TABLE record_facts (
    entity  TEXT NOT NULL,                 -- survey | interaction
    id      TEXT NOT NULL,
    branch  TEXT NOT NULL,
    channel TEXT,
    value   TEXT,
    month   TEXT,                          -- answered / happened, YYYY-MM
    PRIMARY KEY (entity, id)
);
CREATE INDEX record_facts_dashboard ON record_facts(entity, branch, channel, value, month);
CREATE TRIGGER record_facts_insert AFTER INSERT ON records WHEN new.entity IN ('survey', 'interaction') BEGIN
    INSERT OR REPLACE INTO record_facts VALUES (new.entity, new.id, new.branch, json_extract(new.data, '$.channel'),
        CAST(coalesce(json_extract(new.data, '$.purpose'), json_extract(new.data, '$.overall')) AS TEXT),
        substr(coalesce(json_extract(new.data, '$.answered_on'), json_extract(new.data, '$.at')), 1, 7));
END;
CREATE TRIGGER record_facts_update AFTER UPDATE ON records WHEN new.entity IN ('survey', 'interaction') BEGIN
    INSERT OR REPLACE INTO record_facts VALUES (new.entity, new.id, new.branch, json_extract(new.data, '$.channel'),
        CAST(coalesce(json_extract(new.data, '$.purpose'), json_extract(new.data, '$.overall')) AS TEXT),
        substr(coalesce(json_extract(new.data, '$.answered_on'), json_extract(new.data, '$.at')), 1, 7));
END;
CREATE TRIGGER record_facts_delete AFTER DELETE ON records WHEN old.entity IN ('survey', 'interaction') BEGIN
    DELETE FROM record_facts WHERE entity = old.entity AND id = old.id;
END;
INSERT INTO record_facts
SELECT entity, id, branch, json_extract(data, '$.channel'),
       CAST(coalesce(json_extract(data, '$.purpose'), json_extract(data, '$.overall')) AS TEXT),
       substr(coalesce(json_extract(data, '$.answered_on'), json_extract(data, '$.at')), 1, 7)
FROM records WHERE entity IN ('survey', 'interaction');
