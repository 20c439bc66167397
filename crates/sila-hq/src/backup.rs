//! `sila-hq backup --out FILE`: a consistent copy of HQ's database taken while it serves, and
//! the two facts a restore of it needs, so branches give back what the copy lacks.
//!
//! - **The copy carries an epoch of its own.** HQ's feed is numbered per branch; a restored HQ
//!   numbers anew from the copy's positions, under which devices may already have read other
//!   entries. Devices keep the epoch they last saw (`Standing::epoch` in every feed answer); one
//!   that meets another epoch reads the feed again from where that epoch began
//!   (`feed_epochs`), so it skips nothing the restored HQ numbers again.
//! - **HQ records what the copy holds of each device** (`devices.backed_up_seq`), and tells
//!   devices (`Standing::backed_up_through`): a device forgets the payloads of its acknowledged
//!   operations only up to there, and keeps the rest to send again if HQ comes back from this
//!   copy.
//!
//! SQLite: `VACUUM INTO` (a read transaction: HQ keeps serving), then the copy alone is given a
//! new epoch. PostgreSQL: `pg_dump` of an exported snapshot. The copy's epoch is begun first;
//! then, with the branches' feed numbering held for an instant, the snapshot is exported and the
//! live database begins yet another epoch, so no feed entry the copy lacks is ever read under
//! the copy's epoch. The copy is written under a temporary name and renamed when whole.

use crate::db::{self, Mode};
use crate::error::{HqError, Result, StorageError};
use crate::sql;
use rand::Rng;
use std::path::{Path, PathBuf};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupReport {
    pub file: String,
    /// The epoch a restore of this copy brings back.
    pub epoch: String,
    /// Devices whose operations the copy holds up to a number (each is told at its next sync).
    pub devices: usize,
    pub bytes: u64,
}

fn storage(message: String) -> HqError {
    HqError::Storage(StorageError::new(message))
}

fn new_epoch_id() -> String {
    let mut k = [0u8; 16];
    rand::rng().fill(&mut k);
    hex::encode(k)
}

/// Back up the HQ database `db` (an SQLite path or a PostgreSQL URL) into `out`, which must not
/// exist yet.
pub fn backup(
    db_url: &str,
    out: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<BackupReport> {
    if out.exists() {
        return Err(HqError::BadRequest("the backup file exists already"));
    }
    let partial = {
        let mut name = out.file_name().unwrap_or_default().to_os_string();
        name.push(".partial");
        out.with_file_name(name)
    };
    let _ = std::fs::remove_file(&partial);
    let live: std::sync::Arc<dyn db::Engine>;
    let taken = if db_url.starts_with("postgres://") || db_url.starts_with("postgresql://") {
        live = db::open(db_url)?;
        db::postgres::off_runtime(|| postgres_copy(&*live, db_url, &partial))
    } else {
        let engine = std::sync::Arc::new(db::sqlite::SqliteEngine::open(Path::new(db_url))?);
        let taken = sqlite_copy(&engine, &partial);
        live = engine;
        taken
    };
    let (epoch, seqs) = match taken {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, out).map_err(|e| storage(format!("rename the backup: {e}")))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    // Only now that the copy is whole does HQ tell devices they may forget what it holds.
    let file = out.to_string_lossy().into_owned();
    let stamp = now.to_rfc3339();
    db::run(&*live, Mode::Write, |c| {
        sql::admin::record_backup(c, &stamp, &epoch, &file, &seqs)
    })?;
    tracing::info!(devices = seqs.len(), bytes, "backup completed");
    Ok(BackupReport {
        file,
        epoch,
        devices: seqs.len(),
        bytes,
    })
}

/// Each device and the highest of its sequence numbers a copy holds.
type DeviceSeqs = Vec<(String, i64)>;

/// The epoch a copy carries, and what it holds of each device.
type Taken = (String, DeviceSeqs);

fn sqlite_copy(live: &db::sqlite::SqliteEngine, partial: &Path) -> Result<Taken> {
    live.backup_to(partial)?;
    let copy = db::sqlite::SqliteEngine::open(partial)?;
    let epoch = new_epoch_id();
    let seqs = db::run(&copy, Mode::Write, |c| {
        sql::admin::new_epoch(c, &epoch, true)?;
        sql::admin::device_seqs(c)
    })?;
    drop(copy);
    // The copy's write-ahead log is folded in when its last connection closes; what is left
    // beside it is not part of the backup.
    for ext in ["-wal", "-shm"] {
        let mut p = partial.as_os_str().to_os_string();
        p.push(ext);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    Ok((epoch, seqs))
}

/// `pg_dump` from PATH, or else the newest of Debian's /usr/lib/postgresql/N/bin.
fn pg_dump() -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join("pg_dump").is_file() {
                return d.join("pg_dump");
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin").join("pg_dump");
            bin.is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .unwrap_or_else(|| PathBuf::from("pg_dump"))
}

/// The URL without its password, and the password (percent-decoded), if it had one.
fn without_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    let mut bytes = Vec::with_capacity(password.len());
    let mut it = password.bytes();
    while let Some(b) = it.next() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b == b'%' {
            let (h, l) = (it.next(), it.next());
            if let (Some(h), Some(l)) = (h.and_then(hex), l.and_then(hex)) {
                bytes.push((h * 16 + l) as u8);
                continue;
            }
            return (url.to_owned(), None);
        }
        bytes.push(b);
    }
    (
        format!("{scheme}://{user}@{host}"),
        Some(String::from_utf8_lossy(&bytes).into_owned()),
    )
}

fn postgres_copy(live: &dyn db::Engine, url: &str, partial: &Path) -> Result<Taken> {
    let connect = || {
        postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| storage(format!("backup connection: {e}")))
    };
    // The epoch the copy will carry.
    let epoch = new_epoch_id();
    db::run(live, Mode::Write, |c| {
        sql::admin::new_epoch(c, &epoch, true)
    })?;
    let exported = (|| -> Result<(postgres::Client, String, DeviceSeqs)> {
        let mut hold = connect()?;
        let mut snap = connect()?;
        // No feed entry is numbered while this lock is held (numbering updates `branches`), so
        // the snapshot below and the live database's next epoch see the same feed.
        hold.batch_execute("BEGIN; LOCK TABLE branches IN SHARE MODE")?;
        snap.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        let id: String = snap.query_one("SELECT pg_export_snapshot()", &[])?.get(0);
        let seqs: Vec<(String, i64)> = snap
            .query("SELECT device_id, last_seq FROM devices", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let next = new_epoch_id();
        db::run(live, Mode::Write, |c| {
            sql::admin::new_epoch(c, &next, false)
        })?;
        hold.batch_execute("COMMIT")?;
        Ok((snap, id, seqs))
    })();
    let (mut snap, id, seqs) = match exported {
        Ok(e) => e,
        Err(e) => {
            // The live database must not stay on the copy's epoch (it would pass for a
            // restored one).
            let next = new_epoch_id();
            let _ = db::run(live, Mode::Write, |c| {
                sql::admin::new_epoch(c, &next, false)
            });
            return Err(e);
        }
    };
    // The password goes in pg_dump's environment, not its arguments (which any local user
    // can list).
    let (dbname, password) = without_password(url);
    let mut dump = std::process::Command::new(pg_dump());
    dump.arg("--format=custom")
        .arg(format!("--snapshot={id}"))
        .arg("--file")
        .arg(partial)
        .arg(format!("--dbname={dbname}"))
        .stdin(std::process::Stdio::null());
    if let Some(p) = password {
        dump.env("PGPASSWORD", p);
    }
    let out = dump
        .output()
        .map_err(|e| storage(format!("pg_dump could not be run: {e}")))?;
    snap.batch_execute("COMMIT")?;
    if !out.status.success() {
        // pg_dump's own words (it never prints rows), without the connection string.
        let err = String::from_utf8_lossy(&out.stderr).replace(url, "…");
        return Err(storage(format!("pg_dump failed: {}", err.trim())));
    }
    Ok((epoch, seqs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_leaves_the_url_for_the_environment() {
        assert_eq!(
            super::without_password("postgres://sila:p%40ss:w@db.internal:5432/sila_hq"),
            (
                "postgres://sila@db.internal:5432/sila_hq".to_owned(),
                Some("p@ss:w".to_owned())
            )
        );
        let socket = "postgres://sila@%2Fvar%2Frun%2Fpostgresql/sila_hq";
        assert_eq!(super::without_password(socket), (socket.to_owned(), None));
    }
}
