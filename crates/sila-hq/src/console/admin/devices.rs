//! Devices and their enrolment: the list (with the branches), a revocation, an enrolment code.

use crate::console::extract::{Json, Path};
use crate::console::json::{DevicesView, Done, EnrolBody, EnrolCode};
use crate::console::staff::{Admin, Staff};
use crate::console::{ApiResult, ConsoleError, ConsoleState, blocking};
use crate::error::Code;
use axum::extract::State;
use chrono::{DateTime, Utc};

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<Admin>,
) -> ApiResult<Json<DevicesView>> {
    let store = state.store.clone();
    let (devices, branches) = blocking(move || Ok((store.devices()?, store.branches()?))).await?;
    Ok(Json(DevicesView { devices, branches }))
}

pub(crate) async fn revoke(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    Path(id): Path<String>,
) -> ApiResult<Json<Done>> {
    let store = state.store.clone();
    let by = s.actor()?;
    blocking(move || store.revoke_device(&id, &by, Utc::now())).await?;
    Ok(Json(Done::OK))
}

pub(crate) async fn enrol_code(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    Json(body): Json<EnrolBody>,
) -> ApiResult<Json<EnrolCode>> {
    let ttl = body.ttl_hours.unwrap_or(72).clamp(1, 24 * 30);
    let store = state.store.clone();
    let branch = body.branch.trim().to_owned();
    if branch.is_empty() {
        return Err(ConsoleError::bad(Code::BranchRequired));
    }
    let by = s.actor()?;
    let code = blocking(move || {
        store.create_enrol_code(&branch, chrono::Duration::hours(ttl), &by, Utc::now())
    })
    .await?;
    let expires: DateTime<Utc> = Utc::now() + chrono::Duration::hours(ttl);
    Ok(Json(EnrolCode {
        code,
        expires_at: expires.to_rfc3339(),
    }))
}
