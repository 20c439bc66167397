//! `sila-sync-bench`: the sync figures of design.md's performance budgets, printed as a table
//! (figure | budget | baseline). Not a test: run it by hand, in release mode:
//!
//! ```text
//! cargo run --release -p sila-sync-bench [-- --cases 10000 --slow-cases 1000]
//! ```
//!
//! - push of N new cases (each a full intake: beneficiary with household + case) over loopback;
//! - bytes on the wire per new case, batched and compressed (and per intake);
//! - 1,000 intakes through an emulated 2G link (70 kbps each way, 1.5 s round trip, 2 % loss, a
//!   round trip to open each connection as TCP's handshake costs, a cut every 20 s), resuming
//!   after every cut, with the client's default options;
//! - the peer baseline in the same run: the same N cases as documents replicated from PouchDB to
//!   pouchdb-server (npm packages installed by `.ci/setup.d/20-sync.sh` into tests/pouchdb/);
//! - a new laptop for a branch of B beneficiaries (`--branch`, 100,000 by default): its first
//!   sync over loopback (time until the desk is usable, people and open cases in; the whole
//!   branch; bytes on the wire), then an idle sync (bytes, ms); and the same first sync over the
//!   emulated 2G link for a smaller branch (`--branch-2g`, 2,000 by default).
//!
//! `--only push|2g|laptop` runs one part.

use anyhow::{Context, Result};
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sila_domain::catalog::Channel;
use sila_hq::store::HqStore;
use sila_store::{InitOptions, KdfParams, Store};
use sila_sync::SyncOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "password-123";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Hq {
    store: Arc<sila_hq::Hq>,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

async fn start_hq() -> Result<Hq> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(sila_hq::Hq::open(dir.path().join("hq.db"))?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let s: Arc<dyn HqStore> = store.clone();
    tokio::spawn(sila_hq::serve(listener, s, None, std::future::pending()));
    Ok(Hq {
        store,
        addr,
        _dir: dir,
    })
}

/// A new branch store whose first account unlocks cheaply (setup, not measured).
fn new_store(dir: &Path, branch: &str, user: &str) -> Result<Store> {
    Ok(Store::init(
        dir,
        branch,
        user,
        "مدير",
        PASSWORD,
        InitOptions {
            kdf: KdfParams {
                m_cost_kib: 1024,
                t_cost: 1,
                p_cost: 1,
            },
            ..Default::default()
        },
    )?)
}

/// A branch store with `n` intakes (beneficiary + draft case), made as the desk makes them
/// (`save_intake`), with durability relaxed while filling it (setup, not measured).
fn branch_with_intakes(dir: &Path, name: &str, n: usize, seed: u64) -> Result<Store> {
    let mut store = new_store(dir, name, "admin")?;
    store.conn().execute_batch("PRAGMA synchronous = OFF")?;
    let mut rng = StdRng::seed_from_u64(seed);
    let today = Utc::now().date_naive();
    let types: Vec<String> = store
        .catalog()
        .support_types
        .iter()
        .map(|t| t.code.clone())
        .collect();
    let mut made = 0;
    while made < n {
        let b = sila_store::demo::beneficiary(&mut rng, today);
        let st = &types[rng.random_range(0..types.len())];
        match store.save_intake(&b, st, Channel::ALL[rng.random_range(0..8)]) {
            Ok(_) => made += 1,
            Err(sila_store::StoreError::DuplicateNationalId { .. }) => {}
            Err(sila_store::StoreError::Invalid(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    store.conn().execute_batch("PRAGMA synchronous = FULL")?;
    Ok(store)
}

async fn enroll(store: &mut Store, hq: &Hq, url: &str) -> Result<()> {
    let branch = store.session().branch.clone();
    let code = hq
        .store
        .create_enrol_code(&branch, chrono::Duration::hours(1), Utc::now())?;
    sila_sync::enroll(store, url, &code, &opts())
        .await
        .map_err(|e| anyhow::anyhow!("enrol: {}", e.code()))?;
    Ok(())
}

fn opts() -> SyncOptions {
    SyncOptions {
        attachments: false,
        failpoint: None,
        ..Default::default()
    }
}

struct Row {
    figure: String,
    value: String,
    budget: String,
    baseline: String,
}

/// Push N intakes over loopback; then N more cases for the same people (case.create only).
async fn loopback(n: usize, rows: &mut Vec<Row>, export: &Path) -> Result<()> {
    let hq = start_hq().await?;
    let dir = tempfile::tempdir()?;
    eprintln!("making {n} intakes…");
    let mut store = branch_with_intakes(dir.path(), "الأفلاج", n, 1)?;
    export_documents(&store, export)?;
    enroll(&mut store, &hq, &format!("http://{}", hq.addr)).await?;
    let ops = store.stats()?.pending_changes;
    let t = Instant::now();
    let r = sila_sync::sync_once(&mut store, &opts())
        .await
        .map_err(|e| anyhow::anyhow!("sync: {}", e.code()))?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(r.pending == 0 && r.rejected == 0, "push incomplete");
    rows.push(Row {
        figure: format!("push {n} new cases (intakes: beneficiary + case, {ops} ops), loopback"),
        value: format!("{secs:.2} s"),
        budget: "< 10 s".into(),
        baseline: String::new(),
    });
    rows.push(Row {
        figure: "bytes on the wire per intake (beneficiary + case), batched+zstd".into(),
        value: format!("{:.0} B", r.bytes_sent as f64 / n as f64),
        budget: "-".into(),
        baseline: String::new(),
    });
    // A new case for people already registered: the case alone travels.
    let ids: Vec<String> = {
        let mut s = store.conn().prepare("SELECT id FROM beneficiaries")?;
        s.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    store.conn().execute_batch("PRAGMA synchronous = OFF")?;
    let types: Vec<String> = store
        .catalog()
        .support_types
        .iter()
        .map(|t| t.code.clone())
        .collect();
    for (i, id) in ids.iter().enumerate() {
        store.create_case(id.parse()?, &types[i % types.len()], Channel::ALL[i % 8])?;
    }
    store.conn().execute_batch("PRAGMA synchronous = FULL")?;
    let t = Instant::now();
    let r = sila_sync::sync_once(&mut store, &opts())
        .await
        .map_err(|e| anyhow::anyhow!("sync: {}", e.code()))?;
    let secs = t.elapsed().as_secs_f64();
    rows.push(Row {
        figure: format!(
            "bytes on the wire per new case (case.create), batched+zstd ({} cases in {secs:.2} s)",
            ids.len()
        ),
        value: format!("{:.0} B", r.bytes_sent as f64 / ids.len() as f64),
        budget: "< 150 B".into(),
        baseline: String::new(),
    });
    Ok(())
}

/// The same cases as JSON documents (case with its beneficiary inside), for the PouchDB baseline.
fn export_documents(store: &Store, path: &Path) -> Result<()> {
    let mut out = String::new();
    let mut s = store.conn().prepare(
        "SELECT c.id, c.data, b.data FROM cases c JOIN beneficiaries b ON b.id = c.beneficiary_id",
    )?;
    let rows = s.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (id, case, b) = row?;
        let doc = serde_json::json!({"_id": id, "case": serde_json::from_str::<serde_json::Value>(&case)?,
                                     "beneficiary": serde_json::from_str::<serde_json::Value>(&b)?});
        out.push_str(&doc.to_string());
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// An emulated 2G link: bandwidth, one-way latency, loss (a lost segment waits for its
/// retransmission and holds up what follows, as in TCP), a handshake round trip before a new
/// connection carries data, and cuts that drop every connection.
struct Link {
    bytes_per_sec: f64,
    one_way: Duration,
    loss: f64,
    retransmit: Duration,
    epoch: AtomicU64,
    /// Bytes carried towards HQ and back.
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
}

async fn shaped(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    link: Arc<Link>,
    seed: u64,
    up: bool,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let l = link.clone();
    let reader = async move {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut free_at = tokio::time::Instant::now();
        let mut last_delivery = tokio::time::Instant::now();
        let mut buf = vec![0u8; 1460];
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let now = tokio::time::Instant::now();
            free_at = free_at.max(now) + Duration::from_secs_f64(n as f64 / l.bytes_per_sec);
            tokio::time::sleep_until(free_at).await;
            let mut at = free_at + l.one_way;
            if rng.random::<f64>() < l.loss {
                at += l.retransmit;
            }
            at = at.max(last_delivery);
            last_delivery = at;
            if up { &l.up } else { &l.down }.fetch_add(n as u64, Ordering::Relaxed);
            if tx.send((at, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if w.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}

async fn start_link(upstream: std::net::SocketAddr, link: Arc<Link>) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut n = 0u64;
        while let Ok((client, _)) = listener.accept().await {
            n += 1;
            let link = link.clone();
            tokio::spawn(async move {
                let epoch = link.epoch.load(Ordering::SeqCst);
                link.connections.fetch_add(1, Ordering::Relaxed);
                // SYN and SYN-ACK: one round trip before the first byte of data can leave.
                tokio::time::sleep(link.one_way * 2).await;
                if link.epoch.load(Ordering::SeqCst) != epoch {
                    return;
                }
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let l2 = link.clone();
                let pipe = async move {
                    tokio::join!(
                        shaped(cr, sw, link.clone(), n * 2, true),
                        shaped(sr, cw, link.clone(), n * 2 + 1, false)
                    );
                };
                let cut = async move {
                    while l2.epoch.load(Ordering::SeqCst) == epoch {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                };
                tokio::select! { _ = pipe => {}, _ = cut => {} }
            });
        }
    });
    Ok(format!("http://{addr}"))
}

async fn slow_link(n: usize, rows: &mut Vec<Row>) -> Result<()> {
    let hq = start_hq().await?;
    let dir = tempfile::tempdir()?;
    let mut store = branch_with_intakes(dir.path(), "مروان", n, 2)?;
    let link = Arc::new(Link {
        bytes_per_sec: 70_000.0 / 8.0,
        one_way: Duration::from_millis(750),
        loss: 0.02,
        retransmit: Duration::from_millis(1500),
        epoch: AtomicU64::new(0),
        up: AtomicU64::new(0),
        down: AtomicU64::new(0),
        connections: AtomicU64::new(0),
    });
    let url = start_link(hq.addr, link.clone()).await?;
    // Enrol over loopback (not part of the figure), then point the store at the slow link.
    enroll(&mut store, &hq, &format!("http://{}", hq.addr)).await?;
    let token = store.enrolment()?.context("enrolled")?.token;
    let branch = store.session().branch.clone();
    store.save_enrolment(&url, &token, &branch)?;
    // The client's own defaults: nothing tuned for this link.
    let o = opts();
    let cutter_link = link.clone();
    let cutter = tokio::spawn(async move {
        let mut cuts = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(20)).await;
            cutter_link.epoch.fetch_add(1, Ordering::SeqCst);
            cuts += 1;
            let _ = cuts;
        }
    });
    let t = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let pass = Instant::now();
        let r = sila_sync::sync_once(&mut store, &o).await;
        // Where the time goes, pass by pass (stderr; the table is on stdout).
        eprintln!(
            "2G pass {attempts}: {:.1} s, {}, link so far: {:.1} KB up, {:.1} KB down",
            pass.elapsed().as_secs_f64(),
            match &r {
                Ok(r) => format!(
                    "pushed {} ({} B), pending {}",
                    r.pushed, r.bytes_sent, r.pending
                ),
                Err(e) => format!("failed: {}", e.code()),
            },
            link.up.load(Ordering::Relaxed) as f64 / 1024.0,
            link.down.load(Ordering::Relaxed) as f64 / 1024.0,
        );
        match r {
            Ok(r) if r.pending == 0 => break,
            Ok(_) => {}
            Err(e) if e.is_transient() => {}
            Err(e) => anyhow::bail!("2G sync failed: {}", e.code()),
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(600),
            "2G sync did not finish"
        );
    }
    let secs = t.elapsed().as_secs_f64();
    cutter.abort();
    let cuts = link.epoch.load(Ordering::SeqCst);
    let held = hq.store.stats()?;
    anyhow::ensure!(
        held.beneficiaries == n as i64 && held.cases == n as i64,
        "HQ holds {} beneficiaries and {} cases of {n}",
        held.beneficiaries,
        held.cases
    );
    rows.push(Row {
        figure: format!(
            "{n} new cases (intakes) over emulated 2G (70 kbps, 1.5 s RTT, 2 % loss, handshake RTT), {cuts} cuts, {attempts} passes, {} connections, {:.1} KB up, {:.1} KB down",
            link.connections.load(Ordering::Relaxed),
            link.up.load(Ordering::Relaxed) as f64 / 1024.0,
            link.down.load(Ordering::Relaxed) as f64 / 1024.0,
        ),
        value: format!("{secs:.1} s"),
        budget: "< 60 s, resumes after every cut".into(),
        baseline: String::new(),
    });
    Ok(())
}

fn counting_link() -> Arc<Link> {
    Arc::new(Link {
        bytes_per_sec: 1e12,
        one_way: Duration::ZERO,
        loss: 0.0,
        retransmit: Duration::ZERO,
        epoch: AtomicU64::new(0),
        up: AtomicU64::new(0),
        down: AtomicU64::new(0),
        connections: AtomicU64::new(0),
    })
}

fn two_g_link() -> Arc<Link> {
    Arc::new(Link {
        bytes_per_sec: 70_000.0 / 8.0,
        one_way: Duration::from_millis(750),
        loss: 0.02,
        retransmit: Duration::from_millis(1500),
        epoch: AtomicU64::new(0),
        up: AtomicU64::new(0),
        down: AtomicU64::new(0),
        connections: AtomicU64::new(0),
    })
}

/// A new laptop joins a branch of `n` people that HQ already holds: its first sync through
/// `link` (until the desk is usable, and until the whole branch is in), then an idle sync.
/// Returns (usable s, whole s, bytes down, bytes up, idle bytes, idle ms).
async fn first_sync(
    hq: &Hq,
    branch: &str,
    link: Arc<Link>,
) -> Result<(f64, f64, u64, u64, u64, f64)> {
    let url = start_link(hq.addr, link.clone()).await?;
    let dir = tempfile::tempdir()?;
    let mut laptop = new_store(dir.path(), branch, "newlaptop")?;
    enroll(&mut laptop, hq, &url).await?;
    let (up0, down0) = (
        link.up.load(Ordering::Relaxed),
        link.down.load(Ordering::Relaxed),
    );
    let began = Instant::now();
    let usable: Arc<std::sync::Mutex<Option<f64>>> = Arc::default();
    let mut o = opts();
    let u = usable.clone();
    o.progress = Some(Arc::new(move |r: &sila_store::sync::Redownload| {
        // People and open cases are in once the re-download has gone past them.
        let past = sila_sync::proto::phases::ALL
            .iter()
            .position(|p| *p == r.phase)
            .is_none_or(|i| i > 3);
        let mut u = u.lock().unwrap_or_else(|e| e.into_inner());
        if past && u.is_none() {
            *u = Some(began.elapsed().as_secs_f64());
        }
    }));
    loop {
        match sila_sync::sync_once(&mut laptop, &o).await {
            Ok(r) if r.pending == 0 => break,
            Ok(_) => {}
            Err(e) if e.is_transient() => {}
            Err(e) => anyhow::bail!("first sync failed: {}", e.code()),
        }
        anyhow::ensure!(
            began.elapsed() < Duration::from_secs(3600),
            "first sync did not finish"
        );
    }
    let whole = began.elapsed().as_secs_f64();
    let usable = usable
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(whole);
    let held = laptop.stats()?;
    anyhow::ensure!(held.beneficiaries > 0, "the laptop holds nobody");
    let (up1, down1) = (
        link.up.load(Ordering::Relaxed),
        link.down.load(Ordering::Relaxed),
    );
    // Nothing changed anywhere: what does a pass cost? (The holding digest goes now and then,
    // not at every pass: the scheduler's periodic passes do not send it.)
    let mut idle = opts();
    idle.check_holding = false;
    let t = Instant::now();
    sila_sync::sync_once(&mut laptop, &idle)
        .await
        .map_err(|e| anyhow::anyhow!("idle sync: {}", e.code()))?;
    let idle_ms = t.elapsed().as_secs_f64() * 1000.0;
    let idle_bytes =
        link.up.load(Ordering::Relaxed) + link.down.load(Ordering::Relaxed) - up1 - down1;
    Ok((usable, whole, down1 - down0, up1 - up0, idle_bytes, idle_ms))
}

/// HQ holding a branch of `n` people (one intake each: beneficiary + case), pushed by one laptop.
async fn branch_at_hq(hq: &Hq, branch: &str, n: usize, seed: u64) -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    eprintln!("making a branch of {n} at HQ…");
    let mut store = branch_with_intakes(dir.path(), branch, n, seed)?;
    enroll(&mut store, hq, &format!("http://{}", hq.addr)).await?;
    loop {
        let r = sila_sync::sync_once(&mut store, &opts())
            .await
            .map_err(|e| anyhow::anyhow!("sync: {} ({e:?})", e.code()))?;
        if r.pending == 0 {
            break;
        }
    }
    Ok(dir)
}

async fn new_laptop(n: usize, n_2g: usize, rows: &mut Vec<Row>) -> Result<()> {
    let hq = start_hq().await?;
    let _keep = branch_at_hq(&hq, "الأفلاج", n, 3).await?;
    eprintln!("first sync of a new laptop over loopback…");
    let (usable, whole, down, up, idle_bytes, idle_ms) =
        first_sync(&hq, "الأفلاج", counting_link()).await?;
    rows.push(Row {
        figure: format!("first sync of a new laptop, branch of {n} people and their cases, loopback: desk usable (people and open cases in)"),
        value: format!("{usable:.1} s"),
        budget: "< 120 s".into(),
        baseline: format!("whole branch in {whole:.1} s; {:.1} MB down, {:.1} KB up ({:.0} B per person down)",
            down as f64 / 1e6, up as f64 / 1024.0, down as f64 / n as f64),
    });
    rows.push(Row {
        figure: format!("idle sync of a laptop of a branch of {n} (nothing changed), loopback"),
        value: format!("{idle_bytes} B, {idle_ms:.1} ms"),
        budget: "< 2 KB".into(),
        baseline: String::new(),
    });
    let hq = start_hq().await?;
    let _keep = branch_at_hq(&hq, "مروان", n_2g, 4).await?;
    eprintln!("first sync of a new laptop over 2G…");
    let (usable, whole, down, up, idle_bytes, idle_ms) =
        first_sync(&hq, "مروان", two_g_link()).await?;
    rows.push(Row {
        figure: format!("first sync of a new laptop, branch of {n_2g}, emulated 2G (70 kbps, 1.5 s RTT, 2 % loss): desk usable"),
        value: format!("{usable:.1} s"),
        budget: "-".into(),
        baseline: format!("whole branch in {whole:.1} s; {:.1} KB down, {:.1} KB up; idle sync {idle_bytes} B in {idle_ms:.0} ms",
            down as f64 / 1024.0, up as f64 / 1024.0),
    });
    Ok(())
}

/// PouchDB → pouchdb-server with the same cases as documents: (seconds, bytes sent).
fn pouchdb(docs: &Path) -> Option<(f64, u64, usize)> {
    let root: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "tests", "pouchdb"]
        .iter()
        .collect();
    if !root.join("node_modules").exists() {
        eprintln!("PouchDB baseline skipped: run .ci/setup.d/20-sync.sh first");
        return None;
    }
    let out = std::process::Command::new("node")
        .arg(root.join("bench.js"))
        .arg(docs)
        .current_dir(&root)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "PouchDB baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        v["seconds"].as_f64()?,
        v["bytes"].as_u64()?,
        v["docs"].as_u64()? as usize,
    ))
}

fn main() -> Result<()> {
    let n = arg("--cases", 10_000);
    let slow = arg("--slow-cases", 1_000);
    let branch = arg("--branch", 100_000);
    let branch_2g = arg("--branch-2g", 2_000);
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let rt = tokio::runtime::Runtime::new()?;
    let mut rows = Vec::new();
    if runs("push") {
        let docs = tempfile::NamedTempFile::new()?;
        rt.block_on(loopback(n, &mut rows, docs.path()))?;
        if let Some((secs, bytes, count)) = pouchdb(docs.path()) {
            rows[0].baseline = format!("PouchDB → pouchdb-server: {secs:.2} s");
            rows[1].baseline =
                format!("PouchDB: {:.0} B per document", bytes as f64 / count as f64);
        }
    }
    if runs("2g") {
        rt.block_on(slow_link(slow, &mut rows))?;
    }
    if runs("laptop") {
        rt.block_on(new_laptop(branch, branch_2g, &mut rows))?;
    }
    println!("| figure | measured | budget | baseline (same run) |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.figure, r.value, r.budget, r.baseline
        );
    }
    Ok(())
}
