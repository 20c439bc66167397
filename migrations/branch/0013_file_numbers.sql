-- A beneficiary's file number in a column of its own, indexed: a desk finds a person by the number
-- on their paper file, and an import that brings file numbers back (sila-store's import.rs) checks
-- that each names one person only. Kept equal to the record's `file_number` by every write of a
-- beneficiary row. Not unique: a person merged away keeps theirs, and sync must never fail on it.
ALTER TABLE beneficiaries ADD COLUMN file_number TEXT;
UPDATE beneficiaries SET file_number = json_extract(data, '$.file_number')
    WHERE json_extract(data, '$.file_number') IS NOT NULL;
CREATE INDEX beneficiaries_file_number ON beneficiaries(file_number) WHERE file_number IS NOT NULL;
