-- The console's counts at a million cases (issue 12.7). A page that showed a count over the whole
-- store (the committee queue's totals, the dashboard, the register's total, complaints and
-- suggestions) counted it on every request: at 1M cases a second and more. From here each count
-- is kept in a count table by triggers, in the same transaction as the rows it counts, so a page
-- sums a few rows. The triggers are on the facts tables of 0003 (and voice_facts below), whose
-- columns are already read out of the JSON. A count that reaches zero is deleted, so a count table
-- holds only keys that count something. Text keys hold '' for "none" (a unique key's NULLs would
-- all differ). Append-only migrations: never edit once shipped.

-- The facts' own triggers wrote with INSERT OR REPLACE, whose implicit delete fires no trigger
-- (SQLite fires delete triggers of a REPLACE only with recursive triggers on): an upsert instead,
-- which fires the update trigger the counts move by.
DROP TRIGGER case_facts_insert;
DROP TRIGGER case_facts_update;
CREATE TRIGGER case_facts_insert AFTER INSERT ON cases BEGIN
    INSERT INTO case_facts VALUES (new.rid, new.branch, json_extract(new.data, '$.channel'), new.state,
        substr(json_extract(new.data, '$.submitted_at'), 1, 7), json_extract(new.data, '$.decision.outcome'),
        json_extract(new.data, '$.promised_reply_date'), substr(json_extract(new.data, '$.decision.decided_at'), 1, 10))
    ON CONFLICT (rid) DO UPDATE SET branch = excluded.branch, channel = excluded.channel, state = excluded.state,
        month = excluded.month, outcome = excluded.outcome, promised = excluded.promised, decided = excluded.decided;
END;
CREATE TRIGGER case_facts_update AFTER UPDATE OF branch, state, data ON cases BEGIN
    INSERT INTO case_facts VALUES (new.rid, new.branch, json_extract(new.data, '$.channel'), new.state,
        substr(json_extract(new.data, '$.submitted_at'), 1, 7), json_extract(new.data, '$.decision.outcome'),
        json_extract(new.data, '$.promised_reply_date'), substr(json_extract(new.data, '$.decision.decided_at'), 1, 10))
    ON CONFLICT (rid) DO UPDATE SET branch = excluded.branch, channel = excluded.channel, state = excluded.state,
        month = excluded.month, outcome = excluded.outcome, promised = excluded.promised, decided = excluded.decided;
END;
DROP TRIGGER record_facts_insert;
DROP TRIGGER record_facts_update;
CREATE TRIGGER record_facts_insert AFTER INSERT ON records WHEN new.entity IN ('survey', 'interaction') BEGIN
    INSERT INTO record_facts VALUES (new.entity, new.id, new.branch, json_extract(new.data, '$.channel'),
        CAST(coalesce(json_extract(new.data, '$.purpose'), json_extract(new.data, '$.overall')) AS TEXT),
        substr(coalesce(json_extract(new.data, '$.answered_on'), json_extract(new.data, '$.at')), 1, 7))
    ON CONFLICT (entity, id) DO UPDATE SET branch = excluded.branch, channel = excluded.channel,
        value = excluded.value, month = excluded.month;
END;
CREATE TRIGGER record_facts_update AFTER UPDATE ON records WHEN new.entity IN ('survey', 'interaction') BEGIN
    INSERT INTO record_facts VALUES (new.entity, new.id, new.branch, json_extract(new.data, '$.channel'),
        CAST(coalesce(json_extract(new.data, '$.purpose'), json_extract(new.data, '$.overall')) AS TEXT),
        substr(coalesce(json_extract(new.data, '$.answered_on'), json_extract(new.data, '$.at')), 1, 7))
    ON CONFLICT (entity, id) DO UPDATE SET branch = excluded.branch, channel = excluded.channel,
        value = excluded.value, month = excluded.month;
END;

-- Complaint and suggestion tasks, for their page (`sql::register::voice`): its order is the
-- status's (overdue, open, answered late, answered on time), then the due date, which is
-- (answered, due_on, id) here, since a task not yet answered is overdue exactly when its due date
-- is before today. answered: 0 not yet, 1 late, 2 on time (`Task::done_on_time`: answered on or
-- before its due date, the day of done_at in UTC, as the devices write it).
CREATE TABLE voice_facts (
    id       TEXT PRIMARY KEY,             -- records.id of the task
    branch   TEXT NOT NULL,
    kind     TEXT NOT NULL,                -- complaint | suggestion
    answered INTEGER NOT NULL,
    due_on   TEXT NOT NULL                 -- YYYY-MM-DD
);
CREATE INDEX voice_facts_page ON voice_facts(answered, due_on, id);
CREATE INDEX voice_facts_branch_page ON voice_facts(branch, answered, due_on, id);
CREATE TRIGGER voice_facts_insert AFTER INSERT ON records
    WHEN new.entity = 'task' AND json_extract(new.data, '$.kind') IN ('complaint', 'suggestion') BEGIN
    INSERT INTO voice_facts VALUES (new.id, new.branch, json_extract(new.data, '$.kind'),
        CASE WHEN json_extract(new.data, '$.done_at') IS NULL THEN 0
             WHEN substr(json_extract(new.data, '$.done_at'), 1, 10) <= json_extract(new.data, '$.due_on') THEN 2
             ELSE 1 END,
        coalesce(json_extract(new.data, '$.due_on'), ''))
    ON CONFLICT (id) DO UPDATE SET branch = excluded.branch, kind = excluded.kind,
        answered = excluded.answered, due_on = excluded.due_on;
END;
CREATE TRIGGER voice_facts_update AFTER UPDATE ON records WHEN new.entity = 'task' BEGIN
    DELETE FROM voice_facts WHERE id = new.id
        AND coalesce(json_extract(new.data, '$.kind'), '') NOT IN ('complaint', 'suggestion');
    INSERT INTO voice_facts SELECT new.id, new.branch, json_extract(new.data, '$.kind'),
        CASE WHEN json_extract(new.data, '$.done_at') IS NULL THEN 0
             WHEN substr(json_extract(new.data, '$.done_at'), 1, 10) <= json_extract(new.data, '$.due_on') THEN 2
             ELSE 1 END,
        coalesce(json_extract(new.data, '$.due_on'), '')
        WHERE json_extract(new.data, '$.kind') IN ('complaint', 'suggestion')
    ON CONFLICT (id) DO UPDATE SET branch = excluded.branch, kind = excluded.kind,
        answered = excluded.answered, due_on = excluded.due_on;
END;
CREATE TRIGGER voice_facts_delete AFTER DELETE ON records WHEN old.entity = 'task' BEGIN
    DELETE FROM voice_facts WHERE id = old.id;
END;
INSERT INTO voice_facts
SELECT id, branch, json_extract(data, '$.kind'),
       CASE WHEN json_extract(data, '$.done_at') IS NULL THEN 0
            WHEN substr(json_extract(data, '$.done_at'), 1, 10) <= json_extract(data, '$.due_on') THEN 2
            ELSE 1 END,
       coalesce(json_extract(data, '$.due_on'), '')
FROM records WHERE entity = 'task' AND json_extract(data, '$.kind') IN ('complaint', 'suggestion');

-- The dashboard's case figures: cases by branch, channel, state, month submitted, outcome, and
-- whether the decision kept the promised date (1 yes, 0 no, -1 no decision or no promise); a
-- waiting case (`rules::promise::WAITING`) keeps its promised day too, as whether it is overdue
-- depends on the day the dashboard is read.
CREATE TABLE case_counts (
    branch   TEXT NOT NULL,
    channel  TEXT NOT NULL,
    state    TEXT NOT NULL,
    month    TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    on_time  INTEGER NOT NULL,
    promised TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (branch, channel, state, month, outcome, on_time, promised)
) WITHOUT ROWID;
-- The committee queue's totals: cases in committee by branch and promised day.
CREATE TABLE committee_counts (
    branch   TEXT NOT NULL,
    promised TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (branch, promised)
) WITHOUT ROWID;
-- The dashboard's surveys (value: the overall score) and contacts (value: the purpose).
CREATE TABLE record_counts (
    entity  TEXT NOT NULL,
    branch  TEXT NOT NULL,
    channel TEXT NOT NULL,
    value   TEXT NOT NULL,
    month   TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (entity, branch, channel, value, month)
) WITHOUT ROWID;
-- Complaints and suggestions by branch, kind and answer; one not yet answered keeps its due day.
CREATE TABLE voice_counts (
    branch   TEXT NOT NULL,
    kind     TEXT NOT NULL,
    answered INTEGER NOT NULL,
    due_on   TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (branch, kind, answered, due_on)
) WITHOUT ROWID;
-- The register's people (not merged into another) by branch.
CREATE TABLE register_counts (
    branch TEXT PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;

-- An update moves one count from the old key to the new one, only when a fact changed.
CREATE TRIGGER case_counts_insert AFTER INSERT ON case_facts BEGIN
    INSERT INTO case_counts (branch, channel, state, month, outcome, on_time, promised, n) VALUES (new.branch,
        coalesce(new.channel, ''),
        new.state,
        coalesce(new.month, ''),
        coalesce(new.outcome, ''),
        CASE WHEN new.decided IS NULL OR new.promised IS NULL THEN -1 WHEN new.decided <= new.promised THEN 1 ELSE 0 END,
        CASE WHEN new.state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(new.promised, '') ELSE '' END, 1)
        ON CONFLICT (branch, channel, state, month, outcome, on_time, promised) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER case_counts_delete AFTER DELETE ON case_facts BEGIN
    UPDATE case_counts SET n = n - 1 WHERE branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND state = old.state
        AND month = coalesce(old.month, '')
        AND outcome = coalesce(old.outcome, '')
        AND on_time = CASE WHEN old.decided IS NULL OR old.promised IS NULL THEN -1 WHEN old.decided <= old.promised THEN 1 ELSE 0 END
        AND promised = CASE WHEN old.state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(old.promised, '') ELSE '' END;
    DELETE FROM case_counts WHERE n = 0 AND branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND state = old.state
        AND month = coalesce(old.month, '')
        AND outcome = coalesce(old.outcome, '')
        AND on_time = CASE WHEN old.decided IS NULL OR old.promised IS NULL THEN -1 WHEN old.decided <= old.promised THEN 1 ELSE 0 END
        AND promised = CASE WHEN old.state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(old.promised, '') ELSE '' END;
END;
CREATE TRIGGER case_counts_update AFTER UPDATE ON case_facts WHEN old.branch IS NOT new.branch OR old.channel IS NOT new.channel OR old.state IS NOT new.state OR old.month IS NOT new.month OR old.outcome IS NOT new.outcome OR old.promised IS NOT new.promised OR old.decided IS NOT new.decided BEGIN
    UPDATE case_counts SET n = n - 1 WHERE branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND state = old.state
        AND month = coalesce(old.month, '')
        AND outcome = coalesce(old.outcome, '')
        AND on_time = CASE WHEN old.decided IS NULL OR old.promised IS NULL THEN -1 WHEN old.decided <= old.promised THEN 1 ELSE 0 END
        AND promised = CASE WHEN old.state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(old.promised, '') ELSE '' END;
    DELETE FROM case_counts WHERE n = 0 AND branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND state = old.state
        AND month = coalesce(old.month, '')
        AND outcome = coalesce(old.outcome, '')
        AND on_time = CASE WHEN old.decided IS NULL OR old.promised IS NULL THEN -1 WHEN old.decided <= old.promised THEN 1 ELSE 0 END
        AND promised = CASE WHEN old.state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(old.promised, '') ELSE '' END;
    INSERT INTO case_counts (branch, channel, state, month, outcome, on_time, promised, n) VALUES (new.branch,
        coalesce(new.channel, ''),
        new.state,
        coalesce(new.month, ''),
        coalesce(new.outcome, ''),
        CASE WHEN new.decided IS NULL OR new.promised IS NULL THEN -1 WHEN new.decided <= new.promised THEN 1 ELSE 0 END,
        CASE WHEN new.state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(new.promised, '') ELSE '' END, 1)
        ON CONFLICT (branch, channel, state, month, outcome, on_time, promised) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER committee_counts_insert AFTER INSERT ON case_facts WHEN new.state = 'in_committee' BEGIN
    INSERT INTO committee_counts (branch, promised, n) VALUES (new.branch,
        coalesce(new.promised, ''), 1)
        ON CONFLICT (branch, promised) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER committee_counts_delete AFTER DELETE ON case_facts WHEN old.state = 'in_committee' BEGIN
    UPDATE committee_counts SET n = n - 1 WHERE branch = old.branch
        AND promised = coalesce(old.promised, '');
    DELETE FROM committee_counts WHERE n = 0 AND branch = old.branch
        AND promised = coalesce(old.promised, '');
END;
CREATE TRIGGER committee_counts_update AFTER UPDATE ON case_facts WHEN old.branch IS NOT new.branch OR old.state IS NOT new.state OR old.promised IS NOT new.promised BEGIN
    -- Only the sides that count.
    UPDATE committee_counts SET n = n - 1 WHERE old.state = 'in_committee' AND branch = old.branch
        AND promised = coalesce(old.promised, '');
    DELETE FROM committee_counts WHERE old.state = 'in_committee' AND n = 0 AND branch = old.branch
        AND promised = coalesce(old.promised, '');
    INSERT INTO committee_counts (branch, promised, n) SELECT new.branch,
        coalesce(new.promised, ''), 1 WHERE new.state = 'in_committee'
        ON CONFLICT (branch, promised) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER record_counts_insert AFTER INSERT ON record_facts BEGIN
    INSERT INTO record_counts (entity, branch, channel, value, month, n) VALUES (new.entity,
        new.branch,
        coalesce(new.channel, ''),
        coalesce(new.value, ''),
        coalesce(new.month, ''), 1)
        ON CONFLICT (entity, branch, channel, value, month) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER record_counts_delete AFTER DELETE ON record_facts BEGIN
    UPDATE record_counts SET n = n - 1 WHERE entity = old.entity
        AND branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND value = coalesce(old.value, '')
        AND month = coalesce(old.month, '');
    DELETE FROM record_counts WHERE n = 0 AND entity = old.entity
        AND branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND value = coalesce(old.value, '')
        AND month = coalesce(old.month, '');
END;
CREATE TRIGGER record_counts_update AFTER UPDATE ON record_facts WHEN old.entity IS NOT new.entity OR old.branch IS NOT new.branch OR old.channel IS NOT new.channel OR old.value IS NOT new.value OR old.month IS NOT new.month BEGIN
    UPDATE record_counts SET n = n - 1 WHERE entity = old.entity
        AND branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND value = coalesce(old.value, '')
        AND month = coalesce(old.month, '');
    DELETE FROM record_counts WHERE n = 0 AND entity = old.entity
        AND branch = old.branch
        AND channel = coalesce(old.channel, '')
        AND value = coalesce(old.value, '')
        AND month = coalesce(old.month, '');
    INSERT INTO record_counts (entity, branch, channel, value, month, n) VALUES (new.entity,
        new.branch,
        coalesce(new.channel, ''),
        coalesce(new.value, ''),
        coalesce(new.month, ''), 1)
        ON CONFLICT (entity, branch, channel, value, month) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER voice_counts_insert AFTER INSERT ON voice_facts BEGIN
    INSERT INTO voice_counts (branch, kind, answered, due_on, n) VALUES (new.branch,
        new.kind,
        new.answered,
        CASE WHEN new.answered = 0 THEN coalesce(new.due_on, '') ELSE '' END, 1)
        ON CONFLICT (branch, kind, answered, due_on) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER voice_counts_delete AFTER DELETE ON voice_facts BEGIN
    UPDATE voice_counts SET n = n - 1 WHERE branch = old.branch
        AND kind = old.kind
        AND answered = old.answered
        AND due_on = CASE WHEN old.answered = 0 THEN coalesce(old.due_on, '') ELSE '' END;
    DELETE FROM voice_counts WHERE n = 0 AND branch = old.branch
        AND kind = old.kind
        AND answered = old.answered
        AND due_on = CASE WHEN old.answered = 0 THEN coalesce(old.due_on, '') ELSE '' END;
END;
CREATE TRIGGER voice_counts_update AFTER UPDATE ON voice_facts WHEN old.branch IS NOT new.branch OR old.kind IS NOT new.kind OR old.answered IS NOT new.answered OR old.due_on IS NOT new.due_on BEGIN
    UPDATE voice_counts SET n = n - 1 WHERE branch = old.branch
        AND kind = old.kind
        AND answered = old.answered
        AND due_on = CASE WHEN old.answered = 0 THEN coalesce(old.due_on, '') ELSE '' END;
    DELETE FROM voice_counts WHERE n = 0 AND branch = old.branch
        AND kind = old.kind
        AND answered = old.answered
        AND due_on = CASE WHEN old.answered = 0 THEN coalesce(old.due_on, '') ELSE '' END;
    INSERT INTO voice_counts (branch, kind, answered, due_on, n) VALUES (new.branch,
        new.kind,
        new.answered,
        CASE WHEN new.answered = 0 THEN coalesce(new.due_on, '') ELSE '' END, 1)
        ON CONFLICT (branch, kind, answered, due_on) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER register_counts_insert AFTER INSERT ON beneficiaries WHEN new.merged_into IS NULL BEGIN
    INSERT INTO register_counts (branch, n) VALUES (new.branch, 1)
        ON CONFLICT (branch) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER register_counts_delete AFTER DELETE ON beneficiaries WHEN old.merged_into IS NULL BEGIN
    UPDATE register_counts SET n = n - 1 WHERE branch = old.branch;
END;
CREATE TRIGGER register_counts_update AFTER UPDATE OF branch, merged_into ON beneficiaries
    WHEN old.branch IS NOT new.branch OR (old.merged_into IS NULL) <> (new.merged_into IS NULL) BEGIN
    UPDATE register_counts SET n = n - 1 WHERE old.merged_into IS NULL AND branch = old.branch;
    INSERT INTO register_counts (branch, n) SELECT new.branch, 1 WHERE new.merged_into IS NULL
        ON CONFLICT (branch) DO UPDATE SET n = n + 1;
END;

-- The counts of the rows already stored.
INSERT INTO case_counts (branch, channel, state, month, outcome, on_time, promised, n)
SELECT branch,
       coalesce(channel, ''),
       state,
       coalesce(month, ''),
       coalesce(outcome, ''),
       CASE WHEN decided IS NULL OR promised IS NULL THEN -1 WHEN decided <= promised THEN 1 ELSE 0 END,
       CASE WHEN state IN ('submitted', 'in_research', 'incomplete', 'in_committee') THEN coalesce(promised, '') ELSE '' END,
       count(*)
FROM case_facts GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO committee_counts (branch, promised, n)
SELECT branch,
       coalesce(promised, ''),
       count(*)
FROM case_facts WHERE state = 'in_committee' GROUP BY 1, 2;

INSERT INTO record_counts (entity, branch, channel, value, month, n)
SELECT entity,
       branch,
       coalesce(channel, ''),
       coalesce(value, ''),
       coalesce(month, ''),
       count(*)
FROM record_facts GROUP BY 1, 2, 3, 4, 5;

INSERT INTO voice_counts (branch, kind, answered, due_on, n)
SELECT branch,
       kind,
       answered,
       CASE WHEN answered = 0 THEN coalesce(due_on, '') ELSE '' END,
       count(*)
FROM voice_facts GROUP BY 1, 2, 3, 4;

INSERT INTO register_counts (branch, n)
SELECT branch, count(*) FROM beneficiaries WHERE merged_into IS NULL GROUP BY branch;
