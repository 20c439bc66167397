-- "Has this operation been applied?" asks by (device_id, op_id) and wants its first number
-- (ORDER BY seq LIMIT 1). With seq outside the index SQLite chose the primary key (device_id, seq)
-- to avoid the sort and read every operation of the device for each one pushed: a branch's first
-- push of 40,000 operations went quadratic and timed out. seq in the index answers from it.
DROP INDEX applied_ops_op;
CREATE INDEX applied_ops_op ON applied_ops(device_id, op_id, seq);
