//! `sila-hq-console-bench`: the HQ console's pages at 100,000 cases (issue 5, point 8), and
//! HQ's register at as many people (issue 11, point 8): searches, pages, a person's file, the
//! complaints and survey pages, the export.
//!
//! Seeds a temporary HQ store (straight SQL, as pushes would leave the rows: 5 branches, every
//! state and channel, a year of submissions, surveys and interactions), then times what each
//! console page asks of the store, and prints each figure beside its budget and beside baselines
//! measured in the same run: reading a 50-row page by primary key (the cheapest page SQLite can
//! serve) and the dashboard's case figures read from the JSON records themselves (what the dashboard
//! would cost without its facts table). A program, not a test: run it with
//! `cargo run --release -p sila-hq --bin sila-hq-console-bench [-- --cases N]`.

use chrono::{Duration, NaiveDate, Utc};
use rusqlite::{Connection, params};
use serde_json::json;
use sila_hq::ConsoleStore;
use sila_hq::Hq;
use sila_hq::store::RegisterStore;
use sila_hq::store::console::{CommitteeFilter, DashFilter};
use sila_hq::store::register::{RegisterQuery, ScoreFilter, VoiceFilter};
use std::time::Instant;

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

fn seed(conn: &mut Connection, cases: usize, today: NaiveDate) {
    let mut rng = Rng(0x5eed_cafe);
    let tx = conn.transaction().unwrap();
    {
        let mut b = tx
            .prepare("INSERT INTO beneficiaries (id, branch, device_id, national_id, data, version, created_at, updated_at) VALUES (?1, ?2, 'd', ?4, ?3, 1, 'x', 'x')")
            .unwrap();
        let mut c = tx
            .prepare("INSERT INTO cases (id, branch, device_id, beneficiary_id, state, data, version, created_at, updated_at) VALUES (?1, ?2, 'd', ?3, ?4, ?5, 1, 'x', 'x')")
            .unwrap();
        let mut r = tx
            .prepare("INSERT INTO records (entity, id, branch, device_id, data) VALUES (?1, ?2, ?3, 'd', ?4)")
            .unwrap();
        for i in 0..cases {
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
            b.execute(params![bid, branch, bdata.to_string(), national_id])
                .unwrap();
            c.execute(params![cid, branch, bid, state, cdata.to_string()])
                .unwrap();
            if i % 3 == 0 {
                let sid = uuid::Uuid::now_v7().to_string();
                let s = json!({"id": sid, "case_id": cid, "overall": 1 + rng.below(5),
                    "speed": 1 + rng.below(5), "courtesy": 1 + rng.below(5), "clarity": 1 + rng.below(5),
                    "channel": channel, "support_type": "food_basket",
                    "employee": format!("staff-{}", rng.below(40)),
                    "answered_on": (submitted + Duration::days(20)).to_string()});
                r.execute(params!["survey", sid, branch, s.to_string()])
                    .unwrap();
            }
            if i % 4 == 0 {
                let iid = uuid::Uuid::now_v7().to_string();
                let purpose =
                    ["inquiry", "complaint", "suggestion", "follow_up"][rng.below(4) as usize];
                let x = json!({"id": iid, "case_id": cid, "beneficiary_id": bid, "purpose": purpose,
                    "channel": channel, "at": format!("{submitted}T11:00:00Z")});
                r.execute(params!["interaction", iid, branch, x.to_string()])
                    .unwrap();
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
                    r.execute(params!["task", tid, branch, t.to_string()])
                        .unwrap();
                }
            }
        }
    }
    tx.commit().unwrap();
    conn.execute_batch("ANALYZE").unwrap();
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

fn main() {
    let mut cases = 100_000usize;
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--cases") {
        cases = args[i + 1].parse().expect("--cases N");
    }
    // `--postgres URL`: the same store copied onto an empty PostgreSQL database (as
    // `sila-hq migrate-store` copies it), and the register's figures there too.
    let postgres = args
        .iter()
        .position(|a| a == "--postgres")
        .map(|i| args[i + 1].clone());
    let dir = tempfile_dir();
    let db = dir.join("hq.db");
    let today = Utc::now().date_naive();
    drop(Hq::open(&db).unwrap());
    let mut raw = Connection::open(&db).unwrap();
    let t = Instant::now();
    seed(&mut raw, cases, today);
    eprintln!("seeded {cases} cases in {:.1} s", t.elapsed().as_secs_f64());
    // The seed wrote rows as a store from before the register would hold them: HQ writes their
    // search terms once, when it opens.
    raw.execute(
        "UPDATE meta SET value = '0' WHERE key = 'register_terms'",
        [],
    )
    .unwrap();
    let t = Instant::now();
    let hq = Hq::open(&db).unwrap();
    let indexed = t.elapsed().as_secs_f64();
    raw.execute_batch("ANALYZE").unwrap();
    eprintln!("register terms of {cases} people written in {indexed:.1} s");

    let mut rows: Vec<Timed> = Vec::new();
    let runs = 30;
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
        "committee queue export (all pages, rows only)".into(),
        time(export_runs, || {
            let mut after: Option<String> = None;
            loop {
                let p = hq
                    .committee_queue(&CommitteeFilter::default(), after.as_deref(), 200, today)
                    .unwrap();
                match p.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }),
        5000.0,
    ));
    rows.extend(register_rows(&hq, today, runs, export_runs));
    // Baselines, same store, same run.
    let base_page = time(runs, || {
        let mut s = raw
            .prepare_cached("SELECT id, data FROM cases WHERE rid > ?1 ORDER BY rid LIMIT 50")
            .unwrap();
        let n = s
            .query_map([cases as i64 / 2], |r| r.get::<_, String>(1))
            .unwrap()
            .count();
        assert_eq!(n, 50);
    });
    let base_scan = time(5, || {
        let mut s = raw
            .prepare_cached(
                "SELECT branch, json_extract(data, '$.channel'), state, substr(json_extract(data, '$.submitted_at'), 1, 7),
                        json_extract(data, '$.decision.outcome'), count(*)
                 FROM cases GROUP BY 1, 2, 3, 4, 5",
            )
            .unwrap();
        s.query_map([], |r| r.get::<_, i64>(5)).unwrap().count();
    });

    println!();
    println!(
        "HQ console at {cases} cases ({runs} runs each; budgets: pages 100 ms p95, dashboards 1 s, export 5 s)"
    );
    println!();
    println!("| what | p50 ms | p95 ms | budget ms | within |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for (what, (p50, p95), budget) in &rows {
        println!(
            "| {what} | {p50:.2} | {p95:.2} | {budget:.0} | {} |",
            if p95 <= budget { "yes" } else { "NO" }
        );
    }
    println!(
        "| baseline: 50 rows by primary key | {:.2} | {:.2} | | |",
        base_page.0, base_page.1
    );
    println!(
        "| baseline: dashboard's case figures from the JSON records (table scan) | {:.2} | {:.2} | | |",
        base_scan.0, base_scan.1
    );
    println!(
        "| once: the register's terms of {cases} people written at open | {:.0} | | | |",
        indexed * 1000.0
    );
    if let Some(url) = postgres {
        let source = sila_hq::db::open(db.to_str().expect("UTF-8 path")).unwrap();
        let target = sila_hq::db::open(&url).unwrap();
        let t = Instant::now();
        sila_hq::db::copy::copy(&*source, &*target).unwrap();
        eprintln!("copied to PostgreSQL in {:.1} s", t.elapsed().as_secs_f64());
        sila_hq::db::run(&*target, sila_hq::db::Mode::Write, |c| c.batch("ANALYZE")).unwrap();
        let pg = Hq::on(target).unwrap();
        let rows = register_rows(&pg, today, runs, export_runs);
        println!();
        println!("The register on PostgreSQL, the same store ({runs} runs each)");
        println!();
        println!("| what | p50 ms | p95 ms | budget ms | within |");
        println!("| --- | ---: | ---: | ---: | --- |");
        for (what, (p50, p95), budget) in &rows {
            println!(
                "| {what} | {p50:.2} | {p95:.2} | {budget:.0} | {} |",
                if p95 <= budget { "yes" } else { "NO" }
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sila-hq-console-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
