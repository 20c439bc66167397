//! The request's body, query and path as the handlers read them: axum's `Json`, `Query` and
//! `Path`, but a request they cannot read (not JSON, a field of the wrong type, a number that is
//! not one, a body over the limit) is refused as every console error is, `{code, message}` built
//! by [`ConsoleError`], instead of axum's plain-text rejection (whose wording can quote the
//! request). The status stays axum's: 400, 413, 415 or 422. A body read as bytes ([`Body`]) has its
//! own limit, checked against the Content-Length before anything is read.

use super::ConsoleError;
use crate::error::Code;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A JSON body read, or a JSON answer written.
pub struct Json<T>(pub T);

/// A query string read.
pub struct Query<T>(pub T);

/// A path's parameters read.
pub struct Path<T>(pub T);

/// A body read as bytes, at most `MAX` of them. A request whose Content-Length says more is
/// refused before its body is read (axum's own limit reads up to the limit first), and one sent
/// without a length is refused once it passes `MAX`: both `too_large` (413).
pub struct Body<const MAX: usize>(pub axum::body::Bytes);

/// Axum refused to read a request at `status`: the console's refusal with the same status.
fn unreadable(status: StatusCode) -> ConsoleError {
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        Code::TooLarge
    } else if status.is_server_error() {
        tracing::error!(%status, "console request could not be read");
        Code::ServerError
    } else {
        Code::BadRequest
    };
    ConsoleError::new(status, code)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ConsoleError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(unreadable(rejection.status())),
        }
    }
}

impl<const MAX: usize, S: Send + Sync> FromRequest<S> for Body<MAX> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ConsoleError> {
        let too_large = || ConsoleError::new(StatusCode::PAYLOAD_TOO_LARGE, Code::TooLarge);
        let said = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if said.is_some_and(|n| n > MAX as u64) {
            return Err(too_large());
        }
        let mut read = bytes::BytesMut::new();
        let mut chunks = req.into_body().into_data_stream();
        while let Some(chunk) = chunks.next().await {
            // An error is the client stopping mid-body (or hyper refusing what it sent).
            let chunk = chunk.map_err(|_| ConsoleError::bad(Code::BadRequest))?;
            if read.len() + chunk.len() > MAX {
                return Err(too_large());
            }
            read.extend_from_slice(&chunk);
        }
        Ok(Body(read.freeze()))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(unreadable(rejection.status())),
        }
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(unreadable(rejection.status())),
        }
    }
}
