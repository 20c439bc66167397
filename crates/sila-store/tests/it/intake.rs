//! Submitting an intake: one store operation, one transaction. The whole intake (a new person, the
//! request with its documents and declaration, the inquiry, the submission, the draft's deletion)
//! commits together or not at all.

use super::*;
use sila_domain::case::{
    Applicant, CaseState, Intake, IntakeDocument, IntakeSignature, Signature, Transition,
};
use sila_domain::catalog::Channel;
use sila_store::StoreError;
use sila_store::demo::PNG_1X1;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF";

/// A draft of the wizard, as the desk saves one while it types.
fn new_draft(store: &mut Store, data: &serde_json::Value) -> String {
    store.save_draft(None, "intake", data).unwrap()
}

fn draft_data(store: &Store, id: &str) -> Option<serde_json::Value> {
    store.draft(id).unwrap().map(|d| d.data)
}

/// A complete intake for someone new asking for rent support, with every required document
/// attached and seen, and a signature drawn on screen.
fn complete_intake(store: &mut Store) -> Intake {
    let scan = store.put_attachment(PDF).unwrap();
    let signature = store.put_attachment(PNG_1X1).unwrap();
    Intake {
        applicant: Applicant::New(Box::new(person(
            "فاطمة بنت علي بن حسن الزهراني",
            Some(&valid_id("123456789")),
            Some("+966 55 000 1111"),
        ))),
        support_type: "rent".into(),
        channel: Channel::Interview,
        reason: "تطلب المساعدة في الإيجار".into(),
        need: "متأخرات إيجار ثلاثة أشهر".into(),
        documents: ["national_id", "family_card", "lease", "income_proof"]
            .into_iter()
            .map(|code| IntakeDocument {
                code: code.into(),
                attachment: scan.clone(),
                seen_in_original: true,
            })
            .collect(),
        signature: Some(IntakeSignature {
            attachment: signature,
            on_paper: false,
        }),
    }
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .conn()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// What a submission writes to, counted.
const TABLES: &[&str] = &[
    "beneficiaries",
    "cases",
    "case_events",
    "interactions",
    "tasks",
    "outbox",
    "audit_events",
    "drafts",
];

fn counts(store: &Store) -> Vec<(&'static str, i64)> {
    TABLES.iter().map(|t| (*t, count(store, t))).collect()
}

#[test]
fn an_intake_is_submitted_in_one_transaction() {
    let (_dir, mut store, _clock) = new_store();
    let intake = complete_intake(&mut store);
    let draft = new_draft(&mut store, &serde_json::json!({"step": 7}));
    let seq_before = sila_store::outbox::pending_count(store.conn()).unwrap();

    let c = store.submit_intake(&draft, &intake, None).unwrap();

    assert_eq!(c.state, CaseState::Submitted);
    let promised = start().date_naive() + chrono::Days::new(14);
    assert_eq!(c.promised_reply_date, Some(promised));
    assert_eq!(c.need, "متأخرات إيجار ثلاثة أشهر");
    assert!(c.missing_documents().is_empty());
    assert!(matches!(
        c.declaration.as_ref().unwrap().signature,
        Signature::Drawn { .. }
    ));
    assert_eq!(
        store.case(c.id).unwrap().unwrap().case,
        c,
        "what was returned is what was stored"
    );
    let Applicant::New(b) = &intake.applicant else {
        unreachable!()
    };
    assert_eq!(c.beneficiary_id, b.id);
    assert!(store.beneficiary(b.id).unwrap().is_some());
    assert_eq!(count(&store, "interactions"), 1, "the inquiry is logged");
    assert!(draft_data(&store, &draft).is_none(), "the draft is gone");
    let history = store.case_history(c.id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].transition, Transition::Submit);
    // Four records, four operations: no trail of step-by-step edits for sync to carry.
    let ops: Vec<String> = sila_store::outbox::pending(store.conn(), 0, 1000)
        .unwrap()
        .into_iter()
        .skip(seq_before as usize)
        .map(|o| o.op)
        .filter(|op| op != "task.create")
        .collect();
    assert_eq!(
        ops,
        [
            "beneficiary.create",
            "case.create",
            "interaction.add",
            "case.transition"
        ]
    );
}

#[test]
fn every_problem_is_refused_at_once_beside_its_field_and_nothing_is_written() {
    let (_dir, mut store, _clock) = new_store();
    let mut intake = complete_intake(&mut store);
    intake.need = "  ".into();
    intake.documents.retain(|d| d.code != "lease");
    intake.documents[0].seen_in_original = false;
    intake.signature = None;
    if let Applicant::New(b) = &mut intake.applicant {
        b.mobile = None;
    }
    let draft = new_draft(&mut store, &serde_json::json!({"step": 7}));
    let before = counts(&store);

    let Err(StoreError::Invalid(problems)) = store.submit_intake(&draft, &intake, None) else {
        panic!("an incomplete intake was accepted");
    };
    let got: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.code.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("mobile", "required"),
            ("need", "need_missing"),
            ("documents.national_id", "document_not_seen"),
            ("documents.lease", "document_missing"),
            ("signature", "declaration_missing"),
        ]
    );
    assert!(problems.iter().all(|p| !p.message.is_empty()));
    assert_eq!(counts(&store), before);

    intake.support_type = "yacht".into();
    let Err(StoreError::Invalid(problems)) = store.submit_intake(&draft, &intake, None) else {
        panic!("an unknown support type was accepted");
    };
    assert!(
        problems.iter().any(
            |p| (p.field.as_str(), p.code.as_str()) == ("support_type", "unknown_support_type")
        ),
        "{problems:?}"
    );
}

/// A failure at any point of the submission, from the first row it writes to the draft's
/// deletion, leaves the draft as it was and nothing of the request: each table the submission
/// writes is made to refuse its row in turn (a temporary trigger on this connection), as a full
/// disk or a crash would stop the transaction there.
#[test]
fn a_failure_at_any_step_leaves_the_draft_intact_and_no_half_case() {
    let (_dir, mut store, _clock) = new_store();
    let intake = complete_intake(&mut store);
    let form = serde_json::json!({"step": 7, "need": "متأخرات إيجار"});
    let draft = new_draft(&mut store, &form);
    let before = counts(&store);
    let steps = [
        ("INSERT", "beneficiaries"),
        ("INSERT", "cases"),
        ("INSERT", "interactions"),
        ("UPDATE", "cases"),
        ("INSERT", "case_events"),
        ("INSERT", "outbox"),
        ("INSERT", "audit_events"),
        ("DELETE", "drafts"),
    ];
    for (what, table) in steps {
        store
            .conn()
            .execute_batch(&format!(
                "CREATE TEMP TRIGGER refuse AFTER {what} ON main.{table}
                 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;"
            ))
            .unwrap();
        let e = store.submit_intake(&draft, &intake, None).unwrap_err();
        assert!(
            matches!(e, StoreError::Sqlite(_)),
            "{what} {table}: failed otherwise: {e:?}"
        );
        store
            .conn()
            .execute_batch("DROP TRIGGER temp.refuse")
            .unwrap();
        assert_eq!(counts(&store), before, "{what} {table} left something");
        assert_eq!(
            draft_data(&store, &draft),
            Some(form.clone()),
            "{what} {table}"
        );
    }
    // Nothing stood in the way of the same intake afterwards: no number, ID or row was taken.
    let c = store.submit_intake(&draft, &intake, None).unwrap();
    assert_eq!(c.state, CaseState::Submitted);
    assert!(c.number.ends_with("-000001"), "{}", c.number);
    assert!(draft_data(&store, &draft).is_none());
}

#[test]
fn someone_on_file_gets_a_new_request_with_the_desks_corrections_and_a_missing_scan_is_refused() {
    let (_dir, mut store, _clock) = new_store();
    let mut intake = complete_intake(&mut store);
    let Applicant::New(b) = intake.applicant.clone() else {
        unreachable!()
    };
    store.create_beneficiary(&b).unwrap();
    intake.reason.clear();
    intake.applicant = Applicant::OnFile {
        beneficiary: b.clone(),
        base_version: 1,
    };
    let before = count(&store, "beneficiaries");
    let draft = new_draft(&mut store, &serde_json::json!({}));
    let first = store.submit_intake(&draft, &intake, None).unwrap();
    assert_eq!(
        store.beneficiary(b.id).unwrap().unwrap().version,
        1,
        "nothing to correct"
    );
    // Corrected in the wizard: saved with the submission, on top of the version it was read at.
    let mut corrected = b.clone();
    corrected.city = "الأفلاج".into();
    intake.applicant = Applicant::OnFile {
        beneficiary: corrected.clone(),
        base_version: 1,
    };
    let second = store.submit_intake(&draft, &intake, None).unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(count(&store, "beneficiaries"), before);
    assert_eq!(
        count(&store, "interactions"),
        0,
        "no reason, no inquiry logged"
    );
    let stored = store.beneficiary(b.id).unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.beneficiary.city.as_str()),
        (2, "الأفلاج")
    );
    // A correction read at a version someone else has since changed is refused whole.
    corrected.city = "مروان".into();
    intake.applicant = Applicant::OnFile {
        beneficiary: corrected,
        base_version: 1,
    };
    let cases = count(&store, "cases");
    assert!(matches!(
        store.submit_intake(&draft, &intake, None),
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(count(&store, "cases"), cases);

    intake.applicant = Applicant::OnFile {
        beneficiary: Box::new(stored.beneficiary),
        base_version: 2,
    };
    intake.documents[0].attachment = "0".repeat(64);
    assert!(matches!(
        store.submit_intake(&draft, &intake, None),
        Err(StoreError::NotFound("attachment"))
    ));
    assert_eq!(count(&store, "cases"), cases);
}

/// A draft left by a Sila that submitted step by step names the request it had opened before a
/// later step failed: submitting completes that request, with the person registered with it.
#[test]
fn a_request_left_by_a_step_by_step_submission_is_completed_not_doubled() {
    let (_dir, mut store, _clock) = new_store();
    let mut intake = complete_intake(&mut store);
    let Applicant::New(b) = &intake.applicant else {
        unreachable!()
    };
    let left = store.save_intake(b, "rent", Channel::Interview).unwrap();
    let (cases, people) = (count(&store, "cases"), count(&store, "beneficiaries"));
    if let Applicant::New(b) = &mut intake.applicant {
        b.city = "الأفلاج".into();
    }

    let draft = new_draft(&mut store, &serde_json::json!({"case_id": left.id}));
    let c = store.submit_intake(&draft, &intake, Some(left.id)).unwrap();

    assert_eq!((c.id, c.number.as_str()), (left.id, left.number.as_str()));
    assert_eq!(c.state, CaseState::Submitted);
    assert_eq!(count(&store, "cases"), cases);
    assert_eq!(count(&store, "beneficiaries"), people);
    let stored = store.beneficiary(c.beneficiary_id).unwrap().unwrap();
    assert_eq!(stored.beneficiary.city, "الأفلاج", "brought up to the form");
    // A request no longer a draft is not completed a second time.
    assert!(store.submit_intake(&draft, &intake, Some(left.id)).is_err());
}
