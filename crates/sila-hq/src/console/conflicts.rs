//! Conflicts between a branch's change and HQ's: the open ones with whose record they are, and a
//! reviewer's resolution.

use super::json::{ConflictList, ConflictView, Done, ResolveBody};
use super::staff::{Reviewer, ReviewerOrAdmin, Staff};
use super::{ApiResult, ConsoleError, ConsoleState, blocking};
use crate::console::extract::{Json, Path};
use crate::error::Code;
use crate::store::Resolution;
use axum::extract::State;
use chrono::Utc;

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<ReviewerOrAdmin>,
) -> ApiResult<Json<ConflictList>> {
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
            out.push(ConflictView {
                id: c.id,
                entity: c.entity,
                entity_id: c.entity_id,
                field: c.field,
                hq_value: c.hq_value,
                branch_value: c.branch_value,
                device_id: c.device_id,
                seq: c.seq,
                reason: c.reason,
                resolved: c.resolved,
                name,
                branch,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(ConflictList { rows }))
}

pub(crate) async fn resolve(
    State(state): State<ConsoleState>,
    s: Staff<Reviewer>,
    Path(id): Path<i64>,
    Json(body): Json<ResolveBody>,
) -> ApiResult<Json<Done>> {
    let how = match body.take.as_str() {
        "hq" => Resolution::KeepHq,
        "branch" => Resolution::TakeBranch,
        _ => return Err(ConsoleError::bad(Code::BadRequest)),
    };
    let store = state.store.clone();
    let by = s.actor()?;
    blocking(move || store.resolve_conflict(id, how, &by, Utc::now())).await?;
    Ok(Json(Done::OK))
}
