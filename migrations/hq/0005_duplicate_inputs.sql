-- The duplicate search reads beneficiaries, "not the same person" answers and merges, and at 1M
-- people it takes tens of seconds, so its answer is cached. It used to be kept until *anything*
-- changed (the connection's change count), and every console action writes an audit row, so
-- opening one file threw away the search. This counter moves only when an input of the search does.
CREATE TABLE duplicate_inputs (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO duplicate_inputs VALUES (1, 0);

CREATE TRIGGER duplicate_inputs_b_insert AFTER INSERT ON beneficiaries BEGIN
    UPDATE duplicate_inputs SET version = version + 1;
END;
CREATE TRIGGER duplicate_inputs_b_update AFTER UPDATE OF data, national_id, merged_into, branch ON beneficiaries BEGIN
    UPDATE duplicate_inputs SET version = version + 1;
END;
CREATE TRIGGER duplicate_inputs_b_delete AFTER DELETE ON beneficiaries BEGIN
    UPDATE duplicate_inputs SET version = version + 1;
END;
CREATE TRIGGER duplicate_inputs_nd_insert AFTER INSERT ON not_duplicates BEGIN
    UPDATE duplicate_inputs SET version = version + 1;
END;
CREATE TRIGGER duplicate_inputs_nd_delete AFTER DELETE ON not_duplicates BEGIN
    UPDATE duplicate_inputs SET version = version + 1;
END;
