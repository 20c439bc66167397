//! The append-only records around a case (attachments, interactions, deliveries, surveys), and
//! tasks made by rules or by people.

use crate::error::{Result, StoreError};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use sila_domain::case::Transition;
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::{
    BeneficiaryId, CaseId, DeliveryId, InteractionId, StaffId, SurveyId, TaskId,
};
use sila_domain::interaction::{self, Delivery, Direction, Interaction, Survey};
use sila_domain::staff::Role;
use sila_domain::task::{Task, TaskKind, TaskOrigin};

impl Writer<'_> {
    /// Append a contact and its operation. A complaint or suggestion also gets its task: answer
    /// it by the policy's date, owned by `owner` (else by whoever logged it).
    pub(crate) fn insert_interaction(&self, i: &Interaction, owner: Option<StaffId>) -> Result<()> {
        i.validate().map_err(StoreError::Invalid)?;
        self.exec(
            "INSERT INTO interactions (id, beneficiary_id, case_id, at, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                i.id.to_string(),
                i.beneficiary_id.map(|b| b.to_string()),
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
        let answer_in = match i.purpose {
            Purpose::Complaint => Some((
                TaskKind::Complaint,
                self.catalog.policy.complaint_reply_days,
            )),
            Purpose::Suggestion => Some((
                TaskKind::Suggestion,
                self.catalog.policy.suggestion_reply_days,
            )),
            _ => None,
        };
        if let Some((kind, days)) = answer_in
            && i.answers.is_none()
        {
            let t = Task {
                id: TaskId::new_v7(),
                key: format!("answer:{}", i.id),
                kind,
                beneficiary_id: i.beneficiary_id,
                case_id: i.case_id,
                role: Role::Representative,
                due_on: sila_domain::dates::add_days(i.at.date_naive(), days),
                channel: Some(i.channel),
                note: i.summary.clone(),
                origin: TaskOrigin::Person { staff: i.staff },
                done_at: None,
                done_by: None,
                assignee: Some(owner.unwrap_or(i.staff)),
                snoozed_until: None,
                interaction_id: Some(i.id),
                answer_id: None,
            };
            self.insert_task(&t)?;
        }
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
        if let Some(case) = s.case_id {
            // What reports need of the case, kept even when the answer is anonymous: the service,
            // and the employee who served (who delivered it, else who took the request).
            let data: String = self.tx.query_row(
                "SELECT data FROM cases WHERE id = ?1",
                [case.to_string()],
                |r| r.get(0),
            )?;
            let c: sila_domain::case::Case = serde_json::from_str(&data)?;
            let deliverer: Option<String> = self
                .tx
                .query_row(
                    "SELECT json_extract(data, '$.delivered_by') FROM deliveries WHERE case_id = ?1
                     ORDER BY delivered_on DESC, rowid DESC LIMIT 1",
                    [case.to_string()],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            s.support_type = c.support_type.clone();
            s.employee = deliverer
                .and_then(|d| d.parse().ok())
                .or(c.declaration.as_ref().map(|d| d.employee));
        }
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
        self.log_contact(NewContact {
            beneficiary: Some(beneficiary),
            case,
            channel,
            direction,
            purpose,
            summary: summary.to_owned(),
            outcome: outcome.to_owned(),
            follow_up_on,
            ..NewContact::default()
        })
    }

    /// Log any contact: with a beneficiary (and one of their cases) or with someone not registered,
    /// with its letter or message attached. A complaint or suggestion gets an owner and a date to
    /// answer it by; an answer closes it; a decision notice closes "announce the decision".
    pub fn log_contact(&mut self, c: NewContact) -> Result<Interaction> {
        self.require(&[Role::Representative, Role::Researcher, Role::Admin])?;
        if let Some(b) = c.beneficiary
            && self.beneficiary(b)?.is_none()
        {
            return Err(StoreError::NotFound("beneficiary"));
        }
        if let Some(case) = c.case
            && self
                .case(case)?
                .is_none_or(|s| Some(s.case.beneficiary_id) != c.beneficiary)
        {
            return Err(StoreError::NotFound("case"));
        }
        for sha in &c.attachments {
            if self.attachment(sha)?.is_none() {
                return Err(StoreError::NotFound("attachment"));
            }
        }
        let owner = self.active_staff_id(c.owner.as_deref(), "owner")?;
        let answered: Option<Task> = match c.answers {
            Some(task) => {
                let t = self.task(task)?.ok_or(StoreError::NotFound("task"))?;
                if !matches!(t.kind, TaskKind::Complaint | TaskKind::Suggestion) || !t.is_open() {
                    return Err(StoreError::Invalid(vec![
                        sila_domain::error::FieldError::new(
                            "answers",
                            "task_closed",
                            "الشكوى أو الاقتراح أُجيب من قبل",
                        ),
                    ]));
                }
                Some(t)
            }
            None => None,
        };
        let i = Interaction {
            id: InteractionId::new_v7(),
            beneficiary_id: c.beneficiary,
            case_id: c.case,
            channel: c.channel,
            direction: c.direction,
            purpose: c.purpose,
            summary: c.summary.trim().to_owned(),
            outcome: c.outcome.trim().to_owned(),
            follow_up_on: c.follow_up_on,
            staff: self.session.actor.staff_id,
            at: self.now(),
            contact_name: if c.beneficiary.is_some() {
                String::new()
            } else {
                c.contact_name.trim().to_owned()
            },
            contact_phone: if c.beneficiary.is_some() {
                None
            } else {
                c.contact_phone
            },
            attachments: c.attachments,
            answers: answered.as_ref().and_then(|t| t.interaction_id),
        };
        self.write(|w| {
            w.insert_interaction(&i, owner)?;
            // A decision announced closes the rule task that asked for it.
            if i.purpose == Purpose::DecisionNotice
                && let Some(case) = i.case_id
            {
                w.close_case_tasks(case, TaskKind::AnnounceDecision)?;
            }
            if let Some(t) = &answered {
                let (by, now, answer) = (w.session.actor.staff_id, w.now, i.id);
                w.edit_task(t.id, |t| {
                    t.answer_id = Some(answer);
                    t.complete(Some(by), now)
                        .map_err(|e| StoreError::Invalid(vec![e]))
                })?;
            }
            if let Some(due) = i.follow_up_on {
                let t = Task {
                    id: TaskId::new_v7(),
                    key: format!("follow_up:{}", i.id),
                    kind: TaskKind::FollowUp,
                    beneficiary_id: i.beneficiary_id,
                    case_id: i.case_id,
                    role: Role::Representative,
                    due_on: due,
                    channel: Some(i.channel),
                    note: i.summary.clone(),
                    origin: TaskOrigin::Person {
                        staff: w.session.actor.staff_id,
                    },
                    done_at: None,
                    done_by: None,
                    assignee: Some(w.session.actor.staff_id),
                    snoozed_until: None,
                    interaction_id: Some(i.id),
                    answer_id: None,
                };
                w.insert_task(&t)?;
            }
            Ok(())
        })?;
        Ok(i)
    }

    /// The contacts with a beneficiary, oldest first.
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
        if let Some(c) = case {
            let state = self
                .case(c)?
                .ok_or(StoreError::NotFound("case"))?
                .case
                .state;
            if !Survey::allowed_for(state) {
                return Err(StoreError::Invalid(vec![
                    sila_domain::error::FieldError::new(
                        "case",
                        "survey_not_yet",
                        "يُسأل المستفيد عن رضاه بعد صدور القرار أو تقديم الخدمة",
                    ),
                ]));
            }
        }
        if s.id.0.is_nil() {
            s.id = SurveyId::new_v7();
        }
        self.write(|w| {
            w.insert_survey(&mut s)?;
            if let Some(c) = case {
                w.close_case_tasks(c, TaskKind::Survey)?;
            }
            Ok(())
        })?;
        Ok(s)
    }
}

/// A contact to log (see [`Store::log_contact`]).
#[derive(Debug, Clone)]
pub struct NewContact {
    pub beneficiary: Option<BeneficiaryId>,
    pub case: Option<CaseId>,
    pub channel: Channel,
    pub direction: Direction,
    pub purpose: Purpose,
    pub summary: String,
    pub outcome: String,
    pub follow_up_on: Option<chrono::NaiveDate>,
    /// Someone not registered: their name and perhaps their mobile.
    pub contact_name: String,
    pub contact_phone: Option<sila_domain::phone::Mobile>,
    /// Stored attachments (SHA-256): the letter, the message.
    pub attachments: Vec<String>,
    /// A colleague's user name to own a complaint or suggestion (else the one logging it).
    pub owner: Option<String>,
    /// The complaint or suggestion task this contact answers.
    pub answers: Option<TaskId>,
}

impl Default for NewContact {
    fn default() -> Self {
        NewContact {
            beneficiary: None,
            case: None,
            channel: Channel::Phone,
            direction: Direction::Inbound,
            purpose: Purpose::Inquiry,
            summary: String::new(),
            outcome: String::new(),
            follow_up_on: None,
            contact_name: String::new(),
            contact_phone: None,
            attachments: Vec::new(),
            owner: None,
            answers: None,
        }
    }
}

pub use interaction::Direction as InteractionDirection;
