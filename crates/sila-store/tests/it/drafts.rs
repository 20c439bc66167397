//! Drafts belong to a person: several at once, kept across sign-outs, hidden from everyone else
//! until handed over, discarded with undo.

use crate::{PASSWORD, new_store};
use sila_domain::staff::Role;
use sila_store::Store;

#[test]
fn drafts_are_each_persons_own_and_survive_signing_out() {
    let (dir, mut store, clock) = new_store();
    store
        .add_staff("sara", "سارة", &[Role::Representative], "sara-pass-1234")
        .unwrap();
    let one = serde_json::json!({"step": 2, "identity": {"first": "خالد"}});
    let two = serde_json::json!({"step": 1, "query": "منيرة"});
    let a = store.save_draft(None, "intake", &one).unwrap();
    let b = store.save_draft(None, "intake", &two).unwrap();
    assert_ne!(a, b);
    let edited =
        serde_json::json!({"step": 3, "identity": {"first": "خالد", "family": "القحطاني"}});
    clock.advance_days(1);
    assert_eq!(store.save_draft(Some(&a), "intake", &edited).unwrap(), a);
    drop(store);

    // Another person on the same device sees nothing of them and cannot write into them.
    let mut sara = Store::open_with(dir.path(), "sara", "sara-pass-1234", clock.clock()).unwrap();
    assert!(sara.my_drafts("intake").unwrap().is_empty());
    assert_eq!(sara.draft(&a).unwrap(), None);
    assert!(matches!(
        sara.save_draft(Some(&a), "intake", &two),
        Err(sila_store::StoreError::NotFound("draft"))
    ));
    assert!(sara.discard_draft(&a).is_err());
    assert!(sara.hand_over_draft(&a, "sara").is_err());
    sara.delete_draft(&a).unwrap();
    drop(sara);

    // Their owner finds both after signing in again, the last saved first.
    let store = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    let mine = store.my_drafts("intake").unwrap();
    let ids: Vec<&str> = mine.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), b.as_str()]);
    assert_eq!(mine[0].data, edited);
    assert_eq!(store.draft(&b).unwrap().unwrap().data, two);
}

#[test]
fn a_handed_over_draft_moves_to_the_colleague_and_is_audited() {
    let (dir, mut store, clock) = new_store();
    store
        .add_staff("sara", "سارة", &[Role::Representative], "sara-pass-1234")
        .unwrap();
    let form = serde_json::json!({"step": 4});
    let id = store.save_draft(None, "intake", &form).unwrap();
    assert!(
        store.hand_over_draft(&id, "admin").is_err(),
        "not to oneself"
    );
    assert!(store.hand_over_draft(&id, "nobody").is_err());
    store.hand_over_draft(&id, "Sara").unwrap();
    assert!(store.my_drafts("intake").unwrap().is_empty());
    assert_eq!(store.draft(&id).unwrap(), None);
    let audited: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM audit_events WHERE action = 'draft.hand_over' AND entity_id = ?1",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
    drop(store);
    let sara = Store::open_with(dir.path(), "sara", "sara-pass-1234", clock.clock()).unwrap();
    let hers = sara.my_drafts("intake").unwrap();
    assert_eq!(hers.len(), 1);
    assert_eq!(hers[0].handed_by.as_deref(), Some("مدير الفرع"));
    assert_eq!(hers[0].data, form);
}

#[test]
fn a_discarded_draft_can_be_brought_back_for_a_day() {
    let (_dir, mut store, clock) = new_store();
    let a = store
        .save_draft(None, "intake", &serde_json::json!({"step": 1}))
        .unwrap();
    let b = store
        .save_draft(None, "intake", &serde_json::json!({"step": 2}))
        .unwrap();
    store.discard_draft(&a).unwrap();
    assert_eq!(store.my_drafts("intake").unwrap().len(), 1);
    assert!(
        store
            .save_draft(Some(&a), "intake", &serde_json::json!({}))
            .is_err(),
        "a discarded draft takes no saves"
    );
    store.restore_draft(&a).unwrap();
    assert_eq!(store.my_drafts("intake").unwrap().len(), 2);
    assert!(store.restore_draft(&a).is_err(), "it is not discarded now");

    // A day later the next discard deletes what was discarded before for good.
    store.discard_draft(&a).unwrap();
    clock.advance_days(2);
    store.discard_draft(&b).unwrap();
    assert!(store.restore_draft(&a).is_err());
    store.restore_draft(&b).unwrap();
    let left: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM drafts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 1);
}

#[test]
fn an_oversized_draft_is_refused() {
    let (_dir, mut store, _clock) = new_store();
    let big = serde_json::json!({"need": "ا".repeat(sila_store::drafts::MAX_DRAFT_BYTES)});
    let e = store.save_draft(None, "intake", &big).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(store.my_drafts("intake").unwrap().is_empty());
}
