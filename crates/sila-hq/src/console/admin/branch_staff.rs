//! The branches' accounts, kept at HQ and synced down: the list per branch, a new or changed one.

use crate::console::extract::{Json, Query};
use crate::console::json::{BranchQuery, BranchStaffBody, BranchStaffList, Created};
use crate::console::staff::{Admin, Staff};
use crate::console::{ApiResult, ConsoleError, ConsoleState, blocking};
use crate::error::Code;
use axum::extract::State;
use chrono::Utc;

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<Admin>,
    Query(q): Query<BranchQuery>,
) -> ApiResult<Json<BranchStaffList>> {
    let store = state.store.clone();
    let (rows, branches) = blocking(move || {
        let c = &store;
        Ok((
            c.branch_staff(q.branch.as_deref().filter(|b| !b.is_empty()))?,
            c.branches()?,
        ))
    })
    .await?;
    Ok(Json(BranchStaffList { rows, branches }))
}

pub(crate) async fn upsert(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    Json(body): Json<BranchStaffBody>,
) -> ApiResult<Json<Created>> {
    use sila_domain::staff::{Role, StaffAccount};
    let roles = body
        .roles
        .iter()
        .map(|r| Role::from_code(r).ok_or(ConsoleError::bad(Code::RolesRequired)))
        .collect::<ApiResult<Vec<_>>>()?;
    if roles.is_empty() {
        return Err(ConsoleError::bad(Code::RolesRequired));
    }
    let id = match &body.id {
        Some(i) => i.parse().map_err(|_| ConsoleError::bad(Code::BadRequest))?,
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
        return Err(ConsoleError::bad(Code::UsernameRequired));
    }
    let store = state.store.clone();
    let id = account.id.to_string();
    let by = s.actor()?;
    blocking(move || store.upsert_branch_staff(&account, &by, Utc::now())).await?;
    Ok(Json(Created { id }))
}
