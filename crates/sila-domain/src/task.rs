//! Tasks: what a staff member must do, for whom, by when, and why. Most are made by rules so the
//! charity reaches beneficiaries "without the beneficiary having to ask": a decision ready to
//! announce, a promised reply date near, a re-assessment due. People add follow-ups by hand.
//!
//! [`rule_tasks`] is pure: given a case, its beneficiary's preferred channel and today, it says
//! which rule tasks should exist. Each has a stable `key` so the store creates it once and never
//! twice, and an ID made from that key ([`rule_task_id`]) so two devices of a branch that both
//! create it create the same task. [`reason_holds`] says when a rule task's reason has gone away
//! (the decision was announced and the case moved on, research finished), so it closes itself.
//!
//! A task goes to a role's pool, or to one person (`assignee`): someone of the role takes it,
//! or it is given to a colleague. It can be snoozed to a later day, and done.

use crate::case::{Case, CaseState, Outcome};
use crate::catalog::{Channel, Policy};
use crate::field_error::FieldError;
use crate::ids::{BeneficiaryId, CaseId, InteractionId, StaffId, TaskId};
use crate::staff::Role;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Tell the beneficiary the committee's decision through their preferred channel.
    AnnounceDecision,
    /// The promised reply date is near or past and no decision has come.
    PromiseNear,
    /// A registered beneficiary's situation is due for re-assessment.
    Reassessment,
    /// A case referred to the social researcher.
    Research,
    /// Ask the beneficiary about the service (satisfaction survey).
    Survey,
    /// Anything a person decided to follow up on.
    FollowUp,
    /// Answer a complaint by its due date (the policy's reply period for complaints).
    Complaint,
    /// Answer a suggestion.
    Suggestion,
}

impl TaskKind {
    pub fn arabic(self) -> &'static str {
        match self {
            TaskKind::AnnounceDecision => "إبلاغ المستفيد بالقرار",
            TaskKind::PromiseNear => "اقتراب موعد الرد الموعود",
            TaskKind::Reassessment => "إعادة تقييم حالة المستفيد",
            TaskKind::Research => "بحث اجتماعي",
            TaskKind::Survey => "قياس رضا المستفيد",
            TaskKind::FollowUp => "متابعة",
            TaskKind::Complaint => "الرد على شكوى",
            TaskKind::Suggestion => "الرد على اقتراح",
        }
    }
    pub const ALL: [TaskKind; 8] = [
        TaskKind::AnnounceDecision,
        TaskKind::PromiseNear,
        TaskKind::Reassessment,
        TaskKind::Research,
        TaskKind::Survey,
        TaskKind::FollowUp,
        TaskKind::Complaint,
        TaskKind::Suggestion,
    ];
    /// Kinds made by the rules of [`rule_tasks`] (closed by the rules too).
    pub fn is_rule(self) -> bool {
        matches!(
            self,
            TaskKind::AnnounceDecision
                | TaskKind::PromiseNear
                | TaskKind::Reassessment
                | TaskKind::Research
                | TaskKind::Survey
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum TaskOrigin {
    Rule,
    Person { staff: StaffId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    /// Stable identity of a rule task ("announce_decision:<case>"), so it is made at most once.
    pub key: String,
    pub kind: TaskKind,
    /// Who it is about: None only for a contact with someone not registered (a complaint, say).
    #[serde(default)]
    pub beneficiary_id: Option<BeneficiaryId>,
    #[serde(default)]
    pub case_id: Option<CaseId>,
    pub role: Role,
    pub due_on: NaiveDate,
    /// Through which channel to reach the beneficiary, where it matters.
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub note: String,
    pub origin: TaskOrigin,
    #[serde(default)]
    pub done_at: Option<DateTime<Utc>>,
    /// Who did it; None when a rule closed it because its reason went away.
    #[serde(default)]
    pub done_by: Option<StaffId>,
    /// The one person it is for; None leaves it in the role's pool for anyone of the role to take.
    #[serde(default)]
    pub assignee: Option<StaffId>,
    /// Put off until this day ("remind me later"); the task counts as due then.
    #[serde(default)]
    pub snoozed_until: Option<NaiveDate>,
    /// The contact this task answers (a complaint or suggestion).
    #[serde(default)]
    pub interaction_id: Option<InteractionId>,
    /// The contact that answered it (for a complaint or suggestion: the answer given).
    #[serde(default)]
    pub answer_id: Option<InteractionId>,
}

/// Where an open task stands against today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Overdue,
    Today,
    Upcoming,
}

/// Where a complaint or suggestion stands: waiting for its answer (still in time, or past its
/// date), or answered on time or late. Counted against the task's own due date, never a snoozed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    Open,
    Overdue,
    OnTime,
    Late,
}

/// The longest a note may be (a task is a reminder, not a file).
pub const MAX_NOTE_CHARS: usize = 2_000;
/// How far ahead a task may be snoozed.
pub const MAX_SNOOZE_DAYS: i64 = 366;

impl Task {
    /// The day it is due now: its own due date, or the later day it was snoozed to.
    pub fn due(&self) -> NaiveDate {
        match self.snoozed_until {
            Some(s) if s > self.due_on => s,
            _ => self.due_on,
        }
    }

    pub fn is_open(&self) -> bool {
        self.done_at.is_none()
    }

    pub fn urgency(&self, today: NaiveDate) -> Urgency {
        let due = self.due();
        if due < today {
            Urgency::Overdue
        } else if due == today {
            Urgency::Today
        } else {
            Urgency::Upcoming
        }
    }

    /// Done on or before the day it was due (for complaints: answered on time). Snoozing does not
    /// move this: the promise is the task's own due date.
    pub fn done_on_time(&self) -> Option<bool> {
        self.done_at.map(|d| d.date_naive() <= self.due_on)
    }

    pub fn answer_status(&self, today: NaiveDate) -> AnswerStatus {
        match self.done_on_time() {
            Some(true) => AnswerStatus::OnTime,
            Some(false) => AnswerStatus::Late,
            None if today > self.due_on => AnswerStatus::Overdue,
            None => AnswerStatus::Open,
        }
    }

    /// Whether `actor` may see and act on it as theirs: it is assigned to them, or it is in the
    /// pool of one of their roles. Administrators see every pool.
    pub fn is_for(&self, actor: &crate::staff::Actor) -> bool {
        match self.assignee {
            Some(a) => a == actor.staff_id,
            None => actor.roles.contains(&self.role) || actor.roles.contains(&Role::Admin),
        }
    }

    /// What must hold for a task to be stored or accepted from a device.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.key.trim().is_empty() || self.key.chars().count() > 300 {
            errors.push(FieldError::new("key", "invalid_value", "قيمة غير صالحة"));
        }
        if self.note.chars().count() > MAX_NOTE_CHARS {
            errors.push(FieldError::new(
                "note",
                "too_long",
                "الملاحظة أطول من المسموح",
            ));
        }
        if matches!(self.kind, TaskKind::FollowUp) && self.note.trim().is_empty() {
            errors.push(FieldError::new("note", "required", "اكتب ما يجب متابعته"));
        }
        if self.done_by.is_some() && self.done_at.is_none() {
            errors.push(FieldError::new(
                "done_by",
                "invalid_value",
                "قيمة غير صالحة",
            ));
        }
        if self.answer_id.is_some() && self.interaction_id.is_none() {
            errors.push(FieldError::new(
                "answer_id",
                "invalid_value",
                "قيمة غير صالحة",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Put the task off until `until`, a later day than today and within a year.
    pub fn snooze(&mut self, until: NaiveDate, today: NaiveDate) -> Result<(), FieldError> {
        if !self.is_open() {
            return Err(task_closed());
        }
        if until <= today {
            return Err(FieldError::new(
                "until",
                "date_not_after_today",
                "اختر يوماً بعد اليوم",
            ));
        }
        if (until - today).num_days() > MAX_SNOOZE_DAYS {
            return Err(FieldError::new(
                "until",
                "date_out_of_range",
                "التأجيل لا يتجاوز سنة",
            ));
        }
        self.snoozed_until = Some(until);
        Ok(())
    }

    /// Give the task to one person, or (None) back to its role's pool.
    pub fn assign(&mut self, to: Option<StaffId>) -> Result<(), FieldError> {
        if !self.is_open() {
            return Err(task_closed());
        }
        self.assignee = to;
        Ok(())
    }

    /// Mark it done by a person (or, with `by` None, closed by a rule).
    pub fn complete(&mut self, by: Option<StaffId>, at: DateTime<Utc>) -> Result<(), FieldError> {
        if !self.is_open() {
            return Err(task_closed());
        }
        self.done_at = Some(at);
        self.done_by = by;
        Ok(())
    }
}

fn task_closed() -> FieldError {
    FieldError::new("task", "task_closed", "المهمة منجزة أو مغلقة")
}

/// Whether the reason a rule made a task of this kind for `case` still holds. A rule task whose
/// reason is gone closes itself: research finished, a decision came before the promised date ran
/// out, a decision announced (or the case moved on past it), re-assessment once the file is no
/// longer registered. Tasks made by people never close by rule.
pub fn reason_holds(kind: TaskKind, case: &Case) -> bool {
    match kind {
        TaskKind::AnnounceDecision => {
            case.decision.is_some()
                && matches!(case.state, CaseState::Approved | CaseState::Rejected)
        }
        TaskKind::PromiseNear => case.state.awaits_decision(),
        TaskKind::Research => case.state == CaseState::InResearch,
        // Asking how the service went still makes sense once the case is closed.
        TaskKind::Survey => matches!(case.state, CaseState::Served | CaseState::Closed),
        TaskKind::Reassessment => matches!(
            case.state,
            CaseState::Registered | CaseState::Served | CaseState::Closed
        ),
        TaskKind::FollowUp | TaskKind::Complaint | TaskKind::Suggestion => true,
    }
}

/// A task a rule says should exist (without its ID, which the store mints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTask {
    pub key: String,
    pub kind: TaskKind,
    pub role: Role,
    pub due_on: NaiveDate,
    pub channel: Option<Channel>,
    pub note: String,
}

/// The rule tasks a case calls for today. `last_assessed` is when the beneficiary was last
/// assessed (registration or re-assessment), for the re-assessment rule.
pub fn rule_tasks(
    case: &Case,
    preferred_channel: Option<Channel>,
    today: NaiveDate,
    last_assessed: Option<NaiveDate>,
    policy: &Policy,
) -> Vec<RuleTask> {
    let mut out = Vec::new();
    let id = case.id;
    if let Some(d) = &case.decision
        && matches!(case.state, CaseState::Approved | CaseState::Rejected)
    {
        let note = match d.outcome {
            Outcome::Approved => "قُبل الطلب: أبلغ المستفيد واستكمل التسجيل",
            Outcome::Rejected => "رُفض الطلب: أبلغ المستفيد بالقرار وأسبابه وحقه في التظلم",
        };
        out.push(RuleTask {
            key: format!("announce_decision:{id}:{}", d.decided_at.timestamp()),
            kind: TaskKind::AnnounceDecision,
            role: Role::Representative,
            due_on: d
                .decided_at
                .date_naive()
                .max(today)
                .min(d.decided_at.date_naive() + chrono::Days::new(2)),
            channel: Some(preferred_channel.unwrap_or(case.channel)),
            note: note.to_owned(),
        });
    }
    if let Some(promised) = case.promised_reply_date
        && case.state.awaits_decision()
        && (promised - today).num_days() <= policy.promise_reminder_days
    {
        out.push(RuleTask {
            key: format!("promise_near:{id}"),
            kind: TaskKind::PromiseNear,
            role: Role::Representative,
            due_on: promised,
            channel: None,
            note: "موعد الرد الموعود للمستفيد قريب أو فات: تابع مع لجنة البحث".to_owned(),
        });
    }
    if case.state == CaseState::InResearch {
        out.push(RuleTask {
            key: format!("research:{id}"),
            kind: TaskKind::Research,
            role: Role::Researcher,
            due_on: case.promised_reply_date.unwrap_or(today),
            channel: None,
            note: String::new(),
        });
    }
    if case.state == CaseState::Served {
        out.push(RuleTask {
            key: format!("survey:{id}"),
            kind: TaskKind::Survey,
            role: Role::Representative,
            due_on: today,
            channel: Some(preferred_channel.unwrap_or(case.channel)),
            note: "اسأل المستفيد عن رضاه عن الخدمة".to_owned(),
        });
    }
    if let Some(assessed) = last_assessed
        && matches!(
            case.state,
            CaseState::Registered | CaseState::Served | CaseState::Closed
        )
    {
        let due = assessed + chrono::Days::new(policy.reassessment_days as u64);
        if due <= today + chrono::Days::new(policy.promise_reminder_days as u64) {
            out.push(RuleTask {
                key: format!("reassessment:{}:{}", case.beneficiary_id, due),
                kind: TaskKind::Reassessment,
                role: Role::Representative,
                due_on: due,
                channel: preferred_channel,
                note: String::new(),
            });
        }
    }
    out
}

/// The ID of a rule task, from its key: the same rule on two laptops of a branch makes the same
/// task. (A UUID of version 8, "custom": the first 16 bytes of SHA-256 of the key.)
pub fn rule_task_id(key: &str) -> crate::ids::TaskId {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("sila-rule-task:{key}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    crate::ids::TaskId(uuid::Uuid::from_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{CaseState, Decision};
    use crate::catalog::Catalog;
    use chrono::TimeZone;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn task() -> Task {
        Task {
            id: TaskId::new_v7(),
            key: "person:x".into(),
            kind: TaskKind::FollowUp,
            beneficiary_id: Some(BeneficiaryId::new_v7()),
            case_id: None,
            role: Role::Representative,
            due_on: day(10),
            channel: None,
            note: "اتصل بالمستفيد".into(),
            origin: TaskOrigin::Rule,
            done_at: None,
            done_by: None,
            assignee: None,
            snoozed_until: None,
            interaction_id: None,
            answer_id: None,
        }
    }

    #[test]
    fn a_snoozed_task_is_due_on_its_later_day_but_keeps_its_own() {
        let mut t = task();
        assert_eq!(t.urgency(day(10)), Urgency::Today);
        assert_eq!(t.urgency(day(11)), Urgency::Overdue);
        assert!(t.snooze(day(11), day(11)).is_err(), "not today");
        assert!(t.snooze(day(5), day(11)).is_err(), "not in the past");
        assert!(t.snooze(day(11) + chrono::Days::new(400), day(11)).is_err());
        t.snooze(day(14), day(11)).unwrap();
        assert_eq!(t.due(), day(14));
        assert_eq!(t.due_on, day(10));
        assert_eq!(t.urgency(day(11)), Urgency::Upcoming);
        t.complete(None, Utc.with_ymd_and_hms(2026, 11, 12, 9, 0, 0).unwrap())
            .unwrap();
        assert_eq!(t.done_on_time(), Some(false), "the promise was the 10th");
        assert_eq!(t.snooze(day(20), day(12)).unwrap_err().code, "task_closed");
        assert_eq!(t.assign(None).unwrap_err().code, "task_closed");
    }

    #[test]
    fn a_task_is_for_its_assignee_or_its_roles_pool() {
        let actor = |roles: &[Role]| crate::staff::Actor {
            staff_id: StaffId::new_v7(),
            display_name: String::new(),
            roles: roles.to_vec(),
            branch: String::new(),
        };
        let rep = actor(&[Role::Representative]);
        let researcher = actor(&[Role::Researcher]);
        let admin = actor(&[Role::Admin]);
        let mut t = task();
        assert!(t.is_for(&rep) && !t.is_for(&researcher) && t.is_for(&admin));
        t.assign(Some(researcher.staff_id)).unwrap();
        assert!(!t.is_for(&rep) && t.is_for(&researcher) && !t.is_for(&admin));
    }

    #[test]
    fn a_follow_up_needs_a_note_and_notes_are_bounded() {
        let mut t = task();
        assert!(t.validate().is_ok());
        t.note = " ".into();
        assert_eq!(t.validate().unwrap_err()[0].field, "note");
        t.note = "ا".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(t.validate().unwrap_err()[0].code, "too_long");
    }

    #[test]
    fn rule_task_ids_come_from_their_keys() {
        assert_eq!(rule_task_id("research:a"), rule_task_id("research:a"));
        assert_ne!(rule_task_id("research:a"), rule_task_id("research:b"));
        assert_eq!(rule_task_id("research:a").0.get_version_num(), 8);
    }

    #[test]
    fn a_rule_tasks_reason_goes_with_the_state_that_made_it() {
        let catalog = Catalog::arabic_defaults();
        let mut c = Case::new_draft(
            CaseId::new_v7(),
            "AFL-X-000001".into(),
            BeneficiaryId::new_v7(),
            "food_basket",
            Channel::Interview,
            &catalog,
        );
        let holds = |c: &Case| -> Vec<TaskKind> {
            TaskKind::ALL
                .into_iter()
                .filter(|k| k.is_rule() && reason_holds(*k, c))
                .collect()
        };
        c.state = CaseState::InResearch;
        assert_eq!(holds(&c), [TaskKind::PromiseNear, TaskKind::Research]);
        c.state = CaseState::Approved;
        assert_eq!(holds(&c), [], "no decision recorded yet");
        c.decision = Some(Decision {
            outcome: Outcome::Approved,
            reasons: String::new(),
            decided_by: StaffId::new_v7(),
            decided_by_name: String::new(),
            decided_at: Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap(),
        });
        assert_eq!(holds(&c), [TaskKind::AnnounceDecision]);
        c.state = CaseState::Registered;
        assert_eq!(holds(&c), [TaskKind::Reassessment]);
        c.state = CaseState::Closed;
        assert_eq!(holds(&c), [TaskKind::Reassessment, TaskKind::Survey]);
        c.state = CaseState::Withdrawn;
        assert_eq!(holds(&c), []);
        for k in [
            TaskKind::FollowUp,
            TaskKind::Complaint,
            TaskKind::Suggestion,
        ] {
            assert!(reason_holds(k, &c), "people's tasks never close by rule");
        }
    }
}
