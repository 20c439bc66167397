//! The storage operations of [`crate::storage::Tx`] in the SQL both engines share, inside one
//! transaction of either. SQL and nothing else: what may be stored is decided by the rules.

use crate::db::Conn;
use crate::db::copy::{APPLIED_OPS_COLUMNS, FEED_COLUMNS};
use crate::files::Files;
use crate::params;
use crate::sql::rows::Rows;
use crate::storage::{
    AppliedOp, ConflictRecord, DeviceRow, DeviceState, EnrolCode, FieldVersions, Kind, MergeRecord,
    NewConflict, OpMeta, Record, Tx,
};
use crate::{HqError, Result};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;

pub struct SqlTx<'a> {
    pub(crate) c: &'a mut dyn Conn,
    /// Where a file published at HQ keeps its bytes.
    files: &'a Files,
    /// Records this transaction has read or written (None: known not to exist), so a push reads
    /// each once: a case created after its person in the same batch finds the person here. Every
    /// write of a record goes through [`Tx::insert`] / [`Tx::update`], which keep this current;
    /// an operation undone forgets it all.
    records: HashMap<(Kind, String), Option<Record>>,
    /// The last feed number taken per branch in this transaction. The branch's row is locked from
    /// the first number on (see [`Tx::feed`]), so the next is this plus one without asking.
    heads: HashMap<String, i64>,
    /// `heads` when the current operation began, restored if it is undone.
    heads_at_op: HashMap<String, i64>,
    /// Feed entries and applied operations, written many to a statement by [`SqlTx::finish`]:
    /// nothing in a transaction reads them back (the push reads applied operations before it
    /// keeps any, and those reads write these first all the same).
    feed_rows: Rows,
    applied_rows: Rows,
    /// Their lengths when the current operation began, cut back to if it is undone.
    rows_at_op: (usize, usize),
    /// The last operation ended without releasing its savepoint: the next one's releases it
    /// in the same statement, and the commit releases the last.
    release: bool,
}

static IN_DATABASE: Files = Files::Database;

impl<'a> SqlTx<'a> {
    /// For reads (a write kept for the end would be lost: use [`SqlTx::run`]).
    pub fn reader(c: &'a mut dyn Conn) -> SqlTx<'a> {
        SqlTx::with_files(c, &IN_DATABASE)
    }

    fn with_files(c: &'a mut dyn Conn, files: &'a Files) -> SqlTx<'a> {
        SqlTx {
            c,
            files,
            records: HashMap::new(),
            heads: HashMap::new(),
            heads_at_op: HashMap::new(),
            feed_rows: Rows::new("feed", FEED_COLUMNS),
            applied_rows: Rows::new("applied_ops", APPLIED_OPS_COLUMNS),
            rows_at_op: (0, 0),
            release: false,
        }
    }

    /// Run `f` over the storage operations of the transaction `c` is in, then write what they
    /// kept for the end (see [`SqlTx::finish`]). The only way to make one that writes.
    pub fn run<R>(
        c: &'a mut dyn Conn,
        files: &'a Files,
        f: impl FnOnce(&mut SqlTx<'a>) -> Result<R>,
    ) -> Result<R> {
        let mut tx = SqlTx::with_files(c, files);
        let out = f(&mut tx)?;
        tx.finish()?;
        Ok(out)
    }

    /// Write the feed entries and applied operations kept, and the feed heads counted here.
    fn finish(&mut self) -> Result<()> {
        self.applied_rows.write(self.c)?;
        self.feed_rows.write(self.c)?;
        for (branch, head) in &self.heads {
            self.c.execute_later(
                "UPDATE branches SET feed_head = ?2 WHERE name = ?1",
                params![branch, *head],
            )?;
        }
        Ok(())
    }

    /// Read records of one kind by ID, locked for change, into `self.records`: a lookup each
    /// by the key's index ([`Conn::query_keys`]; a list in one statement may be planned as a
    /// scan of the table).
    fn fetch(&mut self, kind: Kind, ids: &[&str]) -> Result<()> {
        let lock = self.c.dialect().for_update();
        let (lookup, fixed): (String, Vec<crate::db::Val>) = match kind {
            Kind::Beneficiary => (
                format!(
                    "SELECT id, branch, device_id, data, version, fields, merged_into, 0 FROM beneficiaries WHERE id = {{key}}{lock}"
                ),
                vec![],
            ),
            Kind::Case => (
                format!(
                    "SELECT id, branch, device_id, data, version, fields, NULL, hq_decided FROM cases WHERE id = {{key}}{lock}"
                ),
                vec![],
            ),
            _ => (
                format!(
                    "SELECT id, branch, device_id, data, version, fields, NULL, 0 FROM records WHERE entity = ?1 AND id = {{key}}{lock}"
                ),
                vec![kind.code().into()],
            ),
        };
        for id in ids {
            self.records.insert((kind, (*id).to_owned()), None);
        }
        for r in self.c.query_keys(&lookup, &fixed, ids)? {
            let rec = Record {
                kind,
                id: r.text(0)?,
                branch: r.text(1)?,
                created_by: r.text(2)?,
                data: serde_json::from_str(&r.text(3)?)?,
                version: r.i64(4)?,
                fields: parse_fields(&r.text(5)?)?,
                merged_into: r.opt_text(6)?,
                hq_decided: r.bool(7)?,
            };
            self.records.insert((kind, rec.id.clone()), Some(rec));
        }
        Ok(())
    }

    /// What a later load of `rec` reads, as the engine stores it.
    fn remember(&mut self, rec: &Record) {
        let mut rec = rec.clone();
        if rec.kind != Kind::Beneficiary {
            rec.merged_into = None;
        }
        if rec.kind != Kind::Case {
            rec.hq_decided = false;
        }
        self.records.insert((rec.kind, rec.id.clone()), Some(rec));
    }

    /// The merge `filter` (over `?1`) finds, locked for change.
    fn merge_where(&mut self, filter: &str, key: crate::db::Val) -> Result<Option<MergeRecord>> {
        let lock = self.c.dialect().for_update();
        let Some(r) = self.c.row(
            &format!(
                "SELECT id, survivor, merged, chosen, previous, staff_id, staff_name, undone_at, branch_merge_id
                 FROM merges WHERE {filter}{lock}"
            ),
            &[key],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(MergeRecord {
            id: r.i64(0)?,
            survivor: r.text(1)?,
            merged: r.text(2)?,
            chosen: r.json(3)?,
            previous: r.json(4)?,
            staff_id: r.text(5)?,
            staff_name: r.text(6)?,
            undone: r.opt_text(7)?.is_some(),
            branch_merge_id: r.opt_text(8)?,
        }))
    }
}

/// Which table a kind lives in.
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

fn text(data: &Value, field: &str) -> Option<String> {
    data.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn applied_op(r: &crate::db::Row) -> Result<AppliedOp> {
    Ok(AppliedOp {
        seq: r.i64(0)?,
        op_id: r.text(1)?,
        result: r.text(2)?,
        reason: r.opt_text(3)?,
    })
}

impl Tx for SqlTx<'_> {
    fn device_state(&mut self, device_id: &str) -> Result<Option<DeviceState>> {
        // Locked until the transaction ends: one push per device at a time, on any server.
        let sql = format!(
            "SELECT last_seq, revoked_at IS NOT NULL FROM devices WHERE device_id = ?1{}",
            self.c.dialect().for_update()
        );
        self.c
            .row(&sql, params![device_id])?
            .map(|r| {
                Ok(DeviceState {
                    last_seq: r.i64(0)?,
                    revoked: r.bool(1)?,
                })
            })
            .transpose()
    }

    fn set_device_seen(
        &mut self,
        device_id: &str,
        last_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.c.execute_later(
            "UPDATE devices SET last_seq = CASE WHEN last_seq > ?2 THEN last_seq ELSE ?2 END, last_seen_at = ?3
             WHERE device_id = ?1",
            params![device_id, last_seq, now],
        )?;
        Ok(())
    }

    fn applied_between(&mut self, device_id: &str, from: i64, to: i64) -> Result<Vec<AppliedOp>> {
        self.applied_rows.write(self.c)?;
        self.c
            .query(
                // In the primary key's order: PostgreSQL then walks it from `from` to `to`, even
                // with a plan made while the table was empty (which otherwise may read every
                // operation of the device through the other index).
                "SELECT seq, op_id, result, reason FROM applied_ops WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3
                 ORDER BY seq",
                params![device_id, from, to],
            )?
            .iter()
            .map(applied_op)
            .collect()
    }

    fn applied_with_ids(&mut self, device_id: &str, op_ids: &[&str]) -> Result<Vec<AppliedOp>> {
        self.applied_rows.write(self.c)?;
        self.c
            .query_keys(
                "SELECT seq, op_id, result, reason FROM applied_ops WHERE device_id = ?1 AND op_id = {key}",
                params![device_id],
                op_ids,
            )?
            .iter()
            .map(applied_op)
            .collect()
    }

    fn record_applied(
        &mut self,
        op: &OpMeta<'_>,
        result: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.applied_rows.push(
            params![
                op.device_id,
                op.seq,
                op.op_id,
                op.op,
                op.entity,
                op.entity_id,
                result,
                reason,
                op.created_at,
                now
            ]
            .iter()
            .cloned(),
        );
        Ok(())
    }

    fn begin_op(&mut self) -> Result<()> {
        self.heads_at_op.clone_from(&self.heads);
        self.rows_at_op = (self.feed_rows.len(), self.applied_rows.len());
        let sql = if std::mem::take(&mut self.release) {
            "RELEASE SAVEPOINT op; SAVEPOINT op"
        } else {
            "SAVEPOINT op"
        };
        self.c.batch_later(sql)
    }

    fn undo_op(&mut self) -> Result<()> {
        // Waits for everything sent: a statement of the operation that failed fails the
        // transaction, it is not rolled back as if the rules had refused it.
        self.c
            .batch("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")?;
        self.records.clear();
        // A first number taken in the operation was rolled back with it (and its row's lock
        // released): the next entry takes it again.
        self.heads.clone_from(&self.heads_at_op);
        self.feed_rows.truncate(self.rows_at_op.0);
        self.applied_rows.truncate(self.rows_at_op.1);
        Ok(())
    }

    fn end_op(&mut self) -> Result<()> {
        self.release = true;
        Ok(())
    }

    fn prefetch(&mut self, wanted: &[(Kind, &str)]) -> Result<()> {
        for kind in Kind::ALL {
            let mut ids: Vec<&str> = wanted
                .iter()
                .filter(|(k, id)| {
                    *k == kind && !self.records.contains_key(&(kind, (*id).to_owned()))
                })
                .map(|(_, id)| *id)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            if !ids.is_empty() {
                self.fetch(kind, &ids)?;
            }
        }
        Ok(())
    }

    fn load(&mut self, kind: Kind, id: &str) -> Result<Option<Record>> {
        let key = (kind, id.to_owned());
        if !self.records.contains_key(&key) {
            self.fetch(kind, &[id])?;
        }
        Ok(self.records.get(&key).cloned().flatten())
    }

    fn insert(&mut self, rec: &Record, now: DateTime<Utc>) -> Result<()> {
        let data = serde_json::to_string(&rec.data)?;
        let fields = serde_json::to_string(&rec.fields)?;
        match rec.kind {
            Kind::Beneficiary => self.c.execute_later(
                "INSERT INTO beneficiaries (id, branch, device_id, national_id, data, version, fields, merged_into, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![&rec.id, &rec.branch, &rec.created_by, text(&rec.data, "national_id"), data, rec.version, fields, rec.merged_into.clone(), now],
            )?,
            Kind::Case => self.c.execute_later(
                "INSERT INTO cases (id, branch, device_id, beneficiary_id, state, data, version, fields, hq_decided, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![
                    &rec.id,
                    &rec.branch,
                    &rec.created_by,
                    text(&rec.data, "beneficiary_id"),
                    text(&rec.data, "state"),
                    data,
                    rec.version,
                    fields,
                    rec.hq_decided,
                    now
                ],
            )?,
            _ => self.c.execute_later(
                "INSERT INTO records (entity, id, branch, device_id, data, version, fields) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![rec.kind.code(), &rec.id, &rec.branch, &rec.created_by, data, rec.version, fields],
            )?,
        };
        if rec.kind == Kind::Beneficiary {
            // The register's search terms, in the same transaction as the record.
            crate::sql::register::index_person(self.c, &rec.id, &rec.data, true)?;
        }
        self.remember(rec);
        Ok(())
    }

    fn update(&mut self, rec: &Record, now: DateTime<Utc>) -> Result<()> {
        let data = serde_json::to_string(&rec.data)?;
        let fields = serde_json::to_string(&rec.fields)?;
        let n = match rec.kind {
            Kind::Beneficiary => self.c.exec(
                "UPDATE beneficiaries SET data = ?2, version = ?3, fields = ?4, national_id = ?5, merged_into = ?6, updated_at = ?7
                 WHERE id = ?1",
                params![&rec.id, data, rec.version, fields, text(&rec.data, "national_id"), rec.merged_into.clone(), now],
            )?,
            Kind::Case => self.c.exec(
                "UPDATE cases SET data = ?2, version = ?3, fields = ?4, state = ?5, hq_decided = ?6, updated_at = ?7 WHERE id = ?1",
                params![&rec.id, data, rec.version, fields, text(&rec.data, "state"), rec.hq_decided, now],
            )?,
            _ => self.c.exec(
                "UPDATE records SET data = ?3, version = ?4, fields = ?5 WHERE entity = ?1 AND id = ?2",
                params![rec.kind.code(), &rec.id, data, rec.version, fields],
            )?,
        };
        if n != 1 {
            return Err(HqError::NotFound(table(rec.kind)));
        }
        if rec.kind == Kind::Beneficiary {
            crate::sql::register::index_person(self.c, &rec.id, &rec.data, false)?;
        }
        self.remember(rec);
        Ok(())
    }

    fn case_events(&mut self, case_id: &str) -> Result<Vec<Value>> {
        self.c
            .query(
                "SELECT data FROM case_events WHERE case_id = ?1 ORDER BY seq",
                params![case_id],
            )?
            .iter()
            .map(|r| r.json(0))
            .collect()
    }

    fn append_case_event(&mut self, case_id: &str, origin: &str, event: &Value) -> Result<()> {
        self.c.execute_later(
            "INSERT INTO case_events (case_id, origin, data) VALUES (?1, ?2, ?3)",
            params![case_id, origin, serde_json::to_string(event)?],
        )?;
        Ok(())
    }

    fn add_conflict(&mut self, c: &NewConflict<'_>, now: DateTime<Utc>) -> Result<i64> {
        self.c
            .one(
                "INSERT INTO conflicts (entity, entity_id, branch, field, hq_value, branch_value, base_version, device_id, seq, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
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
                    now
                ],
            )?
            .i64(0)
    }

    fn declare_attachment(
        &mut self,
        sha256: &str,
        mime: &str,
        size: i64,
        branch: &str,
    ) -> Result<()> {
        self.c.execute_later(
            "INSERT INTO attachments (sha256, mime, size) VALUES (?1, ?2, ?3) ON CONFLICT (sha256) DO NOTHING",
            params![sha256, mime, size],
        )?;
        self.c.execute_later(
            "INSERT INTO attachment_owners (sha256, branch) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sha256, branch],
        )?;
        Ok(())
    }

    fn attachment_declared(&mut self, sha256: &str, branch: &str) -> Result<bool> {
        Ok(self
            .c
            .row(
                "SELECT 1 FROM attachment_owners WHERE sha256 = ?1 AND branch IN (?2, '*') LIMIT 1",
                params![sha256, branch],
            )?
            .is_some())
    }

    fn reference_attachment(
        &mut self,
        sha256: &str,
        branch: &str,
        kind: Kind,
        entity_id: &str,
    ) -> Result<()> {
        self.c.execute_later(
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
        // The branch row is the feed's counter: taking the first number writes it, so another
        // writer waits for this transaction to end before it numbers an entry of this branch
        // (SQLite: its one writer; PostgreSQL: the row's lock), and entries commit in the order
        // of their numbers. The row stays locked: later numbers are counted here, and the head
        // written once at the end ([`SqlTx::finish`]).
        let seq = match self.heads.get(branch) {
            Some(head) => head + 1,
            None => {
                match self.c.row(
                    "UPDATE branches SET feed_head = feed_head + 1 WHERE name = ?1 RETURNING feed_head",
                    params![branch],
                )? {
                    Some(r) => r.i64(0)?,
                    None => {
                        self.c.exec(
                            "INSERT INTO branches (name, created_at, feed_head) VALUES (?1, ?2, 1)",
                            params![branch, now],
                        )?;
                        1
                    }
                }
            }
        };
        self.heads.insert(branch.to_owned(), seq);
        self.feed_rows.push(
            params![branch, seq, kind, entity_id, origin, now]
                .iter()
                .cloned(),
        );
        Ok(seq)
    }

    fn branch_names(&mut self) -> Result<Vec<String>> {
        self.c
            .query("SELECT name FROM branches ORDER BY name", params![])?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }

    fn conflict(&mut self, id: i64) -> Result<Option<ConflictRecord>> {
        let Some(r) = self.c.row(
            "SELECT entity, entity_id, branch, field, hq_value, branch_value, resolved_at IS NOT NULL
             FROM conflicts WHERE id = ?1",
            params![id],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(ConflictRecord {
            id,
            kind: Kind::from_code(&r.text(0)?).ok_or(HqError::BadRequest("conflict entity"))?,
            entity_id: r.text(1)?,
            branch: r.opt_text(2)?.unwrap_or_default(),
            field: r.text(3)?,
            current: super::loose_json(r.opt_text(4)?),
            proposed: super::loose_json(r.opt_text(5)?),
            resolved: r.bool(6)?,
        }))
    }

    fn set_conflict_resolved(
        &mut self,
        id: i64,
        resolution: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.c.exec(
            "UPDATE conflicts SET resolved_at = ?2, resolution = ?3 WHERE id = ?1",
            params![id, now, resolution],
        )?;
        Ok(())
    }

    fn insert_merge(&mut self, m: &MergeRecord, now: DateTime<Utc>) -> Result<i64> {
        self.c
            .one(
                "INSERT INTO merges (survivor, merged, chosen, previous, staff_id, staff_name, at, branch_merge_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![
                    &m.survivor,
                    &m.merged,
                    serde_json::to_string(&m.chosen)?,
                    serde_json::to_string(&m.previous)?,
                    &m.staff_id,
                    &m.staff_name,
                    now,
                    m.branch_merge_id.clone()
                ],
            )?
            .i64(0)
    }

    fn merge_record(&mut self, id: i64) -> Result<Option<MergeRecord>> {
        self.merge_where("id = ?1", id.into())
    }

    fn branch_merge(&mut self, branch_merge_id: &str) -> Result<Option<MergeRecord>> {
        self.merge_where("branch_merge_id = ?1", branch_merge_id.into())
    }

    fn set_merge_undone(&mut self, id: i64, staff_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.c.exec(
            "UPDATE merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1",
            params![id, now, staff_id],
        )?;
        Ok(())
    }

    fn add_not_same(&mut self, a: &str, b: &str, staff_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.c.exec(
            "INSERT INTO not_duplicates (a, b, staff_id, at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![a, b, staff_id, now],
        )?;
        Ok(())
    }

    fn publish_file(&mut self, sha256: &str, mime: &str, bytes: &[u8]) -> Result<()> {
        let in_db = self.files.put(sha256, bytes)?;
        self.c.exec(
            "INSERT INTO attachments (sha256, mime, size, received, complete, bytes) VALUES (?1, ?2, ?3, ?3, 1, ?4)
             ON CONFLICT (sha256) DO UPDATE SET received = excluded.received, complete = 1, bytes = excluded.bytes",
            params![sha256, mime, bytes.len(), in_db.then_some(bytes)],
        )?;
        self.c.exec(
            "INSERT INTO attachment_owners (sha256, branch, received, proven) VALUES (?1, '*', ?2, 1)
             ON CONFLICT DO NOTHING",
            params![sha256, bytes.len()],
        )?;
        Ok(())
    }

    fn note_hq_edit(
        &mut self,
        kind: Kind,
        entity_id: &str,
        version: i64,
        staff: &crate::store::HqActor,
        fields: &[String],
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.c.exec(
            "INSERT INTO hq_edits (entity, entity_id, version, at, staff_id, by_name, fields)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                kind.code(),
                entity_id,
                version,
                now,
                staff.staff_id.to_string(),
                staff.display_name.as_str(),
                serde_json::to_string(fields)?
            ],
        )?;
        Ok(())
    }

    fn audit(&mut self, audit: &crate::store::Audit, now: DateTime<Utc>) -> Result<()> {
        super::audit(self.c, audit, now)
    }

    fn staff_username_taken(
        &mut self,
        branch: &str,
        username: &str,
        except_id: &str,
    ) -> Result<bool> {
        // A branch has a few dozen accounts: read here, compared in Rust (no JSON in the SQL).
        for r in self.c.query(
            "SELECT data FROM records WHERE entity = 'staff' AND branch = ?1 AND id <> ?2",
            params![branch, except_id],
        )? {
            if r.json(0)?.get("username").and_then(Value::as_str) == Some(username) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn branch_known(&mut self, branch: &str) -> Result<bool> {
        Ok(self
            .c
            .row("SELECT 1 FROM branches WHERE name = ?1", params![branch])?
            .is_some())
    }

    // ---- devices and enrolment ----

    fn enrol_code(&mut self, code_hash: &str) -> Result<Option<EnrolCode>> {
        let lock = self.c.dialect().for_update();
        self.c
            .row(
                &format!("SELECT branch, expires_at, used_by_device FROM enrol_codes WHERE code_hash = ?1{lock}"),
                params![code_hash],
            )?
            .map(|r| {
                Ok(EnrolCode {
                    branch: r.text(0)?,
                    expires_at: r.text(1)?,
                    used_by: r.opt_text(2)?,
                })
            })
            .transpose()
    }

    fn add_enrol_code(
        &mut self,
        code_hash: &str,
        branch: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        self.c.exec(
            "INSERT INTO branches (name, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![branch, now],
        )?;
        self.c.exec(
            "INSERT INTO enrol_codes (code_hash, branch, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![code_hash, branch, now, expires],
        )?;
        Ok(())
    }

    fn use_enrol_code(
        &mut self,
        code_hash: &str,
        device_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.c.exec(
            "UPDATE enrol_codes SET used_by_device = ?2, used_at = ?3 WHERE code_hash = ?1",
            params![code_hash, device_id, now],
        )?;
        Ok(())
    }

    fn device(&mut self, device_id: &str) -> Result<Option<DeviceRow>> {
        let lock = self.c.dialect().for_update();
        self.c
            .row(
                &format!("SELECT device_id, branch, revoked_at IS NOT NULL, last_seq, credential_used_at IS NOT NULL FROM devices WHERE device_id = ?1{lock}"),
                params![device_id],
            )?
            .map(|r| device_row(&r))
            .transpose()
    }

    fn device_by_token(&mut self, token_hash: &str) -> Result<Option<DeviceRow>> {
        self.c
            .row(
                "SELECT device_id, branch, revoked_at IS NOT NULL, last_seq, credential_used_at IS NOT NULL FROM devices WHERE token_hash = ?1",
                params![token_hash],
            )?
            .map(|r| device_row(&r))
            .transpose()
    }

    fn save_device(
        &mut self,
        device_id: &str,
        branch: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.c.exec(
            "INSERT INTO devices (device_id, branch, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device_id) DO UPDATE SET token_hash = excluded.token_hash,
                 credential_used_at = CASE WHEN devices.token_hash = excluded.token_hash
                                           THEN devices.credential_used_at END",
            params![device_id, branch, token_hash, now],
        )?;
        Ok(())
    }

    fn credential_used(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.c.exec(
            "UPDATE devices SET credential_used_at = ?2 WHERE token_hash = ?1 AND credential_used_at IS NULL",
            params![token_hash, now],
        )?;
        Ok(())
    }

    fn revoke_device(&mut self, device_id: &str, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.c.exec(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE device_id = ?1",
            params![device_id, now],
        )? > 0)
    }

    fn set_resync(&mut self, device_id: &str, wanted: bool) -> Result<bool> {
        Ok(self.c.exec(
            "UPDATE devices SET resync_requested = ?2 WHERE device_id = ?1",
            params![device_id, wanted],
        )? > 0)
    }
}

fn device_row(r: &crate::db::Row) -> Result<DeviceRow> {
    Ok(DeviceRow {
        device_id: r.text(0)?,
        branch: r.text(1)?,
        revoked: r.bool(2)?,
        last_seq: r.i64(3)?,
        credential_used: r.bool(4)?,
    })
}
