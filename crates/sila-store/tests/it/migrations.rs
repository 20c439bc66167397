//! Schema migrations: every earlier schema upgrades to the current one; a newer one is refused.

use rusqlite::Connection;
use sila_store::StoreError;
use sila_store::migrate::{self, MIGRATIONS};

fn version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn every_earlier_schema_upgrades_in_one_step() {
    for k in 0..=MIGRATIONS.len() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("old.db")).unwrap();
        migrate::migrate_to(&mut conn, k, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(version(&conn), k as i64);
        if k >= 1 {
            // Data written under the old schema survives the upgrade.
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('probe', 'كان هنا')",
                [],
            )
            .unwrap();
        }
        let ran = migrate::migrate(&mut conn, "2026-02-01T00:00:00Z").unwrap();
        assert_eq!(ran, MIGRATIONS.len() - k);
        assert_eq!(version(&conn), MIGRATIONS.len() as i64);
        let history: i64 = conn
            .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(history, MIGRATIONS.len() as i64);
        if k >= 1 {
            let v: String = conn
                .query_row("SELECT value FROM meta WHERE key = 'probe'", [], |r| {
                    r.get(0)
                })
                .unwrap();
            assert_eq!(v, "كان هنا");
        }
        // Running again does nothing.
        assert_eq!(
            migrate::migrate(&mut conn, "2026-03-01T00:00:00Z").unwrap(),
            0
        );
    }
}

#[test]
fn a_store_from_a_newer_sila_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("new.db")).unwrap();
    migrate::migrate(&mut conn, "2026-01-01T00:00:00Z").unwrap();
    let newer = MIGRATIONS.len() as i64 + 1;
    conn.execute_batch(&format!("PRAGMA user_version = {newer}"))
        .unwrap();
    let e = migrate::migrate(&mut conn, "2026-01-02T00:00:00Z").unwrap_err();
    assert!(
        matches!(e, StoreError::NewerSchema { found, known } if found == newer && known == MIGRATIONS.len() as i64)
    );
    assert_eq!(e.code(), "store_newer_schema");
    assert_eq!(version(&conn), newer);
}

#[test]
fn a_failing_migration_leaves_the_schema_as_it_was() {
    // Migrations run in one transaction: break the history and nothing is applied.
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("x.db")).unwrap();
    migrate::migrate_to(&mut conn, 0, "t").unwrap();
    conn.execute(
        "INSERT INTO schema_migrations VALUES (1, 'someone_elses_migration', 't')",
        [],
    )
    .unwrap();
    conn.execute_batch("PRAGMA user_version = 1").unwrap();
    assert!(matches!(
        migrate::migrate(&mut conn, "t"),
        Err(StoreError::MigrationMismatch)
    ));
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'beneficiaries'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
}

#[test]
fn the_one_draft_of_a_device_becomes_an_unowned_intake_draft() {
    // Before drafts belonged to a person, a device kept one wizard draft under the key "intake".
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("old.db")).unwrap();
    let before = MIGRATIONS
        .iter()
        .position(|(name, _)| *name == "0006_drafts_per_person")
        .unwrap();
    migrate::migrate_to(&mut conn, before, "2026-01-01T00:00:00Z").unwrap();
    conn.execute(
        "INSERT INTO drafts (key, data, updated_at) VALUES ('intake', '{\"step\":3}', '2026-01-02T10:00:00+00:00')",
        [],
    )
    .unwrap();
    migrate::migrate(&mut conn, "2026-02-01T00:00:00Z").unwrap();
    let (id, kind, owner, data, updated): (String, String, Option<String>, String, String) = conn
        .query_row(
            "SELECT id, kind, owner, data, updated_at FROM drafts",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(kind, "intake");
    assert_eq!(owner, None, "whoever continues it first makes it theirs");
    assert_eq!(data, "{\"step\":3}");
    assert_eq!(updated, "2026-01-02T10:00:00+00:00");
}
