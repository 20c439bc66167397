//! What devices read from the SQLite engine: where HQ stands with a device, a branch's feed, a
//! branch's re-download, lookups of a national ID at other branches, and files. Storage and SQL
//! only; who may read what is the branch of the authenticated device, passed in.

use crate::store::Device;
use crate::{HqError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use sila_proto::{
    Change, LookupResponse, OpOutcome, OpResult, PhaseCount, PullResponse, PushState, RecordState,
    Registration, SnapshotPlan, UploadStatus, kinds, phases, raw,
};
use std::collections::HashMap;

pub fn push_state(conn: &Connection, device: &Device, after: i64) -> Result<PushState> {
    let last: i64 = conn.query_row(
        "SELECT last_seq FROM devices WHERE device_id = ?1",
        [&device.device_id],
        |r| r.get(0),
    )?;
    let after = after.clamp(0, last);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, op_id, result, reason FROM applied_ops
         WHERE device_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map(params![device.device_id, after, last], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let digest = sila_proto::ops_digest(rows.iter().map(|(s, id, _, _)| (*s, id.as_str())));
    let results = rows
        .into_iter()
        .filter(|(_, _, result, _)| result != "applied")
        .map(|(seq, _, result, reason)| OpOutcome {
            seq,
            result: OpResult::from_code(&result).unwrap_or(OpResult::Rejected),
            reason,
            repeat: true,
        })
        .collect();
    Ok(PushState {
        acked_through: last,
        digest,
        results,
    })
}

/// A branch's feed after `after`, without the entries the device's own operations caused. At
/// most `limit` records; each record once per page, in its current state.
pub fn pull(
    conn: &Connection,
    device: &Device,
    after: i64,
    limit: usize,
    own: i64,
    digest: Option<&str>,
) -> Result<PullResponse> {
    let limit = limit.clamp(1, 5000);
    let (last_seq, resync): (i64, bool) = conn.query_row(
        "SELECT last_seq, resync_requested FROM devices WHERE device_id = ?1",
        [&device.device_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // A store that holds fewer of its own operations than HQ does was restored or copied: it
    // must take the branch again (and carry its unsent work over), not read on from its cursor.
    if resync || own < last_seq {
        return Ok(PullResponse {
            changes: vec![],
            next: after,
            more: false,
            reset: true,
        });
    }
    // Scan a bounded stretch of the feed (the device's own entries are passed over but still
    // cost a row each), so a page costs the same however much of it was the device's own.
    let scan = (limit * 4) as i64;
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, entity_id, origin FROM feed WHERE branch = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![device.branch, after, scan], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let scanned_all = (rows.len() as i64) < scan;
    let total = rows.len();
    let mut consumed = 0;
    let mut wanted: Vec<(i64, String, String)> = Vec::new();
    let mut at: HashMap<(String, String), usize> = HashMap::new();
    let mut next = after;
    for (seq, kind, id, origin) in rows {
        if at.len() >= limit && !at.contains_key(&(kind.clone(), id.clone())) {
            break;
        }
        consumed += 1;
        next = seq;
        if origin == device.device_id {
            continue;
        }
        // A record changed twice in the page is sent once, at its last place.
        if let Some(i) = at.remove(&(kind.clone(), id.clone())) {
            wanted[i].0 = -1;
        }
        at.insert((kind.clone(), id.clone()), wanted.len());
        wanted.push((seq, kind, id));
    }
    let more = consumed < total || !scanned_all;
    let mut changes = Vec::with_capacity(wanted.len());
    for (seq, kind, id) in wanted.into_iter().filter(|w| w.0 >= 0) {
        if let Some(state) = record_state(conn, &device.branch, &kind, &id)? {
            changes.push(Change {
                seq,
                kind,
                entity_id: id,
                payload: raw(serde_json::to_string(&state)?),
            });
        }
    }
    let mut reset = false;
    if changes.is_empty()
        && !more
        && let Some(d) = digest
        && branch_digest(conn, &device.branch)? != d
    {
        tracing::warn!(device = %device.device_id, "holding digest differs: re-download ordered");
        reset = true;
    }
    Ok(PullResponse {
        changes,
        next,
        more,
        reset,
    })
}

/// The holding digest of a branch, as its devices compute it.
pub fn branch_digest(conn: &Connection, branch: &str) -> Result<String> {
    let mut lines = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, coalesce(merged_into, '-') FROM beneficiaries WHERE branch = ?1",
    )?;
    for r in stmt.query_map([branch], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (id, m) = r?;
        lines.push(format!("b {id} {m}"));
    }
    let mut stmt = conn.prepare_cached("SELECT id, state FROM cases WHERE branch = ?1")?;
    for r in stmt.query_map([branch], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (id, s) = r?;
        lines.push(format!("c {id} {s}"));
    }
    Ok(sila_proto::digest_lines(lines))
}

/// A record's state as a device of `branch` receives it; None when it is not the branch's (it
/// never leaves HQ for another branch).
fn record_state(
    conn: &Connection,
    branch: &str,
    kind: &str,
    id: &str,
) -> Result<Option<RecordState>> {
    match kind {
        kinds::BENEFICIARY => {
            let row: Option<(String, String, i64, Option<String>)> = conn
                .prepare_cached(
                    "SELECT branch, data, version, merged_into FROM beneficiaries WHERE id = ?1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?;
            let Some((b, data, version, merged_into)) = row else {
                return Ok(None);
            };
            if b != branch {
                return Ok(None);
            }
            // A person merged into someone of another branch: the branch is shown where the
            // file went (the surviving record), nothing more of that branch.
            let survivor = match &merged_into {
                Some(s) => conn
                    .prepare_cached(
                        "SELECT data FROM beneficiaries WHERE id = ?1 AND branch <> ?2",
                    )?
                    .query_row(params![s, branch], |r| r.get::<_, String>(0))
                    .optional()?
                    .map(raw),
                None => None,
            };
            Ok(Some(RecordState {
                version,
                data: raw(data),
                merged_into,
                survivor,
                events: vec![],
            }))
        }
        kinds::CASE => {
            let row: Option<(String, String, i64)> = conn
                .prepare_cached("SELECT branch, data, version FROM cases WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((b, data, version)) = row else {
                return Ok(None);
            };
            if b != branch {
                return Ok(None);
            }
            let mut stmt = conn
                .prepare_cached("SELECT data FROM case_events WHERE case_id = ?1 ORDER BY seq")?;
            let events = stmt
                .query_map([id], |r| r.get::<_, String>(0))?
                .map(|r| r.map(raw))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(RecordState {
                version,
                data: raw(data),
                merged_into: None,
                survivor: None,
                events,
            }))
        }
        kinds::CONFLICT => {
            let Ok(n) = id.parse::<i64>() else {
                return Ok(None);
            };
            let parse = |s: Option<String>| {
                s.and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(serde_json::Value::Null)
            };
            let row = conn
                .prepare_cached(
                    "SELECT branch, entity, entity_id, field, hq_value, branch_value, device_id, reason, resolution
                     FROM conflicts WHERE id = ?1",
                )?
                .query_row([n], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                        sila_proto::ConflictState {
                            id: n,
                            entity: r.get(1)?,
                            entity_id: r.get(2)?,
                            field: r.get(3)?,
                            current: parse(r.get(4)?),
                            proposed: parse(r.get(5)?),
                            device_id: r.get(6)?,
                            reason: r.get(7)?,
                            resolution: r.get(8)?,
                        },
                    ))
                })
                .optional()?;
            let Some((b, state)) = row else {
                return Ok(None);
            };
            if b != branch {
                return Ok(None);
            }
            Ok(Some(RecordState {
                version: 1 + i64::from(state.resolution.is_some()),
                data: raw(serde_json::to_string(&state)?),
                merged_into: None,
                survivor: None,
                events: vec![],
            }))
        }
        _ => {
            let row: Option<(String, String, i64)> = conn
                .prepare_cached(
                    "SELECT branch, data, version FROM records WHERE entity = ?1 AND id = ?2",
                )?
                .query_row(params![kind, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((b, data, version)) = row else {
                return Ok(None);
            };
            // Knowledge-base documents published at HQ are every branch's.
            if b != branch && !(kind == kinds::KB && b == "HQ") {
                return Ok(None);
            }
            Ok(Some(RecordState {
                version,
                data: raw(data),
                merged_into: None,
                survivor: None,
                events: vec![],
            }))
        }
    }
}

/// The states a case is finished in: a re-download brings them after the open work.
const CLOSED_STATES: &str = "('closed', 'withdrawn', 'rejected')";

/// One phase of a re-download: its feed kind, and the query of (row number, id) in row order.
fn phase_query(phase: &str) -> Option<(&'static str, String)> {
    let records = |entity: &str| {
        format!(
            "SELECT rowid, id FROM records WHERE entity = '{entity}' AND branch = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3"
        )
    };
    Some(match phase {
        phases::STAFF => (kinds::STAFF, records("staff")),
        phases::KB => (
            kinds::KB,
            "SELECT rowid, id FROM records WHERE entity = 'kb' AND branch IN (?1, 'HQ') AND rowid > ?2 ORDER BY rowid LIMIT ?3".into(),
        ),
        phases::BENEFICIARIES => (
            kinds::BENEFICIARY,
            "SELECT rid, id FROM beneficiaries WHERE branch = ?1 AND rid > ?2 ORDER BY rid LIMIT ?3".into(),
        ),
        phases::OPEN_CASES => (
            kinds::CASE,
            format!("SELECT rid, id FROM cases WHERE branch = ?1 AND rid > ?2 AND state NOT IN {CLOSED_STATES} ORDER BY rid LIMIT ?3"),
        ),
        phases::TASKS => (kinds::TASK, records("task")),
        phases::CLOSED_CASES => (
            kinds::CASE,
            format!("SELECT rid, id FROM cases WHERE branch = ?1 AND rid > ?2 AND state IN {CLOSED_STATES} ORDER BY rid LIMIT ?3"),
        ),
        phases::INTERACTIONS => (kinds::INTERACTION, records("interaction")),
        phases::DELIVERIES => (kinds::DELIVERY, records("delivery")),
        phases::SURVEYS => (kinds::SURVEY, records("survey")),
        phases::CONFLICTS => (
            kinds::CONFLICT,
            "SELECT id, CAST(id AS TEXT) FROM conflicts WHERE branch = ?1 AND id > ?2 AND resolved_at IS NULL ORDER BY id LIMIT ?3".into(),
        ),
        _ => return None,
    })
}

pub fn snapshot_plan(conn: &Connection, device: &Device) -> Result<SnapshotPlan> {
    let feed_head: i64 = conn
        .query_row(
            "SELECT feed_head FROM branches WHERE name = ?1",
            [&device.branch],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0);
    let mut out = Vec::new();
    for phase in phases::ALL {
        let (_, q) = phase_query(phase).expect("every phase has a query");
        let count = format!(
            "SELECT count(*) FROM ({})",
            q.replace("ORDER BY rowid LIMIT ?3", "")
                .replace("ORDER BY rid LIMIT ?3", "")
                .replace("ORDER BY id LIMIT ?3", "")
        );
        let records: i64 = conn.query_row(&count, params![device.branch, 0], |r| r.get(0))?;
        out.push(PhaseCount {
            phase: phase.to_owned(),
            records,
        });
    }
    Ok(SnapshotPlan {
        feed_head,
        phases: out,
    })
}

pub fn snapshot(
    conn: &Connection,
    device: &Device,
    phase: &str,
    after: i64,
    limit: usize,
) -> Result<PullResponse> {
    let limit = limit.clamp(1, 5000);
    let (kind, q) = phase_query(phase).ok_or(HqError::BadRequest("phase"))?;
    let mut stmt = conn.prepare_cached(&q)?;
    let rows = stmt
        .query_map(params![device.branch, after, limit as i64 + 1], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = rows.len() > limit;
    let mut changes = Vec::with_capacity(limit);
    let mut next = after;
    for (n, id) in rows.into_iter().take(limit) {
        next = n;
        if let Some(state) = record_state(conn, &device.branch, kind, &id)? {
            changes.push(Change {
                seq: n,
                kind: kind.to_owned(),
                entity_id: id,
                payload: raw(serde_json::to_string(&state)?),
            });
        }
    }
    Ok(PullResponse {
        changes,
        next,
        more,
        reset: false,
    })
}

/// Most lookups one device may make in an hour: a desk registers a few dozen people a day; a
/// device asking thousands is enumerating the register.
pub const LOOKUPS_PER_HOUR: i64 = 300;

/// Is this national ID registered at another branch? Where and since when, never the file. Every
/// question is kept (who asked, when, whether it matched: never the ID).
pub fn lookup(
    conn: &Connection,
    device: &Device,
    national_id: &str,
    now: DateTime<Utc>,
) -> Result<LookupResponse> {
    if national_id
        .parse::<sila_domain::national_id::NationalId>()
        .is_err()
    {
        return Err(HqError::BadRequest("national_id"));
    }
    let recent: i64 = conn.query_row(
        "SELECT count(*) FROM lookups WHERE device_id = ?1 AND at > ?2",
        params![
            device.device_id,
            (now - chrono::Duration::hours(1)).to_rfc3339()
        ],
        |r| r.get(0),
    )?;
    if recent >= LOOKUPS_PER_HOUR {
        return Err(HqError::TooMany);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT branch, min(substr(created_at, 1, 10)) FROM beneficiaries
         WHERE national_id = ?1 AND branch <> ?2 AND merged_into IS NULL GROUP BY branch ORDER BY branch",
    )?;
    let registered = stmt
        .query_map(params![national_id, device.branch], |r| {
            Ok(Registration {
                branch: r.get(0)?,
                since: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    conn.execute(
        "INSERT INTO lookups (device_id, at, found) VALUES (?1, ?2, ?3)",
        params![device.device_id, now.to_rfc3339(), !registered.is_empty()],
    )?;
    Ok(LookupResponse { registered })
}

// ---- files ----

/// A branch's view of a file: what it has delivered of it. A file HQ published is whole for all.
pub fn upload_status(conn: &Connection, branch: &str, sha256: &str) -> Result<UploadStatus> {
    let row: Option<(i64, i64, bool)> = conn
        .prepare_cached(
            "SELECT a.size, o.received, o.proven FROM attachments a
             JOIN attachment_owners o ON o.sha256 = a.sha256 AND o.branch IN (?2, '*')
             WHERE a.sha256 = ?1 ORDER BY o.proven DESC LIMIT 1",
        )?
        .query_row(params![sha256, branch], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (size, received, complete) = row.ok_or(HqError::NotFound("attachment"))?;
    Ok(UploadStatus {
        sha256: sha256.to_owned(),
        size,
        received,
        complete,
    })
}

/// One chunk of a file the branch declared. The branch proves it holds the file by delivering
/// every byte: checked against HQ's copy when HQ has the file already, otherwise assembled and
/// checked against its SHA-256 at the end.
pub fn upload_chunk(
    conn: &Connection,
    branch: &str,
    sha256: &str,
    offset: i64,
    bytes: &[u8],
) -> Result<UploadStatus> {
    let declared: Option<(i64, bool)> = conn
        .prepare_cached(
            "SELECT received, proven FROM attachment_owners WHERE sha256 = ?1 AND branch = ?2",
        )?
        .query_row(params![sha256, branch], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((received, proven)) = declared else {
        return Err(HqError::NotFound("attachment"));
    };
    let (size, complete): (i64, bool) = conn.query_row(
        "SELECT size, complete FROM attachments WHERE sha256 = ?1",
        [sha256],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let status = |received: i64, complete: bool| UploadStatus {
        sha256: sha256.to_owned(),
        size,
        received,
        complete,
    };
    let len = bytes.len() as i64;
    if proven || offset.checked_add(len).is_some_and(|end| end <= received) {
        // Held already (a repeated chunk).
        return Ok(status(received, proven));
    }
    if offset != received {
        return Err(HqError::UploadOffset(status(received, false)));
    }
    let end = offset.checked_add(len).filter(|e| *e <= size);
    let Some(end) = end else {
        return Err(HqError::BadRequest("chunk past the end of the file"));
    };
    let fail = |conn: &Connection| -> Result<UploadStatus> {
        conn.execute(
            "UPDATE attachment_owners SET received = 0 WHERE sha256 = ?1 AND branch = ?2",
            params![sha256, branch],
        )?;
        conn.execute(
            "DELETE FROM upload_chunks WHERE sha256 = ?1 AND branch = ?2",
            params![sha256, branch],
        )?;
        Err(HqError::HashMismatch)
    };
    if complete {
        let same: bool = conn.query_row(
            "SELECT substr(bytes, ?2, ?3) = ?4 FROM attachments WHERE sha256 = ?1",
            params![sha256, offset + 1, len, bytes],
            |r| r.get(0),
        )?;
        if !same {
            return fail(conn);
        }
    } else {
        conn.execute(
            "INSERT INTO upload_chunks (sha256, branch, offset, bytes) VALUES (?1, ?2, ?3, ?4)",
            params![sha256, branch, offset, bytes],
        )?;
    }
    let mut proven = false;
    if end == size {
        if !complete {
            let mut whole = Vec::with_capacity(size as usize);
            {
                let mut stmt = conn.prepare(
                    "SELECT bytes FROM upload_chunks WHERE sha256 = ?1 AND branch = ?2 ORDER BY offset",
                )?;
                for b in stmt.query_map(params![sha256, branch], |r| r.get::<_, Vec<u8>>(0))? {
                    whole.extend_from_slice(&b?);
                }
            }
            if hex::encode(Sha256::digest(&whole)) != sha256 {
                return fail(conn);
            }
            conn.execute(
                "UPDATE attachments SET received = size, complete = 1, bytes = ?2 WHERE sha256 = ?1",
                params![sha256, whole],
            )?;
            conn.execute(
                "DELETE FROM upload_chunks WHERE sha256 = ?1 AND branch = ?2",
                params![sha256, branch],
            )?;
        }
        proven = true;
    }
    conn.execute(
        "UPDATE attachment_owners SET received = ?3, proven = ?4 WHERE sha256 = ?1 AND branch = ?2",
        params![sha256, branch, end, proven],
    )?;
    Ok(status(end, proven))
}

/// Bytes of a file the branch holds itself (it delivered them) or HQ published.
pub fn download(
    conn: &Connection,
    branch: &str,
    sha256: &str,
    offset: i64,
    len: usize,
) -> Result<Vec<u8>> {
    let allowed: bool = conn
        .prepare_cached(
            "SELECT count(*) > 0 FROM attachment_owners WHERE sha256 = ?1 AND branch IN (?2, '*') AND proven = 1",
        )?
        .query_row(params![sha256, branch], |r| r.get(0))?;
    if !allowed {
        return Err(HqError::NotFound("attachment"));
    }
    let size: i64 = conn.query_row(
        "SELECT size FROM attachments WHERE sha256 = ?1 AND complete = 1",
        [sha256],
        |r| r.get(0),
    )?;
    if !(0..=size).contains(&offset) {
        return Err(HqError::BadRequest("offset"));
    }
    let len = len.min(sila_proto::MAX_CHUNK) as i64;
    Ok(conn.query_row(
        "SELECT substr(bytes, ?2, ?3) FROM attachments WHERE sha256 = ?1",
        params![sha256, offset + 1, len],
        |r| r.get(0),
    )?)
}
