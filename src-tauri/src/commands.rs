//! The Tauri commands: each is a one-line wrapper that runs its body from [`crate::api`] on a
//! blocking thread (SQLite and Argon2 never run on the window's thread) and logs its name,
//! outcome code and duration. The list here and in build.rs's app manifest is the whole IPC
//! surface; the capability file grants exactly these.

use crate::api;
use crate::dto::*;
use crate::log;
use crate::state::Desk;
use std::sync::Arc;
use std::time::Instant;
use tauri::State;

async fn run<T: Send + 'static>(
    name: &'static str,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let out = tauri::async_runtime::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ApiError::internal()));
    let outcome = match &out {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    log::line(name, outcome, started.elapsed().as_millis());
    out
}

macro_rules! commands {
    ($( $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $out:ty; )*) => {
        $(
            #[tauri::command]
            pub async fn $name(desk: State<'_, Arc<Desk>>, $( $arg: $ty ),*) -> Result<$out, ApiError> {
                let desk = Arc::clone(&desk);
                run(stringify!($name), move || api::$name(&desk, $( $arg ),*)).await
            }
        )*
    };
}

commands! {
    app_status() -> AppStatus;
    first_run(input: FirstRunInput) -> SessionInfo;
    sign_in(input: SignInInput) -> SessionInfo;
    sign_out() -> ();
    touch() -> bool;
    catalog() -> CatalogDto;
    home() -> HomeDto;
    complete_task(id: String) -> ();
    sync_status() -> SyncStatusDto;
    sync_now() -> SyncStatusDto;
    enroll(input: EnrollInput) -> SyncStatusDto;
    search(query: String, limit: u32) -> Vec<BeneficiaryRow>;
    beneficiary_row(id: String) -> Option<BeneficiaryRow>;
    beneficiaries_page(offset: u32, limit: u32) -> BeneficiaryPage;
    cases_page(query: CaseQuery) -> CasePage;
    check_id(id: String) -> IdCheck;
    case_file(id: String) -> CaseFileDto;
    beneficiary_cases(id: String) -> CasePage;
    transition(input: TransitionInput) -> ();
    research_report(input: ReportInput) -> ();
    record_delivery(input: DeliveryInput) -> ();
    record_survey(input: SurveyInput) -> ();
    log_interaction(input: InteractionInput) -> ();
    intake_draft() -> Option<IntakeDraft>;
    save_intake_draft(draft: IntakeDraft) -> ();
    discard_intake_draft() -> ();
    validate_intake(draft: IntakeDraft, step: u8) -> Vec<FieldProblem>;
    submit_intake() -> Receipt;
    receipt(id: String) -> Receipt;
    staff() -> Vec<StaffDto>;
    add_staff(input: StaffInput) -> ();
    set_staff_active(username: String, active: bool, password: Option<String>) -> ();
    reset_password(username: String, password: String) -> ();
    set_staff_roles(username: String, roles: Vec<String>) -> ();
    kb_documents() -> Vec<KbDocDto>;
    add_kb_document(input: KbInput) -> ();
}

/// A scan, signature or document, sent as the raw request body (no JSON number arrays).
#[tauri::command]
pub async fn upload(
    desk: State<'_, Arc<Desk>>,
    request: tauri::ipc::Request<'_>,
) -> Result<StoredFile, ApiError> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(ApiError::bad_input("file"));
    };
    let bytes = bytes.clone();
    let desk = Arc::clone(&desk);
    run("upload", move || api::upload(&desk, bytes)).await
}

/// A stored file's bytes, returned raw.
#[tauri::command]
pub async fn file(
    desk: State<'_, Arc<Desk>>,
    sha256: String,
) -> Result<tauri::ipc::Response, ApiError> {
    let desk = Arc::clone(&desk);
    run("file", move || api::file(&desk, sha256))
        .await
        .map(tauri::ipc::Response::new)
}

/// Print the current page (the receipt or the request form, laid out by the print stylesheet).
#[tauri::command]
pub async fn print_page(window: tauri::WebviewWindow) -> Result<(), ApiError> {
    window
        .print()
        .map_err(|_| ApiError::new("print_failed", "تعذرت الطباعة."))
}

/// The UI reports its home screen is interactive. Only the startup benchmark listens: it prints
/// the time since the process started, once.
#[tauri::command]
pub async fn ui_ready(desk: State<'_, Arc<Desk>>, screen: String) -> Result<(), ApiError> {
    if desk.bench.is_some() {
        let ms = crate::started().elapsed().as_secs_f64() * 1000.0;
        let screen: String = screen
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        println!("SILA_READY {screen} {ms:.0}");
    }
    Ok(())
}

/// Every command the window may call, for build.rs's app manifest and the tests.
pub const ALL: &[&str] = &[
    "app_status",
    "first_run",
    "sign_in",
    "sign_out",
    "touch",
    "catalog",
    "home",
    "complete_task",
    "sync_status",
    "sync_now",
    "enroll",
    "search",
    "beneficiary_row",
    "beneficiaries_page",
    "cases_page",
    "check_id",
    "case_file",
    "beneficiary_cases",
    "transition",
    "research_report",
    "record_delivery",
    "record_survey",
    "log_interaction",
    "intake_draft",
    "save_intake_draft",
    "discard_intake_draft",
    "validate_intake",
    "submit_intake",
    "receipt",
    "staff",
    "add_staff",
    "set_staff_active",
    "reset_password",
    "set_staff_roles",
    "kb_documents",
    "add_kb_document",
    "upload",
    "file",
    "print_page",
    "ui_ready",
];

#[cfg(test)]
mod tests {
    /// A command the window cannot call is dead; one granted but not registered is a hole in the
    /// least-privilege story. The three lists must agree.
    #[test]
    fn every_command_is_in_the_manifest_and_granted_to_the_window() {
        let capability = include_str!("../capabilities/main.json");
        let manifest = include_str!("../build.rs");
        let registered = include_str!("lib.rs");
        for c in super::ALL {
            assert!(
                capability.contains(&format!("\"allow-{}\"", c.replace('_', "-"))),
                "{c} not granted"
            );
            assert!(
                manifest.contains(&format!("\"{c}\"")),
                "{c} not in build.rs's app manifest"
            );
            assert!(
                registered.contains(&format!("commands::{c},")),
                "{c} not registered"
            );
        }
        let granted = capability.matches("allow-").count();
        assert_eq!(
            granted,
            super::ALL.len() + 2,
            "only Sila's commands and event listen/unlisten"
        );
    }
}
