//! The branch side of sync, as store operations: the device credential (kept inside the encrypted
//! store), acknowledging outbox operations once HQ has committed them, the pull cursor, applying
//! what HQ sends (decisions, merges, HQ edits, knowledge-base documents, staff accounts, a full
//! re-download) in one transaction with the cursor, the holding digest, attachment transfer
//! bookkeeping, and the last sync's outcome for the home screen.
//!
//! This module knows no wire format and does no network IO: `sila-sync` calls it. Every function
//! that changes something runs in one transaction, so a crash between any two calls loses nothing
//! and duplicates nothing: an operation is acknowledged only after HQ said it committed it, and a
//! pulled page and the cursor after it are committed together.

use crate::error::{Result, StoreError};
use crate::outbox::{self, Op};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sila_domain::case::{Case, CaseState};
use sila_domain::ids::DeviceId;

/// The binding of this store to a headquarters server.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub hq_url: String,
    /// The device credential. Never logged, never printed.
    pub token: String,
    pub branch: String,
    pub device_id: DeviceId,
    pub enrolled_at: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("hq_url", &self.hq_url)
            .field("token", &"<secret>")
            .field("branch", &self.branch)
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// One change feed entry from HQ, as the store sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HqChange {
    pub seq: i64,
    pub kind: String,
    pub entity_id: String,
    pub payload: serde_json::Value,
}

/// What HQ said about one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpAck {
    pub seq: i64,
    /// "applied", "conflict" or "rejected".
    pub result: String,
    pub reason: Option<String>,
}

/// What acknowledging a push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckReport {
    /// Operations newly marked acknowledged.
    pub acked: usize,
    pub rejected: usize,
    pub conflicts: usize,
}

/// An operation HQ refused, for the screen that lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedOp {
    pub seq: i64,
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    /// "rejected" or "conflict".
    pub result: String,
    pub reason: Option<String>,
}

/// A knowledge-base document as HQ's feed carries it.
#[derive(Debug, Clone, serde::Deserialize)]
struct KbDoc {
    id: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    mime: String,
    #[serde(default)]
    size: i64,
    published_at: String,
}

/// The last sync's outcome, kept in the store so it survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncState {
    pub enrolled: bool,
    pub last_sync_at: Option<String>,
    pub last_error_code: Option<String>,
    pub pending: i64,
}

const KIND_DECISION: &str = "case.decision";
const KIND_MERGE: &str = "beneficiary.merge";
const KIND_UNMERGE: &str = "beneficiary.unmerge";
const KIND_FIELDS: &str = "beneficiary.fields";
const KIND_KB: &str = "kb.document";
const KIND_STAFF: &str = "staff.upsert";
const KIND_SNAPSHOT: &str = "snapshot";

fn meta_get(conn: &rusqlite::Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn meta_set(conn: &rusqlite::Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

fn bad_payload() -> StoreError {
    StoreError::Invalid(vec![sila_domain::error::FieldError::new(
        "payload",
        "bad_payload",
        "بيانات غير صالحة من المقر",
    )])
}

impl Store {
    // ---- enrolment ----

    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let conn = self.conn();
        let (Some(hq_url), Some(token)) =
            (meta_get(conn, "hq_url")?, meta_get(conn, "device_token")?)
        else {
            return Ok(None);
        };
        Ok(Some(Enrolment {
            hq_url,
            token,
            branch: meta_get(conn, "enrolled_branch")?.unwrap_or_default(),
            device_id: self.session().device,
            enrolled_at: meta_get(conn, "enrolled_at")?.unwrap_or_default(),
        }))
    }

    /// Keep the device credential HQ issued. Only an administrator binds a store to HQ.
    pub fn save_enrolment(&mut self, hq_url: &str, token: &str, branch: &str) -> Result<()> {
        self.require(&[sila_domain::staff::Role::Admin])?;
        let (hq_url, token, branch) = (
            hq_url.trim_end_matches('/').to_owned(),
            token.to_owned(),
            branch.to_owned(),
        );
        self.write(move |w| {
            meta_set(&w.tx, "hq_url", &hq_url)?;
            meta_set(&w.tx, "device_token", &token)?;
            meta_set(&w.tx, "enrolled_branch", &branch)?;
            meta_set(&w.tx, "enrolled_at", &w.now.to_rfc3339())?;
            let device = w.session.device.to_string();
            w.audit("device.enrolled", "device", &device)
        })
    }

    // ---- push ----

    /// The next operations to push: unacknowledged, in sequence.
    pub fn outbox_batch(&self, limit: usize) -> Result<Vec<Op>> {
        outbox::pending(self.conn(), 0, limit)
    }

    /// Record HQ's answer to a push in one transaction: every operation up to `acked_through` is
    /// acknowledged, with HQ's result for it when the answer carried one.
    pub fn record_push(&mut self, acked_through: i64, results: &[OpAck]) -> Result<AckReport> {
        let stamp = self.now().to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut report = AckReport::default();
        for r in results.iter().filter(|r| r.seq <= acked_through) {
            let n = tx.execute(
                "UPDATE outbox SET acked_at = ?2, result = ?3 WHERE seq = ?1 AND acked_at IS NULL",
                params![
                    r.seq,
                    stamp,
                    match &r.reason {
                        Some(reason) if r.result != "applied" => format!("{}:{}", r.result, reason),
                        _ => r.result.clone(),
                    }
                ],
            )?;
            if n == 1 {
                report.acked += 1;
                match r.result.as_str() {
                    "rejected" => report.rejected += 1,
                    "conflict" => report.conflicts += 1,
                    _ => {}
                }
            }
        }
        report.acked += tx.execute(
            "UPDATE outbox SET acked_at = ?2, result = coalesce(result, 'applied')
             WHERE seq <= ?1 AND acked_at IS NULL",
            params![acked_through, stamp],
        )?;
        tx.commit()?;
        Ok(report)
    }

    /// Operations HQ refused or applied with conflicts, newest first.
    pub fn refused_ops(&self, limit: usize) -> Result<Vec<RefusedOp>> {
        let mut stmt = self.conn().prepare(
            "SELECT seq, op, entity, entity_id, result FROM outbox
             WHERE result IS NOT NULL AND result <> 'applied' ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let result: String = r.get(4)?;
            let (result, reason) = match result.split_once(':') {
                Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                None => (result, None),
            };
            Ok(RefusedOp {
                seq: r.get(0)?,
                op: r.get(1)?,
                entity: r.get(2)?,
                entity_id: r.get(3)?,
                result,
                reason,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- pull ----

    pub fn pull_cursor(&self) -> Result<i64> {
        Ok(meta_get(self.conn(), "pull_cursor")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Start a full re-download: the cursor goes back to the beginning of HQ's feed. What was
    /// applied before is known by its own identity and is not applied twice.
    pub fn reset_pull_cursor(&mut self) -> Result<()> {
        meta_set(self.conn(), "pull_cursor", "0")
    }

    /// Apply one page of HQ's change feed and store the cursor after it, in one transaction.
    /// Returns how many entries changed something here.
    pub fn apply_hq_changes(&mut self, changes: &[HqChange], next_cursor: i64) -> Result<usize> {
        let mut session = self.session().clone();
        // HQ's decisions and edits are applied as HQ made them: the local role check is not theirs.
        session.actor.roles = sila_domain::staff::Role::ALL.to_vec();
        let now = self.now();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let w = Writer {
            tx,
            session: &session,
            catalog: &self.catalog,
            now,
        };
        let mut applied = 0;
        for c in changes {
            if w.apply_hq_change(c)? {
                applied += 1;
            }
        }
        meta_set(&w.tx, "pull_cursor", &next_cursor.to_string())?;
        w.commit()?;
        Ok(applied)
    }

    /// A digest of what this device holds of its own records (case states and beneficiary merges),
    /// compared by HQ with its copy to detect divergence.
    pub fn holding_digest(&self) -> Result<String> {
        let mut lines: Vec<String> = Vec::new();
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, coalesce(merged_into, '-') FROM beneficiaries
             WHERE id NOT IN (SELECT id FROM foreign_records WHERE entity = 'beneficiary')",
        )?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, m) = r?;
            lines.push(format!("b {id} {m}"));
        }
        let mut stmt = conn.prepare(
            "SELECT id, state FROM cases
             WHERE id NOT IN (SELECT id FROM foreign_records WHERE entity = 'case')",
        )?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, s) = r?;
            lines.push(format!("c {id} {s}"));
        }
        Ok(digest_lines(lines))
    }

    // ---- attachments ----

    /// Attachments whose record HQ has acknowledged but whose bytes HQ does not hold yet,
    /// smallest first (so one large file never holds up the small ones).
    pub fn attachments_to_upload(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn().prepare(
            "SELECT a.sha256, a.size FROM attachments a
             JOIN outbox o ON o.op = 'attachment.add' AND o.entity_id = a.sha256
                AND o.acked_at IS NOT NULL AND o.result = 'applied'
             LEFT JOIN attachment_uploads u ON u.sha256 = a.sha256
             -- A file whose bytes failed HQ's check is damaged here: resending cannot help.
             WHERE u.uploaded_at IS NULL AND coalesce(u.last_error, '') <> 'hash_mismatch'
             GROUP BY a.sha256 ORDER BY coalesce(u.attempts, 0), a.size",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `len` bytes of an attachment from `offset`.
    pub fn attachment_chunk(&self, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>> {
        self.conn()
            .query_row(
                "SELECT substr(bytes, ?2, ?3) FROM attachments WHERE sha256 = ?1",
                params![sha256, offset + 1, len as i64],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound("attachment"))
    }

    pub fn mark_attachment_uploaded(&mut self, sha256: &str) -> Result<()> {
        let stamp = self.now().to_rfc3339();
        self.conn().execute(
            "INSERT INTO attachment_uploads (sha256, uploaded_at, attempts) VALUES (?1, ?2, 1)
             ON CONFLICT(sha256) DO UPDATE SET uploaded_at = excluded.uploaded_at, last_error = NULL",
            params![sha256, stamp],
        )?;
        Ok(())
    }

    pub fn mark_attachment_failed(&mut self, sha256: &str, code: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO attachment_uploads (sha256, last_error, attempts) VALUES (?1, ?2, 1)
             ON CONFLICT(sha256) DO UPDATE SET last_error = excluded.last_error, attempts = attempts + 1",
            params![sha256, code],
        )?;
        Ok(())
    }

    /// Knowledge-base files wanted from HQ: (sha256, mime, size, bytes held so far).
    pub fn downloads_wanted(&self) -> Result<Vec<(String, String, i64, i64)>> {
        let mut stmt = self.conn().prepare(
            "SELECT k.sha256, k.mime, k.size,
                    coalesce((SELECT sum(length(bytes)) FROM download_parts p WHERE p.sha256 = k.sha256), 0)
             FROM kb_downloads k GROUP BY k.sha256 ORDER BY k.size",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Keep one downloaded chunk; when the file is whole, check its SHA-256 and move it into
    /// `attachments`. Returns true when the file is complete.
    pub fn save_download_chunk(
        &mut self,
        sha256: &str,
        mime: &str,
        size: i64,
        offset: i64,
        bytes: &[u8],
    ) -> Result<bool> {
        let stamp = self.now().to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO download_parts (sha256, offset, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT(sha256, offset) DO NOTHING",
            params![sha256, offset, bytes],
        )?;
        let held: i64 = tx.query_row(
            "SELECT coalesce(sum(length(bytes)), 0) FROM download_parts WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )?;
        let mut complete = false;
        if held >= size {
            let mut whole = Vec::with_capacity(size as usize);
            {
                let mut stmt = tx.prepare(
                    "SELECT bytes FROM download_parts WHERE sha256 = ?1 ORDER BY offset",
                )?;
                for b in stmt.query_map([sha256], |r| r.get::<_, Vec<u8>>(0))? {
                    whole.extend_from_slice(&b?);
                }
            }
            tx.execute("DELETE FROM download_parts WHERE sha256 = ?1", [sha256])?;
            if hex::encode(Sha256::digest(&whole)) == sha256 {
                tx.execute(
                    "INSERT INTO attachments (sha256, mime, size, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(sha256) DO NOTHING",
                    params![sha256, mime, size, whole, stamp],
                )?;
                tx.execute(
                    "INSERT INTO kb_documents (id, title, body, attachment, published_at, source)
                     SELECT id, title, body, sha256, published_at, 'hq' FROM kb_downloads WHERE sha256 = ?1
                     ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body,
                        attachment = excluded.attachment, published_at = excluded.published_at",
                    [sha256],
                )?;
                tx.execute("DELETE FROM kb_downloads WHERE sha256 = ?1", [sha256])?;
                // HQ already holds what it sent.
                tx.execute(
                    "INSERT INTO attachment_uploads (sha256, uploaded_at) VALUES (?1, ?2)
                     ON CONFLICT(sha256) DO NOTHING",
                    params![sha256, stamp],
                )?;
                complete = true;
            }
        }
        tx.commit()?;
        Ok(complete)
    }

    // ---- outcome, for the home screen ----

    pub fn sync_state(&self) -> Result<SyncState> {
        let conn = self.conn();
        Ok(SyncState {
            enrolled: meta_get(conn, "device_token")?.is_some(),
            last_sync_at: meta_get(conn, "last_sync_at")?,
            last_error_code: meta_get(conn, "last_sync_error")?.filter(|s| !s.is_empty()),
            pending: outbox::pending_count(conn)?,
        })
    }

    /// Record how the last sync ended: success stamps the time and clears the error.
    pub fn record_sync_outcome(&mut self, error_code: Option<&str>) -> Result<()> {
        let stamp = self.now().to_rfc3339();
        let conn = self.conn();
        match error_code {
            None => {
                meta_set(conn, "last_sync_at", &stamp)?;
                meta_set(conn, "last_sync_error", "")?;
            }
            Some(code) => meta_set(conn, "last_sync_error", code)?,
        }
        Ok(())
    }
}

/// SHA-256 (hex) of sorted lines, the holding digest both sides compute the same way.
pub fn digest_lines(mut lines: Vec<String>) -> String {
    lines.sort_unstable();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

impl Writer<'_> {
    /// Has an entry with this identity been applied already? Marks it applied if not.
    fn first_time(&self, kind: &str, key: &str, seq: i64) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT INTO sync_applied (kind, key, change_seq, applied_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(kind, key) DO NOTHING",
            params![kind, key, seq, self.now.to_rfc3339()],
        )? == 1)
    }

    fn apply_hq_change(&self, c: &HqChange) -> Result<bool> {
        let p = &c.payload;
        let s = |k: &str| -> Result<String> {
            p.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(bad_payload)
        };
        match c.kind.as_str() {
            KIND_DECISION => {
                if !self.first_time(KIND_DECISION, &s("decision_id")?, c.seq)? {
                    return Ok(false);
                }
                let hq_case: Case =
                    serde_json::from_value(p["case"].clone()).map_err(|_| bad_payload())?;
                self.apply_hq_decision(&hq_case, &p["event"])
            }
            KIND_MERGE => {
                let merged = s("merged_id")?;
                let survivor = s("survivor_id")?;
                // HQ numbers merges; the same pair merged again after an undo is a new one.
                let key = match p.get("merge_id").and_then(|v| v.as_i64()) {
                    Some(n) => n.to_string(),
                    None => format!("{merged}>{survivor}"),
                };
                if !self.first_time(KIND_MERGE, &key, c.seq)? {
                    return Ok(false);
                }
                self.apply_merge(&merged, &survivor, &s("survivor_branch")?, &p["survivor"])
            }
            KIND_UNMERGE => {
                let merge_id = p["merge_id"].as_i64().ok_or_else(bad_payload)?;
                if !self.first_time(KIND_UNMERGE, &merge_id.to_string(), c.seq)? {
                    return Ok(false);
                }
                self.apply_unmerge(&s("merged_id")?, &s("survivor_id")?)
            }
            KIND_FIELDS => {
                let write_id = p["write_id"].as_i64().ok_or_else(bad_payload)?;
                if !self.first_time(KIND_FIELDS, &write_id.to_string(), c.seq)? {
                    return Ok(false);
                }
                let fields = p["fields"].as_object().ok_or_else(bad_payload)?;
                self.apply_hq_fields(&s("beneficiary_id")?, fields, write_id)
            }
            KIND_KB => {
                let doc: KbDoc = serde_json::from_value(p.clone()).map_err(|_| bad_payload())?;
                let have_file: bool = match &doc.sha256 {
                    None => true,
                    Some(sha) => self.tx.query_row(
                        "SELECT count(*) > 0 FROM attachments WHERE sha256 = ?1",
                        [sha],
                        |r| r.get(0),
                    )?,
                };
                if have_file {
                    self.tx.execute(
                        "INSERT INTO kb_documents (id, title, body, attachment, published_at, source)
                         VALUES (?1, ?2, ?3, ?4, ?5, 'hq')
                         ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body,
                            attachment = excluded.attachment, published_at = excluded.published_at",
                        params![doc.id, doc.title, doc.body, doc.sha256, doc.published_at],
                    )?;
                } else {
                    self.tx.execute(
                        "INSERT INTO kb_downloads (id, title, body, sha256, mime, size, published_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body,
                            sha256 = excluded.sha256, mime = excluded.mime, size = excluded.size,
                            published_at = excluded.published_at",
                        params![doc.id, doc.title, doc.body, doc.sha256, doc.mime, doc.size, doc.published_at],
                    )?;
                }
                Ok(true)
            }
            KIND_STAFF => {
                let a: sila_domain::staff::StaffAccount =
                    serde_json::from_value(p.clone()).map_err(|_| bad_payload())?;
                let roles: Vec<&str> = a.roles.iter().map(|r| r.code()).collect();
                let taken: Option<String> = self
                    .tx
                    .query_row(
                        "SELECT id FROM staff WHERE username = ?1 AND id <> ?2",
                        params![a.username, a.id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?;
                if taken.is_some() {
                    // The same user name for a different person: keep the local one; HQ shows it.
                    return Ok(false);
                }
                let stamp = self.now.to_rfc3339();
                let n = self.tx.execute(
                    "INSERT INTO staff (id, username, display_name, roles, branch, active, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                     ON CONFLICT(id) DO UPDATE SET display_name = excluded.display_name, roles = excluded.roles,
                        active = excluded.active, updated_at = excluded.updated_at
                     WHERE staff.display_name <> excluded.display_name OR staff.roles <> excluded.roles
                        OR staff.active <> excluded.active",
                    params![a.id.to_string(), a.username, a.display_name, serde_json::to_string(&roles)?, a.branch, a.active, stamp],
                )?;
                Ok(n > 0)
            }
            KIND_SNAPSHOT => self.apply_snapshot(p),
            // A kind this build does not know yet is skipped, not fatal: newer HQs add kinds.
            _ => Ok(false),
        }
    }

    /// Apply HQ's decision on a case: HQ's lifecycle fields win (a branch never overrides a
    /// decision), the history gets HQ's event, and rule tasks follow ("tell the beneficiary").
    fn apply_hq_decision(&self, hq: &Case, event: &serde_json::Value) -> Result<bool> {
        let row: Option<i64> = self
            .tx
            .query_row(
                "SELECT version FROM cases WHERE id = ?1",
                [hq.id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if row.is_none() {
            // A case of another device of this branch: nothing of it is here.
            return Ok(false);
        }
        let local = self.apply_hq_lifecycle(hq)?;
        self.tx.execute(
            "INSERT INTO case_events (case_id, at, data) VALUES (?1, ?2, ?3)",
            params![
                local.id.to_string(),
                event
                    .get("at")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| self.now.to_rfc3339()),
                serde_json::to_string(event)?
            ],
        )?;
        self.audit("case.hq_decision", "case", &local.id.to_string())?;
        Ok(true)
    }

    fn apply_merge(
        &self,
        merged: &str,
        survivor: &str,
        survivor_branch: &str,
        survivor_data: &serde_json::Value,
    ) -> Result<bool> {
        let n = self.tx.execute(
            "UPDATE beneficiaries SET merged_into = ?2, updated_at = ?3 WHERE id = ?1",
            params![merged, survivor, self.now.to_rfc3339()],
        )?;
        let have_survivor: bool = self.tx.query_row(
            "SELECT count(*) > 0 FROM beneficiaries WHERE id = ?1",
            [survivor],
            |r| r.get(0),
        )?;
        if !have_survivor && survivor_data.is_object() {
            let b: sila_domain::beneficiary::Beneficiary =
                serde_json::from_value(survivor_data.clone()).map_err(|_| bad_payload())?;
            self.insert_beneficiary_row(&b, survivor_branch, 1)?;
            self.tx.execute(
                "INSERT INTO foreign_records (entity, id) VALUES ('beneficiary', ?1) ON CONFLICT DO NOTHING",
                [survivor],
            )?;
        }
        if n > 0 {
            self.audit("beneficiary.hq_merge", "beneficiary", merged)?;
        }
        Ok(n > 0)
    }

    /// HQ undid a merge: the merged record is live again here. A copy of the survivor that this
    /// branch only held because of the merge goes away unless a case or contact here already points at it
    /// (then it stays, marked as a copy, so the branch's unique national-ID rule still holds).
    fn apply_unmerge(&self, merged: &str, survivor: &str) -> Result<bool> {
        let foreign_unused: bool = self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM foreign_records WHERE entity = 'beneficiary' AND id = ?1)
                AND NOT EXISTS (SELECT 1 FROM cases WHERE beneficiary_id = ?1)
                AND NOT EXISTS (SELECT 1 FROM interactions WHERE beneficiary_id = ?1)",
            [survivor],
            |r| r.get(0),
        )?;
        if foreign_unused {
            self.tx
                .execute("DELETE FROM beneficiaries WHERE id = ?1", [survivor])?;
            self.tx.execute(
                "DELETE FROM foreign_records WHERE entity = 'beneficiary' AND id = ?1",
                [survivor],
            )?;
        }
        let n = self.tx.execute(
            "UPDATE OR IGNORE beneficiaries SET merged_into = NULL, updated_at = ?3
             WHERE id = ?1 AND merged_into = ?2",
            params![merged, survivor, self.now.to_rfc3339()],
        )?;
        if n > 0 {
            self.audit("beneficiary.hq_unmerge", "beneficiary", merged)?;
        }
        Ok(n > 0)
    }

    /// Insert a beneficiary row HQ sent, without an outbox operation (HQ has it already).
    fn insert_beneficiary_row(
        &self,
        b: &sila_domain::beneficiary::Beneficiary,
        branch: &str,
        version: i64,
    ) -> Result<()> {
        let stamp = self.now.to_rfc3339();
        self.tx.execute(
            "INSERT INTO beneficiaries (id, branch, full_name, name_key, national_id, phone, phone_rev,
                 birth_date, data, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
             ON CONFLICT(id) DO NOTHING",
            params![
                b.id.to_string(),
                branch,
                b.name.full(),
                crate::beneficiaries::name_key_of(b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                crate::beneficiaries::phone_rev_of(b),
                b.birth_date.map(|d| d.to_string()),
                serde_json::to_string(b)?,
                version,
                stamp
            ],
        )?;
        Ok(())
    }

    /// HQ changed fields of a beneficiary. Fields with a local edit HQ has not acknowledged keep
    /// the local value: that edit reaches HQ as a conflict, where a person chooses. The branch
    /// tells HQ it has seen this write (op "beneficiary.hq_seen"), so later edits made on top of it
    /// are not mistaken for conflicts.
    fn apply_hq_fields(
        &self,
        id: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
        write_id: i64,
    ) -> Result<bool> {
        let row: Option<(String, i64)> = self
            .tx
            .query_row(
                "SELECT data, version FROM beneficiaries WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((data, version)) = row else {
            return Ok(false);
        };
        let mut pending_fields = std::collections::HashSet::new();
        {
            let mut stmt = self.tx.prepare(
                "SELECT payload FROM outbox WHERE entity = 'beneficiary' AND entity_id = ?1
                 AND op = 'beneficiary.update' AND acked_at IS NULL",
            )?;
            for p in stmt.query_map([id], |r| r.get::<_, String>(0))? {
                let p: serde_json::Value = serde_json::from_str(&p?)?;
                if let Some(f) = p["fields"].as_object() {
                    pending_fields.extend(f.keys().cloned());
                }
            }
        }
        let mut value: serde_json::Value = serde_json::from_str(&data)?;
        let obj = value.as_object_mut().ok_or(StoreError::Corrupt)?;
        for (k, v) in fields {
            if pending_fields.contains(k) {
                continue;
            }
            // JSON null is a value (every field is always serialised).
            obj.insert(k.clone(), v.clone());
        }
        let b: sila_domain::beneficiary::Beneficiary =
            serde_json::from_value(value).map_err(|_| bad_payload())?;
        self.tx.execute(
            "UPDATE beneficiaries SET full_name = ?2, name_key = ?3, national_id = ?4, phone = ?5, phone_rev = ?6,
                 birth_date = ?7, data = ?8, version = ?9, updated_at = ?10 WHERE id = ?1",
            params![
                id,
                b.name.full(),
                crate::beneficiaries::name_key_of(&b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                crate::beneficiaries::phone_rev_of(&b),
                b.birth_date.map(|d| d.to_string()),
                serde_json::to_string(&b)?,
                version + 1,
                self.now.to_rfc3339()
            ],
        )?;
        self.op(
            "beneficiary.hq_seen",
            "beneficiary",
            id,
            Some(version),
            &serde_json::json!({ "write_id": write_id }),
        )?;
        Ok(true)
    }

    /// During a full re-download: HQ's copy of one of this device's records. A record missing here
    /// is restored; a case whose lifecycle differs takes HQ's (every local change was acknowledged
    /// before HQ compared the digests).
    fn apply_snapshot(&self, p: &serde_json::Value) -> Result<bool> {
        let entity = p["entity"].as_str().ok_or_else(bad_payload)?;
        match entity {
            "beneficiary" => {
                let b: sila_domain::beneficiary::Beneficiary =
                    serde_json::from_value(p["data"].clone()).map_err(|_| bad_payload())?;
                let id = b.id.to_string();
                let exists: bool = self.tx.query_row(
                    "SELECT count(*) > 0 FROM beneficiaries WHERE id = ?1",
                    [&id],
                    |r| r.get(0),
                )?;
                let mut changed = false;
                if !exists {
                    let branch = p["branch"].as_str().unwrap_or(&self.session.branch);
                    self.insert_beneficiary_row(&b, branch, 1)?;
                    changed = true;
                }
                let merged = p["merged_into"].as_str();
                changed |= self.tx.execute(
                    "UPDATE beneficiaries SET merged_into = ?2 WHERE id = ?1 AND merged_into IS NOT ?2",
                    params![id, merged],
                )? > 0;
                Ok(changed)
            }
            "case" => {
                let hq: Case =
                    serde_json::from_value(p["data"].clone()).map_err(|_| bad_payload())?;
                let local: Option<String> = self
                    .tx
                    .query_row(
                        "SELECT state FROM cases WHERE id = ?1",
                        [hq.id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()?;
                match local {
                    None => {
                        let stamp = self.now.to_rfc3339();
                        let branch = p["branch"].as_str().unwrap_or(&self.session.branch);
                        self.tx.execute(
                            "INSERT INTO cases (id, number, beneficiary_id, branch, state, support_type, channel,
                                 promised_reply_date, data, version, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10)",
                            params![
                                hq.id.to_string(),
                                hq.number,
                                hq.beneficiary_id.to_string(),
                                branch,
                                hq.state.code(),
                                hq.support_type,
                                hq.channel.code(),
                                hq.promised_reply_date.map(|d| d.to_string()),
                                serde_json::to_string(&hq)?,
                                stamp
                            ],
                        )?;
                        Ok(true)
                    }
                    Some(state) if CaseState::from_code(&state) != Some(hq.state) => {
                        self.apply_hq_lifecycle(&hq)?;
                        Ok(true)
                    }
                    Some(_) => Ok(false),
                }
            }
            _ => Ok(false),
        }
    }

    /// Take HQ's lifecycle fields for a case (state, decision, dates, registration number) and
    /// refresh the rule tasks that follow from them. Everything else stays as the branch has it.
    fn apply_hq_lifecycle(&self, hq: &Case) -> Result<Case> {
        let (data, version): (String, i64) = self.tx.query_row(
            "SELECT data, version FROM cases WHERE id = ?1",
            [hq.id.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut local: Case = serde_json::from_str(&data)?;
        local.state = hq.state;
        local.decision = hq.decision.clone();
        local.submitted_at = hq.submitted_at;
        local.promised_reply_date = hq.promised_reply_date;
        local.registration_number = hq.registration_number.clone();
        self.tx.execute(
            "UPDATE cases SET state = ?2, promised_reply_date = ?3, data = ?4, version = ?5, updated_at = ?6 WHERE id = ?1",
            params![
                local.id.to_string(),
                local.state.code(),
                local.promised_reply_date.map(|d| d.to_string()),
                serde_json::to_string(&local)?,
                version + 1,
                self.now.to_rfc3339()
            ],
        )?;
        self.refresh_rule_tasks_for(&local)?;
        Ok(local)
    }
}
