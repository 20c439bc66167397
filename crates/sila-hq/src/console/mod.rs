//! The HQ console: a web UI for HQ staff (the committee, reviewers, administrators), served by
//! `sila-hq serve` under `/console/`, with its JSON API under `/console/api/`.
//!
//! Owns: staff sign-in (Argon2id, HttpOnly SameSite=Strict session cookie, a CSRF token echoed
//! in `X-CSRF-Token` on every change, rate-limited attempts), role checks, the audit of every
//! action, and the embedded UI assets (`ui/dist-hq`, built by `npm run build:hq`).
//! Must never: run SQL (that is [`ConsoleStore`] and [`crate::store::HqStore`]); log a name, a
//! national ID, a phone, a password or a token; answer a change without a valid CSRF token.

pub mod assets;
pub mod export;
pub mod limiter;
mod register;
mod surveys;
pub mod types;
mod voice;

use crate::store::console as store;
use crate::store::{HqActor, HqError, HqStore, Resolution};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
pub use store::{ConsoleRole, ConsoleSession, ConsoleStaff, ConsoleStore};

/// The session cookie's name.
pub const COOKIE: &str = "sila_hq_session";
/// How long a console session lasts.
const SESSION_HOURS: i64 = 12;
/// Largest request body (a knowledge-base document, base64 in JSON).
const MAX_BODY: usize = 24 * 1024 * 1024;
/// Largest package an administrator may publish as a release (the .deb is about 15 MB).
const MAX_RELEASE: usize = 256 * 1024 * 1024;

#[derive(Clone)]
struct ConsoleState {
    store: Arc<dyn HqStore>,
    /// Turns for password hashing (sign-in, and an administrator setting a password).
    checks: limiter::Gate,
}

/// The console's routes, merged into [`crate::router`].
pub fn router(store: Arc<dyn HqStore>) -> Router {
    let state = ConsoleState {
        store,
        checks: limiter::Gate::default(),
    };
    let api = Router::new()
        .route("/sign-in", post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/me", get(me))
        .route("/catalog", get(catalog))
        .route("/branches", get(branches_list))
        .route("/committee", get(committee))
        .route("/cases/find", get(case_find))
        .route("/cases/{id}", get(case_file))
        .route("/cases/{id}/decide", post(decide))
        .route("/attachments/{sha}", get(attachment))
        .route("/conflicts", get(conflicts))
        .route("/conflicts/{id}/resolve", post(resolve))
        .route("/duplicates", get(duplicates))
        .route("/beneficiaries/{id}", get(beneficiary))
        .route("/duplicates/merge", post(merge))
        .route("/duplicates/not-same", post(not_same))
        .route("/merges", get(merges))
        .route("/merges/{id}/undo", post(undo_merge))
        .route("/dashboard", get(dashboard))
        .route("/export/{name}", get(export_file))
        .route("/devices", get(devices))
        .route(
            "/releases",
            get(releases_list)
                .post(release_publish)
                .layer(DefaultBodyLimit::max(MAX_RELEASE)),
        )
        .route("/devices/{id}/revoke", post(revoke))
        .route("/enrol-codes", post(enrol_code))
        .route("/staff", get(staff_list).post(staff_add))
        .route("/staff/{id}", post(staff_set))
        .route("/branch-staff", get(branch_staff).post(branch_staff_upsert))
        .route("/kb", get(kb_list).post(kb_publish))
        .route("/audit", get(audit_log))
        .route("/register", post(register::search))
        .route("/register/people/{id}", get(register::person))
        .route("/register/people/{id}/edit", post(register::edit))
        .route("/register/cases/{id}", get(register::case))
        .route("/register/export/{name}", post(register::export_register))
        .route("/voice", get(voice::list))
        .route("/voice/{id}", get(voice::item))
        .route("/surveys", get(surveys::scores))
        .route("/surveys/export/{name}", get(surveys::export_scores))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(index))
        .route("/console/{*path}", get(asset))
        .nest("/console/api", api)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    // A response that set its own policy keeps it (an attachment is served with `sandbox`).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
                 font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
                 base-uri 'none'; form-action 'self'",
            ),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

// ---------------------------------------------------------------------------------------------
// Errors: `{code, message}` with a status. The message is Arabic (the UI shows it as is, or its
// English by code); it never holds personal data.

pub struct ConsoleError {
    status: StatusCode,
    code: &'static str,
}

impl ConsoleError {
    fn new(status: StatusCode, code: &'static str) -> Self {
        ConsoleError { status, code }
    }
    fn signed_out() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "signed_out")
    }
    fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "not_permitted")
    }
    fn bad(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
}

impl From<HqError> for ConsoleError {
    fn from(e: HqError) -> Self {
        let (status, code) = match &e {
            HqError::Unauthorized => (StatusCode::UNAUTHORIZED, "wrong_credentials"),
            HqError::BadRequest(what) => (StatusCode::BAD_REQUEST, bad_request_code(what)),
            HqError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            HqError::Forbidden(_) => (StatusCode::FORBIDDEN, "not_permitted"),
            HqError::Lifecycle(l) => (StatusCode::UNPROCESSABLE_ENTITY, l.code()),
            HqError::Storage(_) | HqError::Json(_) | HqError::Io(_) => {
                tracing::error!(code = e.code(), error = %e, "console request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
            other => (StatusCode::BAD_REQUEST, other.code()),
        };
        ConsoleError { status, code }
    }
}

/// The store's `BadRequest` reasons that the console turns into their own codes.
fn bad_request_code(what: &str) -> &'static str {
    match what {
        "password_too_short" => "password_too_short",
        "password_too_long" => "password_too_long",
        "hq_role" => "hq_role",
        "username_taken" => "username_taken",
        "username" => "username_required",
        "roles" => "roles_required",
        "last_admin" => "last_admin",
        "title" => "title_required",
        "branch" => "branch_required",
        "other_branch" => "other_branch",
        "promise" | "cursor" => "bad_filter",
        _ => "bad_request",
    }
}

/// Arabic wording of every code the console answers with.
pub fn arabic_message(code: &str) -> &'static str {
    match code {
        "signed_out" => "انتهت الجلسة. سجّل الدخول من جديد.",
        "wrong_credentials" => "اسم المستخدم أو كلمة المرور غير صحيحة.",
        "too_many_attempts" => "محاولات دخول كثيرة خاطئة. انتظر بضع دقائق ثم حاول مرة أخرى.",
        "busy" => "الخادم مشغول بمحاولات دخول كثيرة. أعد المحاولة بعد قليل.",
        "too_large" => "الطلب أكبر من المسموح.",
        "username_too_long" => "اسم المستخدم أطول من المسموح (64 حرفاً).",
        "password_too_long" => "كلمة المرور أطول من المسموح.",
        "csrf" => "تعذّر التحقق من مصدر الطلب. حدّث الصفحة ثم أعد المحاولة.",
        "not_permitted" => "ليست لديك صلاحية تنفيذ هذا الإجراء.",
        "not_found" => "السجل المطلوب غير موجود.",
        "password_too_short" => "كلمة المرور قصيرة: عشرة أحرف على الأقل.",
        "hq_role" => "أدوار المقر (لجنة البحث، موظف المقر) لا تُمنح لحساب فرع.",
        "username_taken" => "اسم المستخدم مستخدم من قبل.",
        "username_required" => "اكتب اسم المستخدم.",
        "roles_required" => "اختر دوراً واحداً على الأقل.",
        "last_admin" => "لا يمكن إيقاف آخر مدير نظام أو سحب صلاحيته.",
        "title_required" => "اكتب عنوان المستند.",
        "branch_required" => "اكتب اسم الفرع.",
        "other_branch" => "الحساب تابع لفرع آخر.",
        "bad_filter" => "عامل التصفية غير صالح.",
        "bad_file" => "الملف غير صالح: يُقبل PDF أو PNG أو JPEG أو WebP حتى 15 ميغابايت.",
        "note_required" => "يجب كتابة سبب القرار.",
        "wrong_state" => "لا يمكن تنفيذ هذا الإجراء في حالة الطلب الحالية.",
        "bad_transition" => "القرار غير معروف.",
        "case_number" => "اكتب رقم الطلب كما في إيصال المستفيد.",
        "case_not_found" => "لا يوجد طلب بهذا الرقم.",
        "duplicate_value" => "القيمة المختارة يجب أن تكون من أحد الملفين.",
        "console_not_built" => "واجهة المقر غير مبنية في هذا البرنامج.",
        "signature_required" => "اختر ملف التوقيع (‎.sig) الذي أنشأه tauri signer sign للحزمة.",
        "update_bad_signature" | "update_bad_signature_format" => {
            "التوقيع لا يطابق الحزمة أو ليس بمفتاح التحديثات المعتمد في المقر، فلم يُنشر الإصدار."
        }
        "update_bad_version" => "اكتب رقم الإصدار بالشكل 1.2.3.",
        "release_exists" => "هذا الإصدار أو هذه الحزمة منشورة من قبل.",
        "no_update_key" => "لم يُضبط مفتاح التحديثات في المقر (--update-key)، فلا يمكن نشر إصدار.",
        "server_error" => "حدث خطأ في الخادم. أعد المحاولة، وإن تكرر فأبلغ مدير النظام.",
        _ => "تعذّر تنفيذ الطلب.",
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "message": arabic_message(self.code)})),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ConsoleError>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HqError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ConsoleError::from(HqError::Io(std::io::Error::other("worker failed"))))?
        .map_err(ConsoleError::from)
}

/// Too many password checks are waiting (see `limiter::Gate`).
fn busy() -> ConsoleError {
    tracing::warn!("refused: too many password checks waiting");
    ConsoleError::new(StatusCode::SERVICE_UNAVAILABLE, "busy")
}

fn console(store: &Arc<dyn HqStore>) -> Result<&dyn HqStore, HqError> {
    Ok(store.as_ref())
}

// ---------------------------------------------------------------------------------------------
// Sessions and CSRF

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A request from another site is refused: when the browser names the page that sent it
/// (`Origin`), it must be this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    // Behind a TLS proxy the browser's host may reach us as X-Forwarded-Host instead.
    let hosts = [header::HOST.as_str(), "x-forwarded-host"].map(|h| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    });
    origin.split_once("://").is_some_and(|(_, rest)| {
        let rest = rest.trim_end_matches('/');
        hosts.iter().any(|h| !h.is_empty() && h == rest)
    })
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in person, and for a change the CSRF check. `roles`: any one of them is enough
/// (empty: any signed-in person).
async fn signed_in(
    state: &ConsoleState,
    headers: &HeaderMap,
    method: &Method,
    roles: &[ConsoleRole],
) -> ApiResult<ConsoleSession> {
    let token = cookie_token(headers).ok_or_else(ConsoleError::signed_out)?;
    let store = state.store.clone();
    let session = blocking(move || console(&store)?.session(&token, Utc::now()))
        .await?
        .ok_or_else(ConsoleError::signed_out)?;
    if method != Method::GET && method != Method::HEAD {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_origin(headers) || !constant_eq(sent, &session.csrf) {
            tracing::warn!(staff = %session.staff.id, "console change refused: CSRF check failed");
            return Err(ConsoleError::new(StatusCode::FORBIDDEN, "csrf"));
        }
    }
    if !roles.is_empty() && !roles.iter().any(|r| session.staff.has(*r)) {
        return Err(ConsoleError::forbidden());
    }
    Ok(session)
}

fn actor(s: &ConsoleStaff) -> Result<HqActor, HqError> {
    Ok(HqActor {
        staff_id: s.id.parse().map_err(|_| HqError::BadRequest("staff id"))?,
        display_name: s.display_name.clone(),
    })
}

/// Record a console action (after it succeeded). An audit that cannot be written fails the
/// request: the action is done, but the person is told, and the log says why.
async fn audit(
    state: &ConsoleState,
    staff: &ConsoleStaff,
    action: &'static str,
    entity: &'static str,
    entity_id: String,
    detail: Value,
) -> ApiResult<()> {
    let store = state.store.clone();
    let staff = staff.clone();
    blocking(move || {
        console(&store)?.audit(&staff, action, entity, &entity_id, &detail, Utc::now())
    })
    .await
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn session_cookie(token: &str, max_age: i64, headers: &HeaderMap) -> HeaderValue {
    // Behind TLS (the production set-up) the cookie is also Secure.
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || std::env::var("SILA_HQ_SECURE_COOKIE").is_ok_and(|v| v == "1");
    let v = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).expect("cookie is ASCII")
}

fn me_body(s: &ConsoleSession) -> Value {
    json!({"staff": s.staff, "csrf": s.csrf, "expires_at": s.expires_at.to_rfc3339()})
}

#[derive(Deserialize)]
struct SignIn {
    username: String,
    password: String,
}

/// Largest sign-in body: a user name, a password and JSON around them.
const SIGN_IN_BODY: usize = 4 * 1024;

/// Sign in. The order is the defence (see `limiter`): the body is read up to a few KiB, an
/// over-long name or password is refused unread, the limiter reserves the attempt's place before
/// any password is checked, and the check (Argon2) waits for its turn at the [`limiter::Gate`]
/// and runs on a blocking thread that reports the outcome itself.
async fn sign_in(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Body,
) -> ApiResult<Response> {
    if !same_origin(&headers) {
        return Err(ConsoleError::new(StatusCode::FORBIDDEN, "csrf"));
    }
    // JSON only: a form another site's page could post is never a sign-in.
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        });
    if !json_body {
        return Err(ConsoleError::bad("bad_request"));
    }
    let bytes = axum::body::to_bytes(body, SIGN_IN_BODY)
        .await
        .map_err(|_| ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large"))?;
    let body: SignIn =
        serde_json::from_slice(&bytes).map_err(|_| ConsoleError::bad("bad_request"))?;
    drop(bytes);
    if body.password.len() > limiter::MAX_PASSWORD_BYTES {
        return Err(ConsoleError::bad("password_too_long"));
    }
    let key = body.username.trim().to_lowercase();
    // The connection's peer, when the server was started with it (`serve` always is).
    let from = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let store = state.store.clone();
    let begun = blocking(move || limiter::Attempt::begin(&store, &key, from, Utc::now())).await?;
    let attempt = match begun {
        Ok(a) => a,
        Err(limiter::Refused::NameTooLong) => return Err(ConsoleError::bad("username_too_long")),
        Err(limiter::Refused::TooMany) => {
            tracing::warn!("console sign-in refused: too many failed attempts");
            return Err(ConsoleError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
            ));
        }
    };
    let store = state.store.clone();
    let r = state
        .checks
        .run(move || {
            let r = console(&store).and_then(|c| {
                c.sign_in(
                    &body.username,
                    &body.password,
                    chrono::Duration::hours(SESSION_HOURS),
                    Utc::now(),
                )
            });
            attempt.finish(
                match &r {
                    Ok(_) => limiter::Outcome::Succeeded,
                    Err(HqError::Unauthorized) => limiter::Outcome::Failed,
                    Err(_) => limiter::Outcome::Undecided,
                },
                Utc::now(),
            );
            r
        })
        .await
        .map_err(|_| busy())?
        .map_err(ConsoleError::from);
    let (token, session) = match r {
        Ok(ok) => ok,
        Err(e) => {
            if e.code == "wrong_credentials" {
                tracing::warn!("console sign-in failed");
            }
            return Err(e);
        }
    };
    audit(
        &state,
        &session.staff,
        "sign_in",
        "staff",
        session.staff.id.clone(),
        json!({}),
    )
    .await?;
    tracing::info!(staff = %session.staff.id, "console sign-in");
    let mut res = Json(me_body(&session)).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, SESSION_HOURS * 3600, &headers),
    );
    Ok(res)
}

async fn sign_out(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let session = signed_in(&state, &headers, &method, &[]).await?;
    let token = cookie_token(&headers).unwrap_or_default();
    let store = state.store.clone();
    blocking(move || console(&store)?.sign_out(&token)).await?;
    audit(
        &state,
        &session.staff,
        "sign_out",
        "staff",
        session.staff.id.clone(),
        json!({}),
    )
    .await?;
    let mut res = Json(json!({"ok": true})).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, &headers));
    Ok(res)
}

async fn me(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[]).await?;
    Ok(Json(me_body(&s)))
}

/// Support and document types with their names (the console shows names, never codes).
async fn catalog(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[]).await?;
    let c = sila_domain::catalog::Catalog::arabic_defaults();
    Ok(Json(json!({
        "support_types": c.support_types,
        "document_types": c.document_types,
        "policy": c.policy,
    })))
}

async fn branches_list(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[]).await?;
    let store = state.store.clone();
    let branches = blocking(move || console(&store)?.branches()).await?;
    Ok(Json(json!({"branches": branches})))
}

// ---------------------------------------------------------------------------------------------
// The committee

#[derive(Deserialize)]
struct CommitteeQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    promise: Option<String>,
}

async fn committee(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<CommitteeQuery>,
) -> ApiResult<Json<store::CommitteePage>> {
    signed_in(
        &state,
        &headers,
        &method,
        &[ConsoleRole::Committee, ConsoleRole::Admin],
    )
    .await?;
    let store = state.store.clone();
    let filter = store::CommitteeFilter {
        branch: q.branch,
        promise: q.promise,
    };
    Ok(Json(
        blocking(move || {
            console(&store)?.committee_queue(
                &filter,
                q.after.as_deref(),
                q.limit.unwrap_or(50),
                today(),
            )
        })
        .await?,
    ))
}

async fn case_file(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<store::CaseFile>> {
    let s = signed_in(
        &state,
        &headers,
        &method,
        &[ConsoleRole::Committee, ConsoleRole::Admin],
    )
    .await?;
    let store = state.store.clone();
    let cid = id.clone();
    let file = blocking(move || console(&store)?.case_file(&cid, today()))
        .await?
        .ok_or(ConsoleError::new(StatusCode::NOT_FOUND, "not_found"))?;
    // Design: every read of a whole file is audited.
    audit(&state, &s.staff, "case.view", "case", id, json!({})).await?;
    Ok(Json(file))
}

#[derive(Deserialize)]
struct FindCase {
    number: String,
}

/// A case by the number on its receipt: how the committee opens a rejected request on appeal.
async fn case_find(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<FindCase>,
) -> ApiResult<Json<Value>> {
    signed_in(
        &state,
        &headers,
        &method,
        &[ConsoleRole::Committee, ConsoleRole::Admin],
    )
    .await?;
    if q.number.trim().is_empty() || q.number.len() > 64 {
        return Err(ConsoleError::bad("case_number"));
    }
    let store = state.store.clone();
    let id = blocking(move || console(&store)?.case_by_number(&q.number))
        .await?
        .ok_or(ConsoleError::new(StatusCode::NOT_FOUND, "case_not_found"))?;
    Ok(Json(json!({ "id": id })))
}

#[derive(Deserialize)]
struct DecideBody {
    transition: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<DecideBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Committee]).await?;
    use sila_domain::case::Transition;
    let t = match body.transition.as_str() {
        "approve" => Transition::Approve,
        "reject" => Transition::Reject,
        // An appeal (تظلم) against a rejection: back to the committee, with the grounds as note.
        "reopen" => Transition::Reopen,
        _ => return Err(ConsoleError::bad("bad_transition")),
    };
    let store = state.store.clone();
    let a = actor(&s.staff)?;
    let cid = id.clone();
    let note = body.note.clone();
    let event = blocking(move || store.decide(&cid, t, &note, &a, Utc::now())).await?;
    audit(
        &state,
        &s.staff,
        "case.decide",
        "case",
        id,
        json!({"transition": t.code()}),
    )
    .await?;
    Ok(Json(serde_json::to_value(event).map_err(HqError::from)?))
}

async fn attachment(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(sha): Path<String>,
) -> ApiResult<Response> {
    let s = signed_in(
        &state,
        &headers,
        &method,
        &[
            ConsoleRole::Committee,
            ConsoleRole::Admin,
            ConsoleRole::Reviewer,
        ],
    )
    .await?;
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ConsoleError::bad("bad_request"));
    }
    let store = state.store.clone();
    let key = sha.clone();
    let a = blocking(move || console(&store)?.attachment(&key))
        .await?
        .ok_or(ConsoleError::new(StatusCode::NOT_FOUND, "not_found"))?;
    audit(
        &state,
        &s.staff,
        "attachment.view",
        "attachment",
        sha,
        json!({}),
    )
    .await?;
    // Only the kinds the branch accepts are shown inline; the sandbox stops a PDF's scripts.
    let mime: &'static str = match a.mime.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        "application/pdf" => "application/pdf",
        _ => "application/octet-stream",
    };
    let mut res = a.bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=600"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    Ok(res)
}

// ---------------------------------------------------------------------------------------------
// Conflicts

async fn conflicts(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(
        &state,
        &headers,
        &method,
        &[ConsoleRole::Reviewer, ConsoleRole::Admin],
    )
    .await?;
    let store = state.store.clone();
    let rows = blocking(move || {
        let open = store.conflicts(true)?;
        // Each conflict with the record's name and branch, so the reviewer knows whose it is.
        let mut out = Vec::with_capacity(open.len().min(500));
        for c in open.into_iter().take(500) {
            let file = if c.entity == "beneficiary" {
                store.beneficiary_file(&c.entity_id)?
            } else {
                None
            };
            let name = file
                .as_ref()
                .map(|f| crate::sql::console::display_name(&f["record"]))
                .unwrap_or_default();
            let branch = file
                .as_ref()
                .and_then(|f| f["branch"].as_str().map(str::to_owned));
            let mut v = serde_json::to_value(&c)?;
            v["name"] = json!(name);
            v["branch"] = json!(branch);
            out.push(v);
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({"rows": rows})))
}

#[derive(Deserialize)]
struct ResolveBody {
    /// "hq" or "branch"
    take: String,
}

async fn resolve(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<ResolveBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Reviewer]).await?;
    let how = match body.take.as_str() {
        "hq" => Resolution::KeepHq,
        "branch" => Resolution::TakeBranch,
        _ => return Err(ConsoleError::bad("bad_request")),
    };
    let store = state.store.clone();
    blocking(move || store.resolve_conflict(id, how, Utc::now())).await?;
    audit(
        &state,
        &s.staff,
        "conflict.resolve",
        "conflict",
        id.to_string(),
        json!({"take": body.take}),
    )
    .await?;
    Ok(Json(json!({"ok": true})))
}

// ---------------------------------------------------------------------------------------------
// Duplicates

#[derive(Deserialize)]
struct LimitQuery {
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    before: Option<i64>,
}

async fn duplicates(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Reviewer]).await?;
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let pairs = blocking(move || store.duplicate_candidates(limit)).await?;
    Ok(Json(json!({"pairs": pairs})))
}

async fn beneficiary(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(
        &state,
        &headers,
        &method,
        &[ConsoleRole::Reviewer, ConsoleRole::Committee],
    )
    .await?;
    let store = state.store.clone();
    let bid = id.clone();
    let file = blocking(move || store.beneficiary_file(&bid))
        .await?
        .ok_or(ConsoleError::new(StatusCode::NOT_FOUND, "not_found"))?;
    audit(
        &state,
        &s.staff,
        "beneficiary.view",
        "beneficiary",
        id,
        json!({}),
    )
    .await?;
    Ok(Json(file))
}

#[derive(Deserialize)]
struct MergeBody {
    survivor: String,
    merged: String,
    #[serde(default)]
    fields: serde_json::Map<String, Value>,
}

async fn merge(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Json(body): Json<MergeBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Reviewer]).await?;
    let store = state.store.clone();
    let a = actor(&s.staff)?;
    let (survivor, merged) = (body.survivor.clone(), body.merged.clone());
    let fields: Vec<String> = body.fields.keys().cloned().collect();
    let id = blocking(move || {
        store.merge_duplicates(&body.survivor, &body.merged, &body.fields, &a, Utc::now())
    })
    .await
    .map_err(|e| {
        if e.code == "bad_request" {
            ConsoleError::bad("duplicate_value")
        } else {
            e
        }
    })?;
    audit(
        &state,
        &s.staff,
        "duplicates.merge",
        "beneficiary",
        survivor,
        json!({"merge_id": id, "merged": merged, "fields": fields}),
    )
    .await?;
    Ok(Json(json!({"merge_id": id})))
}

#[derive(Deserialize)]
struct PairBody {
    a: String,
    b: String,
}

async fn not_same(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Json(body): Json<PairBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Reviewer]).await?;
    let store = state.store.clone();
    let a = actor(&s.staff)?;
    let (x, y) = (body.a.clone(), body.b.clone());
    blocking(move || store.mark_not_same(&x, &y, &a, Utc::now())).await?;
    audit(
        &state,
        &s.staff,
        "duplicates.not_same",
        "beneficiary",
        body.a,
        json!({"other": body.b}),
    )
    .await?;
    Ok(Json(json!({"ok": true})))
}

async fn merges(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Reviewer]).await?;
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let rows = blocking(move || store.merges(limit)).await?;
    Ok(Json(json!({"rows": rows})))
}

async fn undo_merge(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Reviewer]).await?;
    let store = state.store.clone();
    let a = actor(&s.staff)?;
    blocking(move || store.undo_merge(id, &a, Utc::now())).await?;
    audit(
        &state,
        &s.staff,
        "duplicates.undo_merge",
        "merge",
        id.to_string(),
        json!({}),
    )
    .await?;
    Ok(Json(json!({"ok": true})))
}

// ---------------------------------------------------------------------------------------------
// Dashboards and exports

async fn dashboard(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(f): Query<store::DashFilter>,
) -> ApiResult<Json<store::Dashboard>> {
    signed_in(&state, &headers, &method, &[]).await?;
    let store = state.store.clone();
    Ok(Json(
        blocking(move || console(&store)?.dashboard(&f, today())).await?,
    ))
}

#[derive(Deserialize)]
struct ExportQuery {
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    promise: Option<String>,
}

/// `/export/dashboard.csv|xlsx` and `/export/committee.csv|xlsx`.
async fn export_file(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (what, ext) = name
        .rsplit_once('.')
        .ok_or(ConsoleError::bad("bad_request"))?;
    let format = export::Format::from_ext(ext).ok_or(ConsoleError::bad("bad_request"))?;
    let roles: &[ConsoleRole] = match what {
        "dashboard" => &[],
        "committee" => &[ConsoleRole::Committee, ConsoleRole::Admin],
        _ => return Err(ConsoleError::new(StatusCode::NOT_FOUND, "not_found")),
    };
    let s = signed_in(&state, &headers, &method, roles).await?;
    let store = state.store.clone();
    let what_owned = what.to_owned();
    let (branch, channel, promise) = (q.branch.clone(), q.channel.clone(), q.promise.clone());
    let bytes = blocking(move || {
        let c = console(&store)?;
        let tables = if what_owned == "dashboard" {
            export::dashboard_tables(&c.dashboard(&store::DashFilter { branch, channel }, today())?)
        } else {
            let filter = store::CommitteeFilter { branch, promise };
            let mut rows = Vec::new();
            let mut after: Option<String> = None;
            // The whole queue, page by page (bounded: an export is for people, not a dump).
            while rows.len() < 100_000 {
                let page = c.committee_queue(&filter, after.as_deref(), 200, today())?;
                rows.extend(page.rows);
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            vec![export::committee_table(&rows)]
        };
        export::render(&tables, format)
    })
    .await?;
    audit(
        &state,
        &s.staff,
        "export",
        "export",
        name.clone(),
        json!({"branch": q.branch, "channel": q.channel}),
    )
    .await?;
    Ok(export::download(bytes, format, what))
}

// ---------------------------------------------------------------------------------------------
// Administration

async fn devices(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let store = state.store.clone();
    let (devices, branches) =
        blocking(move || Ok((store.devices()?, console(&store)?.branches()?))).await?;
    Ok(Json(json!({"devices": devices, "branches": branches})))
}

/// Published releases of the desktop app, with how many devices run each (the devices page shows
/// each device's version).
async fn releases_list(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let store = state.store.clone();
    let releases = blocking(move || store.releases()).await?;
    Ok(Json(json!({ "releases": releases })))
}

#[derive(Deserialize)]
struct ReleaseQuery {
    version: String,
}

/// The header that carries a release's signature (the `.sig` file's base64 text) beside its
/// package, which is the request's body as is.
const SIGNATURE_HEADER: &str = "x-release-signature";

/// An administrator publishes a release: the package as the body, the signature in a header;
/// refused unless it verifies against HQ's update key.
async fn release_publish(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<ReleaseQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConsoleError::bad("signature_required"))?
        .to_owned();
    let store = state.store.clone();
    let by = s.staff.username.clone();
    let release =
        blocking(move || store.publish_release(&q.version, &body, &signature, &by, Utc::now()))
            .await?;
    audit(
        &state,
        &s.staff,
        "release.publish",
        "release",
        release.version.clone(),
        json!({"sha256": release.sha256, "size": release.size}),
    )
    .await?;
    Ok(Json(json!({ "release": release })))
}

async fn revoke(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let store = state.store.clone();
    let d = id.clone();
    blocking(move || store.revoke_device(&d, Utc::now())).await?;
    audit(&state, &s.staff, "device.revoke", "device", id, json!({})).await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
struct EnrolBody {
    branch: String,
    #[serde(default)]
    ttl_hours: Option<i64>,
}

async fn enrol_code(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Json(body): Json<EnrolBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let ttl = body.ttl_hours.unwrap_or(72).clamp(1, 24 * 30);
    let store = state.store.clone();
    let branch = body.branch.trim().to_owned();
    if branch.is_empty() {
        return Err(ConsoleError::bad("branch_required"));
    }
    let b = branch.clone();
    let code =
        blocking(move || store.create_enrol_code(&b, chrono::Duration::hours(ttl), Utc::now()))
            .await?;
    audit(
        &state,
        &s.staff,
        "enrol_code.create",
        "branch",
        branch,
        json!({"ttl_hours": ttl}),
    )
    .await?;
    let expires: DateTime<Utc> = Utc::now() + chrono::Duration::hours(ttl);
    Ok(Json(
        json!({"code": code, "expires_at": expires.to_rfc3339()}),
    ))
}

async fn staff_list(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let store = state.store.clone();
    let rows = blocking(move || console(&store)?.console_staff()).await?;
    Ok(Json(json!({"rows": rows})))
}

fn parse_roles(roles: &[String]) -> ApiResult<Vec<ConsoleRole>> {
    roles
        .iter()
        .map(|r| ConsoleRole::from_code(r).ok_or(ConsoleError::bad("roles_required")))
        .collect()
}

#[derive(Deserialize)]
struct StaffAdd {
    username: String,
    #[serde(default)]
    display_name: String,
    password: String,
    roles: Vec<String>,
}

async fn staff_add(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Json(body): Json<StaffAdd>,
) -> ApiResult<Json<ConsoleStaff>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let roles = parse_roles(&body.roles)?;
    let store = state.store.clone();
    // Hashing the password is a password check's cost: it takes its turn at the gate.
    let created = state
        .checks
        .run(move || {
            console(&store)?.add_console_staff(
                &body.username,
                &body.display_name,
                &body.password,
                &roles,
                Utc::now(),
            )
        })
        .await
        .map_err(|_| busy())??;
    audit(
        &state,
        &s.staff,
        "staff.create",
        "staff",
        created.id.clone(),
        json!({"roles": created.roles}),
    )
    .await?;
    Ok(Json(created))
}

#[derive(Deserialize)]
struct StaffSet {
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    password: Option<String>,
}

async fn staff_set(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<StaffSet>,
) -> ApiResult<Json<ConsoleStaff>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let roles = body.roles.as_deref().map(parse_roles).transpose()?;
    let store = state.store.clone();
    let sid = id.clone();
    let password_changed = body.password.is_some();
    let change = move || {
        console(&store)?.set_console_staff(
            &sid,
            roles.as_deref(),
            body.active,
            body.password.as_deref(),
            Utc::now(),
        )
    };
    // A new password is hashed: a password check's cost, so it takes its turn at the gate.
    let updated = if password_changed {
        state.checks.run(change).await.map_err(|_| busy())??
    } else {
        blocking(change).await?
    };
    audit(
        &state,
        &s.staff,
        "staff.update",
        "staff",
        id,
        json!({"roles": updated.roles, "active": updated.active, "password_changed": password_changed}),
    )
    .await?;
    Ok(Json(updated))
}

#[derive(Deserialize)]
struct BranchQuery {
    #[serde(default)]
    branch: Option<String>,
}

async fn branch_staff(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<BranchQuery>,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let store = state.store.clone();
    let (rows, branches) = blocking(move || {
        let c = console(&store)?;
        Ok((
            c.branch_staff(q.branch.as_deref().filter(|b| !b.is_empty()))?,
            c.branches()?,
        ))
    })
    .await?;
    Ok(Json(json!({"rows": rows, "branches": branches})))
}

#[derive(Deserialize)]
struct BranchStaffBody {
    /// Absent: a new account.
    #[serde(default)]
    id: Option<String>,
    branch: String,
    username: String,
    display_name: String,
    roles: Vec<String>,
    active: bool,
}

async fn branch_staff_upsert(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Json(body): Json<BranchStaffBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    use sila_domain::staff::{Role, StaffAccount};
    let roles = body
        .roles
        .iter()
        .map(|r| Role::from_code(r).ok_or(ConsoleError::bad("roles_required")))
        .collect::<ApiResult<Vec<_>>>()?;
    if roles.is_empty() {
        return Err(ConsoleError::bad("roles_required"));
    }
    let id = match &body.id {
        Some(i) => i.parse().map_err(|_| ConsoleError::bad("bad_request"))?,
        None => sila_domain::ids::StaffId::new_v7(),
    };
    let account = StaffAccount {
        id,
        username: body.username.trim().to_owned(),
        display_name: body.display_name.trim().to_owned(),
        roles,
        branch: body.branch.trim().to_owned(),
        active: body.active,
    };
    if account.username.is_empty() {
        return Err(ConsoleError::bad("username_required"));
    }
    let store = state.store.clone();
    let a = account.clone();
    blocking(move || console(&store)?.upsert_branch_staff(&a, Utc::now())).await?;
    audit(
        &state,
        &s.staff,
        if body.id.is_some() {
            "branch_staff.update"
        } else {
            "branch_staff.create"
        },
        "branch_staff",
        account.id.to_string(),
        json!({"branch_len": account.branch.chars().count(), "active": account.active,
               "roles": account.roles.iter().map(|r| r.code()).collect::<Vec<_>>()}),
    )
    .await?;
    Ok(Json(json!({"id": account.id.to_string()})))
}

async fn kb_list(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[]).await?;
    let store = state.store.clone();
    let rows = blocking(move || console(&store)?.kb_documents()).await?;
    Ok(Json(json!({"rows": rows})))
}

#[derive(Deserialize)]
struct KbBody {
    title: String,
    #[serde(default)]
    body: String,
    /// The file, base64 (standard alphabet).
    #[serde(default)]
    file_base64: Option<String>,
}

/// What a knowledge-base file is, by its bytes (never by its name or the browser's word).
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

async fn kb_publish(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Json(body): Json<KbBody>,
) -> ApiResult<Json<Value>> {
    let s = signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    if body.title.trim().is_empty() {
        return Err(ConsoleError::bad("title_required"));
    }
    let file = match body.file_base64.as_deref().filter(|f| !f.is_empty()) {
        Some(b64) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ConsoleError::bad("bad_file"))?;
            let mime = sniff(&bytes).ok_or(ConsoleError::bad("bad_file"))?;
            if bytes.len() as i64 > crate::rules::ops::MAX_ATTACHMENT {
                return Err(ConsoleError::bad("bad_file"));
            }
            Some((bytes, mime))
        }
        None => None,
    };
    let store = state.store.clone();
    let id = blocking(move || {
        store.publish_document(
            &body.title,
            &body.body,
            file.as_ref().map(|(b, m)| (b.as_slice(), *m)),
            Utc::now(),
        )
    })
    .await?;
    audit(&state, &s.staff, "kb.publish", "kb", id.clone(), json!({})).await?;
    Ok(Json(json!({"id": id})))
}

async fn audit_log(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    signed_in(&state, &headers, &method, &[ConsoleRole::Admin]).await?;
    let store = state.store.clone();
    let rows =
        blocking(move || console(&store)?.audit_log(q.before, q.limit.unwrap_or(100))).await?;
    Ok(Json(json!({"rows": rows})))
}

// ---------------------------------------------------------------------------------------------
// The UI

async fn index() -> Response {
    serve_asset("hq.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    serve_asset(&path)
}

fn serve_asset(path: &str) -> Response {
    if assets::ASSETS.is_empty() {
        // A build without the UI: say so plainly instead of serving an empty page.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            assets::NOT_BUILT_PAGE,
        )
            .into_response();
    }
    match assets::ASSETS.iter().find(|(p, _)| *p == path) {
        Some((p, bytes)) => {
            let cache = if p.starts_with("assets/") {
                // Vite names them by content hash.
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            (
                [
                    (header::CONTENT_TYPE, assets::mime(p)),
                    (header::CACHE_CONTROL, cache),
                ],
                Bytes::from_static(bytes),
            )
                .into_response()
        }
        None => ConsoleError::new(StatusCode::NOT_FOUND, "not_found").into_response(),
    }
}
