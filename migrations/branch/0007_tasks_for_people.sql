-- Tasks go to a person as well as to a role, can be snoozed, and are edited (done, snoozed, given
-- to someone else), each edit synced as the fields that changed.
--
-- assignee: the staff member it is for; NULL leaves it in its role's pool.
-- case_id: the case it is about, so a case file lists its tasks and a rule closes them by index.
-- version: counts local edits (hq_version, from 0005, is the base of the next edit pushed).
-- due_on keeps being the day the task is due now (a snoozed task's later day); the task's own
-- due date stays in `data`.
ALTER TABLE tasks ADD COLUMN assignee TEXT;
ALTER TABLE tasks ADD COLUMN case_id TEXT;
ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
UPDATE tasks SET case_id = json_extract(data, '$.case_id');
CREATE INDEX tasks_case ON tasks(case_id) WHERE case_id IS NOT NULL;
CREATE INDEX tasks_assignee ON tasks(assignee, done_at, due_on) WHERE assignee IS NOT NULL;
