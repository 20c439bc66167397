//! The knowledge base: the documents every signed-in person reads, and an administrator
//! publishing one (a file is checked by its bytes).

use crate::console::extract::Json;
use crate::console::json::{Created, KbBody, KbList};
use crate::console::staff::{Admin, AnyRole, Staff};
use crate::console::{ApiResult, ConsoleError, ConsoleState, blocking};
use crate::error::Code;
use axum::extract::State;
use chrono::Utc;

pub(crate) async fn list(
    State(state): State<ConsoleState>,
    _: Staff<AnyRole>,
) -> ApiResult<Json<KbList>> {
    let store = state.store.clone();
    let rows = blocking(move || store.kb_documents()).await?;
    Ok(Json(KbList { rows }))
}

/// What a knowledge-base file is, by its bytes (never by its name or the browser's word).
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

pub(crate) async fn publish(
    State(state): State<ConsoleState>,
    s: Staff<Admin>,
    Json(body): Json<KbBody>,
) -> ApiResult<Json<Created>> {
    if body.title.trim().is_empty() {
        return Err(ConsoleError::bad(Code::TitleRequired));
    }
    let file = match body.file_base64.as_deref().filter(|f| !f.is_empty()) {
        Some(b64) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ConsoleError::bad(Code::BadFile))?;
            let mime = sniff(&bytes).ok_or(ConsoleError::bad(Code::BadFile))?;
            if bytes.len() as i64 > crate::rules::ops::MAX_ATTACHMENT {
                return Err(ConsoleError::bad(Code::BadFile));
            }
            Some((bytes, mime))
        }
        None => None,
    };
    let store = state.store.clone();
    let by = s.actor()?;
    let id = blocking(move || {
        store.publish_document(
            &body.title,
            &body.body,
            file.as_ref().map(|(b, m)| (b.as_slice(), *m)),
            &by,
            Utc::now(),
        )
    })
    .await?;
    Ok(Json(Created { id }))
}
