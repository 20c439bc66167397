//! Tasks in the store: rule tasks made (and closed) as cases move, tasks people add, and the edits a
//! desk makes to any of them (done, snoozed, taken or given to a colleague). Which tasks a rule calls
//! for, when their reason has gone and what an edit may do are the domain's (`sila_domain::task`);
//! this module stores what it decides, each creation and edit with its outbox operation.

use crate::beneficiaries::changed_fields;
use crate::error::{Result, StoreError};
use crate::{Store, Writer, staff_by_username};
use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use sila_domain::case::Case;
use sila_domain::error::FieldError;
use sila_domain::ids::{BeneficiaryId, CaseId, StaffId, TaskId};
use sila_domain::staff::Role;
use sila_domain::task::{self, Task, TaskKind, TaskOrigin};

/// Who may work on tasks (add, do, snooze, hand over).
const TASK_ROLES: &[Role] = &[Role::Representative, Role::Researcher, Role::Admin];

fn kind_code(k: TaskKind) -> Result<String> {
    Ok(serde_json::to_value(k)?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn invalid(errors: Vec<FieldError>) -> StoreError {
    StoreError::Invalid(errors)
}

impl Writer<'_> {
    /// Create the rule tasks a case calls for now (each at most once, by its key), and close the
    /// open rule tasks of the case whose reason has gone.
    pub(crate) fn refresh_rule_tasks_for(&self, c: &Case) -> Result<usize> {
        let data: String = self.tx.query_row(
            "SELECT data FROM beneficiaries WHERE id = ?1",
            [c.beneficiary_id.to_string()],
            |r| r.get(0),
        )?;
        let b: sila_domain::beneficiary::Beneficiary = serde_json::from_str(&data)?;
        let last_assessed: Option<String> = self
            .tx
            .query_row(
                "SELECT max(at) FROM case_events WHERE case_id IN (SELECT id FROM cases WHERE beneficiary_id = ?1)
                   AND json_extract(data, '$.transition') = 'register'",
                [c.beneficiary_id.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let last_assessed = last_assessed
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| d.date_naive());
        let today = self.now.date_naive();
        let mut made = 0;
        for rt in task::rule_tasks(
            c,
            b.preferred_channel,
            today,
            last_assessed,
            &self.catalog.policy,
        ) {
            let t = Task {
                id: task::rule_task_id(&rt.key),
                key: rt.key,
                kind: rt.kind,
                beneficiary_id: Some(c.beneficiary_id),
                case_id: Some(c.id),
                role: rt.role,
                due_on: rt.due_on,
                channel: rt.channel,
                note: rt.note,
                origin: TaskOrigin::Rule,
                done_at: None,
                done_by: None,
                assignee: None,
                snoozed_until: None,
                interaction_id: None,
                answer_id: None,
            };
            made += self.insert_task(&t)?;
        }
        for t in self.open_tasks_of_case(c.id)? {
            if t.kind.is_rule() && !task::reason_holds(t.kind, c) {
                let now = self.now;
                self.edit_task(t.id, |t| t.complete(None, now).map_err(one))?;
            }
        }
        Ok(made)
    }

    fn open_tasks_of_case(&self, case: CaseId) -> Result<Vec<Task>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT data FROM tasks WHERE case_id = ?1 AND done_at IS NULL")?;
        let rows = stmt.query_map([case.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Close the open tasks of a case of one kind, done by the person making this change (a
    /// decision announced closes "announce the decision"; a survey taken closes "ask about the service").
    pub(crate) fn close_case_tasks(&self, case: CaseId, kind: TaskKind) -> Result<()> {
        let by = self.session.actor.staff_id;
        let now = self.now;
        for t in self.open_tasks_of_case(case)? {
            if t.kind == kind {
                self.edit_task(t.id, |t| t.complete(Some(by), now).map_err(one))?;
            }
        }
        Ok(())
    }

    /// Insert a task unless one with its key exists. Returns 1 when inserted.
    pub(crate) fn insert_task(&self, t: &Task) -> Result<usize> {
        t.validate().map_err(invalid)?;
        let n = self.exec(
            "INSERT INTO tasks (id, key, kind, role, due_on, done_at, data, assignee, case_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT DO NOTHING",
            params![
                t.id.to_string(),
                t.key,
                kind_code(t.kind)?,
                t.role.code(),
                t.due().to_string(),
                t.done_at.map(|d| d.to_rfc3339()),
                serde_json::to_string(t)?,
                t.assignee.map(|a| a.to_string()),
                t.case_id.map(|c| c.to_string()),
            ],
        )?;
        if n == 1 {
            self.op(
                "task.create",
                "task",
                &t.id.to_string(),
                None,
                &serde_json::to_value(t)?,
            )?;
        }
        Ok(n)
    }

    /// Change a task as `f` says (the domain's edits), and record the fields that changed as a
    /// `task.update` based on the version HQ last sent (its completion as a `task.done`).
    pub(crate) fn edit_task(
        &self,
        id: TaskId,
        f: impl FnOnce(&mut Task) -> Result<()>,
    ) -> Result<Task> {
        let (data, hq_version): (String, i64) = self
            .tx
            .prepare_cached("SELECT data, hq_version FROM tasks WHERE id = ?1")?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .ok_or(StoreError::NotFound("task"))?;
        let mut t: Task = serde_json::from_str(&data)?;
        let before = serde_json::to_value(&t)?;
        f(&mut t)?;
        t.validate().map_err(invalid)?;
        let after = serde_json::to_value(&t)?;
        let changed = changed_fields(&before, &after);
        if changed.is_empty() {
            return Ok(t);
        }
        self.exec(
            "UPDATE tasks SET role = ?2, due_on = ?3, done_at = ?4, assignee = ?5, data = ?6,
                 version = version + 1 WHERE id = ?1",
            params![
                id.to_string(),
                t.role.code(),
                t.due().to_string(),
                t.done_at.map(|d| d.to_rfc3339()),
                t.assignee.map(|a| a.to_string()),
                after.to_string(),
            ],
        )?;
        // Done is its own operation: a task done on two laptops is done once at HQ, where two
        // different "done at" values would otherwise collide as an edit of the same field.
        let mut changed = changed;
        let done = ["done_at", "done_by"]
            .iter()
            .any(|f| changed.contains_key(*f));
        if done {
            changed.remove("done_at");
            changed.remove("done_by");
            self.op(
                "task.done",
                "task",
                &id.to_string(),
                None,
                &serde_json::json!({ "done_at": t.done_at, "done_by": t.done_by }),
            )?;
        }
        if !changed.is_empty() {
            self.op(
                "task.update",
                "task",
                &id.to_string(),
                Some(hq_version),
                &serde_json::json!({ "fields": changed }),
            )?;
        }
        Ok(t)
    }
}

impl Store {
    /// Open tasks for the signed-in person, soonest due first: those given to them, and those in
    /// the pool of their roles (an administrator sees every pool).
    pub fn my_tasks(&self, limit: usize) -> Result<Vec<Task>> {
        // The filter runs in SQL: filtering a fixed window in Rust would hide a person's tasks
        // behind enough earlier tasks of other roles and people.
        let roles: Vec<&str> = self.session.actor.roles.iter().map(|r| r.code()).collect();
        let admin = self.session.actor.roles.contains(&Role::Admin);
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM tasks WHERE done_at IS NULL
               AND (assignee = ?1
                    OR (assignee IS NULL AND (?2 OR role IN (SELECT value FROM json_each(?3)))))
             ORDER BY due_on, id LIMIT ?4",
        )?;
        let rows = stmt.query_map(
            params![
                self.session.actor.staff_id.to_string(),
                admin,
                serde_json::to_string(&roles)?,
                limit as i64
            ],
            |r| r.get::<_, String>(0),
        )?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// The open tasks about a case, whoever they are for, soonest due first.
    pub fn case_tasks(&self, case: CaseId) -> Result<Vec<Task>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM tasks WHERE case_id = ?1 AND done_at IS NULL ORDER BY due_on, id",
        )?;
        let rows = stmt.query_map([case.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    pub fn task(&self, id: TaskId) -> Result<Option<Task>> {
        self.conn
            .query_row(
                "SELECT data FROM tasks WHERE id = ?1",
                [id.to_string()],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .map(|d| Ok(serde_json::from_str(&d)?))
            .transpose()
    }

    /// Mark a task done by the signed-in person.
    pub fn complete_task(&mut self, id: TaskId) -> Result<Task> {
        self.require(TASK_ROLES)?;
        let me = self.session.actor.staff_id;
        self.write(|w| {
            let now = w.now;
            w.edit_task(id, |t| t.complete(Some(me), now).map_err(one))
        })
    }

    /// Put a task off until a later day.
    pub fn snooze_task(&mut self, id: TaskId, until: NaiveDate) -> Result<Task> {
        self.require(TASK_ROLES)?;
        let today = self.now().date_naive();
        self.write(|w| w.edit_task(id, |t| t.snooze(until, today).map_err(one)))
    }

    /// Give a task to a colleague (by user name), take it (one's own user name), or put it back in
    /// its role's pool (None).
    pub fn assign_task(&mut self, id: TaskId, to_username: Option<&str>) -> Result<Task> {
        self.require(TASK_ROLES)?;
        let to = self.active_staff_id(to_username, "to")?;
        self.write(|w| w.edit_task(id, |t| t.assign(to).map_err(one)))
    }

    /// A task a person adds: follow this beneficiary (and case) up by `due_on`, for a colleague or
    /// for their own role's pool.
    pub fn add_task(
        &mut self,
        beneficiary: BeneficiaryId,
        case: Option<CaseId>,
        note: &str,
        due_on: Option<NaiveDate>,
        assignee_username: Option<&str>,
    ) -> Result<Task> {
        self.require(TASK_ROLES)?;
        let assignee = self.active_staff_id(assignee_username, "assignee")?;
        if self.beneficiary(beneficiary)?.is_none() {
            return Err(StoreError::NotFound("beneficiary"));
        }
        if let Some(c) = case
            && self
                .case(c)?
                .is_none_or(|stored| stored.case.beneficiary_id != beneficiary)
        {
            return Err(StoreError::NotFound("case"));
        }
        let mut errors = Vec::new();
        let today = self.now().date_naive();
        match due_on {
            None => errors.push(FieldError::new("due_on", "required", "اكتب تاريخ الاستحقاق")),
            Some(d) if d < today => errors.push(FieldError::new(
                "due_on",
                "date_in_past",
                "تاريخ الاستحقاق مضى",
            )),
            Some(_) => {}
        }
        let id = TaskId::new_v7();
        let role = if self.session.actor.roles.contains(&Role::Representative) {
            Role::Representative
        } else {
            self.session
                .actor
                .roles
                .first()
                .copied()
                .unwrap_or(Role::Representative)
        };
        let t = Task {
            id,
            key: format!("person:{id}"),
            kind: TaskKind::FollowUp,
            beneficiary_id: Some(beneficiary),
            case_id: case,
            role,
            due_on: due_on.unwrap_or(today),
            channel: None,
            note: note.trim().to_owned(),
            origin: TaskOrigin::Person {
                staff: self.session.actor.staff_id,
            },
            done_at: None,
            done_by: None,
            assignee,
            snoozed_until: None,
            interaction_id: None,
            answer_id: None,
        };
        if let Err(more) = t.validate() {
            errors.extend(more);
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        self.write(|w| w.insert_task(&t))?;
        Ok(t)
    }

    /// The branch's complaints and suggestions with the contact each came from and its answer,
    /// the latest first (at most `limit`). Where each stands is `Task::answer_status`.
    pub fn complaints(
        &self,
        limit: usize,
    ) -> Result<
        Vec<(
            Task,
            sila_domain::interaction::Interaction,
            Option<sila_domain::interaction::Interaction>,
        )>,
    > {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.data, i.data, a.data FROM tasks t
               JOIN interactions i ON i.id = json_extract(t.data, '$.interaction_id')
               LEFT JOIN interactions a ON a.id = json_extract(t.data, '$.answer_id')
             WHERE t.kind IN ('complaint', 'suggestion')
             ORDER BY i.at DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (t, i, a) = r?;
            Ok((
                serde_json::from_str(&t)?,
                serde_json::from_str(&i)?,
                a.map(|a| serde_json::from_str(&a)).transpose()?,
            ))
        })
        .collect()
    }

    /// The ID of an active staff member of the branch by user name (None for None).
    pub(crate) fn active_staff_id(
        &self,
        username: Option<&str>,
        field: &str,
    ) -> Result<Option<StaffId>> {
        match username.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(None),
            Some(u) => staff_by_username(&self.conn, &u.to_lowercase())?
                .filter(|a| a.active)
                .map(|a| Some(a.id))
                .ok_or_else(|| {
                    invalid(vec![FieldError::new(
                        field,
                        "unknown_staff",
                        "اختر موظفاً من موظفي الفرع",
                    )])
                }),
        }
    }

    /// Re-run the task rules over every open case (the sync worker does this after sign-in and as
    /// days pass, since "promised date near" depends on today).
    pub fn refresh_rule_tasks(&mut self) -> Result<usize> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT id FROM cases WHERE state IN ('submitted','in_research','incomplete','in_committee',
                    'approved','rejected','registered','served')",
            )?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        self.write(|w| {
            let mut made = 0;
            for id in ids {
                let data: String =
                    w.tx.query_row("SELECT data FROM cases WHERE id = ?1", [&id], |r| r.get(0))?;
                let c: Case = serde_json::from_str(&data)?;
                made += w.refresh_rule_tasks_for(&c)?;
            }
            Ok(made)
        })
    }
}

fn one(e: FieldError) -> StoreError {
    StoreError::Invalid(vec![e])
}
