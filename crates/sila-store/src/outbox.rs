//! The outbox: every local change as a named operation, in per-device sequence, written in the
//! same transaction as the change itself. Sync reads it from the last acknowledged sequence and
//! marks operations acknowledged only after HQ has committed them; nothing is deleted before that.

use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use sila_domain::ids::DeviceId;
use uuid::Uuid;

/// One operation as it travels to HQ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Per-device sequence number: the order HQ applies operations in.
    pub seq: i64,
    pub op_id: Uuid,
    pub device_id: DeviceId,
    /// The operation's name, e.g. "beneficiary.create", "case.transition".
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    /// The version of the record the edit was based on (None for creations and append-only records).
    pub base_version: Option<i64>,
    pub payload: serde_json::Value,
    /// The device's wall clock when the change was made: shown to people, never used to order.
    pub created_at: DateTime<Utc>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn append(
    tx: &Connection,
    device: &DeviceId,
    op: &str,
    entity: &str,
    entity_id: &str,
    base_version: Option<i64>,
    payload: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO outbox (op_id, device_id, op, entity, entity_id, base_version, payload, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
            Uuid::now_v7().to_string(),
            device.to_string(),
            op,
            entity,
            entity_id,
            base_version,
            serde_json::to_string(payload)?,
            now.to_rfc3339()
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Operations not yet acknowledged by HQ, in sequence, after `after_seq`, at most `limit`.
pub fn pending(conn: &Connection, after_seq: i64, limit: usize) -> Result<Vec<Op>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, op_id, device_id, op, entity, entity_id, base_version, payload, created_at
         FROM outbox WHERE acked_at IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
        let op_id: String = r.get(1)?;
        let device: String = r.get(2)?;
        let payload: String = r.get(7)?;
        let created: String = r.get(8)?;
        Ok((
            r.get(0)?,
            op_id,
            device,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            payload,
            created,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, op_id, device, op, entity, entity_id, base_version, payload, created): (
            i64,
            String,
            String,
            String,
            String,
            String,
            Option<i64>,
            String,
            String,
        ) = row?;
        out.push(Op {
            seq,
            op_id: op_id.parse().map_err(|_| crate::StoreError::Corrupt)?,
            device_id: device.parse().map_err(|_| crate::StoreError::Corrupt)?,
            op,
            entity,
            entity_id,
            base_version,
            // An acknowledged operation HQ lost in a restore whose payload this device had
            // let go: it is sent as lost.
            payload: if payload.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&payload)?
            },
            created_at: DateTime::parse_from_rfc3339(&created)
                .map_err(|_| crate::StoreError::Corrupt)?
                .into(),
        });
    }
    Ok(out)
}

/// Count of operations HQ has not acknowledged: the tally triggers keep as the outbox changes
/// (migrations/branch/0011_tallies.sql), not a count of the outbox.
pub fn pending_count(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM tallies WHERE name = 'outbox_pending'")?
        .query_row([], |r| r.get(0))?)
}

/// An operation as the sync client sends it: the payload as the JSON text it was stored as, so
/// sending never parses and re-serialises it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOp {
    pub seq: i64,
    pub op_id: String,
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    pub base_version: Option<i64>,
    pub payload: String,
    pub created_at: String,
}

/// Operations not yet acknowledged by HQ, in sequence, after `after_seq`, at most `limit`.
pub fn pending_raw(conn: &Connection, after_seq: i64, limit: usize) -> Result<Vec<RawOp>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, op_id, op, entity, entity_id, base_version, payload, created_at
         FROM outbox WHERE acked_at IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
        Ok(RawOp {
            seq: r.get(0)?,
            op_id: r.get(1)?,
            op: r.get(2)?,
            entity: r.get(3)?,
            entity_id: r.get(4)?,
            base_version: r.get(5)?,
            payload: r.get(6)?,
            created_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Acknowledged payloads are packed this many at a time: a run of similar JSON compresses about
/// six to one, a single payload barely two to one. Fewer wait as text for the next run.
pub const PACK_RUN: usize = 512;

/// Pack the acknowledged payloads in `(after, through]` that are still kept as text, in runs of
/// [`PACK_RUN`]: each run compressed into one `outbox_packs` row, the rows' payloads emptied.
/// A shorter tail stays as text until the run fills. Returns how many payloads went into packs.
pub(crate) fn pack_acknowledged(tx: &Connection, after: i64, through: i64) -> Result<usize> {
    let mut last = after;
    let mut packed = 0;
    loop {
        let run: Vec<(i64, String)> = tx
            .prepare_cached(
                "SELECT seq, payload FROM outbox WHERE seq > ?1 AND seq <= ?2
                 AND acked_at IS NOT NULL AND payload <> '' ORDER BY seq LIMIT ?3",
            )?
            .query_map(params![last, through, PACK_RUN as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if run.len() < PACK_RUN {
            return Ok(packed);
        }
        // One line a payload: its sequence, a tab, its JSON (serde_json writes no raw newline).
        let mut text = String::with_capacity(run.iter().map(|(_, p)| p.len() + 12).sum());
        for (seq, payload) in &run {
            text.push_str(&seq.to_string());
            text.push('\t');
            text.push_str(payload);
            text.push('\n');
        }
        let blob = zstd::encode_all(text.as_bytes(), 6).map_err(|_| crate::StoreError::Corrupt)?;
        let (first, end) = (run[0].0, run[run.len() - 1].0);
        tx.prepare_cached(
            "INSERT INTO outbox_packs (first_seq, last_seq, payloads) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![first, end, blob])?;
        tx.prepare_cached(
            "UPDATE outbox SET payload = '' WHERE seq >= ?1 AND seq <= ?2
             AND acked_at IS NOT NULL AND payload <> ''",
        )?
        .execute(params![first, end])?;
        packed += run.len();
        last = end;
    }
}

/// Put back into their rows the payloads of every pack holding an operation after `after`
/// (HQ, restored from a copy, holds only up to `after`: those are sent again), and drop those
/// packs. Returns how many payloads came back.
pub(crate) fn unpack_after(tx: &Connection, after: i64) -> Result<usize> {
    let packs: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT first_seq, payloads FROM outbox_packs WHERE last_seq > ?1")?
        .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut back = 0;
    for (first, blob) in packs {
        let bytes = zstd::decode_all(blob.as_slice()).map_err(|_| crate::StoreError::Corrupt)?;
        let text = String::from_utf8(bytes).map_err(|_| crate::StoreError::Corrupt)?;
        let mut put = tx.prepare_cached("UPDATE outbox SET payload = ?2 WHERE seq = ?1")?;
        for line in text.lines() {
            let (seq, payload) = line.split_once('\t').ok_or(crate::StoreError::Corrupt)?;
            let seq: i64 = seq.parse().map_err(|_| crate::StoreError::Corrupt)?;
            back += put.execute(params![seq, payload])?;
        }
        tx.execute("DELETE FROM outbox_packs WHERE first_seq = ?1", [first])?;
    }
    Ok(back)
}
