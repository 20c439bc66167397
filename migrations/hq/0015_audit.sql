-- One audit (issue 12.9). HQ had two: `hq_audit`, written by the rules in the action's own
-- transaction but without the console's detail, and `console_audit`, written by the console after
-- the action had committed (a crash between the two lost the row). From here every action of a
-- person at HQ writes one row of `audit`, in the same transaction as the change it records; a
-- read of a whole file or an export writes its row before the answer is sent. Who, when, what, on
-- which record; `detail` holds codes and IDs only (never a name, a national ID or a phone).
-- Append-only, by trigger. Append-only migrations: never edit once shipped.
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    staff_name TEXT NOT NULL,
    action     TEXT NOT NULL,
    entity     TEXT NOT NULL,
    entity_id  TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_entity ON audit(entity, entity_id);

-- The old rows, in the order they were written. An `hq_audit` row was the rules' twin of a
-- console row (merges, their undo, "not the same person"): kept, marked by where it came from.
INSERT INTO audit (at, staff_id, staff_name, action, entity, entity_id, detail)
SELECT at, staff_id, staff_name, action, entity, entity_id, detail FROM (
    SELECT at, staff_id, staff_name, action, entity, entity_id, detail, 0 AS source, id
    FROM console_audit
    UNION ALL
    SELECT a.at, a.staff_id, COALESCE(s.display_name, ''), a.action, a.entity, a.entity_id,
           '{"from":"hq_audit"}', 1, a.id
    FROM hq_audit a LEFT JOIN console_staff s ON s.id = a.staff_id
) ORDER BY at, source, id;

-- Dropping a table drops its triggers first, so console_audit's append-only triggers let it go.
DROP TABLE console_audit;
DROP TABLE hq_audit;

CREATE TRIGGER audit_append_only_u BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_append_only_d BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
