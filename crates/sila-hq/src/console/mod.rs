//! The HQ console: a web UI for HQ staff (the committee, reviewers, administrators), served by
//! `sila-hq serve` under `/console/`, with its JSON API under `/console/api/`.
//!
//! Owns: staff sign-in (Argon2id, HttpOnly SameSite=Strict session cookie, a CSRF token echoed
//! in `X-CSRF-Token` on every change, rate-limited attempts), role checks, the audit of every
//! action, and the embedded UI assets (`ui/dist-hq`, built by `npm run build:hq`).
//! Must never: run SQL (that is [`ConsoleStore`] and [`crate::store::HqStore`]); log a name, a
//! national ID, a phone, a password or a token; answer a change without a valid CSRF token.
//!
//! Layout: this file holds the router, the shared state and the error mapping; [`staff`] is who
//! is asking (the `Staff<Roles>` extractor: session, CSRF, role); the handlers live one file per
//! resource (`session`, `catalog`, `committee`, `conflicts`, `duplicates`, `dashboard`,
//! `register`, `voice`, `surveys`, `audit`, and `admin/` for devices, releases, HQ's and the
//! branches' accounts and the knowledge base), with the request shapes they read in [`json`],
//! read through [`extract`]'s `Json`, `Query` and `Path` (which refuse what they cannot read as
//! every console error is).

mod admin;
pub mod assets;
mod audit;
mod catalog;
mod committee;
mod conflicts;
mod dashboard;
mod duplicates;
pub mod export;
mod extract;
mod json;
pub mod limiter;
mod register;
mod session;
mod staff;
mod surveys;
pub mod types;
mod ui;
mod voice;

use crate::error::Code;
use crate::store::console as store;
use crate::store::{HqError, HqStore};
use audit::audit;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use std::sync::Arc;
pub use store::{ConsoleRole, ConsoleSession, ConsoleStaff, ConsoleStore};

/// The session cookie's name.
pub const COOKIE: &str = "sila_hq_session";
/// Largest request body (a knowledge-base document, base64 in JSON).
const MAX_BODY: usize = 24 * 1024 * 1024;

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
        .route("/sign-in", post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/me", get(session::me))
        .route("/catalog", get(catalog::catalog))
        .route("/branches", get(catalog::branches))
        .route("/committee", get(committee::queue))
        .route("/cases/find", get(committee::case_find))
        .route(
            "/cases/{id}",
            get(committee::case_file::<staff::CommitteeOrAdmin>),
        )
        .route("/cases/{id}/decide", post(committee::decide))
        .route("/attachments/{sha}", get(committee::attachment))
        .route("/conflicts", get(conflicts::list))
        .route("/conflicts/{id}/resolve", post(conflicts::resolve))
        .route("/duplicates", get(duplicates::pairs))
        .route("/beneficiaries/{id}", get(duplicates::beneficiary))
        .route("/duplicates/merge", post(duplicates::merge))
        .route("/duplicates/not-same", post(duplicates::not_same))
        .route("/merges", get(duplicates::merges))
        .route("/merges/{id}/undo", post(duplicates::undo))
        .route("/dashboard", get(dashboard::show))
        .route("/export/{name}", get(dashboard::download))
        .route("/devices", get(admin::devices::list))
        .route(
            "/releases",
            get(admin::releases::list).post(admin::releases::publish),
        )
        .route("/devices/{id}/revoke", post(admin::devices::revoke))
        .route("/enrol-codes", post(admin::devices::enrol_code))
        .route("/staff", get(admin::staff::list).post(admin::staff::add))
        .route("/staff/{id}", post(admin::staff::set))
        .route(
            "/branch-staff",
            get(admin::branch_staff::list).post(admin::branch_staff::upsert),
        )
        .route("/kb", get(admin::kb::list).post(admin::kb::publish))
        .route("/audit", get(audit::log))
        .route("/register", post(register::search))
        .route("/register/people/{id}", get(register::person))
        .route("/register/people/{id}/edit", post(register::edit))
        .route(
            "/register/cases/{id}",
            get(committee::case_file::<staff::ReviewerCommitteeOrAdmin>),
        )
        .route("/register/export/{name}", post(register::export_register))
        .route("/voice", get(voice::list))
        .route("/voice/{id}", get(voice::item))
        .route("/surveys", get(surveys::scores))
        .route("/surveys/export/{name}", get(surveys::export_scores))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(ui::index))
        .route("/console/{*path}", get(ui::asset))
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
// Errors: a status and a body built here, from `json::ErrorAnswer` (`{code, message}`) or, for a
// person's value the domain refused, `json::FieldRefusal`. The message is Arabic (the UI shows it
// as is, or its English by code); it never holds personal data.

pub struct ConsoleError {
    status: StatusCode,
    code: Code,
    /// Set when the domain refused one of a person's values (boxed: the rare case keeps every
    /// `Result` of the console small).
    field: Option<Box<json::FieldRefusal>>,
}

impl ConsoleError {
    fn new(status: StatusCode, code: Code) -> Self {
        ConsoleError {
            status,
            code,
            field: None,
        }
    }
    fn signed_out() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, Code::SignedOut)
    }
    fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, Code::NotPermitted)
    }
    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::NotFound)
    }
    fn bad(code: Code) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code)
    }
    /// The domain refused a person's value: the field, its reason code and the domain's Arabic
    /// for it (or the code's own Arabic when the domain gave none).
    fn field_refused(field: String, reason: Option<String>, message: Option<String>) -> Self {
        let code = Code::InvalidField;
        ConsoleError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            field: Some(Box::new(json::FieldRefusal {
                message: message.unwrap_or_else(|| code.arabic().into()),
                code: code.clone(),
                field,
                reason,
            })),
            code,
        }
    }
}

impl From<HqError> for ConsoleError {
    fn from(e: HqError) -> Self {
        let (status, code) = match e {
            HqError::Unauthorized => (StatusCode::UNAUTHORIZED, Code::WrongCredentials),
            HqError::NotFound(_) => (StatusCode::NOT_FOUND, Code::NotFound),
            HqError::Forbidden(_) => (StatusCode::FORBIDDEN, Code::NotPermitted),
            HqError::Lifecycle(l) => (StatusCode::UNPROCESSABLE_ENTITY, Code::Lifecycle(l)),
            e if e.is_internal() => {
                tracing::error!(code = %e.code(), error = %e, "console request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, Code::ServerError)
            }
            // A refusal with a code of its own keeps it; any other bad request is `bad_request`.
            other => (StatusCode::BAD_REQUEST, other.code()),
        };
        ConsoleError::new(status, code)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self.field {
            Some(refusal) => (self.status, Json(*refusal)).into_response(),
            None => (
                self.status,
                Json(json::ErrorAnswer {
                    message: self.code.arabic().into(),
                    code: self.code,
                }),
            )
                .into_response(),
        }
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
    ConsoleError::new(StatusCode::SERVICE_UNAVAILABLE, Code::Busy)
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}
