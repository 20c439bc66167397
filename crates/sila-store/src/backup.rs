//! Backups of the branch store to a single file (a USB stick), and bringing one back.
//!
//! A backup is the store as it is at one moment, taken while the app is in use (one read
//! transaction: SQLCipher's `sqlcipher_export` into a new file keyed with the store's own key),
//! together with the keyring that wraps that key per staff account. It is never plaintext: the
//! database part is encrypted with the store key, and the key is only in the keyring, wrapped by
//! staff passwords. So a backup is opened the way the store is, by a staff member's password.
//!
//! File layout: the line `SILA-BACKUP-1`, one line of JSON (`Header`), then the encrypted
//! database file's bytes. Written to a temporary file beside the target, synced, then renamed, so
//! a full stick or a pulled cable leaves no half backup under the name asked for.
//!
//! A restored store is behind HQ as soon as it was used after the backup; it learns so at its
//! first sync and carries its unsent work over (see `sync.rs`). It also numbers its new cases
//! under a new device tag from the start, so a number printed on a receipt after the restore is
//! never one its other timeline already printed.

use crate::error::{Result, StoreError};
use crate::{DB_FILE, Store, keyring};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &str = "SILA-BACKUP-1";

/// Larger than any header a backup writes: a file claiming more is not a backup.
const MAX_HEADER: u64 = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    created_at: String,
    branch: String,
    /// The keyring file as it was (wrapped keys only).
    keyring: serde_json::Value,
    db_bytes: u64,
}

/// What a backup holds, as the app and the command line report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    pub bytes: u64,
    pub beneficiaries: i64,
    pub cases: i64,
    pub pending_changes: i64,
}

impl Store {
    /// Write a consistent, encrypted backup of the store to `out`. Administrators only.
    pub fn backup(&self, out: &Path) -> Result<BackupReport> {
        self.require(&[sila_domain::staff::Role::Admin])?;
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        let scratch = tempfile::Builder::new()
            .prefix(".sila-backup")
            .tempdir_in(parent)?;
        let db = scratch.path().join("db");
        // One read transaction: the copy is the store at one moment, whatever the app does
        // meanwhile on its other connection.
        self.conn().execute(
            "ATTACH DATABASE ?1 AS backup KEY ?2",
            rusqlite::params![
                db.to_string_lossy(),
                self.key.pragma_value().trim_matches('"')
            ],
        )?;
        let exported = (|| -> Result<()> {
            self.conn()
                .query_row("SELECT sqlcipher_export('backup')", [], |_| Ok(()))?;
            let version: i64 = self
                .conn()
                .query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
            self.conn()
                .execute_batch(&format!("PRAGMA backup.user_version = {version}"))?;
            Ok(())
        })();
        let detached = self.conn().execute_batch("DETACH DATABASE backup");
        exported?;
        detached?;
        let stats = self.stats()?;
        let keyring: serde_json::Value =
            serde_json::from_slice(&std::fs::read(keyring::Keyring::path_in(&self.dir))?)?;
        let db_bytes = std::fs::metadata(&db)?.len();
        let header = Header {
            created_at: self.now().to_rfc3339(),
            branch: self.session().branch.clone(),
            keyring,
            db_bytes,
        };
        let tmp = scratch.path().join("out");
        {
            let mut f = std::fs::File::create(&tmp)?;
            writeln!(f, "{MAGIC}")?;
            serde_json::to_writer(&mut f, &header)?;
            writeln!(f)?;
            std::io::copy(&mut std::fs::File::open(&db)?, &mut f)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, out)?;
        let written = std::fs::metadata(out)?.len();
        Ok(BackupReport {
            bytes: written,
            beneficiaries: stats.beneficiaries,
            cases: stats.cases,
            pending_changes: stats.pending_changes,
        })
    }

    /// Bring a backup back into `dir` (which must hold no store), opened by a staff member's
    /// password: a wrong password, or a file that is not a backup, leaves `dir` as it was. The
    /// restored store numbers new cases under a new device tag.
    pub fn restore(file: &Path, dir: &Path, username: &str, password: &str) -> Result<Store> {
        if Store::exists(dir) || keyring::Keyring::path_in(dir).exists() {
            return Err(StoreError::AlreadyInitialised);
        }
        let mut r = std::io::BufReader::new(std::fs::File::open(file)?);
        let mut magic = String::new();
        r.by_ref().take(64).read_line(&mut magic)?;
        if magic.trim_end() != MAGIC {
            return Err(StoreError::NotABackup);
        }
        let mut line = Vec::new();
        r.by_ref().take(MAX_HEADER).read_until(b'\n', &mut line)?;
        let header: Header = serde_json::from_slice(&line).map_err(|_| StoreError::NotABackup)?;
        std::fs::create_dir_all(dir)?;
        let staging = tempfile::Builder::new()
            .prefix(".sila-restore")
            .tempdir_in(dir)?;
        let db = staging.path().join(DB_FILE);
        {
            let mut f = std::fs::File::create(&db)?;
            let copied = std::io::copy(&mut r.take(header.db_bytes), &mut f)?;
            if copied != header.db_bytes {
                return Err(StoreError::NotABackup);
            }
            f.sync_all()?;
        }
        std::fs::write(
            keyring::Keyring::path_in(staging.path()),
            serde_json::to_vec_pretty(&header.keyring)?,
        )?;
        // Opened by a staff password before anything is put in place.
        let mut store = Store::open(staging.path(), username, password)?;
        store.retag_numbers()?;
        drop(store);
        let moved: Vec<PathBuf> = vec![keyring::Keyring::path_in(dir), dir.join(DB_FILE)];
        std::fs::rename(keyring::Keyring::path_in(staging.path()), &moved[0])?;
        std::fs::rename(&db, &moved[1])?;
        Store::open(dir, username, password)
    }

    /// New case and file numbers under a new device tag (a restored store).
    fn retag_numbers(&mut self) -> Result<()> {
        let branch = self.session().branch.clone();
        let prefix = format!("{}-{}", crate::branch_code(&branch), crate::random_tag());
        self.conn().execute(
            "UPDATE meta SET value = ?1 WHERE key = 'number_prefix'",
            [&prefix],
        )?;
        self.session.number_prefix = prefix;
        Ok(())
    }
}
