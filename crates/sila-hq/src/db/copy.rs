//! Copying a whole HQ store from one engine to another, row for row: `sila-hq migrate-store`
//! (an SQLite HQ moving up to PostgreSQL), and the tests' look inside a PostgreSQL HQ (a copy
//! into a temporary SQLite file they read with plain SQL).
//!
//! Everything is copied with its own numbers (feed positions, row numbers, merge and conflict
//! numbers, audit rows), so devices enrolled before the move sync on after it with the same
//! credentials and cursors. Rows go many to a statement, a bounded number of bytes unanswered.
//!
//! The tables kept by triggers (dashboards' facts, the console's counts, the duplicate search's
//! change counter) are not copied but made again by the target. On PostgreSQL its row triggers
//! are switched off for the copy and the tables rebuilt after the rows, one statement each
//! (`rebuild_derived()`, migration hq-postgres/0012): row by row, each row paid a plpgsql call
//! and an update of a hot count row, whose every version PostgreSQL keeps until the transaction
//! ends. SQLite's triggers are cheap in-process calls and cannot be switched off: they build
//! those tables as the rows arrive.

use super::{Conn, Dialect, Engine, Mode, Val};
use crate::error::{HqError, Result};
use crate::sql::rows::Rows;

/// The columns of `applied_ops` and `feed`, which a push also writes many rows at a time.
pub const APPLIED_OPS_COLUMNS: &[&str] = &[
    "device_id",
    "seq",
    "op_id",
    "op",
    "entity",
    "entity_id",
    "result",
    "reason",
    "created_at",
    "applied_at",
];
pub const FEED_COLUMNS: &[&str] = &["branch", "seq", "kind", "entity_id", "origin", "at"];

/// Every table of HQ's schema (as of the last migration of each engine) in an order that
/// satisfies its references, with the columns to copy. `rid` of `records` is SQLite's rowid.
pub const TABLES: &[(&str, &[&str])] = &[
    ("meta", &["key", "value"]),
    ("branches", &["name", "created_at", "feed_head"]),
    (
        "enrol_codes",
        &[
            "code_hash",
            "branch",
            "created_at",
            "expires_at",
            "used_by_device",
            "used_at",
        ],
    ),
    (
        "devices",
        &[
            "device_id",
            "branch",
            "token_hash",
            "enrolled_at",
            "revoked_at",
            "last_seen_at",
            "last_seq",
            "resync_requested",
            "credential_used_at",
            "app_version",
            "update_version",
            "update_outcome",
            "update_at",
            "backed_up_seq",
            "epoch_seen",
        ],
    ),
    ("applied_ops", APPLIED_OPS_COLUMNS),
    (
        "beneficiaries",
        &[
            "rid",
            "id",
            "branch",
            "device_id",
            "national_id",
            "data",
            "version",
            "merged_into",
            "created_at",
            "updated_at",
            "fields",
        ],
    ),
    (
        "cases",
        &[
            "rid",
            "id",
            "branch",
            "device_id",
            "beneficiary_id",
            "state",
            "data",
            "version",
            "hq_decided",
            "created_at",
            "updated_at",
            "fields",
        ],
    ),
    ("case_events", &["seq", "case_id", "origin", "data"]),
    (
        "records",
        &[
            "rid",
            "entity",
            "id",
            "branch",
            "device_id",
            "data",
            "version",
            "fields",
        ],
    ),
    (
        "releases",
        &[
            "version",
            "major",
            "minor",
            "patch",
            "sha256",
            "size",
            "signature",
            "published_at",
            "published_by",
        ],
    ),
    ("release_chunks", &["sha256", "n", "bytes"]),
    (
        "attachments",
        &["sha256", "mime", "size", "received", "complete", "bytes"],
    ),
    (
        "attachment_owners",
        &["sha256", "branch", "received", "proven"],
    ),
    (
        "upload_chunks",
        &["sha256", "branch", "\"offset\"", "bytes"],
    ),
    (
        "attachment_refs",
        &["sha256", "branch", "entity", "entity_id"],
    ),
    (
        "conflicts",
        &[
            "id",
            "entity",
            "entity_id",
            "field",
            "hq_value",
            "branch_value",
            "base_version",
            "device_id",
            "seq",
            "reason",
            "created_at",
            "resolved_at",
            "resolution",
            "branch",
        ],
    ),
    ("feed", FEED_COLUMNS),
    ("lookups", &["id", "device_id", "at", "found"]),
    ("not_duplicates", &["a", "b", "staff_id", "at"]),
    (
        "merges",
        &[
            "id",
            "survivor",
            "merged",
            "chosen",
            "previous",
            "staff_id",
            "staff_name",
            "at",
            "undone_at",
            "undone_by",
            "branch_merge_id",
        ],
    ),
    // Derived from beneficiaries in Rust (names need `arabic::name_tokens`), so no trigger of
    // the target makes it: copied like the rest.
    ("register_terms", &["term", "rid"]),
    (
        "hq_edits",
        &[
            "entity",
            "entity_id",
            "version",
            "at",
            "staff_id",
            "by_name",
            "fields",
        ],
    ),
    (
        "console_staff",
        &[
            "id",
            "username",
            "display_name",
            "roles",
            "password_hash",
            "active",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "console_sessions",
        &["token_hash", "staff_id", "csrf", "created_at", "expires_at"],
    ),
    (
        "audit",
        &[
            "id",
            "at",
            "staff_id",
            "staff_name",
            "action",
            "entity",
            "entity_id",
            "detail",
        ],
    ),
    ("backups", &["id", "taken_at", "epoch", "file"]),
    ("feed_epochs", &["branch", "head"]),
    (
        "signin_limits",
        &[
            "key",
            "failures",
            "in_flight",
            "flight_at",
            "last_at",
            "wait_until",
        ],
    ),
    ("signin_known", &["address", "name", "at"]),
];

/// The tables a copy leaves to the target: kept by its own triggers (the dashboards' facts, the
/// console's counts, the duplicate search's inputs; see the module's note) or by its own
/// migrations.
pub const NOT_COPIED: &[&str] = &[
    "case_facts",
    "record_facts",
    "survey_facts",
    "voice_facts",
    "case_counts",
    "committee_counts",
    "record_counts",
    "voice_counts",
    "register_counts",
    "duplicate_inputs",
    "schema_migrations",
];

/// The identity columns PostgreSQL numbers itself, set past the copied rows after a copy.
const IDENTITIES: &[(&str, &str)] = &[
    ("beneficiaries", "rid"),
    ("cases", "rid"),
    ("case_events", "seq"),
    ("records", "rid"),
    ("conflicts", "id"),
    ("lookups", "id"),
    ("merges", "id"),
    ("audit", "id"),
    ("backups", "id"),
];

fn column(dialect: Dialect, table: &str, col: &str) -> String {
    if table == "records" && col == "rid" {
        dialect.records_rid().to_owned()
    } else {
        col.to_owned()
    }
}

/// Rows per table, in [`TABLES`] order.
pub fn counts(engine: &dyn Engine) -> Result<Vec<(&'static str, i64)>> {
    super::run(engine, Mode::Read, |c| {
        TABLES
            .iter()
            .map(|(t, _)| {
                Ok((
                    *t,
                    c.one(&format!("SELECT count(*) FROM {t}"), &[])?.i64(0)?,
                ))
            })
            .collect()
    })
}

/// Rows gathered before they are sent, and their bytes: a row of file bytes (an attachment, a
/// release's chunk) goes with few others. What is sent and not yet answered is bounded by the
/// engine (PostgreSQL's connection reads its answers out past 32 MB).
const GATHER_ROWS: usize = 1024;
const GATHER_BYTES: usize = 1 << 20;

/// Copy the rows of every table of [`TABLES`] from `source` into `target`, in that order, many
/// rows to a statement. The target's triggers run as they are (see [`row_triggers`]).
pub fn copy_rows(source: &mut dyn Conn, target: &mut dyn Conn) -> Result<()> {
    let (fd, td) = (source.dialect(), target.dialect());
    for (table, cols) in TABLES {
        let select = format!(
            "SELECT {} FROM {table}",
            cols.iter()
                .map(|c| column(fd, table, c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let names: Vec<String> = cols.iter().map(|c| column(td, table, c)).collect();
        let mut rows = Rows::new(table, &names.iter().map(String::as_str).collect::<Vec<_>>());
        let (mut gathered, mut n, began) = (0usize, 0u64, std::time::Instant::now());
        source.query_each(&select, &[], &mut |row| {
            gathered += row.0.iter().map(Val::bytes).sum::<usize>();
            n += 1;
            rows.push(row.0);
            if rows.len() >= GATHER_ROWS || gathered >= GATHER_BYTES {
                rows.write(target)?;
                gathered = 0;
            }
            Ok(())
        })?;
        rows.write(target)?;
        // A move of a grown store takes minutes: what it has done so far, table by table.
        tracing::info!(
            table,
            rows = n,
            seconds = began.elapsed().as_secs_f64(),
            "copied"
        );
    }
    Ok(())
}

/// PostgreSQL: switch HQ's own triggers (not the engine's, which keep references) off or on
/// again, on every table that has one, for the rest of the transaction. Nothing on SQLite,
/// whose triggers cannot be switched off.
pub fn row_triggers(c: &mut dyn Conn, on: bool) -> Result<()> {
    if c.dialect() != Dialect::Postgres {
        return Ok(());
    }
    let tables = c.query(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
         ORDER BY 1",
        &[],
    )?;
    for t in tables {
        c.batch(&format!(
            "ALTER TABLE {} {} TRIGGER USER",
            t.text(0)?,
            if on { "ENABLE" } else { "DISABLE" }
        ))?;
    }
    Ok(())
}

/// Make the tables HQ's row triggers keep again from the rows there, after rows were written
/// with [`row_triggers`] off: on PostgreSQL one statement each (`rebuild_derived()`, migration
/// hq-postgres/0012, the triggers' own SQL as set-based statements); nothing on SQLite, whose
/// triggers were never off.
pub fn rebuild_derived(c: &mut dyn Conn) -> Result<()> {
    if c.dialect() == Dialect::Postgres {
        c.batch("SELECT rebuild_derived()")?;
    }
    Ok(())
}

/// Copy every row of `from` into `to`, which must be empty (freshly migrated), in one
/// transaction of `to`. Returns the rows copied per table; they are checked against what `to`
/// then holds before it commits, or the copy fails and `to` stays empty.
pub fn copy(from: &dyn Engine, to: &dyn Engine) -> Result<Vec<(&'static str, i64)>> {
    let held = counts(to)?;
    if let Some((t, _)) = held.iter().find(|(t, n)| *n > 0 && *t != "meta") {
        tracing::warn!(table = t, "the target of a copy is not empty");
        return Err(HqError::BadRequest("the target database is not empty"));
    }
    let td = to.dialect();
    // One moment of the source, read in one transaction, written in one transaction.
    super::run(from, Mode::Snapshot, |source: &mut dyn Conn| {
        let began = std::time::Instant::now();
        let counted = TABLES
            .iter()
            .map(|(t, _)| {
                Ok((
                    *t,
                    source
                        .one(&format!("SELECT count(*) FROM {t}"), &[])?
                        .i64(0)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        tracing::info!(
            rows = counted.iter().map(|(_, n)| n).sum::<i64>(),
            seconds = began.elapsed().as_secs_f64(),
            "counted the rows to copy"
        );
        super::run(to, Mode::Write, |target: &mut dyn Conn| {
            // A target opened by `Hq` already made its own identity: the source's replaces it.
            target.exec("DELETE FROM meta", &[])?;
            row_triggers(target, false)?;
            copy_rows(source, target)?;
            if td == Dialect::Postgres {
                // The tables the row triggers keep, from the rows now there, one statement
                // each; then the triggers keep them again from the first change after the copy.
                let began = std::time::Instant::now();
                rebuild_derived(target)?;
                row_triggers(target, true)?;
                tracing::info!(
                    seconds = began.elapsed().as_secs_f64(),
                    "rebuilt the tables kept by triggers"
                );
                // Statistics for the first plans made on the copy (autovacuum's would come
                // only after the commit).
                let began = std::time::Instant::now();
                target.batch("ANALYZE")?;
                tracing::info!(seconds = began.elapsed().as_secs_f64(), "analyzed");
            }
            let began = std::time::Instant::now();
            // Checked before the commit: a copy that does not hold what its source held leaves
            // the target as it was.
            for (table, n) in &counted {
                let got = target
                    .one(&format!("SELECT count(*) FROM {table}"), &[])?
                    .i64(0)?;
                if got != *n {
                    tracing::error!(
                        table,
                        source = n,
                        copied = got,
                        "a copy differs from its source"
                    );
                    return Err(HqError::Storage(crate::error::StorageError::new(
                        "the copy's counts differ from the source's",
                    )));
                }
            }
            tracing::info!(
                seconds = began.elapsed().as_secs_f64(),
                "every table holds as many rows as its source"
            );
            if td == Dialect::Postgres {
                for (table, col) in IDENTITIES {
                    target.one(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', '{col}'),
                                           coalesce((SELECT max({col}) FROM {table}), 0) + 1, false)"
                        ),
                        &[],
                    )?;
                }
            }
            Ok(())
        })?;
        Ok(counted)
    })
}
