-- HQ's register (issue 11, points 4, 6 and 8): every branch's people found by name, national ID,
-- mobile or file number; a person's contacts and surveys; complaints and suggestions with their
-- answers; survey scores per question. Append-only: never edit once shipped.

-- The search terms of each beneficiary, written in Rust in the same transaction as the record
-- (`sql::register::index_person`): the normalised name tokens (`arabic::name_tokens`, the branch's
-- own search key), 'm:' + the national-format mobile reversed (so "the last four digits" is a
-- prefix), 'f:' + the file number. Every lookup is a range of the primary key.
CREATE TABLE register_terms (
    term TEXT NOT NULL,
    rid  INTEGER NOT NULL,                 -- beneficiaries.rid
    PRIMARY KEY (term, rid)
) WITHOUT ROWID;
CREATE INDEX register_terms_rid ON register_terms(rid, term);
-- Browsing one branch's register in the order people were received.
CREATE INDEX beneficiaries_branch_rid ON beneficiaries(branch, rid);

-- A person's contacts and surveys, and the complaint and suggestion tasks (their owner, due date
-- and answer), read out of the JSON records through virtual generated columns.
ALTER TABLE records ADD COLUMN r_beneficiary TEXT GENERATED ALWAYS AS (json_extract(data, '$.beneficiary_id')) VIRTUAL;
ALTER TABLE records ADD COLUMN r_kind TEXT GENERATED ALWAYS AS (json_extract(data, '$.kind')) VIRTUAL;
CREATE INDEX records_beneficiary ON records(entity, r_beneficiary);
CREATE INDEX records_kind ON records(entity, r_kind);

-- Every score of every survey (not only the overall one), with what it is counted by: branch,
-- channel, service (support type) and the employee who served. Kept by triggers like case_facts.
CREATE TABLE survey_facts (
    id       TEXT PRIMARY KEY,             -- records.id of the survey
    branch   TEXT NOT NULL,
    channel  TEXT,
    service  TEXT,
    employee TEXT,
    month    TEXT,                         -- answered, YYYY-MM
    overall  INTEGER,
    speed    INTEGER,
    courtesy INTEGER,
    clarity  INTEGER
);
CREATE INDEX survey_facts_scores ON survey_facts(branch, channel, service, employee, month, overall, speed, courtesy, clarity);
CREATE TRIGGER survey_facts_insert AFTER INSERT ON records WHEN new.entity = 'survey' BEGIN
    INSERT OR REPLACE INTO survey_facts VALUES (new.id, new.branch, json_extract(new.data, '$.channel'),
        nullif(json_extract(new.data, '$.support_type'), ''), json_extract(new.data, '$.employee'),
        substr(json_extract(new.data, '$.answered_on'), 1, 7),
        json_extract(new.data, '$.overall'), json_extract(new.data, '$.speed'),
        json_extract(new.data, '$.courtesy'), json_extract(new.data, '$.clarity'));
END;
CREATE TRIGGER survey_facts_update AFTER UPDATE ON records WHEN new.entity = 'survey' BEGIN
    INSERT OR REPLACE INTO survey_facts VALUES (new.id, new.branch, json_extract(new.data, '$.channel'),
        nullif(json_extract(new.data, '$.support_type'), ''), json_extract(new.data, '$.employee'),
        substr(json_extract(new.data, '$.answered_on'), 1, 7),
        json_extract(new.data, '$.overall'), json_extract(new.data, '$.speed'),
        json_extract(new.data, '$.courtesy'), json_extract(new.data, '$.clarity'));
END;
CREATE TRIGGER survey_facts_delete AFTER DELETE ON records WHEN old.entity = 'survey' BEGIN
    DELETE FROM survey_facts WHERE id = old.id;
END;
INSERT INTO survey_facts
SELECT id, branch, json_extract(data, '$.channel'), nullif(json_extract(data, '$.support_type'), ''),
       json_extract(data, '$.employee'), substr(json_extract(data, '$.answered_on'), 1, 7),
       json_extract(data, '$.overall'), json_extract(data, '$.speed'), json_extract(data, '$.courtesy'),
       json_extract(data, '$.clarity')
FROM records WHERE entity = 'survey';
