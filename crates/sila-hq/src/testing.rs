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
//!
//! The benchmarks take their databases from here too ([`BenchDb`], their `--db`), on a cluster
//! of their own that keeps PostgreSQL's durability on, as SQLite's `synchronous=FULL` does, so
//! the two engines are compared committing alike.

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
        // A test cluster is thrown away: durability off.
        start_cluster(&[
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "shared_buffers=64MB",
        ])
    })
    .clone()
}

/// The benchmarks' cluster: durable (fsync and synchronous commit on, PostgreSQL's defaults),
/// since SQLite is measured with `synchronous=FULL`, and with the shared buffers of a small
/// server rather than of a test.
fn bench_cluster() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start_cluster(&["shared_buffers=256MB"]))
        .clone()
}

/// Where a benchmark measures HQ: one engine of its `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BenchDb {
    /// SQLite files, each in a folder of its own inside a temporary folder, or inside the folder
    /// named.
    Sqlite(Option<PathBuf>),
    /// PostgreSQL: a throw-away cluster this process starts (as the tests start theirs, but
    /// durable), or the server a `postgres://` URL names, on which each measurement creates a
    /// database of its own and drops it afterwards (the URL's database is only connected to).
    Postgres(Option<String>),
}

impl BenchDb {
    /// Read `--db`: `sqlite`, `postgres`, `both` (the two), a `postgres://` URL, or the path of
    /// a folder for SQLite files; several separated by commas (`sqlite,postgres://…`).
    pub fn parse(arg: &str) -> Result<Vec<BenchDb>, String> {
        let mut out = Vec::new();
        for part in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "both" => {
                    out.push(BenchDb::Sqlite(None));
                    out.push(BenchDb::Postgres(None));
                }
                "sqlite" => out.push(BenchDb::Sqlite(None)),
                "postgres" | "postgresql" => out.push(BenchDb::Postgres(None)),
                url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                    out.push(BenchDb::Postgres(Some(url.to_owned())))
                }
                path => out.push(BenchDb::Sqlite(Some(PathBuf::from(path)))),
            }
        }
        if out.is_empty() {
            return Err("--db takes sqlite, postgres, both, a postgres:// URL or a folder".into());
        }
        Ok(out)
    }

    pub fn engine(&self) -> TestEngine {
        match self {
            BenchDb::Sqlite(_) => TestEngine::Sqlite,
            BenchDb::Postgres(_) => TestEngine::Postgres,
        }
    }

    /// The engine's name, for a table's column.
    pub fn label(&self) -> &'static str {
        match self {
            BenchDb::Sqlite(_) => "SQLite",
            BenchDb::Postgres(_) => "PostgreSQL",
        }
    }

    /// A new, empty database for one measurement (not yet migrated: `Hq::open` does that).
    pub fn fresh(&self) -> FreshDb {
        match self {
            BenchDb::Sqlite(folder) => {
                let dir = match folder {
                    Some(f) => {
                        std::fs::create_dir_all(f).expect("the folder for SQLite files");
                        tempfile::tempdir_in(f)
                    }
                    None => tempfile::tempdir(),
                }
                .expect("a folder for an SQLite file");
                FreshDb {
                    db: dir.path().join("hq.db").to_string_lossy().into_owned(),
                    drop: Dropped::Folder { _dir: dir },
                }
            }
            BenchDb::Postgres(server) => {
                let server = server.clone().unwrap_or_else(bench_cluster);
                let name = format!("b_{}", uuid::Uuid::now_v7().simple());
                crate::db::postgres::off_runtime(|| {
                    let mut client = postgres::Client::connect(&server, postgres::NoTls)
                        .unwrap_or_else(|e| panic!("PostgreSQL refused a connection: {e}"));
                    client
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .expect("create a database for the benchmark");
                });
                FreshDb {
                    db: replace_db(&server, &name),
                    drop: Dropped::Database { server, name },
                }
            }
        }
    }
}

/// A database made for one measurement, removed when this is dropped (drop every `Hq` and
/// server on it first; a PostgreSQL database is dropped even with connections left).
pub struct FreshDb {
    /// What `--db` (and `Hq::open`) takes.
    pub db: String,
    drop: Dropped,
}

enum Dropped {
    Folder { _dir: tempfile::TempDir },
    Database { server: String, name: String },
}

impl Drop for FreshDb {
    fn drop(&mut self) {
        if let Dropped::Database { server, name } = &self.drop {
            crate::db::postgres::off_runtime(|| {
                if let Ok(mut client) = postgres::Client::connect(server, postgres::NoTls) {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            });
        }
    }
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

/// The pipes whose ends stop the clusters: held for the life of the process.
static WATCHERS: Mutex<Vec<std::process::ChildStdin>> = Mutex::new(Vec::new());

/// Start a cluster with these server settings (`name=value`), stopped when this process ends.
fn start_cluster(settings: &[&str]) -> String {
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
        bin="$1" dir="$2"
        shift 2
        "$bin/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= -c port=5432 \
            -c max_connections=300 "$@" >"$dir/log" 2>&1 &
        pid=$!
        cat >/dev/null
        kill -INT "$pid"
        wait "$pid"
        rm -rf "$dir"
    "#;
    let mut watcher = Command::new("sh");
    watcher
        .args(["-c", script, "sh"])
        .arg(&bin)
        .arg(&dir)
        .args(settings.iter().flat_map(|s| ["-c", s]))
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
    WATCHERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(stdin);
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
