//! The command bodies against a real store in a temporary folder, with no window around them.

use crate::api;
use crate::dto::*;
use crate::state::Desk;
use std::time::Duration;

/// A real PNG (1×1) and the start of a PDF: the store only accepts images and PDFs.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0a, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];
const PDF: &[u8] = b"%PDF-1.4\n%%EOF\n";

fn desk() -> (tempfile::TempDir, Desk) {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path().join("store"), Duration::from_secs(600), None);
    api::first_run(
        &desk,
        FirstRunInput {
            branch: "الأفلاج".into(),
            username: "admin".into(),
            display_name: "نورة العتيبي".into(),
            password: "sila-pass-1234".into(),
        },
    )
    .unwrap();
    (dir, desk)
}

fn full_draft(desk: &Desk) -> IntakeDraft {
    let id_scan = api::upload(desk, PNG.to_vec()).unwrap().sha256;
    let card = api::upload(desk, PDF.to_vec()).unwrap().sha256;
    let signature = api::upload(desk, PNG.to_vec()).unwrap().sha256;
    IntakeDraft {
        step: 7,
        channel: "interview".into(),
        reason: "طلب سلة غذائية".into(),
        identity: IdentityForm {
            first: "محمد".into(),
            father: "عبدالله".into(),
            grandfather: "سعد".into(),
            family: "الدوسري".into(),
            national_id: "1000000008".into(),
            mobile: "0551234567".into(),
            birth_date: "1410/05/12".into(),
            ..Default::default()
        },
        household: ["فاطمة", "عبدالرحمن", "سارة"]
            .iter()
            .zip(["spouse", "son", "daughter"])
            .map(|(n, r)| MemberForm {
                name: n.to_string(),
                relation: r.into(),
                ..Default::default()
            })
            .collect(),
        support_type: "food_basket".into(),
        need: "سلة غذائية شهرية".into(),
        documents: vec![
            DocumentForm {
                code: "national_id".into(),
                attachment: Some(id_scan),
                seen_in_original: true,
                ..Default::default()
            },
            DocumentForm {
                code: "family_card".into(),
                attachment: Some(card),
                seen_in_original: true,
                ..Default::default()
            },
        ],
        signature_kind: "drawn".into(),
        signature_attachment: Some(signature),
        ..Default::default()
    }
}

#[test]
fn an_intake_goes_from_draft_to_committee() {
    let (_dir, desk) = desk();
    let draft = full_draft(&desk);
    for step in 0..8 {
        assert_eq!(
            api::validate_intake(&desk, draft.clone(), step)
                .unwrap()
                .len(),
            0,
            "step {step}"
        );
    }
    api::save_intake_draft(&desk, draft.clone()).unwrap();
    assert_eq!(api::intake_draft(&desk).unwrap(), Some(draft));
    let receipt = api::submit_intake(&desk).unwrap();
    assert!(
        receipt.case_number.ends_with("-000001"),
        "{}",
        receipt.case_number
    );
    assert!(!receipt.promised_reply_date.is_empty());
    assert_eq!(
        api::intake_draft(&desk).unwrap(),
        None,
        "the draft is gone once submitted"
    );

    // Found again under another spelling.
    let hits = api::search(&desk, "محمد عبد الله الدوسرى".into(), 10).unwrap();
    assert_eq!(
        hits.first().map(|h| h.national_id.clone()),
        Some(Some("1000000008".into()))
    );

    let file = api::case_file(&desk, receipt.case_id.clone()).unwrap();
    assert_eq!(file.case.state, "submitted");
    assert_eq!(file.beneficiary.household.len(), 3);
    let codes: Vec<&str> = file.actions.iter().map(|a| a.code.as_str()).collect();
    assert!(codes.contains(&"refer_to_research"), "{codes:?}");
    assert!(!codes.contains(&"approve"), "decisions are HQ's: {codes:?}");

    let t = |tr: &str, note: &str| {
        api::transition(
            &desk,
            TransitionInput {
                case_id: receipt.case_id.clone(),
                transition: tr.into(),
                note: note.into(),
            },
        )
    };
    let refused = t("refer_to_research", "").unwrap_err();
    assert_eq!(refused.code, "note_required");
    assert_eq!(refused.fields[0].field, "note");
    t("refer_to_research", "يحتاج زيارة").unwrap();
    api::research_report(
        &desk,
        ReportInput {
            case_id: receipt.case_id.clone(),
            text: "زيارة منزلية".into(),
            recommendation: "القبول".into(),
        },
    )
    .unwrap();
    t("research_done", "").unwrap();
    t("send_to_committee", "").unwrap();
    let file = api::case_file(&desk, receipt.case_id.clone()).unwrap();
    assert_eq!(file.case.state, "in_committee");
    let kinds: Vec<&str> = file.timeline.iter().map(|e| e.code.as_str()).collect();
    for k in [
        "submit",
        "refer_to_research",
        "research_report",
        "send_to_committee",
        "inquiry",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }

    let page = api::cases_page(
        &desk,
        CaseQuery {
            state: Some("in_committee".into()),
            promise: Some("on_track".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.rows[0].promise.as_deref(), Some("on_track"));
}

#[test]
fn submission_problems_come_back_per_field_and_create_nothing() {
    let (_dir, desk) = desk();
    let mut draft = full_draft(&desk);
    draft.identity.id_expiry = "2001-01-01".into();
    draft.identity.national_id = "1000000009".into();
    api::save_intake_draft(&desk, draft).unwrap();
    let e = api::submit_intake(&desk).unwrap_err();
    assert_eq!(e.code, "invalid_input");
    let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
    assert!(fields.contains(&"identity.national_id"), "{fields:?}");
    assert!(fields.contains(&"identity.id_expiry"), "{fields:?}");
    assert!(e.fields.iter().all(|f| !f.message.is_empty()));
    assert_eq!(api::home(&desk).unwrap().beneficiaries, 0);
    assert!(
        api::intake_draft(&desk).unwrap().is_some(),
        "the draft stays to be fixed"
    );
}

#[test]
fn signing_out_and_idling_lock_the_store() {
    let (_dir, desk) = desk();
    assert!(api::app_status(&desk).unwrap().session.is_some());
    api::sign_out(&desk).unwrap();
    assert_eq!(api::home(&desk).unwrap_err().code, "locked");
    let e = api::sign_in(
        &desk,
        SignInInput {
            username: "admin".into(),
            password: "wrong-password".into(),
        },
    )
    .unwrap_err();
    assert_eq!(e.code, "wrong_password");
    api::sign_in(
        &desk,
        SignInInput {
            username: "admin".into(),
            password: "sila-pass-1234".into(),
        },
    )
    .unwrap();
    assert!(api::home(&desk).is_ok());

    let idle = Desk::new(desk.dir.clone(), Duration::ZERO, None);
    api::sign_in(
        &idle,
        SignInInput {
            username: "admin".into(),
            password: "sila-pass-1234".into(),
        },
    )
    .unwrap();
    assert!(idle.lock_if_idle());
    assert_eq!(api::home(&idle).unwrap_err().code, "locked");
}

#[test]
fn administrators_manage_staff_and_the_knowledge_base() {
    let (_dir, desk) = desk();
    api::add_staff(
        &desk,
        StaffInput {
            username: "sara".into(),
            display_name: "سارة".into(),
            roles: vec!["researcher".into()],
            password: "short".into(),
        },
    )
    .map(|_| ())
    .expect_err("a short password is refused");
    api::add_staff(
        &desk,
        StaffInput {
            username: "sara".into(),
            display_name: "سارة".into(),
            roles: vec!["researcher".into()],
            password: "researcher-1234".into(),
        },
    )
    .unwrap();
    api::set_staff_roles(
        &desk,
        "sara".into(),
        vec!["researcher".into(), "representative".into()],
    )
    .unwrap();
    api::reset_password(&desk, "sara".into(), "another-pass-99".into()).unwrap();
    api::set_staff_active(&desk, "sara".into(), false, None).unwrap();
    let staff = api::staff(&desk).unwrap();
    let sara = staff.iter().find(|s| s.username == "sara").unwrap();
    assert!(!sara.active);
    assert_eq!(sara.roles.len(), 2);

    api::add_kb_document(
        &desk,
        KbInput {
            title: "دليل البحث الاجتماعي".into(),
            body: "خطوات الزيارة المنزلية".into(),
            attachment: None,
        },
    )
    .unwrap();
    assert_eq!(api::kb_documents(&desk).unwrap().len(), 1);
}
