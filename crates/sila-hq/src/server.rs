//! The HTTP layer: axum routes over an [`HqStore`]. Thin on purpose: authenticate, unpack, call
//! the store on a blocking thread, map the error to `{code, message}` with a status.
//!
//! Logs are structured (`tracing`) and carry device IDs, sequence numbers and counts, never a
//! payload, a name, a national ID, a phone number or a credential.

use crate::store::{Device, HqError, HqStore};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sila_proto::{self as proto, EnrollRequest, ErrorBody, PushRequest, PushResponse, PushState};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A fault the server injects on purpose, for tests that kill it at the worst moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Abort the process after the Nth push committed and before its answer is sent.
    AbortAfterPushCommit(i64),
}

impl Failpoint {
    /// Read `SILA_HQ_FAILPOINT` ("push_after_commit:N").
    pub fn from_env() -> Option<Failpoint> {
        let v = std::env::var("SILA_HQ_FAILPOINT").ok()?;
        let n = v.strip_prefix("push_after_commit:")?.parse().ok()?;
        Some(Failpoint::AbortAfterPushCommit(n))
    }
}

#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn HqStore>,
    failpoint: Option<Failpoint>,
    pushes: Arc<AtomicI64>,
    /// Becomes true when the server is asked to stop: a push stream then commits the batches it
    /// has in hand, answers, and reads no further.
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// Largest body of the other requests (attachment chunks, enrolment).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Most operations HQ commits in one transaction when several batches of a stream have arrived
/// together (on a fast link); each batch alone is always one transaction.
const MAX_GROUP_OPS: usize = 5_000;

/// Feed answers larger than this are compressed for a client that accepts zstd.
const COMPRESS_ANSWER_OVER: usize = 1024;

pub fn router(store: Arc<dyn HqStore>, failpoint: Option<Failpoint>) -> Router {
    router_stopping(store, failpoint, tokio::sync::watch::channel(false).1)
}

fn router_stopping(
    store: Arc<dyn HqStore>,
    failpoint: Option<Failpoint>,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> Router {
    let console = crate::console::router(store.clone());
    let state = AppState {
        store,
        failpoint,
        pushes: Arc::new(AtomicI64::new(0)),
        stopping,
    };
    let v1 = Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/push", post(push).get(push_state))
        .route("/v1/pull", get(pull))
        .route("/v1/snapshot", get(snapshot))
        .route("/v1/snapshot/plan", get(snapshot_plan))
        .route("/v1/lookup", get(lookup))
        .route("/v1/attachments/{sha}/status", get(upload_status))
        .route("/v1/attachments/{sha}", get(download).put(upload_chunk))
        .route("/v1/releases/report", post(release_report))
        .route("/v1/releases/{sha}", get(release_download))
        .layer(axum::middleware::from_fn(protocol_version))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(v1)
        .with_state(state)
        .merge(console)
}

/// How long the server waits on a client. A branch on 2G is slow but keeps sending; a
/// connection that sends nothing, or stalls half-way, holds a socket and memory for nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A request's head (request line and headers) must arrive within this, counted from the
    /// moment the server waits for it: a new connection, or a kept-alive one between requests.
    /// Longer than the sync client keeps an idle connection (30 s), so the server never closes
    /// one the client is about to reuse.
    pub header_read: Duration,
    /// The longest pause between two pieces of a request body. A push stream lasts as long as
    /// the link needs to carry it, so it has no total limit, only this one.
    pub body_idle: Duration,
    /// A whole request other than a push stream, from its head to its answer.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(40),
            body_idle: Duration::from_secs(60),
            request: Duration::from_secs(120),
        }
    }
}

/// Serve until `shutdown` resolves, with the default [`Timeouts`]. Then no new connection is
/// taken, requests in hand finish, and a push stream commits the batches it has received in
/// full, answers with them and stops reading (the client sends the rest to the next server).
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn HqStore>,
    failpoint: Option<Failpoint>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, store, failpoint, shutdown, Timeouts::default()).await
}

/// [`serve`] with these timeouts. HTTP/1.1 only: HQ sits behind a TLS proxy, and the branch
/// client speaks HTTP/1.1.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    store: Arc<dyn HqStore>,
    failpoint: Option<Failpoint>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    timeouts: Timeouts,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = router_stopping(store, failpoint, stopping).layer(
        axum::middleware::from_fn_with_state(timeouts.request, request_timeout),
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // With the peer's address in each request: the console's sign-in limits attempts per address.
        let app = app.clone();
        let idle = timeouts.body_idle;
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                app.clone()
                    .oneshot(req.map(|b| Body::new(IdleBody::new(b, idle))))
            });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(timeouts.header_read);
        let conn = graceful.watch(http.serve_connection(TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    graceful.shutdown().await;
    Ok(())
}

/// A request body that fails once no data has come for [`Timeouts::body_idle`] while the
/// server was waiting for some. The body is asked first and the clock only after, so a handler
/// that was busy (committing a batch) never finds a body timed out that has data waiting.
struct IdleBody {
    inner: hyper::body::Incoming,
    idle: Duration,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl IdleBody {
    fn new(inner: hyper::body::Incoming, idle: Duration) -> IdleBody {
        IdleBody {
            inner,
            idle,
            stalled: None,
        }
    }
}

impl HttpBody for IdleBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stalled = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let stalled = this
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err("request body stalled".into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Every request but a push stream has [`Timeouts::request`] to be answered.
async fn request_timeout(
    State(limit): State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if req.method() == axum::http::Method::POST && req.uri().path() == "/v1/push" {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            Json(ErrorBody {
                code: "timeout".into(),
                message: "the request took too long".into(),
            }),
        )
            .into_response(),
    }
}

pub struct ApiError(HqError);

impl From<HqError> for ApiError {
    fn from(e: HqError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = match &e {
            HqError::Unauthorized | HqError::CodeInvalid => StatusCode::UNAUTHORIZED,
            HqError::Revoked | HqError::Forbidden(_) | HqError::BranchMismatch => {
                StatusCode::FORBIDDEN
            }
            HqError::CodeExpired => StatusCode::GONE,
            HqError::CodeUsed | HqError::UploadOffset(_) => StatusCode::CONFLICT,
            HqError::TooMany => StatusCode::TOO_MANY_REQUESTS,
            HqError::UpdateRequired => StatusCode::UPGRADE_REQUIRED,
            HqError::BadRequest(_) | HqError::Refused(_) => StatusCode::BAD_REQUEST,
            HqError::NotFound(_) => StatusCode::NOT_FOUND,
            HqError::HashMismatch | HqError::Lifecycle(_) | HqError::Release(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            HqError::ReleaseExists => StatusCode::CONFLICT,
            HqError::NoUpdateKey => StatusCode::SERVICE_UNAVAILABLE,
            HqError::Storage(_) | HqError::Json(_) | HqError::Io(_) => {
                tracing::error!(code = e.code().as_str(), error = %e, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if let HqError::UploadOffset(s) = &e {
            return (status, Json(s.clone())).into_response();
        }
        let message = match &e {
            // Internal details stay in the log.
            e if e.is_internal() => "server error".to_owned(),
            other => other.to_string(),
        };
        (
            status,
            Json(ErrorBody {
                code: e.code().as_str().to_owned(),
                message,
            }),
        )
            .into_response()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HqError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError(HqError::Io(std::io::Error::other("worker failed"))))?
        .map_err(ApiError)
}

async fn device(state: &AppState, headers: &HeaderMap) -> Result<Device, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError(HqError::Unauthorized))?
        .to_owned();
    let store = state.store.clone();
    let d = blocking(move || store.authenticate(&token, chrono::Utc::now())).await;
    if let Err(ApiError(HqError::Revoked)) = &d {
        tracing::warn!("refused a revoked device");
    }
    d
}

/// Every device call names the protocol it speaks; a device on an older one is told to update
/// (426 `update_required`) instead of being misunderstood.
async fn protocol_version(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let speaks = req
        .headers()
        .get(proto::PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    if speaks != Some(proto::PROTOCOL) {
        return ApiError(HqError::UpdateRequired).into_response();
    }
    next.run(req).await
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"ok": true, "protocol": proto::PROTOCOL}))
}

async fn enroll(
    State(state): State<AppState>,
    Json(req): Json<EnrollRequest>,
) -> Result<Json<proto::EnrollResponse>, ApiError> {
    // Nothing the client sent is logged: only what parsed as a device ID (a UUID), in its own
    // canonical form, so no line of the log can be written by a client.
    let device: Option<sila_domain::ids::DeviceId> = req.device_id.trim().parse().ok();
    let store = state.store.clone();
    let r = blocking(move || store.enroll(&req, chrono::Utc::now())).await;
    match &r {
        Ok(ok) => {
            tracing::info!(device = %ok.device_id, branch_len = ok.branch.len(), "device enrolled")
        }
        Err(ApiError(e)) => match device {
            Some(d) => tracing::warn!(device = %d, code = e.code().as_str(), "enrolment refused"),
            None => tracing::warn!(code = e.code().as_str(), "enrolment refused: no device ID"),
        },
    }
    Ok(Json(r?))
}

/// Push frames decoded at once, across all pushes: each holds up to a frame's worth of
/// decompressed JSON and its parse, so this bounds what decoding can take however many devices
/// push together.
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Take every complete frame out of the decoder, off the async runtime (decompressing and parsing
/// a frame is CPU work that must not stall other requests), at most `MAX_GROUP_OPS` operations.
async fn decode_frames(
    mut frames: proto::PushDecoder,
    fresh: Vec<Bytes>,
) -> Result<(proto::PushDecoder, Vec<PushRequest>, Option<HqError>), ApiError> {
    let _permit = DECODES
        .acquire()
        .await
        .map_err(|_| ApiError(HqError::Io(std::io::Error::other("decoder closed"))))?;
    tokio::task::spawn_blocking(move || {
        for b in &fresh {
            frames.feed(b);
        }
        let mut got: Vec<PushRequest> = Vec::new();
        let mut ops = 0;
        let mut bad = None;
        while ops < MAX_GROUP_OPS {
            match frames.next_request() {
                Ok(Some(req)) => {
                    if req.protocol != proto::PROTOCOL {
                        bad = Some(HqError::UpdateRequired);
                        break;
                    }
                    if req.ops.len() > proto::MAX_FRAME_OPS {
                        bad = Some(HqError::BadRequest("push frame"));
                        break;
                    }
                    ops += req.ops.len();
                    got.push(req);
                }
                Ok(None) => break,
                Err(_) => {
                    bad = Some(HqError::BadRequest("push frame"));
                    break;
                }
            }
        }
        (frames, got, bad)
    })
    .await
    .map(Ok)
    .map_err(|_| ApiError(HqError::Io(std::io::Error::other("worker failed"))))?
}

/// A push stream: every batch is committed as soon as its last byte is in (batches that arrived
/// together are committed together), so a cut link loses at most the batch it cut; the answer,
/// at the end, says what was committed.
async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<Json<PushResponse>, ApiError> {
    let device = device(&state, &headers).await?;
    let stream = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == proto::PUSH_STREAM);
    if !stream {
        return Err(ApiError(HqError::BadRequest("push body")));
    }
    let mut frames = Some(
        proto::PushDecoder::new().map_err(|e| ApiError(HqError::Io(std::io::Error::other(e))))?,
    );
    let mut stopping = state.stopping.clone();
    let mut stop = *stopping.borrow();
    // How the body ended: Some(true) at its end, Some(false) cut.
    let mut ended: Option<bool> = None;
    let mut answer: Option<PushResponse> = None;
    let (mut ops, mut batches, mut bytes, mut first, mut last) = (0usize, 0usize, 0usize, 0, 0);
    let mut fresh: Vec<Bytes> = Vec::new();
    let mut buffered = 0usize;
    loop {
        // Take in what has already arrived, so batches that came together commit together.
        while ended.is_none() && buffered < proto::MAX_FRAME {
            match std::future::poll_fn(|cx| std::task::Poll::Ready(next_data(&mut body, cx))).await
            {
                std::task::Poll::Ready(f) => {
                    take(f, &mut fresh, &mut buffered, &mut bytes, &mut ended)
                }
                std::task::Poll::Pending => break,
            }
        }
        // Every batch that has arrived in full, as one transaction.
        let (dec, reqs, bad) =
            decode_frames(frames.take().expect("decoder"), std::mem::take(&mut fresh)).await?;
        buffered = dec.buffered();
        frames = Some(dec);
        let mut group: Option<PushRequest> = None;
        let mut bad = bad;
        for req in reqs {
            if req.device_id != device.device_id {
                bad = Some(HqError::Forbidden("device_id"));
                break;
            }
            batches += 1;
            match &mut group {
                Some(g) => g.ops.extend(req.ops),
                None => group = Some(req),
            }
        }
        if let Some(g) = group {
            ops += g.ops.len();
            if first == 0 {
                first = g.ops.first().map_or(0, |o| o.seq);
            }
            last = g.ops.last().map_or(last, |o| o.seq);
            let (store, d) = (state.store.clone(), device.clone());
            let r = blocking(move || store.push(&d, &g, chrono::Utc::now())).await?;
            match &mut answer {
                Some(a) => {
                    a.acked_through = a.acked_through.max(r.acked_through);
                    a.results.extend(r.results);
                }
                None => answer = Some(r),
            }
            if bad.is_none() {
                continue;
            }
        }
        if let Some(e) = bad {
            // What came before the bad batch is committed; the device learns it by asking.
            tracing::warn!(device = %device.device_id, code = e.code().as_str(), batches, "push stream refused");
            return Err(ApiError(e));
        }
        match ended {
            Some(true) => break,
            Some(false) => {
                // The link was cut: what arrived in full is committed; nobody is left to
                // answer, the device will ask where HQ stands.
                tracing::warn!(device = %device.device_id, ops, batches, first, last, bytes,
                    partial = buffered, "push stream cut");
                return Err(ApiError(HqError::BadRequest("push stream cut")));
            }
            None if stop => break,
            None => {}
        }
        tokio::select! {
            f = std::future::poll_fn(|cx| next_data(&mut body, cx)) => {
                take(f, &mut fresh, &mut buffered, &mut bytes, &mut ended);
            }
            _ = stopping.wait_for(|s| *s), if !stop => {
                stop = true;
                tracing::info!(device = %device.device_id, batches, "shutting down: answering the push in hand");
            }
        }
    }
    if ended == Some(true) && buffered > 0 {
        tracing::warn!(device = %device.device_id, batches, "push stream ended inside a batch");
        return Err(ApiError(HqError::BadRequest(
            "push stream ended inside a batch",
        )));
    }
    let resp = match answer {
        Some(a) => a,
        // An empty stream: what HQ holds.
        None => {
            let (store, d) = (state.store.clone(), device.clone());
            let s = blocking(move || store.push_state(&d, i64::MAX)).await?;
            PushResponse {
                acked_through: s.acked_through,
                results: vec![],
            }
        }
    };
    let rejected = resp
        .results
        .iter()
        .filter(|r| r.result == proto::OpResult::Rejected)
        .count();
    let repeats = resp.results.iter().filter(|r| r.repeat).count();
    tracing::info!(device = %device.device_id, ops, batches, first, last, acked_through = resp.acked_through,
        rejected, repeats, bytes, stopped = ended.is_none(), "push applied");
    let count = state.pushes.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(Failpoint::AbortAfterPushCommit(k)) = state.failpoint
        && count == k
    {
        tracing::error!("failpoint: aborting after a committed push, before answering");
        std::process::abort();
    }
    Ok(Json(resp))
}

type Piece = Option<Result<Option<Bytes>, axum::Error>>;

/// The next piece of a request body: data (None for a trailer), an error, or its end.
fn next_data(body: &mut Body, cx: &mut std::task::Context<'_>) -> std::task::Poll<Piece> {
    std::pin::Pin::new(body)
        .poll_frame(cx)
        .map(|f| f.map(|r| r.map(|frame| frame.into_data().ok())))
}

/// One piece of a push body: its bytes wait for the decoder; its end or an error ends the stream.
fn take(
    f: Piece,
    fresh: &mut Vec<Bytes>,
    buffered: &mut usize,
    bytes: &mut usize,
    ended: &mut Option<bool>,
) {
    match f {
        Some(Ok(data)) => {
            if let Some(data) = data {
                *bytes += data.len();
                *buffered += data.len();
                fresh.push(data);
            }
        }
        Some(Err(_)) => *ended = Some(false),
        None => *ended = Some(true),
    }
}

#[derive(Deserialize)]
struct PushStateQuery {
    #[serde(default)]
    after: i64,
}

async fn push_state(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PushStateQuery>,
) -> Result<Json<PushState>, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let resp = blocking(move || store.push_state(&d, q.after)).await?;
    tracing::info!(device = %device.device_id, after = q.after, acked_through = resp.acked_through,
        listed = resp.results.len(), "push state served");
    Ok(Json(resp))
}

/// A feed page as JSON, compressed when the client accepts zstd and it is worth it.
fn feed_answer(headers: &HeaderMap, page: &proto::PullResponse) -> Result<Response, ApiError> {
    let json = serde_json::to_vec(page).map_err(|e| ApiError(HqError::Json(e)))?;
    let zstd = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim() == "zstd"));
    if zstd && json.len() > COMPRESS_ANSWER_OVER {
        let body = proto::compress(&json).map_err(|e| ApiError(HqError::Io(e)))?;
        return Ok((
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "zstd"),
            ],
            body,
        )
            .into_response());
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}

#[derive(Deserialize)]
struct PullQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
    /// The highest sequence the device holds of its own operations.
    own: i64,
    #[serde(default)]
    digest: Option<String>,
}

async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Result<Response, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let limit = q.limit.unwrap_or(proto::DEFAULT_PULL_PAGE);
    // The app version the device runs (for the console) and a newer release if HQ holds one.
    let version = headers
        .get(proto::APP_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| proto::release::parse_version(v).is_ok())
        .map(str::to_owned);
    let resp = blocking(move || {
        let mut page = store.pull(&d, q.after, limit, q.own, q.digest.as_deref())?;
        page.release = store.release_for(&d, version.as_deref())?;
        Ok(page)
    })
    .await?;
    tracing::info!(device = %device.device_id, after = q.after, changes = resp.changes.len(),
        next = resp.next, more = resp.more, reset = resp.reset,
        release = resp.release.as_ref().map(|r| r.version.as_str()), "pull served");
    feed_answer(&headers, &resp)
}

#[derive(Deserialize)]
struct SnapshotQuery {
    phase: String,
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(proto::DEFAULT_PULL_PAGE);
    let d = device.clone();
    let resp = blocking(move || store.snapshot(&d, &q.phase, q.after, limit)).await?;
    tracing::info!(device = %device.device_id, records = resp.changes.len(), "snapshot served");
    feed_answer(&headers, &resp)
}

async fn snapshot_plan(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<proto::SnapshotPlan>, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let plan = blocking(move || store.snapshot_plan(&d)).await?;
    tracing::info!(device = %device.device_id, feed_head = plan.feed_head, "re-download planned");
    Ok(Json(plan))
}

#[derive(Deserialize)]
struct LookupQuery {
    national_id: String,
}

/// Is a national ID registered at another branch? (Logged without the ID.)
async fn lookup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LookupQuery>,
) -> Result<Json<proto::LookupResponse>, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let r = blocking(move || store.lookup(&d, &q.national_id, chrono::Utc::now())).await?;
    tracing::info!(device = %device.device_id, branches = r.registered.len(), "lookup answered");
    Ok(Json(r))
}

fn check_sha(sha: &str) -> Result<(), ApiError> {
    if sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ApiError(HqError::BadRequest("sha256")))
    }
}

async fn upload_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
) -> Result<Json<proto::UploadStatus>, ApiError> {
    check_sha(&sha)?;
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    Ok(Json(
        blocking(move || store.upload_status(&device, &sha)).await?,
    ))
}

#[derive(Deserialize)]
struct OffsetQuery {
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    len: Option<usize>,
}

impl OffsetQuery {
    /// An offset inside the largest file HQ keeps, or a bad request: arithmetic on it never
    /// overflows, and a negative one never reads from the end.
    fn offset(&self) -> Result<i64, ApiError> {
        if (0..=crate::rules::ops::MAX_ATTACHMENT).contains(&self.offset) {
            Ok(self.offset)
        } else {
            Err(ApiError(HqError::BadRequest("offset")))
        }
    }
}

async fn upload_chunk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    Query(q): Query<OffsetQuery>,
    body: Bytes,
) -> Result<Json<proto::UploadStatus>, ApiError> {
    check_sha(&sha)?;
    let offset = q.offset()?;
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let r = blocking(move || store.upload_chunk(&d, &sha, offset, &body)).await;
    match &r {
        Ok(s) if s.complete => {
            tracing::info!(device = %device.device_id, size = s.size, "attachment complete")
        }
        Err(ApiError(HqError::HashMismatch)) => {
            tracing::warn!(device = %device.device_id, "attachment failed its SHA-256 check")
        }
        _ => {}
    }
    Ok(Json(r?))
}

async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    Query(q): Query<OffsetQuery>,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    let offset = q.offset()?;
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let len = q.len.unwrap_or(proto::DEFAULT_CHUNK);
    let bytes = blocking(move || store.download(&device, &sha, offset, len)).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// A chunk of a published release's package, from `offset`: devices resume a cut download here.
async fn release_download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    Query(q): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    check_sha(&sha)?;
    if q.offset < 0 {
        return Err(ApiError(HqError::BadRequest("offset")));
    }
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let len = q.len.unwrap_or(proto::DEFAULT_CHUNK);
    let bytes = blocking(move || store.release_chunk(&device, &sha, q.offset, len)).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[derive(Deserialize)]
struct ReleaseQuery {
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    len: Option<usize>,
}

/// A device refused a release's package or failed to install it.
async fn release_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(report): Json<proto::ReleaseReport>,
) -> Result<StatusCode, ApiError> {
    let device = device(&state, &headers).await?;
    // A code and a version, from a fixed alphabet: nothing a device could write into the log.
    let plain = |s: &str, max: usize| {
        s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if !plain(&report.version, 32) || !plain(&report.outcome, 64) || !plain(&report.sha256, 64) {
        return Err(ApiError(HqError::BadRequest("release report")));
    }
    tracing::warn!(device = %device.device_id, version = %report.version,
        outcome = %report.outcome, "device reported a release problem");
    let store = state.store.clone();
    blocking(move || store.report_release(&device, &report, chrono::Utc::now())).await?;
    Ok(StatusCode::NO_CONTENT)
}
