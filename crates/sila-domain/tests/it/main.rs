//! Integration tests of the domain: the lifecycle rule table, and properties that must hold for
//! every sequence of actions (no case reaches a state without the history its rules need; the
//! promised reply date is fixed at the first submission and never moves).

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use sila_domain::case::{
    self, Case, CaseEvent, CaseState, Declaration, LifecycleError, ResearchReport, Signature,
    SubmissionFacts, Transition, TransitionRequest,
};
use sila_domain::catalog::{Catalog, Channel, Policy};
use sila_domain::ids::{BeneficiaryId, CaseId, DeviceId, StaffId};
use sila_domain::staff::{Actor, Role};

fn at(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap() + Duration::days(day)
}

fn actor(roles: &[Role]) -> Actor {
    Actor {
        staff_id: StaffId::new_v7(),
        display_name: "موظف".into(),
        roles: roles.to_vec(),
        branch: "الأفلاج".into(),
    }
}

/// A draft with everything submission needs: need, documents seen, declaration.
fn ready_case() -> Case {
    let catalog = Catalog::arabic_defaults();
    let mut c = Case::new_draft(
        CaseId::new_v7(),
        "AFL-ABC-000001".into(),
        BeneficiaryId::new_v7(),
        "rent",
        Channel::Interview,
        &catalog,
    );
    c.need = "سداد إيجار متأخر".into();
    for d in &mut c.documents {
        d.attachment = Some("00".repeat(32));
        d.seen_in_original = true;
    }
    c.declaration = Some(Declaration {
        text: catalog.declaration_ar.clone(),
        signature: Signature::Drawn {
            attachment: "11".repeat(32),
        },
        employee: StaffId::new_v7(),
        employee_name: "موظف".into(),
        signed_at: at(0),
    });
    c
}

fn req(t: Transition, note: &str) -> TransitionRequest {
    TransitionRequest {
        transition: t,
        note: note.into(),
        device: DeviceId::new_v7(),
        branch: "الأفلاج".into(),
    }
}

fn ok_facts() -> SubmissionFacts {
    SubmissionFacts {
        beneficiary_problems: vec![],
    }
}

/// Walk a case through transitions (each with its role), returning the case or the first refusal.
fn walk(steps: &[(Transition, Role)]) -> Result<(Case, Vec<CaseEvent>), LifecycleError> {
    let mut c = ready_case();
    let mut history = Vec::new();
    for (i, (t, role)) in steps.iter().enumerate() {
        if *t == Transition::ResearchDone && c.research_report.is_none() {
            c.research_report = Some(ResearchReport {
                text: "تقرير".into(),
                recommendation: String::new(),
                researcher: StaffId::new_v7(),
                researcher_name: "باحث".into(),
                written_at: at(i as i64),
            });
        }
        let applied = case::apply(
            &c,
            &req(*t, "سبب"),
            &actor(&[*role]),
            at(i as i64),
            &Policy::default(),
            &ok_facts(),
        )?;
        c = applied.case;
        history.push(applied.event);
    }
    Ok((c, history))
}

#[test]
fn the_whole_lifecycle_of_design_md() {
    use Role::*;
    use Transition::*;
    let (c, history) = walk(&[
        (Submit, Representative),
        (ReferToResearch, Representative),
        (ResearchDone, Researcher),
        (SendToCommittee, Representative),
        (Approve, Committee),
        (Register, Representative),
        (Deliver, Representative),
        (Deliver, Representative),
        (Close, Representative),
    ])
    .unwrap();
    assert_eq!(c.state, CaseState::Closed);
    assert_eq!(case::replay(&history).unwrap(), CaseState::Closed);
    // The promise is submission + 14 days.
    assert_eq!(
        c.promised_reply_date,
        Some(at(0).date_naive() + Duration::days(14))
    );

    let (c, _) = walk(&[
        (Submit, Representative),
        (ReturnIncomplete, Committee),
        (Resubmit, Representative),
    ])
    .unwrap();
    assert_eq!(c.state, CaseState::Submitted);
    let (c, _) = walk(&[
        (Submit, Representative),
        (SendToCommittee, Researcher),
        (Reject, Committee),
        (Reopen, HqStaff),
    ])
    .unwrap();
    assert_eq!(c.state, CaseState::InCommittee);
    let (c, _) = walk(&[
        (Submit, Representative),
        (SendToCommittee, Researcher),
        (Reject, Committee),
        (Close, HqStaff),
    ])
    .unwrap();
    assert_eq!(c.state, CaseState::Closed);
    let (c, _) = walk(&[(Withdraw, Representative)]).unwrap();
    assert_eq!(c.state, CaseState::Withdrawn);
}

#[test]
fn refusals_name_their_reason() {
    use Role::*;
    use Transition::*;
    let check = |steps: &[(Transition, Role)], code: &str| {
        let err = walk(steps).expect_err("must be refused");
        assert_eq!(err.code(), code, "{steps:?}");
        assert!(!err.arabic_message().is_empty());
    };
    // Only the committee decides; not even an administrator.
    check(
        &[
            (Submit, Representative),
            (SendToCommittee, Representative),
            (Approve, Admin),
        ],
        "not_permitted",
    );
    // A branch representative cannot decide either.
    check(
        &[
            (Submit, Representative),
            (SendToCommittee, Representative),
            (Reject, Representative),
        ],
        "not_permitted",
    );
    // Registration needs approval.
    check(
        &[(Submit, Representative), (Register, Representative)],
        "wrong_state",
    );
    // A closed case stays closed.
    check(
        &[(Withdraw, Representative), (Submit, Representative)],
        "wrong_state",
    );
    // Nothing is delivered before registration.
    check(
        &[
            (Submit, Representative),
            (SendToCommittee, Representative),
            (Approve, Committee),
            (Deliver, Representative),
        ],
        "wrong_state",
    );
}

#[test]
fn submission_needs_declaration_documents_need_and_a_valid_beneficiary() {
    let rep = actor(&[Role::Representative]);
    let policy = Policy::default();
    let mut c = ready_case();
    c.declaration = None;
    let e = case::apply(
        &c,
        &req(Transition::Submit, ""),
        &rep,
        at(0),
        &policy,
        &ok_facts(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "declaration_missing");

    let mut c = ready_case();
    c.documents[0].seen_in_original = false;
    let e = case::apply(
        &c,
        &req(Transition::Submit, ""),
        &rep,
        at(0),
        &policy,
        &ok_facts(),
    )
    .unwrap_err();
    assert!(
        matches!(e, LifecycleError::DocumentsMissing { ref codes } if codes == &vec![c.documents[0].code.clone()])
    );

    let mut c = ready_case();
    c.need = "  ".into();
    let e = case::apply(
        &c,
        &req(Transition::Submit, ""),
        &rep,
        at(0),
        &policy,
        &ok_facts(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "need_missing");

    let c = ready_case();
    let facts = SubmissionFacts {
        beneficiary_problems: vec!["id_expiry".into()],
    };
    let e = case::apply(
        &c,
        &req(Transition::Submit, ""),
        &rep,
        at(0),
        &policy,
        &facts,
    )
    .unwrap_err();
    assert_eq!(e.code(), "beneficiary_invalid");
}

#[test]
fn rejection_and_referral_need_a_reason() {
    let c = ready_case();
    let rep = actor(&[Role::Representative]);
    let policy = Policy::default();
    let c = case::apply(
        &c,
        &req(Transition::Submit, ""),
        &rep,
        at(0),
        &policy,
        &ok_facts(),
    )
    .unwrap()
    .case;
    let e = case::apply(
        &c,
        &req(Transition::ReferToResearch, " "),
        &rep,
        at(1),
        &policy,
        &ok_facts(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "note_required");
}

#[test]
fn the_reply_period_is_configurable() {
    let policy = Policy {
        reply_days: 21,
        ..Policy::default()
    };
    let c = case::apply(
        &ready_case(),
        &req(Transition::Submit, ""),
        &actor(&[Role::Admin]),
        at(3),
        &policy,
        &ok_facts(),
    )
    .unwrap()
    .case;
    assert_eq!(
        c.promised_reply_date,
        Some(at(3).date_naive() + Duration::days(21))
    );
}

fn any_step() -> impl Strategy<Value = (Transition, Role, i64)> {
    (
        prop::sample::select(Transition::ALL.to_vec()),
        prop::sample::select(Role::ALL.to_vec()),
        0i64..30,
    )
}

proptest! {
    /// Whatever anyone tries, in any order: every state a case reaches is explained by a legal
    /// history from draft, and the promised date, once made, never moves.
    #[test]
    fn no_state_without_the_history_its_rules_need(steps in prop::collection::vec(any_step(), 0..40)) {
        let policy = Policy::default();
        let mut c = ready_case();
        let mut history: Vec<CaseEvent> = Vec::new();
        let mut promise = None;
        let mut day = 0;
        for (t, role, gap) in steps {
            day += gap;
            if t == Transition::ResearchDone && c.state == CaseState::InResearch && c.research_report.is_none() && gap % 2 == 0 {
                c.research_report = Some(ResearchReport {
                    text: "تقرير".into(), recommendation: String::new(), researcher: StaffId::new_v7(),
                    researcher_name: "باحث".into(), written_at: at(day),
                });
            }
            let note = if gap % 3 == 0 { "" } else { "سبب" };
            // A refused transition changes nothing; the loop goes on from the same case.
            if let Ok(applied) = case::apply(&c, &req(t, note), &actor(&[role]), at(day), &policy, &ok_facts()) {
                prop_assert_eq!(applied.event.from, c.state);
                prop_assert!(t.rule().roles.contains(&role));
                c = applied.case;
                history.push(applied.event);
                if let Some(p) = promise {
                    prop_assert_eq!(c.promised_reply_date, Some(p));
                }
                promise = c.promised_reply_date;
            }
            prop_assert_eq!(case::replay(&history).unwrap(), c.state);
        }
        let reached = |t: Transition| history.iter().any(|e| e.transition == t);
        if matches!(c.state, CaseState::Registered | CaseState::Served) {
            prop_assert!(reached(Transition::Approve) && reached(Transition::Submit));
        }
        if c.state == CaseState::Rejected {
            prop_assert!(c.decision.as_ref().is_some_and(|d| !d.reasons.is_empty()));
        }
        if c.state != CaseState::Draft && !(c.state == CaseState::Withdrawn && history.len() == 1) {
            prop_assert!(c.promised_reply_date.is_some());
        }
    }
}
