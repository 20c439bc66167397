//! Signing in and out, and who is signed in: the session cookie (HttpOnly, SameSite=Strict,
//! Secure behind TLS) and the CSRF token the UI echoes on every change.

use super::json::{Done, MeView, SignIn};
use super::staff::{AnyRole, Staff, cookie_token, same_origin};
use super::{ApiResult, COOKIE, ConsoleError, ConsoleState, blocking, busy, limiter};
use crate::console::extract::Json;
use crate::error::Code;
use crate::store::HqError;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

/// How long a console session lasts.
const SESSION_HOURS: i64 = 12;

fn session_cookie(token: &str, max_age: i64, headers: &HeaderMap) -> HeaderValue {
    // Behind TLS (the production set-up) the cookie is also Secure.
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        || std::env::var("SILA_HQ_SECURE_COOKIE").is_ok_and(|v| v == "1");
    let v = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).expect("cookie is ASCII")
}

/// Largest sign-in body: a user name, a password and JSON around them.
const SIGN_IN_BODY: usize = 4 * 1024;

/// Sign in. The order is the defence (see `limiter`): the body is read up to a few KiB, an
/// over-long name or password is refused unread, the limiter reserves the attempt's place before
/// any password is checked, and the check (Argon2) waits for its turn at the [`limiter::Gate`]
/// and runs on a blocking thread that reports the outcome itself.
pub(crate) async fn sign_in(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    body: axum::body::Body,
) -> ApiResult<Response> {
    if !same_origin(&headers) {
        return Err(ConsoleError::new(StatusCode::FORBIDDEN, Code::Csrf));
    }
    // JSON only: a form another site's page could post is never a sign-in.
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        });
    if !json_body {
        return Err(ConsoleError::bad(Code::BadRequest));
    }
    let bytes = axum::body::to_bytes(body, SIGN_IN_BODY)
        .await
        .map_err(|_| ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, Code::TooLarge))?;
    let body: SignIn =
        serde_json::from_slice(&bytes).map_err(|_| ConsoleError::bad(Code::BadRequest))?;
    drop(bytes);
    if body.password.len() > limiter::MAX_PASSWORD_BYTES {
        return Err(ConsoleError::bad(Code::PasswordTooLong));
    }
    let key = body.username.trim().to_lowercase();
    // The connection's peer, when the server was started with it (`serve` always is).
    let from = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let store = state.store.clone();
    let begun = blocking(move || limiter::Attempt::begin(&store, &key, from, Utc::now())).await?;
    let attempt = match begun {
        Ok(a) => a,
        Err(limiter::Refused::NameTooLong) => return Err(ConsoleError::bad(Code::UsernameTooLong)),
        Err(limiter::Refused::TooMany) => {
            tracing::warn!("console sign-in refused: too many failed attempts");
            return Err(ConsoleError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::TooManyAttempts,
            ));
        }
    };
    let store = state.store.clone();
    let r = state
        .checks
        .run(move || {
            let r = store.sign_in(
                &body.username,
                &body.password,
                chrono::Duration::hours(SESSION_HOURS),
                Utc::now(),
            );
            attempt.finish(
                match &r {
                    Ok(_) => limiter::Outcome::Succeeded,
                    Err(HqError::Unauthorized) => limiter::Outcome::Failed,
                    Err(_) => limiter::Outcome::Undecided,
                },
                Utc::now(),
            );
            r
        })
        .await
        .map_err(|_| busy())?
        .map_err(ConsoleError::from);
    let (token, session) = match r {
        Ok(ok) => ok,
        Err(e) => {
            if e.code == Code::WrongCredentials {
                tracing::warn!("console sign-in failed");
            }
            return Err(e);
        }
    };
    tracing::info!(staff = %session.staff.id, "console sign-in");
    let mut res = Json(MeView::from(&session)).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&token, SESSION_HOURS * 3600, &headers),
    );
    Ok(res)
}

pub(crate) async fn sign_out(
    State(state): State<ConsoleState>,
    _: Staff<AnyRole>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let token = cookie_token(&headers).unwrap_or_default();
    let store = state.store.clone();
    blocking(move || store.sign_out(&token, Utc::now())).await?;
    let mut res = Json(Done::OK).into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0, &headers));
    Ok(res)
}

pub(crate) async fn me(s: Staff<AnyRole>) -> ApiResult<Json<MeView>> {
    Ok(Json(MeView::from(&*s)))
}
