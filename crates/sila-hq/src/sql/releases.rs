//! Releases of the desktop app (`migrations/hq/0011_releases.sql`): stored once checked
//! ([`crate::rules::releases`]), offered to a device whose version is older, served in chunks.

use crate::db::Conn;
use crate::store::{Device, ReleaseInfo};
use crate::{HqError, Result, params};
use chrono::{DateTime, Utc};
use sila_proto::{Release, ReleaseReport};

/// The package is kept in rows of this many bytes: a device resuming a download reads one.
pub const CHUNK: usize = sila_proto::DEFAULT_CHUNK;

pub fn insert(
    c: &mut dyn Conn,
    release: &Release,
    (major, minor, patch): (u64, u64, u64),
    package: &[u8],
    by: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let taken = c
        .row(
            "SELECT 1 FROM releases WHERE version = ?1 OR sha256 = ?2 OR (major = ?3 AND minor = ?4 AND patch = ?5)",
            params![&release.version, &release.sha256, major as i64, minor as i64, patch as i64],
        )?
        .is_some();
    if taken {
        return Err(HqError::ReleaseExists);
    }
    c.exec(
        "INSERT INTO releases (version, major, minor, patch, sha256, size, signature, published_at, published_by) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            &release.version,
            major as i64,
            minor as i64,
            patch as i64,
            &release.sha256,
            release.size,
            &release.signature,
            now,
            by
        ],
    )?;
    for (n, chunk) in package.chunks(CHUNK).enumerate() {
        c.exec(
            "INSERT INTO release_chunks (sha256, n, bytes) VALUES (?1, ?2, ?3)",
            params![&release.sha256, n as i64, chunk],
        )?;
    }
    Ok(())
}

/// Every release, newest version first.
pub fn list(c: &mut dyn Conn) -> Result<Vec<ReleaseInfo>> {
    c.query(
        "SELECT r.version, r.sha256, r.size, r.published_at, r.published_by, \
                (SELECT COUNT(*) FROM devices d WHERE d.app_version = r.version AND d.revoked_at IS NULL) \
         FROM releases r ORDER BY r.major DESC, r.minor DESC, r.patch DESC",
        params![],
    )?
    .iter()
    .map(|r| {
        Ok(ReleaseInfo {
            version: r.text(0)?,
            sha256: r.text(1)?,
            size: r.i64(2)?,
            published_at: r.text(3)?,
            published_by: r.text(4)?,
            devices: r.i64(5)?,
        })
    })
    .collect()
}

/// The version a device last reported, if it differs from `reported` (then it must be written).
pub fn version_changed(c: &mut dyn Conn, device: &Device, reported: &str) -> Result<bool> {
    let known = c
        .row(
            "SELECT app_version FROM devices WHERE device_id = ?1",
            params![&device.device_id],
        )?
        .map(|r| r.opt_text(0))
        .transpose()?
        .flatten();
    Ok(known.as_deref() != Some(reported))
}

pub fn set_version(c: &mut dyn Conn, device: &Device, reported: &str) -> Result<()> {
    c.exec(
        "UPDATE devices SET app_version = ?2 WHERE device_id = ?1",
        params![&device.device_id, reported],
    )?;
    Ok(())
}

/// The newest release, by its version's numbers (one row of an index).
pub fn newest(c: &mut dyn Conn) -> Result<Option<Release>> {
    c.row(
        "SELECT version, sha256, size, signature FROM releases ORDER BY major DESC, minor DESC, patch DESC LIMIT 1",
        params![],
    )?
    .map(|r| {
        Ok(Release {
            version: r.text(0)?,
            sha256: r.text(1)?,
            size: r.i64(2)?,
            signature: r.text(3)?,
        })
    })
    .transpose()
}

/// Bytes of a release from `offset`: the rest of the chunk that holds it, at most `len`. Empty at
/// the end of the package.
pub fn chunk(c: &mut dyn Conn, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>> {
    let size = c
        .row(
            "SELECT size FROM releases WHERE sha256 = ?1",
            params![sha256],
        )?
        .ok_or(HqError::NotFound("release"))?
        .i64(0)?;
    if !(0..=size).contains(&offset) {
        return Err(HqError::BadRequest("offset"));
    }
    if offset == size {
        return Ok(Vec::new());
    }
    let n = offset / CHUNK as i64;
    let at = (offset % CHUNK as i64) as usize;
    let bytes = c
        .one(
            "SELECT bytes FROM release_chunks WHERE sha256 = ?1 AND n = ?2",
            params![sha256, n],
        )?
        .blob(0)?;
    let end = bytes.len().min(at + len.clamp(1, sila_proto::MAX_CHUNK));
    Ok(bytes.get(at..end).unwrap_or_default().to_vec())
}

pub fn report(
    c: &mut dyn Conn,
    device: &Device,
    report: &ReleaseReport,
    now: DateTime<Utc>,
) -> Result<()> {
    c.exec(
        "UPDATE devices SET update_version = ?2, update_outcome = ?3, update_at = ?4 WHERE device_id = ?1",
        params![&device.device_id, &report.version, &report.outcome, now],
    )?;
    Ok(())
}
