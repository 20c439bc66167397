//! The audit: recording a read, and the administrators' page that reads every row. A change is
//! audited by the store, in the change's own transaction (`storage::Tx::audit`), so the console
//! never writes a change's row after the fact.

use super::json::{AuditList, LimitQuery};
use super::staff::{Admin, Staff};
use super::{ApiResult, ConsoleStaff, ConsoleState, blocking};
use crate::console::extract::{Json, Query};
use crate::store::Audit;
use axum::extract::State;
use chrono::Utc;
use serde_json::Value;

/// Record a read that changes nothing (a whole file opened, an export), before its answer is
/// sent: an audit that cannot be written fails the request, so nothing is shown unaudited.
pub(crate) async fn audit(
    state: &ConsoleState,
    staff: &ConsoleStaff,
    action: &'static str,
    entity: &'static str,
    entity_id: String,
    detail: Value,
) -> ApiResult<()> {
    let store = state.store.clone();
    let by = staff.actor()?;
    blocking(move || {
        store.audit(
            &Audit::new(&by, action, entity, entity_id).detail(detail),
            Utc::now(),
        )
    })
    .await
}

pub(crate) async fn log(
    State(state): State<ConsoleState>,
    _: Staff<Admin>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<AuditList>> {
    let store = state.store.clone();
    let rows = blocking(move || store.audit_log(q.before, q.limit.unwrap_or(100))).await?;
    Ok(Json(AuditList { rows }))
}
