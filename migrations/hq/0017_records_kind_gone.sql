-- The index records_kind and its column r_kind (0010) read a task's kind for the complaints page;
-- since 0016 that page reads voice_facts, and no statement on records needs either: the only plan
-- that chose records_kind (the console's staff of every branch, `entity = 'staff'`) used it for its
-- `entity` prefix, which records_beneficiary, records_case and the primary key have as well.
-- Dropping a VIRTUAL column rewrites no row. Append-only: never edit once shipped.
DROP INDEX records_kind;
ALTER TABLE records DROP COLUMN r_kind;
