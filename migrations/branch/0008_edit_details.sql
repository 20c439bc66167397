-- Corrections show in a file's timeline: which fields an edit changed, and who changed them when.
-- The audit row of every `*.update` operation now names the fields (never their values: audit rows
-- are IDs and names of fields only). Only rows with a detail are indexed, so the index stays the
-- size of the edits, not of every audited read.
ALTER TABLE audit_events ADD COLUMN detail TEXT;
CREATE INDEX audit_events_edits ON audit_events(entity_id, seq) WHERE detail IS NOT NULL;
