//! The home screen's counts are tallies that triggers keep as the data changes
//! (migrations/branch/0011_tallies.sql): whichever path changed the rows, and however it ended,
//! they equal counting the rows.

use super::*;
use sila_domain::case::CaseState;
use sila_store::Stats;

/// The counts as the home screen showed them before the tallies: by scanning.
fn counted(store: &Store) -> (Stats, Vec<(CaseState, i64)>) {
    let one = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    let stats = Stats {
        beneficiaries: one("SELECT count(*) FROM beneficiaries WHERE merged_into IS NULL"),
        cases: one("SELECT count(*) FROM cases"),
        pending_changes: one("SELECT count(*) FROM outbox WHERE acked_at IS NULL"),
    };
    let by_state = CaseState::ALL
        .into_iter()
        .map(|s| {
            let n = one(&format!(
                "SELECT count(*) FROM cases WHERE state = '{}'",
                s.code()
            ));
            (s, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    (stats, by_state)
}

fn assert_kept(store: &Store, after: &str) {
    let kept = (store.stats().unwrap(), store.case_counts().unwrap());
    assert_eq!(kept, counted(store), "after {after}");
}

fn live_ids(store: &Store, n: usize) -> Vec<String> {
    let mut stmt = store
        .conn()
        .prepare("SELECT id FROM beneficiaries WHERE merged_into IS NULL ORDER BY rid LIMIT ?1")
        .unwrap();
    stmt.query_map([n as i64], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn the_home_counts_are_kept_as_the_data_changes() {
    let (_dir, mut store, _clock) = new_store();
    assert_kept(&store, "a new store");

    // Demo data walks cases through every state: inserts, transitions, tasks, interactions.
    store.generate_demo(150, 7, &mut |_, _| {}).unwrap();
    assert_kept(&store, "demo data");
    assert!(store.stats().unwrap().beneficiaries > 100);

    // A merge from headquarters, and its undoing (sync writes these rows).
    let ids = live_ids(&store, 2);
    let merge = "UPDATE beneficiaries SET merged_into = ?2 WHERE id = ?1";
    store.conn().execute(merge, [&ids[0], &ids[1]]).unwrap();
    assert_kept(&store, "a merge");
    store
        .conn()
        .execute(
            "UPDATE beneficiaries SET merged_into = NULL WHERE id = ?1",
            [&ids[0]],
        )
        .unwrap();
    assert_kept(&store, "undoing a merge");

    // Headquarters acknowledges part of the outbox.
    let ops = sila_store::outbox::pending(store.conn(), 0, 40).unwrap();
    let sent: Vec<(i64, String)> = ops.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
    store.record_push(&sent, ops[39].seq, &[]).unwrap();
    assert_kept(&store, "an acknowledgement");

    // A change that rolls back leaves the tallies as they were.
    let before = store.stats().unwrap();
    store
        .conn()
        .execute_batch(
            "BEGIN;
             DELETE FROM outbox WHERE acked_at IS NULL;
             UPDATE cases SET state = 'closed';
             ROLLBACK;",
        )
        .unwrap();
    assert_eq!(store.stats().unwrap(), before);
    assert_kept(&store, "a rolled-back change");

    // Deleting rows (HQ taking back a copy it sent; pruning acknowledged operations).
    let copy = live_ids(&store, 1);
    store
        .conn()
        .execute_batch("PRAGMA foreign_keys = OFF")
        .unwrap();
    store
        .conn()
        .execute("DELETE FROM beneficiaries WHERE id = ?1", [&copy[0]])
        .unwrap();
    store
        .conn()
        .execute_batch("DELETE FROM outbox WHERE seq % 3 = 0")
        .unwrap();
    assert_kept(&store, "deletions");
}

/// A store written before the tallies existed gets them counted from its rows when it is opened.
#[test]
fn a_store_from_before_the_tallies_starts_them_from_its_rows() {
    let (dir, mut store, clock) = new_store();
    store.generate_demo(60, 3, &mut |_, _| {}).unwrap();
    let expected = counted(&store);
    // Back to the schema before migration 0011, rows and all.
    let triggers: Vec<String> = store
        .conn()
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tally_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in triggers {
        store
            .conn()
            .execute_batch(&format!("DROP TRIGGER {t}"))
            .unwrap();
    }
    store.conn().execute_batch("DROP TABLE tallies;").unwrap();
    rewind_to_before(&store, "0011_tallies");
    drop(store);

    let store = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    assert_eq!(
        (store.stats().unwrap(), store.case_counts().unwrap()),
        expected
    );
}
