//! The storage boundary under HQ's rules: what an engine (SQLite today, PostgreSQL next) offers
//! inside one transaction. These are storage operations (load a record, save it, number a feed
//! entry, keep a conflict), never business operations: whether an operation may do something is
//! decided in [`crate::rules`], which sees only this trait. An engine holds SQL and nothing else.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The kinds of record a branch holds, as HQ stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Beneficiary,
    Case,
    Interaction,
    Delivery,
    Survey,
    Task,
    Staff,
    Kb,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Beneficiary,
        Kind::Case,
        Kind::Interaction,
        Kind::Delivery,
        Kind::Survey,
        Kind::Task,
        Kind::Staff,
        Kind::Kb,
    ];

    /// The entity name operations and feed entries use.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Beneficiary => "beneficiary",
            Kind::Case => "case",
            Kind::Interaction => "interaction",
            Kind::Delivery => "delivery",
            Kind::Survey => "survey",
            Kind::Task => "task",
            Kind::Staff => "staff",
            Kind::Kb => "kb",
        }
    }

    pub fn from_code(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == s)
    }
}

/// Who last changed a field, and at which version of the record. A field with no entry was last
/// changed by the record's creation (version 1, by its creator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldVersion {
    pub v: i64,
    /// A device ID, or [`HQ_ORIGIN`].
    pub by: String,
}

pub type FieldVersions = BTreeMap<String, FieldVersion>;

/// The origin of what HQ itself changes (decisions, merges, edits in the console).
pub const HQ_ORIGIN: &str = "hq";

/// A record as HQ stores it. `data` is the domain record as JSON (a `Beneficiary`, a `Case` …),
/// parsed and validated by the rules before it is ever saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: Kind,
    pub id: String,
    pub branch: String,
    /// The device that created it, or [`HQ_ORIGIN`].
    pub created_by: String,
    pub data: Value,
    /// Raised by every change at HQ, whoever made it.
    pub version: i64,
    pub fields: FieldVersions,
    /// Beneficiaries: merged into this record.
    pub merged_into: Option<String>,
    /// Cases: the last transition was HQ's (a decision), so a branch transition from an earlier
    /// state is a `decision_is_hq`, not a plain `wrong_state`.
    pub hq_decided: bool,
}

impl Record {
    pub fn new(kind: Kind, id: &str, branch: &str, created_by: &str, data: Value) -> Record {
        Record {
            kind,
            id: id.to_owned(),
            branch: branch.to_owned(),
            created_by: created_by.to_owned(),
            data,
            version: 1,
            fields: FieldVersions::new(),
            merged_into: None,
            hq_decided: false,
        }
    }

    /// Who last changed `field`, at which version.
    pub fn field_version(&self, field: &str) -> FieldVersion {
        self.fields.get(field).cloned().unwrap_or(FieldVersion {
            v: 1,
            by: self.created_by.clone(),
        })
    }
}

/// What HQ did with an operation it received before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOp {
    pub seq: i64,
    pub op_id: String,
    pub result: String,
    pub reason: Option<String>,
}

/// The identity of an operation, as it is kept after being applied (never its payload).
#[derive(Debug, Clone)]
pub struct OpMeta<'a> {
    pub device_id: &'a str,
    pub seq: i64,
    pub op_id: &'a str,
    pub op: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
    pub created_at: DateTime<Utc>,
}

/// Two values of one field, for a person to choose between.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict<'a> {
    pub kind: Kind,
    pub entity_id: &'a str,
    pub branch: &'a str,
    pub field: &'a str,
    /// The value that stands.
    pub current: &'a Value,
    /// The value that collided with it.
    pub proposed: &'a Value,
    pub base_version: Option<i64>,
    pub device_id: &'a str,
    pub seq: i64,
    pub reason: &'a str,
}

/// A conflict as it is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    pub id: i64,
    pub kind: Kind,
    pub entity_id: String,
    pub branch: String,
    pub field: String,
    pub current: Value,
    pub proposed: Value,
    pub resolved: bool,
}

/// A merge of two people, with what it needs to be undone.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeRecord {
    pub id: i64,
    pub survivor: String,
    pub merged: String,
    /// {"field": {"value": …, "from": "survivor" | "merged"}}
    pub chosen: Value,
    /// {"field": the survivor's value before the merge}
    pub previous: Value,
    pub staff_id: String,
    pub staff_name: String,
    pub undone: bool,
    /// A merge made at a branch: the branch's own ID for it.
    pub branch_merge_id: Option<String>,
}

/// A device as the push path sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceState {
    pub last_seq: i64,
    pub revoked: bool,
}

/// An enrolment code as it is kept (by its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolCode {
    pub branch: String,
    pub expires_at: String,
    pub used_by: Option<String>,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub branch: String,
    pub revoked: bool,
    pub last_seq: i64,
    /// Has the device used its current credential (once is enough)?
    pub credential_used: bool,
}

/// Storage operations inside one write transaction. Every method fails only for a storage reason
/// (a database or IO error), which fails the whole transaction.
pub trait Tx {
    // ---- devices and their operations ----
    fn device_state(&mut self, device_id: &str) -> crate::Result<Option<DeviceState>>;
    fn set_device_seen(
        &mut self,
        device_id: &str,
        last_seq: i64,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;
    /// The operations HQ holds under this device's sequence numbers `from..=to`.
    fn applied_between(
        &mut self,
        device_id: &str,
        from: i64,
        to: i64,
    ) -> crate::Result<Vec<AppliedOp>>;
    /// The operations of this device HQ holds with these IDs, under whichever numbers, in no
    /// order.
    fn applied_with_ids(
        &mut self,
        device_id: &str,
        op_ids: &[&str],
    ) -> crate::Result<Vec<AppliedOp>>;
    fn record_applied(
        &mut self,
        op: &OpMeta<'_>,
        result: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;

    /// Everything one operation writes is undone together when the rules refuse it.
    fn begin_op(&mut self) -> crate::Result<()>;
    fn undo_op(&mut self) -> crate::Result<()>;
    fn end_op(&mut self) -> crate::Result<()>;

    // ---- records ----
    /// Read these records now, locked for change as [`Tx::load`] does, so that the loads of a
    /// batch that follow cost no round trip each. Only an engine's speed depends on it.
    fn prefetch(&mut self, wanted: &[(Kind, &str)]) -> crate::Result<()>;
    fn load(&mut self, kind: Kind, id: &str) -> crate::Result<Option<Record>>;
    fn insert(&mut self, rec: &Record, now: DateTime<Utc>) -> crate::Result<()>;
    /// Save a record that exists (its data, version, field versions, merge and decision marks).
    fn update(&mut self, rec: &Record, now: DateTime<Utc>) -> crate::Result<()>;
    /// A case's history, oldest first (each a `CaseEvent` as JSON).
    fn case_events(&mut self, case_id: &str) -> crate::Result<Vec<Value>>;
    /// `origin`: "branch" or "hq".
    fn append_case_event(
        &mut self,
        case_id: &str,
        origin: &str,
        event: &Value,
    ) -> crate::Result<()>;

    // ---- conflicts, attachments, the feed ----
    fn add_conflict(&mut self, c: &NewConflict<'_>, now: DateTime<Utc>) -> crate::Result<i64>;
    /// A branch says it has this file (it may then upload it). Keeps the first mime and size.
    fn declare_attachment(
        &mut self,
        sha256: &str,
        mime: &str,
        size: i64,
        branch: &str,
    ) -> crate::Result<()>;
    /// Is this file declared by the branch, or referenced by one of its records?
    fn attachment_declared(&mut self, sha256: &str, branch: &str) -> crate::Result<bool>;
    /// A record of `branch` references this file: the branch's devices may download it.
    fn reference_attachment(
        &mut self,
        sha256: &str,
        branch: &str,
        kind: Kind,
        entity_id: &str,
    ) -> crate::Result<()>;
    /// Append an entry to a branch's feed, numbered after every entry committed before it in
    /// that branch (the engine serialises numbering per branch). `kind` is a feed kind
    /// (`sila_proto::kinds`). Returns the entry's number.
    fn feed(
        &mut self,
        branch: &str,
        kind: &str,
        entity_id: &str,
        origin: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<i64>;
    /// Every branch HQ knows (for entries every branch receives: knowledge-base documents).
    fn branch_names(&mut self) -> crate::Result<Vec<String>>;

    // ---- what HQ staff do ----
    fn conflict(&mut self, id: i64) -> crate::Result<Option<ConflictRecord>>;
    /// `resolution`: "keep_current" | "take_proposed".
    fn set_conflict_resolved(
        &mut self,
        id: i64,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;
    /// Keeps a merge (its `id` is ignored) and returns its number.
    fn insert_merge(&mut self, m: &MergeRecord, now: DateTime<Utc>) -> crate::Result<i64>;
    fn merge_record(&mut self, id: i64) -> crate::Result<Option<MergeRecord>>;
    /// The merge a branch made under its own ID.
    fn branch_merge(&mut self, branch_merge_id: &str) -> crate::Result<Option<MergeRecord>>;
    fn set_merge_undone(
        &mut self,
        id: i64,
        staff_id: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;
    /// Remember that `a` and `b` (a < b) are different people.
    fn add_not_same(
        &mut self,
        a: &str,
        b: &str,
        staff_id: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;
    /// Keep a whole file HQ itself publishes, readable by every branch.
    fn publish_file(&mut self, sha256: &str, mime: &str, bytes: &[u8]) -> crate::Result<()>;
    /// Does another staff account of the branch use this user name?
    fn staff_username_taken(
        &mut self,
        branch: &str,
        username: &str,
        except_id: &str,
    ) -> crate::Result<bool>;
    fn branch_known(&mut self, branch: &str) -> crate::Result<bool>;
    // ---- devices and enrolment ----
    /// A code by its hash (locked for the transaction: two devices using one code race here).
    fn enrol_code(&mut self, code_hash: &str) -> crate::Result<Option<EnrolCode>>;
    /// Keep a new code (and its branch, when new).
    fn add_enrol_code(
        &mut self,
        code_hash: &str,
        branch: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> crate::Result<()>;
    fn use_enrol_code(
        &mut self,
        code_hash: &str,
        device_id: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;
    fn device(&mut self, device_id: &str) -> crate::Result<Option<DeviceRow>>;
    fn device_by_token(&mut self, token_hash: &str) -> crate::Result<Option<DeviceRow>>;
    /// Enrol a device, or give an enrolled one a new credential (not used yet, unless it is the
    /// one it had).
    fn save_device(
        &mut self,
        device_id: &str,
        branch: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> crate::Result<()>;
    /// The credential with this hash has been used (its first use is kept; later ones change
    /// nothing).
    fn credential_used(&mut self, token_hash: &str, now: DateTime<Utc>) -> crate::Result<()>;
    /// False when there is no such device.
    fn revoke_device(&mut self, device_id: &str, now: DateTime<Utc>) -> crate::Result<bool>;
    /// False when there is no such device.
    fn set_resync(&mut self, device_id: &str, wanted: bool) -> crate::Result<bool>;

    /// A person at HQ changed these fields of a record, making `version`: kept so the record's
    /// branch can show who changed what when (field names only, never values).
    fn note_hq_edit(
        &mut self,
        kind: Kind,
        entity_id: &str,
        version: i64,
        staff: &crate::store::HqActor,
        fields: &[String],
        now: DateTime<Utc>,
    ) -> crate::Result<()>;

    /// What a person at HQ did, in the transaction of the change itself (both commit or
    /// neither), by codes and record IDs only (never names or values).
    fn audit(&mut self, audit: &crate::store::Audit, now: DateTime<Utc>) -> crate::Result<()>;
}
