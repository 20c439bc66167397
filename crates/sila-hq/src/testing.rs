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
/// `pg_stat_statements` is loaded when the server has it, so a benchmark can say where the time
/// went ([`FreshDb::statements`]).
fn bench_cluster() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let mut settings = vec!["shared_buffers=256MB"];
        // bin/ may be reached through links (/usr/local/bin → /usr/lib/postgresql/N/bin).
        let lib = std::fs::canonicalize(bin_dir().join("postgres"))
            .ok()
            .and_then(|p| Some(p.parent()?.with_file_name("lib")))
            .map(|l| l.join("pg_stat_statements.so"));
        if lib.is_some_and(|l| l.is_file()) {
            settings.extend([
                "shared_preload_libraries=pg_stat_statements",
                "pg_stat_statements.track=all",
            ]);
        }
        start_cluster(&settings)
    })
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
                let db = replace_db(&server, &name);
                crate::db::postgres::off_runtime(|| {
                    let mut client = postgres::Client::connect(&server, postgres::NoTls)
                        .unwrap_or_else(|e| panic!("PostgreSQL refused a connection: {e}"));
                    client
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .expect("create a database for the benchmark");
                    // Where the server has it loaded; elsewhere the counts are not given.
                    if let Ok(mut c) = postgres::Client::connect(&db, postgres::NoTls) {
                        let _ =
                            c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
                    }
                });
                FreshDb {
                    db,
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

/// What PostgreSQL ran for one database since [`FreshDb::reset_statements`]: statements sent
/// by clients (each a round trip), and the time the server spent executing them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Statements {
    pub calls: u64,
    pub server_seconds: f64,
}

impl FreshDb {
    /// A store a benchmark kept earlier (`--keep`), measured again as it is and left in place:
    /// an SQLite file's path or a PostgreSQL database's URL.
    pub fn existing(db: &str) -> FreshDb {
        FreshDb {
            db: db.to_owned(),
            drop: Dropped::Kept,
        }
    }

    /// Keep this database after the benchmark (for `EXPLAIN`, or to measure it again with
    /// [`FreshDb::existing`]): what `--db` takes to reach it.
    pub fn keep(mut self) -> String {
        if let Dropped::Folder { _dir } = std::mem::replace(&mut self.drop, Dropped::Kept) {
            let _ = _dir.keep();
        }
        std::mem::take(&mut self.db)
    }

    fn is_postgres(&self) -> bool {
        self.db.starts_with("postgres://") || self.db.starts_with("postgresql://")
    }

    fn pg_stat<T: Send>(
        &self,
        sql: &str,
        read: impl FnOnce(&postgres::Row) -> T + Send,
    ) -> Option<T> {
        if !self.is_postgres() {
            return None;
        }
        crate::db::postgres::off_runtime(|| {
            let mut c = postgres::Client::connect(&self.db, postgres::NoTls).ok()?;
            c.query_one(sql, &[]).ok().map(move |r| read(&r))
        })
    }

    /// Bring a freshly filled PostgreSQL database to where autovacuum would soon have it:
    /// `VACUUM ANALYZE`, for the statistics and for the visibility map, without which a count
    /// an index could answer alone visits every row's page. (SQLite needs only `ANALYZE`, which
    /// runs in a transaction like any statement.) Nothing on SQLite.
    pub fn settle(&self) {
        if self.is_postgres() {
            crate::db::postgres::off_runtime(|| {
                let mut c = postgres::Client::connect(&self.db, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("PostgreSQL refused a connection: {e}"));
                c.batch_execute("VACUUM ANALYZE").expect("VACUUM ANALYZE");
            });
        }
    }

    /// Forget what PostgreSQL counted for this database so far (nothing on SQLite).
    pub fn reset_statements(&self) {
        self.pg_stat(
            "SELECT 1 FROM (SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database
                                WHERE datname = current_database()), 0)) AS reset",
            |_| (),
        );
    }

    /// What PostgreSQL ran for this database since the last reset: `None` on SQLite, or where
    /// `pg_stat_statements` is not loaded.
    pub fn statements(&self) -> Option<Statements> {
        self.pg_stat(
            "SELECT coalesce(sum(calls), 0)::bigint, coalesce(sum(total_exec_time), 0)::float8
             FROM pg_stat_statements
             WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND query NOT LIKE '%pg_stat_statements%'",
            |r| Statements {
                calls: r.get::<_, i64>(0) as u64,
                server_seconds: r.get::<_, f64>(1) / 1000.0,
            },
        )
    }
}

/// Rows written many to a statement: how the benchmarks fill a store as pushes would have left
/// it, at a million rows, without a round trip per row.
pub struct Bulk(crate::sql::rows::Rows);

impl Bulk {
    /// Rows kept before they are sent.
    const ROWS: usize = 256;

    pub fn new(table: &str, columns: &[&str]) -> Bulk {
        Bulk(crate::sql::rows::Rows::new(table, columns))
    }

    /// Add a row (its values in the columns' order), sending the rows gathered once there are
    /// enough.
    pub fn row(
        &mut self,
        c: &mut dyn crate::db::Conn,
        values: impl IntoIterator<Item = crate::db::Val>,
    ) -> crate::Result<()> {
        self.0.push(values);
        if self.0.len() >= Self::ROWS {
            self.0.write(c)?;
        }
        Ok(())
    }

    /// Write the rows gathered (call once at the end).
    pub fn flush(&mut self, c: &mut dyn crate::db::Conn) -> crate::Result<()> {
        self.0.write(c)
    }
}

enum Dropped {
    Folder {
        _dir: tempfile::TempDir,
    },
    Database {
        server: String,
        name: String,
    },
    /// Left in place: kept for later, or kept by an earlier run.
    Kept,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_db_reads_every_form_of_db() {
        assert_eq!(
            BenchDb::parse("both").unwrap(),
            vec![BenchDb::Sqlite(None), BenchDb::Postgres(None)]
        );
        assert_eq!(
            BenchDb::parse("sqlite, postgres://u@h:5432/db").unwrap(),
            vec![
                BenchDb::Sqlite(None),
                BenchDb::Postgres(Some("postgres://u@h:5432/db".into()))
            ]
        );
        assert_eq!(
            BenchDb::parse("/work/bench-data").unwrap(),
            vec![BenchDb::Sqlite(Some("/work/bench-data".into()))]
        );
        assert!(BenchDb::parse(" , ").is_err());
    }

    #[test]
    fn bulk_writes_every_row_across_statements_on_the_runs_engine() {
        let dir = tempfile::tempdir().unwrap();
        let hq = crate::Hq::open(fresh_db(dir.path())).unwrap();
        let n = Bulk::ROWS * 2 + 7;
        crate::db::run(&**hq.engine(), crate::db::Mode::Write, |c| {
            let mut b = Bulk::new("meta", &["key", "value"]);
            for i in 0..n {
                b.row(c, [format!("bulk-{i:04}").into(), i.to_string().into()])?;
            }
            b.flush(c)
        })
        .unwrap();
        let rows = hq
            .query(
                "SELECT key, value FROM meta WHERE key LIKE 'bulk-%' ORDER BY key",
                &[],
            )
            .unwrap();
        assert_eq!(rows.len(), n);
        assert_eq!(rows[n - 1].text(0).unwrap(), format!("bulk-{:04}", n - 1));
        assert_eq!(rows[n - 1].text(1).unwrap(), (n - 1).to_string());
    }
}
