// The one list of the window's commands. A command is added here and nowhere else.
//
// This file is one `commands!` invocation, included twice with two meanings of the macro:
// `commands.rs` makes the Tauri command of each entry, `commands::ALL` and the invoke handler
// that `lib.rs` registers; `build.rs` takes only the names, for the app manifest (one
// `allow-NAME` permission each) and the `sila-window` permission set that
// `capabilities/main.json` grants to the window. So a command cannot be defined without being
// registered, registered without being permitted, or permitted without existing.
//
// `wrapped`: a one-line command that runs `api::NAME(&desk, args…)` on a blocking thread.
// `own`: a command written out by hand in `commands.rs` (raw bodies, the window itself).
commands! {
    wrapped {
        app_status() -> AppStatus;
        first_run(input: FirstRunInput) -> SessionInfo;
        sign_in(input: SignInInput) -> SessionInfo;
        sign_out() -> ();
        touch() -> bool;
        catalog() -> CatalogDto;
        home() -> HomeDto;
        complete_task(id: String) -> ();
        snooze_task(id: String, until: String) -> ();
        assign_task(id: String, to: Option<String>) -> ();
        add_task(input: TaskInput) -> ();
        sync_status() -> SyncStatusDto;
        sync_now() -> SyncStatusDto;
        enroll(input: EnrollInput) -> SyncStatusDto;
        join_branch(input: JoinInput) -> SessionInfo;
        lookup_national_id(national_id: String) -> LookupDto;
        sync_issues() -> SyncIssuesDto;
        backup_places() -> Vec<BackupPlaceDto>;
        save_backup(place: String) -> BackupDto;
        find_backups() -> Vec<BackupFileDto>;
        restore_backup(input: RestoreInput) -> SessionInfo;
        search(query: String, limit: u32) -> Vec<BeneficiaryRow>;
        beneficiary_row(id: String) -> Option<BeneficiaryRow>;
        beneficiaries_page(offset: u32, limit: u32) -> BeneficiaryPage;
        cases_page(query: CaseQuery) -> CasePage;
        beneficiary_form(id: String) -> PersonFormDto;
        save_beneficiary(input: PersonFormDto) -> PersonFormDto;
        same_national_id(national_id: String, except: Option<String>) -> Vec<BeneficiaryRow>;
        check_id(id: String) -> IdCheck;
        case_file(id: String) -> CaseFileDto;
        correct_case(input: CaseCorrection) -> ();
        attach_case_document(case_id: String, code: String, sha256: String) -> ();
        mark_document_seen(case_id: String, code: String, seen: bool) -> ();
        merge_preview(survivor_id: String, merged_id: String) -> MergePreview;
        merge_beneficiaries(input: MergeInput) -> String;
        unmerge_beneficiaries(merge_id: String) -> Vec<String>;
        beneficiary_merges(id: String) -> Vec<MergeDto>;
        beneficiary_cases(id: String) -> CasePage;
        transition(input: TransitionInput) -> ();
        research_report(input: ReportInput) -> ();
        record_delivery(input: DeliveryInput) -> ();
        record_survey(input: SurveyInput) -> ();
        complaints() -> Vec<ComplaintDto>;
        person_file(id: String) -> PersonFileDto;
        log_interaction(input: InteractionInput) -> ();
        intake_drafts() -> Vec<DraftSummary>;
        intake_draft(id: String) -> IntakeDraft;
        save_intake_draft(id: Option<String>, draft: IntakeDraft) -> String;
        discard_intake_draft(id: String) -> ();
        restore_intake_draft(id: String) -> ();
        hand_over_draft(id: String, to: String) -> ();
        colleagues() -> Vec<Colleague>;
        validate_intake(draft: IntakeDraft, step: u8) -> Vec<FieldProblem>;
        submit_intake(id: String) -> Receipt;
        receipt(id: String) -> Receipt;
        import_sheet(token: String) -> ImportResultDto;
        import_progress() -> Option<ImportProgressDto>;
        cancel_import() -> ();
        export_data(format: String) -> Vec<String>;
        staff() -> Vec<StaffDto>;
        add_staff(input: StaffInput) -> ();
        set_staff_active(username: String, active: bool, password: Option<String>) -> ();
        reset_password(username: String, password: String) -> ();
        set_staff_roles(username: String, roles: Vec<String>) -> ();
        kb_documents() -> Vec<KbDocDto>;
        add_kb_document(input: KbInput) -> ();
        compact_store() -> CompactDto;
        compact_progress() -> Option<CompactProgressDto>;
    }
    own {
        upload,
        import_preview,
        file,
        print_page,
        ui_ready,
        install_update,
    }
}
