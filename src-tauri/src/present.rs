//! How the store's, the domain's and sync's values are put to the UI: the signed-in session, a
//! field of a registration as a person reads it, a serialised enum's code, a sync error routed to
//! the form field it concerns. Shared by the command bodies (`api.rs`, `branch.rs`, `backups.rs`),
//! and below them, so that none of them imports another for these.

use crate::dto::*;
use chrono::NaiveDate;
use sila_store::Store;

/// Who is signed in, as the UI shows it.
pub(crate) fn session_info(store: &Store) -> SessionInfo {
    let s = store.session();
    SessionInfo {
        username: s.username.clone(),
        display_name: s.actor.display_name.clone(),
        roles: s.actor.roles.iter().map(|r| r.code().to_owned()).collect(),
        branch: s.branch.clone(),
    }
}

pub(crate) fn enum_code<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A sync error as the IPC's error, routed to the enrolment form's field it concerns (a store's
/// own error keeps its fields: a joining laptop's first account).
pub(crate) fn sync_error(e: sila_sync::SyncError) -> ApiError {
    let e = match e {
        sila_sync::SyncError::Store(e) => return e.into(),
        e => e,
    };
    let code = e.code();
    let message = e.arabic_message();
    let field = match code.as_str() {
        "code_invalid" | "code_expired" | "code_used" | "branch_mismatch" => Some("code"),
        "network" | "protocol" | "server_error" => Some("hq_url"),
        _ => None,
    };
    ApiError {
        fields: field
            .map(|f| {
                vec![FieldProblem {
                    field: f.into(),
                    code: code.clone(),
                    message: message.clone(),
                }]
            })
            .unwrap_or_default(),
        code,
        message,
    }
}

/// A field's value as a person reads it when choosing between two registrations.
pub(crate) fn field_text(b: &sila_domain::beneficiary::Beneficiary, field: &str) -> String {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    match field {
        "name" => b.name.full(),
        "file_number" => b.file_number.clone().unwrap_or_default(),
        "national_id" => b
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        "id_expiry" => date(b.id_expiry),
        "birth_date" => date(b.birth_date),
        "mobile" => b.mobile.as_ref().map(|m| m.national()).unwrap_or_default(),
        "nationality" => b.nationality.clone(),
        "city" => b.city.clone(),
        "centre" => b.centre.clone(),
        "district" => b.district.clone(),
        "health_conditions" => b.health_conditions.clone(),
        "household" => b
            .household
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
            .join("، "),
        "household_size" => b.household_size.map(|n| n.to_string()).unwrap_or_default(),
        "incomes" => {
            let h = b.monthly_income();
            if b.incomes.is_empty() {
                String::new()
            } else {
                format!("{}.{:02}", h / 100, h % 100)
            }
        }
        "housing" => b
            .housing
            .as_ref()
            .map(|h| enum_code(&h.kind))
            .unwrap_or_default(),
        "gender" => b.gender.as_ref().map(enum_code).unwrap_or_default(),
        "marital_status" => b.marital_status.as_ref().map(enum_code).unwrap_or_default(),
        "preferred_channel" => b
            .preferred_channel
            .map(|c| c.code().to_owned())
            .unwrap_or_default(),
        "categories" => b
            .categories
            .iter()
            .map(enum_code)
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}
