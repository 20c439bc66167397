//! Moving up (issue 12, point 5): an HQ on an SQLite file copied into an empty PostgreSQL
//! database by the real `sila-hq migrate-store`, then served from there. Branches enrolled
//! before the move sync on after it with the same credentials and cursors: what they had not sent
//! arrives once, a decision HQ took before the move reaches them, a laptop that had not pulled
//! yet gets the rest of its branch, and every table holds as many rows as before. The tables
//! PostgreSQL keeps by triggers, rebuilt by the copy in one statement each, hold exactly what its
//! row triggers build from the same rows, and its triggers keep them after the move.
//!
//! Always SQLite to PostgreSQL, whatever `SILA_TEST_DB` says: the cluster is the run's
//! (`SILA_TEST_PG`) or one the test starts itself (`sila_hq::testing`).

use crate::harness::*;
use chrono::Utc;
use sila_domain::case::{CaseState, Transition};
use sila_hq::db::{Conn, Mode};
use sila_hq::store::{HqActor, HqStore};
use sila_hq::testing::{TestEngine, fresh_db_on};

const BRANCH: &str = "الأفلاج";

fn counts(db: &str) -> Vec<(&'static str, i64)> {
    sila_hq::db::copy::counts(&*sila_hq::db::open(db).unwrap()).unwrap()
}

/// The tables HQ keeps by triggers: every one a copy leaves to the target but the duplicate
/// search's change counter (a number that only has to move) and the migrations' list.
fn kept_by_triggers() -> impl Iterator<Item = &'static str> {
    sila_hq::db::copy::NOT_COPIED
        .iter()
        .copied()
        .filter(|t| !matches!(*t, "duplicate_inputs" | "schema_migrations"))
}

type Tables = Vec<(&'static str, Vec<String>)>;

/// Every row of the tables kept by triggers, each as text, sorted.
fn kept_rows(c: &mut dyn Conn) -> sila_hq::Result<Tables> {
    kept_by_triggers()
        .map(|t| {
            let mut rows: Vec<String> = c
                .query(&format!("SELECT * FROM {t}"), &[])?
                .into_iter()
                .map(|r| format!("{:?}", r.0))
                .collect();
            rows.sort();
            Ok((t, rows))
        })
        .collect()
}

fn kept(db: &str) -> Tables {
    sila_hq::db::run(&*sila_hq::db::open(db).unwrap(), Mode::Read, kept_rows).unwrap()
}

/// What the row triggers of `db` build from the rows it holds: the rows they derive from are
/// taken out, the tables they keep emptied, and the rows put back one by one (as pushes
/// inserted them), in a transaction rolled back afterwards.
fn rebuilt_by_row_triggers(db: &str) -> Tables {
    let engine = sila_hq::db::open(db).unwrap();
    let mut out = None;
    let undone: sila_hq::Result<()> = sila_hq::db::run(&*engine, Mode::Write, |c| {
        let sources = ["beneficiaries", "cases", "records"];
        for t in sources {
            c.batch(&format!(
                "CREATE TEMP TABLE keep_{t} ON COMMIT DROP AS SELECT * FROM {t}; DELETE FROM {t}"
            ))?;
        }
        for t in kept_by_triggers() {
            c.batch(&format!("DELETE FROM {t}"))?;
        }
        for t in sources {
            let (_, cols) = sila_hq::db::copy::TABLES
                .iter()
                .find(|(n, _)| *n == t)
                .unwrap();
            let cols = cols.join(", ");
            // One statement per row, so each row's triggers see the rows before it.
            let rids: Vec<i64> = c
                .query(&format!("SELECT rid FROM keep_{t} ORDER BY rid"), &[])?
                .iter()
                .map(|r| r.i64(0))
                .collect::<sila_hq::Result<_>>()?;
            for rid in rids {
                c.exec(
                    &format!("INSERT INTO {t} ({cols}) SELECT {cols} FROM keep_{t} WHERE rid = ?1"),
                    &[rid.into()],
                )?;
            }
        }
        out = Some(kept_rows(c)?);
        Err(sila_hq::HqError::BadRequest("rolled back on purpose"))
    });
    assert!(undone.is_err());
    out.unwrap()
}

/// The tables kept by triggers on the PostgreSQL store `db` hold what its row triggers build.
fn assert_kept_exactly(db: &str) -> Tables {
    let held = kept(db);
    let rebuilt = rebuilt_by_row_triggers(db);
    for ((t, held), (_, rebuilt)) in held.iter().zip(&rebuilt) {
        assert_eq!(held, rebuilt, "{t} holds what the row triggers build");
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_enrolled_on_sqlite_sync_on_after_moving_up_to_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let file = fresh_db_on(TestEngine::Sqlite, dir.path());
    let mut before = Hq::start_on(file.clone()).await;
    let mut reception = Branch::laptop(&before, BRANCH, "reception").await;
    let mut late = Branch::laptop(&before, BRANCH, "late").await;
    let mut other = Branch::enrolled(&before, "مروان", &before.url).await;
    reception.demo(30, 51);
    other.demo(12, 52);
    for b in [&mut reception, &mut other] {
        b.sync_until_quiet(&opts()).await;
    }
    // Before the move: HQ decides a case the branch has not heard of yet, the branch makes more
    // people it has not sent, and the second laptop has pulled nothing.
    let waiting: String = reception
        .store
        .conn()
        .query_row(
            "SELECT id FROM cases WHERE state = 'in_committee' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let committee = HqActor {
        staff_id: sila_domain::ids::StaffId::new_v7(),
        display_name: "لجنة البحث".into(),
    };
    before
        .store
        .decide(&waiting, Transition::Approve, "", &committee, Utc::now())
        .unwrap();
    reception.demo(7, 53);
    let unsent = reception.pending();
    assert!(unsent > 0);
    before.stop().await;
    drop(before);
    let held = counts(&file);

    let pg = fresh_db_on(TestEngine::Postgres, dir.path());
    let out = std::process::Command::new(bin("hq"))
        .args(["migrate-store", "--from", &file, "--to", &pg])
        .env("SILA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate-store: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It prints what it copied, table by table, and the database holds exactly that.
    let printed: Vec<(String, i64)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (t, n) = l.split_once('\t').expect("table<TAB>rows");
            (t.to_owned(), n.parse().unwrap())
        })
        .collect();
    let moved = counts(&pg);
    assert_eq!(
        printed,
        held.iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect::<Vec<_>>()
    );
    // `meta` holds HQ's identity, replaced by the source's: the same count either way.
    assert_eq!(
        moved, held,
        "every table holds as many rows as before the move"
    );
    assert!(held.iter().any(|(t, n)| *t == "records" && *n > 0));
    // The tables kept by triggers: rebuilt by the copy as its row triggers would have built
    // them, and one row of facts per case, record and task as on the SQLite store.
    let moved_kept = assert_kept_exactly(&pg);
    let sizes = |k: &Tables| -> Vec<(&'static str, usize)> {
        k.iter().map(|(t, rows)| (*t, rows.len())).collect()
    };
    let facts = |k: &Tables| -> Vec<(&'static str, usize)> {
        sizes(k)
            .into_iter()
            .filter(|(t, _)| t.ends_with("_facts"))
            .collect()
    };
    assert_eq!(facts(&moved_kept), facts(&kept(&file)));
    for t in ["case_facts", "case_counts", "register_counts"] {
        assert!(
            sizes(&moved_kept)
                .iter()
                .any(|(n, rows)| *n == t && *rows > 0),
            "{t} holds rows after the copy"
        );
    }

    // A second copy into the now full database is refused and changes nothing.
    let again = std::process::Command::new(bin("hq"))
        .args(["migrate-store", "--from", &file, "--to", &pg])
        .env("SILA_LOG", "warn")
        .output()
        .unwrap();
    assert!(!again.status.success(), "a copy into a database in use");
    assert_eq!(counts(&pg), held);

    // HQ now runs on PostgreSQL at a new address; the devices are pointed at it, nothing else.
    let mut after = Hq::start_on(pg.clone()).await;
    for b in [&reception, &late, &other] {
        point_at(b, &after.url);
    }
    let r = reception.sync_until_quiet(&opts()).await;
    // What was unsent, plus the branch's own answer to the decision it pulled (its "tell the
    // applicant" task); HQ holding exactly what the branch holds (below) shows none went twice.
    assert!(r.pushed as i64 >= unsent, "the unsent work went");
    assert_eq!(r.pending, 0);
    let id: sila_domain::ids::CaseId = waiting.parse().unwrap();
    assert_eq!(
        reception.store.case(id).unwrap().unwrap().case.state,
        CaseState::Approved,
        "the decision taken before the move"
    );
    // Twice round: what one laptop sends in the first round (the tasks it made from what it
    // pulled) reaches the others in the second.
    for _ in 0..2 {
        for b in [&mut reception, &mut late, &mut other] {
            b.sync_until_quiet(&opts()).await;
        }
    }
    for b in [&reception, &late, &other] {
        assert_hq_holds(&after, b);
    }
    let people = |b: &Branch| -> i64 {
        b.store
            .conn()
            .query_row("SELECT count(*) FROM beneficiaries", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(people(&late), 37, "the late laptop holds its whole branch");
    assert_eq!(people(&other), 12);
    // What was pushed after the move moved the tables kept by triggers (the triggers are on
    // again), and they still hold exactly what the row triggers build.
    after.stop().await;
    let pushed_kept = assert_kept_exactly(&pg);
    let cases_facts = |k: &Tables| k.iter().find(|(t, _)| *t == "case_facts").unwrap().1.len();
    assert!(cases_facts(&pushed_kept) > cases_facts(&moved_kept));
    assert_ne!(
        pushed_kept.iter().find(|(t, _)| *t == "register_counts"),
        moved_kept.iter().find(|(t, _)| *t == "register_counts"),
        "the people pushed after the move are counted"
    );
}

/// Every table of HQ's schema, on the run's engine, is either copied by `migrate-store` with
/// every one of its columns (but those the engine computes), or rebuilt by the target itself: a migration that adds a
/// table or a column and forgets the copy fails here, not in a charity's move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_store_copies_every_table_and_column_of_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    drop(sila_hq::Hq::open(&db).unwrap());
    let engine = sila_hq::db::open(&db).unwrap();
    let columns_sql = match engine.dialect() {
        sila_hq::db::Dialect::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
        sila_hq::db::Dialect::Postgres => {
            "SELECT table_name, column_name FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_generated = 'NEVER'"
        }
    };
    let mut found: Vec<(String, String)> = Vec::new();
    sila_hq::db::run(&*engine, sila_hq::db::Mode::Read, |c| {
        c.query_each(columns_sql, &[], &mut |row| {
            found.push((row.text(0)?, row.text(1)?));
            Ok(())
        })
    })
    .unwrap();
    let mut missing = Vec::new();
    for (table, column) in &found {
        if sila_hq::db::copy::NOT_COPIED.contains(&table.as_str()) {
            continue;
        }
        let copied = sila_hq::db::copy::TABLES
            .iter()
            .find(|(t, _)| t == table)
            .is_some_and(|(_, cols)| cols.iter().any(|c| c.trim_matches('"') == column));
        if !copied {
            missing.push(format!("{table}.{column}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not copied by migrate-store: {missing:?}"
    );
    for (table, _) in sila_hq::db::copy::TABLES {
        assert!(
            found.iter().any(|(t, _)| t == table),
            "{table} is copied but not in the schema"
        );
    }
}
