-- The twin of migrations/hq/0017_records_kind_gone.sql: records_kind and its column r_kind (0004)
-- go, as no statement on records needs them (the complaints page reads voice_facts since 0011;
-- the plans that chose records_kind, the console's staff of every branch and rebuild_derived()'s
-- reads of one entity, used it for its `entity` prefix, which the primary key, records_case,
-- records_beneficiary and records_branch have as well). r_kind was a STORED column: every record
-- written parsed its JSON once more for it. Append-only migrations: never edit once shipped.
DROP INDEX records_kind;
ALTER TABLE records DROP COLUMN r_kind;
