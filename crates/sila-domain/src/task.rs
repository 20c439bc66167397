//! Tasks: what a staff member must do, for whom, by when, and why. Most are made by rules so the
//! charity reaches beneficiaries "without the beneficiary having to ask": a decision ready to
//! announce, a promised reply date near, a re-assessment due. People add follow-ups by hand.
//!
//! [`rule_tasks`] is pure: given a case, its beneficiary's preferred channel and today, it says
//! which rule tasks should exist. Each has a stable `key` so the store creates it once and never twice.

use crate::case::{Case, CaseState, Outcome};
use crate::catalog::{Channel, Policy};
use crate::ids::{BeneficiaryId, CaseId, StaffId, TaskId};
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
        }
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
    pub beneficiary_id: BeneficiaryId,
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
    #[serde(default)]
    pub done_by: Option<StaffId>,
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
