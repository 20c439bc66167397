//! What HQ's register needs from storage (issue 11, points 4, 6 and 8): every branch's people
//! searched the way a branch searches (the domain's Arabic name tokens and ranking), a person's
//! whole file, one field of a person changed by HQ (checked by the domain, sent to the branch by
//! its feed), complaints and suggestions from every branch with where their answer stands, and
//! the survey scores of every question. Every list is paged; every change is one transaction.

use crate::error::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What the register is asked: words of a name, an ID or its beginning, a mobile or its last
/// digits, a file or case number; nothing lists everyone in the order HQ received them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ts_rs::TS)]
pub struct RegisterQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub branch: Option<String>,
    /// The `next` of the page before.
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One person in the register's list.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct RegisterRow {
    pub id: String,
    pub branch: String,
    pub name: String,
    pub national_id: Option<String>,
    /// The national form, 05…
    pub mobile: Option<String>,
    pub file_number: Option<String>,
    pub city: String,
    pub birth_date: Option<String>,
    /// The case whose number was searched for, when the search was a case number.
    pub case_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct RegisterPage {
    pub rows: Vec<RegisterRow>,
    /// The cursor of the following page, if there is one.
    pub next: Option<String>,
    /// How many people answer the query (for a name: among the best candidates ranked).
    pub total: i64,
    /// A search that met more people than it ranks: the person should add to the query.
    pub capped: bool,
}

/// A person's whole file as HQ holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonFile {
    /// The beneficiary record (the domain's JSON).
    pub record: serde_json::Value,
    pub branch: String,
    pub version: i64,
    pub merged_into: Option<String>,
    /// Their cases, newest first: id, number, state, support type, dates, decision.
    pub cases: Vec<serde_json::Value>,
    /// Every contact with them (with or without a case), newest first.
    pub interactions: Vec<serde_json::Value>,
    /// The surveys about their cases.
    pub surveys: Vec<serde_json::Value>,
    /// Their complaint and suggestion tasks, each with its `status`.
    pub voice: Vec<VoiceRow>,
    /// Staff of the person's branch by ID, for naming who did what.
    pub staff: std::collections::BTreeMap<String, String>,
}

/// A complaint or suggestion of a branch, and where its answer stands (`task::AnswerStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct VoiceRow {
    pub task_id: String,
    pub branch: String,
    /// complaint | suggestion
    #[ts(type = r#""complaint" | "suggestion""#)]
    pub kind: String,
    pub channel: Option<String>,
    /// open | overdue | on_time | late (`task::AnswerStatus`)
    #[ts(type = r#""open" | "overdue" | "on_time" | "late""#)]
    pub status: String,
    pub due_on: String,
    pub done_at: Option<String>,
    pub owner: Option<String>,
    pub role: String,
    pub beneficiary_id: Option<String>,
    pub beneficiary_name: Option<String>,
    pub note: String,
}

/// Counts of one branch's (or all branches') complaints or suggestions by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct VoiceCounts {
    pub key: String,
    pub kind: String,
    pub open: i64,
    pub overdue: i64,
    pub on_time: i64,
    pub late: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VoiceFilter {
    #[serde(default)]
    pub branch: Option<String>,
    /// complaint | suggestion
    #[serde(default)]
    pub kind: Option<String>,
    /// open | overdue | on_time | late; "waiting" is open and overdue together.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub offset: Option<usize>,
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct VoicePage {
    /// Per branch and kind, then the totals of each kind under key "".
    pub counts: Vec<VoiceCounts>,
    pub rows: Vec<VoiceRow>,
    /// How many rows answer the filter (the list shows `rows`, from `offset`).
    pub total: i64,
}

/// One complaint or suggestion opened: the task, the contact it answers and the answer given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceItem {
    pub row: VoiceRow,
    pub contact: Option<serde_json::Value>,
    pub answer: Option<serde_json::Value>,
    pub staff: std::collections::BTreeMap<String, String>,
}

/// The survey questions, in the order the desk asks them.
pub const QUESTIONS: [&str; 4] = ["overall", "speed", "courtesy", "clarity"];

/// Scores of a group of surveys: how many, and each question's mean (1..5).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct ScoreRow {
    pub key: String,
    /// For employees: their name, when HQ knows the account.
    pub label: Option<String>,
    pub n: i64,
    pub overall: Option<f64>,
    pub speed: Option<f64>,
    pub courtesy: Option<f64>,
    pub clarity: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct SurveyScores {
    pub total: ScoreRow,
    /// Per question, how many answered 1, 2, 3, 4, 5.
    pub distribution: std::collections::BTreeMap<String, [i64; 5]>,
    pub by_branch: Vec<ScoreRow>,
    pub by_channel: Vec<ScoreRow>,
    pub by_service: Vec<ScoreRow>,
    pub by_employee: Vec<ScoreRow>,
}

/// Filters of the survey scores: one branch, one channel, or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScoreFilter {
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
}

/// The register's storage. See the module comment.
pub trait RegisterStore: Send + Sync {
    /// One page of the register.
    fn register(&self, q: &RegisterQuery) -> Result<RegisterPage>;
    /// Every person answering the query (bounded), as domain records with their branch, for the
    /// register's export.
    fn register_export(
        &self,
        q: &RegisterQuery,
        max: usize,
    ) -> Result<Vec<(String, sila_domain::beneficiary::Beneficiary)>>;
    fn person_file(&self, id: &str, today: NaiveDate) -> Result<Option<PersonFile>>;
    /// HQ changes one field of a person, checked by the domain as the branch's edit screen
    /// checks it; it reaches the branch by its feed as a per-field change. Returns the new
    /// version, or the domain's reasons for refusing the value (nothing written). A field the
    /// register does not edit is `BadRequest("field")`, a merged-away person `BadRequest("merged")`.
    /// The branch's timeline shows who (`staff`) changed which field when, never the value.
    fn edit_person(
        &self,
        staff: &super::HqActor,
        id: &str,
        field: &str,
        value: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, Vec<sila_domain::error::FieldError>>>;
    fn voice(&self, f: &VoiceFilter, today: NaiveDate) -> Result<VoicePage>;
    fn voice_item(&self, task_id: &str, today: NaiveDate) -> Result<Option<VoiceItem>>;
    fn survey_scores(&self, f: &ScoreFilter) -> Result<SurveyScores>;
}
