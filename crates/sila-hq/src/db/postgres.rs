//! HQ on PostgreSQL: for a charity that outgrows one file and one process, or a body that hosts
//! HQ for several charities, with several `sila-hq serve` processes on one database.
//!
//! The driver is `tokio-postgres`, one current-thread runtime per pooled connection (`r2d2`):
//! HQ's rules are synchronous code over a storage trait and run on blocking threads
//! (`spawn_blocking`), and a call blocks on its connection's runtime only while it waits for an
//! answer. Statements whose answers nobody reads are sent without waiting ([`PgConn`]). Each
//! pooled connection keeps its prepared statements.
//!
//! Transactions run at READ COMMITTED. What SQLite gets from its single writer, PostgreSQL gets
//! from row locks taken in the same transaction: a push locks its device's row first (one push
//! per device at a time, on whichever server), a record read for change is locked until commit
//! ([`super::Dialect::for_update`]), and a branch's feed is numbered under its `branches` row, so
//! entries of one branch commit in the order of their numbers and a pull never passes one that
//! commits late. A transaction that loses a race (a deadlock, a row another server inserted
//! first) is run again from the start, a few times.
//!
//! Its schema is `migrations/hq-postgres/`, under the same rules as SQLite's: append-only, all
//! pending ones in one transaction (under an advisory lock, so two servers starting together do
//! not both apply them), and a database written by a newer `sila-hq` is refused.

use super::{Conn, Dialect, Engine, Mode, Row, TxFn, Val};
use crate::error::{HqError, Result, StorageError};
use bytes::BytesMut;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{NoTls, Statement};

/// A server's connections to the database unless `SILA_HQ_DB_POOL` says otherwise. Several
/// servers on one database share what it can run at once (about twice its cores, busy): size
/// each server's pool to its share.
pub const DEFAULT_POOL: u32 = 16;

pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../../migrations/hq-postgres/0001_init.sql"),
    ),
    (
        "0002_applied_ops_by_id",
        include_str!("../../../../migrations/hq-postgres/0002_applied_ops_by_id.sql"),
    ),
    (
        "0003_credential_use",
        include_str!("../../../../migrations/hq-postgres/0003_credential_use.sql"),
    ),
    (
        "0004_register",
        include_str!("../../../../migrations/hq-postgres/0004_register.sql"),
    ),
    (
        "0005_releases",
        include_str!("../../../../migrations/hq-postgres/0005_releases.sql"),
    ),
    (
        "0006_restore_resend",
        include_str!("../../../../migrations/hq-postgres/0006_restore_resend.sql"),
    ),
    (
        "0007_signin_limits",
        include_str!("../../../../migrations/hq-postgres/0007_signin_limits.sql"),
    ),
    (
        "0008_hq_edits",
        include_str!("../../../../migrations/hq-postgres/0008_hq_edits.sql"),
    ),
    (
        "0009_audit",
        include_str!("../../../../migrations/hq-postgres/0009_audit.sql"),
    ),
    (
        "0010_push_contention",
        include_str!("../../../../migrations/hq-postgres/0010_push_contention.sql"),
    ),
    (
        "0011_console_counts",
        include_str!("../../../../migrations/hq-postgres/0011_console_counts.sql"),
    ),
    (
        "0012_rebuild_derived",
        include_str!("../../../../migrations/hq-postgres/0012_rebuild_derived.sql"),
    ),
    (
        "0013_records_kind_gone",
        include_str!("../../../../migrations/hq-postgres/0013_records_kind_gone.sql"),
    ),
    (
        "0014_unread_indexes_gone",
        include_str!("../../../../migrations/hq-postgres/0014_unread_indexes_gone.sql"),
    ),
    (
        "0015_case_counts_in_one_trigger",
        include_str!("../../../../migrations/hq-postgres/0015_case_counts_in_one_trigger.sql"),
    ),
];

/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x5111_a000_0001;

/// Most statements, and most bytes of their parameters, sent and not yet answered on a
/// connection: what it holds in memory until a statement reads an answer.
const MAX_LATER: usize = 256;
const MAX_LATER_BYTES: usize = 32 << 20;

/// How many times a transaction that lost a race is run again.
const RETRIES: usize = 8;

impl From<tokio_postgres::Error> for HqError {
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let retry = e.code().is_some_and(|c| {
            *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::UNIQUE_VIOLATION
        });
        // The server's own message (no parameters are ever part of it).
        let message = match e.as_db_error() {
            Some(db) => format!("postgres {}: {}", db.code().code(), db.message()),
            None => format!("postgres: {e}"),
        };
        HqError::Storage(StorageError { message, retry })
    }
}

impl From<r2d2::Error> for HqError {
    fn from(e: r2d2::Error) -> Self {
        HqError::Storage(StorageError::new(format!("postgres pool: {e}")))
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_string().as_str().to_sql(&Type::TEXT, out),
            },
            Val::Real(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::FLOAT8 => v.to_sql(ty, out),
                _ => v.to_string().as_str().to_sql(&Type::TEXT, out),
            },
            Val::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => s.as_str().to_sql(&Type::TEXT, out),
            },
            Val::Blob(b) => b.as_slice().to_sql(&Type::BYTEA, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn row(r: &tokio_postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let v = match *c.type_() {
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)?
                .map_or(Val::Null, |b| Val::Int(i64::from(b))),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)?
                .map_or(Val::Null, |v| Val::Int(v.into())),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)?
                .map_or(Val::Null, |v| Val::Int(v.into())),
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Val::Null, Val::Int),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)?
                .map_or(Val::Null, |v| Val::Real(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map_or(Val::Null, Val::Real),
            Type::BYTEA => r
                .try_get::<_, Option<Vec<u8>>>(i)?
                .map_or(Val::Null, Val::Blob),
            _ => r
                .try_get::<_, Option<String>>(i)?
                .map_or(Val::Null, Val::Text),
        };
        out.push(v);
    }
    Ok(Row(out))
}

/// A statement sent and not yet answered (see [`Conn::execute_later`]).
type Later = Pin<Box<dyn Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>>;

/// A pooled connection: the driver's client, the runtime its connection runs on while a call
/// waits, the statements it has prepared, and the statements sent whose answers are still to
/// be read.
///
/// Why not the blocking `postgres` client: it waits for every statement's answer before it
/// sends the next, so a push paid a round trip per statement (13 per operation, 70 % of its
/// time on a quiet machine). Here a statement whose answer nobody reads is sent at once and
/// its answer read with the next statement that needs one: the server runs them in the order
/// they were sent, one round trip for all.
pub struct PgConn {
    runtime: tokio::runtime::Runtime,
    client: Arc<tokio_postgres::Client>,
    statements: HashMap<String, Statement>,
    later: Vec<Later>,
    /// The bytes of the parameters of `later`'s statements.
    later_bytes: usize,
    /// Calls that waited for an answer ([`Conn::round_trips`]).
    round_trips: u64,
}

impl PgConn {
    fn connect(config: &tokio_postgres::Config) -> std::result::Result<PgConn, ConnectError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ConnectError::Runtime)?;
        let (client, connection) = runtime.block_on(config.connect(NoTls))?;
        // Driven by this runtime whenever a call of this connection waits (`wait`), and only
        // then: nothing moves between calls, and nothing else shares the thread.
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection ended: {e}");
            }
        });
        Ok(PgConn {
            runtime,
            client: Arc::new(client),
            statements: HashMap::new(),
            later: Vec::new(),
            later_bytes: 0,
            round_trips: 0,
        })
    }

    /// Wait for `f`, reading the answers of every statement sent before it meanwhile. The first
    /// failure wins: a statement sent earlier that failed is the cause of what fails after it
    /// (PostgreSQL refuses everything in a transaction after an error).
    fn wait<T>(
        &mut self,
        f: impl Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<T> {
        let mut later = std::mem::take(&mut self.later);
        self.later_bytes = 0;
        let mut failed: Option<tokio_postgres::Error> = None;
        let mut out = None;
        let mut f = std::pin::pin!(f);
        // Nothing sent and nothing to read (no query at all) is no round trip; anything else
        // waits for the server at least once.
        let mut waited = false;
        self.runtime.block_on(std::future::poll_fn(|cx| {
            later.retain_mut(|l| match l.as_mut().poll(cx) {
                Poll::Ready(r) => {
                    if let Err(e) = r {
                        failed.get_or_insert(e);
                    }
                    false
                }
                Poll::Pending => true,
            });
            if out.is_none()
                && let Poll::Ready(v) = f.as_mut().poll(cx)
            {
                out = Some(v);
            }
            if later.is_empty() && out.is_some() {
                Poll::Ready(())
            } else {
                waited = true;
                Poll::Pending
            }
        }));
        self.round_trips += u64::from(waited);
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(out.expect("polled until ready")?)
    }

    /// Send `f`'s statement (`bytes` of parameters) now and read its answer with the next call
    /// that waits.
    fn send(&mut self, bytes: usize, mut f: Later) -> Result<()> {
        // What is sent waits in memory until a call waits: a long run of writes with no read
        // between (a store filled or copied row by row) is read out every so often.
        if self.later.len() >= MAX_LATER || self.later_bytes >= MAX_LATER_BYTES {
            self.wait(std::future::ready(Ok(())))?;
        }
        // The first poll puts the statement in the connection's queue, behind every statement
        // sent before it; nothing is read yet, so nothing needs waking.
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Err(e)) => Err(e.into()),
            Poll::Ready(Ok(())) => Ok(()),
            Poll::Pending => {
                self.later.push(f);
                self.later_bytes += bytes;
                Ok(())
            }
        }
    }

    /// Let the connection's task run without waiting for any answer: it writes what was sent
    /// to the socket, and reads what the socket holds (answers, or the server closing it).
    /// Twice, because a socket's news reaches the task only on the runtime's second turn.
    fn stir(&mut self) {
        self.runtime.block_on(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
    }

    /// Forget the statements sent and not answered (the transaction is being rolled back).
    fn drop_later(&mut self) {
        self.later.clear();
        self.later_bytes = 0;
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let client = self.client.clone();
        let text = super::dollar_placeholders(sql);
        let s = self.wait(async move { client.prepare(&text).await })?;
        // A statement built from user input would grow this without end; HQ's are constants
        // plus a few shapes of filter.
        if self.statements.len() > 2000 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn simple(&mut self, sql: &str) -> Result<()> {
        let client = self.client.clone();
        let sql = sql.to_owned();
        self.wait(async move { client.batch_execute(&sql).await })
    }
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[Val],
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()> {
        let stmt = self.statement(sql)?;
        let client = self.client.clone();
        // A failure of `each` stops the reading; it is kept here, as the driver's error type
        // cannot carry it.
        let mut refused: Option<HqError> = None;
        self.wait(async {
            let rows = client.query_raw(&stmt, params.iter()).await?;
            let mut rows = std::pin::pin!(rows);
            while let Some(r) = rows.next().await {
                if let Err(e) = row(&r?).and_then(&mut *each) {
                    refused = Some(e);
                    break;
                }
            }
            Ok::<(), tokio_postgres::Error>(())
        })?;
        match refused {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        let client = self.client.clone();
        self.wait(async move {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
            client.execute(&stmt, &refs).await
        })
    }

    fn execute_later(&mut self, sql: &str, params: &[Val]) -> Result<()> {
        let stmt = self.statement(sql)?;
        let client = self.client.clone();
        let bytes = params.iter().map(Val::bytes).sum();
        let params = params.to_vec();
        self.send(
            bytes,
            Box::pin(async move {
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
                client.execute(&stmt, &refs).await.map(drop)
            }),
        )
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.simple(sql)
    }

    fn query_together(&mut self, queries: &[(&str, &[Val])]) -> Result<Vec<Vec<Row>>> {
        let statements = queries
            .iter()
            .map(|(sql, _)| self.statement(sql))
            .collect::<Result<Vec<_>>>()?;
        let client = self.client.clone();
        let answers = self.wait(futures_util::future::try_join_all(
            statements.iter().zip(queries).map(|(stmt, (_, params))| {
                let client = &client;
                async move {
                    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as _).collect();
                    client.query(stmt, &refs).await
                }
            }),
        ))?;
        answers
            .iter()
            .map(|rows| rows.iter().map(row).collect())
            .collect()
    }

    fn round_trips(&self) -> u64 {
        self.round_trips
    }

    fn batch_later(&mut self, sql: &str) -> Result<()> {
        let client = self.client.clone();
        let sql = sql.to_owned();
        self.send(
            sql.len(),
            Box::pin(async move { client.batch_execute(&sql).await }),
        )
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("a runtime for the connection: {0}")]
    Runtime(std::io::Error),
    #[error("the server closed the connection")]
    Closed,
}

pub struct Manager {
    config: tokio_postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = ConnectError;

    fn connect(&self) -> std::result::Result<PgConn, ConnectError> {
        PgConn::connect(&self.config)
    }

    /// Checked at every checkout, so without a round trip (as deadpool's "fast" recycling): a
    /// connection the server closed while it was idle is known closed once its task has read
    /// the socket. One that breaks later fails its transaction like any lost connection, and
    /// the pool drops it ([`Self::has_broken`]).
    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), ConnectError> {
        conn.stir();
        if conn.client.is_closed() {
            return Err(ConnectError::Closed);
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

pub struct PgEngine {
    /// Always there; taken only when the engine is dropped (see its `Drop`).
    pool: Option<r2d2::Pool<Manager>>,
    describe: String,
}

impl Drop for PgEngine {
    fn drop(&mut self) {
        // Closing a connection blocks too: the last `Hq` may be dropped on a runtime's thread.
        if let Some(pool) = self.pool.take() {
            off_runtime(move || drop(pool));
        }
    }
}

impl PgEngine {
    /// Connect to `url` (`postgres://user:password@host:port/database`, or a unix socket as
    /// `postgres://user@%2Fpath%2Fto%2Fdir/database`) and bring its schema up to date. The pool
    /// holds up to `SILA_HQ_DB_POOL` connections ([`DEFAULT_POOL`]).
    pub fn open(url: &str) -> Result<PgEngine> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|_| HqError::BadRequest("the PostgreSQL URL cannot be read"))?;
        let size = std::env::var("SILA_HQ_DB_POOL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_POOL)
            .max(1);
        let describe = format!(
            "postgres:{}/{}",
            config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            config.get_dbname().unwrap_or("")
        );
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(30))
            .build(Manager { config })?;
        let engine = PgEngine {
            pool: Some(pool),
            describe,
        };
        off_runtime(|| engine.migrate())?;
        Ok(engine)
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.pool()?;
        let c: &mut dyn Conn = &mut *conn;
        c.batch("BEGIN")?;
        let done = (|| -> Result<()> {
            c.exec(
                "SELECT pg_advisory_xact_lock(?1)",
                &[Val::Int(MIGRATION_LOCK)],
            )?;
            c.batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )?;
            let found = c
                .one(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations",
                    &[],
                )?
                .i64(0)?;
            if found > MIGRATIONS.len() as i64 {
                return Err(HqError::BadRequest(
                    "the HQ store was written by a newer sila-hq",
                ));
            }
            for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
                c.batch(sql)?;
                c.exec(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                    crate::params![i as i64 + 1, *name, chrono::Utc::now()],
                )?;
            }
            c.batch("COMMIT")
        })();
        if done.is_err() {
            conn.drop_later();
            let _ = conn.simple("ROLLBACK");
        }
        done
    }
}

impl Engine for PgEngine {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn run(&self, mode: Mode, f: &mut TxFn<'_>) -> Result<()> {
        off_runtime(|| self.run_here(mode, f))
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// Run `f` where the blocking client may block: the calling thread, unless it is an async
/// runtime's (the client blocks on a runtime of its own, which tokio refuses inside another),
/// then a thread of its own while the caller waits. HQ's handlers call the store from
/// `spawn_blocking` and never pay for the thread; a caller on the runtime (a test, a tool) gets
/// what SQLite gives it, a call that blocks.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl PgEngine {
    fn pool(&self) -> Result<r2d2::PooledConnection<Manager>> {
        Ok(self
            .pool
            .as_ref()
            .expect("the pool lives as long as the engine")
            .get()?)
    }

    fn run_here(&self, mode: Mode, f: &mut TxFn<'_>) -> Result<()> {
        let begin = match mode {
            Mode::Read | Mode::Write => "BEGIN",
            Mode::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut conn = self.pool()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut committing = false;
            // BEGIN travels with the transaction's first statement.
            conn.batch_later(begin)?;
            let r = f(&mut *conn).and_then(|()| match mode {
                Mode::Write => {
                    committing = true;
                    conn.simple("COMMIT")
                }
                // A reading transaction's COMMIT only ends it (at READ COMMITTED or READ ONLY
                // nothing can fail there), so nobody waits for its answer: it is sent now (an
                // open transaction would hold back VACUUM) and read with the connection's next
                // statement. A page is then one round trip, not two.
                Mode::Read | Mode::Snapshot => {
                    conn.batch_later("COMMIT")?;
                    conn.stir();
                    Ok(())
                }
            });
            match r {
                Ok(()) => return Ok(()),
                Err(e) => {
                    conn.drop_later();
                    // The server closed the connection (a restart, a failover, a backend ended)
                    // before the checkout could see it, or during the transaction: the server
                    // rolled it back, so it runs again on another connection, unless its COMMIT
                    // was sent, when whether it committed is unknown and the error stands. The
                    // closed connection goes back to the pool, which drops it (`has_broken`).
                    if conn.client.is_closed() {
                        if !committing && attempt < RETRIES {
                            tracing::debug!(
                                attempt,
                                "connection closed by the server: running the transaction again"
                            );
                            drop(conn);
                            conn = self.pool()?;
                            continue;
                        }
                        return Err(e);
                    }
                    // After a failed COMMIT the transaction is gone already; ROLLBACK only warns.
                    let _ = conn.simple("ROLLBACK");
                    if e.retryable() && attempt < RETRIES {
                        tracing::debug!(attempt, "transaction lost a race: running it again");
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}
