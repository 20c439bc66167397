//! HQ's embedded default engine: one SQLite file (through the workspace's one rusqlite), WAL,
//! `synchronous=FULL` so an acknowledgement is only ever sent for a durable commit, its schema in
//! `migrations/hq/`.
//!
//! One connection behind a mutex: SQLite has one writer anyway, and serialising every
//! transaction makes each branch's feed numbering exact (an entry is never committed below a
//! cursor already handed out).
//!
//! The file is unencrypted by default: an HQ server runs unattended, so a key would have to sit
//! beside the file; full-disk encryption of the server is the control that fits. Setting
//! `SILA_HQ_DB_KEY` (64 hex digits) keys it with SQLCipher all the same.

use super::{Conn, Dialect, Engine, Mode, Row, TxFn, Val};
use crate::error::{HqError, Result, StorageError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../../migrations/hq/0001_init.sql"),
    ),
    (
        "0002_duplicates",
        include_str!("../../../../migrations/hq/0002_duplicates.sql"),
    ),
    (
        "0003_console",
        include_str!("../../../../migrations/hq/0003_console.sql"),
    ),
    (
        "0004_case_number",
        include_str!("../../../../migrations/hq/0004_case_number.sql"),
    ),
    (
        "0005_duplicate_inputs",
        include_str!("../../../../migrations/hq/0005_duplicate_inputs.sql"),
    ),
    (
        "0006_branch_sync",
        include_str!("../../../../migrations/hq/0006_branch_sync.sql"),
    ),
    (
        "0007_branch_merges",
        include_str!("../../../../migrations/hq/0007_branch_merges.sql"),
    ),
    (
        "0008_applied_ops_by_id",
        include_str!("../../../../migrations/hq/0008_applied_ops_by_id.sql"),
    ),
    (
        "0009_credential_use",
        include_str!("../../../../migrations/hq/0009_credential_use.sql"),
    ),
    (
        "0010_register",
        include_str!("../../../../migrations/hq/0010_register.sql"),
    ),
    (
        "0011_releases",
        include_str!("../../../../migrations/hq/0011_releases.sql"),
    ),
    (
        "0012_restore_resend",
        include_str!("../../../../migrations/hq/0012_restore_resend.sql"),
    ),
    (
        "0013_signin_limits",
        include_str!("../../../../migrations/hq/0013_signin_limits.sql"),
    ),
    (
        "0014_hq_edits",
        include_str!("../../../../migrations/hq/0014_hq_edits.sql"),
    ),
    (
        "0015_audit",
        include_str!("../../../../migrations/hq/0015_audit.sql"),
    ),
    (
        "0016_console_counts",
        include_str!("../../../../migrations/hq/0016_console_counts.sql"),
    ),
    (
        "0017_records_kind_gone",
        include_str!("../../../../migrations/hq/0017_records_kind_gone.sql"),
    ),
    (
        "0018_unread_indexes_gone",
        include_str!("../../../../migrations/hq/0018_unread_indexes_gone.sql"),
    ),
];

impl From<rusqlite::Error> for HqError {
    fn from(e: rusqlite::Error) -> Self {
        HqError::Storage(StorageError::new(format!("sqlite: {e}")))
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(v) => ValueRef::Integer(*v),
            Val::Real(v) => ValueRef::Real(*v),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn val(v: ValueRef<'_>) -> Val {
    match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Real(r) => Val::Real(r),
        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Val::Blob(b.to_vec()),
    }
}

pub struct SqliteEngine {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteEngine {
    /// Open (or create) the HQ file and bring its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteEngine> {
        let mut conn = Connection::open(path)?;
        if let Ok(key) = std::env::var("SILA_HQ_DB_KEY") {
            if key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(HqError::BadRequest("SILA_HQ_DB_KEY must be 64 hex digits"));
            }
            conn.execute_batch(&format!("PRAGMA key = \"x'{key}'\";"))?;
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 10000;",
        )?;
        migrate(&mut conn)?;
        Ok(SqliteEngine {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A consistent copy of the whole file, taken while the server runs (SQLite's online backup).
    pub fn backup_to(&self, to: &Path) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let sql = format!("VACUUM INTO '{}'", to.to_string_lossy().replace('\'', "''"));
        conn.execute_batch(&sql)?;
        Ok(())
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > MIGRATIONS.len() as i64 {
        return Err(HqError::BadRequest(
            "the HQ store was written by a newer sila-hq",
        ));
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![i as i64 + 1, name, chrono::Utc::now().to_rfc3339()],
        )?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))?;
    tx.commit()?;
    Ok(())
}

/// The connection inside a transaction `run` began (a plain `&mut Connection`, not rusqlite's
/// `Transaction`, which cannot be handed to another thread).
struct SqliteConn<'a> {
    tx: &'a mut Connection,
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[Val],
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(val(r.get_ref(i)?));
            }
            each(Row(row))?;
        }
        Ok(())
    }

    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        Ok(self
            .tx
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx.execute_batch(sql)?;
        Ok(())
    }
}

impl Engine for SqliteEngine {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn run(&self, mode: Mode, f: &mut TxFn<'_>) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        // A transaction left open by a panic in an earlier `f` is rolled back first.
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        conn.execute_batch(match mode {
            Mode::Read | Mode::Snapshot => "BEGIN DEFERRED",
            Mode::Write => "BEGIN IMMEDIATE",
        })?;
        match f(&mut SqliteConn { tx: &mut conn }) {
            Ok(()) => {
                if let Err(e) = conn.execute_batch("COMMIT") {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
                Ok(())
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK")?;
                Err(e)
            }
        }
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}
