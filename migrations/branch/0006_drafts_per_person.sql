-- Drafts belong to a person, and a person may have several in flight (an applicant interrupted by
-- a second one, two staff sharing one laptop). Until now there was one draft per key for the whole
-- device, so two people overwrote each other's work.
--
-- owner: the staff member whose draft it is; only they see it, until they hand it over (handed_by
-- then says who gave it). NULL only for a draft kept from before this migration, which had no
-- owner: whoever continues it first makes it theirs.
-- discarded_at: a discarded draft is kept a little while so "undo" can bring it back.
CREATE TABLE person_drafts (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    owner        TEXT REFERENCES staff(id),
    data         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    handed_by    TEXT REFERENCES staff(id),
    discarded_at TEXT
) STRICT;
CREATE INDEX drafts_owner ON person_drafts(owner, kind, updated_at);

-- The one draft a device had, under its old key ("intake"), becomes an unowned intake draft. Its ID
-- is a random (version 4) UUID, since SQL cannot make the version 7 ones the app makes.
INSERT INTO person_drafts (id, kind, owner, data, created_at, updated_at)
    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
               || substr(lower(hex(randomblob(2))), 2) || '-a'
               || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
           key, NULL, data, updated_at, updated_at
    FROM drafts;
DROP TABLE drafts;
ALTER TABLE person_drafts RENAME TO drafts;
