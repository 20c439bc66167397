//! The storage operations of [`crate::storage::Tx`] in SQLite: one IMMEDIATE transaction on
//! HQ's one connection. SQL and nothing else: what may be stored is decided by the rules.

use crate::storage::{
    AppliedOp, ConflictRecord, DeviceState, FieldVersions, Kind, MergeRecord, NewConflict, OpMeta,
    Record, Tx,
};
use crate::{HqError, Result};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;

pub struct SqliteTx<'a> {
    pub(crate) tx: Transaction<'a>,
}

impl<'a> SqliteTx<'a> {
    pub fn new(tx: Transaction<'a>) -> SqliteTx<'a> {
        SqliteTx { tx }
    }

    pub fn commit(self) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }

    fn merge_where(&self, filter: &str, key: &dyn rusqlite::ToSql) -> Result<Option<MergeRecord>> {
        let row = self
            .tx
            .prepare_cached(&format!(
                "SELECT id, survivor, merged, chosen, previous, staff_id, staff_name, undone_at IS NOT NULL,
                        branch_merge_id FROM merges WHERE {filter}"
            ))?
            .query_row([key], |r| {
                Ok((
                    MergeRecord {
                        id: r.get(0)?,
                        survivor: r.get(1)?,
                        merged: r.get(2)?,
                        chosen: Value::Null,
                        previous: Value::Null,
                        staff_id: r.get(5)?,
                        staff_name: r.get(6)?,
                        undone: r.get(7)?,
                        branch_merge_id: r.get(8)?,
                    },
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()?;
        row.map(|(mut m, chosen, previous)| {
            m.chosen = serde_json::from_str(&chosen)?;
            m.previous = serde_json::from_str(&previous)?;
            Ok(m)
        })
        .transpose()
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize> {
        Ok(self.tx.prepare_cached(sql)?.execute(p)?)
    }
}

/// Which table a kind lives in, and the SQL that reads and writes it.
fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Beneficiary => "beneficiaries",
        Kind::Case => "cases",
        _ => "records",
    }
}

fn parse_fields(s: &str) -> Result<FieldVersions> {
    Ok(serde_json::from_str(s)?)
}

impl Tx for SqliteTx<'_> {
    fn device_state(&mut self, device_id: &str) -> Result<Option<DeviceState>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT last_seq, revoked_at IS NOT NULL FROM devices WHERE device_id = ?1",
            )?
            .query_row([device_id], |r| {
                Ok(DeviceState {
                    last_seq: r.get(0)?,
                    revoked: r.get(1)?,
                })
            })
            .optional()?)
    }

    fn set_device_seen(
        &mut self,
        device_id: &str,
        last_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "UPDATE devices SET last_seq = max(last_seq, ?2), last_seen_at = ?3 WHERE device_id = ?1",
            params![device_id, last_seq, now.to_rfc3339()],
        )?;
        Ok(())
    }

    fn applied_at(&mut self, device_id: &str, seq: i64) -> Result<Option<AppliedOp>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT seq, op_id, result, reason FROM applied_ops WHERE device_id = ?1 AND seq = ?2",
            )?
            .query_row(params![device_id, seq], applied_op)
            .optional()?)
    }

    fn applied_by_id(&mut self, device_id: &str, op_id: &str) -> Result<Option<AppliedOp>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT seq, op_id, result, reason FROM applied_ops WHERE device_id = ?1 AND op_id = ?2
                 ORDER BY seq LIMIT 1",
            )?
            .query_row(params![device_id, op_id], applied_op)
            .optional()?)
    }

    fn record_applied(
        &mut self,
        op: &OpMeta<'_>,
        result: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO applied_ops (device_id, seq, op_id, op, entity, entity_id, result, reason, created_at, applied_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                op.device_id,
                op.seq,
                op.op_id,
                op.op,
                op.entity,
                op.entity_id,
                result,
                reason,
                op.created_at.to_rfc3339(),
                now.to_rfc3339()
            ],
        )?;
        Ok(())
    }

    fn begin_op(&mut self) -> Result<()> {
        self.exec("SAVEPOINT op", [])?;
        Ok(())
    }

    fn undo_op(&mut self) -> Result<()> {
        self.exec("ROLLBACK TO op", [])?;
        self.exec("RELEASE op", [])?;
        Ok(())
    }

    fn end_op(&mut self) -> Result<()> {
        self.exec("RELEASE op", [])?;
        Ok(())
    }

    fn load(&mut self, kind: Kind, id: &str) -> Result<Option<Record>> {
        let sql = match kind {
            Kind::Beneficiary => {
                "SELECT branch, device_id, data, version, fields, merged_into, 0 FROM beneficiaries WHERE id = ?1"
            }
            Kind::Case => {
                "SELECT branch, device_id, data, version, fields, NULL, hq_decided FROM cases WHERE id = ?1"
            }
            _ => {
                "SELECT branch, device_id, data, version, fields, NULL, 0 FROM records WHERE id = ?1 AND entity = ?2"
            }
        };
        let mut stmt = self.tx.prepare_cached(sql)?;
        let read = |r: &rusqlite::Row<'_>| {
            Ok(Stored {
                branch: r.get(0)?,
                created_by: r.get(1)?,
                data: r.get(2)?,
                version: r.get(3)?,
                fields: r.get(4)?,
                merged_into: r.get(5)?,
                hq_decided: r.get(6)?,
            })
        };
        let row = match kind {
            Kind::Beneficiary | Kind::Case => stmt.query_row([id], read),
            _ => stmt.query_row(params![id, kind.code()], read),
        }
        .optional()?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Record {
            kind,
            id: id.to_owned(),
            branch: row.branch,
            created_by: row.created_by,
            data: serde_json::from_str(&row.data)?,
            version: row.version,
            fields: parse_fields(&row.fields)?,
            merged_into: row.merged_into,
            hq_decided: row.hq_decided,
        }))
    }

    fn insert(&mut self, rec: &Record, now: DateTime<Utc>) -> Result<()> {
        let stamp = now.to_rfc3339();
        let data = serde_json::to_string(&rec.data)?;
        let fields = serde_json::to_string(&rec.fields)?;
        match rec.kind {
            Kind::Beneficiary => self.exec(
                "INSERT INTO beneficiaries (id, branch, device_id, national_id, data, version, fields, merged_into, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![rec.id, rec.branch, rec.created_by, national_id(&rec.data), data, rec.version, fields, rec.merged_into, stamp],
            )?,
            Kind::Case => self.exec(
                "INSERT INTO cases (id, branch, device_id, beneficiary_id, state, data, version, fields, hq_decided, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    rec.id,
                    rec.branch,
                    rec.created_by,
                    text(&rec.data, "beneficiary_id"),
                    text(&rec.data, "state"),
                    data,
                    rec.version,
                    fields,
                    rec.hq_decided,
                    stamp
                ],
            )?,
            _ => self.exec(
                "INSERT INTO records (entity, id, branch, device_id, data, version, fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![rec.kind.code(), rec.id, rec.branch, rec.created_by, data, rec.version, fields],
            )?,
        };
        Ok(())
    }

    fn update(&mut self, rec: &Record, now: DateTime<Utc>) -> Result<()> {
        let stamp = now.to_rfc3339();
        let data = serde_json::to_string(&rec.data)?;
        let fields = serde_json::to_string(&rec.fields)?;
        let n = match rec.kind {
            Kind::Beneficiary => self.exec(
                "UPDATE beneficiaries SET data = ?2, version = ?3, fields = ?4, national_id = ?5, merged_into = ?6, updated_at = ?7
                 WHERE id = ?1",
                params![rec.id, data, rec.version, fields, national_id(&rec.data), rec.merged_into, stamp],
            )?,
            Kind::Case => self.exec(
                "UPDATE cases SET data = ?2, version = ?3, fields = ?4, state = ?5, hq_decided = ?6, updated_at = ?7 WHERE id = ?1",
                params![rec.id, data, rec.version, fields, text(&rec.data, "state"), rec.hq_decided, stamp],
            )?,
            _ => self.exec(
                "UPDATE records SET data = ?3, version = ?4, fields = ?5 WHERE entity = ?1 AND id = ?2",
                params![rec.kind.code(), rec.id, data, rec.version, fields],
            )?,
        };
        if n != 1 {
            return Err(HqError::NotFound(table(rec.kind)));
        }
        Ok(())
    }

    fn case_events(&mut self, case_id: &str) -> Result<Vec<Value>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT data FROM case_events WHERE case_id = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([case_id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(serde_json::from_str(&r?)?);
        }
        Ok(out)
    }

    fn append_case_event(&mut self, case_id: &str, origin: &str, event: &Value) -> Result<()> {
        self.exec(
            "INSERT INTO case_events (case_id, origin, data) VALUES (?1, ?2, ?3)",
            params![case_id, origin, serde_json::to_string(event)?],
        )?;
        Ok(())
    }

    fn add_conflict(&mut self, c: &NewConflict<'_>, now: DateTime<Utc>) -> Result<i64> {
        self.exec(
            "INSERT INTO conflicts (entity, entity_id, branch, field, hq_value, branch_value, base_version, device_id, seq, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                c.kind.code(),
                c.entity_id,
                c.branch,
                c.field,
                serde_json::to_string(c.current)?,
                serde_json::to_string(c.proposed)?,
                c.base_version,
                c.device_id,
                c.seq,
                c.reason,
                now.to_rfc3339()
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    fn declare_attachment(
        &mut self,
        sha256: &str,
        mime: &str,
        size: i64,
        branch: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO attachments (sha256, mime, size) VALUES (?1, ?2, ?3) ON CONFLICT(sha256) DO NOTHING",
            params![sha256, mime, size],
        )?;
        self.exec(
            "INSERT INTO attachment_owners (sha256, branch) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sha256, branch],
        )?;
        Ok(())
    }

    fn attachment_declared(&mut self, sha256: &str, branch: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT count(*) > 0 FROM attachment_owners WHERE sha256 = ?1 AND branch IN (?2, '*')",
            )?
            .query_row(params![sha256, branch], |r| r.get(0))?)
    }

    fn reference_attachment(
        &mut self,
        sha256: &str,
        branch: &str,
        kind: Kind,
        entity_id: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO attachment_refs (sha256, branch, entity, entity_id) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![sha256, branch, kind.code(), entity_id],
        )?;
        Ok(())
    }

    fn feed(
        &mut self,
        branch: &str,
        kind: &str,
        entity_id: &str,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        // The branch row is the feed's counter: taking the next number writes it, so another
        // writer waits for this transaction to end before it numbers an entry of this branch.
        let seq: Option<i64> = self
            .tx
            .prepare_cached(
                "UPDATE branches SET feed_head = feed_head + 1 WHERE name = ?1 RETURNING feed_head",
            )?
            .query_row([branch], |r| r.get(0))
            .optional()?;
        let seq = match seq {
            Some(s) => s,
            None => {
                self.exec(
                    "INSERT INTO branches (name, created_at, feed_head) VALUES (?1, ?2, 1)",
                    params![branch, now.to_rfc3339()],
                )?;
                1
            }
        };
        self.exec(
            "INSERT INTO feed (branch, seq, kind, entity_id, origin, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![branch, seq, kind, entity_id, origin, now.to_rfc3339()],
        )?;
        Ok(seq)
    }

    fn branch_names(&mut self) -> Result<Vec<String>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT name FROM branches ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn conflict(&mut self, id: i64) -> Result<Option<ConflictRecord>> {
        let parse = |s: Option<String>| -> Value {
            s.and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null)
        };
        let row = self
            .tx
            .prepare_cached(
                "SELECT entity, entity_id, branch, field, hq_value, branch_value, resolved_at IS NOT NULL
                 FROM conflicts WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    ConflictRecord {
                        id,
                        kind: Kind::Beneficiary,
                        entity_id: r.get(1)?,
                        branch: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                        field: r.get(3)?,
                        current: parse(r.get(4)?),
                        proposed: parse(r.get(5)?),
                        resolved: r.get(6)?,
                    },
                ))
            })
            .optional()?;
        row.map(|(entity, mut c)| {
            c.kind = Kind::from_code(&entity).ok_or(HqError::BadRequest("conflict entity"))?;
            Ok(c)
        })
        .transpose()
    }

    fn set_conflict_resolved(
        &mut self,
        id: i64,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "UPDATE conflicts SET resolved_at = ?2, resolution = ?3 WHERE id = ?1",
            params![id, now.to_rfc3339(), resolution],
        )?;
        Ok(())
    }

    fn insert_merge(&mut self, m: &MergeRecord, now: DateTime<Utc>) -> Result<i64> {
        self.exec(
            "INSERT INTO merges (survivor, merged, chosen, previous, staff_id, staff_name, at, branch_merge_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                m.survivor,
                m.merged,
                serde_json::to_string(&m.chosen)?,
                serde_json::to_string(&m.previous)?,
                m.staff_id,
                m.staff_name,
                now.to_rfc3339(),
                m.branch_merge_id
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    fn merge_record(&mut self, id: i64) -> Result<Option<MergeRecord>> {
        self.merge_where("id = ?1", &id)
    }

    fn branch_merge(&mut self, branch_merge_id: &str) -> Result<Option<MergeRecord>> {
        self.merge_where("branch_merge_id = ?1", &branch_merge_id)
    }

    fn set_merge_undone(&mut self, id: i64, staff_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "UPDATE merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1",
            params![id, now.to_rfc3339(), staff_id],
        )?;
        Ok(())
    }

    fn add_not_same(&mut self, a: &str, b: &str, staff_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO not_duplicates (a, b, staff_id, at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![a, b, staff_id, now.to_rfc3339()],
        )?;
        Ok(())
    }

    fn publish_file(&mut self, sha256: &str, mime: &str, bytes: &[u8]) -> Result<()> {
        self.exec(
            "INSERT INTO attachments (sha256, mime, size, received, complete, bytes) VALUES (?1, ?2, ?3, ?3, 1, ?4)
             ON CONFLICT(sha256) DO UPDATE SET received = excluded.received, complete = 1, bytes = excluded.bytes",
            params![sha256, mime, bytes.len() as i64, bytes],
        )?;
        self.exec(
            "INSERT INTO attachment_owners (sha256, branch, received, proven) VALUES (?1, '*', ?2, 1)
             ON CONFLICT DO NOTHING",
            params![sha256, bytes.len() as i64],
        )?;
        Ok(())
    }

    fn audit(
        &mut self,
        staff_id: &str,
        action: &str,
        entity: &str,
        entity_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO hq_audit (at, staff_id, action, entity, entity_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now.to_rfc3339(), staff_id, action, entity, entity_id],
        )?;
        Ok(())
    }

    fn staff_username_taken(
        &mut self,
        branch: &str,
        username: &str,
        except_id: &str,
    ) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT count(*) > 0 FROM records WHERE entity = 'staff' AND branch = ?1 AND id <> ?2
                 AND json_extract(data, '$.username') = ?3",
            )?
            .query_row(params![branch, except_id, username], |r| r.get(0))?)
    }

    fn branch_known(&mut self, branch: &str) -> Result<bool> {
        Ok(self
            .tx
            .prepare_cached("SELECT count(*) > 0 FROM branches WHERE name = ?1")?
            .query_row([branch], |r| r.get(0))?)
    }
}

/// A record's row as stored, before its JSON is read.
struct Stored {
    branch: String,
    created_by: String,
    data: String,
    version: i64,
    fields: String,
    merged_into: Option<String>,
    hq_decided: bool,
}

fn applied_op(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppliedOp> {
    Ok(AppliedOp {
        seq: r.get(0)?,
        op_id: r.get(1)?,
        result: r.get(2)?,
        reason: r.get(3)?,
    })
}

fn text(data: &Value, field: &str) -> Option<String> {
    data.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// The index column of a beneficiary's national ID.
fn national_id(data: &Value) -> Option<String> {
    text(data, "national_id")
}
