//! `sila-sync-bench`: the sync figures of design.md's performance budgets, and HQ's engines side
//! by side (issue 12.7), printed as one table (figure | SQLite | PostgreSQL | ratio | budget |
//! baseline), every figure measured in the same run. Not a test: run it by hand, in release mode:
//!
//! ```text
//! cargo run --release -p sila-sync-bench [-- --db both --cases 10000 --only push]
//! ```
//!
//! `--db` says where HQ is measured: `sqlite`, `postgres` (a throw-away cluster started as the
//! tests start theirs, durable), `both` (the default), a `postgres://` URL of a server on which a
//! database is created per measurement, or a folder for the SQLite files. HQ is the real
//! `sila-hq serve` (this program started again as it: `SILA_SYNC_BENCH_HQ=1`) on a loopback
//! port, and each device the real client on its own branch store.
//!
//! - push of N new cases (each a full intake: beneficiary with household + case) over loopback;
//! - bytes on the wire per new case, batched and compressed (and per intake);
//! - a fleet (`--only fleet`): D devices (`--devices`, 50), each of its own branch, push their
//!   share of N intakes all at once to one server, then to two servers on one database (half the
//!   devices each); the wall time until every operation is acknowledged, and operations/s;
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
//! `--only push|fleet|2g|laptop` runs one part.

use anyhow::{Context, Result};
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sila_domain::catalog::Channel;
use sila_hq::store::HqStore;
use sila_hq::testing::{BenchDb, FreshDb};
use sila_store::{InitOptions, KdfParams, Store};
use sila_sync::SyncOptions;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "password-123";

/// Set in the environment of this program started again as `sila-hq`.
const AS_HQ: &str = "SILA_SYNC_BENCH_HQ";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// HQ under measurement: `servers` processes of `sila-hq serve` on one fresh database, and the
/// store opened here too (enrolment codes, counts), as `sila-hq enroll-code` opens it.
struct Hq {
    servers: Vec<std::process::Child>,
    addrs: Vec<std::net::SocketAddr>,
    store: sila_hq::Hq,
    db: FreshDb,
}

impl Hq {
    async fn start(db: &BenchDb, servers: usize, pool: Option<u32>) -> Result<Hq> {
        let fresh = db.fresh();
        // Opened first: the schema is made once, before the servers start.
        let store = sila_hq::Hq::open(&fresh.db)?;
        let mut hq = Hq {
            servers: Vec::new(),
            addrs: Vec::new(),
            store,
            db: fresh,
        };
        for _ in 0..servers {
            let (child, addr) = serve(&hq.db.db, pool)?;
            hq.servers.push(child);
            hq.addrs.push(addr);
        }
        Ok(hq)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addrs[0])
    }

    /// CPU seconds (user and system) the server processes have used so far, from
    /// `/proc/PID/stat` (in clock ticks, 100 a second on Linux).
    fn cpu_seconds(&self) -> f64 {
        let ticks: u64 = self
            .servers
            .iter()
            .filter_map(|c| std::fs::read_to_string(format!("/proc/{}/stat", c.id())).ok())
            .filter_map(|stat| Some(process_ticks(&stat)?.1))
            .sum();
        ticks as f64 / 100.0
    }
}

/// A process's command name and the CPU it has used (user and system, in clock ticks) from its
/// `/proc/PID/stat` line: the name is inside the parentheses, and utime and stime are the 14th
/// and 15th fields, the 12th and 13th after the closing parenthesis.
fn process_ticks(stat: &str) -> Option<(&str, u64)> {
    let (head, after) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some((
        name,
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

impl Drop for Hq {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `sila-hq --db DB serve` on a free loopback port (this very program, which runs `sila-hq`'s
/// command line when started with [`AS_HQ`]), without its scheduled backups (HQ takes its first
/// one a period after it starts: none would fall inside a measurement).
fn serve(db: &str, pool: Option<u32>) -> Result<(std::process::Child, std::net::SocketAddr)> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    if let Some(n) = pool {
        cmd.env("SILA_HQ_DB_POOL", n.to_string());
    }
    let mut child = cmd
        .args([
            "--db",
            db,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backup-every",
            "0",
        ])
        .env(AS_HQ, "1")
        .env("SILA_LOG", "warn")
        .env_remove("SILA_HQ_FAILPOINT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .with_context(|| format!("sila-hq serve said {line:?}"))?
        .parse()?;
    // Whatever else it prints (warnings) is read, so it never waits on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Ok((child, addr))
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

/// A copy of a closed store's folder, opened: each engine gets the same branch, made once.
fn copy_of(template: &Path, to: &Path) -> Result<Store> {
    copy_dir(template, to)?;
    Ok(Store::open(to, "admin", PASSWORD)?)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

async fn enroll(store: &mut Store, hq: &Hq, url: &str) -> Result<()> {
    let branch = store.session().branch.clone();
    let code = hq.store.create_enrol_code(
        &branch,
        chrono::Duration::hours(1),
        &sila_hq::HqActor::command_line(),
        Utc::now(),
    )?;
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

/// One figure on one engine: what is shown, and the number the ratio is made of (lower is
/// better).
#[derive(Clone)]
struct Cell {
    shown: String,
    value: f64,
}

fn cell(shown: String, value: f64) -> Cell {
    Cell { shown, value }
}

/// One line of the table: the figure on each engine measured.
struct Row {
    figure: String,
    sqlite: Option<Cell>,
    postgres: Option<Cell>,
    budget: String,
    /// PostgreSQL over SQLite must stay at or under this.
    ratio_budget: Option<f64>,
    /// Whether a budget other than the ratio's held (None: no such budget).
    held: Option<bool>,
    baseline: String,
}

impl Row {
    fn new(figure: impl Into<String>, budget: impl Into<String>) -> Row {
        Row {
            figure: figure.into(),
            sqlite: None,
            postgres: None,
            budget: budget.into(),
            ratio_budget: None,
            held: None,
            baseline: String::new(),
        }
    }
    fn set(&mut self, db: &BenchDb, c: Cell) {
        match db {
            BenchDb::Sqlite(_) => self.sqlite = Some(c),
            BenchDb::Postgres(_) => self.postgres = Some(c),
        }
    }
    fn ratio(&self) -> Option<f64> {
        Some(self.postgres.as_ref()?.value / self.sqlite.as_ref()?.value)
    }
}

/// The rows one part adds, found by figure, so each engine fills its column.
fn row<'r>(rows: &'r mut Vec<Row>, figure: &str, budget: &str) -> &'r mut Row {
    match rows.iter().position(|r| r.figure == figure) {
        Some(i) => &mut rows[i],
        None => {
            rows.push(Row::new(figure, budget));
            rows.last_mut().expect("pushed")
        }
    }
}

/// Push N intakes over loopback; then N more cases for the same people (case.create only).
async fn loopback(
    db: &BenchDb,
    template: &Path,
    n: usize,
    ops: i64,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let hq = Hq::start(db, 1, None).await?;
    let dir = tempfile::tempdir()?;
    let mut store = copy_of(template, dir.path())?;
    enroll(&mut store, &hq, &hq.url()).await?;
    hq.db.reset_statements();
    let cpu_before = hq.cpu_seconds();
    let machine_before = MachineCpu::now();
    let t = Instant::now();
    let r = sila_sync::sync_once(&mut store, &opts())
        .await
        .map_err(|e| anyhow::anyhow!("sync: {}", e.code()))?;
    let secs = t.elapsed().as_secs_f64();
    let machine = MachineCpu::now().since(&machine_before);
    let hq_cpu = hq.cpu_seconds() - cpu_before;
    anyhow::ensure!(r.pending == 0 && r.rejected == 0, "push incomplete");
    // Where the time went on PostgreSQL: statements (each a round trip) and the server's time.
    let spent = hq.db.statements();
    let held = hq.store.stats()?;
    anyhow::ensure!(
        held.beneficiaries == n as i64 && held.cases == n as i64,
        "HQ holds {} beneficiaries and {} cases of {n}",
        held.beneficiaries,
        held.cases
    );
    let r1 = row(
        rows,
        &format!(
            "push {n} new cases (intakes: beneficiary + case, {ops} ops), loopback, one server"
        ),
        "< 10 s; PostgreSQL ≤ 2× SQLite",
    );
    r1.ratio_budget = Some(2.0);
    r1.held = Some(r1.held.unwrap_or(true) && secs < 10.0);
    r1.set(
        db,
        cell(
            match spent {
                Some(st) => format!(
                    "{secs:.2} s ({} statements, {:.1} per op; server executing {:.2} s; {})",
                    st.calls,
                    st.calls as f64 / ops as f64,
                    st.server_seconds,
                    machine.shown(hq_cpu, secs)
                ),
                None => format!("{secs:.2} s ({})", machine.shown(hq_cpu, secs)),
            },
            secs,
        ),
    );
    // What one statement costs HQ's driver on this engine, the floor under every push.
    let trip = round_trip(&hq.store)?;
    let r2 = row(
        rows,
        "one statement, HQ's driver (SELECT ?1 in a read transaction, 2,000 times): mean",
        "-",
    );
    r2.set(db, cell(format!("{:.1} µs", trip * 1e6), trip));
    let per = r.bytes_sent as f64 / n as f64;
    row(
        rows,
        "bytes on the wire per intake (beneficiary + case), batched+zstd",
        "-",
    )
    .set(db, cell(format!("{per:.0} B"), per));
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
    let per = r.bytes_sent as f64 / ids.len() as f64;
    let r3 = row(
        rows,
        &format!(
            "bytes on the wire per new case (case.create), batched+zstd ({} more cases pushed; time on each engine)",
            ids.len()
        ),
        "< 150 B",
    );
    r3.held = Some(r3.held.unwrap_or(true) && per < 150.0);
    r3.set(db, cell(format!("{per:.0} B ({secs:.2} s)"), secs));
    Ok(())
}

/// The machine's CPU time by kind, from `/proc/stat`'s first line (clock ticks, 100 a second):
/// beside a wall time it says whether a run was working or waiting (for the disk, or for another
/// process to be woken), which a ratio of wall times alone cannot tell.
#[derive(Default)]
struct MachineCpu {
    busy: f64,
    iowait: f64,
    /// Time the virtual machine's host gave to others while this one wanted a core.
    steal: f64,
    /// Every `postgres` process's CPU (the backends, the WAL writer, the checkpointer …),
    /// counted while they live: a backend's parse, bind, and protocol work, which
    /// `pg_stat_statements`' execution time leaves out.
    postgres: f64,
}

impl MachineCpu {
    fn now() -> MachineCpu {
        let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
            return MachineCpu::default();
        };
        // cpu user nice system idle iowait irq softirq steal …
        let f: Vec<f64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
        MachineCpu {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            iowait: at(4),
            steal: at(7),
            postgres: postgres_cpu(),
        }
    }

    fn since(&self, before: &MachineCpu) -> MachineCpu {
        MachineCpu {
            busy: self.busy - before.busy,
            iowait: self.iowait - before.iowait,
            steal: self.steal - before.steal,
            postgres: self.postgres - before.postgres,
        }
    }

    fn shown(&self, hq_cpu: f64, wall: f64) -> String {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let postgres = if self.postgres > 0.0 {
            format!("PostgreSQL's processes {:.1} s; ", self.postgres)
        } else {
            String::new()
        };
        format!(
            "HQ CPU {hq_cpu:.1} s; {postgres}machine busy {:.1} of {:.1} core-s, stolen by the host {:.1} s, waiting on the disk {:.1} s",
            self.busy,
            wall * cores as f64,
            self.steal,
            self.iowait
        )
    }
}

/// CPU seconds of every process named `postgres` now (their user and system ticks).
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let ticks: u64 = dir
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|stat| match process_ticks(&stat)? {
            ("postgres", ticks) => Some(ticks),
            _ => None,
        })
        .sum();
    ticks as f64 / 100.0
}

/// Seconds per statement through HQ's storage layer, from the server's process's side.
fn round_trip(hq: &sila_hq::Hq) -> Result<f64> {
    const N: i64 = 2_000;
    let t = Instant::now();
    sila_hq::db::run(&**hq.engine(), sila_hq::db::Mode::Read, |c| {
        for i in 0..N {
            c.query("SELECT ?1", &[i.into()])?;
        }
        Ok(())
    })?;
    Ok(t.elapsed().as_secs_f64() / N as f64)
}

/// D devices, each of its own branch, push their share of the intakes all at once to
/// `servers` servers on one database (device i to server i mod servers). Returns (seconds until
/// every device's pass returned with nothing pending, operations acknowledged).
fn fleet_once(
    db: &BenchDb,
    templates: &[PathBuf],
    servers: usize,
    pool: Option<u32>,
) -> Result<(f64, i64, Spent)> {
    let rt = tokio::runtime::Runtime::new()?;
    let hq = rt.block_on(Hq::start(db, servers, pool))?;
    let work = tempfile::tempdir()?;
    let devices = templates.len();
    let start = Arc::new(std::sync::Barrier::new(devices + 1));
    let mut threads = Vec::new();
    for (i, template) in templates.iter().enumerate() {
        let dir = work.path().join(format!("d{i}"));
        let url = format!("http://{}", hq.addrs[i % servers]);
        let mut store = copy_of(template, &dir)?;
        let branch = store.session().branch.clone();
        let code = hq.store.create_enrol_code(
            &branch,
            chrono::Duration::hours(1),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )?;
        let start = start.clone();
        // A device is a thread with a runtime of its own, as each laptop is a process.
        threads.push(std::thread::spawn(move || -> Result<(i64, usize)> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                sila_sync::enroll(&mut store, &url, &code, &opts())
                    .await
                    .map_err(|e| anyhow::anyhow!("enrol: {}", e.code()))?;
                let ops = store.stats()?.pending_changes;
                start.wait();
                let mut passes = 0;
                loop {
                    passes += 1;
                    match sila_sync::sync_once(&mut store, &opts()).await {
                        Ok(r) if r.pending == 0 => break,
                        Ok(_) => {}
                        Err(e) if e.is_transient() => {}
                        Err(e) => anyhow::bail!("fleet sync: {}", e.code()),
                    }
                    anyhow::ensure!(passes < 100, "a device's push did not finish");
                }
                Ok((ops, passes))
            })
        }));
    }
    // What the servers and the database spend is counted from here: the same work however
    // many servers share it, unless coordinating them costs something.
    hq.db.reset_statements();
    let cpu_before = hq.cpu_seconds();
    start.wait();
    let t = Instant::now();
    let mut ops = 0;
    let mut extra = 0;
    for th in threads {
        let (o, passes) = th.join().expect("a device thread")?;
        ops += o;
        extra += passes - 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let spent = Spent {
        hq_cpu: hq.cpu_seconds() - cpu_before,
        db_executing: hq.db.statements().map(|s| s.server_seconds),
    };
    if extra > 0 {
        eprintln!("fleet: {extra} passes beyond each device's first (transient failures)");
    }
    let held = hq.store.stats()?;
    eprintln!(
        "fleet on {} with {servers} server(s): {secs:.2} s; HQ holds {} beneficiaries, {} cases",
        db.label(),
        held.beneficiaries,
        held.cases
    );
    drop(rt);
    Ok((secs, ops, spent))
}

/// What one fleet cost beside its wall time: the CPU the HQ servers used (all of them), and the
/// time PostgreSQL spent executing statements (`pg_stat_statements`; none on SQLite).
#[derive(Clone, Copy)]
struct Spent {
    hq_cpu: f64,
    db_executing: Option<f64>,
}

/// The fleet at one and two servers, `rounds` times each (alternating), the medians kept. On
/// PostgreSQL also two servers sharing one server's connections to the database (half the
/// pool each), as an operator sizes the pools of several servers to what the database can run:
/// on a small machine the figure follows the number of backends competing for its cores more
/// than the number of servers.
fn fleet(
    db: &BenchDb,
    templates: &[PathBuf],
    n: usize,
    rounds: usize,
    rows: &mut Vec<Row>,
) -> Result<()> {
    let pg = matches!(db, BenchDb::Postgres(_));
    let half = sila_hq::db::postgres::DEFAULT_POOL / 2;
    let mut setups: Vec<(usize, Option<u32>)> = vec![(1, None), (2, None)];
    if pg {
        setups.push((2, Some(half)));
    }
    // Each round runs every setup once, in the opposite order to the round before, so a load
    // that rises or falls over the run (two shared cores) favours none of them; the servers'
    // ratio is each round's own, the median of those kept.
    let mut times = vec![Vec::new(); setups.len()];
    let mut spent = vec![Vec::new(); setups.len()];
    let mut ops = 0;
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..setups.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for k in order {
            let (servers, pool) = setups[k];
            let (secs, o, cost) = fleet_once(db, templates, servers, pool)?;
            times[k].push(secs);
            spent[k].push(cost);
            ops = o;
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let medians: Vec<f64> = times.iter().cloned().map(median).collect();
    let paired = |k: usize| median(times[k].iter().zip(&times[0]).map(|(t, o)| t / o).collect());
    // The medians of what each setup spent: on two shared cores the wall time follows how many
    // processes compete for them; these say whether a second server adds work.
    let cost = |k: usize| {
        let cpu = median(spent[k].iter().map(|c| c.hq_cpu).collect());
        let db: Vec<f64> = spent[k].iter().filter_map(|c| c.db_executing).collect();
        if db.is_empty() {
            format!("HQ CPU {cpu:.1} s")
        } else {
            format!("HQ CPU {cpu:.1} s, database executing {:.1} s", median(db))
        }
    };
    let one = medians[0];
    let d = templates.len();
    let shown = |s: f64| format!("{s:.2} s, {:.0} ops/s", ops as f64 / s);
    let r1 = row(
        rows,
        &format!(
            "{d} devices push {n} intakes ({ops} ops) at once to 1 server: until all acknowledged (median of {rounds})"
        ),
        "PostgreSQL ≤ 2× SQLite",
    );
    r1.ratio_budget = Some(2.0);
    r1.set(db, cell(shown(one), one));
    let label = if pg { "PostgreSQL" } else { "SQLite" };
    r1.baseline = if r1.baseline.is_empty() {
        format!("{label}: {}", cost(0))
    } else {
        format!("{}; {label}: {}", r1.baseline, cost(0))
    };
    let two = medians[1];
    let r2 = row(
        rows,
        &format!(
            "the same to 2 servers on one database, half the devices each (median of {rounds})"
        ),
        "2 servers ≤ 1 server (PostgreSQL)",
    );
    r2.set(db, cell(shown(two), two));
    let r2b = format!(
        "2 servers / 1 server, the median of each round's own: {:.2} ({})",
        paired(1),
        cost(1)
    );
    if pg {
        r2.held = Some(paired(1) <= 1.0);
        r2.baseline = if r2.baseline.is_empty() {
            format!("PostgreSQL {r2b}")
        } else {
            format!("{}; PostgreSQL {r2b}", r2.baseline)
        };
        let shared = medians[2];
        let default = sila_hq::db::postgres::DEFAULT_POOL;
        let r3 = row(
            rows,
            &format!(
                "the same to 2 servers with one server's {default} database connections between them (SILA_HQ_DB_POOL={half} each; median of {rounds})"
            ),
            "2 servers ≤ 1 server (PostgreSQL)",
        );
        r3.set(db, cell(shown(shared), shared));
        r3.held = Some(paired(2) <= 1.0);
        r3.baseline = format!(
            "PostgreSQL 2 servers / 1 server, the median of each round's own: {:.2} ({})",
            paired(2),
            cost(2)
        );
    } else {
        r2.baseline = if r2.baseline.is_empty() {
            format!("SQLite {r2b}")
        } else {
            format!("SQLite {r2b}; {}", r2.baseline)
        };
    }
    Ok(())
}

/// The fleet's branch stores, each with its share of `n` intakes, made once for every engine.
fn fleet_templates(root: &Path, devices: usize, n: usize) -> Result<Vec<PathBuf>> {
    eprintln!("making {devices} branch stores with {n} intakes between them…");
    (0..devices)
        .map(|i| {
            let dir = root.join(format!("fleet{i}"));
            let share = n / devices + usize::from(i < n % devices);
            drop(branch_with_intakes(
                &dir,
                &format!("فرع {:02}", i + 1),
                share,
                100 + i as u64,
            )?);
            Ok(dir)
        })
        .collect()
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

async fn slow_link(db: &BenchDb, n: usize, rows: &mut Vec<Row>) -> Result<()> {
    let hq = Hq::start(db, 1, None).await?;
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
    let url = start_link(hq.addrs[0], link.clone()).await?;
    // Enrol over loopback (not part of the figure), then point the store at the slow link.
    enroll(&mut store, &hq, &hq.url()).await?;
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
    let r = row(
        rows,
        &format!(
            "{n} new cases (intakes) over emulated 2G (70 kbps, 1.5 s RTT, 2 % loss, handshake RTT), a cut every 20 s"
        ),
        "< 60 s, resumes after every cut",
    );
    r.held = Some(r.held.unwrap_or(true) && secs < 60.0);
    r.set(
        db,
        cell(
            format!(
                "{secs:.1} s ({cuts} cuts, {attempts} passes, {} connections, {:.1} KB up, {:.1} KB down)",
                link.connections.load(Ordering::Relaxed),
                link.up.load(Ordering::Relaxed) as f64 / 1024.0,
                link.down.load(Ordering::Relaxed) as f64 / 1024.0,
            ),
            secs,
        ),
    );
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
    let url = start_link(hq.addrs[0], link.clone()).await?;
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
    enroll(&mut store, hq, &hq.url()).await?;
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

async fn new_laptop(db: &BenchDb, n: usize, n_2g: usize, rows: &mut Vec<Row>) -> Result<()> {
    let hq = Hq::start(db, 1, None).await?;
    let _keep = branch_at_hq(&hq, "الأفلاج", n, 3).await?;
    eprintln!("first sync of a new laptop over loopback…");
    let (usable, whole, down, up, idle_bytes, idle_ms) =
        first_sync(&hq, "الأفلاج", counting_link()).await?;
    let r = row(
        rows,
        &format!(
            "first sync of a new laptop, branch of {n} people and their cases, loopback: desk usable (people and open cases in)"
        ),
        "< 120 s",
    );
    r.held = Some(r.held.unwrap_or(true) && usable < 120.0);
    r.set(
        db,
        cell(
            format!(
                "{usable:.1} s (whole branch in {whole:.1} s; {:.1} MB down, {:.1} KB up, {:.0} B per person down)",
                down as f64 / 1e6,
                up as f64 / 1024.0,
                down as f64 / n as f64
            ),
            usable,
        ),
    );
    let r = row(
        rows,
        &format!("idle sync of a laptop of a branch of {n} (nothing changed), loopback"),
        "< 2 KB",
    );
    r.held = Some(r.held.unwrap_or(true) && idle_bytes < 2048);
    r.set(
        db,
        cell(format!("{idle_bytes} B, {idle_ms:.1} ms"), idle_ms),
    );
    drop(hq);
    let hq = Hq::start(db, 1, None).await?;
    let _keep = branch_at_hq(&hq, "مروان", n_2g, 4).await?;
    eprintln!("first sync of a new laptop over 2G…");
    let (usable, whole, down, up, idle_bytes, idle_ms) =
        first_sync(&hq, "مروان", two_g_link()).await?;
    row(
        rows,
        &format!("first sync of a new laptop, branch of {n_2g}, emulated 2G (70 kbps, 1.5 s RTT, 2 % loss): desk usable"),
        "-",
    )
    .set(
        db,
        cell(
            format!(
                "{usable:.1} s (whole branch in {whole:.1} s; {:.1} KB down, {:.1} KB up; idle sync {idle_bytes} B in {idle_ms:.0} ms)",
                down as f64 / 1024.0,
                up as f64 / 1024.0
            ),
            usable,
        ),
    );
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

fn main() -> std::process::ExitCode {
    // Started again as HQ's server (see `serve`): exactly `sila-hq`'s command line.
    if std::env::var_os(AS_HQ).is_some() {
        return sila_hq::cli::main();
    }
    match bench() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sila-sync-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn bench() -> Result<()> {
    let n = arg("--cases", 10_000);
    let slow = arg("--slow-cases", 1_000);
    let branch = arg("--branch", 100_000);
    let branch_2g = arg("--branch-2g", 2_000);
    let devices = arg("--devices", 50);
    let rounds = arg("--rounds", 3).max(1);
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only = value("--only");
    let dbs = BenchDb::parse(value("--db").as_deref().unwrap_or("both"))
        .map_err(|e| anyhow::anyhow!(e))?;
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let rt = tokio::runtime::Runtime::new()?;
    let mut rows = Vec::new();
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let load_before = load();
    let templates = tempfile::tempdir()?;
    if runs("push") {
        eprintln!("making {n} intakes…");
        let template = templates.path().join("push");
        let store = branch_with_intakes(&template, "الأفلاج", n, 1)?;
        let ops = store.stats()?.pending_changes;
        let docs = tempfile::NamedTempFile::new()?;
        export_documents(&store, docs.path())?;
        drop(store);
        for db in &dbs {
            eprintln!("push on {}…", db.label());
            rt.block_on(loopback(db, &template, n, ops, &mut rows))?;
        }
        if let Some((secs, bytes, count)) = pouchdb(docs.path()) {
            let first = rows.len() - 4;
            rows[first].baseline = format!("PouchDB → pouchdb-server: {secs:.2} s");
            rows[first + 2].baseline =
                format!("PouchDB: {:.0} B per document", bytes as f64 / count as f64);
        }
    }
    if runs("fleet") {
        let made = fleet_templates(templates.path(), devices, n)?;
        for db in &dbs {
            eprintln!("fleet on {}…", db.label());
            fleet(db, &made, n, rounds, &mut rows)?;
        }
    }
    if runs("2g") {
        for db in &dbs {
            rt.block_on(slow_link(db, slow, &mut rows))?;
        }
    }
    if runs("laptop") {
        for db in &dbs {
            rt.block_on(new_laptop(db, branch, branch_2g, &mut rows))?;
        }
    }
    println!(
        "Load average (1, 5, 15 min) before: {load_before}; after: {}; {} cores",
        load(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| figure | SQLite | PostgreSQL | ratio (PostgreSQL / SQLite) | budget | within | baseline (same run) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let dash = || "—".to_owned();
    for r in rows {
        let ratio = r.ratio();
        let within = [r.held, r.ratio_budget.zip(ratio).map(|(b, x)| x <= b)]
            .into_iter()
            .flatten()
            .reduce(|a, b| a && b)
            .map_or("", |ok| if ok { "yes" } else { "NO" });
        println!(
            "| {} | {} | {} | {} | {} | {within} | {} |",
            r.figure,
            r.sqlite.map_or_else(dash, |c| c.shown),
            r.postgres.map_or_else(dash, |c| c.shown),
            ratio.map_or_else(dash, |x| format!("{x:.2}")),
            r.budget,
            r.baseline
        );
    }
    Ok(())
}
