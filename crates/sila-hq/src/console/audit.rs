//! The audit of console actions: recording one, and the administrators' page that reads them.

use super::json::LimitQuery;
use super::staff::{Admin, Staff};
use super::{ApiResult, ConsoleStaff, ConsoleState, blocking};
use axum::Json;
use axum::extract::{Query, State};
use chrono::Utc;
use serde_json::{Value, json};

/// Record a console action (after it succeeded). An audit that cannot be written fails the
/// request: the action is done, but the person is told, and the log says why.
pub(crate) async fn audit(
    state: &ConsoleState,
    staff: &ConsoleStaff,
    action: &'static str,
    entity: &'static str,
    entity_id: String,
    detail: Value,
) -> ApiResult<()> {
    let store = state.store.clone();
    let staff = staff.clone();
    blocking(move || store.audit(&staff, action, entity, &entity_id, &detail, Utc::now())).await
}

pub(crate) async fn log(
    State(state): State<ConsoleState>,
    _: Staff<Admin>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let store = state.store.clone();
    let rows = blocking(move || store.audit_log(q.before, q.limit.unwrap_or(100))).await?;
    Ok(Json(json!({"rows": rows})))
}
