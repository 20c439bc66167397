//! Fresh HQ databases for tests and benchmarks, on either engine.
//!
//! `SILA_TEST_DB=postgres` puts every HQ the tests make on PostgreSQL instead of an SQLite file
//! (`bash .ci/test` runs the HQ suites once each way). PostgreSQL is a throw-away cluster: the
//! one `SILA_TEST_PG` names (a URL of a server the run started, `.ci/services.d/50-postgres.sh`),
//! or else one this process starts itself from Debian's `postgresql` binaries: `initdb` in a
//! temporary folder, run as an unprivileged user (`postgres` when the tests run as root),
//! listening only on a unix socket in that folder, and stopped and removed when the process
//! ends, however it ends (a watcher holds the other end of a pipe). Every call makes a new
//! database in it, so tests never see each other's rows.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The engine the tests run HQ on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEngine {
    Sqlite,
    Postgres,
}

impl TestEngine {
    /// `SILA_TEST_DB`: `postgres` or (by default) `sqlite`.
    pub fn from_env() -> TestEngine {
        match std::env::var("SILA_TEST_DB").as_deref() {
            Ok("postgres") | Ok("postgresql") => TestEngine::Postgres,
            Ok("sqlite") | Ok("") | Err(_) => TestEngine::Sqlite,
            Ok(other) => panic!("SILA_TEST_DB={other}: use sqlite or postgres"),
        }
    }
}

/// A fresh, empty HQ database for the engine of this run: an SQLite file in `dir`, or a new
/// PostgreSQL database. What `--db` takes.
pub fn fresh_db(dir: &Path) -> String {
    fresh_db_on(TestEngine::from_env(), dir)
}

pub fn fresh_db_on(engine: TestEngine, dir: &Path) -> String {
    match engine {
        TestEngine::Sqlite => dir.join("hq.db").to_string_lossy().into_owned(),
        TestEngine::Postgres => new_database(),
    }
}

/// A new database on the run's cluster.
pub fn new_database() -> String {
    let base = cluster();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    crate::db::postgres::off_runtime(|| {
        let mut client = postgres::Client::connect(&base, postgres::NoTls)
            .unwrap_or_else(|e| panic!("the test cluster refused a connection: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
    });
    replace_db(&base, &name)
}

fn replace_db(url: &str, name: &str) -> String {
    // The maintenance URL ends in its database's name.
    let (head, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{head}/{name}")
}

/// The URL of the maintenance database of the run's cluster, starting it on first use.
fn cluster() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("SILA_TEST_PG")
            && !url.is_empty()
        {
            return url;
        }
        start_cluster()
    })
    .clone()
}

/// Where Debian's PostgreSQL server programs are: on PATH, or the newest
/// /usr/lib/postgresql/N/bin.
fn bin_dir() -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("initdb").is_file() && d.join("postgres").is_file() {
                return d;
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!("PostgreSQL's server programs were not found: install Debian's postgresql (bash .ci/setup)")
    })
}

/// The user the cluster runs as: this process's own, or `postgres` (else `nobody`) when this
/// process is root, since PostgreSQL refuses to run as root.
fn run_as() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if me != 0 {
        return None;
    }
    for user in ["postgres", "nobody"] {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, user]).output().ok()?;
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        };
        if let (Some(u), Some(g)) = (id("-u"), id("-g")) {
            return Some((u, g));
        }
    }
    panic!("no unprivileged user to run the test cluster as (postgres, nobody)");
}

/// The pipe whose end stops the cluster: held for the life of the process.
static WATCHER: Mutex<Option<std::process::ChildStdin>> = Mutex::new(None);

fn start_cluster() -> String {
    let bin = bin_dir();
    let who = run_as();
    let dir = tempfile::Builder::new()
        .prefix("sila-pg-")
        .tempdir()
        .expect("a temporary folder")
        .keep();
    if let Some((u, g)) = who {
        std::os::unix::fs::chown(&dir, Some(u), Some(g)).expect("hand the folder to its user");
    }
    let data = dir.join("data");
    let as_user = |c: &mut Command| {
        if let Some((u, g)) = who {
            c.uid(u).gid(g);
        }
    };
    let mut init = Command::new(bin.join("initdb"));
    init.args(["-D", &data.to_string_lossy(), "-U", "sila", "--auth=trust"])
        .args(["-E", "UTF8", "--no-locale", "--no-sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .current_dir(&dir);
    as_user(&mut init);
    let out = init.output().expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The watcher starts the server, waits for this process's end of the pipe to close (when it
    // exits, however it exits), then stops the server and removes the folder.
    let script = r#"
        "$1/postgres" -D "$2/data" -k "$2" -c listen_addresses= -c port=5432 \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=300 -c shared_buffers=64MB >"$2/log" 2>&1 &
        pid=$!
        cat >/dev/null
        kill -INT "$pid"
        wait "$pid"
        rm -rf "$2"
    "#;
    let mut watcher = Command::new("sh");
    watcher
        .args(["-c", script, "sh"])
        .arg(&bin)
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir(&dir);
    as_user(&mut watcher);
    // Never waited for: the watcher outlives this process on purpose, to stop the cluster after
    // it ends.
    #[allow(clippy::zombie_processes)]
    let mut child = watcher.spawn().expect("start the test cluster");
    let stdin = child.stdin.take().expect("piped");
    *WATCHER.lock().unwrap_or_else(|e| e.into_inner()) = Some(stdin);
    let host: String = dir
        .to_string_lossy()
        .bytes()
        .map(|b| match b {
            b'/' => "%2F".to_owned(),
            b => (b as char).to_string(),
        })
        .collect();
    let url = format!("postgres://sila@{host}:5432/postgres");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // The client is dropped on that thread too: dropping a blocking client runs its own
        // runtime, which panics inside a test's.
        match crate::db::postgres::off_runtime(|| {
            postgres::Client::connect(&url, postgres::NoTls).map(drop)
        }) {
            Ok(_) => break,
            Err(e) => {
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                    panic!("the test cluster did not start: {e}\n{log}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let _ = std::io::stderr().flush();
    url
}
