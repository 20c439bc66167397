//! The wire protocol between a branch device and headquarters, version 3: JSON over HTTP, the push
//! body a stream of zstd-compressed frames. Both sides use these types; nothing else knows the
//! wire format, and this crate knows nothing of either side's storage.
//!
//! The unit of data, sync and trust is the **branch**: HQ relays every device's changes to the
//! branch's other devices through a per-branch change feed, and checks every pushed operation as if
//! it came from an attacker holding that device's credential.
//!
//! Endpoints (every one but `/healthz` and `/v1/enroll` needs `Authorization: Bearer <device
//! token>`; every one but `/healthz` needs the header [`PROTOCOL_HEADER`] with [`PROTOCOL`], and an
//! older or missing version is answered 426 `update_required`):
//!
//! | method, path | body | answer |
//! | --- | --- | --- |
//! | `GET /healthz` | | `{"ok":true,"protocol":3}` |
//! | `POST /v1/enroll` | [`EnrollRequest`] | [`EnrollResponse`] |
//! | `POST /v1/push` (`Content-Type: application/vnd.sila.push-stream`) | frames of [`PushRequest`] ([`PushEncoder`]) | [`PushResponse`] |
//! | `GET /v1/push?after=N` | | [`PushState`]: where HQ stands with this device |
//! | `GET /v1/pull?after=N&limit=M&own=S[&digest=H]` (`Accept-Encoding: zstd`) | | [`PullResponse`] |
//! | `GET /v1/snapshot/plan` | | [`SnapshotPlan`] |
//! | `GET /v1/snapshot?phase=P&after=N&limit=M` (`Accept-Encoding: zstd`) | | [`PullResponse`] |
//! | `GET /v1/lookup?national_id=N` | | [`LookupResponse`] |
//! | `GET /v1/attachments/{sha256}/status` | | [`UploadStatus`] |
//! | `PUT /v1/attachments/{sha256}?offset=N` | bytes of one chunk | [`UploadStatus`] |
//! | `GET /v1/attachments/{sha256}?offset=N&len=M` | | bytes |
//! | `GET /v1/releases/{sha256}?offset=N&len=M` | | bytes of a published release ([`Release`]) |
//! | `POST /v1/releases/report` | [`ReleaseReport`] | 204 |
//!
//! **Updates.** A device names its app version in the header [`APP_VERSION_HEADER`]; HQ records
//! it (the console shows which version each device runs) and, when it holds a newer release,
//! names it in the pull answer ([`PullResponse::release`], absent otherwise). The device fetches
//! it in chunks it can resume after a cut, checks it ([`release::check_release`]) and reports a
//! package it refused.
//!
//! **Push.** A push is one streamed request carrying many batches: each frame is one
//! [`PushRequest`], and all frames are one zstd stream flushed at each frame's end, so the whole
//! push compresses as one while HQ can decode and commit each batch the moment its last byte
//! arrives. HQ commits every batch it has received in full, even when the connection is then cut,
//! and answers at the end with what it committed. An operation is acknowledged only when HQ
//! confirmed *that operation* (its `op_id`), never by a sequence number alone: a store restored
//! from an old copy makes new operations under numbers HQ already holds, HQ answers those
//! `seq_reused`, and the device carries its unsent operations over under new numbers.
//!
//! **Pull.** HQ keeps one change feed per branch, numbered by HQ per branch in commit order (the
//! number is taken under the branch's row lock, so no entry is ever committed below a cursor
//! already handed out). A record entry's payload is the record's current state at HQ with its
//! version ([`RecordState`]); a device applies it as an upsert guarded by the version, keeping any
//! field it has a local edit of that HQ has not acknowledged. A device is not sent the entries its
//! own operations caused (it has them), and a device whose own sequence is behind what HQ holds
//! of it (restored or copied) is told to re-download the branch.
//!
//! **HQ restored from a backup.** Every feed answer carries the device's [`Standing`]: what HQ
//! holds of it, what HQ's last backup holds (the device keeps the payloads after that), and HQ's
//! epoch with the branch's feed position when it began. A device HQ holds less of than it had
//! acknowledged sends those operations again under the same numbers and IDs; a push past what HQ
//! holds is answered [`SEQ_GAP`]; an operation whose payload the device no longer has goes as
//! [`LOST_OP`]; a device meeting another epoch reads the feed again from where it began.
//!
//! Errors are `{"code", "message"}` with an HTTP status: 401 unknown credential, 403 revoked device
//! or another branch's record, 409 an enrolment code already used by another device, 410 an expired
//! code, 426 a client too old for this HQ, 400 a malformed request. A 4xx is never retried as is; a
//! 5xx or a network error is.
//!
//! Ordering is by the device's outbox sequence and HQ's feed sequence, never by clocks: the
//! `created_at` of an operation is shown to people and stored, nothing more.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Wire protocol version. Version 3: per-branch feeds carrying record states, acknowledgement by
/// operation ID, typed payloads, the version header on every request. (Version 2 had one feed of
/// HQ's own changes keyed to the device; version 1 sent one batch per push request.)
pub const PROTOCOL: u32 = 3;

/// The request header that carries [`PROTOCOL`].
pub const PROTOCOL_HEADER: &str = "sila-protocol";

/// The request header that carries the device's app version (`MAJOR.MINOR.PATCH`).
pub const APP_VERSION_HEADER: &str = "sila-app-version";

pub mod release;

/// The content type of a push stream.
pub const PUSH_STREAM: &str = "application/vnd.sila.push-stream";

/// Chunk size of attachment transfers: small enough that one chunk goes through a 20 kbps 2G
/// uplink in well under a minute, so a cut costs at most one chunk.
pub const DEFAULT_CHUNK: usize = 64 * 1024;

/// Largest attachment chunk HQ serves in one answer.
pub const MAX_CHUNK: usize = 1024 * 1024;

/// How many outbox operations one push carries by default.
pub const DEFAULT_PUSH_BATCH: usize = 500;

/// How many feed entries one pull page carries by default.
pub const DEFAULT_PULL_PAGE: usize = 500;

/// Largest payload of one operation HQ accepts (a beneficiary with a large household is a few
/// KB; files travel separately). A larger one is refused (`too_large`), the batch goes on.
pub const MAX_OP_PAYLOAD: usize = 256 * 1024;

/// Most operations in one frame.
pub const MAX_FRAME_OPS: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub code: String,
    pub device_id: String,
    /// The branch name the store was created with; it must be the code's branch. Empty from a
    /// laptop joining its branch, which has no store yet: it learns the branch from the answer
    /// and creates its store for that branch (so nobody has to type the branch's name exactly).
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
/// The payload stays raw JSON text until HQ parses it into the domain type the operation names,
/// so a hostile frame never becomes a tree of values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireOp {
    pub seq: i64,
    pub op_id: String,
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i64>,
    pub payload: Box<RawValue>,
    pub created_at: DateTime<Utc>,
}

impl PartialEq for WireOp {
    fn eq(&self, o: &Self) -> bool {
        (
            self.seq,
            &self.op_id,
            &self.op,
            &self.entity,
            &self.entity_id,
            self.base_version,
        ) == (
            o.seq,
            &o.op_id,
            &o.op,
            &o.entity,
            &o.entity_id,
            o.base_version,
        ) && self.payload.get() == o.payload.get()
            && self.created_at == o.created_at
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub protocol: u32,
    pub device_id: String,
    /// In ascending `seq`.
    pub ops: Vec<WireOp>,
}

/// What HQ did with one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpResult {
    /// Applied now.
    Applied,
    /// Applied, but some fields collided with edits made elsewhere: both values are in the
    /// conflicts queue (at HQ and at the branch) and the earlier value stands until a person
    /// resolves them.
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

/// The reason HQ gives for a number it already holds under another operation: the device's store
/// is behind HQ (restored from a backup, copied to another laptop). The device must not mark the
/// operation sent; it carries it over under a new number.
pub const SEQ_REUSED: &str = "seq_reused";

/// The reason HQ gives for an operation numbered past the next one it expects of the device
/// (HQ's own numbers stop at the answer's `acked_through`): HQ was restored from a copy older
/// than the device's acknowledgements. Nothing from that operation on is applied; the device
/// takes its acknowledgements back after `acked_through` and sends those operations again under
/// the same numbers and IDs.
pub const SEQ_GAP: &str = "seq_gap";

/// The reason HQ gives for an operation it holds back: it was restored from a copy, the
/// operation refers to a record it does not hold, and another device of the branch, which has
/// not come back since, may send that record again. Nothing from that operation on is applied;
/// the device sends it again at its next pass (it is not an error).
pub const HELD: &str = "held";

/// The name of an operation a device can no longer send (its payload was emptied once HQ's
/// backups held it, and HQ was then restored from an older copy): it keeps its number and ID so
/// the device's sequence has no hole, HQ records it refused with [`LOST_AT_DEVICE`] and raises
/// an alert, and the device lists it as refused. The entity and its ID are the original's.
pub const LOST_OP: &str = "sync.lost";

/// The reason recorded for a [`LOST_OP`].
pub const LOST_AT_DEVICE: &str = "lost_at_device";

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

/// HQ's answer to a push stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The highest sequence of this device HQ holds.
    pub acked_through: i64,
    /// Outcomes other than a first, plain success (rejections, conflicts, repeats, reused
    /// numbers). An operation *this stream carried* that is not listed was applied now; nothing
    /// else is implied about operations the stream did not carry.
    pub results: Vec<OpOutcome>,
}

/// Where HQ stands with a device, asked after a pass that failed (a push may have been cut after
/// some of its batches were committed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushState {
    /// The highest sequence of this device HQ holds.
    pub acked_through: i64,
    /// [`ops_digest`] of the operations HQ holds with sequences in `(after, acked_through]`: the
    /// device acknowledges them only if its own operations under those numbers give the same
    /// digest (otherwise its store is behind HQ and they are not the same operations).
    pub digest: String,
    /// Outcomes other than plain success in `(after, acked_through]`.
    pub results: Vec<OpOutcome>,
}

/// The digest both sides compute over `(seq, op_id)` pairs in ascending sequence.
pub fn ops_digest<'a>(ops: impl IntoIterator<Item = (i64, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (seq, id) in ops {
        h.update(seq.to_be_bytes());
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// One entry of a branch's change feed, numbered by HQ per branch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    /// A record kind (see [`kinds`]); the payload is a [`RecordState`].
    pub kind: String,
    pub entity_id: String,
    pub payload: Box<RawValue>,
}

impl PartialEq for Change {
    fn eq(&self, o: &Self) -> bool {
        (self.seq, &self.kind, &self.entity_id) == (o.seq, &o.kind, &o.entity_id)
            && self.payload.get() == o.payload.get()
    }
}

/// A record as HQ holds it now: what a feed entry and a re-download page carry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordState {
    /// HQ's version of the record: every change at HQ, from any device or from HQ, raises it.
    /// A device sends it back as the `base_version` of its next edit of the record.
    pub version: i64,
    /// The domain record (a `Beneficiary`, a `Case`, an `Interaction`, a `StaffAccount` …; for a
    /// conflict a [`ConflictState`]).
    pub data: Box<RawValue>,
    /// Beneficiaries: the record this one was merged into at HQ or at the branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    /// Beneficiaries merged into a person of another branch: that person, so the branch can show
    /// where the file went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survivor: Option<Box<RawValue>>,
    /// Cases: the whole history (each a `CaseEvent`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Box<RawValue>>,
    /// Beneficiaries and cases: the last changes made by HQ's staff (an edit in the register, a
    /// merge's chosen fields or its undoing, a conflict resolved), oldest first, so the branch's
    /// timeline can say who at HQ changed which fields when (never the values). A device shows
    /// those newer than the version it held, and all of them when the record is new to it. The
    /// feed carries the last 20, a re-download up to 200.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hq_edits: Vec<HqEdit>,
    /// How many changes at HQ older than `hq_edits` were left out (a re-download of a record
    /// changed at HQ more often than it carries), so the timeline can say "and N older".
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hq_edits_older: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One edit of a record by a person at HQ: the record's version it made, when, by whom (the
/// staff member's display name) and the names of the fields it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HqEdit {
    pub version: i64,
    pub at: DateTime<Utc>,
    pub by: String,
    pub fields: Vec<String>,
}

/// An edit that collided with another, both values kept, as the branch shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictState {
    pub id: i64,
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    /// The value that stands until a person chooses.
    pub current: serde_json::Value,
    /// The value that collided with it.
    pub proposed: serde_json::Value,
    /// Which device proposed it.
    pub device_id: String,
    pub reason: String,
    /// "keep_current" | "take_proposed" once resolved.
    #[serde(default)]
    pub resolution: Option<String>,
}

/// Kinds of feed entries: the record kinds a branch holds.
pub mod kinds {
    pub const BENEFICIARY: &str = "beneficiary";
    pub const CASE: &str = "case";
    pub const INTERACTION: &str = "interaction";
    pub const DELIVERY: &str = "delivery";
    pub const SURVEY: &str = "survey";
    pub const TASK: &str = "task";
    pub const STAFF: &str = "staff";
    /// A knowledge-base document published at HQ (or by a branch administrator). Payload data: a
    /// [`super::KbDocument`].
    pub const KB: &str = "kb";
    pub const CONFLICT: &str = "conflict";
    /// Every kind, in the order a re-download sends them (people and open cases first).
    pub const ALL: [&str; 9] = [
        STAFF,
        KB,
        BENEFICIARY,
        CASE,
        TASK,
        INTERACTION,
        DELIVERY,
        SURVEY,
        CONFLICT,
    ];
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    pub changes: Vec<Change>,
    /// The cursor to store with these changes and send next time.
    pub next: i64,
    /// More entries follow `next`.
    pub more: bool,
    /// HQ orders a full re-download of the branch ([`SnapshotPlan`]): this device's store is
    /// behind what HQ holds of it, or what it holds differs from HQ's copy.
    #[serde(default)]
    pub reset: bool,
    /// A release of the app newer than the version the device named in [`APP_VERSION_HEADER`]:
    /// absent when there is none (most answers), so it costs nothing when nothing changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Release>,
    /// Where HQ stands with this device (a feed answer; absent from a re-download page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing: Option<Standing>,
}

/// A release of the desktop app published at HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// The package's SHA-256 (hex), also its address under `/v1/releases/`.
    pub sha256: String,
    pub size: i64,
    /// The package's minisign signature, as `tauri signer sign` writes it (base64 text).
    pub signature: String,
}

/// What a device did with a release it was offered: a refused package (its reason code from
/// [`release::ReleaseError::code`]) or a failed installation, so HQ shows it beside the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseReport {
    pub version: String,
    pub sha256: String,
    /// A code, never text from the package or the device.
    pub outcome: String,
}

/// Where HQ stands with a device, sent with every feed answer so a device can tell that HQ went
/// back in time (restored from a copy) and make it whole again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The highest sequence of this device HQ holds. Lower than what the device had
    /// acknowledged: HQ was restored, and the device sends what came after again.
    pub acked_through: i64,
    /// The highest sequence of this device that HQ's last completed backup holds (or
    /// `acked_through` when HQ's database is archived continuously): the device may forget the
    /// payloads of its acknowledged operations up to here, and must keep the rest to resend.
    pub backed_up_through: i64,
    /// HQ's timeline: a restore from a copy made by `sila-hq backup` changes it.
    pub epoch: String,
    /// The branch's feed position at the start of this epoch. A device that knew another epoch
    /// reads the feed again from here (if its cursor is past it): entries after it may carry
    /// numbers it has read under the other timeline.
    pub epoch_head: i64,
}

/// The phases of a re-download, in order: what makes the desk usable first (staff, the knowledge
/// base, people, open cases and their tasks), then closed history.
pub mod phases {
    pub const STAFF: &str = "staff";
    pub const KB: &str = "kb";
    pub const BENEFICIARIES: &str = "beneficiaries";
    pub const OPEN_CASES: &str = "open_cases";
    pub const TASKS: &str = "tasks";
    pub const CLOSED_CASES: &str = "closed_cases";
    pub const INTERACTIONS: &str = "interactions";
    pub const DELIVERIES: &str = "deliveries";
    pub const SURVEYS: &str = "surveys";
    pub const CONFLICTS: &str = "conflicts";
    pub const ALL: [&str; 10] = [
        STAFF,
        KB,
        BENEFICIARIES,
        OPEN_CASES,
        TASKS,
        CLOSED_CASES,
        INTERACTIONS,
        DELIVERIES,
        SURVEYS,
        CONFLICTS,
    ];
    /// Once these are in, the desk can serve people.
    pub const USABLE_AFTER: &str = TASKS;
}

/// What a re-download will bring, asked before it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPlan {
    /// The feed position the re-download starts from: after it, the device pulls the feed from
    /// here (what changed meanwhile comes again, and applying it twice changes nothing).
    pub feed_head: i64,
    /// Records per phase, for the progress bar.
    pub phases: Vec<PhaseCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseCount {
    pub phase: String,
    pub records: i64,
}

/// HQ's answer to "is this national ID registered at another branch?": where and since when,
/// never the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupResponse {
    pub registered: Vec<Registration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub branch: String,
    /// The date of the first registration there (YYYY-MM-DD).
    pub since: String,
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

/// SHA-256 (hex) of sorted lines: the holding digest a device and HQ compute the same way over
/// what the branch holds ("b <id> <merged_into|->", "c <id> <state>").
pub fn digest_lines(mut lines: Vec<String>) -> String {
    lines.sort_unstable();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// A raw JSON value from text already known to be JSON (a stored record).
pub fn raw(json: String) -> Box<RawValue> {
    RawValue::from_string(json)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null"))
}

/// Compression level of push streams. Level 12 is about 5 % smaller than 9 on intakes for about
/// twice the time (still tens of MB/s); the compressor runs beside the network, so on a slow link
/// the bytes saved are pure gain and on loopback it stays ahead of HQ's writes.
pub const PUSH_LEVEL: i32 = 12;

/// Window of the push stream compressor (4 MiB): later batches find their repeats in earlier ones.
/// HQ refuses a stream that asks for more than [`PUSH_WINDOW_LOG_MAX`].
pub const PUSH_WINDOW_LOG: u32 = 22;
pub const PUSH_WINDOW_LOG_MAX: u32 = 23;

/// Most compressed bytes a client puts in one push stream, however fast the link.
pub const MAX_STREAM: usize = 64 * 1024 * 1024;

/// Largest compressed frame HQ accepts, and the largest JSON one frame may expand to.
pub const MAX_FRAME: usize = 8 * 1024 * 1024;
pub const MAX_FRAME_JSON: usize = 16 * 1024 * 1024;

/// Writes a push stream: each [`PushRequest`] becomes one frame, a 4-byte big-endian length and
/// that many bytes of one zstd stream, flushed so the frame decodes as soon as it has arrived.
pub struct PushEncoder {
    zstd: zstd::stream::write::Encoder<'static, Vec<u8>>,
}

impl PushEncoder {
    pub fn new(level: i32) -> std::io::Result<PushEncoder> {
        let mut zstd = zstd::stream::write::Encoder::new(Vec::new(), level)?;
        zstd.window_log(PUSH_WINDOW_LOG)?;
        Ok(PushEncoder { zstd })
    }

    /// One frame carrying `req`.
    pub fn frame(&mut self, req: &PushRequest) -> std::io::Result<Vec<u8>> {
        serde_json::to_writer(&mut self.zstd, req)?;
        self.finish_frame()
    }

    /// One frame carrying a [`PushRequest`] of this device with these operations, each already
    /// serialised as a [`WireOp`] (so a client sizes its batches without serialising twice).
    pub fn frame_ops(&mut self, device_id: &str, ops: &[Vec<u8>]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        write!(self.zstd, "{{\"protocol\":{PROTOCOL},\"device_id\":")?;
        serde_json::to_writer(&mut self.zstd, device_id)?;
        self.zstd.write_all(b",\"ops\":[")?;
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                self.zstd.write_all(b",")?;
            }
            self.zstd.write_all(op)?;
        }
        self.zstd.write_all(b"]}")?;
        self.finish_frame()
    }

    fn finish_frame(&mut self) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        self.zstd.flush()?;
        let bytes = std::mem::take(self.zstd.get_mut());
        let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
        let mut frame = Vec::with_capacity(bytes.len() + 4);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&bytes);
        Ok(frame)
    }
}

/// Why a push stream could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A frame longer than [`MAX_FRAME`] or expanding past [`MAX_FRAME_JSON`].
    TooLarge,
    /// Not zstd, or not the stream the earlier frames began.
    Compression,
    /// Not a [`PushRequest`].
    Json,
}

/// Reads a push stream as its bytes arrive: [`PushDecoder::feed`] what came, then take every
/// complete frame with [`PushDecoder::next_request`]. A frame cut short stays buffered (and is
/// dropped with the decoder when the stream ends there).
pub struct PushDecoder {
    buf: Vec<u8>,
    start: usize,
    zstd: zstd::stream::write::Decoder<'static, Capped>,
}

/// A Vec that refuses to grow past its cap (a small hostile frame cannot expand into gigabytes).
pub struct Capped {
    out: Vec<u8>,
    cap: usize,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + b.len() > self.cap {
            self.over = true;
            return Err(std::io::Error::other("frame too large"));
        }
        self.out.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl PushDecoder {
    pub fn new() -> std::io::Result<PushDecoder> {
        let mut zstd = zstd::stream::write::Decoder::new(Capped {
            out: Vec::new(),
            cap: MAX_FRAME_JSON,
            over: false,
        })?;
        zstd.window_log_max(PUSH_WINDOW_LOG_MAX)?;
        Ok(PushDecoder {
            buf: Vec::new(),
            start: 0,
            zstd,
        })
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        // Drop the frames already taken (what is left is less than one frame).
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet part of a complete frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, decoded; None until one has fully arrived.
    pub fn next_request(&mut self) -> Result<Option<PushRequest>, FrameError> {
        use std::io::Write;
        let rest = &self.buf[self.start..];
        if rest.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooLarge);
        }
        if rest.len() < 4 + len {
            return Ok(None);
        }
        let frame = &rest[4..4 + len];
        self.zstd.get_mut().out.clear();
        let written = self.zstd.write_all(frame).and_then(|_| self.zstd.flush());
        self.start += 4 + len;
        if written.is_err() {
            return Err(if self.zstd.get_ref().over {
                FrameError::TooLarge
            } else {
                FrameError::Compression
            });
        }
        let json = std::mem::take(&mut self.zstd.get_mut().out);
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|_| FrameError::Json)
    }
}

/// Compress an answer body (pulls and snapshots, when the client accepts zstd). Level 3: answers
/// are made per request at HQ, so the fast end of zstd.
pub fn compress(json: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::bulk::compress(json, 3)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(seq: i64, text: &str) -> PushRequest {
        PushRequest {
            protocol: PROTOCOL,
            device_id: "d".into(),
            ops: vec![WireOp {
                seq,
                op_id: format!("op-{seq}"),
                op: "interaction.add".into(),
                entity: "interaction".into(),
                entity_id: format!("i-{seq}"),
                base_version: None,
                payload: raw(serde_json::json!({"summary": text}).to_string()),
                created_at: DateTime::<Utc>::UNIX_EPOCH,
            }],
        }
    }

    #[test]
    fn frames_decode_one_by_one_as_their_bytes_arrive() {
        let mut enc = PushEncoder::new(PUSH_LEVEL).unwrap();
        let reqs: Vec<_> = (1..=3).map(|i| req(i, &"نص ".repeat(200))).collect();
        let stream: Vec<u8> = reqs.iter().flat_map(|r| enc.frame(r).unwrap()).collect();
        let mut dec = PushDecoder::new().unwrap();
        let mut got = Vec::new();
        // Byte by byte: a frame is never decoded before its last byte, always right after it.
        for b in &stream {
            dec.feed(&[*b]);
            while let Some(r) = dec.next_request().unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, reqs);
        assert_eq!(dec.buffered(), 0);
        // Operations serialised one by one make the same request.
        let mut enc = PushEncoder::new(PUSH_LEVEL).unwrap();
        let ops: Vec<Vec<u8>> = reqs[0]
            .ops
            .iter()
            .map(|o| serde_json::to_vec(o).unwrap())
            .collect();
        let mut dec = PushDecoder::new().unwrap();
        dec.feed(&enc.frame_ops("d", &ops).unwrap());
        assert_eq!(dec.next_request().unwrap().unwrap(), reqs[0]);
        // Later frames refer back to earlier ones: the second frame is much smaller.
        let mut enc = PushEncoder::new(PUSH_LEVEL).unwrap();
        let a = enc.frame(&reqs[0]).unwrap().len();
        let b = enc.frame(&req(2, &"نص ".repeat(200))).unwrap().len();
        assert!(b < a / 2, "{b} vs {a}");
    }

    #[test]
    fn a_frame_cut_short_is_never_decoded_and_garbage_is_refused() {
        let mut enc = PushEncoder::new(PUSH_LEVEL).unwrap();
        let f = enc.frame(&req(1, "x")).unwrap();
        let mut dec = PushDecoder::new().unwrap();
        dec.feed(&f[..f.len() - 1]);
        assert_eq!(dec.next_request(), Ok(None));
        let mut dec = PushDecoder::new().unwrap();
        dec.feed(&[0, 0, 0, 3, 1, 2, 3]);
        assert_eq!(dec.next_request(), Err(FrameError::Compression));
        let mut dec = PushDecoder::new().unwrap();
        dec.feed(&u32::MAX.to_be_bytes());
        assert_eq!(dec.next_request(), Err(FrameError::TooLarge));
    }

    #[test]
    fn a_frame_that_expands_past_the_ceiling_is_refused() {
        let json = format!(
            "{{\"protocol\":3,\"device_id\":\"{}\",\"ops\":[]}}",
            "a".repeat(MAX_FRAME_JSON)
        );
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        std::io::Write::write_all(&mut z, json.as_bytes()).unwrap();
        let body = z.finish().unwrap();
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let mut dec = PushDecoder::new().unwrap();
        dec.feed(&frame);
        assert_eq!(dec.next_request(), Err(FrameError::TooLarge));
    }
}
