-- Appeals: the committee finds a rejected case by the number on the beneficiary's receipt
-- (e.g. AFL-7QK-000123) to reopen it. Numbers are unique per branch device and carry the branch
-- code, so an index on the number is a seek.
ALTER TABLE cases ADD COLUMN c_number TEXT GENERATED ALWAYS AS (json_extract(data, '$.number')) VIRTUAL;
CREATE INDEX cases_number ON cases(c_number);
