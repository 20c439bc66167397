//! A case's whole life through the store: every change in one transaction with its outbox
//! operation, history append-only, promises fixed, tasks made by rules.

use super::*;
use sila_domain::case::{CaseState, SubmissionFacts, Transition, TransitionRequest};
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::{CaseId, DeviceId, StaffId, SurveyId};
use sila_domain::interaction::{Direction, Survey};
use sila_domain::staff::Actor;
use sila_domain::staff::Role;
use sila_domain::task::TaskKind;
use sila_store::StoreError;
use sila_store::demo::PNG_1X1;
use sila_store::sync::HqChange;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF";

/// The committee decides at headquarters, as `sila-hq` does (the domain's own transition, by a
/// committee member), and the case comes back down the branch's feed: first HQ acknowledges what
/// the device sent, as a push would, then the case arrives at HQ's next version with its event.
pub fn hq_decides(store: &mut Store, case: CaseId, transition: Transition, note: &str) {
    let sent: Vec<(i64, String)> = store
        .outbox_batch(100_000)
        .unwrap()
        .iter()
        .map(|o| (o.seq, o.op_id.to_string()))
        .collect();
    let through = sent.last().map_or(0, |(s, _)| *s);
    store.record_push(&sent, through, &[]).unwrap();
    let current = store.case(case).unwrap().unwrap().case;
    let committee = Actor {
        staff_id: StaffId::new_v7(),
        display_name: "لجنة البحث".into(),
        roles: vec![Role::Committee],
        branch: "HQ".into(),
    };
    let request = TransitionRequest {
        transition,
        note: note.into(),
        device: DeviceId::new_v7(),
        branch: "HQ".into(),
    };
    let applied = sila_domain::case::apply(
        &current,
        &request,
        &committee,
        store.now(),
        &store.catalog().policy,
        &SubmissionFacts {
            beneficiary_problems: vec![],
        },
    )
    .unwrap();
    let change = HqChange {
        seq: 1,
        kind: "case".into(),
        entity_id: case.to_string(),
        payload: serde_json::json!({
            "version": 1_000,
            "data": applied.case,
            "events": [applied.event],
        })
        .to_string(),
    };
    assert_eq!(store.apply_hq_changes(&[change], 1).unwrap(), 1);
}

#[test]
fn every_change_writes_its_operation_in_the_same_transaction() {
    let (_dir, mut store, _) = new_store();
    let before = outbox_ops(&store).len();
    let id = valid_id("100000000");
    let b = person("محمد عبد الله سعد الدوسري", Some(&id), Some("0551112233"));
    store.create_beneficiary(&b).unwrap();
    let ops = outbox_ops(&store);
    assert_eq!(ops.len(), before + 1);
    assert_eq!(ops.last().unwrap(), "beneficiary.create");

    // A refused change writes nothing: no row, no operation.
    let dup = person("محمد الدوسري", Some(&id), None);
    assert!(matches!(
        store.create_beneficiary(&dup),
        Err(StoreError::DuplicateNationalId { .. })
    ));
    assert_eq!(outbox_ops(&store).len(), before + 1);
    assert_eq!(store.stats().unwrap().beneficiaries, 1);

    // An edit records the changed fields and the version of the record HQ last sent here (none
    // yet: 0), which HQ merges it against.
    let mut edited = store.beneficiary(b.id).unwrap().unwrap().beneficiary;
    edited.city = "مروان".into();
    assert_eq!(store.update_beneficiary(&edited, 1).unwrap(), 2);
    let last = sila_store::outbox::pending(store.conn(), 0, 1000)
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.op, "beneficiary.update");
    assert_eq!(last.base_version, Some(0));
    assert_eq!(
        last.payload["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["city"]
    );
    // An edit based on an old version is refused, not applied over the newer one.
    assert!(matches!(
        store.update_beneficiary(&edited, 1),
        Err(StoreError::VersionConflict {
            current: 2,
            base: 1
        })
    ));
    // Sequence numbers are strictly increasing per device.
    let seqs: Vec<i64> = sila_store::outbox::pending(store.conn(), 0, 1000)
        .unwrap()
        .iter()
        .map(|o| o.seq)
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_request_from_intake_to_closing() {
    let (dir, mut store, clock) = new_store();
    store
        .add_staff(
            "researcher",
            "الباحثة سارة",
            &[Role::Researcher],
            "researcher-1",
        )
        .unwrap();
    // The committee decides at headquarters: no branch account can be one of it.
    for hq in [Role::Committee, Role::HqStaff] {
        assert!(matches!(
            store.add_staff("committee", "لجنة البحث", &[hq], "committee-1"),
            Err(StoreError::Invalid(f)) if f[0].code == "hq_role"
        ));
    }
    assert!(matches!(
        store.set_staff_roles("researcher", &[Role::Researcher, Role::Committee]),
        Err(StoreError::Invalid(f)) if f[0].code == "hq_role"
    ));
    let b = person(
        "فاطمة بنت علي بن حسن الزهراني",
        Some(&valid_id("123456789")),
        Some("+966 55 000 1111"),
    );
    store.create_beneficiary(&b).unwrap();
    let c = store.create_case(b.id, "rent", Channel::Interview).unwrap();
    assert_eq!(c.state, CaseState::Draft);
    assert!(c.number.starts_with("AFL-"), "{}", c.number);
    assert_eq!(
        c.documents
            .iter()
            .map(|d| d.code.as_str())
            .collect::<Vec<_>>(),
        ["national_id", "family_card", "lease", "income_proof"]
    );

    // Submission is refused until everything the policy asks for is there.
    let e = store.transition(c.id, Transition::Submit, "").unwrap_err();
    assert_eq!(e.code(), "need_missing");
    store
        .set_case_need(c.id, "متأخرات إيجار ثلاثة أشهر")
        .unwrap();
    assert_eq!(
        store
            .transition(c.id, Transition::Submit, "")
            .unwrap_err()
            .code(),
        "declaration_missing"
    );
    store.sign_declaration(c.id, PNG_1X1, false).unwrap();
    assert_eq!(
        store
            .transition(c.id, Transition::Submit, "")
            .unwrap_err()
            .code(),
        "documents_missing"
    );
    for (i, code) in ["national_id", "family_card", "lease", "income_proof"]
        .iter()
        .enumerate()
    {
        let scan = if i % 2 == 0 { PNG_1X1 } else { PDF };
        store.attach_document(c.id, code, scan).unwrap();
        store.mark_seen_in_original(c.id, code, true).unwrap();
    }
    assert!(matches!(
        store.attach_document(c.id, "lease", b"<html>not a scan</html>"),
        Err(StoreError::AttachmentType)
    ));
    let c = store.transition(c.id, Transition::Submit, "").unwrap();
    assert_eq!(c.state, CaseState::Submitted);
    let promised = start().date_naive() + chrono::Days::new(14);
    assert_eq!(c.promised_reply_date, Some(promised));

    // Unclear procedures: refer to the social researcher, with a reason.
    assert_eq!(
        store
            .transition(c.id, Transition::ReferToResearch, "")
            .unwrap_err()
            .code(),
        "note_required"
    );
    store
        .transition(c.id, Transition::ReferToResearch, "الإجراءات غير واضحة")
        .unwrap();
    drop(store);

    let mut researcher =
        Store::open_with(dir.path(), "researcher", "researcher-1", clock.clock()).unwrap();
    assert!(
        researcher
            .my_tasks(50)
            .unwrap()
            .iter()
            .any(|t| t.kind == TaskKind::Research && t.case_id == Some(c.id))
    );
    assert_eq!(
        researcher
            .transition(c.id, Transition::ResearchDone, "")
            .unwrap_err()
            .code(),
        "report_missing"
    );
    researcher
        .write_research_report(c.id, "زيارة منزلية: الأسرة في شقة مستأجرة", "يوصى بالقبول")
        .unwrap();
    researcher
        .transition(c.id, Transition::ResearchDone, "")
        .unwrap();
    researcher
        .transition(c.id, Transition::SendToCommittee, "")
        .unwrap();
    drop(researcher);

    // Days pass; the promise nears and a task says so.
    clock.advance_days(12);
    let mut admin = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    admin.refresh_rule_tasks().unwrap();
    assert!(
        admin
            .my_tasks(50)
            .unwrap()
            .iter()
            .any(|t| t.kind == TaskKind::PromiseNear)
    );
    // An administrator may not decide for the committee.
    assert_eq!(
        admin
            .transition(c.id, Transition::Approve, "")
            .unwrap_err()
            .code(),
        "not_permitted"
    );
    drop(admin);

    // The committee's decision arrives from headquarters, down the feed.
    let mut desk = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    hq_decides(&mut desk, c.id, Transition::Approve, "مستحق");
    let c = desk.case(c.id).unwrap().unwrap().case;
    assert_eq!(c.state, CaseState::Approved);
    assert_eq!(
        c.promised_reply_date,
        Some(promised),
        "the promise never moves"
    );
    let tasks = desk.my_tasks(50).unwrap();
    let announce = tasks
        .iter()
        .find(|t| t.kind == TaskKind::AnnounceDecision)
        .expect("tell the beneficiary");
    assert!(
        announce.channel.is_some(),
        "through their preferred channel"
    );
    assert!(
        !tasks.iter().any(|t| t.kind == TaskKind::PromiseNear),
        "a decision closes the promise reminder"
    );
    desk.log_interaction(
        b.id,
        Some(c.id),
        Channel::Phone,
        Direction::Outbound,
        Purpose::DecisionNotice,
        "أبلغت بالقبول",
        "",
        None,
    )
    .unwrap();
    assert!(
        !desk
            .my_tasks(50)
            .unwrap()
            .iter()
            .any(|t| t.kind == TaskKind::AnnounceDecision)
    );

    let c = desk.transition(c.id, Transition::Register, "").unwrap();
    let file_number = c.registration_number.clone().unwrap();
    assert!(file_number.contains("-F"));
    assert_eq!(
        desk.beneficiary(b.id)
            .unwrap()
            .unwrap()
            .beneficiary
            .file_number,
        Some(file_number)
    );
    desk.record_delivery(
        c.id,
        "rent",
        Some(250_000),
        "",
        clock.clock()().date_naive(),
    )
    .unwrap();
    assert_eq!(
        desk.case(c.id).unwrap().unwrap().case.state,
        CaseState::Served
    );
    assert!(
        desk.my_tasks(50)
            .unwrap()
            .iter()
            .any(|t| t.kind == TaskKind::Survey)
    );
    let survey = Survey {
        id: SurveyId::new_v7(),
        case_id: Some(c.id),
        delivery_id: None,
        overall: 5,
        speed: 4,
        courtesy: 5,
        clarity: 4,
        comment: String::new(),
        anonymous: true,
        channel: Channel::Phone,
        answered_on: clock.clock()().date_naive(),
        support_type: String::new(),
        employee: None,
    };
    let bad = Survey {
        overall: 9,
        ..survey.clone()
    };
    assert_eq!(desk.record_survey(bad).unwrap_err().code(), "invalid_input");
    let stored = desk.record_survey(survey).unwrap();
    assert_eq!(
        stored.case_id, None,
        "an anonymous answer keeps no link to the person"
    );
    let c = desk.transition(c.id, Transition::Close, "").unwrap();
    assert_eq!(c.state, CaseState::Closed);

    let history = desk.case_history(c.id).unwrap();
    assert_eq!(
        sila_domain::case::replay(&history).unwrap(),
        CaseState::Closed
    );
    let walked: Vec<_> = history.iter().map(|e| e.transition.code()).collect();
    assert_eq!(
        walked,
        [
            "submit",
            "refer_to_research",
            "research_done",
            "send_to_committee",
            "approve",
            "register",
            "deliver",
            "close"
        ]
    );
    // Every step was taken at the branch but the committee's decision, taken at HQ.
    for e in &history {
        let at = if e.transition == Transition::Approve {
            "HQ"
        } else {
            "الأفلاج"
        };
        assert_eq!(e.branch, at, "{:?}", e.transition);
    }
    // History is append-only in the database itself.
    assert!(desk.conn().execute("DELETE FROM case_events", []).is_err());
    assert!(
        desk.conn()
            .execute("UPDATE case_events SET data = '{}'", [])
            .is_err()
    );
}

#[test]
fn demo_data_covers_every_branch_state_with_legal_histories() {
    let (_dir, mut store, _) = new_store();
    let report = store.generate_demo(300, 42, &mut |_, _| {}).unwrap();
    assert!(
        report.beneficiaries >= 295 && report.cases >= 100,
        "{report:?}"
    );
    let counts = store.case_counts().unwrap();
    // Every state a branch reaches on its own: the committee's decision, and what follows it,
    // comes from HQ.
    for state in [
        CaseState::Draft,
        CaseState::Submitted,
        CaseState::InResearch,
        CaseState::Incomplete,
        CaseState::InCommittee,
        CaseState::Withdrawn,
    ] {
        assert!(
            counts.iter().any(|(s, n)| *s == state && *n > 0),
            "no demo case in {state:?}"
        );
    }
    for summary in store.cases(&Default::default()).unwrap() {
        let id = summary.id.parse().unwrap();
        let history = store.case_history(id).unwrap();
        assert_eq!(sila_domain::case::replay(&history).unwrap(), summary.state);
    }
    let stats = store.stats().unwrap();
    assert!(stats.pending_changes > stats.beneficiaries + stats.cases);
    // No path stores an anonymous survey linked to its case.
    let linked: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM surveys WHERE json_extract(data, '$.anonymous') AND
                 (case_id IS NOT NULL OR json_extract(data, '$.case_id') IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(linked, 0);
}

#[test]
fn saves_leave_checkpoints_to_the_background_connection() {
    let (dir, store, _clock) = new_store();
    let mut desk = store;
    desk.checkpoints_in_background().unwrap();
    let worker = desk.another_connection().unwrap();
    let wal_pages = |s: &Store| -> (i64, i64) {
        // A PASSIVE checkpoint reports the log's frames and how many are now in the database.
        s.conn()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .unwrap()
    };
    let autocheckpoint: i64 = desk
        .conn()
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .unwrap();
    assert_eq!(autocheckpoint, sila_store::SAFETY_CHECKPOINT_PAGES);
    for i in 0..40 {
        let b = person(&format!("محمد سعد علي الدوسري {i}"), None, None);
        desk.create_beneficiary(&b).unwrap();
    }
    // The worker's checkpoint, on its own connection, copies the desk's whole log.
    worker.checkpoint().unwrap();
    let (log, done) = wal_pages(&worker);
    assert!(log > 0, "the saves went through the log");
    assert_eq!(log, done, "the background checkpoint copied all of it");
    drop(dir);
}
