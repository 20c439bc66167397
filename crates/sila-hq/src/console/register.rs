//! HQ's register (issue 11, point 8): staff at HQ search every branch's people, open a person's
//! whole file, change one field of a person, and export the register. Seeing it is for HQ's
//! reviewers, the committee and administrators; changing a person or exporting the register is
//! for reviewers and administrators (who already correct records: conflicts, merges). Every read
//! of a file, every edit and every export is audited, with field names and IDs only. What is
//! searched for (a name, an ID, a mobile) travels in a POST's body, never in a URL, so no proxy's
//! access log or browser history keeps it.

use super::json::{EditBody, Edited, PersonFileView};
use super::staff::{ReviewerCommitteeOrAdmin, ReviewerOrAdmin, Staff};
use super::{ApiResult, ConsoleError, ConsoleState, audit, blocking, export, today};
use crate::console::extract::{Json, Path};
use crate::store::register::RegisterQuery;
use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use serde_json::json;
use sila_export::{Cell, Table};

/// The most people one export holds.
const EXPORT_MAX: usize = 200_000;

pub(super) async fn search(
    State(state): State<ConsoleState>,
    _: Staff<ReviewerCommitteeOrAdmin>,
    Json(q): Json<RegisterQuery>,
) -> ApiResult<Json<crate::store::register::RegisterPage>> {
    let store = state.store.clone();
    Ok(Json(blocking(move || store.register(&q)).await?))
}

pub(super) async fn person(
    State(state): State<ConsoleState>,
    s: Staff<ReviewerCommitteeOrAdmin>,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonFileView>> {
    let store = state.store.clone();
    let pid = id.clone();
    let file = blocking(move || store.person_file(&pid, today()))
        .await?
        .and_then(PersonFileView::of)
        .ok_or(ConsoleError::not_found())?;
    // Design: every read of a whole file is audited.
    audit(
        &state,
        &s.staff,
        "person.view",
        "beneficiary",
        id,
        json!({}),
    )
    .await?;
    Ok(Json(file))
}

pub(super) async fn edit(
    State(state): State<ConsoleState>,
    s: Staff<ReviewerOrAdmin>,
    Path(id): Path<String>,
    Json(body): Json<EditBody>,
) -> ApiResult<Json<Edited>> {
    let store = state.store.clone();
    let field = body.field.clone();
    let by = s.actor()?;
    let outcome =
        blocking(move || store.edit_person(&by, &id, &body.field, &body.value, Utc::now())).await?;
    match outcome {
        Ok(version) => Ok(Json(Edited { version })),
        // The domain's own reason, in Arabic, for the field it is about (never the value).
        Err(errors) => {
            let first = errors.into_iter().next();
            Err(match first {
                Some(e) => ConsoleError::field_refused(e.field, Some(e.code), Some(e.message)),
                None => ConsoleError::field_refused(field, None, None),
            })
        }
    }
}

/// `register.csv` or `register.xlsx`: the people answering the query (everyone without one),
/// with the branch's own export columns after the branch (mobiles as 05…, formulas guarded).
pub(super) async fn export_register(
    State(state): State<ConsoleState>,
    s: Staff<ReviewerOrAdmin>,
    Path(name): Path<String>,
    Json(q): Json<RegisterQuery>,
) -> ApiResult<Response> {
    let format = export::Format::of_download(&name, "register").ok_or(ConsoleError::not_found())?;
    let store = state.store.clone();
    let query = q.clone();
    let (bytes, n) = blocking(move || {
        let people = store.register_export(&query, EXPORT_MAX)?;
        let mut headers = vec!["الفرع".to_owned()];
        headers.extend(
            sila_export::beneficiary::BENEFICIARY_HEADERS
                .iter()
                .map(|h| h.to_string()),
        );
        let rows: Vec<Vec<Cell>> = people
            .iter()
            .map(|(branch, b)| {
                let mut row = vec![Cell::Text(branch.clone())];
                row.extend(sila_export::beneficiary::beneficiary_row(b));
                row
            })
            .collect();
        let table = Table {
            name: "سجل المستفيدين".into(),
            headers,
            rows,
        };
        Ok((export::render(&[table], format)?, people.len()))
    })
    .await?;
    audit(
        &state,
        &s.staff,
        "export",
        "export",
        name,
        json!({"branch": q.branch, "searched": !q.q.trim().is_empty(), "rows": n}),
    )
    .await?;
    Ok(export::download(bytes, format, "register"))
}
