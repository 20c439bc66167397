//! Who is asking: the signed-in staff member, as an axum extractor typed by the roles a route
//! needs ([`Staff<R>`]). It reads the session cookie, looks the session up, checks the CSRF token
//! (and the `Origin`) on every change, and the role; a handler that takes a `Staff<R>` runs only
//! for a person who passed all of it. Refusals: `signed_out` (401), `csrf` (403),
//! `not_permitted` (403).

use super::{ApiResult, COOKIE, ConsoleError, ConsoleRole, ConsoleSession, ConsoleState, blocking};
use crate::error::Code;
use crate::store::{HqActor, HqError};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use chrono::Utc;
use std::marker::PhantomData;

/// The roles a route admits: a signed-in person holding any one of them passes (none listed:
/// every signed-in person).
pub(crate) trait Roles {
    const ANY_OF: &'static [ConsoleRole];
}

macro_rules! roles {
    ($($(#[$doc:meta])* $name:ident = [$($role:ident),*];)*) => {$(
        $(#[$doc])*
        pub(crate) struct $name;
        impl Roles for $name {
            const ANY_OF: &'static [ConsoleRole] = &[$(ConsoleRole::$role),*];
        }
    )*};
}

roles! {
    /// Every signed-in person, whatever their role.
    AnyRole = [];
    /// Administrators (devices, releases, enrolment, accounts, the knowledge base, the audit).
    Admin = [Admin];
    /// Committee members (a decision is theirs alone).
    Committee = [Committee];
    /// Reviewers (duplicates, merges, a conflict's resolution).
    Reviewer = [Reviewer];
    /// The committee's queue and files, which administrators also see.
    CommitteeOrAdmin = [Committee, Admin];
    /// The open conflicts, a change to a person in the register, the register's export.
    ReviewerOrAdmin = [Reviewer, Admin];
    /// A person's file opened from a duplicate pair.
    ReviewerOrCommittee = [Reviewer, Committee];
    /// The register and a file's attachments.
    ReviewerCommitteeOrAdmin = [Reviewer, Committee, Admin];
}

/// The signed-in staff member a request comes from, admitted by `R` (see [`Roles`]). Derefs to
/// the session (`staff`, `csrf`, `expires_at`).
pub(crate) struct Staff<R> {
    session: ConsoleSession,
    roles: PhantomData<fn() -> R>,
}

impl<R> std::ops::Deref for Staff<R> {
    type Target = ConsoleSession;
    fn deref(&self) -> &ConsoleSession {
        &self.session
    }
}

impl<R> Staff<R> {
    /// The staff member as the rules core's actor (a decision, a merge, an edit carries it).
    pub(crate) fn actor(&self) -> Result<HqActor, HqError> {
        self.session.staff.actor()
    }
}

impl<R: Roles> FromRequestParts<ConsoleState> for Staff<R> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> ApiResult<Self> {
        let session = signed_in(state, &parts.headers, &parts.method, R::ANY_OF).await?;
        Ok(Staff {
            session,
            roles: PhantomData,
        })
    }
}

pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A request from another site is refused: when the browser names the page that sent it
/// (`Origin`), it must be this server.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    // Behind a TLS proxy the browser's host may reach us as X-Forwarded-Host instead.
    let hosts = [header::HOST.as_str(), "x-forwarded-host"].map(|h| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    });
    origin.split_once("://").is_some_and(|(_, rest)| {
        let rest = rest.trim_end_matches('/');
        hosts.iter().any(|h| !h.is_empty() && h == rest)
    })
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in person, and for a change the CSRF check. `roles`: any one of them is enough
/// (empty: any signed-in person).
pub(crate) async fn signed_in(
    state: &ConsoleState,
    headers: &HeaderMap,
    method: &Method,
    roles: &[ConsoleRole],
) -> ApiResult<ConsoleSession> {
    let token = cookie_token(headers).ok_or_else(ConsoleError::signed_out)?;
    let store = state.store.clone();
    let session = blocking(move || store.session(&token, Utc::now()))
        .await?
        .ok_or_else(ConsoleError::signed_out)?;
    if method != Method::GET && method != Method::HEAD {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_origin(headers) || !constant_eq(sent, &session.csrf) {
            tracing::warn!(staff = %session.staff.id, "console change refused: CSRF check failed");
            return Err(ConsoleError::new(StatusCode::FORBIDDEN, Code::Csrf));
        }
    }
    if !roles.is_empty() && !roles.iter().any(|r| session.staff.has(*r)) {
        return Err(ConsoleError::forbidden());
    }
    Ok(session)
}
