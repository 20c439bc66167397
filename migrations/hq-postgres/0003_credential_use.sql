-- An enrolment code yields its device's credential only until the credential is first used
-- (issue 9, item 7): HQ notes that first use here, for the device's current credential, and a
-- new credential starts unused. Devices that already pushed have used theirs.
-- Append-only: never edit once shipped.
ALTER TABLE devices ADD COLUMN credential_used_at TEXT;
UPDATE devices SET credential_used_at = last_seen_at WHERE last_seen_at IS NOT NULL;
