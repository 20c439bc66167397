//! Schema migrations of the branch store: the `.sql` files under `migrations/branch/`, embedded at
//! compile time, append-only, applied together in one transaction with a history table.
//!
//! `PRAGMA user_version` holds the number of migrations applied. A binary that knows fewer refuses
//! to open the store (it would not understand what newer code wrote), and a store whose recorded
//! history differs from this build's list is refused rather than guessed at.

use crate::error::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};

/// Every migration, in order. Add new ones at the end; never edit or reorder shipped ones.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/branch/0001_init.sql"),
    ),
    (
        "0002_sync",
        include_str!("../../../migrations/branch/0002_sync.sql"),
    ),
    (
        "0003_desktop",
        include_str!("../../../migrations/branch/0003_desktop.sql"),
    ),
    (
        "0004_fts_batched",
        include_str!("../../../migrations/branch/0004_fts_batched.sql"),
    ),
    (
        "0005_branch_sync",
        include_str!("../../../migrations/branch/0005_branch_sync.sql"),
    ),
    (
        "0006_drafts_per_person",
        include_str!("../../../migrations/branch/0006_drafts_per_person.sql"),
    ),
    (
        "0007_tasks_for_people",
        include_str!("../../../migrations/branch/0007_tasks_for_people.sql"),
    ),
    (
        "0008_edit_details",
        include_str!("../../../migrations/branch/0008_edit_details.sql"),
    ),
    (
        "0009_contacts_without_a_file",
        include_str!("../../../migrations/branch/0009_contacts_without_a_file.sql"),
    ),
    (
        "0010_branch_merges",
        include_str!("../../../migrations/branch/0010_branch_merges.sql"),
    ),
    (
        "0011_tallies",
        include_str!("../../../migrations/branch/0011_tallies.sql"),
    ),
    (
        "0012_acked_payloads",
        include_str!("../../../migrations/branch/0012_acked_payloads.sql"),
    ),
    (
        "0013_file_numbers",
        include_str!("../../../migrations/branch/0013_file_numbers.sql"),
    ),
    (
        "0014_outbox_packs",
        include_str!("../../../migrations/branch/0014_outbox_packs.sql"),
    ),
];

/// Bring the store up to this build's schema. Returns how many migrations ran.
pub fn migrate(conn: &mut Connection, now: &str) -> Result<usize> {
    migrate_to(conn, MIGRATIONS.len(), now)
}

/// Apply the first `target` migrations (tests use this to build every earlier schema).
pub fn migrate_to(conn: &mut Connection, target: usize, now: &str) -> Result<usize> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT",
    )?;
    let applied: Vec<(i64, String)> = {
        let mut stmt =
            tx.prepare("SELECT version, name FROM schema_migrations ORDER BY version")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (i, (version, name)) in applied.iter().enumerate() {
        if *version != i as i64 + 1 || MIGRATIONS.get(i).map(|m| m.0) != Some(name.as_str()) {
            return Err(StoreError::MigrationMismatch);
        }
    }
    if applied.len() as i64 != found {
        return Err(StoreError::MigrationMismatch);
    }
    let mut ran = 0;
    for (i, (name, sql)) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target)
        .skip(applied.len())
    {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![i as i64 + 1, name, now],
        )?;
        ran += 1;
    }
    let version = applied.len().max(target.min(MIGRATIONS.len()));
    // user_version lives in the database header and is written by this same transaction.
    tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
    tx.commit()?;
    Ok(ran)
}
