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

/// `sila-hq serve`'s own backups (`--backup-dir`, `--backup-every`, `--backup-keep`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub dir: PathBuf,
    pub every: std::time::Duration,
    /// The newest this many copies in `dir` are kept; older ones go once a new one is whole.
    pub keep: usize,
}

/// Read a period: a whole number with a unit (`30s`, `15m`, `6h`, `7d`), or `0` (never).
pub fn parse_period(text: &str) -> std::result::Result<std::time::Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a period such as 30s, 15m, 6h or 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d (e.g. 6h)")),
    };
    n.checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long a period"))
}

/// Any two servers on one PostgreSQL database take their scheduled backups under this advisory
/// lock (one backs up, the others skip); the number only has to be HQ's own.
const SCHEDULE_LOCK: i64 = 0x5349_4C41_4241_4B55;

fn is_postgres(db_url: &str) -> bool {
    db_url.starts_with("postgres://") || db_url.starts_with("postgresql://")
}

/// The schedule's lock: several `serve` on one PostgreSQL take one backup a period between
/// them. It is a session advisory lock, so it is the connection's: it goes when the connection
/// closes, even if the holder's thread dies, and the backup's row is committed before it goes,
/// so the next holder sees that the period's copy exists. SQLite has one server: always free.
pub struct ScheduleLock {
    session: Option<postgres::Client>,
}

impl Drop for ScheduleLock {
    fn drop(&mut self) {
        // Closing the connection frees the lock only once the server has noticed: free it now,
        // so that it is free when this returns.
        if let Some(mut c) = self.session.take() {
            let _ = c.execute("SELECT pg_advisory_unlock($1)", &[&SCHEDULE_LOCK]);
        }
    }
}

impl ScheduleLock {
    /// The lock, or `None` while another server holds it.
    pub fn try_take(db_url: &str) -> Result<Option<ScheduleLock>> {
        if !is_postgres(db_url) {
            return Ok(Some(ScheduleLock { session: None }));
        }
        let mut c = postgres::Client::connect(db_url, postgres::NoTls)
            .map_err(|e| storage(format!("backup lock connection: {e}")))?;
        let got: bool = c
            .query_one("SELECT pg_try_advisory_lock($1)", &[&SCHEDULE_LOCK])?
            .get(0);
        Ok(got.then_some(ScheduleLock { session: Some(c) }))
    }
}

/// Take a backup into `plan.dir` if HQ's last one (scheduled or by hand: the `backups` table)
/// is a period old or there is none, then delete the copies beyond the newest `plan.keep`.
/// `Ok(None)` when none was due or another server holds the schedule's lock. Blocking, and
/// off any async runtime (PostgreSQL's blocking client refuses one: [`db::postgres::off_runtime`]).
pub fn backup_if_due(
    db_url: &str,
    live: &dyn db::Engine,
    plan: &Schedule,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<BackupReport>> {
    let pg = is_postgres(db_url);
    let Some(_lock) = ScheduleLock::try_take(db_url)? else {
        return Ok(None);
    };
    let last = db::run(live, Mode::Read, |c| {
        Ok(c.row("SELECT max(taken_at) FROM backups", &[])?
            .and_then(|r| r.opt_text(0).ok().flatten()))
    })?;
    let last = last.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
    if let Some(last) = last {
        let age = now.signed_duration_since(last.with_timezone(&chrono::Utc));
        if age.to_std().unwrap_or_default() < plan.every {
            return Ok(None);
        }
    }
    std::fs::create_dir_all(&plan.dir)
        .map_err(|e| storage(format!("create the backup folder: {e}")))?;
    let name = format!(
        "sila-hq-{}.{}",
        now.format("%Y%m%dT%H%M%S%.3fZ"),
        if pg { "dump" } else { "db" }
    );
    let report = backup(db_url, &plan.dir.join(name), now)?;
    prune(&plan.dir, plan.keep)?;
    Ok(Some(report))
}

/// Delete the scheduled copies in `dir` beyond the newest `keep` (their names sort by time).
fn prune(dir: &Path, keep: usize) -> Result<()> {
    let mut copies: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| storage(format!("list the backup folder: {e}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("sila-hq-") && (name.ends_with(".db") || name.ends_with(".dump"))
        })
        .collect();
    copies.sort();
    let old = copies.len().saturating_sub(keep.max(1));
    for p in &copies[..old] {
        std::fs::remove_file(p).map_err(|e| storage(format!("delete an old backup: {e}")))?;
    }
    Ok(())
}

/// Run `plan` for as long as the server runs: look every tenth of the period (at most a
/// minute apart) whether a backup is due, and take it on the blocking pool, never in a
/// request's way. A failure is logged and tried again soon, then less and less often (a full
/// disk or a missing `pg_dump` is not fixed in a second), never later than a period; it never
/// stops HQ.
pub async fn run_schedule(db_url: String, live: std::sync::Arc<dyn db::Engine>, plan: Schedule) {
    let look = (plan.every / 10).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(60),
    );
    let mut ticks = tokio::time::interval(look);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut hold_until: Option<tokio::time::Instant> = None;
    let mut failures = 0u32;
    loop {
        ticks.tick().await;
        if hold_until.is_some_and(|t| tokio::time::Instant::now() < t) {
            continue;
        }
        let (url, live, p) = (db_url.clone(), live.clone(), plan.clone());
        let taken = tokio::task::spawn_blocking(move || {
            db::postgres::off_runtime(|| backup_if_due(&url, &*live, &p, chrono::Utc::now()))
        })
        .await;
        match taken {
            Ok(Ok(Some(r))) => {
                tracing::info!(file = %r.file, bytes = r.bytes, "scheduled backup taken");
                failures = 0;
            }
            Ok(Ok(None)) => failures = 0,
            Ok(Err(e)) => {
                failures += 1;
                let wait = retry_after(failures, plan.every);
                // HQ's errors carry codes and database or pg_dump messages, never rows.
                tracing::error!(code = e.code().as_str(), error = %e, retry_in_s = wait.as_secs(), "scheduled backup failed");
                hold_until = Some(tokio::time::Instant::now() + wait);
            }
            Err(e) => {
                failures += 1;
                let wait = retry_after(failures, plan.every);
                tracing::error!(error = %e, retry_in_s = wait.as_secs(), "scheduled backup stopped");
                hold_until = Some(tokio::time::Instant::now() + wait);
            }
        }
    }
}

/// How long to wait after the `failures`-th failure in a row before trying again: a minute,
/// doubling each time, never more than the period itself. Waiting a whole day after a
/// passing hiccup would leave a day of work with no copy.
pub fn retry_after(failures: u32, every: std::time::Duration) -> std::time::Duration {
    let first = std::time::Duration::from_secs(60);
    let doubled = first.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    doubled.min(every)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_failed_backup_is_tried_again_soon_then_less_often_never_later_than_a_period() {
        use super::retry_after;
        use std::time::Duration;
        let day = Duration::from_secs(86_400);
        let waits: Vec<u64> = (1..=6).map(|n| retry_after(n, day).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920]);
        assert_eq!(retry_after(40, day), day, "never later than a period");
        assert_eq!(
            retry_after(1, Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn periods_read_as_operators_write_them() {
        use super::parse_period;
        use std::time::Duration;
        assert_eq!(parse_period("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_period("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_period("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_period("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_period("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "h",
            "6",
            "6 h",
            "-1h",
            "1.5h",
            "6y",
            "99999999999999999999d",
        ] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

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
