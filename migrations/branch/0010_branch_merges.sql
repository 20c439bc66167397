-- Two registrations of one person at this branch merged here, with undo. The rule (which value
-- each field takes, what the survivor had before) is sila_domain::merge, the same one HQ applies
-- to the `beneficiary.merge` operation this writes.
-- chosen: {field: "survivor" | "merged"}: where each chosen field's value came from.
-- previous: the survivor's values, before the merge, of the fields it took from the other record.
CREATE TABLE branch_merges (
    id        TEXT PRIMARY KEY,
    survivor  TEXT NOT NULL REFERENCES beneficiaries(id),
    merged    TEXT NOT NULL REFERENCES beneficiaries(id),
    chosen    TEXT NOT NULL,
    previous  TEXT NOT NULL,
    staff_id  TEXT NOT NULL,
    at        TEXT NOT NULL,
    undone_at TEXT,
    undone_by TEXT
) STRICT;
CREATE INDEX branch_merges_survivor ON branch_merges(survivor);
CREATE INDEX branch_merges_merged ON branch_merges(merged);
CREATE INDEX beneficiaries_merged_into ON beneficiaries(merged_into) WHERE merged_into IS NOT NULL;
