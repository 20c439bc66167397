-- Acknowledged operations keep their payloads until one of HQ's backups holds them (a restored
-- HQ asks for them again), but packed: runs of them compressed together here, the rows' own
-- payloads emptied (sila-store's outbox.rs, `pack_acknowledged`). A run goes as a whole once a
-- backup holds its last operation; a restore unpacks the runs it needs back into their rows.
-- (IF NOT EXISTS: the tests that rebuild an older schema by hand leave later tables in place.)
CREATE TABLE IF NOT EXISTS outbox_packs (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    payloads  BLOB NOT NULL
) STRICT;
