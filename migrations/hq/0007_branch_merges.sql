-- Merges made at a branch (two registrations of one person at one branch) are kept beside HQ's,
-- under the branch's own ID for them, so a repeat changes nothing and an undo finds its merge.
-- Append-only: never edit once shipped.
ALTER TABLE merges ADD COLUMN branch_merge_id TEXT;
CREATE UNIQUE INDEX merges_branch_merge ON merges(branch_merge_id) WHERE branch_merge_id IS NOT NULL;
