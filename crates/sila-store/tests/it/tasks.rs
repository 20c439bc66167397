//! Tasks for people: a role's pool or one person, taken, given, snoozed and done, each edit synced
//! as the fields it changed; rule tasks close themselves when their reason goes away.

use super::*;
use sila_domain::case::{Case, Transition};
use sila_domain::catalog::Channel;
use sila_domain::staff::Role;
use sila_domain::task::{self, TaskKind};
use sila_store::demo::PNG_1X1;

/// A submitted food-basket request for a new beneficiary.
pub fn submitted_case(store: &mut Store, name: &str, id9: &str) -> Case {
    let b = person(name, Some(&valid_id(id9)), Some("0551112233"));
    store.create_beneficiary(&b).unwrap();
    let c = store
        .create_case(b.id, "food_basket", Channel::Interview)
        .unwrap();
    store.set_case_need(c.id, "سلة غذائية").unwrap();
    store.sign_declaration(c.id, PNG_1X1, false).unwrap();
    for code in ["national_id", "family_card"] {
        store.attach_document(c.id, code, PNG_1X1).unwrap();
        store.mark_seen_in_original(c.id, code, true).unwrap();
    }
    store.transition(c.id, Transition::Submit, "").unwrap()
}

fn last_op(store: &Store) -> sila_store::outbox::Op {
    sila_store::outbox::pending(store.conn(), 0, 100_000)
        .unwrap()
        .pop()
        .unwrap()
}

fn open(dir: &tempfile::TempDir, clock: &TestClock, user: &str, pw: &str) -> Store {
    Store::open_with(dir.path(), user, pw, clock.clock()).unwrap()
}

#[test]
fn a_roles_task_is_taken_given_and_put_back() {
    let (dir, mut store, clock) = new_store();
    for (u, name, role) in [
        ("huda", "الباحثة هدى", Role::Researcher),
        ("amal", "الباحثة أمل", Role::Researcher),
        ("rep", "الموظف فهد", Role::Representative),
    ] {
        store.add_staff(u, name, &[role], "pass-word-1234").unwrap();
    }
    let c = submitted_case(&mut store, "منيرة سعد السبيعي", "100000001");
    store
        .transition(c.id, Transition::ReferToResearch, "الدخل غير موثق")
        .unwrap();
    let research = |s: &Store| {
        s.my_tasks(50)
            .unwrap()
            .into_iter()
            .find(|t| t.kind == TaskKind::Research)
    };
    let t = research(&store).expect("an administrator sees every pool");
    assert_eq!(
        t.id,
        task::rule_task_id(&t.key),
        "the same ID on every device"
    );
    drop(store);

    let mut huda = open(&dir, &clock, "huda", "pass-word-1234");
    assert!(research(&huda).is_some(), "in the researchers' pool");
    let rep = open(&dir, &clock, "rep", "pass-word-1234");
    assert!(research(&rep).is_none(), "not a representative's");
    drop(rep);

    // Huda takes it: it is hers alone now, and the edit travels as the one field it changed.
    let taken = huda.assign_task(t.id, Some("huda")).unwrap();
    assert_eq!(taken.assignee, Some(huda.session().actor.staff_id));
    let op = last_op(&huda);
    assert_eq!(op.op, "task.update");
    assert_eq!(
        op.base_version,
        Some(0),
        "HQ has not sent this task back yet"
    );
    assert_eq!(
        op.payload["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["assignee"]
    );
    assert!(huda.assign_task(t.id, Some("nobody")).is_err());
    drop(huda);
    let amal = open(&dir, &clock, "amal", "pass-word-1234");
    assert!(research(&amal).is_none(), "taken by a colleague");
    drop(amal);

    // Given to the representative (whatever the task's role), then put back in the pool.
    let mut admin = open(&dir, &clock, "admin", PASSWORD);
    admin.assign_task(t.id, Some("rep")).unwrap();
    assert!(research(&admin).is_none(), "someone has it");
    drop(admin);
    let mut rep = open(&dir, &clock, "rep", "pass-word-1234");
    assert!(research(&rep).is_some(), "given to him by name");
    rep.assign_task(t.id, None).unwrap();
    assert!(research(&rep).is_none());
    drop(rep);
    let amal = open(&dir, &clock, "amal", "pass-word-1234");
    assert!(research(&amal).is_some(), "back in the pool");
}

#[test]
fn a_snoozed_task_comes_back_later_and_keeps_its_due_date() {
    let (_dir, mut store, clock) = new_store();
    let c = submitted_case(&mut store, "خالد محمد القحطاني", "100000002");
    let today = clock.clock()().date_naive();
    let t = store
        .add_task(
            c.beneficiary_id,
            Some(c.id),
            "اتصل لتأكيد العنوان",
            Some(today),
            None,
        )
        .unwrap();
    assert_eq!(
        store.snooze_task(t.id, today).unwrap_err().code(),
        "invalid_input",
        "a snooze is to a later day"
    );
    let later = today + chrono::Days::new(3);
    let snoozed = store.snooze_task(t.id, later).unwrap();
    assert_eq!(snoozed.due(), later);
    assert_eq!(snoozed.due_on, today);
    let op = last_op(&store);
    assert_eq!(
        op.payload["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["snoozed_until"]
    );
    // Sorted by the day it is due now: behind a task due tomorrow.
    let sooner = store
        .add_task(
            c.beneficiary_id,
            Some(c.id),
            "راجع المستندات",
            Some(today + chrono::Days::new(1)),
            None,
        )
        .unwrap();
    let order: Vec<_> = store.my_tasks(50).unwrap().iter().map(|t| t.id).collect();
    assert_eq!(order, [sooner.id, t.id]);
    assert_eq!(store.case_tasks(c.id).unwrap().len(), 2);

    store.complete_task(t.id).unwrap();
    let done = store.task(t.id).unwrap().unwrap();
    assert_eq!(done.done_by, Some(store.session().actor.staff_id));
    assert_eq!(
        store.complete_task(t.id).unwrap_err().code(),
        "invalid_input",
        "done once"
    );
    assert_eq!(store.case_tasks(c.id).unwrap().len(), 1);
}

#[test]
fn people_add_follow_ups_for_themselves_or_a_colleague() {
    let (dir, mut store, clock) = new_store();
    store
        .add_staff(
            "rep",
            "الموظف فهد",
            &[Role::Representative],
            "pass-word-1234",
        )
        .unwrap();
    let c = submitted_case(&mut store, "نورة فهد العتيبي", "100000003");
    let today = clock.clock()().date_naive();
    let past = today - chrono::Days::new(1);
    assert!(
        store
            .add_task(c.beneficiary_id, None, "اتصل", Some(past), None)
            .is_err()
    );
    assert_eq!(
        store
            .add_task(c.beneficiary_id, None, " ", None, None)
            .map(|_| ())
            .map_err(|e| match e {
                sila_store::StoreError::Invalid(f) =>
                    f.into_iter().map(|f| f.field).collect::<Vec<_>>(),
                _ => vec![],
            })
            .unwrap_err(),
        ["due_on", "note"],
        "say what to do and by when, both at once"
    );
    assert!(
        store
            .add_task(c.beneficiary_id, None, "اتصل", Some(today), Some("ghost"))
            .is_err()
    );
    let other = person("سعد علي الحربي", None, None);
    store.create_beneficiary(&other).unwrap();
    assert!(
        store
            .add_task(other.id, Some(c.id), "اتصل", Some(today), None)
            .is_err(),
        "the case must be this beneficiary's"
    );
    let t = store
        .add_task(
            c.beneficiary_id,
            Some(c.id),
            "زيارة منزلية",
            Some(today),
            Some("rep"),
        )
        .unwrap();
    assert_eq!(last_op(&store).op, "task.create");
    assert!(
        !store.my_tasks(50).unwrap().iter().any(|x| x.id == t.id),
        "it is the colleague's"
    );
    drop(store);
    let rep = open(&dir, &clock, "rep", "pass-word-1234");
    let mine = rep.my_tasks(50).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].note, "زيارة منزلية");
}

#[test]
fn rule_tasks_close_themselves_when_their_reason_goes() {
    let (_dir, mut store, _clock) = new_store();
    let c = submitted_case(&mut store, "سارة علي الدوسري", "100000004");
    store
        .transition(c.id, Transition::ReferToResearch, "يحتاج زيارة")
        .unwrap();
    let research = store
        .case_tasks(c.id)
        .unwrap()
        .into_iter()
        .find(|t| t.kind == TaskKind::Research)
        .unwrap();
    store
        .write_research_report(c.id, "زيارة منزلية", "القبول")
        .unwrap();
    store
        .transition(c.id, Transition::ResearchDone, "")
        .unwrap();
    let closed = store.task(research.id).unwrap().unwrap();
    assert!(closed.done_at.is_some(), "research done closes the task");
    assert_eq!(closed.done_by, None, "closed by the rule, not by a person");
    let op = last_op(&store);
    assert!(
        sila_store::outbox::pending(store.conn(), 0, 100_000)
            .unwrap()
            .iter()
            .any(|o| o.op == "task.done" && o.entity_id == research.id.to_string()),
        "the closing travels to HQ: {op:?}"
    );
    // Withdrawn: nothing the rules made stays open.
    store
        .transition(c.id, Transition::Withdraw, "طلب المستفيد")
        .unwrap();
    assert!(
        store
            .case_tasks(c.id)
            .unwrap()
            .iter()
            .all(|t| !t.kind.is_rule())
    );
}
