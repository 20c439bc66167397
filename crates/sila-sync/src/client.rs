//! The branch's sync client: enrolment, and one sync pass (`sync_once`) that pushes the outbox,
//! pulls HQ's feed, and moves attachments, over HTTP with rustls.
//!
//! Where a pass can stop (a cut link, a killed process) nothing is lost and nothing doubles:
//! operations are marked acknowledged only after HQ answered that it committed them (HQ skips
//! what it already has, so sending twice is harmless), and each pulled page is stored with its
//! cursor in one transaction. Records go before files, and a file that fails is set aside, so a
//! large or broken attachment never holds up the records.

use crate::proto::{
    self, EnrollRequest, EnrollResponse, ErrorBody, LookupResponse, PullResponse, PushResponse,
    PushState, SnapshotPlan, UploadStatus, WireOp,
};
use serde::Serialize;
use sila_store::sync::{HqChange, HqStanding, OpAck, StandingReport};
use sila_store::{Store, StoreError};
use std::time::Duration;

/// Told after every page of a re-download.
pub type Progress = std::sync::Arc<dyn Fn(&sila_store::sync::Redownload) + Send + Sync>;

/// Knobs of a sync pass; the defaults are production's.
#[derive(Clone)]
pub struct SyncOptions {
    /// Most operations in one batch (one frame of a push stream, committed at HQ in one
    /// transaction).
    pub push_batch: usize,
    /// Most uncompressed JSON bytes in one batch (about a tenth of that travels): what a cut link
    /// can cost at most, under a second of 2G air time.
    pub push_bytes: usize,
    /// Most compressed bytes in the first push stream (one request) of a pass, so a stream ends
    /// well within `request_timeout` on a 2G link; the next stream goes on from there, longer
    /// when the link has shown it carries more.
    pub push_stream_bytes: usize,

    pub pull_page: usize,
    /// Attachment chunk size.
    pub chunk: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Move attachments (upload and knowledge-base downloads) after the records.
    pub attachments: bool,
    /// Crash on purpose at a named point (tests that kill the client).
    pub failpoint: Option<ClientFailpoint>,
    /// Send the holding digest with the pull, so HQ can tell a store that diverged (a scan of the
    /// branch at HQ: the scheduler asks for it now and then).
    pub check_holding: bool,
    /// Told after every page of a re-download (the progress bar of a new laptop).
    pub progress: Option<Progress>,
    /// The app's version (`MAJOR.MINOR.PATCH`), sent with every request: HQ shows which version
    /// each device runs and offers a newer release in the pull answer ([`SyncReport::release`]).
    pub app_version: Option<String>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            push_batch: proto::DEFAULT_PUSH_BATCH,
            push_bytes: 64 * 1024,
            push_stream_bytes: 512 * 1024,
            pull_page: proto::DEFAULT_PULL_PAGE,
            chunk: proto::DEFAULT_CHUNK,
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(120),
            attachments: true,
            failpoint: ClientFailpoint::from_env(),
            check_holding: true,
            progress: None,
            app_version: None,
        }
    }
}

/// Where a test may have the client process abort: between HQ's answer and the local commit,
/// and right after each local commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFailpoint {
    /// "after_push_answer", "after_ack_commit", "after_pull_answer", "after_pull_commit",
    /// "after_chunk".
    pub point: String,
    /// Abort at the nth time the point is reached (1-based).
    pub nth: u32,
}

impl ClientFailpoint {
    /// Read `SILA_SYNC_FAILPOINT` ("point:n").
    pub fn from_env() -> Option<ClientFailpoint> {
        let v = std::env::var("SILA_SYNC_FAILPOINT").ok()?;
        let (point, n) = v.split_once(':').unwrap_or((&v, "1"));
        Some(ClientFailpoint {
            point: point.to_owned(),
            nth: n.parse().ok()?,
        })
    }
}

/// What one pass did. `pending` counts operations still waiting for HQ at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub rejected: usize,
    pub conflicts: usize,
    pub pending: i64,
    pub files_sent: usize,
    pub files_failed: usize,
    pub files_received: usize,
    /// HQ ordered a full re-download and it was done.
    pub redownloaded: bool,
    /// Bytes of push streams sent (compressed), for the benchmarks.
    pub bytes_sent: u64,
    /// Operations sent that HQ had already committed (a repeat after a lost answer); after a cut
    /// the client asks first, so this stays near zero.
    pub resent: usize,
    /// Unsent operations given new numbers because the store was behind HQ (restored, copied).
    pub carried_over: usize,
    /// A release of the app newer than [`SyncOptions::app_version`] that HQ offers
    /// ([`crate::update`] fetches and checks it).
    pub release: Option<proto::Release>,
    /// Acknowledged operations sent again because HQ was restored from an older copy.
    pub sent_again: usize,
    /// Of those, operations this device could no longer send (an alert on both sides).
    pub lost: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this store is not enrolled with headquarters")]
    NotEnrolled,
    #[error("headquarters cannot be reached ({0})")]
    Network(&'static str),
    #[error("this device has been revoked at headquarters")]
    Revoked,
    #[error("headquarters does not know this device's credential")]
    Unauthorized,
    #[error("headquarters refused the request ({code})")]
    Refused { status: u16, code: String },
    #[error("headquarters failed ({0})")]
    Server(u16),
    #[error("unexpected answer from headquarters ({0})")]
    Protocol(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Stable code for the UI and the logs.
    pub fn code(&self) -> String {
        match self {
            SyncError::NotEnrolled => "not_enrolled".into(),
            SyncError::Network(_) => "network".into(),
            SyncError::Revoked => "device_revoked".into(),
            SyncError::Unauthorized => "unauthorized".into(),
            SyncError::Refused { code, .. } => code.clone(),
            SyncError::Server(_) => "server_error".into(),
            SyncError::Protocol(_) => "protocol".into(),
            SyncError::Store(e) => e.code().into(),
        }
    }

    /// Worth trying again later by itself (the link, the server), as opposed to needing a person.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Network(_) | SyncError::Server(_) | SyncError::Protocol(_)
        )
    }

    pub fn arabic_message(&self) -> String {
        match self {
            SyncError::Store(e) => e.arabic_message(),
            other => arabic_message(&other.code()).to_owned(),
        }
    }
}

/// The Arabic wording of a sync error code, for the home screen.
pub fn arabic_message(code: &str) -> &'static str {
    match code {
        "not_enrolled" => "هذا الجهاز غير مربوط بالمقر بعد. اطلب رمز التسجيل من مدير النظام.",
        "network" => "تعذر الاتصال بالمقر. ستُرسل التغييرات تلقائياً عند عودة الاتصال.",
        "device_revoked" => {
            "أُوقف هذا الجهاز في المقر. بياناتك محفوظة على الجهاز ولم تُرسل؛ راجع مدير النظام."
        }
        "unauthorized" => "المقر لا يعرف هذا الجهاز. أعد ربط الجهاز برمز تسجيل جديد.",
        "server_error" => "حدث خطأ في خادم المقر. ستُعاد المحاولة تلقائياً.",
        "protocol" => "ردّ غير متوقع من المقر. ستُعاد المحاولة تلقائياً.",
        "code_invalid" => "رمز التسجيل غير صحيح.",
        "code_expired" => "انتهت صلاحية رمز التسجيل. اطلب رمزاً جديداً.",
        "code_used" => "رمز التسجيل استُخدم من قبل، ولا يصلح مرة ثانية. اطلب رمزاً جديداً.",
        "branch_mismatch" => "رمز التسجيل صادر لفرع آخر غير فرع هذا الجهاز.",
        "update_required" => {
            "إصدار صلة على هذا الجهاز أقدم من إصدار المقر. حدّث صلة ثم أعد المزامنة؛ بياناتك محفوظة على الجهاز."
        }
        "too_many_requests" => "طلبات كثيرة من هذا الجهاز. ستُعاد المحاولة لاحقاً.",
        _ => "تعذرت المزامنة مع المقر.",
    }
}

/// Map a transport failure to a code, never to text that could carry a URL's secrets.
fn net(e: reqwest::Error) -> SyncError {
    SyncError::Network(if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    })
}

/// An HTTP connection to HQ on behalf of one device.
pub struct HqClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl HqClient {
    pub fn new(base: &str, token: Option<String>, opts: &SyncOptions) -> Result<Self, SyncError> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            proto::PROTOCOL_HEADER,
            reqwest::header::HeaderValue::from(proto::PROTOCOL),
        );
        if let Some(v) = opts
            .app_version
            .as_deref()
            .and_then(|v| reqwest::header::HeaderValue::from_str(v).ok())
        {
            headers.insert(proto::APP_VERSION_HEADER, v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|_| SyncError::Protocol("client"))?;
        Ok(HqClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn answer<T: serde::de::DeserializeOwned>(
        resp: reqwest::Response,
    ) -> Result<T, SyncError> {
        let status = resp.status();
        if status.is_success() {
            return resp.json::<T>().await.map_err(net);
        }
        let code = status.as_u16();
        if status.is_server_error() {
            return Err(SyncError::Server(code));
        }
        let body: Option<ErrorBody> = resp.json().await.ok();
        let err_code = body.map(|b| b.code).unwrap_or_else(|| "refused".into());
        Err(match (code, err_code.as_str()) {
            (_, "device_revoked") => SyncError::Revoked,
            (401, "unauthorized") => SyncError::Unauthorized,
            _ => SyncError::Refused {
                status: code,
                code: err_code,
            },
        })
    }

    /// Is HQ up? A cheap call for the scheduler's probe.
    pub async fn healthy(&self) -> bool {
        match self.http.get(self.url("/healthz")).send().await {
            Ok(r) => r.status().is_success(),
            Err(_) => false,
        }
    }

    pub async fn enroll(&self, req: &EnrollRequest) -> Result<EnrollResponse, SyncError> {
        let resp = self
            .http
            .post(self.url("/v1/enroll"))
            .json(req)
            .send()
            .await
            .map_err(net)?;
        Self::answer(resp).await
    }

    /// Push a stream of frames ([`proto::PushEncoder`]) as they come from `frames`; returns
    /// HQ's answer once the stream has ended and HQ has committed it.
    pub async fn push_stream(
        &self,
        frames: tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<PushResponse, SyncError> {
        let resp = self
            .auth(self.http.post(self.url("/v1/push")))
            .header(reqwest::header::CONTENT_TYPE, proto::PUSH_STREAM)
            .body(reqwest::Body::wrap(FrameBody(frames)))
            .send()
            .await
            .map_err(net)?;
        Self::answer(resp).await
    }

    /// Where HQ stands with this device: everything up to `acked_through` is committed, with the
    /// outcomes other than plain success after `after`. Asked after a pass that failed, so the
    /// next push resumes after what HQ holds instead of sending it again.
    pub async fn push_state(&self, after: i64) -> Result<PushState, SyncError> {
        let resp = self
            .auth(self.http.get(self.url("/v1/push")))
            .query(&[("after", after)])
            .send()
            .await
            .map_err(net)?;
        Self::answer(resp).await
    }

    pub async fn pull(
        &self,
        after: i64,
        limit: usize,
        own: i64,
        digest: Option<&str>,
    ) -> Result<PullResponse, SyncError> {
        let mut q = vec![
            ("after", after.to_string()),
            ("limit", limit.to_string()),
            ("own", own.to_string()),
        ];
        if let Some(d) = digest {
            q.push(("digest", d.to_owned()));
        }
        let resp = self
            .auth(self.http.get(self.url("/v1/pull")))
            .header(reqwest::header::ACCEPT_ENCODING, "zstd")
            .query(&q)
            .send()
            .await
            .map_err(net)?;
        Self::feed_answer(resp).await
    }

    /// What a re-download of the branch will bring.
    pub async fn snapshot_plan(&self) -> Result<SnapshotPlan, SyncError> {
        let resp = self
            .auth(self.http.get(self.url("/v1/snapshot/plan")))
            .send()
            .await
            .map_err(net)?;
        Self::answer(resp).await
    }

    /// Is this national ID registered at another branch? (Where and since when, never the file.)
    pub async fn lookup(&self, national_id: &str) -> Result<LookupResponse, SyncError> {
        let resp = self
            .auth(self.http.get(self.url("/v1/lookup")))
            .query(&[("national_id", national_id)])
            .send()
            .await
            .map_err(net)?;
        Self::answer(resp).await
    }

    pub async fn snapshot(
        &self,
        phase: &str,
        after: i64,
        limit: usize,
    ) -> Result<PullResponse, SyncError> {
        let resp = self
            .auth(self.http.get(self.url("/v1/snapshot")))
            .header(reqwest::header::ACCEPT_ENCODING, "zstd")
            .query(&[
                ("phase", phase.to_owned()),
                ("after", after.to_string()),
                ("limit", limit.to_string()),
            ])
            .send()
            .await
            .map_err(net)?;
        Self::feed_answer(resp).await
    }

    /// A feed page, compressed by HQ when it is worth it.
    async fn feed_answer(resp: reqwest::Response) -> Result<PullResponse, SyncError> {
        let zstd = resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes() == b"zstd");
        if !zstd || !resp.status().is_success() {
            return Self::answer(resp).await;
        }
        let body = resp.bytes().await.map_err(net)?;
        let json = proto::decompress(&body, proto::MAX_FRAME_JSON)
            .map_err(|_| SyncError::Protocol("answer is not zstd"))?;
        serde_json::from_slice(&json).map_err(|_| SyncError::Protocol("pull answer"))
    }

    pub async fn upload_status(&self, sha: &str) -> Result<UploadStatus, SyncError> {
        let resp = self
            .auth(
                self.http
                    .get(self.url(&format!("/v1/attachments/{sha}/status"))),
            )
            .send()
            .await
            .map_err(net)?;
        Self::answer(resp).await
    }

    /// Send one chunk. A 409 carries HQ's status (where to resume), returned as Ok.
    pub async fn upload_chunk(
        &self,
        sha: &str,
        offset: i64,
        bytes: Vec<u8>,
    ) -> Result<UploadStatus, SyncError> {
        let resp = self
            .auth(self.http.put(self.url(&format!("/v1/attachments/{sha}"))))
            .query(&[("offset", offset)])
            .body(bytes)
            .send()
            .await
            .map_err(net)?;
        if resp.status() == reqwest::StatusCode::CONFLICT {
            return resp.json::<UploadStatus>().await.map_err(net);
        }
        Self::answer(resp).await
    }

    pub async fn download(&self, sha: &str, offset: i64, len: usize) -> Result<Vec<u8>, SyncError> {
        let resp = self
            .auth(self.http.get(self.url(&format!("/v1/attachments/{sha}"))))
            .query(&[("offset", offset as u64), ("len", len as u64)])
            .send()
            .await
            .map_err(net)?;
        if !resp.status().is_success() {
            return Self::answer::<()>(resp).await.map(|_| Vec::new());
        }
        Ok(resp.bytes().await.map_err(net)?.to_vec())
    }
}

impl HqClient {
    /// Bytes of a release's package from `offset` (at most `len`; empty at its end).
    pub async fn release_chunk(
        &self,
        sha: &str,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, SyncError> {
        let resp = self
            .auth(self.http.get(self.url(&format!("/v1/releases/{sha}"))))
            .query(&[("offset", offset), ("len", len as u64)])
            .send()
            .await
            .map_err(net)?;
        if !resp.status().is_success() {
            return Self::answer::<()>(resp).await.map(|_| Vec::new());
        }
        Ok(resp.bytes().await.map_err(net)?.to_vec())
    }

    /// Tell HQ this device refused a release's package or failed to install it.
    pub async fn report_release(&self, report: &proto::ReleaseReport) -> Result<(), SyncError> {
        let resp = self
            .auth(self.http.post(self.url("/v1/releases/report")))
            .json(report)
            .send()
            .await
            .map_err(net)?;
        if resp.status().is_success() {
            return Ok(());
        }
        Self::answer::<()>(resp).await
    }
}

/// A request body fed by a channel: each message is one frame of a push stream. The sender ends
/// the stream by dropping its end; if the request is dropped first, the sender's next send fails
/// and it stops.
struct FrameBody(tokio::sync::mpsc::Receiver<Vec<u8>>);

impl http_body::Body for FrameBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|f| f.map(|f| Ok(http_body::Frame::data(bytes::Bytes::from(f)))))
    }
}

/// Bind this store to HQ with a one-time code. Repeating it with the same code after a lost
/// answer is safe (HQ issues the credential again to the same device).
pub async fn enroll(
    store: &mut Store,
    hq_url: &str,
    code: &str,
    opts: &SyncOptions,
) -> Result<(), SyncError> {
    let client = HqClient::new(hq_url, None, opts)?;
    let s = store.session();
    let req = EnrollRequest {
        code: code.trim().to_owned(),
        device_id: s.device.to_string(),
        branch: s.branch.clone(),
    };
    let resp = client.enroll(&req).await?;
    if resp.device_id != req.device_id {
        return Err(SyncError::Protocol("enrolment answer for another device"));
    }
    store.save_enrolment(hq_url, &resp.token, &resp.branch)?;
    tracing::info!(device = %resp.device_id, "enrolled with headquarters");
    Ok(())
}

/// The first account of a laptop joining its branch (its first administrator on this laptop).
pub struct FirstAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
}

/// A new laptop joins its branch: it is enrolled with HQ's one-time code before it has a store,
/// HQ's answer names the branch, and the store is created in `dir` for that branch, under the
/// enrolled device ID, and bound to HQ. Nobody types the branch's name, so it cannot be typed
/// differently. The account is checked before the code is spent. The caller keeps `device` for a
/// retry with the same code (a lost answer, a store that could not be created): HQ then gives the
/// same credential again, until that credential is first used (then the code is spent). The
/// branch itself arrives on the first sync (a re-download, people and open cases first).
pub async fn join(
    dir: &std::path::Path,
    hq_url: &str,
    code: &str,
    device: sila_domain::ids::DeviceId,
    account: FirstAccount<'_>,
    init: sila_store::InitOptions,
    opts: &SyncOptions,
) -> Result<Store, SyncError> {
    Store::check_first_account(account.username, account.password)?;
    if Store::exists(dir) {
        return Err(SyncError::Store(StoreError::AlreadyInitialised));
    }
    let hq_url = hq_url.trim().trim_end_matches('/');
    let client = HqClient::new(hq_url, None, opts)?;
    let req = EnrollRequest {
        code: code.trim().to_owned(),
        device_id: device.to_string(),
        branch: String::new(),
    };
    let resp = client.enroll(&req).await?;
    if resp.device_id != req.device_id || resp.branch.trim().is_empty() {
        return Err(SyncError::Protocol("enrolment answer for another device"));
    }
    let mut store = Store::init(
        dir,
        &resp.branch,
        account.username,
        account.display_name,
        account.password,
        sila_store::InitOptions {
            device: Some(device),
            ..init
        },
    )?;
    store.save_enrolment(hq_url, &resp.token, &resp.branch)?;
    tracing::info!(device = %resp.device_id, "joined the branch at headquarters");
    Ok(store)
}

struct Failpoints {
    fp: Option<ClientFailpoint>,
    counts: std::collections::HashMap<&'static str, u32>,
}

impl Failpoints {
    fn hit(&mut self, point: &'static str) {
        let Some(fp) = &self.fp else { return };
        if fp.point != point {
            return;
        }
        let n = self.counts.entry(point).or_default();
        *n += 1;
        if *n == fp.nth {
            eprintln!("failpoint {point}:{n}: aborting");
            std::process::abort();
        }
    }
}

fn wire(op: sila_store::outbox::RawOp) -> Result<WireOp, SyncError> {
    // An acknowledged operation HQ lost in a restore, whose payload this device had let go once
    // HQ's backups held it: it keeps its number and ID and goes as lost, which HQ records and
    // raises as an alert.
    let (name, payload) = if op.payload.is_empty() {
        (proto::LOST_OP.to_owned(), "{}".to_owned())
    } else {
        (op.op, op.payload)
    };
    Ok(WireOp {
        seq: op.seq,
        op_id: op.op_id,
        op: name,
        entity: op.entity,
        entity_id: op.entity_id,
        base_version: op.base_version,
        payload: serde_json::value::RawValue::from_string(payload)
            .map_err(|_| SyncError::Store(StoreError::Corrupt))?,
        created_at: chrono::DateTime::parse_from_rfc3339(&op.created_at)
            .map_err(|_| SyncError::Store(StoreError::Corrupt))?
            .into(),
    })
}

/// One sync pass: push everything waiting, pull HQ's feed (a full re-download if HQ orders one),
/// push what applying the feed produced, then move files. The outcome is also recorded in the
/// store for the home screen.
pub async fn sync_once(store: &mut Store, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    let result = run(store, opts).await;
    let _ = store.record_sync_outcome(result.as_ref().err().map(|e| e.code()).as_deref());
    match &result {
        Ok(r) => tracing::info!(
            pushed = r.pushed,
            pulled = r.pulled,
            rejected = r.rejected,
            conflicts = r.conflicts,
            pending = r.pending,
            "sync done"
        ),
        Err(e) => tracing::warn!(code = %e.code(), "sync failed"),
    }
    result
}

async fn run(store: &mut Store, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    let enrolment = store.enrolment()?.ok_or(SyncError::NotEnrolled)?;
    let client = HqClient::new(&enrolment.hq_url, Some(enrolment.token.clone()), opts)?;
    let mut fp = Failpoints {
        fp: opts.failpoint.clone(),
        counts: Default::default(),
    };
    let mut report = SyncReport::default();
    // The last pass failed: HQ may hold more than it could tell us (a push cut after some of its
    // batches were committed). Ask, and resume after that, rather than send it all again.
    if store.sync_state()?.last_error_code.is_some() {
        catch_up(store, &client, &mut report).await?;
    }
    push_all(store, &client, opts, &mut report, &mut fp).await?;
    // A new device, one from before protocol 3, one whose store turned out to be behind HQ, or
    // one a re-download was cut short on: it takes the branch first (resuming where it stopped).
    if store.needs_redownload()? || store.redownload()?.is_some() {
        redownload(store, &client, opts, &mut report).await?;
    }
    let applied = pull_all(store, &client, opts, &mut report, &mut fp).await?;
    if applied > 0 || !store.outbox_batch(1)?.is_empty() {
        // Applying HQ's changes can itself make operations (rule tasks).
        push_all(store, &client, opts, &mut report, &mut fp).await?;
    }
    if opts.attachments {
        move_files(store, &client, opts, &mut report, &mut fp).await?;
    }
    report.pending = sila_store::outbox::pending_count(store.conn())?;
    Ok(report)
}

/// Record what HQ holds of ours, if it is ours (with the refusals and conflicts among it). If HQ
/// holds other operations under our numbers, the store is behind: its unsent operations are
/// carried over under new numbers.
async fn catch_up(
    store: &mut Store,
    client: &HqClient,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let Some(first) = store.outbox_batch(1)?.first().map(|op| op.seq) else {
        return Ok(());
    };
    let state = client.push_state(first - 1).await?;
    if state.acked_through < first {
        return Ok(());
    }
    let r = store.record_push_state(
        first - 1,
        state.acked_through,
        &state.digest,
        &acks(&state.results),
    )?;
    count(report, &r);
    if r.behind {
        carry_over(store, state.acked_through, report)?;
    }
    Ok(())
}

fn carry_over(store: &mut Store, hq_last: i64, report: &mut SyncReport) -> Result<(), SyncError> {
    let moved = store.carry_over(hq_last)?;
    tracing::warn!(
        moved,
        hq_last,
        "this store is behind headquarters: unsent changes carried over"
    );
    report.carried_over += moved;
    Ok(())
}

/// HQ holds this device's operations only up to `acked_through`: make what it lacks pending
/// again (an acknowledgement says nothing about operations after it).
fn resend_after(
    store: &mut Store,
    acked_through: i64,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let r = store.hq_standing(&HqStanding {
        acked_through,
        backed_up_through: 0,
        epoch: None,
        epoch_head: 0,
    })?;
    note_standing(report, &r);
    Ok(())
}

fn note_standing(report: &mut SyncReport, r: &StandingReport) {
    if r.resend > 0 {
        tracing::warn!(
            resend = r.resend,
            lost = r.lost,
            "headquarters lacks operations it had acknowledged (restored): sending them again"
        );
    }
    if r.lost > 0 {
        tracing::error!(
            lost = r.lost,
            "operations headquarters lost cannot be sent again from this device"
        );
    }
    if r.epoch_changed {
        tracing::warn!("headquarters is on another timeline (restored): reading its feed again");
    }
    report.sent_again += r.resend;
    report.lost += r.lost;
}

fn acks(results: &[proto::OpOutcome]) -> Vec<OpAck> {
    results
        .iter()
        .map(|r| OpAck {
            seq: r.seq,
            result: r.result.code().to_owned(),
            reason: r.reason.clone(),
        })
        .collect()
}

fn count(report: &mut SyncReport, r: &sila_store::sync::AckReport) {
    report.pushed += r.acked;
    report.rejected += r.rejected;
    report.conflicts += r.conflicts;
}

/// Push everything waiting, a stream at a time. The outbox is read page by page while the
/// stream goes; frames are made on a blocking thread while the earlier ones travel, so reading,
/// compressing, sending and HQ's commits overlap.
async fn push_all(
    store: &mut Store,
    client: &HqClient,
    opts: &SyncOptions,
    report: &mut SyncReport,
    fp: &mut Failpoints,
) -> Result<(), SyncError> {
    let device_id = store.session().device.to_string();
    // A stream should end well within the request timeout: it starts at `push_stream_bytes` and
    // grows to what the link carried in half the timeout, once a stream has shown it.
    let mut stream_bytes = opts.push_stream_bytes.max(1);
    let mut carried = 0;
    let mut gaps = 0;
    loop {
        let Some(first) = store.outbox_batch(1)?.first().map(|op| op.seq) else {
            return Ok(());
        };
        let (pages_tx, pages) = tokio::sync::mpsc::channel::<Vec<WireOp>>(2);
        let (frames_tx, frames) = tokio::sync::mpsc::channel(4);
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let carried_ops = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(i64, String)>::new()));
        let limits = (opts.push_batch.max(1), opts.push_bytes, stream_bytes);
        let (device, counter, taken) = (device_id.clone(), sent.clone(), carried_ops.clone());
        let producer = tokio::task::spawn_blocking(move || {
            make_frames(pages, &device, limits, frames_tx, &counter, &taken)
        });
        let conn = store.conn();
        let feeder = async move {
            let mut after = first - 1;
            loop {
                let page = sila_store::outbox::pending_raw(conn, after, 500)?;
                let Some(last) = page.last().map(|op| op.seq) else {
                    return Ok::<(), SyncError>(());
                };
                after = last;
                let page = page.into_iter().map(wire).collect::<Result<Vec<_>, _>>()?;
                // The producer stops taking pages when its stream is full or the request ended.
                if pages_tx.send(page).await.is_err() {
                    return Ok(());
                }
            }
        };
        let began = std::time::Instant::now();
        let (resp, fed) = tokio::join!(client.push_stream(frames), feeder);
        let took = began.elapsed();
        // The request is over, so the producer's next send fails if it was still going.
        let made = producer.await;
        let bytes = sent.load(std::sync::atomic::Ordering::Relaxed);
        report.bytes_sent += bytes;
        let resp = resp?;
        fed?;
        if !matches!(made, Ok(Ok(()))) {
            return Err(SyncError::Protocol("encode"));
        }
        fp.hit("after_push_answer");
        // Only what this stream carried is acknowledged, and only what HQ confirmed of it.
        let carried_now =
            std::mem::take(&mut *carried_ops.lock().unwrap_or_else(|e| e.into_inner()));
        report.resent += resp.results.iter().filter(|r| r.repeat).count();
        let r = store.record_push(&carried_now, resp.acked_through, &acks(&resp.results))?;
        count(report, &r);
        fp.hit("after_ack_commit");
        if resp
            .results
            .iter()
            .any(|o| o.reason.as_deref() == Some(proto::SEQ_GAP))
        {
            // HQ holds less of this device than it had acknowledged (restored from an older
            // copy): what it lacks becomes pending again and goes in the next stream.
            gaps += 1;
            if gaps > 3 {
                return Err(SyncError::Protocol("headquarters keeps missing operations"));
            }
            resend_after(store, resp.acked_through, report)?;
            continue;
        }
        if resp
            .results
            .iter()
            .any(|o| o.reason.as_deref() == Some(proto::HELD))
        {
            // HQ waits for another laptop of the branch to send again what this refers to:
            // the rest stays pending until the next pass.
            tracing::info!("headquarters holds operations back until the branch has caught up");
            return Ok(());
        }
        if r.behind {
            carried += 1;
            if carried > 3 {
                return Err(SyncError::Protocol("sequence numbers keep colliding"));
            }
            carry_over(store, resp.acked_through, report)?;
            continue;
        }
        if r.acked == 0 {
            // HQ confirmed none of it: stop rather than send the same operations forever.
            return Err(SyncError::Protocol("push not acknowledged"));
        }
        let rate = bytes as f64 / took.as_secs_f64().max(0.001);
        let fits = (rate * opts.request_timeout.as_secs_f64() / 2.0) as usize;
        stream_bytes = stream_bytes.max(fits.min(proto::MAX_STREAM));
    }
}

/// Cut operations into batches (at most `batch` operations and about `batch_bytes` of JSON
/// each), one frame per batch, until the stream holds `stream_bytes` compressed bytes.
/// `carried` collects the (sequence, operation ID) of every operation a frame that went out
/// carried: what HQ's answer may acknowledge.
fn make_frames(
    mut pages: tokio::sync::mpsc::Receiver<Vec<WireOp>>,
    device_id: &str,
    (batch, batch_bytes, stream_bytes): (usize, usize, usize),
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    sent: &std::sync::atomic::AtomicU64,
    carried: &std::sync::Mutex<Vec<(i64, String)>>,
) -> std::io::Result<()> {
    let mut enc = proto::PushEncoder::new(proto::PUSH_LEVEL)?;
    let mut frame: Vec<Vec<u8>> = Vec::new();
    let mut ids: Vec<(i64, String)> = Vec::new();
    let mut json = 0usize;
    let mut total = 0usize;
    // Sends one frame; false when the stream is full or the request has ended (a cut link, an
    // early answer), so nothing more is made.
    let mut send =
        |frame: &mut Vec<Vec<u8>>, ids: &mut Vec<(i64, String)>| -> std::io::Result<bool> {
            let f = enc.frame_ops(device_id, frame)?;
            frame.clear();
            total += f.len();
            sent.fetch_add(f.len() as u64, std::sync::atomic::Ordering::Relaxed);
            let went = tx.blocking_send(f).is_ok();
            if went {
                carried
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .append(ids);
            }
            ids.clear();
            Ok(went && total < stream_bytes)
        };
    while let Some(page) = pages.blocking_recv() {
        for op in page {
            let bytes = serde_json::to_vec(&op)?;
            if !frame.is_empty() && (frame.len() >= batch || json + bytes.len() > batch_bytes) {
                json = 0;
                if !send(&mut frame, &mut ids)? {
                    return Ok(());
                }
            }
            json += bytes.len();
            frame.push(bytes);
            ids.push((op.seq, op.op_id));
        }
    }
    if !frame.is_empty() {
        send(&mut frame, &mut ids)?;
    }
    Ok(())
}

/// Pull the branch's feed until HQ has no more; returns how many records changed here.
async fn pull_all(
    store: &mut Store,
    client: &HqClient,
    opts: &SyncOptions,
    report: &mut SyncReport,
    fp: &mut Failpoints,
) -> Result<usize, SyncError> {
    let mut after = store.pull_cursor()?;
    // The digest is only meaningful once HQ has everything of ours; it costs HQ a scan of the
    // branch, so it is asked for now and then, not at every pass.
    let mut digest = if sila_store::outbox::pending_count(store.conn())? == 0 && opts.check_holding
    {
        Some(store.holding_digest()?)
    } else {
        None
    };
    // The same holding HQ ordered a re-download for last time would only order the same again.
    if digest.is_some() && digest == store.holding_after_reset()? {
        digest = None;
    }
    let sent_digest = digest.clone();
    let own = store.own_seq()?;
    let mut applied = 0;
    let mut pages = 0usize;
    let mut last_standing = None;
    loop {
        let resp = client
            .pull(after, opts.pull_page.max(1), own, digest.take().as_deref())
            .await?;
        fp.hit("after_pull_answer");
        if let Some(s) = resp.standing.as_ref()
            && last_standing.as_ref() != Some(s)
        {
            let r = store.hq_standing(&HqStanding {
                acked_through: s.acked_through,
                backed_up_through: s.backed_up_through,
                epoch: Some(s.epoch.clone()),
                epoch_head: s.epoch_head,
            })?;
            note_standing(report, &r);
            last_standing = Some(s.clone());
            if r.epoch_changed {
                // The page was read from a cursor of the other timeline: read again from where
                // this one began.
                after = store.pull_cursor()?;
                continue;
            }
        }
        if resp.reset {
            if report.redownloaded {
                return Err(SyncError::Protocol("repeated re-download order"));
            }
            // This store is behind what HQ holds of it, or holds something else: take the branch
            // again (whatever is still unsent stays, and goes after it).
            tracing::warn!("headquarters ordered a re-download of the branch");
            store.forget_sync_protocol()?;
            applied += redownload(store, client, opts, report).await?;
            if sent_digest.is_some() {
                let now = store.holding_digest()?;
                if Some(&now) == sent_digest.as_ref() {
                    // Taking the branch again changed nothing this store holds: HQ lacks
                    // records only this side has (a device that has not sent them again yet,
                    // or never will). Not asked again for this holding.
                    tracing::warn!(
                        "the branch differs from headquarters' copy after a re-download"
                    );
                }
                store.set_holding_after_reset(&now)?;
            }
            after = store.pull_cursor()?;
            continue;
        }
        if resp.next < after || (resp.more && resp.next == after) {
            return Err(SyncError::Protocol("pull cursor went backwards"));
        }
        if resp.release.is_some() {
            report.release = resp.release;
        }
        let changes = changes(resp.changes);
        applied += store.apply_hq_changes(&changes, resp.next)?;
        fp.hit("after_pull_commit");
        report.pulled += changes.len();
        after = resp.next;
        pages += 1;
        if !resp.more || pages > 1_000_000 {
            return Ok(applied);
        }
    }
}

fn changes(wire: Vec<proto::Change>) -> Vec<HqChange> {
    wire.into_iter()
        .map(|c| HqChange {
            seq: c.seq,
            kind: c.kind,
            entity_id: c.entity_id,
            payload: c.payload.get().to_owned(),
        })
        .collect()
}

/// Take the whole branch, phase by phase (people and open cases first), resuming a re-download
/// that was cut short where it stopped. Each page is applied with the progress in one
/// transaction. Afterwards the feed is read from where the re-download began.
async fn redownload(
    store: &mut Store,
    client: &HqClient,
    opts: &SyncOptions,
    report: &mut SyncReport,
) -> Result<usize, SyncError> {
    let mut state = match store.redownload()? {
        Some(r) => r,
        None => {
            let plan = client.snapshot_plan().await?;
            let totals = plan
                .phases
                .into_iter()
                .map(|p| (p.phase, p.records))
                .collect();
            store.start_redownload(plan.feed_head, totals)?
        }
    };
    let order: Vec<String> = state.totals.iter().map(|(p, _)| p.clone()).collect();
    let mut applied = 0;
    while !state.phase.is_empty() {
        let resp = client
            .snapshot(&state.phase, state.after, opts.pull_page.max(1))
            .await?;
        if resp.more && resp.next <= state.after {
            return Err(SyncError::Protocol("re-download went backwards"));
        }
        let next_phase = order
            .iter()
            .skip_while(|p| **p != state.phase)
            .nth(1)
            .map(String::as_str);
        let page = changes(resp.changes);
        report.pulled += page.len();
        applied += page.len();
        state = store.apply_redownload_page(&page, resp.next, resp.more, next_phase)?;
        if let Some(progress) = &opts.progress {
            progress(&state);
        }
    }
    report.redownloaded = true;
    Ok(applied)
}

/// Upload attachments HQ lacks and download knowledge-base files, chunk by chunk. A file that
/// fails is set aside with its error; the others go on. A network failure stops the files for
/// this pass (the records are already through).
async fn move_files(
    store: &mut Store,
    client: &HqClient,
    opts: &SyncOptions,
    report: &mut SyncReport,
    fp: &mut Failpoints,
) -> Result<(), SyncError> {
    for (sha, size) in store.attachments_to_upload()? {
        match upload_one(store, client, opts, &sha, size, fp).await {
            Ok(()) => {
                store.mark_attachment_uploaded(&sha)?;
                report.files_sent += 1;
            }
            Err(e) if e.is_transient() => {
                report.files_failed += 1;
                tracing::warn!(code = %e.code(), "attachment upload interrupted");
                return Ok(());
            }
            Err(e) => {
                store.mark_attachment_failed(&sha, &e.code())?;
                report.files_failed += 1;
            }
        }
    }
    for (sha, held) in store.downloads_wanted()? {
        // HQ says how large the file is, and whether the branch delivered it yet (a file made on
        // another laptop that has not synced its files waits for the next pass).
        let size = match client.upload_status(&sha).await {
            Ok(s) if s.complete => s.size,
            Ok(_) => continue,
            Err(e) if e.is_transient() => return Ok(()),
            Err(e) => {
                store.mark_download_failed(&sha, &e.code())?;
                continue;
            }
        };
        let mut offset = held;
        while offset < size {
            let bytes = match client.download(&sha, offset, opts.chunk).await {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => break,
                Err(e) if e.is_transient() => return Ok(()),
                Err(_) => break,
            };
            let n = bytes.len() as i64;
            if store.save_download_chunk(&sha, size, offset, &bytes)? {
                report.files_received += 1;
            }
            offset += n;
        }
    }
    Ok(())
}

async fn upload_one(
    store: &mut Store,
    client: &HqClient,
    opts: &SyncOptions,
    sha: &str,
    size: i64,
    fp: &mut Failpoints,
) -> Result<(), SyncError> {
    let mut status = client.upload_status(sha).await?;
    let mut rounds = 0;
    while !status.complete {
        rounds += 1;
        if rounds > 4 + 2 * (size as usize / opts.chunk.max(1)) {
            return Err(SyncError::Protocol("upload does not progress"));
        }
        let chunk = store.attachment_chunk(sha, status.received, opts.chunk.max(1))?;
        if chunk.is_empty() {
            return Err(SyncError::Protocol("attachment shorter than declared"));
        }
        status = client.upload_chunk(sha, status.received, chunk).await?;
        fp.hit("after_chunk");
    }
    Ok(())
}
