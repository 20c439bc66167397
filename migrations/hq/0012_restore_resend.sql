-- A restored HQ gets back what branches sent after its backup (issue 12.8). Append-only: never
-- edit once shipped.
--
-- backed_up_seq: the highest sequence of the device that HQ's last completed backup holds
-- (`sila-hq backup`). Devices keep the payloads of acknowledged operations above it, to send
-- them again if HQ is restored from that backup.
ALTER TABLE devices ADD COLUMN backed_up_seq INTEGER NOT NULL DEFAULT 0;

-- epoch_seen: the epoch (meta 'epoch') of the device's last pull. While HQ runs on a restored
-- copy (meta 'copy_epoch' is its epoch), a device not seen since may still hold work HQ lacks:
-- its colleagues' holding checks wait for it instead of ordering re-downloads that cannot help.
ALTER TABLE devices ADD COLUMN epoch_seen TEXT NOT NULL DEFAULT '';

-- Each backup `sila-hq backup` completed: when, into which file, and the epoch the copy carries
-- (a restore of it brings that epoch back, and devices then know HQ went back in time).
CREATE TABLE backups (
    id       INTEGER PRIMARY KEY,
    taken_at TEXT NOT NULL,
    epoch    TEXT NOT NULL,
    file     TEXT NOT NULL
);

-- Each branch's feed position when the current epoch (meta 'epoch') began: a device that knew
-- another epoch reads the feed again from there. A branch without a row had no feed yet (0).
CREATE TABLE feed_epochs (
    branch TEXT PRIMARY KEY,
    head   INTEGER NOT NULL
);
