//! The HTTP layer: axum routes over an [`HqStore`]. Thin on purpose: authenticate, unpack, call
//! the store on a blocking thread, map the error to `{code, message}` with a status.
//!
//! Logs are structured (`tracing`) and carry device IDs, sequence numbers and counts, never a
//! payload, a name, a national ID, a phone number or a credential.

use crate::store::{Device, HqError, HqStore};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sila_sync::proto::{self, EnrollRequest, ErrorBody, PushRequest};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

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
}

/// Largest compressed push body and its largest expansion.
const MAX_PUSH_BODY: usize = 16 * 1024 * 1024;
const MAX_PUSH_JSON: usize = 128 * 1024 * 1024;

pub fn router(store: Arc<dyn HqStore>, failpoint: Option<Failpoint>) -> Router {
    let console = crate::console::router(store.clone());
    let state = AppState {
        store,
        failpoint,
        pushes: Arc::new(AtomicI64::new(0)),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/v1/enroll", post(enroll))
        .route("/v1/push", post(push))
        .route("/v1/pull", get(pull))
        .route("/v1/snapshot", get(snapshot))
        .route("/v1/attachments/{sha}/status", get(upload_status))
        .route("/v1/attachments/{sha}", get(download).put(upload_chunk))
        .layer(DefaultBodyLimit::max(MAX_PUSH_BODY))
        .with_state(state)
        .merge(console)
}

/// Serve until `shutdown` resolves; requests in hand (a push being applied) are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<dyn HqStore>,
    failpoint: Option<Failpoint>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(store, failpoint);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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
            HqError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HqError::NotFound(_) => StatusCode::NOT_FOUND,
            HqError::HashMismatch | HqError::Lifecycle(_) => StatusCode::UNPROCESSABLE_ENTITY,
            HqError::Db(_) | HqError::Json(_) | HqError::Io(_) => {
                tracing::error!(code = e.code(), error = %e, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if let HqError::UploadOffset(s) = &e {
            return (status, Json(s.clone())).into_response();
        }
        let message = match &e {
            // Internal details stay in the log.
            HqError::Db(_) | HqError::Json(_) | HqError::Io(_) => "server error".to_owned(),
            other => other.to_string(),
        };
        (
            status,
            Json(ErrorBody {
                code: e.code().to_owned(),
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
    let d = blocking(move || store.authenticate(&token)).await;
    if let Err(ApiError(HqError::Revoked)) = &d {
        tracing::warn!("refused a revoked device");
    }
    d
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"ok": true, "protocol": proto::PROTOCOL}))
}

async fn enroll(
    State(state): State<AppState>,
    Json(req): Json<EnrollRequest>,
) -> Result<Json<proto::EnrollResponse>, ApiError> {
    let store = state.store.clone();
    let device_id = req.device_id.clone();
    let r = blocking(move || store.enroll(&req, chrono::Utc::now())).await;
    match &r {
        Ok(ok) => {
            tracing::info!(device = %ok.device_id, branch_len = ok.branch.len(), "device enrolled")
        }
        Err(ApiError(e)) => {
            tracing::warn!(device = %device_id, code = e.code(), "enrolment refused")
        }
    }
    Ok(Json(r?))
}

async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<proto::PushResponse>, ApiError> {
    let device = device(&state, &headers).await?;
    let compressed = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        == Some("zstd");
    let json = if compressed {
        proto::decompress(&body, MAX_PUSH_JSON)
            .map_err(|_| ApiError(HqError::BadRequest("body is not zstd")))?
    } else {
        body.to_vec()
    };
    let req: PushRequest =
        serde_json::from_slice(&json).map_err(|_| ApiError(HqError::BadRequest("push body")))?;
    if req.protocol != proto::PROTOCOL {
        return Err(ApiError(HqError::BadRequest("protocol")));
    }
    let n = req.ops.len();
    let (first, last) = (
        req.ops.first().map_or(0, |o| o.seq),
        req.ops.last().map_or(0, |o| o.seq),
    );
    let store = state.store.clone();
    let d = device.clone();
    let resp = blocking(move || store.push(&d, &req, chrono::Utc::now())).await?;
    let rejected = resp
        .results
        .iter()
        .filter(|r| r.result == proto::OpResult::Rejected)
        .count();
    let repeats = resp.results.iter().filter(|r| r.repeat).count();
    tracing::info!(device = %device.device_id, ops = n, first, last, acked_through = resp.acked_through,
        rejected, repeats, bytes = body.len(), "push applied");
    let count = state.pushes.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(Failpoint::AbortAfterPushCommit(k)) = state.failpoint
        && count == k
    {
        tracing::error!("failpoint: aborting after a committed push, before answering");
        std::process::abort();
    }
    Ok(Json(resp))
}

#[derive(Deserialize)]
struct PullQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    digest: Option<String>,
}

async fn pull(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Result<Json<proto::PullResponse>, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let limit = q.limit.unwrap_or(proto::DEFAULT_PULL_PAGE);
    let resp = blocking(move || store.pull(&d, q.after, limit, q.digest.as_deref())).await?;
    tracing::info!(device = %device.device_id, after = q.after, changes = resp.changes.len(),
        next = resp.next, more = resp.more, reset = resp.reset, "pull served");
    Ok(Json(resp))
}

#[derive(Deserialize)]
struct SnapshotQuery {
    entity: String,
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<proto::PullResponse>, ApiError> {
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(proto::DEFAULT_PULL_PAGE);
    let d = device.clone();
    let resp = blocking(move || store.snapshot(&d, &q.entity, q.after, limit)).await?;
    tracing::info!(device = %device.device_id, records = resp.changes.len(), "snapshot served");
    Ok(Json(resp))
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

async fn upload_chunk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    Query(q): Query<OffsetQuery>,
    body: Bytes,
) -> Result<Json<proto::UploadStatus>, ApiError> {
    check_sha(&sha)?;
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let d = device.clone();
    let r = blocking(move || store.upload_chunk(&d, &sha, q.offset, &body)).await;
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
    let device = device(&state, &headers).await?;
    let store = state.store.clone();
    let len = q.len.unwrap_or(proto::DEFAULT_CHUNK);
    let bytes = blocking(move || store.download(&device, &sha, q.offset, len)).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
