//! The outbox once headquarters acknowledges: an acknowledged operation keeps its row (number,
//! ID, result) and keeps its payload until HQ's backups hold it (HQ may be restored from an older
//! copy and need it again), then loses it; unacknowledged ones keep theirs to be pushed, carried
//! over or merged against.

use super::*;
use sila_store::sync::{HqStanding, OpAck};

fn standing(acked: i64, backed_up: i64, epoch: &str, head: i64) -> HqStanding {
    HqStanding {
        acked_through: acked,
        backed_up_through: backed_up,
        epoch: Some(epoch.into()),
        epoch_head: head,
    }
}

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
fn acknowledged_operations_lose_their_payloads_once_hqs_backup_holds_them_and_nothing_else() {
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
    // Acknowledged, but HQ's last backup holds none of it yet: every payload stays.
    assert_eq!(payloads(&store), (first.len() as i64, 0));
    let r = store
        .hq_standing(&standing(transition, 0, "e1", 0))
        .unwrap();
    assert_eq!(r.emptied, 0);
    // HQ's backup holds them now.
    let r = store
        .hq_standing(&standing(transition, transition, "e1", 0))
        .unwrap();
    assert_eq!(r.emptied, first.len());
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
    store
        .conn()
        .execute_batch(
            "UPDATE outbox SET acked_at = '2026-01-01T00:00:00Z', result = 'applied' WHERE seq <= 10;",
        )
        .unwrap();
    rewind_to_before(&store, "0012_acked_payloads");
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

/// HQ restored from an older copy says it holds fewer of this device's operations than it had
/// acknowledged: they become pending again with their numbers, IDs and payloads; one whose
/// payload was let go (HQ's backups had held it) is counted lost; a new epoch takes the pull
/// cursor back to where that epoch began, and only back.
#[test]
fn a_restored_hq_gets_its_operations_again_and_the_cursor_goes_back_to_its_epoch() {
    let (_dir, mut store, _clock) = new_store();
    store.generate_demo(10, 6, &mut |_, _| {}).unwrap();
    let all = sila_store::outbox::pending(store.conn(), 0, 10_000).unwrap();
    let last = all.last().unwrap().seq;
    let sent: Vec<(i64, String)> = all.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
    store.record_push(&sent, last, &[]).unwrap();
    store.apply_hq_changes(&[], 40).unwrap();
    store.hq_standing(&standing(last, 3, "e1", 0)).unwrap();
    assert_eq!(store.pull_cursor().unwrap(), 40);
    assert_eq!(sila_store::outbox::pending_count(store.conn()).unwrap(), 0);

    // HQ comes back from a copy that held this device's operations up to 5, and its feed at 25.
    let r = store.hq_standing(&standing(5, 0, "e2", 25)).unwrap();
    assert!(r.epoch_changed);
    assert_eq!(r.resend, (last - 5) as usize);
    assert_eq!(
        r.lost, 0,
        "only payloads up to 3 went, and HQ holds up to 5"
    );
    assert_eq!(store.pull_cursor().unwrap(), 25);
    let again = sila_store::outbox::pending(store.conn(), 0, 10_000).unwrap();
    assert_eq!(again.len(), (last - 5) as usize);
    for (op, was) in again.iter().zip(all.iter().skip(5)) {
        assert_eq!(
            (op.seq, op.op_id, &op.payload),
            (was.seq, was.op_id, &was.payload)
        );
    }
    assert_eq!(store.sync_state().unwrap().lost_at_hq, 0);
    // The same answer again changes nothing; an older epoch head never moves the cursor forward.
    let r = store.hq_standing(&standing(5, 0, "e2", 25)).unwrap();
    assert_eq!((r.epoch_changed, r.resend), (false, 0));
    let r = store.hq_standing(&standing(5, 0, "e3", 30)).unwrap();
    assert!(r.epoch_changed);
    assert_eq!(store.pull_cursor().unwrap(), 25);
}

/// HQ restored from a copy older than its last backup: operations whose payloads this device let
/// go cannot be sent again. They stay in sequence, go as lost, and the store says so.
#[test]
fn operations_a_restored_hq_lost_and_this_device_let_go_are_counted_lost() {
    let (_dir, mut store, _clock) = new_store();
    store.generate_demo(6, 7, &mut |_, _| {}).unwrap();
    let all = sila_store::outbox::pending(store.conn(), 0, 10_000).unwrap();
    let last = all.last().unwrap().seq;
    let sent: Vec<(i64, String)> = all.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
    store.record_push(&sent, last, &[]).unwrap();
    store.hq_standing(&standing(last, last, "e1", 0)).unwrap();
    assert_eq!(payloads(&store), (0, 0));
    let r = store.hq_standing(&standing(2, 0, "e2", 0)).unwrap();
    assert_eq!(
        (r.resend, r.lost),
        ((last - 2) as usize, (last - 2) as usize)
    );
    assert_eq!(store.sync_state().unwrap().lost_at_hq, last - 2);
    // Pending again, in order, with no payload (the client sends them as lost).
    let again = sila_store::outbox::pending(store.conn(), 0, 10_000).unwrap();
    assert_eq!(again.first().unwrap().seq, 3);
    assert!(again.iter().all(|o| o.payload.is_null()));
}

/// Acknowledged payloads no backup holds yet wait packed: runs of `PACK_RUN` compressed
/// together, much smaller than as text. HQ restored from a copy gets every one of them again,
/// byte for byte; once a backup holds a run, the run goes.
#[test]
fn payloads_waiting_for_hqs_backup_are_packed_and_come_back_whole_for_a_restored_hq() {
    use sila_store::outbox::PACK_RUN;
    let (_dir, mut store, _clock) = new_store();
    store.generate_demo(400, 8, &mut |_, _| {}).unwrap();
    let all = sila_store::outbox::pending(store.conn(), 0, 100_000).unwrap();
    let last = all.last().unwrap().seq;
    assert!(all.len() > 2 * PACK_RUN, "{} operations", all.len());
    let text: i64 = store
        .conn()
        .query_row("SELECT sum(length(payload)) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let sent: Vec<(i64, String)> = all.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
    store.record_push(&sent, last, &[]).unwrap();

    let r = store.hq_standing(&standing(last, 0, "e1", 0)).unwrap();
    let runs = all.len() / PACK_RUN;
    assert_eq!(r.packed, runs * PACK_RUN);
    let (packs, packed_bytes): (i64, i64) = store
        .conn()
        .query_row(
            "SELECT count(*), sum(length(payloads)) FROM outbox_packs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(packs as usize, runs);
    let left: i64 = store
        .conn()
        .query_row("SELECT sum(length(payload)) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        payloads(&store).0 as usize,
        all.len() - runs * PACK_RUN,
        "the tail waits as text"
    );
    assert!(
        (packed_bytes + left) * 3 < text,
        "packed {packed_bytes} B + {left} B as text, against {text} B"
    );
    // The same answer again packs nothing more.
    assert_eq!(
        store
            .hq_standing(&standing(last, 0, "e1", 0))
            .unwrap()
            .packed,
        0
    );

    // HQ comes back from a copy holding up to 7: everything after is sent again as it was.
    let r = store.hq_standing(&standing(7, 0, "e2", 0)).unwrap();
    assert_eq!((r.resend, r.lost), ((last - 7) as usize, 0));
    let again = sila_store::outbox::pending(store.conn(), 0, 100_000).unwrap();
    assert_eq!(again.len(), (last - 7) as usize);
    for (op, was) in again.iter().zip(all.iter().skip(7)) {
        assert_eq!((op.seq, &op.payload), (was.seq, &was.payload));
    }
    let raw = sila_store::outbox::pending_raw(store.conn(), 0, 100_000).unwrap();
    assert!(raw.iter().all(|o| !o.payload.is_empty()));

    // Sent again and acknowledged, then a backup holds everything: no pack, no payload stays.
    let sent: Vec<(i64, String)> = again.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
    store.record_push(&sent, last, &[]).unwrap();
    store.hq_standing(&standing(last, 0, "e2", 0)).unwrap();
    assert!(
        store
            .conn()
            .query_row("SELECT count(*) FROM outbox_packs", [], |r| r
                .get::<_, i64>(0))
            .unwrap()
            > 0
    );
    store.hq_standing(&standing(last, last, "e2", 0)).unwrap();
    let packs: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM outbox_packs", [], |r| r.get(0))
        .unwrap();
    assert_eq!((packs, payloads(&store).0), (0, 0));
}
