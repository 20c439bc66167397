-- Releases of the branch desktop app that HQ serves to its devices (issue 13.2). A release is
-- published once per version, its signature checked against HQ's update key before it is stored;
-- the package is kept in chunks of 64 KiB so a device resuming a cut download reads one row.
-- Each device's app version (sent with every pull) and the last problem it reported with a
-- release (a refused package, a failed installation) are kept on its row for the console.
-- Append-only: never edit once shipped.
CREATE TABLE releases (
    version      TEXT PRIMARY KEY,
    major        BIGINT NOT NULL,
    minor        BIGINT NOT NULL,
    patch        BIGINT NOT NULL,
    sha256       TEXT NOT NULL UNIQUE,
    size         BIGINT NOT NULL,
    signature    TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by TEXT NOT NULL
);
CREATE UNIQUE INDEX releases_order ON releases(major, minor, patch);
CREATE TABLE release_chunks (
    sha256 TEXT NOT NULL,
    n      BIGINT NOT NULL,
    bytes  BYTEA NOT NULL,
    PRIMARY KEY (sha256, n)
);
ALTER TABLE devices ADD COLUMN app_version TEXT;
ALTER TABLE devices ADD COLUMN update_version TEXT;
ALTER TABLE devices ADD COLUMN update_outcome TEXT;
ALTER TABLE devices ADD COLUMN update_at TEXT;
