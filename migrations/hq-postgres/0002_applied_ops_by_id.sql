-- The same index as SQLite's 0008: "has this operation been applied?" finds its first number
-- (ORDER BY seq LIMIT 1) from the index alone.
DROP INDEX applied_ops_op;
CREATE INDEX applied_ops_op ON applied_ops(device_id, op_id, seq);
