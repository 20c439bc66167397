//! HQ's dashboard, and the dashboard's and committee queue's downloads (CSV, XLSX).

use super::json::ExportQuery;
use super::staff::{AnyRole, CommitteeOrAdmin, Roles, Staff, signed_in};
use super::{ApiResult, ConsoleError, ConsoleState, audit, blocking, export, today};
use crate::console::extract::{Json, Path, Query};
use crate::error::Code;
use crate::store::console as store;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde_json::json;

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    _: Staff<AnyRole>,
    Query(f): Query<store::DashFilter>,
) -> ApiResult<Json<store::Dashboard>> {
    let store = state.store.clone();
    Ok(Json(blocking(move || store.dashboard(&f, today())).await?))
}

/// `/export/dashboard.csv|xlsx` and `/export/committee.csv|xlsx`.
pub(crate) async fn download(
    State(state): State<ConsoleState>,
    method: Method,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let (what, ext) = name
        .rsplit_once('.')
        .ok_or(ConsoleError::bad(Code::BadRequest))?;
    let format = export::Format::from_ext(ext).ok_or(ConsoleError::bad(Code::BadRequest))?;
    // Who may download depends on the file, so this route checks its staff member itself (after
    // the name, as it always did): the dashboard is everyone's, the queue the committee's.
    let roles = match what {
        "dashboard" => AnyRole::ANY_OF,
        "committee" => CommitteeOrAdmin::ANY_OF,
        _ => return Err(ConsoleError::not_found()),
    };
    let s = signed_in(&state, &headers, &method, roles).await?;
    let store = state.store.clone();
    let what_owned = what.to_owned();
    let (branch, channel, promise) = (q.branch.clone(), q.channel.clone(), q.promise.clone());
    let bytes = blocking(move || {
        let c = &store;
        let tables = if what_owned == "dashboard" {
            export::dashboard_tables(&c.dashboard(&store::DashFilter { branch, channel }, today())?)
        } else {
            let filter = store::CommitteeFilter { branch, promise };
            // The whole queue (bounded: an export is for people, not a dump).
            let rows = c.committee_export(&filter, today(), 100_000)?;
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
