//! Contacts on any channel, with or without a case or a registered person, with their letter
//! attached; complaints and suggestions owned, due by the policy's date and answered; surveys after
//! a decision; exports that write mobiles the way people read them.

use super::*;
use crate::lifecycle::hq_decides;
use crate::tasks::submitted_case;
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::SurveyId;
use sila_domain::interaction::{Direction, Survey};
use sila_domain::staff::Role;
use sila_domain::task::{AnswerStatus, TaskKind};
use sila_store::demo::PNG_1X1;
use sila_store::records::NewContact;

#[test]
fn a_complaint_gets_an_owner_a_date_and_an_answer() {
    let (dir, mut store, clock) = new_store();
    store
        .add_staff(
            "rep",
            "الموظف فهد",
            &[Role::Representative],
            "pass-word-1234",
        )
        .unwrap();
    let c = submitted_case(&mut store, "نورة فهد العتيبي", "100000021");
    let letter = store.put_attachment(PNG_1X1).unwrap();
    let complaint = store
        .log_contact(NewContact {
            beneficiary: Some(c.beneficiary_id),
            case: Some(c.id),
            channel: Channel::Letter,
            purpose: Purpose::Complaint,
            summary: "تأخر الرد على طلبها".into(),
            attachments: vec![letter.clone()],
            owner: Some("rep".into()),
            ..NewContact::default()
        })
        .unwrap();
    assert_eq!(complaint.attachments, [letter]);
    let rows = store.complaints(50).unwrap();
    assert_eq!(rows.len(), 1);
    let (task, contact, answer) = &rows[0];
    assert_eq!(task.kind, TaskKind::Complaint);
    assert_eq!(contact.id, complaint.id);
    assert!(answer.is_none());
    let today = clock.clock()().date_naive();
    assert_eq!(
        task.due_on,
        today + chrono::Days::new(7),
        "the policy's period"
    );
    assert_eq!(task.answer_status(today), AnswerStatus::Open);
    assert!(
        !store.my_tasks(50).unwrap().iter().any(|t| t.id == task.id),
        "the owner's, not the logger's"
    );
    drop(store);

    // Past the date it is overdue; the owner answers it late.
    clock.advance_days(9);
    let mut rep = Store::open_with(dir.path(), "rep", "pass-word-1234", clock.clock()).unwrap();
    let today = clock.clock()().date_naive();
    assert_eq!(
        rep.complaints(50).unwrap()[0].0.answer_status(today),
        AnswerStatus::Overdue
    );
    assert!(rep.my_tasks(50).unwrap().iter().any(|t| t.id == task.id));
    rep.log_contact(NewContact {
        beneficiary: Some(c.beneficiary_id),
        case: Some(c.id),
        channel: Channel::Phone,
        direction: Direction::Outbound,
        purpose: Purpose::FollowUp,
        summary: "اعتذرنا وأبلغناها بموعد اللجنة".into(),
        answers: Some(task.id),
        ..NewContact::default()
    })
    .unwrap();
    let rows = rep.complaints(50).unwrap();
    let (task, _, answer) = &rows[0];
    assert_eq!(task.answer_status(today), AnswerStatus::Late);
    assert_eq!(answer.as_ref().unwrap().answers, Some(complaint.id));
    assert_eq!(task.answer_id, answer.as_ref().map(|a| a.id));
    assert!(
        rep.log_contact(NewContact {
            beneficiary: Some(c.beneficiary_id),
            summary: "مرة أخرى".into(),
            answers: Some(task.id),
            ..NewContact::default()
        })
        .is_err(),
        "answered once"
    );
}

#[test]
fn a_contact_with_someone_not_registered_is_kept_without_a_file() {
    let (_dir, mut store, _clock) = new_store();
    assert_eq!(
        store
            .log_contact(NewContact {
                summary: "سؤال عن شروط الدعم".into(),
                ..NewContact::default()
            })
            .unwrap_err()
            .code(),
        "invalid_input",
        "say who it was"
    );
    let i = store
        .log_contact(NewContact {
            channel: Channel::Website,
            purpose: Purpose::Suggestion,
            summary: "اقتراح: فتح المكتب مساء الخميس".into(),
            contact_name: "متصل من مروان".into(),
            contact_phone: Some(sila_domain::phone::Mobile::parse("0551112233").unwrap()),
            ..NewContact::default()
        })
        .unwrap();
    assert_eq!(i.beneficiary_id, None);
    let rows = store.complaints(50).unwrap();
    assert_eq!(rows[0].0.kind, TaskKind::Suggestion);
    assert_eq!(rows[0].0.beneficiary_id, None);
    assert_eq!(rows[0].1.contact_name, "متصل من مروان");
    let op = sila_store::outbox::pending(store.conn(), 0, 1000)
        .unwrap()
        .into_iter()
        .find(|o| o.op == "interaction.add")
        .unwrap();
    assert_eq!(op.payload["beneficiary_id"], serde_json::Value::Null);
    // A file that does not exist is not attached.
    assert!(
        store
            .log_contact(NewContact {
                summary: "خطاب".into(),
                contact_name: "شخص".into(),
                attachments: vec!["0".repeat(64)],
                ..NewContact::default()
            })
            .is_err()
    );
}

#[test]
fn a_survey_is_taken_after_a_decision_and_starts_from_nothing() {
    let (_dir, mut store, clock) = new_store();
    let c = submitted_case(&mut store, "سعد علي الحربي", "100000022");
    let survey = |case| Survey {
        id: SurveyId::new_v7(),
        case_id: Some(case),
        delivery_id: None,
        overall: 2,
        speed: 3,
        courtesy: 5,
        clarity: 2,
        comment: String::new(),
        anonymous: false,
        channel: Channel::Phone,
        answered_on: clock.clock()().date_naive(),
        support_type: String::new(),
        employee: None,
    };
    assert_eq!(
        store.record_survey(survey(c.id)).unwrap_err().code(),
        "invalid_input",
        "before a decision there is nothing to ask about"
    );
    store
        .transition(c.id, sila_domain::case::Transition::SendToCommittee, "")
        .unwrap();
    // The committee decides at headquarters; the decision comes down the branch's feed.
    hq_decides(
        &mut store,
        c.id,
        sila_domain::case::Transition::Reject,
        "الدخل يتجاوز الحد",
    );
    let unscored = Survey {
        overall: 0,
        ..survey(c.id)
    };
    assert_eq!(
        store.record_survey(unscored).unwrap_err().code(),
        "invalid_input"
    );
    let s = store.record_survey(survey(c.id)).unwrap();
    assert_eq!(s.support_type, "food_basket", "kept for reports by service");
    assert_eq!(
        s.employee,
        Some(store.session().actor.staff_id),
        "who took the request"
    );
    let actions: Vec<&str> = store
        .case_actions(&store.case(c.id).unwrap().unwrap().case)
        .iter()
        .map(|a| a.code())
        .collect();
    assert!(actions.contains(&"survey"), "{actions:?}");
}

#[test]
fn exports_write_mobiles_as_people_read_them() {
    let (dir, mut store, _clock) = new_store();
    store
        .create_beneficiary(&person("منيرة سعد السبيعي", None, Some("+966551234567")))
        .unwrap();
    let out = dir.path().join("out.csv");
    store
        .export(sila_store::exporting::ExportFormat::Csv, &out)
        .unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(",0551234567,"), "{text}");
    assert!(!text.contains("'+966"), "no formula guard needed");
    // And it imports back as the same person.
    let report = store.import_file(&out, &mut |_| {}).unwrap();
    assert_eq!(
        (report.imported, report.unchanged),
        (0, 1),
        "{:?}",
        report.rejected
    );
}
