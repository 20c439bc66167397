//! Embeds the built UI. `ui/dist` is produced by `npm run build` in ui/ (the setup script and
//! `.ci/start` run it first). When it is missing, a one-page placeholder is written so that
//! `cargo test --workspace` still compiles the shell on a machine that has not built the UI.
fn main() {
    let dist = std::path::Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("create ui/dist");
        std::fs::write(
            dist.join("index.html"),
            "<!doctype html><html lang=\"ar\" dir=\"rtl\"><meta charset=\"utf-8\"><title>صلة</title>\
             <p>واجهة البرنامج لم تُبنَ بعد: شغّل npm run build في مجلد ui.</p></html>",
        )
        .expect("write placeholder ui/dist/index.html");
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    // The app manifest makes each command a permission; capabilities/main.json grants them to the
    // main window. A command missing from either list cannot be called.
    let commands: &[&str] = &[
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
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build step");
}
