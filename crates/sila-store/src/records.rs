//! The append-only records around a case (attachments, interactions, deliveries, surveys), tasks
//! made by rules or by people, and wizard drafts saved as they are typed.

use crate::error::{Result, StoreError};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use sila_domain::case::{CaseState, Transition};
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::{BeneficiaryId, CaseId, DeliveryId, InteractionId, SurveyId, TaskId};
use sila_domain::interaction::{self, Delivery, Direction, Interaction, Survey};
use sila_domain::staff::Role;
use sila_domain::task::{self, Task, TaskKind, TaskOrigin};

impl Writer<'_> {
    /// Create the rule tasks a case calls for now (each at most once, by its key).
    pub(crate) fn refresh_rule_tasks_for(&self, c: &sila_domain::case::Case) -> Result<usize> {
        let (data, _): (String, i64) = self.tx.query_row(
            "SELECT data, version FROM beneficiaries WHERE id = ?1",
            [c.beneficiary_id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
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
                // The same rule on every laptop of the branch makes the same task: its ID comes
                // from its key, so HQ and the other laptops see one task, not one per laptop.
                id: task::rule_task_id(&rt.key),
                key: rt.key,
                kind: rt.kind,
                beneficiary_id: c.beneficiary_id,
                case_id: Some(c.id),
                role: rt.role,
                due_on: rt.due_on,
                channel: rt.channel,
                note: rt.note,
                origin: TaskOrigin::Rule,
                done_at: None,
                done_by: None,
            };
            made += self.insert_task(&t)?;
        }
        // A task whose reason is gone (research finished, decision made) is closed by the rule too.
        if !matches!(c.state, CaseState::InResearch) {
            self.close_rule_task(&format!("research:{}", c.id))?;
        }
        if !c.state.awaits_decision() {
            self.close_rule_task(&format!("promise_near:{}", c.id))?;
        }
        Ok(made)
    }

    fn close_rule_task(&self, key: &str) -> Result<()> {
        let id: Option<String> = self
            .tx
            .prepare_cached("SELECT id FROM tasks WHERE key = ?1 AND done_at IS NULL")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(());
        };
        self.exec(
            "UPDATE tasks SET done_at = ?2, data = json_set(data, '$.done_at', ?2) WHERE id = ?1",
            params![id, self.now.to_rfc3339()],
        )?;
        // Closed for HQ and the branch's other laptops too (a second "done" changes nothing there).
        self.op(
            "task.done",
            "task",
            &id,
            None,
            &serde_json::json!({"done_at": self.now, "done_by": null}),
        )?;
        Ok(())
    }

    /// Append an interaction and its operation.
    pub(crate) fn insert_interaction(&self, i: &Interaction) -> Result<()> {
        self.exec(
            "INSERT INTO interactions (id, beneficiary_id, case_id, at, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                i.id.to_string(),
                i.beneficiary_id.to_string(),
                i.case_id.map(|c| c.to_string()),
                i.at.to_rfc3339(),
                serde_json::to_string(i)?
            ],
        )?;
        self.op(
            "interaction.add",
            "interaction",
            &i.id.to_string(),
            None,
            &serde_json::to_value(i)?,
        )?;
        Ok(())
    }

    /// Append a delivery and its operation (the caller moves the case to "served").
    pub(crate) fn insert_delivery(&self, d: &Delivery) -> Result<()> {
        self.exec(
            "INSERT INTO deliveries (id, case_id, delivered_on, data) VALUES (?1, ?2, ?3, ?4)",
            params![
                d.id.to_string(),
                d.case_id.to_string(),
                d.delivered_on.to_string(),
                serde_json::to_string(d)?
            ],
        )?;
        self.op(
            "delivery.add",
            "delivery",
            &d.id.to_string(),
            None,
            &serde_json::to_value(d)?,
        )?;
        Ok(())
    }

    /// Append a survey answer and its operation. An anonymous answer loses its case and delivery
    /// link here, whoever calls, so no path can store one linked.
    pub(crate) fn insert_survey(&self, s: &mut Survey) -> Result<()> {
        if s.anonymous {
            s.case_id = None;
            s.delivery_id = None;
        }
        self.exec(
            "INSERT INTO surveys (id, case_id, data) VALUES (?1, ?2, ?3)",
            params![
                s.id.to_string(),
                s.case_id.map(|c| c.to_string()),
                serde_json::to_string(s)?
            ],
        )?;
        self.op(
            "survey.add",
            "survey",
            &s.id.to_string(),
            None,
            &serde_json::to_value(&*s)?,
        )?;
        Ok(())
    }

    /// Insert a task unless one with its key exists. Returns 1 when inserted.
    pub(crate) fn insert_task(&self, t: &Task) -> Result<usize> {
        let n = self.exec(
            "INSERT INTO tasks (id, key, kind, role, due_on, done_at, data) VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)
             ON CONFLICT(key) DO NOTHING",
            params![
                t.id.to_string(),
                t.key,
                serde_json::to_value(t.kind)?.as_str().unwrap_or_default(),
                t.role.code(),
                t.due_on.to_string(),
                serde_json::to_string(t)?
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
}

impl Store {
    /// Keep a file by its content; the same bytes twice are stored once. Returns the SHA-256.
    pub fn put_attachment(&mut self, bytes: &[u8]) -> Result<String> {
        if bytes.len() > crate::cases::MAX_ATTACHMENT_BYTES {
            return Err(StoreError::AttachmentTooLarge);
        }
        let mime = interaction::sniff_mime(bytes).ok_or(StoreError::AttachmentType)?;
        let sha = interaction::content_address(bytes);
        let size = bytes.len() as i64;
        self.write(|w| {
            let n = w.exec(
                "INSERT INTO attachments (sha256, mime, size, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(sha256) DO NOTHING",
                params![sha, mime, size, bytes, w.now.to_rfc3339()],
            )?;
            if n == 1 {
                w.op("attachment.add", "attachment", &sha, None, &serde_json::json!({"sha256": sha, "mime": mime, "size": size}))?;
            }
            Ok(())
        })?;
        Ok(sha)
    }

    pub fn attachment(&self, sha256: &str) -> Result<Option<(String, Vec<u8>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT mime, bytes FROM attachments WHERE sha256 = ?1",
                [sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Log a contact with a beneficiary.
    #[allow(clippy::too_many_arguments)]
    pub fn log_interaction(
        &mut self,
        beneficiary: BeneficiaryId,
        case: Option<CaseId>,
        channel: Channel,
        direction: Direction,
        purpose: Purpose,
        summary: &str,
        outcome: &str,
        follow_up_on: Option<chrono::NaiveDate>,
    ) -> Result<Interaction> {
        if summary.trim().is_empty() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::required("summary"),
            ]));
        }
        let i = Interaction {
            id: InteractionId::new_v7(),
            beneficiary_id: beneficiary,
            case_id: case,
            channel,
            direction,
            purpose,
            summary: summary.trim().to_owned(),
            outcome: outcome.trim().to_owned(),
            follow_up_on,
            staff: self.session.actor.staff_id,
            at: self.now(),
        };
        self.write(|w| {
            w.insert_interaction(&i)?;
            // A decision announced closes the rule task that asked for it.
            if purpose == Purpose::DecisionNotice
                && let Some(c) = case
            {
                w.exec(
                    "UPDATE tasks SET done_at = ?2, data = json_set(data, '$.done_at', ?2)
                     WHERE key LIKE 'announce_decision:' || ?1 || ':%' AND done_at IS NULL",
                    params![c.to_string(), w.now.to_rfc3339()],
                )?;
            }
            if let Some(due) = follow_up_on {
                let t = Task {
                    id: sila_domain::ids::TaskId::new_v7(),
                    key: format!("follow_up:{}", i.id),
                    kind: TaskKind::FollowUp,
                    beneficiary_id: beneficiary,
                    case_id: case,
                    role: Role::Representative,
                    due_on: due,
                    channel: Some(channel),
                    note: i.summary.clone(),
                    origin: TaskOrigin::Person {
                        staff: w.session.actor.staff_id,
                    },
                    done_at: None,
                    done_by: None,
                };
                w.insert_task(&t)?;
            }
            Ok(())
        })?;
        Ok(i)
    }

    pub fn interactions(&self, beneficiary: BeneficiaryId) -> Result<Vec<Interaction>> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM interactions WHERE beneficiary_id = ?1 ORDER BY at")?;
        let rows = stmt.query_map([beneficiary.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Record a service delivered under a registered case; the first one moves the case to "served".
    pub fn record_delivery(
        &mut self,
        case: CaseId,
        kind: &str,
        amount_halalas: Option<i64>,
        items: &str,
        delivered_on: chrono::NaiveDate,
    ) -> Result<Delivery> {
        if amount_halalas.is_some_and(|a| a <= 0) {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "amount",
                    "negative_amount",
                    "المبلغ يجب أن يكون أكبر من صفر",
                ),
            ]));
        }
        let d = Delivery {
            id: DeliveryId::new_v7(),
            case_id: case,
            kind: kind.to_owned(),
            amount_halalas,
            items: items.trim().to_owned(),
            delivered_on,
            delivered_by: self.session.actor.staff_id,
            delivered_by_name: self.session.actor.display_name.clone(),
        };
        self.write(|w| {
            let (c, _) = w.apply_transition(case, Transition::Deliver, "")?;
            w.insert_delivery(&d)?;
            w.refresh_rule_tasks_for(&c)?;
            Ok(())
        })?;
        Ok(d)
    }

    pub fn deliveries(&self, case: CaseId) -> Result<Vec<Delivery>> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM deliveries WHERE case_id = ?1 ORDER BY delivered_on")?;
        let rows = stmt.query_map([case.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Record a satisfaction survey. An anonymous answer is stored without its case link.
    pub fn record_survey(&mut self, mut s: Survey) -> Result<Survey> {
        s.validate().map_err(|e| StoreError::Invalid(vec![e]))?;
        let case = s.case_id;
        if s.id.0.is_nil() {
            s.id = SurveyId::new_v7();
        }
        self.write(|w| {
            w.insert_survey(&mut s)?;
            if let Some(c) = case {
                w.exec(
                    "UPDATE tasks SET done_at = ?2, data = json_set(data, '$.done_at', ?2) WHERE key = ?1 AND done_at IS NULL",
                    params![format!("survey:{c}"), w.now.to_rfc3339()],
                )?;
            }
            Ok(())
        })?;
        Ok(s)
    }

    /// Open tasks for the signed-in person's roles, soonest first.
    pub fn my_tasks(&self, limit: usize) -> Result<Vec<Task>> {
        // The role filter runs in SQL: filtering a fixed window in Rust would hide a person's tasks
        // behind enough earlier tasks of other roles.
        let roles: Vec<&str> = self.session.actor.roles.iter().map(|r| r.code()).collect();
        let admin = self.session.actor.roles.contains(&Role::Admin);
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM tasks WHERE done_at IS NULL
               AND (?1 OR role IN (SELECT value FROM json_each(?2)))
             ORDER BY due_on, id LIMIT ?3",
        )?;
        let rows = stmt.query_map(
            params![admin, serde_json::to_string(&roles)?, limit as i64],
            |r| r.get::<_, String>(0),
        )?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Mark a task done.
    pub fn complete_task(&mut self, id: TaskId) -> Result<()> {
        let staff = self.session.actor.staff_id.to_string();
        self.write(|w| {
            let n = w.exec(
                "UPDATE tasks SET done_at = ?2, data = json_set(data, '$.done_at', ?2, '$.done_by', ?3)
                 WHERE id = ?1 AND done_at IS NULL",
                params![id.to_string(), w.now.to_rfc3339(), staff],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("task"));
            }
            w.op("task.done", "task", &id.to_string(), None, &serde_json::json!({"done_at": w.now, "done_by": staff}))?;
            Ok(())
        })
    }

    /// Re-run the task rules over every open case (the home screen does this once a day, since
    /// "promised date near" depends on today).
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
                let c: sila_domain::case::Case = serde_json::from_str(&data)?;
                made += w.refresh_rule_tasks_for(&c)?;
            }
            Ok(made)
        })
    }

    // ---- drafts: the wizard saves every field as it is typed ----

    /// Save a wizard draft (any JSON the UI keeps). Drafts are local working state, not synced.
    pub fn save_draft(&mut self, key: &str, data: &serde_json::Value) -> Result<()> {
        let stamp = self.now().to_rfc3339();
        self.conn.execute(
            "INSERT INTO drafts (key, data, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            params![key, serde_json::to_string(data)?, stamp],
        )?;
        Ok(())
    }

    pub fn draft(&self, key: &str) -> Result<Option<serde_json::Value>> {
        let s: Option<String> = self
            .conn
            .query_row("SELECT data FROM drafts WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?;
        s.map(|s| Ok(serde_json::from_str(&s)?)).transpose()
    }

    pub fn delete_draft(&mut self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM drafts WHERE key = ?1", [key])?;
        Ok(())
    }
}

pub use interaction::Direction as InteractionDirection;
