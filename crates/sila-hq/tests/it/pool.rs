//! The PostgreSQL engine's pooled connections, on a real cluster whatever `SILA_TEST_DB` says
//! (what these tests check exists on PostgreSQL only): a reading transaction does not wait for
//! its COMMIT's answer, yet leaves no transaction open; a connection the server closed while it
//! sat in the pool is replaced, not handed out; a lookup of many keys is one statement that
//! searches the index for each.

use sila_hq::db::{self, Engine, Mode};
use sila_hq::params;
use std::time::{Duration, Instant};

/// What PostgreSQL says of this database's other connections: (state, count).
fn states(url: &str) -> Vec<(String, i64)> {
    db::postgres::off_runtime(|| {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.query(
            "SELECT coalesce(state, ''), count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
             GROUP BY 1 ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    })
}

fn count(engine: &dyn Engine, mode: Mode) -> i64 {
    let mut n = 0;
    engine
        .run(mode, &mut |c| {
            n = c.one("SELECT count(*) FROM branches", &[])?.i64(0)?;
            Ok(())
        })
        .unwrap();
    n
}

#[test]
fn a_reading_transaction_leaves_its_connection_idle_and_the_next_one_reads_its_answer() {
    let url = sila_hq::testing::new_database();
    let engine = db::open(&url).unwrap();
    for mode in [Mode::Read, Mode::Snapshot] {
        assert_eq!(count(&*engine, mode), 0);
        // The COMMIT was sent, not waited for: the server ends the transaction as soon as it
        // reads it, with nothing more sent on that connection. (Left unsent, the connection
        // would sit "idle in transaction" until its next use.)
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = states(&url);
            if s.iter()
                .all(|(state, _)| !state.starts_with("idle in transaction"))
            {
                break;
            }
            assert!(Instant::now() < deadline, "{mode:?}: {s:?}");
        }
    }
    // The next transactions on the same connections read those answers first and go on.
    engine
        .run(Mode::Write, &mut |c| {
            c.exec(
                "INSERT INTO branches (name, created_at, feed_head) VALUES (?1, ?2, 0)",
                params!["aflaj", "2026-03-10T09:00:00Z"],
            )?;
            Ok(())
        })
        .unwrap();
    assert_eq!(count(&*engine, Mode::Read), 1);
    assert_eq!(count(&*engine, Mode::Snapshot), 1);
}

/// Has the server end every other connection to the database (`pg_terminate_backend` only
/// signals: they may still be ending when it returns); how many it signalled.
fn end_every_backend(url: &str) -> i64 {
    db::postgres::off_runtime(|| {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
            &[],
        )
        .unwrap()
        .get(0)
    })
}

#[test]
fn a_connection_the_server_closed_in_the_pool_is_replaced() {
    let url = sila_hq::testing::new_database();
    let engine = db::open(&url).unwrap();
    assert_eq!(count(&*engine, Mode::Read), 0);
    // Every connection of the pool is closed by the server while idle (a restart, a failover,
    // an idle timeout).
    assert!(end_every_backend(&url) >= 1);
    // Wait until the server has closed them (pg_terminate_backend only signals), a bounded time.
    db::postgres::off_runtime(|| {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            > 0
        {
            assert!(Instant::now() < deadline, "the server kept the connections");
            std::thread::yield_now();
        }
    });
    assert_eq!(count(&*engine, Mode::Read), 0);
    assert_eq!(count(&*engine, Mode::Write), 0);
}

/// The server ends every connection of the pool and a transaction starts at once, before any
/// close has reached the pool's check (PostgreSQL's backends may still be ending): the
/// transaction meets the closed connection at its first statement, and runs again on a new one.
/// Seen failing without the rerun ("connection closed"), and once under load in the test above.
#[test]
fn a_transaction_that_meets_a_connection_the_server_just_closed_runs_again_on_a_new_one() {
    let url = sila_hq::testing::new_database();
    let engine = db::open(&url).unwrap();
    for round in 0..5 {
        assert_eq!(count(&*engine, Mode::Write), 0, "round {round}");
        assert!(end_every_backend(&url) >= 1);
        assert_eq!(count(&*engine, Mode::Write), 0, "round {round}, writing");
        assert_eq!(count(&*engine, Mode::Read), 0, "round {round}, reading");
    }
}

/// `Conn::query_keys` on PostgreSQL is one statement for many keys, and each key still a search
/// of the index: a join of the keys with the table, planned from its size, would read the whole
/// table (5,000 branches against at most 100 keys the planner expects). Seen reading it with
/// the lookup folded into a join (without its `OFFSET 0`): seq_scan 1, idx_scan 0.
#[test]
fn a_lookup_of_many_keys_is_one_statement_and_an_index_search_each() {
    let url = sila_hq::testing::new_database();
    let engine = db::open(&url).unwrap();
    engine
        .run(Mode::Write, &mut |c| {
            c.exec(
                "INSERT INTO branches (name, created_at, feed_head)
                 SELECT 'b' || i, '2026-03-10T09:00:00Z', i FROM generate_series(1, 5000) i",
                &[],
            )?;
            Ok(())
        })
        .unwrap();
    engine
        .run(Mode::Write, &mut |c| {
            let lookup = "SELECT name, feed_head FROM branches WHERE name = {key} AND feed_head > ?1";
            // The table's reads so far on this connection (PostgreSQL counts them on the
            // connection until it reports them, not only in this transaction).
            let scans = |c: &mut dyn db::Conn| -> sila_hq::Result<(i64, i64)> {
                let r = c.one(
                    "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'branches'",
                    &[],
                )?;
                Ok((r.i64(0)?, r.i64(1)?))
            };
            // The first use prepares the statement: a round trip of its own.
            c.query_keys(lookup, params![10i64], &["b1"])?;
            let before = scans(c)?;
            let rounds = c.round_trips();
            let keys = ["b7", "b4999", "nobody", "b11", "b11"];
            assert_eq!(
                c.dialect().each_key(lookup, params![10i64], &keys).len(),
                1,
                "one statement"
            );
            let rows = c.query_keys(lookup, params![10i64], &keys)?;
            assert_eq!(c.round_trips() - rounds, 1, "one round trip");
            let mut got: Vec<(String, i64)> = rows
                .iter()
                .map(|r| Ok((r.text(0)?, r.i64(1)?)))
                .collect::<sila_hq::Result<_>>()?;
            got.sort();
            // b7 is below ?1; a key asked twice answers twice.
            assert_eq!(
                got,
                vec![("b11".into(), 11), ("b11".into(), 11), ("b4999".into(), 4999)]
            );
            let after = scans(c)?;
            assert_eq!(
                (after.0 - before.0, after.1 - before.1),
                (0, 5),
                "seq_scan, idx_scan: a search of the index for each key"
            );
            Ok(())
        })
        .unwrap();
}
