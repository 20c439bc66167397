//! The console's UI: the embedded `ui/dist-hq` files (see [`super::assets`]).

use super::{ConsoleError, assets};
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) async fn index() -> Response {
    serve_asset("hq.html")
}

pub(crate) async fn asset(Path(path): Path<String>) -> Response {
    serve_asset(&path)
}

fn serve_asset(path: &str) -> Response {
    if assets::ASSETS.is_empty() {
        // A build without the UI: say so plainly instead of serving an empty page.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            assets::NOT_BUILT_PAGE,
        )
            .into_response();
    }
    match assets::ASSETS.iter().find(|(p, _)| *p == path) {
        Some((p, bytes)) => {
            let cache = if p.starts_with("assets/") {
                // Vite names them by content hash.
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            (
                [
                    (header::CONTENT_TYPE, assets::mime(p)),
                    (header::CACHE_CONTROL, cache),
                ],
                Bytes::from_static(bytes),
            )
                .into_response()
        }
        None => ConsoleError::not_found().into_response(),
    }
}
