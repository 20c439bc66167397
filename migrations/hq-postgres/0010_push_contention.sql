-- "Which operation holds this number?" must walk the primary key (device_id, seq). With seq also in
-- applied_ops_op's key, a plan made while the table was empty may pick that index instead and read
-- every operation of the device for each lookup (0.5 ms at 30,000 operations, growing without end).
-- seq stays in the index as an included column, so "has this operation been applied?" is still
-- answered from the index alone.
DROP INDEX applied_ops_op;
CREATE INDEX applied_ops_op ON applied_ops(device_id, op_id) INCLUDE (seq);

-- The duplicate search's change counter was one row every push that stores a person updated
-- and kept locked until its commit: pushes of different branches, on any server, waited for
-- each other there. It becomes 64 rows, each connection counting on its own one; the counter
-- is their sum, which rises with every change committed (whatever the order of commits).
ALTER TABLE duplicate_inputs DROP CONSTRAINT duplicate_inputs_id_check;
ALTER TABLE duplicate_inputs ADD CONSTRAINT duplicate_inputs_slot CHECK (id BETWEEN 1 AND 64);
INSERT INTO duplicate_inputs (id, version) SELECT g, 0 FROM generate_series(2, 64) AS g;
CREATE OR REPLACE FUNCTION duplicate_inputs_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE duplicate_inputs SET version = version + 1 WHERE id = 1 + pg_backend_pid() % 64;
    RETURN NULL;
END $$;
