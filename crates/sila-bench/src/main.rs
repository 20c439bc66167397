//! `sila-bench`: the branch store against the budgets of design.md, each figure printed beside its
//! budget and a baseline measured in the same run on the same machine, so the ratios hold on a
//! noisy laptop. A program, not a test: run it in release mode (`cargo run --release -p sila-bench`).
//!
//! - intake save (beneficiary + 8 household members + case + documents list), synchronous=FULL,
//!   p50/p99 — baseline: a bare SQLite transaction writing the same rows;
//! - intake submit (the whole intake as the desk submits it, one transaction), p50/p99 —
//!   baseline: the same rows in a bare transaction on an SQLCipher file;
//! - search by name variant, ID and phone tail at N beneficiaries, p50/p95 — baseline: FTS5 on the
//!   raw names (no normalisation, no ranking);
//! - import of an N-row CSV — baseline: the rows it wrote, written again into the store's own
//!   encrypted schema with prepared statements (beside it, the sqlite3 shell's `.import`);
//! - the store's size after a full sync at N demo beneficiaries and their cases, compacted —
//!   baseline: its record tables alone, in an encrypted file of their own;
//! - duplicate candidates at HQ over 100k and 1M beneficiaries (`--people N,M`) in a real
//!   `sila-hq` store on each engine of `--db` (`sqlite`, `postgres`, `both` (the default), a
//!   `postgres://` URL, a folder for the SQLite files), side by side in a second table
//!   (labelled synthetic population, src/labelled.rs) — baseline: exact matching (the same ID, or
//!   the same normalised name inside a birth-date or mobile block), with precision and recall of
//!   both.

use anyhow::{Context, Result};
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;
use sila_domain::beneficiary::{HouseholdMember, Relation};
use sila_domain::catalog::Channel;
use sila_domain::ids::MemberId;
use sila_hq::testing::{BenchDb, TestEngine};
use sila_store::{InitOptions, Store};
use std::path::Path;
use std::time::{Duration, Instant};

const PASSWORD: &str = "benchmark-password";

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Row {
    what: String,
    figure: String,
    budget: String,
    baseline: String,
    verdict: bool,
}

fn new_store(dir: &Path) -> Result<Store> {
    Ok(Store::init(
        dir,
        "الأفلاج",
        "admin",
        "مدير",
        PASSWORD,
        InitOptions::default(),
    )?)
}

/// `samples` synthetic applicants, each with a household of eight.
fn household_people(samples: usize, seed: u64) -> Vec<sila_domain::beneficiary::Beneficiary> {
    let mut rng = StdRng::seed_from_u64(seed);
    let today = Utc::now().date_naive();
    (0..samples)
        .map(|_| {
            let mut b = sila_store::demo::beneficiary(&mut rng, today);
            // Submission needs a mobile to tell them the decision (some demo people have none).
            if b.mobile.is_none() {
                b.mobile = Some(
                    sila_domain::phone::Mobile::parse(&format!(
                        "055{:07}",
                        rng.random_range(0..10_000_000)
                    ))
                    .expect("a valid mobile"),
                );
            }
            b.household = (0..8)
                .map(|i| HouseholdMember {
                    id: MemberId::new_v7(),
                    name: format!("فرد {i}"),
                    relation: Relation::Son,
                    national_id: None,
                    birth_date: Some(today - chrono::Duration::days(3000 + i)),
                    disability: false,
                    schooling: None,
                })
                .collect();
            b
        })
        .collect()
}

/// As in the desktop app: the desk's connection leaves WAL checkpoints to the sync worker's,
/// which is told of every save and checkpoints every few (src-tauri/src/sync.rs). Send a `()`
/// per save; drop the sender and join the thread at the end.
fn background_checkpoints(
    store: &Store,
) -> Result<(
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Result<()>>,
)> {
    store.checkpoints_in_background()?;
    let worker = store.another_connection()?;
    let (saved, told) = std::sync::mpsc::channel::<()>();
    let checkpointer = std::thread::spawn(move || {
        let mut saves = 0;
        while told.recv().is_ok() {
            saves += 1;
            if saves >= sila_store::SAVES_PER_CHECKPOINT {
                saves = 0;
                worker.checkpoint()?;
            }
        }
        anyhow::Ok(())
    });
    Ok((saved, checkpointer))
}

fn intake(rows: &mut Vec<Row>, samples: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut store = new_store(dir.path())?;
    let people = household_people(samples, 1);
    let (saved, checkpointer) = background_checkpoints(&store)?;
    let mut ours = Vec::with_capacity(samples);
    for b in &people {
        let t = Instant::now();
        store.save_intake(b, "rent", Channel::Interview)?;
        ours.push(t.elapsed());
        let _ = saved.send(());
    }
    drop(saved);
    checkpointer.join().expect("the checkpointer thread")?;

    // Baseline: the same rows, normalised, in one bare SQLite transaction with synchronous=FULL.
    let mut base = bare_writes(&people, false, false)?;
    // Beside it, for whoever weighs the budget: the same bare transaction on an encrypted file
    // (SQLCipher with a raw key, as the store): what encryption alone costs.
    let mut encrypted = bare_writes(&people, true, false)?;
    let (p50, p99) = (percentile(&mut ours, 0.50), percentile(&mut ours, 0.99));
    let (b50, b99) = (percentile(&mut base, 0.50), percentile(&mut base, 0.99));
    let (e50, e99) = (
        percentile(&mut encrypted, 0.50),
        percentile(&mut encrypted, 0.99),
    );
    // design.md: p99 within 1.5× of the same bare transaction on SQLCipher.
    let ratio = p99.as_secs_f64() / e99.as_secs_f64();
    rows.push(Row {
        what: format!("intake save p50 ({samples} intakes)"),
        figure: ms(p50),
        budget: "—".into(),
        baseline: format!("{} (bare, encrypted; plaintext: {})", ms(e50), ms(b50)),
        verdict: true,
    });
    rows.push(Row {
        what: format!("intake save p99 ({samples} intakes)"),
        figure: format!("{} ({ratio:.2}× baseline)", ms(p99)),
        budget: "≤ 1.5× baseline p99".into(),
        baseline: format!("{} (bare, encrypted; plaintext: {})", ms(e99), ms(b99)),
        verdict: ratio <= 1.5,
    });
    Ok(())
}

/// A whole intake submitted as the desk does (`Store::submit_intake`: a new beneficiary with 8
/// household members, the request with its four documents attached and seen and the signed
/// declaration, the inquiry, the submission and the draft's deletion, in one transaction),
/// p50/p99 — baseline: the same rows in one bare transaction on an SQLCipher file.
fn submit(rows: &mut Vec<Row>, samples: usize) -> Result<()> {
    use sila_domain::case::{Applicant, Intake, IntakeDocument, IntakeSignature};
    let dir = tempfile::tempdir()?;
    let mut store = new_store(dir.path())?;
    let people = household_people(samples, 2);
    // The scans are uploaded while the wizard is filled, before submission.
    let scan = store.put_attachment(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF")?;
    let signature = store.put_attachment(sila_store::demo::PNG_1X1)?;
    let (saved, checkpointer) = background_checkpoints(&store)?;
    let mut ours = Vec::with_capacity(samples);
    for b in &people {
        let intake = Intake {
            applicant: Applicant::New(Box::new(b.clone())),
            support_type: "rent".into(),
            channel: Channel::Interview,
            reason: "تطلب المساعدة في الإيجار".into(),
            need: "متأخرات إيجار ثلاثة أشهر".into(),
            documents: ["national_id", "family_card", "lease", "income_proof"]
                .into_iter()
                .map(|code| IntakeDocument {
                    code: code.into(),
                    attachment: scan.clone(),
                    seen_in_original: true,
                })
                .collect(),
            signature: Some(IntakeSignature {
                attachment: signature.clone(),
                on_paper: false,
            }),
        };
        let draft = store.save_draft(None, "intake", &serde_json::json!({"step": 7}))?;
        let _ = saved.send(());
        let t = Instant::now();
        store.submit_intake(&draft, &intake, None)?;
        ours.push(t.elapsed());
        let _ = saved.send(());
    }
    drop(saved);
    checkpointer.join().expect("the checkpointer thread")?;
    let mut encrypted = bare_writes(&people, true, true)?;
    let (p50, p99) = (percentile(&mut ours, 0.50), percentile(&mut ours, 0.99));
    let (e50, e99) = (
        percentile(&mut encrypted, 0.50),
        percentile(&mut encrypted, 0.99),
    );
    let ratio = p99.as_secs_f64() / e99.as_secs_f64();
    rows.push(Row {
        what: format!("intake submit p50 ({samples} intakes)"),
        figure: ms(p50),
        budget: "—".into(),
        baseline: format!("{} (bare, encrypted)", ms(e50)),
        verdict: true,
    });
    rows.push(Row {
        what: format!("intake submit p99 ({samples} intakes)"),
        figure: format!("{} ({ratio:.2}× baseline)", ms(p99)),
        budget: "one transaction".into(),
        baseline: format!("{} (bare, encrypted)", ms(e99)),
        verdict: true,
    });
    Ok(())
}

/// The intakes' rows written by hand, one transaction each, with no store around them; with
/// `submission`, also what submitting adds: the scans and signature referenced, the inquiry, the
/// history entry, and the draft deleted.
fn bare_writes(
    people: &[sila_domain::beneficiary::Beneficiary],
    encrypted: bool,
    submission: bool,
) -> Result<Vec<Duration>> {
    let base_dir = tempfile::tempdir()?;
    let mut conn = Connection::open(base_dir.path().join("bare.db"))?;
    if encrypted {
        conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", "ab".repeat(32)))?;
    }
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE beneficiaries (id TEXT PRIMARY KEY, name TEXT, national_id TEXT, phone TEXT, data TEXT);
         CREATE TABLE members (id TEXT PRIMARY KEY, beneficiary_id TEXT, name TEXT, birth_date TEXT);
         CREATE TABLE cases (id TEXT PRIMARY KEY, beneficiary_id TEXT, state TEXT, data TEXT);
         CREATE TABLE documents (case_id TEXT, code TEXT, seen INTEGER, attachment TEXT);
         CREATE TABLE interactions (id TEXT PRIMARY KEY, beneficiary_id TEXT, case_id TEXT, data TEXT);
         CREATE TABLE case_events (seq INTEGER PRIMARY KEY, case_id TEXT, data TEXT);
         CREATE TABLE drafts (key TEXT PRIMARY KEY, data TEXT);",
    )?;
    let mut base = Vec::with_capacity(people.len());
    for (n, b) in people.iter().enumerate() {
        let t = Instant::now();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO beneficiaries VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![
                b.id.to_string(),
                b.name.full(),
                b.national_id.as_ref().map(|x| x.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                serde_json::to_string(b)?
            ],
        )?;
        for m in &b.household {
            tx.execute(
                "INSERT INTO members VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    m.id.to_string(),
                    b.id.to_string(),
                    m.name,
                    m.birth_date.map(|d| d.to_string())
                ],
            )?;
        }
        let case_id = format!("case-{n}");
        tx.execute(
            "INSERT INTO cases VALUES (?1, ?2, 'draft', '{}')",
            rusqlite::params![case_id, b.id.to_string()],
        )?;
        for code in ["national_id", "family_card", "lease", "income_proof"] {
            tx.execute(
                "INSERT INTO documents VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    case_id,
                    code,
                    submission,
                    submission.then_some("ab".repeat(32))
                ],
            )?;
        }
        if submission {
            tx.execute(
                "INSERT INTO interactions VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![format!("i-{n}"), b.id.to_string(), case_id, "{}"],
            )?;
            tx.execute(
                "INSERT INTO case_events (case_id, data) VALUES (?1, '{}')",
                [&case_id],
            )?;
            tx.execute(
                "UPDATE cases SET state = 'submitted' WHERE id = ?1",
                [&case_id],
            )?;
            tx.execute("DELETE FROM drafts WHERE key = 'intake'", [])?;
        }
        tx.commit()?;
        base.push(t.elapsed());
    }
    Ok(base)
}

fn search(rows: &mut Vec<Row>, n: usize, queries: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut store = new_store(dir.path())?;
    eprintln!("  generating {n} beneficiaries …");
    store.generate_demo(n, 5, &mut |d, t| eprint!("\r  {d}/{t}   "))?;
    eprintln!();
    // Query mix as a desk types: names in another spelling, IDs, phone tails.
    let mut rng = StdRng::seed_from_u64(9);
    let mut sample = Vec::new();
    {
        let mut stmt = store.conn().prepare(
            "SELECT full_name, national_id, phone FROM beneficiaries ORDER BY random() LIMIT ?1",
        )?;
        let mut q = stmt.query([queries as i64])?;
        while let Some(r) = q.next()? {
            sample.push((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ));
        }
    }
    let variant = |name: &str, rng: &mut StdRng| -> String {
        let words: Vec<&str> = name.split_whitespace().collect();
        match rng.random_range(0..4) {
            0 => format!("{} {}", words[0], words[words.len() - 1]),
            1 => words
                .join(" ")
                .replace('أ', "ا")
                .replace('ة', "ه")
                .replace("عبد ", "عبد"),
            2 => format!("{} {}", &words[0], words.get(1).unwrap_or(&"")),
            _ => words[0].chars().take(3).collect(),
        }
    };
    let mut mix: Vec<String> = Vec::new();
    for (name, id, phone) in &sample {
        match rng.random_range(0..3) {
            0 => mix.push(variant(name, &mut rng)),
            1 => mix.push(id.clone().unwrap_or_else(|| variant(name, &mut rng))),
            _ => mix.push(
                phone
                    .as_ref()
                    .map(|p| p[p.len() - 4..].to_owned())
                    .unwrap_or_else(|| variant(name, &mut rng)),
            ),
        }
    }
    let _ = store.search("محمد", 20)?; // warm the page cache like a desk that has been open a while
    let mut ours = Vec::new();
    for q in &mix {
        let t = Instant::now();
        let hits = store.search(q, 20)?;
        ours.push(t.elapsed());
        std::hint::black_box(hits);
    }
    // Baseline: FTS5 over the raw names in a bare SQLite file, plain MATCH of the raw words.
    let base_dir = tempfile::tempdir()?;
    let conn = Connection::open(base_dir.path().join("fts.db"))?;
    conn.execute_batch("CREATE VIRTUAL TABLE names USING fts5(full_name);")?;
    {
        let mut names = store
            .conn()
            .prepare("SELECT full_name FROM beneficiaries")?;
        let mut q = names.query([])?;
        conn.execute_batch("BEGIN")?;
        while let Some(r) = q.next()? {
            conn.execute(
                "INSERT INTO names (full_name) VALUES (?1)",
                [r.get::<_, String>(0)?],
            )?;
        }
        conn.execute_batch("COMMIT")?;
    }
    let mut base = Vec::new();
    for (name, _, _) in &sample {
        let words: Vec<String> = name
            .split_whitespace()
            .take(2)
            .map(|w| format!("\"{w}\""))
            .collect();
        let t = Instant::now();
        let mut stmt = conn
            .prepare_cached("SELECT rowid, full_name FROM names WHERE names MATCH ?1 LIMIT 20")?;
        let found: Vec<(i64, String)> = stmt
            .query_map([words.join(" ")], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        base.push(t.elapsed());
        std::hint::black_box(found);
    }
    let (p50, p95) = (percentile(&mut ours, 0.5), percentile(&mut ours, 0.95));
    let (b50, b95) = (percentile(&mut base, 0.5), percentile(&mut base, 0.95));
    rows.push(Row {
        what: format!("search p50 ({n} beneficiaries, {queries} queries)"),
        figure: ms(p50),
        budget: "—".into(),
        baseline: ms(b50),
        verdict: true,
    });
    rows.push(Row {
        what: format!("search p95 ({n} beneficiaries)"),
        figure: ms(p95),
        budget: "< 20 ms".into(),
        baseline: ms(b95),
        verdict: p95 < Duration::from_millis(20),
    });
    Ok(())
}

fn import(rows: &mut Vec<Row>, n: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("sheet.csv");
    {
        let mut rng = StdRng::seed_from_u64(3);
        let today = Utc::now().date_naive();
        let mut w = String::from(
            "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,الجنس,المدينة,الحي,عدد أفراد الأسرة,الدخل الشهري\n",
        );
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let b = sila_store::demo::beneficiary(&mut rng, today);
            let id = b
                .national_id
                .as_ref()
                .map(|x| x.as_str().to_owned())
                .unwrap_or_default();
            if !id.is_empty() && !seen.insert(id.clone()) {
                continue;
            }
            let hijri = rng.random_bool(0.5);
            let birth = b.birth_date.map(|d| {
                if hijri {
                    sila_domain::dates::format_hijri(d)
                } else {
                    d.to_string()
                }
            });
            w.push_str(&format!(
                "{},{},{},{},{},{},{},{},{}\n",
                b.name.full(),
                id,
                b.mobile.as_ref().map(|m| m.national()).unwrap_or_default(),
                birth.unwrap_or_default(),
                b.gender.map(|g| g.arabic()).unwrap_or_default(),
                b.city,
                b.district,
                b.effective_household_size(),
                b.monthly_income() / 100
            ));
        }
        std::fs::write(&csv, w)?;
    }
    let store_dir = tempfile::tempdir()?;
    let mut store = new_store(store_dir.path())?;
    let t = Instant::now();
    let report = store.import_file(&csv, &mut |_| {})?;
    let ours = t.elapsed();
    anyhow::ensure!(
        report.rejected.is_empty(),
        "bench sheet had rejected rows: {}",
        report.rejected.len()
    );

    let same_rows = same_rows_written(&store)?;
    let shell_db = dir.path().join("shell.db");
    let t = Instant::now();
    let status = std::process::Command::new("sqlite3")
        .arg(&shell_db)
        .arg(format!(".import --csv {} people", csv.display()))
        .status()
        .context("the sqlite3 shell (apt-get install sqlite3) is the baseline")?;
    let base = t.elapsed();
    anyhow::ensure!(status.success(), "sqlite3 .import failed");
    let ratio = ours.as_secs_f64() / same_rows.as_secs_f64();
    rows.push(Row {
        what: format!("import CSV ({} rows imported)", report.imported),
        figure: format!("{:.2} s ({ratio:.2}× baseline)", ours.as_secs_f64()),
        budget: "< 30 s and ≤ 2.5× baseline".into(),
        baseline: format!(
            "{:.2} s (the same rows into the store's encrypted schema, prepared statements); {:.2} s (sqlite3 .import, plaintext)",
            same_rows.as_secs_f64(),
            base.as_secs_f64()
        ),
        verdict: ours < Duration::from_secs(30) && ratio <= 2.5,
    });
    Ok(())
}

/// The import's baseline: the rows the import wrote (its beneficiaries, their outbox operations
/// and audit events, read back byte for byte) written again into a new file with the store's own
/// schema (every migration: indexes, triggers, the name index), encrypted the same way, with
/// prepared statements in one transaction, and the name index filled as the store fills it
/// before commit. What writing those rows costs, before any reading, matching, validating or
/// encoding of a sheet.
fn same_rows_written(store: &Store) -> Result<Duration> {
    use rusqlite::types::Value;
    let read = |sql: &str| -> Result<Vec<Vec<Value>>> {
        let mut stmt = store.conn().prepare(sql)?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    };
    const BENEFICIARY: &str = "id, branch, full_name, name_key, national_id, phone, phone_rev, birth_date, data, version, created_at, updated_at, file_number";
    const OP: &str = "op_id, device_id, op, entity, entity_id, base_version, payload, created_at";
    const AUDIT: &str = "at, staff_id, action, entity, entity_id, detail";
    let people = read(&format!("SELECT {BENEFICIARY} FROM beneficiaries"))?;
    let ops = read(&format!(
        "SELECT {OP} FROM outbox WHERE op = 'beneficiary.create'"
    ))?;
    let audit = read(&format!(
        "SELECT {AUDIT} FROM audit_events WHERE action = 'import'"
    ))?;

    let dir = tempfile::tempdir()?;
    let mut conn = Connection::open(dir.path().join("baseline.sila"))?;
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\"; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
         PRAGMA cache_size = -{};",
        "cd".repeat(32),
        128 * 1024 // the page cache the store gives an import
    ))?;
    sila_store::migrate::migrate(&mut conn, "2026-01-01T00:00:00Z")?;
    let insert = |table: &str, columns: &str| {
        let n = columns.split(',').count();
        let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
        format!(
            "INSERT INTO {table} ({columns}) VALUES ({})",
            marks.join(", ")
        )
    };
    let t = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut people_stmt = tx.prepare(&insert("beneficiaries", BENEFICIARY))?;
        let mut op_stmt = tx.prepare(&insert("outbox", OP))?;
        for (person, op) in people.iter().zip(&ops) {
            people_stmt.execute(rusqlite::params_from_iter(person))?;
            op_stmt.execute(rusqlite::params_from_iter(op))?;
        }
        let mut audit_stmt = tx.prepare(&insert("audit_events", AUDIT))?;
        for a in &audit {
            audit_stmt.execute(rusqlite::params_from_iter(a))?;
        }
    }
    tx.execute_batch(
        "INSERT INTO beneficiary_fts (rowid, name_key)
             SELECT b.rid, b.name_key FROM beneficiary_fts_pending p JOIN beneficiaries b ON b.rid = p.rid;
         DELETE FROM beneficiary_fts_pending;",
    )?;
    tx.commit()?;
    Ok(t.elapsed())
}

/// The tables that hold the branch's records, as the desk and HQ know them: the people, their
/// requests and each request's history, contacts, deliveries, surveys, tasks and staff. Everything
/// else in the store serves them (indexes, the name index, the outbox, the audit trail, sync's
/// bookkeeping).
const RECORD_TABLES: &[&str] = &[
    "beneficiaries",
    "cases",
    "case_events",
    "interactions",
    "deliveries",
    "surveys",
    "tasks",
    "staff",
];

/// The store's size once synced (design.md: at most 1.5× its record tables alone): a branch store
/// of `n` demo beneficiaries and their cases, every operation acknowledged as a sync pass
/// acknowledges them (`Store::record_push`, a push stream at a time) and held by HQ's next
/// backup (`Store::hq_standing`: the payloads go), then compacted. Until that backup the
/// payloads stay, to be sent again if HQ is restored; their size is printed too. Baseline:
/// the record tables alone, copied into an encrypted file of their own with no index. Prints
/// where the bytes are.
fn store_size(rows: &mut Vec<Row>, n: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut store = new_store(dir.path())?;
    let demo = store.generate_demo(n, 11, &mut |_, _| {})?;
    let mut through = 0;
    loop {
        let ops = store.outbox_batch(500)?;
        let Some(last) = ops.last().map(|o| o.seq) else {
            break;
        };
        let sent: Vec<(i64, String)> = ops.iter().map(|o| (o.seq, o.op_id.to_string())).collect();
        store.record_push(&sent, last, &[])?;
        through = last;
    }
    // HQ's feed answer: everything acknowledged, no backup holds it yet. The payloads wait,
    // packed, for HQ's next backup (a restored HQ would ask for them again).
    let standing = |backed_up_through| sila_store::sync::HqStanding {
        acked_through: through,
        backed_up_through,
        epoch: None,
        epoch_head: 0,
    };
    store.hq_standing(&standing(0))?;
    let kept: i64 = store.conn().query_row(
        "SELECT (SELECT coalesce(sum(length(payload)), 0) FROM outbox)
              + (SELECT coalesce(sum(length(payloads)), 0) FROM outbox_packs)",
        [],
        |r| r.get(0),
    )?;
    let waiting = store.compact(&mut |_, _| {})?;
    // HQ's next backup (or, with `--backups continuous`, the acknowledgement itself) holds it all,
    // and its next feed answer says so: the acknowledged payloads go.
    store.hq_standing(&standing(through))?;
    let report = store.compact(&mut |_, _| {})?;

    let mut by_object: Vec<(String, i64)> = {
        let mut stmt = store.conn().prepare(
            "SELECT name, sum(pgsize) FROM dbstat WHERE aggregate = 0 GROUP BY name ORDER BY 2 DESC",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let records_file = dir.path().join("records.sila");
    // Attached without a key of its own, the copy is encrypted with the store's key.
    store.conn().execute(
        "ATTACH DATABASE ?1 AS records",
        [records_file.to_string_lossy()],
    )?;
    for t in RECORD_TABLES {
        store.conn().execute_batch(&format!(
            "CREATE TABLE records.{t} AS SELECT * FROM main.{t}"
        ))?;
    }
    store.conn().execute_batch("DETACH DATABASE records")?;
    let records = std::fs::metadata(&records_file)?.len();
    let ratio = report.after_bytes as f64 / records as f64;
    let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);

    eprintln!("\nwhere the bytes are, {n} beneficiaries after a full sync (compacted):");
    eprintln!("| table or index | MB | share |");
    eprintln!("| --- | --- | --- |");
    by_object.truncate(16);
    for (name, bytes) in &by_object {
        eprintln!(
            "| {name} | {:.1} | {:.0}% |",
            *bytes as f64 / 1e6,
            100.0 * *bytes as f64 / report.after_bytes as f64
        );
    }
    let waiting_ratio = waiting.after_bytes as f64 / records as f64;
    rows.push(Row {
        what: format!(
            "store size after a full sync, before HQ's next backup ({} beneficiaries, {} cases)",
            demo.beneficiaries, demo.cases
        ),
        figure: format!(
            "{} ({waiting_ratio:.2}× baseline; {} before compaction; {} of acknowledged payloads kept, packed, until HQ's backup)",
            mb(waiting.after_bytes),
            mb(waiting.before_bytes),
            mb(kept as u64)
        ),
        budget: "≤ 1.5× baseline".into(),
        baseline: format!("{} (the record tables alone, encrypted)", mb(records)),
        verdict: waiting_ratio <= 1.5,
    });
    rows.push(Row {
        what: "the same store after HQ's next backup".into(),
        figure: format!("{} ({ratio:.2}× baseline)", mb(report.after_bytes)),
        budget: "≤ 1.5× baseline".into(),
        baseline: format!("{} (the record tables alone, encrypted)", mb(records)),
        verdict: ratio <= 1.5,
    });
    Ok(())
}

/// Exact matching, the baseline duplicate finder: the same national ID, or the same normalised
/// name key together with the same birth date or the same mobile.
fn exact_duplicates(people: &[sila_domain::duplicates::Person]) -> Vec<(usize, usize)> {
    use std::collections::HashMap;
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        let key = sila_domain::arabic::name_key(&p.full_name);
        if let Some(n) = &p.national_id {
            groups.entry(format!("i{n}")).or_default().push(i);
        }
        if let Some(d) = p.birth_date {
            groups.entry(format!("b{d}{key}")).or_default().push(i);
        }
        if let Some(m) = &p.mobile {
            groups.entry(format!("m{m}{key}")).or_default().push(i);
        }
    }
    let mut pairs: Vec<(usize, usize)> = groups
        .values()
        .filter(|g| g.len() > 1)
        .flat_map(|g| {
            g.iter()
                .enumerate()
                .flat_map(move |(x, &a)| g[x + 1..].iter().map(move |&b| (a.min(b), a.max(b))))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Duplicate candidates at HQ over `n` people on one engine, as the review runs them in the
/// server: the time of the whole search (reading every live beneficiary, then
/// `sila_domain::duplicates`) and of its read alone, with precision and recall.
struct Found {
    secs: f64,
    read_secs: f64,
    pairs: usize,
    precision: f64,
    recall: f64,
}

/// One row of HQ's `beneficiaries`: (id, branch, national ID, record as JSON).
type HqPerson = (String, String, Option<String>, String);

/// HQ's `beneficiaries` rows for a labelled population, whole records as JSON as pushes leave
/// them: (id, branch, national ID, record). Made once per size, written on every engine.
fn population_rows(l: &sila_bench::labelled::Labelled) -> Result<Vec<HqPerson>> {
    let mut rng = StdRng::seed_from_u64(3);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    l.people
        .iter()
        .map(|p| {
            let mut b = sila_store::demo::beneficiary(&mut rng, today);
            b.id = p.id.parse().context("id")?;
            b.name = sila_domain::beneficiary::PersonName::from_full(&p.full_name);
            b.name.as_written = p.full_name.clone();
            b.national_id = p
                .national_id
                .as_deref()
                .map(sila_domain::national_id::NationalId::parse)
                .transpose()
                .ok()
                .flatten();
            b.birth_date = p.birth_date;
            b.mobile = p
                .mobile
                .as_deref()
                .map(sila_domain::phone::Mobile::parse)
                .transpose()
                .ok()
                .flatten();
            Ok((
                p.id.clone(),
                p.branch.clone(),
                p.national_id.clone(),
                serde_json::to_string(&b)?,
            ))
        })
        .collect()
}

fn duplicates_on(
    db: &BenchDb,
    l: &sila_bench::labelled::Labelled,
    people: &[HqPerson],
) -> Result<Found> {
    use sila_hq::db::{Mode, Val};
    use sila_hq::store::HqStore;
    let fresh = db.fresh();
    let hq = sila_hq::Hq::open(&fresh.db)?;
    let t = Instant::now();
    // In parts, so no engine holds a million people in one transaction's log.
    for part in people.chunks(50_000) {
        sila_hq::db::run(&**hq.engine(), Mode::Write, |c| {
            let mut bulk = sila_hq::testing::Bulk::new(
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
            for (id, branch, national_id, data) in part {
                bulk.row(
                    c,
                    [
                        Val::from(id),
                        branch.into(),
                        "bench".into(),
                        national_id.clone().into(),
                        data.into(),
                        1i64.into(),
                        "2026-11-25T00:00:00Z".into(),
                        "2026-11-25T00:00:00Z".into(),
                    ],
                )?;
            }
            bulk.flush(c)
        })?;
    }
    sila_hq::db::run(&**hq.engine(), Mode::Write, |c| c.batch("ANALYZE"))?;
    eprintln!(
        "{} people written on {} in {:.1} s",
        people.len(),
        db.label(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let (read, _) = sila_hq::db::run(&**hq.engine(), Mode::Read, |c| {
        sila_hq::sql::admin::duplicate_search_input(c)
    })?;
    let read_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(read.len() == people.len(), "read {} people", read.len());
    drop(read);
    let t = Instant::now();
    let found = hq.duplicate_candidates(usize::MAX)?;
    let secs = t.elapsed().as_secs_f64();
    let index: std::collections::HashMap<&str, usize> = l
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let proposed: Vec<(usize, usize)> = found
        .iter()
        .map(|d| (index[d.a.id.as_str()], index[d.b.id.as_str()]))
        .collect();
    let (precision, recall, _, _) = sila_bench::labelled::precision_recall(l, &proposed);
    Ok(Found {
        secs,
        read_secs,
        pairs: found.len(),
        precision,
        recall,
    })
}

/// Duplicate candidates at `n` people on every engine of `dbs`, beside exact matching in
/// memory: one row of the engines' table.
fn duplicates(dbs: &[BenchDb], rows: &mut Vec<EngineRow>, n: usize) -> Result<()> {
    let l = sila_bench::labelled::generate(n, 11);
    let people = population_rows(&l)?;
    let mut row = EngineRow {
        figure: format!(
            "duplicate candidates at HQ, {} people (the whole search: read every live beneficiary, then score)",
            l.people.len()
        ),
        cells: Vec::new(),
        budget: if n >= 1_000_000 {
            "< 60 s on two cores; PostgreSQL ≤ 2× SQLite".into()
        } else {
            "PostgreSQL ≤ 2× SQLite".into()
        },
        limit: (n >= 1_000_000).then_some(60.0),
        baseline: String::new(),
    };
    for db in dbs {
        eprintln!("duplicates at {n} on {} …", db.label());
        let f = duplicates_on(db, &l, &people)?;
        row.cells.push((
            db.clone(),
            format!(
                "{:.2} s (of which reading {:.2} s), {} pairs, precision {:.3}, recall {:.3}",
                f.secs, f.read_secs, f.pairs, f.precision, f.recall
            ),
            f.secs,
        ));
    }
    let t = Instant::now();
    let exact = exact_duplicates(&l.people);
    let base = t.elapsed();
    let (bp, br, _, _) = sila_bench::labelled::precision_recall(&l, &exact);
    row.baseline = format!(
        "{:.2} s exact matching (in memory), precision {bp:.3}, recall {br:.3}",
        base.as_secs_f64()
    );
    rows.push(row);
    Ok(())
}

/// A figure measured on each engine: (engine, shown, seconds).
struct EngineRow {
    figure: String,
    cells: Vec<(BenchDb, String, f64)>,
    budget: String,
    /// Seconds no engine may exceed.
    limit: Option<f64>,
    baseline: String,
}

/// The engines' table: figure | SQLite | PostgreSQL | ratio | budget | within | baseline.
fn print_engine_rows(rows: &[EngineRow]) {
    let of =
        |r: &EngineRow, e: TestEngine| r.cells.iter().find(|(d, _, _)| d.engine() == e).cloned();
    println!();
    println!(
        "| figure | SQLite | PostgreSQL | ratio (PostgreSQL / SQLite) | budget | within | baseline (same run) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        let s = of(r, TestEngine::Sqlite);
        let p = of(r, TestEngine::Postgres);
        let ratio = s.as_ref().zip(p.as_ref()).map(|(s, p)| p.2 / s.2);
        let within = ratio.is_none_or(|x| x <= 2.0)
            && r.limit.is_none_or(|l| r.cells.iter().all(|c| c.2 < l));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.figure,
            s.map_or("—".into(), |c| c.1),
            p.map_or("—".into(), |c| c.1),
            ratio.map_or("—".into(), |x| format!("{x:.2}")),
            r.budget,
            if within { "yes" } else { "NO" },
            r.baseline
        );
    }
}

fn print_rows(rows: &[Row]) {
    let w = [
        rows.iter()
            .map(|r| r.what.chars().count())
            .max()
            .unwrap_or(0)
            .max(4),
        rows.iter()
            .map(|r| r.figure.chars().count())
            .max()
            .unwrap_or(0)
            .max(6),
        rows.iter()
            .map(|r| r.budget.chars().count())
            .max()
            .unwrap_or(0)
            .max(6),
        rows.iter()
            .map(|r| r.baseline.chars().count())
            .max()
            .unwrap_or(0)
            .max(8),
    ];
    let pad = |s: &str, n: usize| format!("{s}{}", " ".repeat(n.saturating_sub(s.chars().count())));
    println!(
        "| {} | {} | {} | {} | ok |",
        pad("what", w[0]),
        pad("figure", w[1]),
        pad("budget", w[2]),
        pad("baseline", w[3])
    );
    println!(
        "|{}|{}|{}|{}|----|",
        "-".repeat(w[0] + 2),
        "-".repeat(w[1] + 2),
        "-".repeat(w[2] + 2),
        "-".repeat(w[3] + 2)
    );
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            pad(&r.what, w[0]),
            pad(&r.figure, w[1]),
            pad(&r.budget, w[2]),
            pad(&r.baseline, w[3]),
            if r.verdict { "yes" } else { "NO" }
        );
    }
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (mut n, intakes, queries) = if quick {
        (5_000, 100, 200)
    } else {
        (100_000, 500, 1000)
    };
    // `--only intake|submit|import|search|store_size|duplicates` runs one measurement; `--rows N` sizes the import and search
    // stores (for profiling; the budgets speak of 100k).
    let args: Vec<String> = std::env::args().collect();
    if let Some(rows) = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
    {
        n = rows.parse().context("--rows takes a number")?;
    }
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let mut rows = Vec::new();
    if runs("intake") {
        eprintln!("intake save …");
        intake(&mut rows, intakes)?;
    }
    if runs("submit") {
        eprintln!("intake submit …");
        submit(&mut rows, intakes)?;
    }
    if runs("import") {
        eprintln!("import …");
        import(&mut rows, n)?;
    }
    if runs("search") {
        eprintln!("search …");
        search(&mut rows, n, queries)?;
    }
    if runs("store_size") {
        eprintln!("store size …");
        store_size(&mut rows, n)?;
    }
    let mut engine_rows = Vec::new();
    if runs("duplicates") {
        // `--db`: where HQ is measured (sqlite, postgres, both, a postgres:// URL, a folder for
        // SQLite files); `--people N,M` the sizes.
        let dbs = BenchDb::parse(
            args.iter()
                .position(|a| a == "--db")
                .and_then(|i| args.get(i + 1))
                .map_or("both", |s| s.as_str()),
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        let sizes: Vec<usize> = match args
            .iter()
            .position(|a| a == "--people")
            .and_then(|i| args.get(i + 1))
        {
            Some(list) => list
                .split(',')
                .map(|n| n.trim().parse().context("--people takes numbers"))
                .collect::<Result<_>>()?,
            None if quick => vec![20_000],
            None => vec![100_000, 1_000_000],
        };
        for people in sizes {
            duplicates(&dbs, &mut engine_rows, people)?;
        }
    }

    if !rows.is_empty() {
        print_rows(&rows);
    }
    if !engine_rows.is_empty() {
        print_engine_rows(&engine_rows);
    }
    Ok(())
}
