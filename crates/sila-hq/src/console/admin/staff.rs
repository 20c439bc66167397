//! HQ's own accounts (the console's staff): the list, a new account, a change of roles, state or
//! password (a password is hashed at the [`crate::console::limiter::Gate`]).

use crate::console::extract::{Json, Path};
use crate::console::json::{StaffAdd, StaffList, StaffSet};
use crate::console::staff::{Admin, Staff};
use crate::console::{
    ApiResult, ConsoleError, ConsoleRole, ConsoleStaff, ConsoleState, blocking, busy,
};
use crate::error::Code;
use axum::extract::State;
use chrono::Utc;

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<Admin>,
) -> ApiResult<Json<StaffList>> {
    let store = state.store.clone();
    let rows = blocking(move || store.console_staff()).await?;
    Ok(Json(StaffList { rows }))
}

fn parse_roles(roles: &[String]) -> ApiResult<Vec<ConsoleRole>> {
    roles
        .iter()
        .map(|r| ConsoleRole::from_code(r).ok_or(ConsoleError::bad(Code::RolesRequired)))
        .collect()
}

pub(crate) async fn add(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    Json(body): Json<StaffAdd>,
) -> ApiResult<Json<ConsoleStaff>> {
    let roles = parse_roles(&body.roles)?;
    let store = state.store.clone();
    let by = s.actor()?;
    // Hashing the password is a password check's cost: it takes its turn at the gate.
    let created = state
        .checks
        .run(move || {
            store.add_console_staff(
                &body.username,
                &body.display_name,
                &body.password,
                &roles,
                &by,
                Utc::now(),
            )
        })
        .await
        .map_err(|_| busy())??;
    Ok(Json(created))
}

pub(crate) async fn set(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    Path(id): Path<String>,
    Json(body): Json<StaffSet>,
) -> ApiResult<Json<ConsoleStaff>> {
    let roles = body.roles.as_deref().map(parse_roles).transpose()?;
    let store = state.store.clone();
    let password_changed = body.password.is_some();
    let by = s.actor()?;
    let change = move || {
        store.set_console_staff(
            &id,
            roles.as_deref(),
            body.active,
            body.password.as_deref(),
            &by,
            Utc::now(),
        )
    };
    // A new password is hashed: a password check's cost, so it takes its turn at the gate.
    let updated = if password_changed {
        state.checks.run(change).await.map_err(|_| busy())??
    } else {
        blocking(change).await?
    };
    Ok(Json(updated))
}
