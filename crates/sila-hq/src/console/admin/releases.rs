//! Releases of the desktop app: the list, and an administrator publishing one (signed with HQ's
//! update key).

use crate::console::extract::{Body, Json, Query};
use crate::console::json::{PublishedRelease, ReleaseList, ReleaseQuery};
use crate::console::staff::{Admin, Staff};
use crate::console::{ApiResult, ConsoleError, ConsoleState, blocking};
use crate::error::Code;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;

/// Published releases of the desktop app, with how many devices run each (the devices page shows
/// each device's version).
pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<Admin>,
) -> ApiResult<Json<ReleaseList>> {
    let store = state.store.clone();
    let releases = blocking(move || store.releases()).await?;
    Ok(Json(ReleaseList { releases }))
}

/// Largest package an administrator may publish (the .deb is about 15 MB).
const MAX_RELEASE: usize = 256 * 1024 * 1024;

/// The header that carries a release's signature (the `.sig` file's base64 text) beside its
/// package, which is the request's body as is.
const SIGNATURE_HEADER: &str = "x-release-signature";

/// An administrator publishes a release: the package as the body, the signature in a header;
/// refused unless it verifies against HQ's update key.
pub(crate) async fn publish(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    headers: HeaderMap,
    Query(q): Query<ReleaseQuery>,
    Body(body): Body<MAX_RELEASE>,
) -> ApiResult<Json<PublishedRelease>> {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConsoleError::bad(Code::SignatureRequired))?
        .to_owned();
    let store = state.store.clone();
    let by = s.actor()?;
    let release =
        blocking(move || store.publish_release(&q.version, &body, &signature, &by, Utc::now()))
            .await?;
    Ok(Json(PublishedRelease {
        version: release.version,
        sha256: release.sha256,
        size: release.size,
    }))
}
