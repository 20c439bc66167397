//! `sila-hq-console-bench`: the HQ console's pages at 100,000 cases (issue 5, point 8), and
//! HQ's register at as many people (issue 11, point 8): searches, pages, a person's file, the
//! complaints and survey pages, the export; on each engine of `--db`, side by side (issue 12.7).
//!
//! Seeds a fresh HQ store on each engine (straight SQL, as pushes would leave the rows: 5
//! branches, every state and channel, a year of submissions, surveys and interactions; the same
//! rows on every engine), then times what each console page asks of the store, and prints each
//! figure beside its budget, the two engines beside each other, and baselines measured in the
//! same run: reading a 50-row page by primary key (the cheapest page the engine can serve) and
//! the dashboard's case figures read from the JSON records themselves (what the dashboard would
//! cost without its facts table). A program, not a test: run it with
//! `cargo run --release -p sila-hq --bin sila-hq-console-bench [-- --cases N --db both]`.
//!
//! `--db`: `sqlite`, `postgres` (a throw-away durable cluster, started as the tests start
//! theirs), `both` (the default), a `postgres://` URL of a server it may create a database on,
//! or a folder for the SQLite file. One engine's store is deleted before the next is seeded, so
//! a million cases need the disk of one store at a time.
//!
//! `--keep` leaves each store seeded in place and prints where (`kept: --on …`; with a folder
//! for SQLite and a `postgres://` URL, since the throw-away cluster stops with this program);
//! `--on FILE,URL` measures such stores again as they are, without seeding (`--cases` must
//! say how many cases they hold): for `EXPLAIN`, or to compare two builds on the same rows.
//!
//! `--only migrate` (issue 12.5, moving up): seeds an SQLite HQ of `--cases` cases with the
//! operations and feed entries their pushes would have left, then times the real
//! `sila-hq migrate-store` (the binary beside this one, or each `--hq PATH` in turn, stopped
//! after `--timeout SECONDS`, 3600 by default) copying it into a fresh PostgreSQL database
//! (seconds, rows a second, the copy's peak memory), beside a baseline in the same run: the same
//! rows copied into the same schema with PostgreSQL's row triggers off and nothing rebuilt or
//! checked (`db::copy::copy_rows`).

use chrono::{Duration, NaiveDate, Utc};
use serde_json::json;
use sila_hq::ConsoleStore;
use sila_hq::Hq;
use sila_hq::db::{Conn, Dialect, Engine, Mode, Val};
use sila_hq::store::RegisterStore;
use sila_hq::store::console::{CommitteeFilter, DashFilter};
use sila_hq::store::register::{RegisterQuery, ScoreFilter, VoiceFilter};
use sila_hq::testing::{BenchDb, Bulk, FreshDb, TestEngine};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// The baseline row of the least a page costs: one statement answering one row.
const ONE_TRIP: &str = "baseline: one statement, one row (SELECT 1)";

const BRANCHES: [&str; 5] = ["الأفلاج", "مروان", "ليلى", "البديع", "الحمر"];
const CHANNELS: [&str; 8] = [
    "interview",
    "phone",
    "social_media",
    "letter",
    "help_request_service",
    "volunteer",
    "website",
    "branch_representative",
];
// Names drawn from common ones, so a search for a frequent first name meets thousands of people.
const FIRST: [&str; 12] = [
    "محمد",
    "عبدالله",
    "أحمد",
    "فهد",
    "سارة",
    "نورة",
    "خالد",
    "عبد الرحمن",
    "منيرة",
    "سلطان",
    "هيا",
    "ريم",
];
const FAMILY: [&str; 10] = [
    "القحطاني",
    "الدوسري",
    "العتيبي",
    "الشهري",
    "آل سعود",
    "الحربي",
    "العنزي",
    "الغامدي",
    "السبيعي",
    "الزهراني",
];
const STATES: [&str; 11] = [
    "draft",
    "submitted",
    "in_research",
    "incomplete",
    "in_committee",
    "approved",
    "rejected",
    "registered",
    "served",
    "closed",
    "withdrawn",
];

/// Cases written in one transaction of the seed.
const PART: usize = 50_000;

/// A small deterministic generator (xorshift), so every run seeds the same store.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Cases numbered `from..to` and what hangs off them, written in `c`'s transaction (the seed
/// goes in parts, so no engine holds a million cases in one transaction's log).
fn seed(
    c: &mut dyn Conn,
    rng: &mut Rng,
    from: usize,
    to: usize,
    today: NaiveDate,
    history: bool,
) -> sila_hq::Result<()> {
    // With `history`, each person and case also has the operation that created it (as its push
    // stored it) and its entry in the branch's feed: what a grown HQ holds most of.
    let mut applied = Bulk::new("applied_ops", sila_hq::db::copy::APPLIED_OPS_COLUMNS);
    let mut feed = Bulk::new("feed", sila_hq::db::copy::FEED_COLUMNS);
    let mut b = Bulk::new(
        "beneficiaries",
        &[
            "id",
            "branch",
            "device_id",
            "national_id",
            "data",
            "version",
            "created_at",
            "updated_at",
        ],
    );
    let mut cs = Bulk::new(
        "cases",
        &[
            "id",
            "branch",
            "device_id",
            "beneficiary_id",
            "state",
            "data",
            "version",
            "created_at",
            "updated_at",
        ],
    );
    let mut r = Bulk::new("records", &["entity", "id", "branch", "device_id", "data"]);
    let record = |entity: &str, id: String, branch: &str, data: serde_json::Value| {
        [
            Val::from(entity),
            id.into(),
            branch.into(),
            "d".into(),
            data.to_string().into(),
        ]
    };
    for i in from..to {
        let branch = BRANCHES[rng.below(5) as usize];
        let channel = CHANNELS[rng.below(8) as usize];
        // In-committee cases are the committee queue; a tenth of all cases, like a busy HQ.
        let state = if rng.below(10) == 0 {
            "in_committee"
        } else {
            STATES[rng.below(11) as usize]
        };
        let submitted = today - Duration::days(rng.below(365) as i64);
        let promised = submitted + Duration::days(14);
        let decided = matches!(state, "approved" | "rejected" | "registered" | "served" | "closed")
            .then(|| {
                json!({"outcome": if state == "rejected" { "rejected" } else { "approved" },
                       "reasons": "أسباب القرار", "decided_by": uuid::Uuid::now_v7().to_string(),
                       "decided_by_name": "لجنة البحث",
                       "decided_at": format!("{}T10:00:00Z", submitted + Duration::days(rng.below(20) as i64))})
            });
        let bid = uuid::Uuid::now_v7().to_string();
        let cid = uuid::Uuid::now_v7().to_string();
        let (first, father, family) = (
            FIRST[rng.below(12) as usize],
            FIRST[rng.below(12) as usize],
            FAMILY[rng.below(10) as usize],
        );
        let national_id = format!("1{:09}", 100_000_000 + i);
        let bdata = json!({"id": bid, "name": {"first": first, "father": father, "grandfather": "سعد",
            "family": family, "as_written": ""}, "city": "الأفلاج", "national_id": national_id,
            "mobile": format!("+9665{:08}", rng.below(100_000_000)),
            "household": [], "incomes": [], "categories": []});
        let cdata = json!({"id": cid, "number": format!("AFL-0001-{i:06}"), "beneficiary_id": bid,
            "support_type": "food_basket", "channel": channel, "need": "سلة غذائية للأسرة", "documents": [
                {"code": "national_id_copy", "required": true, "attachment": null, "seen_in_original": true}],
            "state": state, "submitted_at": format!("{submitted}T09:00:00Z"),
            "promised_reply_date": promised.to_string(), "decision": decided});
        b.row(
            c,
            [
                Val::from(&bid),
                branch.into(),
                "d".into(),
                national_id.into(),
                bdata.to_string().into(),
                1i64.into(),
                "x".into(),
                "x".into(),
            ],
        )?;
        if history {
            for (n, (entity, id, data)) in [("beneficiary", &bid, &bdata), ("case", &cid, &cdata)]
                .into_iter()
                .enumerate()
            {
                let seq = (2 * i + n) as i64;
                let at = format!("{submitted}T09:00:00Z");
                let op = json!({"op_id": uuid::Uuid::now_v7().to_string(), "seq": seq,
                    "kind": "upsert", "entity": entity, "id": id, "base_version": 0, "record": data});
                applied.row(
                    c,
                    [
                        Val::from("d"),
                        seq.into(),
                        op["op_id"].as_str().unwrap_or_default().into(),
                        op.to_string().into(),
                        entity.into(),
                        id.into(),
                        "applied".into(),
                        Val::Null,
                        at.as_str().into(),
                        at.as_str().into(),
                    ],
                )?;
                feed.row(
                    c,
                    [
                        Val::from(branch),
                        seq.into(),
                        entity.into(),
                        id.into(),
                        "d".into(),
                        at.into(),
                    ],
                )?;
            }
        }
        cs.row(
            c,
            [
                Val::from(&cid),
                branch.into(),
                "d".into(),
                bid.as_str().into(),
                state.into(),
                cdata.to_string().into(),
                1i64.into(),
                "x".into(),
                "x".into(),
            ],
        )?;
        if i % 3 == 0 {
            let sid = uuid::Uuid::now_v7().to_string();
            let s = json!({"id": sid, "case_id": cid, "overall": 1 + rng.below(5),
                "speed": 1 + rng.below(5), "courtesy": 1 + rng.below(5), "clarity": 1 + rng.below(5),
                "channel": channel, "support_type": "food_basket",
                "employee": format!("staff-{}", rng.below(40)),
                "answered_on": (submitted + Duration::days(20)).to_string()});
            r.row(c, record("survey", sid, branch, s))?;
        }
        if i % 4 == 0 {
            let iid = uuid::Uuid::now_v7().to_string();
            let purpose =
                ["inquiry", "complaint", "suggestion", "follow_up"][rng.below(4) as usize];
            let x = json!({"id": iid, "case_id": cid, "beneficiary_id": bid, "purpose": purpose,
                "channel": channel, "at": format!("{submitted}T11:00:00Z")});
            r.row(c, record("interaction", iid.clone(), branch, x))?;
            // A complaint or suggestion has its task: due by policy, answered or not.
            if let Some(kind) = ["complaint", "suggestion"].iter().find(|k| **k == purpose) {
                let tid = uuid::Uuid::now_v7().to_string();
                let due = submitted + Duration::days(7);
                let done = (rng.below(2) == 0).then(|| {
                    format!(
                        "{}T12:00:00Z",
                        submitted + Duration::days(rng.below(14) as i64)
                    )
                });
                let t = json!({"id": tid, "key": format!("{kind}:{iid}"), "kind": kind,
                    "beneficiary_id": bid, "role": "representative", "due_on": due.to_string(),
                    "channel": channel, "origin": {"by": "rule"}, "done_at": done,
                    "interaction_id": iid});
                r.row(c, record("task", tid, branch, t))?;
            }
        }
    }
    b.flush(c)?;
    cs.flush(c)?;
    applied.flush(c)?;
    feed.flush(c)?;
    r.flush(c)
}

/// Seed `cases` cases on `engine` (in parts of [`PART`]), as stored before HQ writes the
/// register's search terms (it does when it next opens). As `migrate-store` writes a store: on
/// PostgreSQL with the row triggers off and the tables they keep rebuilt after the last part.
fn fill(engine: &Arc<dyn Engine>, cases: usize, today: NaiveDate, history: bool) {
    // Opened once first, so its schema and identity are there before the rows.
    drop(Hq::on(engine.clone()).unwrap());
    let mut rng = Rng(0x5eed_cafe);
    for from in (0..cases).step_by(PART) {
        let to = (from + PART).min(cases);
        // A part that lost a race would be run again from the same generator state.
        let state = rng.0;
        sila_hq::db::run(&**engine, Mode::Write, |c| {
            rng.0 = state;
            sila_hq::db::copy::row_triggers(c, false)?;
            seed(c, &mut rng, from, to, today, history)?;
            sila_hq::db::copy::row_triggers(c, true)
        })
        .unwrap();
    }
    // The seed wrote rows as a store from before the register would hold them: HQ writes their
    // search terms once, when it opens.
    sila_hq::db::run(&**engine, Mode::Write, |c| {
        sila_hq::db::copy::rebuild_derived(c)?;
        c.exec(
            "UPDATE meta SET value = '0' WHERE key = 'register_terms'",
            &[],
        )
    })
    .unwrap();
}

type Timed = (String, (f64, f64), f64);

/// HQ's register and its dashboards' pages on `hq`, each beside its budget.
fn register_rows(hq: &Hq, today: NaiveDate, runs: usize, export_runs: usize) -> Vec<Timed> {
    let mut out: Vec<Timed> = Vec::new();
    let search = |q: &str| RegisterQuery {
        q: q.into(),
        ..Default::default()
    };
    for (what, q) in [
        (
            "register, search a common first name (محمد)",
            search("محمد"),
        ),
        (
            "register, search a full name (عبد الله فهد آل سعود)",
            search("عبد الله فهد آل سعود"),
        ),
        (
            "register, search a name's beginning (عبدالر)",
            search("عبدالر"),
        ),
        (
            "register, search an ID's first six digits",
            search("110001"),
        ),
        (
            "register, search a mobile's last four digits",
            search("4321"),
        ),
        ("register, search a case number", search("AFL-0001-000777")),
        ("register, first page (everyone)", RegisterQuery::default()),
        (
            "register, one branch's first page",
            RegisterQuery {
                branch: Some(BRANCHES[3].into()),
                ..Default::default()
            },
        ),
    ] {
        let n = hq.register(&q).unwrap().total;
        eprintln!("{what}: {n} found");
        out.push((
            what.into(),
            time(runs, || {
                hq.register(&q).unwrap();
            }),
            100.0,
        ));
    }
    let someone = hq.register(&search("محمد القحطاني")).unwrap().rows[0]
        .id
        .clone();
    out.push((
        "a person's whole file".into(),
        time(runs, || {
            hq.person_file(&someone, today).unwrap().unwrap();
        }),
        100.0,
    ));
    out.push((
        "complaints and suggestions, every branch (counts + first page)".into(),
        time(runs, || {
            hq.voice(&VoiceFilter::default(), today).unwrap();
        }),
        1000.0,
    ));
    out.push((
        "survey scores, every question, every branch".into(),
        time(runs, || {
            hq.survey_scores(&ScoreFilter::default()).unwrap();
        }),
        1000.0,
    ));
    out.push((
        "register export (everyone, records read)".into(),
        time(export_runs, || {
            hq.register_export(&RegisterQuery::default(), 200_000)
                .unwrap();
        }),
        5000.0,
    ));
    out
}

/// Run `f` `n` times (after one warm-up) and return (p50, p95) in milliseconds.
fn time(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[n / 2], v[(n * 95).div_ceil(100) - 1])
}

/// Every figure on one engine: (what, (p50, p95), budget ms), then the baselines and the
/// one-off costs, shown as they are.
struct Measured {
    rows: Vec<Timed>,
    once: Vec<(String, String)>,
}

/// What one engine's column measures: a store seeded now (kept afterwards with `--keep`), or
/// one an earlier `--keep` run seeded (`--on`), measured as it is.
enum Store<'a> {
    Seed { db: &'a BenchDb, keep: bool },
    Seeded(&'a str),
}

impl Store<'_> {
    fn engine(&self) -> TestEngine {
        match self {
            Store::Seed { db, .. } => db.engine(),
            Store::Seeded(url) if url.starts_with("postgres") => TestEngine::Postgres,
            Store::Seeded(_) => TestEngine::Sqlite,
        }
    }
}

fn measure(store: &Store, cases: usize, today: NaiveDate, runs: usize) -> Measured {
    let (fresh, seeded, keep) = match store {
        Store::Seed { db, keep } => {
            let fresh = db.fresh();
            let engine = sila_hq::db::open(&fresh.db).unwrap();
            let t = Instant::now();
            fill(&engine, cases, today, false);
            let seeded = t.elapsed().as_secs_f64();
            eprintln!("seeded {cases} cases on {} in {seeded:.1} s", db.label());
            (fresh, format!("{seeded:.1} s"), *keep)
        }
        Store::Seeded(db) => (
            FreshDb::existing(db),
            "(seeded by an earlier run)".to_owned(),
            false,
        ),
    };
    let engine = sila_hq::db::open(&fresh.db).unwrap();
    let found = sila_hq::db::run(&*engine, Mode::Read, |c| {
        c.row("SELECT count(*) FROM cases", &[])?
            .expect("one row")
            .i64(0)
    })
    .unwrap();
    assert_eq!(
        usize::try_from(found).unwrap_or_default(),
        cases,
        "the store holds {found} cases; pass its --cases"
    );
    let t = Instant::now();
    let hq = Hq::on(engine.clone()).unwrap();
    let indexed = t.elapsed().as_secs_f64();
    let t = Instant::now();
    sila_hq::db::run(&*engine, Mode::Write, |c| c.batch("ANALYZE")).unwrap();
    // A store that has been serving for a while: PostgreSQL's autovacuum has been by.
    fresh.settle();
    let settled = t.elapsed().as_secs_f64();
    eprintln!("register terms of {cases} people written in {indexed:.1} s");

    let mut rows: Vec<Timed> = Vec::new();
    let first = hq
        .committee_queue(&CommitteeFilter::default(), None, 50, today)
        .unwrap();
    eprintln!(
        "committee queue: {} cases ({} overdue)",
        first.total, first.overdue
    );
    rows.push((
        "committee queue, first page (50)".into(),
        time(runs, || {
            hq.committee_queue(&CommitteeFilter::default(), None, 50, today)
                .unwrap();
        }),
        100.0,
    ));
    // A page deep in the queue: the cursor after the 50 pages before it.
    let mut after = None;
    for _ in 0..50 {
        let p = hq
            .committee_queue(&CommitteeFilter::default(), after.as_deref(), 50, today)
            .unwrap();
        match p.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    rows.push((
        "committee queue, page 51".into(),
        time(runs, || {
            hq.committee_queue(&CommitteeFilter::default(), after.as_deref(), 50, today)
                .unwrap();
        }),
        100.0,
    ));
    let overdue = CommitteeFilter {
        branch: Some(BRANCHES[1].into()),
        promise: Some("overdue".into()),
    };
    rows.push((
        "committee queue, one branch, overdue".into(),
        time(runs, || {
            hq.committee_queue(&overdue, None, 50, today).unwrap();
        }),
        100.0,
    ));
    let case_id = first.rows[0].case_id.clone();
    rows.push((
        "a case's whole file".into(),
        time(runs, || {
            hq.case_file(&case_id, today).unwrap().unwrap();
        }),
        100.0,
    ));
    rows.push((
        "dashboard, every branch".into(),
        time(runs, || {
            hq.dashboard(&DashFilter::default(), today).unwrap();
        }),
        1000.0,
    ));
    let one = DashFilter {
        branch: Some(BRANCHES[2].into()),
        channel: None,
    };
    rows.push((
        "dashboard, one branch".into(),
        time(runs, || {
            hq.dashboard(&one, today).unwrap();
        }),
        1000.0,
    ));
    let export_runs = 5;
    rows.push((
        "committee queue export (all rows, as the download reads them)".into(),
        time(export_runs, || {
            hq.committee_export(&CommitteeFilter::default(), today, usize::MAX)
                .unwrap();
        }),
        5000.0,
    ));
    rows.extend(register_rows(&hq, today, runs, export_runs));
    // Baselines, same store, same run, in each engine's own SQL.
    let read = |sql: &str, params: &[Val]| {
        sila_hq::db::run(&*engine, Mode::Read, |c| c.query(sql, params)).unwrap()
    };
    // The least a page can cost: one statement and one row, in a reading transaction. On
    // PostgreSQL that is a round trip to the server; SQLite answers inside this process.
    rows.push((
        ONE_TRIP.into(),
        time(runs, || {
            assert_eq!(read("SELECT 1", &[]).len(), 1);
        }),
        f64::NAN,
    ));
    rows.push((
        "baseline: 50 rows by primary key".into(),
        time(runs, || {
            let n = read(
                "SELECT id, data FROM cases WHERE rid > ?1 ORDER BY rid LIMIT 50",
                &[Val::from(cases / 2)],
            )
            .len();
            assert_eq!(n, 50);
        }),
        f64::NAN,
    ));
    let scan = match engine.dialect() {
        Dialect::Sqlite => {
            "SELECT branch, json_extract(data, '$.channel'), state, substr(json_extract(data, '$.submitted_at'), 1, 7),
                    json_extract(data, '$.decision.outcome'), count(*)
             FROM cases GROUP BY 1, 2, 3, 4, 5"
        }
        Dialect::Postgres => {
            "SELECT branch, data::jsonb ->> 'channel', state, substr(data::jsonb ->> 'submitted_at', 1, 7),
                    data::jsonb #>> '{decision,outcome}', count(*)
             FROM cases GROUP BY 1, 2, 3, 4, 5"
        }
    };
    rows.push((
        "baseline: dashboard's case figures from the JSON records (table scan)".into(),
        time(5, || {
            read(scan, &[]);
        }),
        f64::NAN,
    ));
    drop(hq);
    drop(engine);
    if keep {
        eprintln!("kept: --on {}", fresh.keep());
    }
    Measured {
        rows,
        once: vec![
            (
                format!("once: {cases} cases seeded (straight SQL, many rows a statement)"),
                seeded,
            ),
            (
                format!("once: the register's terms of {cases} people written at open"),
                format!("{indexed:.1} s"),
            ),
            (
                "once: ANALYZE (and on PostgreSQL VACUUM, as autovacuum would)".into(),
                format!("{settled:.1} s"),
            ),
        ],
    }
}

/// One `sila-hq migrate-store` timed: seconds, peak memory, and whether it finished.
struct Moved {
    seconds: f64,
    peak_mb: f64,
    /// `None` when it finished; else what it was doing when stopped.
    stopped: Option<String>,
    /// The database it made, MB (when it finished).
    database_mb: Option<f64>,
}

/// Run `hq_bin migrate-store` from `source` into a fresh database of `pg`, in a process of its
/// own (so its peak memory is its own, read by `/usr/bin/time`), stopped after `timeout`.
fn migrate_store(
    hq_bin: &std::path::Path,
    source: &str,
    pg: &BenchDb,
    rows: i64,
    timeout: std::time::Duration,
) -> Moved {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let target = pg.fresh();
    let rss = tempfile::NamedTempFile::new().unwrap();
    let (out, err) = (
        tempfile::NamedTempFile::new().unwrap(),
        tempfile::NamedTempFile::new().unwrap(),
    );
    let t = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(rss.path())
        .arg(hq_bin)
        .args(["migrate-store", "--from", source, "--to", &target.db])
        .env("SILA_LOG", "info")
        .stdout(Stdio::from(out.reopen().unwrap()))
        .stderr(Stdio::from(err.reopen().unwrap()))
        // Its own process group, so that stopping it stops the copy under `time` too.
        .process_group(0)
        .spawn()
        .expect("run sila-hq migrate-store under /usr/bin/time");
    // Waited for on a thread of its own, so the time is the child's to the instant it ends
    // and the timeout needs no polling.
    let pid = child.id();
    let (ended, exit) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let status = child.wait().expect("wait for sila-hq migrate-store");
        let _ = ended.send((status, t.elapsed().as_secs_f64()));
    });
    let mut stopped = None;
    let (status, seconds) = match exit.recv_timeout(timeout) {
        Ok((status, seconds)) => (Some(status), seconds),
        Err(_) => {
            let seconds = t.elapsed().as_secs_f64();
            // What the copy was doing: its statement, as the server shows it (asked on a
            // plain connection: opening the store would migrate it).
            let doing = postgres::Client::connect(&target.db, postgres::NoTls)
                .and_then(|mut c| {
                    c.query_opt(
                        "SELECT left(query, 60) FROM pg_stat_activity
                         WHERE datname = current_database() AND backend_type = 'client backend'
                           AND state <> 'idle' AND pid <> pg_backend_pid() LIMIT 1",
                        &[],
                    )
                })
                .map_err(|e| eprintln!("what the copy was doing, unknown: {e}"))
                .ok()
                .flatten()
                .map(|r| r.get::<_, String>(0))
                .unwrap_or_default();
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
            let _ = exit.recv();
            stopped = Some(doing);
            (None, seconds)
        }
    };
    // Where its time went: the command's own progress lines.
    let said = std::fs::read_to_string(err.path()).unwrap_or_default();
    eprint!("{said}");
    if let Some(status) = status {
        assert!(status.success(), "migrate-store: {said}");
        let printed: i64 = std::fs::read_to_string(out.path())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t')?.1.parse::<i64>().ok())
            .sum();
        assert_eq!(printed, rows, "migrate-store copied every row");
    }
    let database_mb = status.and_then(|_| {
        let mut c = postgres::Client::connect(&target.db, postgres::NoTls).ok()?;
        let r = c
            .query_one("SELECT pg_database_size(current_database())::float8", &[])
            .ok()?;
        Some(r.get::<_, f64>(0) / (1024.0 * 1024.0))
    });
    let peak_mb = std::fs::read_to_string(rss.path())
        .ok()
        .and_then(|s| s.lines().last()?.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0);
    Moved {
        seconds,
        peak_mb,
        stopped,
        database_mb,
    }
}

/// `--only migrate`: see the module's note. `dbs` names the SQLite folder (or none) and the
/// PostgreSQL server (or the benchmark's own cluster); each of `hq_bins` is timed in turn, then
/// the baseline.
fn migrate(
    cases: usize,
    today: NaiveDate,
    dbs: &[BenchDb],
    hq_bins: &[PathBuf],
    timeout: std::time::Duration,
    load: impl Fn() -> String,
) {
    let sqlite = dbs
        .iter()
        .find(|d| d.engine() == TestEngine::Sqlite)
        .cloned()
        .unwrap_or(BenchDb::Sqlite(None));
    let pg = dbs
        .iter()
        .find(|d| d.engine() == TestEngine::Postgres)
        .cloned()
        .unwrap_or(BenchDb::Postgres(None));
    let source = sqlite.fresh();
    let t = Instant::now();
    {
        let engine = sila_hq::db::open(&source.db).unwrap();
        fill(&engine, cases, today, true);
        // Written now, as a grown HQ holds them: the register's search terms.
        drop(Hq::on(engine).unwrap());
    }
    let seeded = t.elapsed().as_secs_f64();
    let held = sila_hq::db::copy::counts(&*sila_hq::db::open(&source.db).unwrap()).unwrap();
    let rows: i64 = held.iter().map(|(_, n)| n).sum();
    let bytes = std::fs::metadata(&source.db).map_or(0, |m| m.len());
    eprintln!(
        "seeded {cases} cases on SQLite in {seeded:.1} s: {rows} rows to copy, {} MB",
        bytes >> 20
    );
    let load_before = load();

    let moved: Vec<Moved> = hq_bins
        .iter()
        .map(|bin| migrate_store(bin, &source.db, &pg, rows, timeout))
        .collect();

    // The baseline: the same rows into the same (migrated) schema, PostgreSQL's row triggers
    // off, nothing rebuilt, counted or numbered after them.
    let target = pg.fresh();
    let to = sila_hq::db::open(&target.db).unwrap();
    let from = sila_hq::db::open(&source.db).unwrap();
    let t = Instant::now();
    sila_hq::db::run(&*from, Mode::Snapshot, |s| {
        sila_hq::db::run(&*to, Mode::Write, |c| {
            c.exec("DELETE FROM meta", &[])?;
            sila_hq::db::copy::row_triggers(c, false)?;
            sila_hq::db::copy::copy_rows(s, c)?;
            sila_hq::db::copy::row_triggers(c, true)
        })
    })
    .unwrap();
    let baseline = t.elapsed().as_secs_f64();
    drop((to, from));
    drop(target);

    println!();
    println!(
        "migrate-store, SQLite → PostgreSQL, {cases} cases ({rows} rows in {} tables, SQLite file {} MB; budgets: within 2× the baseline, peak memory under 256 MB; stopped after {} s)",
        held.len(),
        bytes >> 20,
        timeout.as_secs()
    );
    println!(
        "Load average (1, 5, 15 min) before: {load_before}; after: {}; {} cores",
        load(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!();
    println!("| figure | seconds | rows/s | peak RSS MB | budget | within |");
    println!("| --- | ---: | ---: | ---: | --- | --- |");
    for (bin, m) in hq_bins.iter().zip(&moved) {
        let within = m.stopped.is_none() && m.seconds <= 2.0 * baseline && m.peak_mb < 256.0;
        println!(
            "| migrate-store of {} (one transaction, counts checked){}{} | {}{:.1} | {} | {} | ≤ {:.1} s, < 256 MB | {} |",
            bin.display(),
            m.stopped
                .as_ref()
                .map_or(String::new(), |d| format!(", stopped while running «{d}…»")),
            m.database_mb.map_or(String::new(), |mb| format!(
                "; the database made: {mb:.0} MB"
            )),
            if m.stopped.is_some() { "> " } else { "" },
            m.seconds,
            if m.stopped.is_some() {
                "—".to_owned()
            } else {
                format!("{:.0}", rows as f64 / m.seconds)
            },
            if m.peak_mb.is_nan() {
                "—".to_owned()
            } else {
                format!("{:.0}", m.peak_mb)
            },
            2.0 * baseline,
            if within { "yes" } else { "NO" }
        );
    }
    println!(
        "| baseline: same rows, same schema, row triggers off, nothing rebuilt (in-process) | {baseline:.1} | {:.0} | | | |",
        rows as f64 / baseline
    );
    println!(
        "| once: seed of the SQLite store (not timed against a budget) | {seeded:.1} | | | | |"
    );
}

fn main() {
    let mut cases = 100_000usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--cases") {
        cases = args[i + 1].parse().expect("--cases N");
    }
    let dbs = BenchDb::parse(
        args.iter()
            .position(|a| a == "--db")
            .map_or("both", |i| args[i + 1].as_str()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let today = Utc::now().date_naive();
    let runs = 30;
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    match arg("--only").as_deref() {
        None => {}
        Some("migrate") => {
            // Each `--hq PATH` is timed in turn (a build to compare with); by default the
            // `sila-hq` beside this program.
            let mut hq_bins: Vec<PathBuf> = args
                .iter()
                .zip(args.iter().skip(1))
                .filter(|(a, _)| *a == "--hq")
                .map(|(_, p)| PathBuf::from(p))
                .collect();
            if hq_bins.is_empty() {
                hq_bins.push(
                    std::env::current_exe()
                        .expect("this program's path")
                        .with_file_name("sila-hq"),
                );
            }
            let timeout = std::time::Duration::from_secs(
                arg("--timeout").map_or(3600, |s| s.parse().expect("--timeout SECONDS")),
            );
            return migrate(cases, today, &dbs, &hq_bins, timeout, load);
        }
        Some(other) => panic!("--only {other}: only `migrate` is known"),
    }
    let load_before = load();
    let keep = args.iter().any(|a| a == "--keep");
    let on = arg("--on");
    let stores: Vec<Store> = match &on {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(Store::Seeded)
            .collect(),
        None => dbs.iter().map(|db| Store::Seed { db, keep }).collect(),
    };
    let measured: Vec<(TestEngine, Measured)> = stores
        .iter()
        .map(|st| (st.engine(), measure(st, cases, today, runs)))
        .collect();
    let of = |e: TestEngine| measured.iter().find(|(x, _)| *x == e).map(|(_, m)| m);
    let (s, p) = (of(TestEngine::Sqlite), of(TestEngine::Postgres));
    let any = s.or(p).expect("one engine at least");

    println!();
    println!(
        "HQ console at {cases} cases ({runs} runs each, exports 5; p50 / p95 ms; budgets: pages 100 ms p95, dashboards 1 s, export 5 s; PostgreSQL within 2× of SQLite, on p50)"
    );
    println!(
        "Load average (1, 5, 15 min) before: {load_before}; after: {}; {} cores",
        load(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    // The least any page costs on PostgreSQL: one statement's round trip, measured in this run.
    // SQLite answers inside this process, so a page it serves in a few microseconds can never
    // be within 2× on a server reached over a socket; the last columns compare PostgreSQL with
    // SQLite as if SQLite too paid that one round trip (the floor proposed for issue 12.7).
    let trip = p.and_then(|p| {
        p.rows
            .iter()
            .find(|(what, _, _)| what == ONE_TRIP)
            .map(|(_, (p50, _), _)| *p50)
    });
    println!(
        "| figure | SQLite | PostgreSQL | ratio (PostgreSQL / SQLite, p50) | budget ms (p95) | within | PostgreSQL / (SQLite + one round trip) | within 2× of that |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |");
    let shown = |m: Option<&Measured>, i: usize| {
        m.map_or("—".to_owned(), |m| {
            let (_, (p50, p95), _) = &m.rows[i];
            format!("{p50:.2} / {p95:.2}")
        })
    };
    for (i, (what, _, budget)) in any.rows.iter().enumerate() {
        let ratio = s.zip(p).map(|(s, p)| p.rows[i].1.0 / s.rows[i].1.0);
        let fast = measured.iter().all(|(_, m)| m.rows[i].1.1 <= *budget);
        let verdict = |ok: bool| (if ok { "yes" } else { "NO" }).to_owned();
        let (within, floor, within_floor) = if budget.is_nan() {
            (String::new(), String::new(), String::new())
        } else {
            let floored = s
                .zip(p)
                .zip(trip)
                .map(|((s, p), t)| p.rows[i].1.0 / (s.rows[i].1.0 + t));
            (
                verdict(fast && ratio.is_none_or(|r| r <= 2.0)),
                floored.map_or("—".to_owned(), |r| format!("{r:.2}")),
                verdict(fast && floored.is_none_or(|r| r <= 2.0)),
            )
        };
        println!(
            "| {what} | {} | {} | {} | {} | {within} | {floor} | {within_floor} |",
            shown(s, i),
            shown(p, i),
            ratio.map_or("—".to_owned(), |r| format!("{r:.2}")),
            if budget.is_nan() {
                String::new()
            } else {
                format!("{budget:.0}")
            },
        );
    }
    for (i, (what, _)) in any.once.iter().enumerate() {
        let v = |m: Option<&Measured>| m.map_or("—".to_owned(), |m| m.once[i].1.clone());
        println!("| {what} | {} | {} | | | | | |", v(s), v(p));
    }
}
