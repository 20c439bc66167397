-- A contact can be with someone not registered (a question by phone, a suggestion): its
-- beneficiary becomes optional. SQLite cannot drop a NOT NULL, so the table is made again with
-- the same rows. Complaints and suggestions are listed through their tasks (kind 'complaint' or
-- 'suggestion'), indexed here by kind.
CREATE TABLE interactions_v2 (
    id             TEXT PRIMARY KEY,
    beneficiary_id TEXT REFERENCES beneficiaries(id),
    case_id        TEXT REFERENCES cases(id),
    at             TEXT NOT NULL,
    data           TEXT NOT NULL,
    hq_version     INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO interactions_v2 (id, beneficiary_id, case_id, at, data, hq_version)
    SELECT id, beneficiary_id, case_id, at, data, hq_version FROM interactions;
DROP TABLE interactions;
ALTER TABLE interactions_v2 RENAME TO interactions;
CREATE INDEX interactions_beneficiary ON interactions(beneficiary_id, at);
CREATE INDEX interactions_at ON interactions(at);
CREATE INDEX tasks_kind ON tasks(kind, done_at, due_on) WHERE kind IN ('complaint', 'suggestion');
