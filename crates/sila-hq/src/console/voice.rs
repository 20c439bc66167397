//! Complaints and suggestions of every branch on HQ's dashboards (issue 11, point 4): counted by
//! where their answer stands (open, overdue, answered on time, answered late: the due date is the
//! branch's policy, already in each synced task), per branch, with a list a person opens to read
//! the contact and the answer given. Opening one is audited.

use super::json::VoiceItemView;
use super::staff::{AnyRole, Staff};
use super::{ApiResult, ConsoleError, ConsoleState, audit, blocking, today};
use crate::console::extract::{Json, Path, Query};
use crate::store::register::{VoiceFilter, VoicePage};
use axum::extract::State;
use serde_json::json;

pub(super) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<AnyRole>,
    Query(f): Query<VoiceFilter>,
) -> ApiResult<Json<VoicePage>> {
    let store = state.store.clone();
    Ok(Json(blocking(move || store.voice(&f, today())).await?))
}

pub(super) async fn item(
    State(state): State<ConsoleState>,
    s: Staff<AnyRole>,
    Path(id): Path<String>,
) -> ApiResult<Json<VoiceItemView>> {
    let store = state.store.clone();
    let tid = id.clone();
    let item = blocking(move || store.voice_item(&tid, today()))
        .await?
        .ok_or(ConsoleError::not_found())?;
    audit(&state, &s.staff, "voice.view", "task", id, json!({})).await?;
    Ok(Json(VoiceItemView::from(item)))
}
