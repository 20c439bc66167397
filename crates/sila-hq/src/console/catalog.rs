//! What every page needs to name things: the catalog's support and document types, and the
//! branches HQ knows.

use super::json::{BranchList, CatalogView};
use super::staff::{AnyRole, Staff};
use super::{ApiResult, ConsoleState, blocking};
use crate::console::extract::Json;
use axum::extract::State;

/// Support and document types with their names (the console shows names, never codes).
pub(crate) async fn catalog(_: Staff<AnyRole>) -> ApiResult<Json<CatalogView>> {
    let c = sila_domain::catalog::Catalog::arabic_defaults();
    Ok(Json(CatalogView::from(&c)))
}

pub(crate) async fn branches(
    State(state): State<ConsoleState>,
    _: Staff<AnyRole>,
) -> ApiResult<Json<BranchList>> {
    let store = state.store.clone();
    let branches = blocking(move || store.branches()).await?;
    Ok(Json(BranchList { branches }))
}
