-- The tables HQ keeps by triggers, rebuilt from the rows in one statement each (issue 12.5): a
-- whole store written at once (`sila-hq migrate-store`, `db::copy`) switches the row triggers
-- off for its rows and calls this once, instead of paying a plpgsql call and an update of a hot
-- count row per row (PostgreSQL keeps each version of that row until the transaction ends).
-- What it builds is what the triggers of 0001, 0004 and 0011 would have built from the same rows
-- inserted one by one (the test `branches_enrolled_on_sqlite_sync_on_after_moving_up_to_postgresql`
-- compares the two); a migration that changes one of those triggers replaces this function too.
-- Callable at any time: it empties the tables first, with their own count triggers off.
-- Append-only migrations: never edit once shipped.
CREATE FUNCTION rebuild_derived() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    ALTER TABLE case_facts DISABLE TRIGGER USER;
    ALTER TABLE record_facts DISABLE TRIGGER USER;
    ALTER TABLE voice_facts DISABLE TRIGGER USER;
    TRUNCATE case_facts, record_facts, survey_facts, voice_facts,
             case_counts, committee_counts, record_counts, voice_counts, register_counts;

    INSERT INTO case_facts
    SELECT rid, branch, d ->> 'channel', state, substr(d ->> 'submitted_at', 1, 7),
           d #>> '{decision,outcome}', d ->> 'promised_reply_date',
           substr(d #>> '{decision,decided_at}', 1, 10)
    FROM (SELECT rid, branch, state, data::jsonb AS d FROM cases) c;
    INSERT INTO record_facts
    SELECT entity, id, branch, d ->> 'channel', coalesce(d ->> 'purpose', d ->> 'overall'),
           substr(coalesce(d ->> 'answered_on', d ->> 'at'), 1, 7)
    FROM (SELECT entity, id, branch, data::jsonb AS d FROM records
          WHERE entity IN ('survey', 'interaction')) r;
    INSERT INTO survey_facts
    SELECT id, branch, d ->> 'channel', nullif(d ->> 'support_type', ''), d ->> 'employee',
           substr(d ->> 'answered_on', 1, 7), (d ->> 'overall')::bigint, (d ->> 'speed')::bigint,
           (d ->> 'courtesy')::bigint, (d ->> 'clarity')::bigint
    FROM (SELECT id, branch, data::jsonb AS d FROM records WHERE entity = 'survey') s;
    INSERT INTO voice_facts
    SELECT id, branch, d ->> 'kind',
           CASE WHEN d ->> 'done_at' IS NULL THEN 0
                WHEN substr(d ->> 'done_at', 1, 10) <= d ->> 'due_on' THEN 2
                ELSE 1 END,
           coalesce(d ->> 'due_on', '')
    FROM (SELECT id, branch, data::jsonb AS d FROM records WHERE entity = 'task') t
    WHERE d ->> 'kind' IN ('complaint', 'suggestion');

    INSERT INTO case_counts
    SELECT branch, coalesce(channel, ''), state, coalesce(month, ''), coalesce(outcome, ''),
           CASE WHEN decided IS NULL OR promised IS NULL THEN -1 WHEN decided <= promised THEN 1 ELSE 0 END,
           CASE WHEN state IN ('submitted', 'in_research', 'incomplete', 'in_committee')
                THEN coalesce(promised, '') ELSE '' END,
           count(*)
    FROM case_facts GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO committee_counts
    SELECT branch, coalesce(promised, ''), count(*) FROM case_facts
    WHERE state = 'in_committee' GROUP BY 1, 2;
    INSERT INTO record_counts
    SELECT entity, branch, coalesce(channel, ''), coalesce(value, ''), coalesce(month, ''), count(*)
    FROM record_facts GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO voice_counts
    SELECT branch, kind, answered, CASE WHEN answered = 0 THEN due_on ELSE '' END, count(*)
    FROM voice_facts GROUP BY 1, 2, 3, 4;
    INSERT INTO register_counts
    SELECT branch, count(*) FROM beneficiaries WHERE merged_into IS NULL GROUP BY branch;

    -- The people or "not the same" pairs may have changed: a duplicate search made before is stale.
    UPDATE duplicate_inputs SET version = version + 1 WHERE id = 1;
    ALTER TABLE case_facts ENABLE TRIGGER USER;
    ALTER TABLE record_facts ENABLE TRIGGER USER;
    ALTER TABLE voice_facts ENABLE TRIGGER USER;
END $$;
