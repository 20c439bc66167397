-- The counts the home screen shows, kept as the data changes instead of counted each time: at
-- 100k beneficiaries, counting the live ones read the whole table (every page decrypted) on every
-- visit to home. Triggers keep them, so every writer (the desk, imports, sync, demo data) keeps
-- them in the same transaction as its change, and a rolled-back change leaves them as they were.
--   beneficiaries       people not merged into another file
--   cases:STATE         cases in each state (a row appears with the first case in that state)
--   outbox_pending      operations not yet acknowledged by headquarters
CREATE TABLE tallies (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO tallies (name, value)
    SELECT 'beneficiaries', count(*) FROM beneficiaries WHERE merged_into IS NULL;
INSERT INTO tallies (name, value)
    SELECT 'outbox_pending', count(*) FROM outbox WHERE acked_at IS NULL;
INSERT INTO tallies (name, value)
    SELECT 'cases:' || state, count(*) FROM cases GROUP BY state;

CREATE TRIGGER tally_beneficiary_insert AFTER INSERT ON beneficiaries
WHEN new.merged_into IS NULL BEGIN
    UPDATE tallies SET value = value + 1 WHERE name = 'beneficiaries';
END;
CREATE TRIGGER tally_beneficiary_delete AFTER DELETE ON beneficiaries
WHEN old.merged_into IS NULL BEGIN
    UPDATE tallies SET value = value - 1 WHERE name = 'beneficiaries';
END;
CREATE TRIGGER tally_beneficiary_merge AFTER UPDATE OF merged_into ON beneficiaries
WHEN (old.merged_into IS NULL) <> (new.merged_into IS NULL) BEGIN
    UPDATE tallies SET value = value + iif(new.merged_into IS NULL, 1, -1)
        WHERE name = 'beneficiaries';
END;

CREATE TRIGGER tally_case_insert AFTER INSERT ON cases BEGIN
    INSERT INTO tallies (name, value) VALUES ('cases:' || new.state, 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1;
END;
CREATE TRIGGER tally_case_delete AFTER DELETE ON cases BEGIN
    UPDATE tallies SET value = value - 1 WHERE name = 'cases:' || old.state;
END;
CREATE TRIGGER tally_case_state AFTER UPDATE OF state ON cases
WHEN old.state <> new.state BEGIN
    UPDATE tallies SET value = value - 1 WHERE name = 'cases:' || old.state;
    INSERT INTO tallies (name, value) VALUES ('cases:' || new.state, 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1;
END;

CREATE TRIGGER tally_outbox_insert AFTER INSERT ON outbox
WHEN new.acked_at IS NULL BEGIN
    UPDATE tallies SET value = value + 1 WHERE name = 'outbox_pending';
END;
CREATE TRIGGER tally_outbox_delete AFTER DELETE ON outbox
WHEN old.acked_at IS NULL BEGIN
    UPDATE tallies SET value = value - 1 WHERE name = 'outbox_pending';
END;
CREATE TRIGGER tally_outbox_ack AFTER UPDATE OF acked_at ON outbox
WHEN (old.acked_at IS NULL) <> (new.acked_at IS NULL) BEGIN
    UPDATE tallies SET value = value + iif(new.acked_at IS NULL, 1, -1)
        WHERE name = 'outbox_pending';
END;
