//! Possible duplicates across branches: the pairs, a person's file to compare, a merge (and its
//! undo), and "not the same person".

use super::json::{
    BeneficiaryFileView, Done, DuplicateList, LimitQuery, MergeBody, MergeList, MergeView, Merged,
    PairBody,
};
use super::staff::{Reviewer, ReviewerOrCommittee, Staff};
use super::{ApiResult, ConsoleError, ConsoleState, audit, blocking};
use crate::console::extract::{Json, Path, Query};
use crate::error::Code;
use axum::extract::State;
use chrono::Utc;
use serde_json::json;

pub(crate) async fn pairs(
    State(state): State<ConsoleState>,
    _: Staff<Reviewer>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<DuplicateList>> {
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let pairs = blocking(move || store.duplicate_candidates(limit)).await?;
    Ok(Json(DuplicateList { pairs }))
}

pub(crate) async fn beneficiary(
    State(state): State<ConsoleState>,
    s: Staff<ReviewerOrCommittee>,
    Path(id): Path<String>,
) -> ApiResult<Json<BeneficiaryFileView>> {
    let store = state.store.clone();
    let bid = id.clone();
    let file = blocking(move || store.beneficiary_file(&bid))
        .await?
        .and_then(BeneficiaryFileView::of)
        .ok_or(ConsoleError::not_found())?;
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

pub(crate) async fn merge(
    State(state): State<ConsoleState>,
    s: Staff<Reviewer>,
    Json(body): Json<MergeBody>,
) -> ApiResult<Json<Merged>> {
    let store = state.store.clone();
    let a = s.actor()?;
    let id = blocking(move || {
        store.merge_duplicates(&body.survivor, &body.merged, &body.fields, &a, Utc::now())
    })
    .await
    .map_err(|e| {
        if e.code == Code::BadRequest {
            ConsoleError::bad(Code::DuplicateValue)
        } else {
            e
        }
    })?;
    Ok(Json(Merged { merge_id: id }))
}

pub(crate) async fn not_same(
    State(state): State<ConsoleState>,
    s: Staff<Reviewer>,
    Json(body): Json<PairBody>,
) -> ApiResult<Json<Done>> {
    let store = state.store.clone();
    let a = s.actor()?;
    blocking(move || store.mark_not_same(&body.a, &body.b, &a, Utc::now())).await?;
    Ok(Json(Done::OK))
}

pub(crate) async fn merges(
    State(state): State<ConsoleState>,
    _: Staff<Reviewer>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<MergeList>> {
    let store = state.store.clone();
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let rows = blocking(move || store.merges(limit)).await?;
    let rows = rows.into_iter().map(MergeView::from).collect();
    Ok(Json(MergeList { rows }))
}

pub(crate) async fn undo(
    State(state): State<ConsoleState>,
    s: Staff<Reviewer>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Done>> {
    let store = state.store.clone();
    let a = s.actor()?;
    blocking(move || store.undo_merge(id, &a, Utc::now())).await?;
    Ok(Json(Done::OK))
}
