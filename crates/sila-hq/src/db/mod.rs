//! The engine boundary: what an SQL engine (SQLite, PostgreSQL) offers HQ's storage. An engine
//! opens connections, runs transactions, applies its own migrations and converts between its
//! types and [`Val`]; it holds no query of HQ's. HQ's storage operations are written once, in the
//! SQL both engines share, in [`crate::sql`]; where the two dialects differ, [`Dialect`] says
//! which text to send.
//!
//! Placeholders are written `?1`, `?2` …; an engine that numbers them otherwise (PostgreSQL's
//! `$1`) rewrites them. Timestamps are RFC 3339 text in UTC, JSON is text, flags are integers
//! 0/1: the same values on both engines, so a store moves between them row for row.

pub mod copy;
pub mod postgres;
pub mod sqlite;

use crate::error::{HqError, Result};
use std::sync::Arc;

/// One value in or out of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Val {
    /// About what the value weighs in memory and on the wire.
    pub fn bytes(&self) -> usize {
        match self {
            Val::Text(s) => s.len(),
            Val::Blob(b) => b.len(),
            Val::Null | Val::Int(_) | Val::Real(_) => 8,
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<usize> for Val {
    fn from(v: usize) -> Self {
        Val::Int(v as i64)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(i64::from(v))
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Real(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::Text(v.clone())
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Val::Blob(v.to_vec())
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Blob(v)
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}
impl From<chrono::DateTime<chrono::Utc>> for Val {
    fn from(v: chrono::DateTime<chrono::Utc>) -> Self {
        Val::Text(v.to_rfc3339())
    }
}

/// Parameters of a query: `params![a, b]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::db::Val] };
    ($($v:expr),+ $(,)?) => { &[$($crate::db::Val::from($v)),+] as &[$crate::db::Val] };
}

fn column(what: &'static str) -> HqError {
    HqError::Storage(crate::error::StorageError::new(format!(
        "unexpected column type, wanted {what}"
    )))
}

/// Statements to run, each with its parameters.
pub type Statements = Vec<(String, Vec<Val>)>;

/// One row of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Val>);

impl Row {
    fn at(&self, i: usize) -> &Val {
        self.0.get(i).unwrap_or(&Val::Null)
    }
    pub fn i64(&self, i: usize) -> Result<i64> {
        self.opt_i64(i)?.ok_or_else(|| column("integer"))
    }
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i) {
            Val::Null => Ok(None),
            Val::Int(v) => Ok(Some(*v)),
            Val::Real(v) => Ok(Some(*v as i64)),
            Val::Text(s) => s.parse().map(Some).map_err(|_| column("integer")),
            Val::Blob(_) => Err(column("integer")),
        }
    }
    pub fn bool(&self, i: usize) -> Result<bool> {
        Ok(self.i64(i)? != 0)
    }
    pub fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| column("text"))
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.at(i) {
            Val::Null => Ok(None),
            Val::Text(s) => Ok(Some(s.clone())),
            Val::Int(v) => Ok(Some(v.to_string())),
            Val::Real(v) => Ok(Some(v.to_string())),
            Val::Blob(b) => String::from_utf8(b.clone())
                .map(Some)
                .map_err(|_| column("text")),
        }
    }
    pub fn take_text(&mut self, i: usize) -> Result<String> {
        match self.0.get_mut(i) {
            Some(Val::Text(s)) => Ok(std::mem::take(s)),
            _ => self.text(i),
        }
    }
    pub fn blob(&self, i: usize) -> Result<Vec<u8>> {
        match self.at(i) {
            Val::Blob(b) => Ok(b.clone()),
            Val::Text(s) => Ok(s.as_bytes().to_vec()),
            Val::Null => Ok(Vec::new()),
            _ => Err(column("bytes")),
        }
    }
    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.at(i) {
            Val::Null => Ok(None),
            _ => self.blob(i).map(Some),
        }
    }
    pub fn f64(&self, i: usize) -> Result<f64> {
        match self.at(i) {
            Val::Real(v) => Ok(*v),
            Val::Int(v) => Ok(*v as f64),
            _ => Err(column("number")),
        }
    }
    /// A JSON text column, parsed.
    pub fn json(&self, i: usize) -> Result<serde_json::Value> {
        Ok(serde_json::from_str(&self.text(i)?)?)
    }
}

/// Which SQL an engine speaks, where the two differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The column that numbers `records` rows in the order they were written.
    pub fn records_rid(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "rid",
        }
    }
    /// The statements that run `lookup` once for each of `keys`: `lookup` reads rows by one
    /// key, written `{key}`, after the parameters `fixed` (`?1`, `?2`…). SQLite runs one
    /// statement per key (the same text, prepared once; each an index search). PostgreSQL runs
    /// one for all of them: the keys one JSON parameter, the lookup a LATERAL subquery that
    /// `OFFSET 0` keeps from being folded into a join. A join (like an IN list) is planned from
    /// the table's statistics, and with statistics from when the table was small (a new HQ, a
    /// bulk load not yet analysed) reads the whole table; a lookup by `{key}` alone is an index
    /// search whatever they say, as a statement per key was. A push's batch of 500 operations
    /// reads its records and the operations it may repeat in two statements, not in 1,000.
    pub fn each_key(self, lookup: &str, fixed: &[Val], keys: &[&str]) -> Statements {
        let at = fixed.len() + 1;
        match self {
            Dialect::Sqlite => {
                let sql = lookup.replace("{key}", &format!("?{at}"));
                keys.iter()
                    .map(|k| {
                        let mut p = fixed.to_vec();
                        p.push((*k).into());
                        (sql.clone(), p)
                    })
                    .collect()
            }
            Dialect::Postgres if keys.is_empty() => Vec::new(),
            Dialect::Postgres => {
                let sql = format!(
                    "SELECT l.* FROM jsonb_array_elements_text(CAST(CAST(?{at} AS text) AS jsonb)) AS k(key),
                     LATERAL ({} OFFSET 0) l",
                    lookup.replace("{key}", "k.key")
                );
                let mut p = fixed.to_vec();
                p.push(Val::Text(
                    serde_json::to_string(keys).expect("a list of texts is JSON"),
                ));
                vec![(sql, p)]
            }
        }
    }
    /// Appended to a read inside a write transaction that may update the row: PostgreSQL locks
    /// it until the transaction ends, so two servers never both change one record from the same
    /// copy. SQLite has one writer at a time already.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
    /// Sent before a page's statements, inside its reading transaction, so that PostgreSQL runs
    /// them on the plan it keeps for each prepared statement. Left to choose, it plans a keyset
    /// page again at every execution (a custom plan: 0.15–0.2 ms of a 0.5 ms page at 1M cases),
    /// because for a range it cannot see (`c_promised < $2`, a cursor) it guesses the kept plan
    /// dearer; that plan is the same walk of the index, provided the page's LIMIT is written in
    /// the statement (with LIMIT a parameter the kept plan is a parallel gather, 4–8 ms). Ends
    /// with the transaction. SQLite plans a statement once, when it is prepared.
    pub fn kept_plans(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SET LOCAL plan_cache_mode = force_generic_plan"),
        }
    }
    /// A text field of a JSON column, as SQL: `field` of the object in `column`, NULL when it is
    /// missing or null. For a key a page looks up in the same statement (a task's assignee), so
    /// the row it names is read there and not in a round trip of its own.
    pub fn json_text(self, column: &str, field: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{field}')"),
            Dialect::Postgres => format!("({column}::json ->> '{field}')"),
        }
    }
    /// Appended inside a correlated `EXISTS (…)` that must stay one index probe per outer row
    /// (the register's name walk, which stops at the candidates it ranks): PostgreSQL would
    /// otherwise make it a semi-join that reads the subquery's whole range first (at 1M people
    /// a hash of 160,000 terms to find 400 people: 100 ms, against 44 ms for the probes). An
    /// OFFSET keeps it a subplan. SQLite probes anyway.
    pub fn per_row(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " OFFSET 0",
        }
    }
}

/// One connection inside a transaction. `Send`, so that an engine may run a transaction on a
/// thread of its own (see [`Engine::run`]).
pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Run a query and hand each row to `each`, in order, without holding them all.
    fn query_each(
        &mut self,
        sql: &str,
        params: &[Val],
        each: &mut dyn FnMut(Row) -> Result<()>,
    ) -> Result<()>;
    /// Run a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    /// Run statements without parameters (savepoints, a schema).
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Run a statement whose answer nobody reads. An engine across a network sends it at once
    /// and reads its answer with the next statement that waits for one (PostgreSQL runs them in
    /// the order sent): one round trip for many. Its failure then fails that statement, or the
    /// commit, and so the transaction.
    fn execute_later(&mut self, sql: &str, params: &[Val]) -> Result<()> {
        self.execute(sql, params).map(drop)
    }
    /// Run queries none of which needs another's answer; the rows of each, in order. An engine
    /// across a network sends them all before reading the first answer: one round trip (a
    /// page's rows and its totals).
    fn query_together(&mut self, queries: &[(&str, &[Val])]) -> Result<Vec<Vec<Row>>> {
        queries
            .iter()
            .map(|(sql, params)| {
                let mut rows = Vec::new();
                self.query_each(sql, params, &mut |r| {
                    rows.push(r);
                    Ok(())
                })?;
                Ok(rows)
            })
            .collect()
    }
    /// Run one query once for each set of parameters, together ([`Conn::query_together`]).
    /// Each is a lookup by key, which every plan answers from its index.
    fn query_many(&mut self, sql: &str, params: &[Vec<Val>]) -> Result<Vec<Vec<Row>>> {
        let queries: Vec<(&str, &[Val])> = params.iter().map(|p| (sql, p.as_slice())).collect();
        self.query_together(&queries)
    }
    /// Run `lookup` once for each of `keys` ([`Dialect::each_key`]): the rows of all keys, in
    /// no set order, in one round trip.
    fn query_keys(&mut self, lookup: &str, fixed: &[Val], keys: &[&str]) -> Result<Vec<Row>> {
        let statements = self.dialect().each_key(lookup, fixed, keys);
        let refs: Vec<(&str, &[Val])> = statements
            .iter()
            .map(|(q, a)| (q.as_str(), a.as_slice()))
            .collect();
        Ok(self.query_together(&refs)?.into_iter().flatten().collect())
    }
    /// [`Conn::batch`], answered later as [`Conn::execute_later`].
    fn batch_later(&mut self, sql: &str) -> Result<()> {
        self.batch(sql)
    }
    /// How many times this connection has waited for a server's answers: its round trips, what
    /// a page costs on an engine across a network beyond the work itself. An engine inside this
    /// process waits for none.
    fn round_trips(&self) -> u64 {
        0
    }
}

impl dyn Conn + '_ {
    /// The rows of two queries sent together ([`Conn::query_together`]): a page and its totals.
    pub fn query_two(
        &mut self,
        a: (&str, &[Val]),
        b: (&str, &[Val]),
    ) -> Result<(Vec<Row>, Vec<Row>)> {
        let [a, b]: [Vec<Row>; 2] = self
            .query_together(&[a, b])?
            .try_into()
            .expect("two queries, two answers");
        Ok((a, b))
    }
    pub fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>> {
        let mut out = Vec::new();
        self.query_each(sql, params, &mut |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }
    /// The first row, if any.
    pub fn row(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>> {
        let mut out = None;
        self.query_each(sql, params, &mut |r| {
            if out.is_none() {
                out = Some(r);
            }
            Ok(())
        })?;
        Ok(out)
    }
    /// The first row, which must be there.
    pub fn one(&mut self, sql: &str, params: &[Val]) -> Result<Row> {
        self.row(sql, params)?
            .ok_or_else(|| HqError::Storage(crate::error::StorageError::new("no row")))
    }
    pub fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        self.execute(sql, params)
    }
}

/// What a transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads only (and writes nobody waits on: a lookup's record). SQLite runs it on its one
    /// connection, PostgreSQL at READ COMMITTED on any pooled connection.
    Read,
    /// Changes: SQLite takes its write lock first (IMMEDIATE), PostgreSQL locks rows as it
    /// reads them for update.
    Write,
    /// Reads that must all see one moment of the store (a copy of the whole store):
    /// PostgreSQL's REPEATABLE READ; SQLite's read transaction is one moment already.
    Snapshot,
}

/// What runs inside one transaction.
pub type TxFn<'f> = dyn FnMut(&mut dyn Conn) -> Result<()> + Send + 'f;

/// An SQL engine. Everything HQ stores goes through [`Engine::run`].
pub trait Engine: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;
    /// Run `f` in one transaction, committed when it returns Ok and rolled back otherwise. An
    /// engine may run `f` again from the start when the transaction lost a race another server
    /// won (a deadlock, a serialisation failure, a row another transaction inserted first): `f`
    /// must have no effect outside the transaction. Blocking, like every storage call: callers
    /// on an async runtime use `spawn_blocking`; one that does not blocks its thread (an engine
    /// whose driver cannot block there runs `f` on a thread of its own).
    fn run(&self, mode: Mode, f: &mut TxFn<'_>) -> Result<()>;
    /// A short description for logs (never a password).
    fn describe(&self) -> String;
}

/// Run `f` in a transaction and return what it made.
pub fn run<R: Send>(
    engine: &dyn Engine,
    mode: Mode,
    mut f: impl FnMut(&mut dyn Conn) -> Result<R> + Send,
) -> Result<R> {
    let mut out = None;
    engine.run(mode, &mut |c| {
        out = Some(f(c)?);
        Ok(())
    })?;
    Ok(out.expect("run returned Ok without running"))
}

/// Open the engine a `--db` value names: a `postgres://` (or `postgresql://`) URL, or else the
/// path of an SQLite file.
pub fn open(db: &str) -> Result<Arc<dyn Engine>> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgEngine::open(db)?))
    } else {
        Ok(Arc::new(sqlite::SqliteEngine::open(std::path::Path::new(
            db,
        ))?))
    }
}

/// Rewrite `?N` placeholders as `$N` (outside quoted text).
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE b = ?1 AND c IN (?2, '?') AND \"d?\" = ?10"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, '?') AND \"d?\" = $10"
        );
    }

    #[test]
    fn a_lookup_by_key_is_a_statement_per_key_on_sqlite_and_one_on_postgresql() {
        let lookup = "SELECT id FROM t WHERE kind = ?1 AND id = {key}";
        let fixed = [Val::from("case")];
        let keys = ["a", "b\"c"];
        let each = Dialect::Sqlite.each_key(lookup, &fixed, &keys);
        assert_eq!(
            each,
            vec![
                (
                    "SELECT id FROM t WHERE kind = ?1 AND id = ?2".to_owned(),
                    vec![Val::from("case"), Val::from("a")]
                ),
                (
                    "SELECT id FROM t WHERE kind = ?1 AND id = ?2".to_owned(),
                    vec![Val::from("case"), Val::from("b\"c")]
                ),
            ]
        );
        let one = Dialect::Postgres.each_key(lookup, &fixed, &keys);
        assert_eq!(one.len(), 1);
        assert!(one[0].0.contains("id = k.key OFFSET 0)"), "{}", one[0].0);
        // The keys are data, one JSON parameter, never written into the statement.
        assert_eq!(
            one[0].1,
            vec![Val::from("case"), Val::from(r#"["a","b\"c"]"#)]
        );
        assert!(Dialect::Postgres.each_key(lookup, &fixed, &[]).is_empty());
    }
}
