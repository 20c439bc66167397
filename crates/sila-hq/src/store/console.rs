//! What the console needs from storage beyond [`crate::store::HqStore`]: staff accounts of HQ and
//! their sessions, the console's audit trail, and the read models of its pages (the committee
//! queue, the whole file of a case, dashboards, branch staff). Every list is paged in SQL.
//!
//! Like `HqStore`, every method is blocking and every change is one transaction. Nothing here
//! carries a password in clear beyond the call that hashes it, and no error carries personal data.

use crate::error::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What a person may do in the console. One account may hold several.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    /// HQ staff who review duplicates and resolve conflicts (مراجع).
    Reviewer,
    /// A research committee member: decides requests (عضو لجنة البحث).
    Committee,
    /// Devices, enrolment, accounts, the knowledge base (مدير النظام).
    Admin,
}

impl ConsoleRole {
    pub const ALL: [ConsoleRole; 3] = [
        ConsoleRole::Reviewer,
        ConsoleRole::Committee,
        ConsoleRole::Admin,
    ];
    pub fn code(self) -> &'static str {
        match self {
            ConsoleRole::Reviewer => "reviewer",
            ConsoleRole::Committee => "committee",
            ConsoleRole::Admin => "admin",
        }
    }
    pub fn from_code(s: &str) -> Option<ConsoleRole> {
        ConsoleRole::ALL.into_iter().find(|r| r.code() == s)
    }
}

/// An HQ staff account (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ConsoleStaff {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<ConsoleRole>,
    pub active: bool,
}

impl ConsoleStaff {
    pub fn has(&self, role: ConsoleRole) -> bool {
        self.roles.contains(&role)
    }

    /// The account as the person acting at HQ (what a decision carries and the audit names).
    pub fn actor(&self) -> Result<crate::store::HqActor> {
        Ok(crate::store::HqActor {
            staff_id: self
                .id
                .parse()
                .map_err(|_| crate::error::HqError::BadRequest("staff id"))?,
            display_name: self.display_name.clone(),
        })
    }
}

/// A signed-in session: who, and the token the page must echo on every change (CSRF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub staff: ConsoleStaff,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// One audited console action. `detail` holds codes and IDs, never names, IDs or phones.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub staff_id: String,
    pub staff_name: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// Codes and counts the action recorded (any JSON).
    #[ts(type = "unknown")]
    pub detail: serde_json::Value,
}

/// Where a waiting case stands against its promised reply date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "PromiseStatus")]
pub enum Promise {
    OnTrack,
    DueSoon,
    Overdue,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct CommitteeRow {
    pub case_id: String,
    pub number: String,
    pub branch: String,
    pub support_type: String,
    pub channel: String,
    pub submitted_at: Option<String>,
    pub promised_reply_date: Option<String>,
    pub promise: Promise,
    pub days_left: Option<i64>,
    pub beneficiary_id: String,
    pub beneficiary_name: String,
}

/// One page of the committee queue; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct CommitteePage {
    pub rows: Vec<CommitteeRow>,
    pub next: Option<String>,
    pub total: i64,
    pub on_track: i64,
    pub due_soon: i64,
    pub overdue: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CommitteeFilter {
    #[serde(default)]
    pub branch: Option<String>,
    /// "overdue" | "due_soon" | "on_track"
    #[serde(default)]
    pub promise: Option<String>,
}

/// A document of a case: what was required, and whether HQ holds the file.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct FileDocument {
    pub code: String,
    pub required: bool,
    pub seen_in_original: bool,
    pub sha256: Option<String>,
    pub mime: Option<String>,
    pub size: Option<i64>,
    pub at_hq: bool,
}

/// The whole file of a case as the committee reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseFile {
    pub case: serde_json::Value,
    pub branch: String,
    pub state: String,
    pub promise: Option<Promise>,
    pub beneficiary: Option<serde_json::Value>,
    pub events: Vec<serde_json::Value>,
    pub documents: Vec<FileDocument>,
    pub signature: Option<FileDocument>,
    pub interactions: Vec<serde_json::Value>,
    pub deliveries: Vec<serde_json::Value>,
    pub surveys: Vec<serde_json::Value>,
    pub other_cases: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentBytes {
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// Filters of the dashboards: one branch, one channel, or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DashFilter {
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Count {
    pub key: String,
    pub n: i64,
}

/// A row of a per-branch or per-channel table.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct DashRow {
    pub key: String,
    pub intake: i64,
    pub open: i64,
    pub approved: i64,
    pub rejected: i64,
    pub decided_on_time: i64,
    pub decided_late: i64,
    pub waiting_overdue: i64,
    pub surveys: i64,
    pub satisfaction: Option<f64>,
    pub complaints: i64,
    pub suggestions: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct MonthScore {
    pub month: String,
    pub n: i64,
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Compliance {
    pub decided_on_time: i64,
    pub decided_late: i64,
    pub waiting_on_track: i64,
    pub waiting_due_soon: i64,
    pub waiting_overdue: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Dashboard {
    pub today: String,
    pub branches: Vec<String>,
    /// Cases submitted per month (YYYY-MM), oldest first.
    pub intake: Vec<Count>,
    /// Cases per state, in the lifecycle's order.
    pub funnel: Vec<Count>,
    pub compliance: Compliance,
    /// Overall scores 1..5 and how many gave each.
    pub satisfaction: Vec<Count>,
    pub satisfaction_trend: Vec<MonthScore>,
    /// Complaints and suggestions per month: key "YYYY-MM/complaint" and "YYYY-MM/suggestion".
    pub voice: Vec<Count>,
    pub complaints: i64,
    pub suggestions: i64,
    pub by_branch: Vec<DashRow>,
    pub by_channel: Vec<DashRow>,
}

/// A branch staff account as HQ holds it (synced up by the branch, or created at HQ).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct BranchStaffRow {
    pub id: String,
    pub branch: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct KbRow {
    pub id: String,
    pub title: String,
    pub mime: String,
    pub size: i64,
    pub published_at: String,
}

/// The console's storage. See the module comment.
pub trait ConsoleStore: Send + Sync {
    // ---- staff and sessions ----
    /// Create an HQ staff account; the password is hashed (Argon2id) before it is stored.
    fn add_console_staff(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[ConsoleRole],
        by: &crate::store::HqActor,
        now: DateTime<Utc>,
    ) -> Result<ConsoleStaff>;
    fn console_staff(&self) -> Result<Vec<ConsoleStaff>>;
    fn set_console_staff(
        &self,
        id: &str,
        roles: Option<&[ConsoleRole]>,
        active: Option<bool>,
        password: Option<&str>,
        by: &crate::store::HqActor,
        now: DateTime<Utc>,
    ) -> Result<ConsoleStaff>;
    /// Check a password; on success a new session (its token, returned once, and the session).
    /// A wrong name and a wrong password are the same `Unauthorized`.
    fn sign_in(
        &self,
        username: &str,
        password: &str,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, ConsoleSession)>;
    fn session(&self, token: &str, now: DateTime<Utc>) -> Result<Option<ConsoleSession>>;
    /// End the session; audited as its staff member's `sign_out`.
    fn sign_out(&self, token: &str, now: DateTime<Utc>) -> Result<()>;
    /// Reserve a sign-in attempt's place under the keys of its name and address
    /// (`rules::signin::name_key`, `address_key`), in rows every server on the database shares;
    /// false: the name or the address must wait.
    fn signin_begin(&self, name: &str, address: Option<&str>, now: DateTime<Utc>) -> Result<bool>;
    /// End an attempt [`ConsoleStore::signin_begin`] let through.
    fn signin_finish(
        &self,
        name: &str,
        address: Option<&str>,
        outcome: crate::rules::signin::Outcome,
        now: DateTime<Utc>,
    ) -> Result<()>;

    // ---- audit ----
    /// Audit a read (a whole file opened, an export) that changes nothing: a change writes its
    /// own row, in its own transaction, where it is made.
    fn audit(&self, audit: &crate::store::Audit, now: DateTime<Utc>) -> Result<()>;
    fn audit_log(&self, before: Option<i64>, limit: usize) -> Result<Vec<AuditRow>>;

    // ---- committee ----
    fn committee_queue(
        &self,
        filter: &CommitteeFilter,
        after: Option<&str>,
        limit: usize,
        today: NaiveDate,
    ) -> Result<CommitteePage>;
    /// The whole queue (at most `max` rows) for a download: one moment of the store, read by
    /// keyset pages, counted by no page.
    fn committee_export(
        &self,
        filter: &CommitteeFilter,
        today: NaiveDate,
        max: usize,
    ) -> Result<Vec<CommitteeRow>>;
    fn case_file(&self, case_id: &str, today: NaiveDate) -> Result<Option<CaseFile>>;
    /// The case with this number (as printed on the receipt), for an appeal.
    fn case_by_number(&self, number: &str) -> Result<Option<String>>;
    fn attachment(&self, sha256: &str) -> Result<Option<AttachmentBytes>>;

    // ---- dashboards ----
    fn dashboard(&self, filter: &DashFilter, today: NaiveDate) -> Result<Dashboard>;

    // ---- administration ----
    fn branches(&self) -> Result<Vec<String>>;
    fn branch_staff(&self, branch: Option<&str>) -> Result<Vec<BranchStaffRow>>;
    /// Create or change a branch's staff account at HQ; it goes down the feed to the branch.
    fn upsert_branch_staff(
        &self,
        account: &sila_domain::staff::StaffAccount,
        by: &crate::store::HqActor,
        now: DateTime<Utc>,
    ) -> Result<()>;
    fn kb_documents(&self) -> Result<Vec<KbRow>>;
}
