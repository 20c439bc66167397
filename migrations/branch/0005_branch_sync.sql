-- Sync protocol 3: every device holds the whole branch. Append-only: never edit once shipped.

-- HQ's version of each record as this device last received it (0: made here and not received
-- back). An edit carries it as the version it was made on, so HQ can tell a change made knowing
-- another device's edit from one made without.
ALTER TABLE beneficiaries ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE interactions ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE surveys ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE staff ADD COLUMN hq_version INTEGER NOT NULL DEFAULT 0;

-- Two laptops of a branch can register the same person while both are offline: the second
-- registration arrives by sync and must be kept (HQ's duplicate review and the branch's merge
-- make them one), so a national ID is no longer unique in the store. The desk still searches
-- before it registers and offers the existing file.
DROP INDEX beneficiaries_national_id;
CREATE INDEX beneficiaries_national_id ON beneficiaries(national_id)
    WHERE national_id IS NOT NULL AND merged_into IS NULL;

-- Edits that collided with another, both values kept, as HQ relays them: shown at the branch
-- until a person resolves them (at HQ).
CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY,      -- HQ's number
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    current     TEXT NOT NULL,            -- JSON: the value that stands
    proposed    TEXT NOT NULL,            -- JSON: the value that collided with it
    device_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    resolution  TEXT,
    received_at TEXT NOT NULL
) STRICT;
CREATE INDEX conflicts_open ON conflicts(entity_id) WHERE resolution IS NULL;

-- A history entry this device made that HQ refused (the case had moved on another laptop, a
-- decision had been taken): kept (history is append-only) and shown as refused.
CREATE TABLE case_event_refusals (
    event_seq INTEGER PRIMARY KEY REFERENCES case_events(seq),
    reason    TEXT NOT NULL
) STRICT;

-- Files referenced by the branch's records that this device does not hold yet (made on another
-- laptop of the branch): fetched from HQ in the background after the records, or when opened.
CREATE TABLE file_downloads (
    sha256     TEXT PRIMARY KEY,
    wanted_at  TEXT NOT NULL,
    last_error TEXT
) STRICT;

-- Staff accounts known here: version 2 sent the first account of a store as its user name alone.
-- Every account goes to HQ again, whole, so the branch's other devices and HQ know its roles.
INSERT INTO outbox (op_id, device_id, op, entity, entity_id, payload, created_at)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-7' || substr(hex(randomblob(2)), 2) || '-' ||
             substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
       (SELECT value FROM meta WHERE key = 'device_id'), 'staff.create', 'staff', id,
       json_object('id', id, 'username', username, 'display_name', display_name, 'roles', json(roles),
                   'branch', branch, 'active', json(CASE WHEN active THEN 'true' ELSE 'false' END)),
       strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
FROM staff;
