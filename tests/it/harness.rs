//! What every end-to-end test needs: an HQ server on port 0 (in-process, or as a process that can
//! be killed), branch stores, sync options for tests, and the check that HQ holds exactly what a
//! branch holds.

use chrono::Utc;
use rusqlite::Connection;
use serde_json::Value;
use sila_hq::store::HqStore;
use sila_store::{InitOptions, KdfParams, Store};
use sila_sync::{SyncError, SyncOptions, SyncReport};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "password-123";

pub fn fast_kdf() -> KdfParams {
    KdfParams {
        m_cost_kib: 1024,
        t_cost: 1,
        p_cost: 1,
    }
}

/// An HQ server running inside the test process on 127.0.0.1:0.
pub struct Hq {
    pub store: Arc<sila_hq::Hq>,
    pub addr: SocketAddr,
    pub url: String,
    /// What `--db` takes: an SQLite file, or a PostgreSQL URL (`SILA_TEST_DB=postgres`).
    pub db: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Hq {
    pub async fn start() -> Hq {
        let dir = tempfile::tempdir().unwrap();
        let db = sila_hq::testing::fresh_db(dir.path());
        Hq::serve(db, dir).await
    }

    /// Another server on the same database as one already started.
    pub async fn start_on(db: String) -> Hq {
        Hq::serve(db, tempfile::tempdir().unwrap()).await
    }

    /// A fresh HQ keeping attachments' bytes in the folder `files` (`sila-hq --files`).
    pub async fn start_with_files(files: &Path) -> Hq {
        let files = sila_hq::files::Files::folder(files).unwrap();
        Hq::start_with(|hq| hq.with_files(files)).await
    }

    /// A fresh HQ set up by `f` (as `sila-hq`'s options set it up).
    pub async fn start_with(f: impl FnOnce(sila_hq::Hq) -> sila_hq::Hq) -> Hq {
        let dir = tempfile::tempdir().unwrap();
        let db = sila_hq::testing::fresh_db(dir.path());
        Hq::serve_store(f(sila_hq::Hq::open(&db).unwrap()), db, dir).await
    }

    async fn serve(db: String, dir: tempfile::TempDir) -> Hq {
        Hq::serve_store(sila_hq::Hq::open(&db).unwrap(), db, dir).await
    }

    async fn serve_store(store: sila_hq::Hq, db: String, dir: tempfile::TempDir) -> Hq {
        let store = Arc::new(store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let dyn_store: Arc<dyn HqStore> = store.clone();
        let task = tokio::spawn(sila_hq::serve(listener, dyn_store, None, async move {
            let _ = rx.await;
        }));
        Hq {
            store,
            addr,
            url: format!("http://{addr}"),
            db,
            stop: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn code(&self, branch: &str) -> String {
        self.store
            .create_enrol_code(
                branch,
                chrono::Duration::hours(1),
                &sila_hq::HqActor::command_line(),
                Utc::now(),
            )
            .unwrap()
    }

    /// Stop gracefully and wait until the server has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    /// A connection to read HQ's rows with plain SQL (see [`read_db`]).
    pub fn read(&self) -> Connection {
        read_db(&self.db, self._dir.path())
    }
}

/// A connection to read an HQ store's rows with plain SQL: the SQLite file itself, or, for a
/// PostgreSQL store, a copy of one moment of it in an SQLite file in `dir` (`sila_hq::db::copy`,
/// the code of `sila-hq migrate-store`), so the tests' SQL reads either engine.
pub fn read_db(db: &str, dir: &Path) -> Connection {
    if !db.starts_with("postgres") {
        return Connection::open(db).unwrap();
    }
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = dir.join(format!("pg-copy-{n}.db"));
    {
        let from = sila_hq::db::open(db).unwrap();
        let to = sila_hq::db::sqlite::SqliteEngine::open(&path).unwrap();
        sila_hq::db::copy::copy(&*from, &to).unwrap();
    }
    Connection::open(&path).unwrap()
}

impl Drop for Hq {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub struct Branch {
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub name: String,
}

impl Branch {
    pub fn new(name: &str) -> Branch {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(
            dir.path(),
            name,
            USER,
            "مدير الفرع",
            PASSWORD,
            InitOptions {
                kdf: fast_kdf(),
                ..Default::default()
            },
        )
        .unwrap();
        Branch {
            store,
            dir,
            name: name.to_owned(),
        }
    }

    /// A new branch store enrolled with `hq` through `url` (HQ's own or a proxy's).
    pub async fn enrolled(hq: &Hq, name: &str, url: &str) -> Branch {
        let mut b = Branch::new(name);
        let code = hq.code(name);
        sila_sync::enroll(&mut b.store, url, &code, &opts())
            .await
            .unwrap();
        b
    }

    /// Another laptop of an existing branch: its own store (its own first account, `user`),
    /// enrolled with a code for the branch.
    pub async fn laptop(hq: &Hq, name: &str, user: &str) -> Branch {
        Branch::laptop_via(hq, name, user, &hq.url).await
    }

    /// A laptop of a branch that reaches HQ through `url` (HQ's own or a proxy's).
    pub async fn laptop_via(hq: &Hq, name: &str, user: &str, url: &str) -> Branch {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::init(
            dir.path(),
            name,
            user,
            "موظف الفرع",
            PASSWORD,
            InitOptions {
                kdf: fast_kdf(),
                ..Default::default()
            },
        )
        .unwrap();
        let code = hq.code(name);
        sila_sync::enroll(&mut store, url, &code, &opts())
            .await
            .unwrap();
        Branch {
            store,
            dir,
            name: name.to_owned(),
        }
    }

    pub fn device(&self) -> String {
        self.store.session().device.to_string()
    }

    pub fn demo(&mut self, n: usize, seed: u64) {
        self.store.generate_demo(n, seed, &mut |_, _| {}).unwrap();
    }

    pub fn pending(&self) -> i64 {
        sila_store::outbox::pending_count(self.store.conn()).unwrap()
    }

    pub async fn sync(&mut self) -> Result<SyncReport, SyncError> {
        sila_sync::sync_once(&mut self.store, &opts()).await
    }

    pub async fn sync_with(&mut self, o: &SyncOptions) -> Result<SyncReport, SyncError> {
        sila_sync::sync_once(&mut self.store, o).await
    }

    /// Sync until a pass moves nothing and nothing is pending, tolerating transient failures,
    /// within a deadline.
    pub async fn sync_until_quiet(&mut self, o: &SyncOptions) -> SyncReport {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut total = SyncReport::default();
        loop {
            assert!(Instant::now() < deadline, "sync did not settle in time");
            match sila_sync::sync_once(&mut self.store, o).await {
                Ok(r) => {
                    let quiet = r.pushed == 0 && r.pulled == 0 && r.pending == 0;
                    total.pushed += r.pushed;
                    total.pulled += r.pulled;
                    total.rejected += r.rejected;
                    total.conflicts += r.conflicts;
                    total.files_sent += r.files_sent;
                    total.carried_over += r.carried_over;
                    total.sent_again += r.sent_again;
                    total.lost += r.lost;
                    total.redownloaded |= r.redownloaded;
                    total.pending = r.pending;
                    if quiet {
                        return total;
                    }
                }
                Err(e) if e.is_transient() => {}
                Err(e) => panic!("sync failed for good: {} ({e})", e.code()),
            }
        }
    }
}

/// Options for tests: short timeouts, no failpoint from the environment.
pub fn opts() -> SyncOptions {
    SyncOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
        failpoint: None,
        ..Default::default()
    }
}

fn rows<T: Ord>(
    conn: &Connection,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
    f: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> BTreeSet<T> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map(p, f)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn json_map(
    conn: &Connection,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
) -> BTreeMap<String, (Value, Option<String>)> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map(p, |r| {
        let data: String = r.get(1)?;
        Ok((
            r.get::<_, String>(0)?,
            (serde_json::from_str(&data).unwrap(), r.get(2)?),
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The device holds exactly what HQ holds of the device's branch (every device of a branch holds
/// the whole branch), and HQ applied each of the device's operations exactly once.
pub fn assert_hq_holds(hq: &Hq, b: &Branch) {
    let h = hq.read();
    let l = b.store.conn();
    let dev = b.device();
    let d: &dyn rusqlite::ToSql = &dev;
    let branch: &dyn rusqlite::ToSql = &b.name;
    assert_eq!(b.pending(), 0, "{}: operations still pending", b.name);

    let local = json_map(
        l,
        "SELECT id, data, merged_into FROM beneficiaries
         WHERE id NOT IN (SELECT id FROM foreign_records WHERE entity = 'beneficiary')",
        &[],
    );
    let remote = json_map(
        &h,
        "SELECT id, data, merged_into FROM beneficiaries WHERE branch = ?1",
        &[branch],
    );
    assert_eq!(local.len(), remote.len(), "{}: beneficiary count", b.name);
    for (id, v) in &local {
        assert_eq!(
            Some(v),
            remote.get(id),
            "{}: beneficiary {id} differs",
            b.name
        );
    }

    let local = json_map(l, "SELECT id, data, state FROM cases", &[]);
    let remote = json_map(
        &h,
        "SELECT id, data, state FROM cases WHERE branch = ?1",
        &[branch],
    );
    assert_eq!(local.len(), remote.len(), "{}: case count", b.name);
    for (id, v) in &local {
        assert_eq!(Some(v), remote.get(id), "{}: case {id} differs", b.name);
    }
    // Every case's history, in the same order, at both ends (refused entries aside).
    let history = |conn: &Connection, sql: &str, p: &[&dyn rusqlite::ToSql]| {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map(p, |r| {
            let data: String = r.get(1)?;
            let v: Value = serde_json::from_str(&data).unwrap();
            Ok((
                r.get::<_, String>(0)?,
                v["transition"].clone(),
                v["at"].clone(),
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap()
    };
    let local = history(
        l,
        "SELECT case_id, data FROM case_events WHERE seq NOT IN (SELECT event_seq FROM case_event_refusals)
         ORDER BY case_id, seq",
        &[],
    );
    let remote = history(
        &h,
        "SELECT case_id, data FROM case_events WHERE case_id IN (SELECT id FROM cases WHERE branch = ?1)
         ORDER BY case_id, seq",
        &[branch],
    );
    assert_eq!(local, remote, "{}: case histories differ", b.name);

    for (table, entity) in [
        ("interactions", "interaction"),
        ("deliveries", "delivery"),
        ("surveys", "survey"),
        ("tasks", "task"),
    ] {
        let local = json_map(l, &format!("SELECT id, data, NULL FROM {table}"), &[]);
        let e: &dyn rusqlite::ToSql = &entity;
        let remote = json_map(
            &h,
            "SELECT id, data, NULL FROM records WHERE entity = ?1 AND branch = ?2",
            &[e, branch],
        );
        assert_eq!(
            local.keys().collect::<Vec<_>>(),
            remote.keys().collect::<Vec<_>>(),
            "{}: {table} differ",
            b.name
        );
        assert!(local == remote, "{}: {table} data differ", b.name);
    }

    // Exactly once: every outbox operation of the device is at HQ, once, under its own number.
    let local = rows(l, "SELECT seq, op_id FROM outbox", &[], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    });
    let remote = rows(
        &h,
        "SELECT seq, op_id FROM applied_ops WHERE device_id = ?1",
        &[d],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
    );
    assert_eq!(
        local, remote,
        "{}: operations at HQ differ from the outbox",
        b.name
    );
}

/// A device enrolled by hand, speaking the protocol over raw HTTP: tests play a hostile or buggy
/// device holding a real credential with it.
pub struct RawDevice {
    pub device: String,
    pub token: String,
    pub url: String,
}

/// An HTTP client that speaks this build's protocol version.
pub fn http() -> reqwest::Client {
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(
        sila_sync::proto::PROTOCOL_HEADER,
        reqwest::header::HeaderValue::from(sila_sync::proto::PROTOCOL),
    );
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

impl RawDevice {
    pub async fn enroll(hq: &Hq, branch: &str) -> RawDevice {
        let device = sila_domain::ids::DeviceId::new_v7().to_string();
        let r: sila_sync::proto::EnrollResponse = http()
            .post(format!("{}/v1/enroll", hq.url))
            .json(&sila_sync::proto::EnrollRequest {
                code: hq.code(branch),
                device_id: device.clone(),
                branch: branch.into(),
            })
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        RawDevice {
            device,
            token: r.token,
            url: hq.url.clone(),
        }
    }

    /// A push stream of one batch of these operations.
    pub async fn push(&self, ops: Vec<sila_sync::proto::WireOp>) -> reqwest::Response {
        let req = sila_sync::proto::PushRequest {
            protocol: sila_sync::proto::PROTOCOL,
            device_id: self.device.clone(),
            ops,
        };
        let body = sila_sync::proto::PushEncoder::new(sila_sync::proto::PUSH_LEVEL)
            .unwrap()
            .frame(&req)
            .unwrap();
        self.push_body(body).await
    }

    pub async fn push_body(&self, body: Vec<u8>) -> reqwest::Response {
        http()
            .post(format!("{}/v1/push", self.url))
            .bearer_auth(&self.token)
            .header("content-type", sila_sync::proto::PUSH_STREAM)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        http()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }
}

/// An operation as a device sends it.
pub fn op(
    seq: i64,
    name: &str,
    entity: &str,
    id: &str,
    payload: Value,
) -> sila_sync::proto::WireOp {
    sila_sync::proto::WireOp {
        seq,
        op_id: uuid::Uuid::now_v7().to_string(),
        op: name.into(),
        entity: entity.into(),
        entity_id: id.into(),
        base_version: Some(1),
        payload: sila_sync::proto::raw(payload.to_string()),
        created_at: Utc::now(),
    }
}

/// Case states HQ holds for a branch, as a map.
pub fn hq_case_states(hq: &Hq, branch: &str) -> BTreeMap<String, String> {
    hq.store.case_states(branch).unwrap().into_iter().collect()
}

/// Wait for a condition with a deadline (never a bare sleep).
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Point a branch device at another server (what an administrator's load balancer does, or a
/// move of HQ to another machine).
pub fn point_at(b: &Branch, url: &str) {
    b.store
        .conn()
        .execute("UPDATE meta SET value = ?1 WHERE key = 'hq_url'", [url])
        .unwrap();
}

/// Path of a binary of this test package.
pub fn bin(name: &str) -> PathBuf {
    match name {
        "hq" => PathBuf::from(env!("CARGO_BIN_EXE_e2e-sila-hq")),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_e2e-sila-sync")),
    }
}

/// `sila-hq serve` as a child process on port 0; returns it and its address.
pub async fn spawn_hq_process(
    db: &str,
    failpoint: Option<&str>,
) -> (tokio::process::Child, SocketAddr) {
    spawn_hq_serving(db, failpoint, &[]).await
}

/// `sila-hq serve` with more of serve's options.
pub async fn spawn_hq_serving(
    db: &str,
    failpoint: Option<&str>,
    options: &[&std::ffi::OsStr],
) -> (tokio::process::Child, SocketAddr) {
    use tokio::io::AsyncBufReadExt;
    let mut cmd = tokio::process::Command::new(bin("hq"));
    cmd.arg("--db")
        .arg(db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(options)
        .env("SILA_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    match failpoint {
        Some(f) => cmd.env("SILA_HQ_FAILPOINT", f),
        None => cmd.env_remove("SILA_HQ_FAILPOINT"),
    };
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(out).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("server start")
        .unwrap()
        .expect("address line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .expect("address")
        .parse()
        .unwrap();
    (child, addr)
}

/// Ask a child process to stop, as a service manager does.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}
