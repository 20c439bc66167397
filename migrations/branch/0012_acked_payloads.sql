-- Operations headquarters has acknowledged keep their row (number, ID, result) but not their
-- payload: nothing reads it once HQ holds the operation, and payloads were most of the outbox.
-- From now on the acknowledgement itself empties it (sila-store's sync.rs); this empties those
-- acknowledged before. The space comes back to the disk at the next compaction.
UPDATE outbox SET payload = '' WHERE acked_at IS NOT NULL AND payload <> '';
