//! The wire protocol between a branch device and headquarters, version 2: JSON over HTTP, the push
//! body a stream of zstd-compressed frames. Both sides use these types; nothing else knows the
//! wire format.
//!
//! Endpoints (every one but `/healthz` and `/v1/enroll` needs `Authorization: Bearer <device token>`):
//!
//! | method, path | body | answer |
//! | --- | --- | --- |
//! | `GET /healthz` | | `{"ok":true}` |
//! | `POST /v1/enroll` | [`EnrollRequest`] | [`EnrollResponse`] |
//! | `POST /v1/push` (`Content-Type: application/vnd.sila.push-stream`) | frames of [`PushRequest`] ([`PushEncoder`]) | [`PushResponse`] |
//! | `GET /v1/push?after=N` | | [`PushResponse`]: where HQ stands with this device |
//! | `GET /v1/pull?after=N&limit=M[&digest=H]` (`Accept-Encoding: zstd`) | | [`PullResponse`] |
//! | `GET /v1/attachments/{sha256}/status` | | [`UploadStatus`] |
//! | `PUT /v1/attachments/{sha256}?offset=N` | bytes of one chunk | [`UploadStatus`] |
//! | `GET /v1/attachments/{sha256}?offset=N&len=M` | | bytes |
//!
//! A push is one streamed request carrying many batches: each frame is one [`PushRequest`], and
//! all frames are one zstd stream flushed at each frame's end, so the whole push compresses as one
//! (later batches refer back to earlier ones) while HQ can decode and commit each batch the moment
//! its last byte arrives. HQ commits every batch it has received in full, even when the connection
//! is then cut, and answers at the end of the stream with what it committed. A client whose last
//! pass failed asks `GET /v1/push` first and resumes after what HQ holds, so a cut costs the batch
//! in flight, not the whole push.
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
/// Version 2: pushes are streams of frames (version 1 sent one batch per request).
pub const PROTOCOL: u32 = 2;

/// The content type of a push stream.
pub const PUSH_STREAM: &str = "application/vnd.sila.push-stream";

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
pub const MAX_FRAME_JSON: usize = 64 * 1024 * 1024;

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
                payload: serde_json::json!({"summary": text}),
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
            "{{\"protocol\":2,\"device_id\":\"{}\",\"ops\":[]}}",
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
