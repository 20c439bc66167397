//! What the HTTP handlers, the console and the command line call: [`HqStore`] (sync, devices,
//! HQ's decisions and reviews) and [`ConsoleStore`] (the console's staff, sessions, audit and
//! pages). Implemented once, by [`crate::hq::Hq`], over whichever engine (`crate::db`) it was
//! opened on.
//!
//! Every method is blocking (callers on the async runtime use `spawn_blocking`) and every method
//! that changes something does it in one transaction: a push is applied whole or not at all.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sila_domain::case::{CaseEvent, Transition};
use sila_domain::ids::StaffId;
use sila_proto::{
    EnrollRequest, EnrollResponse, LookupResponse, PullResponse, PushRequest, PushResponse,
    PushState, Release, ReleaseReport, SnapshotPlan, UploadStatus,
};

pub mod console;
pub mod register;
pub use console::ConsoleStore;
pub use register::RegisterStore;

pub use crate::error::{HqError, Result};
pub use crate::rules::devices::Device;

/// A device as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DeviceInfo {
    pub device_id: String,
    pub branch: String,
    pub enrolled_at: String,
    pub revoked_at: Option<String>,
    pub last_seen_at: Option<String>,
    pub last_seq: i64,
    /// The app version the device last named when it synced.
    pub app_version: Option<String>,
    /// The last problem the device reported with a release: its version, the code, when.
    pub update_version: Option<String>,
    pub update_outcome: Option<String>,
    pub update_at: Option<String>,
    /// Operations of this device a restored HQ lost and the device could not send again (it had
    /// already dropped them): work done at the branch that nobody holds any more, an alert for
    /// the administrator. Since when: the first such answer HQ gave.
    pub lost_operations: i64,
    pub lost_since: Option<String>,
}

/// A published release of the desktop app, as the console and `sila-hq releases` list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[ts(rename = "ReleaseRow")]
pub struct ReleaseInfo {
    pub version: String,
    pub sha256: String,
    pub size: i64,
    pub published_at: String,
    pub published_by: String,
    /// Devices (not revoked) that run it now.
    pub devices: i64,
}

/// A person acting at HQ (the committee, HQ staff), passed in by the console or the command line.
/// Every change they make is audited under their ID and name, in the change's own transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqActor {
    pub staff_id: StaffId,
    pub display_name: String,
}

impl HqActor {
    /// Whoever runs `sila-hq` on the server itself (`decide`, `add-staff` …): no console account,
    /// so the nil ID, and a name the audit page shows as such.
    pub fn command_line() -> HqActor {
        HqActor {
            staff_id: StaffId(uuid::Uuid::nil()),
            display_name: "سطر الأوامر".into(),
        }
    }
}

/// One row of the audit, written in the same transaction as what it records (see
/// `storage::Tx::audit`): who, what (`case.decide`, `staff.create` …), on which record, and a
/// detail of codes and IDs only (never a name, a national ID or a phone).
#[derive(Debug, Clone, PartialEq)]
pub struct Audit<'a> {
    pub by: &'a HqActor,
    pub action: &'static str,
    pub entity: &'static str,
    pub entity_id: String,
    pub detail: serde_json::Value,
}

impl<'a> Audit<'a> {
    /// An action without detail.
    pub fn new(
        by: &'a HqActor,
        action: &'static str,
        entity: &'static str,
        entity_id: impl Into<String>,
    ) -> Self {
        Audit {
            by,
            action,
            entity,
            entity_id: entity_id.into(),
            detail: serde_json::json!({}),
        }
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchStats {
    pub name: String,
    pub beneficiaries: i64,
    pub cases: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HqStats {
    pub branches: Vec<BranchStats>,
    pub beneficiaries: i64,
    pub cases: i64,
    /// Operations devices could not send again after HQ was restored from an older copy (an
    /// alert: work done at a branch that HQ does not hold and no device can give it back).
    pub lost_operations: i64,
    /// When `sila-hq backup` last completed (RFC 3339), if ever.
    pub last_backup: Option<String>,
}

/// An edit that collided with another, both values kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictRow {
    pub id: i64,
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub hq_value: serde_json::Value,
    pub branch_value: serde_json::Value,
    pub device_id: String,
    pub seq: i64,
    pub reason: String,
    pub resolved: bool,
}

/// One side of a duplicate pair, as the review queue and `sila-hq duplicates --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DuplicatePerson {
    pub id: String,
    pub branch: String,
    pub national_id: Option<String>,
    pub full_name: String,
    pub birth_date: Option<String>,
    pub mobile: Option<String>,
}

/// Two live records that may be one person (`sila_domain::duplicates`).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct DuplicatePair {
    pub a: DuplicatePerson,
    pub b: DuplicatePerson,
    pub score: f64,
    pub certain: bool,
    /// Stable codes: same_national_id, same_birth_date, same_mobile, same_name, similar_name,
    /// different_national_ids, different_birth_dates.
    pub reasons: Vec<String>,
}

/// A merge as the console lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeRow {
    pub id: i64,
    pub survivor: String,
    pub merged: String,
    /// field → {"value", "from": "survivor" | "merged"}
    pub chosen: serde_json::Value,
    pub staff_name: String,
    pub at: String,
    pub undone_at: Option<String>,
}

/// Which value a person chose for a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    KeepHq,
    TakeBranch,
}

/// HQ's storage. See the module comment.
pub trait HqStore: ConsoleStore + RegisterStore + Send + Sync + 'static {
    // ---- the sync protocol ----

    /// Exchange a one-time enrolment code for a device credential. The same device may repeat
    /// it with the same code (its first answer was lost) and gets the same credential, until the
    /// code expires or the device first uses the credential: from then on the code yields
    /// nothing ([`HqError::CodeUsed`]), so a code read off a note cannot fetch a live credential.
    fn enroll(&self, req: &EnrollRequest, now: DateTime<Utc>) -> Result<EnrollResponse>;
    /// The device a credential belongs to; a revoked device is [`HqError::Revoked`]. The first
    /// use of a credential is recorded: it spends the code it came from.
    fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Device>;
    /// Apply a batch in one transaction by [`crate::rules::push`]: skip what was applied before,
    /// record a result per operation, and say which sequence HQ holds up to.
    fn push(&self, device: &Device, req: &PushRequest, now: DateTime<Utc>) -> Result<PushResponse>;
    /// Where HQ stands with a device, without a batch: the highest sequence it holds, a digest
    /// of the operations it holds after `after`, and the outcomes other than plain success.
    fn push_state(&self, device: &Device, after: i64) -> Result<PushState>;
    /// The feed of the device's branch after `after`, without what the device's own operations
    /// caused. `own` is the highest sequence the device holds of its own: lower than what HQ
    /// holds, the store was restored or copied and a re-download is ordered. With `digest` (sent
    /// when the device has nothing left to push) and nothing new, a digest that differs from HQ's
    /// copy orders a re-download too. Implementations must never let an entry numbered at or
    /// below the returned `next` become visible later.
    fn pull(
        &self,
        device: &Device,
        after: i64,
        limit: usize,
        own: i64,
        digest: Option<&str>,
    ) -> Result<PullResponse>;
    /// What a re-download of the device's branch will bring, and where in the feed it starts.
    fn snapshot_plan(&self, device: &Device) -> Result<SnapshotPlan>;
    /// One page of a re-download phase (`sila_proto::phases`), paged by HQ's row number.
    fn snapshot(
        &self,
        device: &Device,
        phase: &str,
        after: i64,
        limit: usize,
    ) -> Result<PullResponse>;
    /// Is this national ID registered at another branch? Where and since when, never the file;
    /// every question is recorded, and a device asking too many is refused.
    fn lookup(
        &self,
        device: &Device,
        national_id: &str,
        now: DateTime<Utc>,
    ) -> Result<LookupResponse>;
    fn upload_status(&self, device: &Device, sha256: &str) -> Result<UploadStatus>;
    fn upload_chunk(
        &self,
        device: &Device,
        sha256: &str,
        offset: i64,
        bytes: &[u8],
    ) -> Result<UploadStatus>;
    fn download(&self, device: &Device, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>>;

    // ---- releases of the desktop app (devices learn of them on pull) ----

    /// Note the app version a device named (written only when it changed) and answer the newest
    /// release when it is newer than that version.
    fn release_for(&self, device: &Device, version: Option<&str>) -> Result<Option<Release>>;
    /// Bytes of a release's package from `offset` (at most `len`; empty at its end).
    fn release_chunk(
        &self,
        device: &Device,
        sha256: &str,
        offset: i64,
        len: usize,
    ) -> Result<Vec<u8>>;
    /// A device refused a package or failed to install it: kept on its row for the console.
    fn report_release(
        &self,
        device: &Device,
        report: &ReleaseReport,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Publish a release: refused unless its signature verifies against HQ's update key, and
    /// unless its version is new. Kept with `by`'s name, and audited.
    fn publish_release(
        &self,
        version: &str,
        package: &[u8],
        signature: &str,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<Release>;
    /// Every published release, newest first, with how many devices run each.
    fn releases(&self) -> Result<Vec<ReleaseInfo>>;

    // ---- administration (the command line, the console, tests) ----
    // A change names who makes it (`by`, or the `actor` of a decision): its audit row is written
    // in the change's own transaction.

    /// A one-time enrolment code for a branch, valid for `ttl`.
    fn create_enrol_code(
        &self,
        branch: &str,
        ttl: chrono::Duration,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<String>;
    fn revoke_device(&self, device_id: &str, by: &HqActor, now: DateTime<Utc>) -> Result<()>;
    fn order_resync(&self, device_id: &str) -> Result<()>;
    fn devices(&self) -> Result<Vec<DeviceInfo>>;
    /// A committee decision (or another HQ transition) on a case; it reaches the branch by the feed.
    fn decide(
        &self,
        case_id: &str,
        transition: Transition,
        note: &str,
        actor: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<CaseEvent>;
    /// HQ changes fields of a beneficiary. Returns the record's new version.
    fn edit_beneficiary(
        &self,
        id: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Result<i64>;
    /// Open duplicate candidates across every branch (not merged, not marked "not the same
    /// person"), certain ones first, then by score; at most `limit`.
    fn duplicate_candidates(&self, limit: usize) -> Result<Vec<DuplicatePair>>;
    /// The whole record as HQ holds it, for the side-by-side view.
    fn beneficiary_file(&self, id: &str) -> Result<Option<serde_json::Value>>;
    /// Merge `merged` into `survivor`, giving the survivor the values the reviewer chose (each
    /// must be the survivor's or the merged record's value of that field). The merged ID then
    /// redirects to the survivor, at HQ and, by the feed, at both branches. Returns the merge's
    /// number, for [`HqStore::undo_merge`].
    fn merge_duplicates(
        &self,
        survivor: &str,
        merged: &str,
        chosen: &serde_json::Map<String, serde_json::Value>,
        actor: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<i64>;
    /// Undo a merge: the merged record is live again and the survivor gets back the values it
    /// had before; both reach the branches by the feed.
    fn undo_merge(&self, merge_id: i64, actor: &HqActor, now: DateTime<Utc>) -> Result<()>;
    /// Remember that two records are different people: the pair is never proposed again.
    fn mark_not_same(&self, a: &str, b: &str, actor: &HqActor, now: DateTime<Utc>) -> Result<()>;
    /// The latest merges, newest first.
    fn merges(&self, limit: usize) -> Result<Vec<MergeRow>>;
    fn conflicts(&self, open_only: bool) -> Result<Vec<ConflictRow>>;
    fn resolve_conflict(
        &self,
        id: i64,
        how: Resolution,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Publish a knowledge-base document to every branch. Returns its ID.
    fn publish_document(
        &self,
        title: &str,
        body: &str,
        file: Option<(&[u8], &str)>,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<String>;
    fn stats(&self) -> Result<HqStats>;
    /// Case ID → state as HQ holds it, for one branch (reports, tests).
    fn case_states(&self, branch: &str) -> Result<Vec<(String, String)>>;
}
