-- The console's counts at a million cases (issue 12.7), the twin of
-- migrations/hq/0016_console_counts.sql: each count a page showed over the whole store is kept in
-- a count table by triggers on the facts tables, in the same transaction as the rows it counts, so
-- a page sums a few rows. A count that reaches zero is deleted; text keys hold '' for "none".
-- The facts' own triggers (0001, 0004) write with ON CONFLICT DO UPDATE, which fires the update
-- triggers the counts move by. Append-only migrations: never edit once shipped.

-- Complaint and suggestion tasks, for their page: (answered, due_on, id) is the page's order
-- (overdue, open, answered late, answered on time, then the due date). answered: 0 not yet,
-- 1 late, 2 on time (answered on or before the due date, the day of done_at in UTC).
CREATE TABLE voice_facts (
    id       TEXT PRIMARY KEY,
    branch   TEXT NOT NULL,
    kind     TEXT NOT NULL,
    answered BIGINT NOT NULL,
    due_on   TEXT COLLATE "C" NOT NULL
);
CREATE INDEX voice_facts_page ON voice_facts(answered, due_on, id);
CREATE INDEX voice_facts_branch_page ON voice_facts(branch, answered, due_on, id);
CREATE FUNCTION voice_facts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE d jsonb;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM voice_facts WHERE id = OLD.id;
        RETURN NULL;
    END IF;
    d := NEW.data::jsonb;
    IF coalesce(d ->> 'kind', '') NOT IN ('complaint', 'suggestion') THEN
        DELETE FROM voice_facts WHERE id = NEW.id;
        RETURN NULL;
    END IF;
    INSERT INTO voice_facts VALUES (NEW.id, NEW.branch, d ->> 'kind',
        CASE WHEN d ->> 'done_at' IS NULL THEN 0
             WHEN substr(d ->> 'done_at', 1, 10) <= d ->> 'due_on' THEN 2
             ELSE 1 END,
        coalesce(d ->> 'due_on', ''))
    ON CONFLICT (id) DO UPDATE SET branch = EXCLUDED.branch, kind = EXCLUDED.kind,
        answered = EXCLUDED.answered, due_on = EXCLUDED.due_on;
    RETURN NULL;
END $$;
CREATE TRIGGER voice_facts_keep AFTER INSERT OR UPDATE ON records
    FOR EACH ROW WHEN (NEW.entity = 'task') EXECUTE FUNCTION voice_facts_keep();
CREATE TRIGGER voice_facts_gone AFTER DELETE ON records
    FOR EACH ROW WHEN (OLD.entity = 'task') EXECUTE FUNCTION voice_facts_keep();
INSERT INTO voice_facts
SELECT id, branch, d ->> 'kind',
       CASE WHEN d ->> 'done_at' IS NULL THEN 0
            WHEN substr(d ->> 'done_at', 1, 10) <= d ->> 'due_on' THEN 2
            ELSE 1 END,
       coalesce(d ->> 'due_on', '')
FROM (SELECT id, branch, data::jsonb AS d FROM records WHERE entity = 'task') t
WHERE d ->> 'kind' IN ('complaint', 'suggestion');

-- The dashboard's case figures; a waiting case (`rules::promise::WAITING`) keeps its promised day
-- (whether it is overdue depends on the day the dashboard is read). on_time: 1 decided by the
-- promised date, 0 after it, -1 no decision or no promise.
CREATE TABLE case_counts (
    branch   TEXT NOT NULL,
    channel  TEXT NOT NULL,
    state    TEXT NOT NULL,
    month    TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    on_time  BIGINT NOT NULL,
    promised TEXT COLLATE "C" NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (branch, channel, state, month, outcome, on_time, promised)
);
-- The committee queue's totals: cases in committee by branch and promised day.
CREATE TABLE committee_counts (
    branch   TEXT NOT NULL,
    promised TEXT COLLATE "C" NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (branch, promised)
);
-- The dashboard's surveys (value: the overall score) and contacts (value: the purpose).
CREATE TABLE record_counts (
    entity  TEXT NOT NULL,
    branch  TEXT NOT NULL,
    channel TEXT NOT NULL,
    value   TEXT NOT NULL,
    month   TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (entity, branch, channel, value, month)
);
-- Complaints and suggestions by branch, kind and answer; one not yet answered keeps its due day.
CREATE TABLE voice_counts (
    branch   TEXT NOT NULL,
    kind     TEXT NOT NULL,
    answered BIGINT NOT NULL,
    due_on   TEXT COLLATE "C" NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (branch, kind, answered, due_on)
);
-- The register's people (not merged into another) by branch.
CREATE TABLE register_counts (
    branch TEXT PRIMARY KEY,
    n      BIGINT NOT NULL
);

-- Each count moves by d (1 or -1) for one facts row; an update moves one count from the old key
-- to the new one, only when a fact changed.
CREATE FUNCTION case_counts_add(f case_facts, d bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k_channel  text := coalesce(f.channel, '');
    k_month    text := coalesce(f.month, '');
    k_outcome  text := coalesce(f.outcome, '');
    k_on_time  bigint := CASE WHEN f.decided IS NULL OR f.promised IS NULL THEN -1
                              WHEN f.decided <= f.promised THEN 1 ELSE 0 END;
    k_promised text := CASE WHEN f.state IN ('submitted', 'in_research', 'incomplete', 'in_committee')
                            THEN coalesce(f.promised, '') ELSE '' END;
BEGIN
    INSERT INTO case_counts VALUES (f.branch, k_channel, f.state, k_month, k_outcome, k_on_time, k_promised, d)
    ON CONFLICT (branch, channel, state, month, outcome, on_time, promised)
    DO UPDATE SET n = case_counts.n + EXCLUDED.n;
    IF d < 0 THEN
        DELETE FROM case_counts WHERE n = 0 AND branch = f.branch AND channel = k_channel
            AND state = f.state AND month = k_month AND outcome = k_outcome AND on_time = k_on_time
            AND promised = k_promised;
    END IF;
    IF f.state = 'in_committee' THEN
        INSERT INTO committee_counts VALUES (f.branch, coalesce(f.promised, ''), d)
        ON CONFLICT (branch, promised) DO UPDATE SET n = committee_counts.n + EXCLUDED.n;
        IF d < 0 THEN
            DELETE FROM committee_counts WHERE n = 0 AND branch = f.branch
                AND promised = coalesce(f.promised, '');
        END IF;
    END IF;
END $$;
CREATE FUNCTION case_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM case_counts_add(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM case_counts_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER case_counts_keep AFTER INSERT OR DELETE ON case_facts
    FOR EACH ROW EXECUTE FUNCTION case_counts_keep();
CREATE TRIGGER case_counts_move AFTER UPDATE ON case_facts
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION case_counts_keep();

CREATE FUNCTION record_counts_add(f record_facts, d bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k_channel text := coalesce(f.channel, '');
    k_value   text := coalesce(f.value, '');
    k_month   text := coalesce(f.month, '');
BEGIN
    INSERT INTO record_counts VALUES (f.entity, f.branch, k_channel, k_value, k_month, d)
    ON CONFLICT (entity, branch, channel, value, month) DO UPDATE SET n = record_counts.n + EXCLUDED.n;
    IF d < 0 THEN
        DELETE FROM record_counts WHERE n = 0 AND entity = f.entity AND branch = f.branch
            AND channel = k_channel AND value = k_value AND month = k_month;
    END IF;
END $$;
CREATE FUNCTION record_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM record_counts_add(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM record_counts_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER record_counts_keep AFTER INSERT OR DELETE ON record_facts
    FOR EACH ROW EXECUTE FUNCTION record_counts_keep();
CREATE TRIGGER record_counts_move AFTER UPDATE ON record_facts
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION record_counts_keep();

CREATE FUNCTION voice_counts_add(f voice_facts, d bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    k_due text := CASE WHEN f.answered = 0 THEN f.due_on ELSE '' END;
BEGIN
    INSERT INTO voice_counts VALUES (f.branch, f.kind, f.answered, k_due, d)
    ON CONFLICT (branch, kind, answered, due_on) DO UPDATE SET n = voice_counts.n + EXCLUDED.n;
    IF d < 0 THEN
        DELETE FROM voice_counts WHERE n = 0 AND branch = f.branch AND kind = f.kind
            AND answered = f.answered AND due_on = k_due;
    END IF;
END $$;
CREATE FUNCTION voice_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM voice_counts_add(OLD, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM voice_counts_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER voice_counts_keep AFTER INSERT OR DELETE ON voice_facts
    FOR EACH ROW EXECUTE FUNCTION voice_counts_keep();
CREATE TRIGGER voice_counts_move AFTER UPDATE ON voice_facts
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION voice_counts_keep();

CREATE FUNCTION register_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.merged_into IS NULL THEN
        UPDATE register_counts SET n = n - 1 WHERE branch = OLD.branch;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.merged_into IS NULL THEN
        INSERT INTO register_counts VALUES (NEW.branch, 1)
        ON CONFLICT (branch) DO UPDATE SET n = register_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER register_counts_keep AFTER INSERT OR DELETE ON beneficiaries
    FOR EACH ROW EXECUTE FUNCTION register_counts_keep();
CREATE TRIGGER register_counts_move AFTER UPDATE OF branch, merged_into ON beneficiaries
    FOR EACH ROW WHEN (OLD.branch IS DISTINCT FROM NEW.branch
                       OR (OLD.merged_into IS NULL) <> (NEW.merged_into IS NULL))
    EXECUTE FUNCTION register_counts_keep();

-- The counts of the rows already stored.
INSERT INTO case_counts
SELECT branch, coalesce(channel, ''), state, coalesce(month, ''), coalesce(outcome, ''),
       CASE WHEN decided IS NULL OR promised IS NULL THEN -1 WHEN decided <= promised THEN 1 ELSE 0 END,
       CASE WHEN state IN ('submitted', 'in_research', 'incomplete', 'in_committee')
            THEN coalesce(promised, '') ELSE '' END,
       count(*)
FROM case_facts GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO committee_counts
SELECT branch, coalesce(promised, ''), count(*) FROM case_facts WHERE state = 'in_committee' GROUP BY 1, 2;
INSERT INTO record_counts
SELECT entity, branch, coalesce(channel, ''), coalesce(value, ''), coalesce(month, ''), count(*)
FROM record_facts GROUP BY 1, 2, 3, 4, 5;
INSERT INTO voice_counts
SELECT branch, kind, answered, CASE WHEN answered = 0 THEN due_on ELSE '' END, count(*)
FROM voice_facts GROUP BY 1, 2, 3, 4;
INSERT INTO register_counts
SELECT branch, count(*) FROM beneficiaries WHERE merged_into IS NULL GROUP BY branch;
