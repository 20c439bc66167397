//! The wire protocol between a branch device and headquarters, version 1: JSON over HTTP, the push
//! body compressed with zstd. Both sides use these types; nothing else knows the wire format.
//!
//! Endpoints (every one but `/healthz` and `/v1/enroll` needs `Authorization: Bearer <device token>`):
//!
//! | method, path | body | answer |
//! | --- | --- | --- |
//! | `GET /healthz` | | `{"ok":true}` |
//! | `POST /v1/enroll` | [`EnrollRequest`] | [`EnrollResponse`] |
//! | `POST /v1/push` (`Content-Encoding: zstd`) | [`PushRequest`] | [`PushResponse`] |
//! | `GET /v1/pull?after=N&limit=M[&digest=H]` | | [`PullResponse`] |
//! | `GET /v1/attachments/{sha256}/status` | | [`UploadStatus`] |
//! | `PUT /v1/attachments/{sha256}?offset=N` | bytes of one chunk | [`UploadStatus`] |
//! | `GET /v1/attachments/{sha256}?offset=N&len=M` | | bytes |
//!
//! Errors are `{"code", "message"}` with an HTTP status: 401 unknown credential, 403 revoked device
//! or another branch's record, 409 an enrolment code already used by another device, 410 an expired
//! code, 400 a malformed request. A 4xx is never retried as is; a 5xx or a network error is.
//!
//! Ordering is by the device's outbox sequence and HQ's feed sequence, never by clocks: the
//! `created_at` of an operation is shown to people and stored, nothing more.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Wire protocol version; a server answers 400 `protocol` to a version it does not speak.
pub const PROTOCOL: u32 = 1;

/// Chunk size of attachment transfers: small enough that one chunk goes through a 20 kbps 2G
/// uplink in well under a minute, so a cut costs at most one chunk.
pub const DEFAULT_CHUNK: usize = 64 * 1024;

/// How many outbox operations one push carries by default.
pub const DEFAULT_PUSH_BATCH: usize = 500;

/// How many feed entries one pull page carries by default.
pub const DEFAULT_PULL_PAGE: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    pub device_id: String,
    /// The branch name the store was created with; it must be the code's branch.
    pub branch: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub device_id: String,
    pub branch: String,
    /// The device credential. Shown once; HQ keeps only its SHA-256.
    pub token: String,
}

/// One outbox operation as it travels. The device ID is the batch's, not repeated per operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireOp {
    pub seq: i64,
    pub op_id: String,
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i64>,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub protocol: u32,
    pub device_id: String,
    /// In ascending `seq`, from the lowest operation HQ has not acknowledged.
    pub ops: Vec<WireOp>,
}

/// What HQ did with one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    /// Applied now.
    Applied,
    /// Applied, but some fields collided with edits made elsewhere: both values are in HQ's
    /// conflicts queue and HQ's value stands until a person resolves them.
    Conflict,
    /// Refused, with a reason; later operations are applied all the same.
    Rejected,
}

impl OpResult {
    pub fn code(self) -> &'static str {
        match self {
            OpResult::Applied => "applied",
            OpResult::Conflict => "conflict",
            OpResult::Rejected => "rejected",
        }
    }
    pub fn from_code(s: &str) -> Option<OpResult> {
        match s {
            "applied" => Some(OpResult::Applied),
            "conflict" => Some(OpResult::Conflict),
            "rejected" => Some(OpResult::Rejected),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpOutcome {
    pub seq: i64,
    pub result: OpResult,
    /// A reason code (never personal data), for rejections and conflicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True when HQ had applied this operation before (a repeated request).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Every operation of this device up to and including this sequence is committed at HQ.
    pub acked_through: i64,
    /// Outcomes other than a first, plain success (rejections, conflicts, repeats); an operation
    /// up to `acked_through` that is not listed was applied.
    pub results: Vec<OpOutcome>,
}

/// One entry of HQ's change feed, numbered by HQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub kind: String,
    pub entity_id: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub changes: Vec<Change>,
    /// The cursor to store with these changes and send next time.
    pub next: i64,
    /// More entries follow `next`.
    pub more: bool,
    /// HQ orders a full re-download: drop the cursor, pull from 0 with `full=1`.
    #[serde(default)]
    pub reset: bool,
}

/// Kinds of change feed entries.
pub mod kinds {
    /// A committee decision (or another HQ transition) on one of the branch's cases.
    /// Payload: [`super::DecisionPayload`].
    pub const CASE_DECISION: &str = "case.decision";
    /// HQ merged a beneficiary into another. Payload: [`super::MergePayload`].
    pub const BENEFICIARY_MERGE: &str = "beneficiary.merge";
    /// HQ undid a merge: the merged record is live again. Payload: [`super::UnmergePayload`].
    pub const BENEFICIARY_UNMERGE: &str = "beneficiary.unmerge";
    /// HQ changed fields of a beneficiary (a conflict resolved, an HQ edit). Payload: [`super::FieldsPayload`].
    pub const BENEFICIARY_FIELDS: &str = "beneficiary.fields";
    /// A knowledge-base document published at HQ. Payload: [`super::KbDocument`].
    pub const KB_DOCUMENT: &str = "kb.document";
    /// A staff account of the branch. Payload: `sila_domain::staff::StaffAccount`.
    pub const STAFF: &str = "staff.upsert";
    /// During a full re-download only: HQ's copy of one of the branch's records.
    /// Payload: [`super::SnapshotPayload`].
    pub const SNAPSHOT: &str = "snapshot";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionPayload {
    pub case_id: String,
    /// The whole case as HQ holds it after the decision (state, decision, dates).
    pub case: serde_json::Value,
    /// The history entry HQ appended (a `sila_domain::case::CaseEvent`).
    pub event: serde_json::Value,
    /// HQ's own number for the decision, so applying it twice does nothing.
    pub decision_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergePayload {
    pub merged_id: String,
    pub survivor_id: String,
    pub survivor_branch: String,
    /// The survivor as HQ holds it, so a branch can show it even when it was registered elsewhere.
    pub survivor: serde_json::Value,
    /// HQ's number for the merge: the same pair merged again after an undo is a new merge.
    #[serde(default)]
    pub merge_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnmergePayload {
    pub merged_id: String,
    pub survivor_id: String,
    pub merge_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldsPayload {
    pub beneficiary_id: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// HQ's number for this write; the branch echoes it back (op "beneficiary.hq_seen") so HQ
    /// knows from which of the branch's versions on the branch had seen it.
    pub write_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KbDocument {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// The document's file, fetched separately by its content address; None for text only.
    #[serde(default)]
    pub sha256: Option<String>,
    #[serde(default)]
    pub mime: String,
    #[serde(default)]
    pub size: i64,
    pub published_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPayload {
    /// "beneficiary" or "case".
    pub entity: String,
    pub data: serde_json::Value,
    #[serde(default)]
    pub merged_into: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadStatus {
    pub sha256: String,
    pub size: i64,
    /// Bytes HQ holds, from the start: the next chunk starts here.
    pub received: i64,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Compress a request body. Level 9 on batches of hundreds of similar operations is where the
/// bytes-per-case budget is won; it costs a few milliseconds per batch.
pub fn compress(json: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::bulk::compress(json, 9)
}

/// Decompress with a ceiling, so a small hostile body cannot expand into gigabytes.
pub fn decompress(body: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(body)?
        .take(limit as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > limit {
        return Err(std::io::Error::other("body too large"));
    }
    Ok(out)
}
