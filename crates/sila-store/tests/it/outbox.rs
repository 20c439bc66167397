//! The outbox once headquarters acknowledges: an acknowledged operation keeps its row (number,
//! ID, result) and loses its payload, which nothing reads again; unacknowledged ones keep theirs
//! to be pushed, carried over or merged against.

use super::*;
use sila_store::sync::OpAck;

fn payloads(store: &Store) -> (i64, i64) {
    store
        .conn()
        .query_row(
            "SELECT count(*) FILTER (WHERE acked_at IS NOT NULL AND payload <> ''),
                    count(*) FILTER (WHERE acked_at IS NULL AND payload = '')
             FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

#[test]
fn acknowledged_operations_lose_their_payloads_and_nothing_else() {
    let (_dir, mut store, _clock) = new_store();
    store.generate_demo(40, 4, &mut |_, _| {}).unwrap();
    let all = sila_store::outbox::pending(store.conn(), 0, 10_000).unwrap();
    let transition = all
        .iter()
        .find(|o| o.op == "case.transition")
        .expect("demo data moves cases")
        .seq;
    let first: Vec<_> = all.iter().filter(|o| o.seq <= transition).collect();
    let sent: Vec<(i64, String)> = first.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
    // HQ applies them all but refuses the transition.
    let refused = OpAck {
        seq: transition,
        result: "rejected".into(),
        reason: Some("not_permitted".into()),
    };
    let report = store
        .record_push(&sent, transition, std::slice::from_ref(&refused))
        .unwrap();
    assert_eq!((report.acked, report.rejected), (first.len(), 1));

    assert_eq!(payloads(&store), (0, 0));
    let acked: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM outbox WHERE acked_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(acked, first.len() as i64, "the rows stay");
    // The refused transition was read before its payload went: it is marked in the history
    // and listed as refused.
    let marked: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM case_event_refusals", [], |r| r.get(0))
        .unwrap();
    assert_eq!(marked, 1);
    assert_eq!(store.refused_ops(10).unwrap()[0].seq, transition);
    // What is left to push is whole.
    let rest = sila_store::outbox::pending(store.conn(), 0, 10_000).unwrap();
    assert_eq!(rest.len(), all.len() - first.len());
    for (left, was) in rest.iter().zip(all.iter().skip(first.len())) {
        assert_eq!(left.payload, was.payload);
    }
}

/// Operations acknowledged before payloads were dropped on acknowledgement lose theirs when the
/// store is opened by this version (migrations/branch/0012_acked_payloads.sql).
#[test]
fn a_store_from_before_loses_the_payloads_it_had_acknowledged() {
    let (dir, mut store, clock) = new_store();
    store.generate_demo(20, 5, &mut |_, _| {}).unwrap();
    let position = sila_store::migrate::MIGRATIONS
        .iter()
        .position(|(name, _)| *name == "0012_acked_payloads")
        .unwrap() as i64;
    store
        .conn()
        .execute_batch(&format!(
            "UPDATE outbox SET acked_at = '2026-01-01T00:00:00Z', result = 'applied' WHERE seq <= 10;
             DELETE FROM schema_migrations WHERE version > {position};
             PRAGMA user_version = {position};"
        ))
        .unwrap();
    let kept: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM outbox WHERE acked_at IS NOT NULL AND payload <> ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 10);
    drop(store);
    let store = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    assert_eq!(payloads(&store), (0, 0));
}
