//! The research committee: its queue, a case's whole file (every read audited), a case found by
//! its receipt's number, the decision, and the attachments a file shows.

use super::json::{CaseFileView, CommitteeQuery, DecideBody, EventView, FindCase, FoundCase};
use super::staff::{Committee, CommitteeOrAdmin, ReviewerCommitteeOrAdmin, Roles, Staff};
use super::{ApiResult, ConsoleError, ConsoleState, audit, blocking, today};
use crate::console::extract::{Json, Path, Query};
use crate::error::Code;
use crate::store::console as store;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

pub(crate) async fn queue(
    State(state): State<ConsoleState>,
    _: Staff<CommitteeOrAdmin>,
    Query(q): Query<CommitteeQuery>,
) -> ApiResult<Json<store::CommitteePage>> {
    let store = state.store.clone();
    let filter = store::CommitteeFilter {
        branch: q.branch,
        promise: q.promise,
    };
    Ok(Json(
        blocking(move || {
            store.committee_queue(&filter, q.after.as_deref(), q.limit.unwrap_or(50), today())
        })
        .await?,
    ))
}

/// A case's whole file. Routed twice: `/cases/{id}` for the committee and administrators, and
/// `/register/cases/{id}` (a person's case opened from the register) for every reader of the
/// register; `R` says which.
pub(crate) async fn case_file<R: Roles>(
    State(state): State<ConsoleState>,
    s: Staff<R>,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseFileView>> {
    let store = state.store.clone();
    let cid = id.clone();
    let file = blocking(move || store.case_file(&cid, today()))
        .await?
        .and_then(CaseFileView::of)
        .ok_or(ConsoleError::not_found())?;
    // Design: every read of a whole file is audited.
    audit(&state, &s.staff, "case.view", "case", id, json!({})).await?;
    Ok(Json(file))
}

/// A case by the number on its receipt: how the committee opens a rejected request on appeal.
pub(crate) async fn case_find(
    State(state): State<ConsoleState>,
    _: Staff<CommitteeOrAdmin>,
    Query(q): Query<FindCase>,
) -> ApiResult<Json<FoundCase>> {
    if q.number.trim().is_empty() || q.number.len() > 64 {
        return Err(ConsoleError::bad(Code::CaseNumber));
    }
    let store = state.store.clone();
    let id = blocking(move || store.case_by_number(&q.number))
        .await?
        .ok_or(ConsoleError::new(StatusCode::NOT_FOUND, Code::CaseNotFound))?;
    Ok(Json(FoundCase { id }))
}

pub(crate) async fn decide(
    State(state): State<ConsoleState>,
    s: Staff<Committee>,
    Path(id): Path<String>,
    Json(body): Json<DecideBody>,
) -> ApiResult<Json<EventView>> {
    use sila_domain::case::Transition;
    let t = match body.transition.as_str() {
        "approve" => Transition::Approve,
        "reject" => Transition::Reject,
        // An appeal (تظلم) against a rejection: back to the committee, with the grounds as note.
        "reopen" => Transition::Reopen,
        _ => return Err(ConsoleError::bad(Code::BadTransition)),
    };
    let store = state.store.clone();
    let a = s.actor()?;
    let event = blocking(move || store.decide(&id, t, &body.note, &a, Utc::now())).await?;
    Ok(Json(EventView::from(&event)))
}

pub(crate) async fn attachment(
    State(state): State<ConsoleState>,
    s: Staff<ReviewerCommitteeOrAdmin>,
    Path(sha): Path<String>,
) -> ApiResult<Response> {
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ConsoleError::bad(Code::BadRequest));
    }
    let store = state.store.clone();
    let key = sha.clone();
    let a = blocking(move || store.attachment(&key))
        .await?
        .ok_or(ConsoleError::not_found())?;
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
