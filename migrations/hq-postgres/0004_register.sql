-- HQ's register (issue 11, points 4, 6 and 8), the twin of migrations/hq/0010_register.sql.
-- Append-only: never edit once shipped.

-- Search terms of each beneficiary, written in Rust with the record (`sql::register::index_person`).
-- COLLATE "C": a prefix is a range of code points, whatever the database's locale.
CREATE TABLE register_terms (
    term TEXT COLLATE "C" NOT NULL,
    rid  BIGINT NOT NULL,
    PRIMARY KEY (term, rid)
);
CREATE INDEX register_terms_rid ON register_terms(rid, term);
CREATE INDEX beneficiaries_branch_rid ON beneficiaries(branch, rid);

ALTER TABLE records ADD COLUMN r_beneficiary TEXT GENERATED ALWAYS AS (data::jsonb ->> 'beneficiary_id') STORED;
ALTER TABLE records ADD COLUMN r_kind TEXT GENERATED ALWAYS AS (data::jsonb ->> 'kind') STORED;
CREATE INDEX records_beneficiary ON records(entity, r_beneficiary);
CREATE INDEX records_kind ON records(entity, r_kind);

CREATE TABLE survey_facts (
    id       TEXT PRIMARY KEY,
    branch   TEXT NOT NULL,
    channel  TEXT,
    service  TEXT,
    employee TEXT,
    month    TEXT,
    overall  BIGINT,
    speed    BIGINT,
    courtesy BIGINT,
    clarity  BIGINT
);
CREATE INDEX survey_facts_scores ON survey_facts(branch, channel, service, employee, month, overall, speed, courtesy, clarity);
CREATE FUNCTION survey_facts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM survey_facts WHERE id = OLD.id AND OLD.entity = 'survey';
        RETURN NULL;
    END IF;
    IF NEW.entity <> 'survey' THEN
        RETURN NULL;
    END IF;
    d := NEW.data::jsonb;
    INSERT INTO survey_facts VALUES (NEW.id, NEW.branch, d ->> 'channel', nullif(d ->> 'support_type', ''),
        d ->> 'employee', substr(d ->> 'answered_on', 1, 7), (d ->> 'overall')::bigint,
        (d ->> 'speed')::bigint, (d ->> 'courtesy')::bigint, (d ->> 'clarity')::bigint)
    ON CONFLICT (id) DO UPDATE SET branch = EXCLUDED.branch, channel = EXCLUDED.channel,
        service = EXCLUDED.service, employee = EXCLUDED.employee, month = EXCLUDED.month,
        overall = EXCLUDED.overall, speed = EXCLUDED.speed, courtesy = EXCLUDED.courtesy,
        clarity = EXCLUDED.clarity;
    RETURN NULL;
END $$;
CREATE TRIGGER survey_facts_keep AFTER INSERT OR UPDATE OR DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION survey_facts_keep();
INSERT INTO survey_facts
SELECT id, branch, d ->> 'channel', nullif(d ->> 'support_type', ''), d ->> 'employee',
       substr(d ->> 'answered_on', 1, 7), (d ->> 'overall')::bigint, (d ->> 'speed')::bigint,
       (d ->> 'courtesy')::bigint, (d ->> 'clarity')::bigint
FROM (SELECT id, branch, data::jsonb AS d FROM records WHERE entity = 'survey') s;
