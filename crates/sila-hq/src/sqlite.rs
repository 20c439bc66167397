//! HQ's embedded default store: one SQLite file (through the workspace's one rusqlite), WAL,
//! `synchronous=FULL` so an acknowledgement is only ever sent for a durable commit.
//!
//! One connection behind a mutex: SQLite has one writer anyway, and serialising every call makes
//! the change feed's numbering exact (an entry is never committed below a cursor already handed out).
//!
//! The file is unencrypted by default: an HQ server runs unattended, so a key would have to sit
//! beside the file; full-disk encryption of the server is the control that fits. Setting
//! `SILA_HQ_DB_KEY` (64 hex digits) keys it with SQLCipher all the same.

use crate::store::*;
use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sila_domain::case::{self, Case, CaseEvent, Transition, TransitionRequest};
use sila_domain::duplicates;
use sila_domain::ids::DeviceId;
use sila_domain::staff::{Actor, Role};
use sila_sync::proto::{
    self, Change, EnrollRequest, EnrollResponse, OpOutcome, OpResult, PullResponse, PushRequest,
    PushResponse, UploadStatus, WireOp, kinds,
};
use std::path::Path;
use std::sync::Mutex;

pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../migrations/hq/0001_init.sql"),
    ),
    (
        "0002_duplicates",
        include_str!("../../../migrations/hq/0002_duplicates.sql"),
    ),
    (
        "0003_console",
        include_str!("../../../migrations/hq/0003_console.sql"),
    ),
    (
        "0004_case_number",
        include_str!("../../../migrations/hq/0004_case_number.sql"),
    ),
    (
        "0005_duplicate_inputs",
        include_str!("../../../migrations/hq/0005_duplicate_inputs.sql"),
    ),
];

/// Files larger than this are refused at HQ as at the branch.
pub const MAX_ATTACHMENT: i64 = 15 * 1024 * 1024;

pub struct SqliteHq {
    conn: Mutex<Connection>,
    /// The last duplicate search and the `duplicate_inputs` version it was made at: the queue is
    /// read far more often than beneficiaries change, and at 1M people a search takes seconds.
    duplicates: Mutex<Option<(i64, Vec<DuplicatePair>)>>,
    /// The console's own connection for its sessions and audit rows (`console::sqlite`): their
    /// writes stay out of this connection's change count, which keys the duplicates cache.
    pub(crate) console_conn: std::sync::OnceLock<Mutex<Connection>>,
    hq_device: DeviceId,
    /// Secret from which device credentials are derived (HMAC of the code and the device), so
    /// a repeated enrolment gets the same credential. Kept in the HQ store, never logged.
    token_key: [u8; 32],
}

/// HMAC-SHA-256 (RFC 2104), written out to avoid a dependency for ten lines.
fn hmac_sha256(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(key);
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// What applying one operation came to.
type Outcome = (OpResult, Option<String>);

fn rejected(reason: &str) -> Outcome {
    (OpResult::Rejected, Some(reason.to_owned()))
}

fn applied() -> Outcome {
    (OpResult::Applied, None)
}

impl SqliteHq {
    /// Open (or create) the HQ store and bring its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteHq> {
        let mut conn = Connection::open(path)?;
        if let Ok(key) = std::env::var("SILA_HQ_DB_KEY") {
            if key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(HqError::BadRequest("SILA_HQ_DB_KEY must be 64 hex digits"));
            }
            conn.execute_batch(&format!("PRAGMA key = \"x'{key}'\";"))?;
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 10000;",
        )?;
        migrate(&mut conn)?;
        let hq_device = {
            let found: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'hq_device'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            match found.and_then(|s| s.parse().ok()) {
                Some(d) => d,
                None => {
                    let d = DeviceId::new_v7();
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('hq_device', ?1)",
                        [d.to_string()],
                    )?;
                    d
                }
            }
        };
        let token_key = {
            let found: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'token_key'", [], |r| {
                    r.get(0)
                })
                .optional()?;
            match found
                .and_then(|s| hex::decode(s).ok())
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
            {
                Some(k) => k,
                None => {
                    let mut k = [0u8; 32];
                    rand::rng().fill(&mut k);
                    conn.execute(
                        "INSERT INTO meta (key, value) VALUES ('token_key', ?1)",
                        [hex::encode(k)],
                    )?;
                    k
                }
            }
        };
        Ok(SqliteHq {
            conn: Mutex::new(conn),
            duplicates: Mutex::new(None),
            console_conn: std::sync::OnceLock::new(),
            hq_device,
            token_key,
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half transaction (it rolled back on drop).
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// HQ's own device ID (the author of what HQ writes into the records table).
    pub(crate) fn hq_device_id(&self) -> String {
        self.hq_device.to_string()
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > MIGRATIONS.len() as i64 {
        return Err(HqError::BadRequest(
            "the HQ store was written by a newer sila-hq",
        ));
    }
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![i as i64 + 1, name, Utc::now().to_rfc3339()],
        )?;
    }
    tx.execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len()))?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn feed(
    tx: &Connection,
    branch: Option<&str>,
    kind: &str,
    entity_id: &str,
    payload: &Value,
    now: DateTime<Utc>,
) -> Result<i64> {
    tx.execute(
        "INSERT INTO changes (branch, kind, entity_id, payload, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            branch,
            kind,
            entity_id,
            serde_json::to_string(payload)?,
            now.to_rfc3339()
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Fields of a case that only the lifecycle writes.
const LIFECYCLE_FIELDS: [&str; 5] = [
    "state",
    "submitted_at",
    "promised_reply_date",
    "decision",
    "registration_number",
];

struct Applier<'a> {
    tx: &'a Transaction<'a>,
    device: &'a Device,
    now: DateTime<Utc>,
}

impl Applier<'_> {
    /// Statements run for every operation come from the connection's cache (parsed once).
    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize> {
        Ok(self.tx.prepare_cached(sql)?.execute(p)?)
    }

    fn one<T>(
        &self,
        sql: &str,
        p: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.tx.prepare_cached(sql)?.query_row(p, f).optional()?)
    }

    fn apply(&self, op: &WireOp) -> Result<Outcome> {
        match op.op.as_str() {
            "beneficiary.create" => self.beneficiary_create(op),
            "beneficiary.update" => self.beneficiary_update(op),
            "beneficiary.hq_seen" => self.beneficiary_seen(op),
            "case.create" => self.case_create(op),
            "case.update" => self.case_update(op),
            "case.transition" => self.case_transition(op),
            "interaction.add" | "delivery.add" | "survey.add" | "task.create" | "kb.add" => {
                self.append_only(op)
            }
            "task.done" => self.task_done(op),
            "attachment.add" => self.attachment_add(op),
            "staff.create" | "staff.set_active" | "staff.set_roles" => self.staff(op),
            _ => Ok(rejected("unknown_op")),
        }
    }

    fn beneficiary_create(&self, op: &WireOp) -> Result<Outcome> {
        // Read from the payload in place (no copy of the whole tree).
        let Ok(b) = sila_domain::beneficiary::Beneficiary::deserialize(&op.payload) else {
            return Ok(rejected("bad_payload"));
        };
        if b.id.to_string() != op.entity_id {
            return Ok(rejected("bad_payload"));
        }
        let owner: Option<String> = self.one(
            "SELECT device_id FROM beneficiaries WHERE id = ?1",
            [&op.entity_id],
            |r| r.get(0),
        )?;
        if let Some(owner) = owner {
            return Ok(if owner == self.device.device_id {
                applied()
            } else {
                rejected("id_taken")
            });
        }
        let stamp = self.now.to_rfc3339();
        self.exec(
            "INSERT INTO beneficiaries (id, branch, device_id, national_id, data, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
            params![
                op.entity_id,
                self.device.branch,
                self.device.device_id,
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                serde_json::to_string(&op.payload)?,
                stamp
            ],
        )?;
        Ok(applied())
    }

    /// A branch edit of some fields. A field HQ wrote that the branch had not seen when it made
    /// this edit (its base version is older than the version at which it acknowledged HQ's write)
    /// is not overwritten: both values go to the conflicts queue.
    fn beneficiary_update(&self, op: &WireOp) -> Result<Outcome> {
        let row: Option<(String, String, i64, String, Option<String>)> = self
            .tx
            .query_row(
                "SELECT branch, data, version, field_writes, merged_into FROM beneficiaries WHERE id = ?1",
                [&op.entity_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((branch, data, version, writes, merged_into)) = row else {
            return Ok(rejected("unknown_record"));
        };
        if branch != self.device.branch {
            return Ok(rejected("other_branch"));
        }
        let Some(fields) = op.payload.get("fields").and_then(Value::as_object) else {
            return Ok(rejected("bad_payload"));
        };
        let mut data: Value = serde_json::from_str(&data)?;
        let writes: Map<String, Value> = serde_json::from_str(&writes)?;
        let base = op.base_version.unwrap_or(version);
        let mut conflicts = 0;
        for (f, v) in fields {
            let current = data.get(f).cloned().unwrap_or(Value::Null);
            let reason = if merged_into.is_some() {
                Some("merged")
            } else {
                writes.get(f).and_then(|w| {
                    let unseen = match w.get("seen_at").and_then(Value::as_i64) {
                        None => true,
                        Some(seen_at) => base < seen_at,
                    };
                    (unseen && current != *v).then_some("edited_at_hq")
                })
            };
            if let Some(reason) = reason {
                self.conflict("beneficiary", op, f, &current, v, reason)?;
                conflicts += 1;
                continue;
            }
            let obj = data.as_object_mut().ok_or(HqError::BadRequest("record"))?;
            // JSON null is a value (every field is always serialised).
            obj.insert(f.clone(), v.clone());
        }
        let national_id = data
            .get("national_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.exec(
            "UPDATE beneficiaries SET data = ?2, version = max(version, ?3), national_id = ?4, updated_at = ?5 WHERE id = ?1",
            params![op.entity_id, serde_json::to_string(&data)?, base + 1, national_id, self.now.to_rfc3339()],
        )?;
        Ok(if conflicts > 0 {
            (OpResult::Conflict, Some("field_conflict".into()))
        } else {
            applied()
        })
    }

    fn conflict(
        &self,
        entity: &str,
        op: &WireOp,
        field: &str,
        hq_value: &Value,
        branch_value: &Value,
        reason: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO conflicts (entity, entity_id, field, hq_value, branch_value, base_version, device_id, seq, reason, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                entity,
                op.entity_id,
                field,
                serde_json::to_string(hq_value)?,
                serde_json::to_string(branch_value)?,
                op.base_version,
                self.device.device_id,
                op.seq,
                reason,
                self.now.to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// The branch applied HQ's write `write_id` on top of `base_version`: from the next version
    /// on, its edits of those fields are made knowing HQ's value.
    fn beneficiary_seen(&self, op: &WireOp) -> Result<Outcome> {
        let Some(write_id) = op.payload.get("write_id").and_then(Value::as_i64) else {
            return Ok(rejected("bad_payload"));
        };
        let row: Option<(String, String)> = self
            .tx
            .query_row(
                "SELECT branch, field_writes FROM beneficiaries WHERE id = ?1",
                [&op.entity_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((branch, writes)) = row else {
            return Ok(rejected("unknown_record"));
        };
        if branch != self.device.branch {
            return Ok(rejected("other_branch"));
        }
        let seen_at = op.base_version.unwrap_or(0) + 1;
        let mut writes: Map<String, Value> = serde_json::from_str(&writes)?;
        for w in writes.values_mut() {
            if w.get("write_id").and_then(Value::as_i64) == Some(write_id)
                && w.get("seen_at").is_none_or(Value::is_null)
            {
                w["seen_at"] = json!(seen_at);
            }
        }
        self.exec(
            "UPDATE beneficiaries SET field_writes = ?2, version = max(version, ?3) WHERE id = ?1",
            params![op.entity_id, serde_json::to_string(&writes)?, seen_at],
        )?;
        Ok(applied())
    }

    fn case_create(&self, op: &WireOp) -> Result<Outcome> {
        let Ok(c) = Case::deserialize(&op.payload) else {
            return Ok(rejected("bad_payload"));
        };
        if c.id.to_string() != op.entity_id {
            return Ok(rejected("bad_payload"));
        }
        let owner: Option<String> = self.one(
            "SELECT device_id FROM cases WHERE id = ?1",
            [&op.entity_id],
            |r| r.get(0),
        )?;
        if let Some(owner) = owner {
            return Ok(if owner == self.device.device_id {
                applied()
            } else {
                rejected("id_taken")
            });
        }
        let known = self
            .one(
                "SELECT 1 FROM beneficiaries WHERE id = ?1",
                [c.beneficiary_id.to_string()],
                |_| Ok(()),
            )?
            .is_some();
        if !known {
            return Ok(rejected("unknown_beneficiary"));
        }
        let stamp = self.now.to_rfc3339();
        self.exec(
            "INSERT INTO cases (id, branch, device_id, beneficiary_id, state, data, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)",
            params![
                op.entity_id,
                self.device.branch,
                self.device.device_id,
                c.beneficiary_id.to_string(),
                c.state.code(),
                serde_json::to_string(&op.payload)?,
                stamp
            ],
        )?;
        Ok(applied())
    }

    fn load_case(&self, id: &str) -> Result<Option<(String, Value, String, bool)>> {
        let row: Option<(String, String, String, bool)> = self
            .tx
            .query_row(
                "SELECT branch, data, state, hq_decided FROM cases WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(b, d, s, h)| Ok((b, serde_json::from_str(&d)?, s, h)))
            .transpose()
    }

    fn case_update(&self, op: &WireOp) -> Result<Outcome> {
        let Some((branch, mut data, _, _)) = self.load_case(&op.entity_id)? else {
            return Ok(rejected("unknown_record"));
        };
        if branch != self.device.branch {
            return Ok(rejected("other_branch"));
        }
        let Some(fields) = op.payload.get("fields").and_then(Value::as_object) else {
            return Ok(rejected("bad_payload"));
        };
        let obj = data.as_object_mut().ok_or(HqError::BadRequest("record"))?;
        for (f, v) in fields {
            // The lifecycle's fields move only by transitions (and HQ's decisions).
            if LIFECYCLE_FIELDS.contains(&f.as_str()) {
                continue;
            }
            // JSON null is a value (every field is always serialised).
            obj.insert(f.clone(), v.clone());
        }
        self.exec(
            "UPDATE cases SET data = ?2, version = max(version, ?3), updated_at = ?4 WHERE id = ?1",
            params![
                op.entity_id,
                serde_json::to_string(&data)?,
                op.base_version.unwrap_or(0) + 1,
                self.now.to_rfc3339()
            ],
        )?;
        Ok(applied())
    }

    /// A branch transition. It must start where HQ's copy stands and follow the rule table; one
    /// that starts before an HQ decision is refused (a branch never overrides a decision).
    fn case_transition(&self, op: &WireOp) -> Result<Outcome> {
        let Some((branch, mut data, state, hq_decided)) = self.load_case(&op.entity_id)? else {
            return Ok(rejected("unknown_record"));
        };
        if branch != self.device.branch {
            return Ok(rejected("other_branch"));
        }
        let Ok(event) = serde_json::from_value::<CaseEvent>(op.payload["event"].clone()) else {
            return Ok(rejected("bad_payload"));
        };
        let rule = event.transition.rule();
        if rule.to != event.to
            || !rule.from.contains(&event.from)
            || op.payload["state"].as_str() != Some(event.to.code())
        {
            return Ok(rejected("bad_transition"));
        }
        if event.from.code() != state {
            return Ok(rejected(if hq_decided {
                "decision_is_hq"
            } else {
                "wrong_state"
            }));
        }
        let obj = data.as_object_mut().ok_or(HqError::BadRequest("record"))?;
        for f in LIFECYCLE_FIELDS {
            let v = op.payload.get(f).cloned().unwrap_or(Value::Null);
            // JSON null is a value (every field is always serialised).
            obj.insert(f.to_owned(), v);
        }
        self.exec(
            "UPDATE cases SET data = ?2, state = ?3, hq_decided = 0, version = max(version, ?4), updated_at = ?5
             WHERE id = ?1",
            params![
                op.entity_id,
                serde_json::to_string(&data)?,
                event.to.code(),
                op.base_version.unwrap_or(0) + 1,
                self.now.to_rfc3339()
            ],
        )?;
        self.exec(
            "INSERT INTO case_events (case_id, origin, data) VALUES (?1, 'branch', ?2)",
            params![op.entity_id, serde_json::to_string(&op.payload["event"])?],
        )?;
        Ok(applied())
    }

    fn entity_of(op: &str) -> &'static str {
        match op {
            "interaction.add" => "interaction",
            "delivery.add" => "delivery",
            "survey.add" => "survey",
            "task.create" | "task.done" => "task",
            "kb.add" => "kb",
            _ => "staff",
        }
    }

    /// Interactions, deliveries, surveys, tasks: append-only, keyed by the branch's IDs.
    fn append_only(&self, op: &WireOp) -> Result<Outcome> {
        let entity = Self::entity_of(&op.op);
        let owner: Option<String> = self
            .tx
            .query_row(
                "SELECT device_id FROM records WHERE entity = ?1 AND id = ?2",
                params![entity, op.entity_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(owner) = owner {
            return Ok(if owner == self.device.device_id {
                applied()
            } else {
                rejected("id_taken")
            });
        }
        self.exec(
            "INSERT INTO records (entity, id, branch, device_id, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                entity,
                op.entity_id,
                self.device.branch,
                self.device.device_id,
                serde_json::to_string(&op.payload)?
            ],
        )?;
        Ok(applied())
    }

    fn task_done(&self, op: &WireOp) -> Result<Outcome> {
        let n = self.exec(
            "UPDATE records SET data = json_set(data, '$.done_at', ?3, '$.done_by', ?4)
             WHERE entity = 'task' AND id = ?1 AND branch = ?2",
            params![
                op.entity_id,
                self.device.branch,
                op.payload.get("done_at").and_then(Value::as_str),
                op.payload.get("done_by").and_then(Value::as_str)
            ],
        )?;
        Ok(if n == 1 {
            applied()
        } else {
            rejected("unknown_record")
        })
    }

    fn attachment_add(&self, op: &WireOp) -> Result<Outcome> {
        let sha = op.entity_id.as_str();
        let size = op.payload.get("size").and_then(Value::as_i64).unwrap_or(-1);
        let mime = op.payload.get("mime").and_then(Value::as_str).unwrap_or("");
        if sha.len() != 64
            || !sha.chars().all(|c| c.is_ascii_hexdigit())
            || !(0..=MAX_ATTACHMENT).contains(&size)
            || mime.is_empty()
        {
            return Ok(rejected("bad_payload"));
        }
        self.exec(
            "INSERT INTO attachments (sha256, mime, size) VALUES (?1, ?2, ?3) ON CONFLICT(sha256) DO NOTHING",
            params![sha, mime, size],
        )?;
        self.exec(
            "INSERT INTO attachment_owners (sha256, branch) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![sha, self.device.branch],
        )?;
        Ok(applied())
    }

    /// Staff accounts: kept as the branch sent them; a complete account goes back down the feed
    /// to the branch's other devices.
    fn staff(&self, op: &WireOp) -> Result<Outcome> {
        let current: Option<(String, String)> = self
            .tx
            .query_row(
                "SELECT branch, data FROM records WHERE entity = 'staff' AND id = ?1",
                [&op.entity_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut data = match (&current, op.op.as_str()) {
            (Some((branch, _)), _) if *branch != self.device.branch => {
                return Ok(rejected("other_branch"));
            }
            (None, "staff.create") => {
                let mut d = op.payload.clone();
                d["id"] = json!(op.entity_id);
                d["branch"] = json!(self.device.branch);
                d
            }
            (Some((_, d)), "staff.create") => {
                let _ = d;
                return Ok(applied());
            }
            (None, _) => return Ok(rejected("unknown_record")),
            (Some((_, d)), _) => serde_json::from_str(d)?,
        };
        match op.op.as_str() {
            "staff.set_active" => data["active"] = op.payload["active"].clone(),
            "staff.set_roles" => data["roles"] = op.payload["roles"].clone(),
            _ => {}
        }
        self.exec(
            "INSERT INTO records (entity, id, branch, device_id, data) VALUES ('staff', ?1, ?2, ?3, ?4)
             ON CONFLICT(entity, id) DO UPDATE SET data = excluded.data",
            params![
                op.entity_id,
                self.device.branch,
                self.device.device_id,
                serde_json::to_string(&data)?
            ],
        )?;
        if serde_json::from_value::<sila_domain::staff::StaffAccount>(data.clone()).is_ok() {
            feed(
                self.tx,
                Some(&self.device.branch),
                kinds::STAFF,
                &op.entity_id,
                &data,
                self.now,
            )?;
        }
        Ok(applied())
    }
}

/// The holding digest of one device's records, computed as the branch computes it.
fn device_digest(conn: &Connection, device_id: &str) -> Result<String> {
    let mut lines = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT id, coalesce(merged_into, '-') FROM beneficiaries WHERE device_id = ?1",
    )?;
    for r in stmt.query_map([device_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (id, m) = r?;
        lines.push(format!("b {id} {m}"));
    }
    let mut stmt = conn.prepare_cached("SELECT id, state FROM cases WHERE device_id = ?1")?;
    for r in stmt.query_map([device_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        let (id, s) = r?;
        lines.push(format!("c {id} {s}"));
    }
    Ok(sila_store::sync::digest_lines(lines))
}

impl HqStore for SqliteHq {
    fn console(&self) -> Option<&dyn crate::console::ConsoleStore> {
        Some(self)
    }

    fn enroll(&self, req: &EnrollRequest, now: DateTime<Utc>) -> Result<EnrollResponse> {
        let device_id: DeviceId = req
            .device_id
            .parse()
            .map_err(|_| HqError::BadRequest("device_id"))?;
        let device_id = device_id.to_string();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let code_hash = sha_hex(normalise_code(&req.code).as_bytes());
        let code: Option<(String, String, Option<String>)> = tx
            .query_row(
                "SELECT branch, expires_at, used_by_device FROM enrol_codes WHERE code_hash = ?1",
                [&code_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((branch, expires_at, used_by)) = code else {
            return Err(HqError::CodeInvalid);
        };
        if DateTime::parse_from_rfc3339(&expires_at).map_or(true, |e| now > e) {
            return Err(HqError::CodeExpired);
        }
        if branch != req.branch.trim() {
            return Err(HqError::BranchMismatch);
        }
        let existing: Option<(String, Option<String>, Option<String>)> = tx
            .query_row(
                "SELECT branch, revoked_at, last_seen_at FROM devices WHERE device_id = ?1",
                [&device_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match &used_by {
            None => {}
            // The same device again with the same code: its first answer was lost (or the
            // request was repeated). It gets the same credential again, so a repeat never
            // invalidates the one already delivered.
            Some(d) if *d == device_id => {}
            Some(_) => return Err(HqError::CodeUsed),
        }
        if let Some((dev_branch, revoked, _)) = &existing {
            if revoked.is_some() {
                return Err(HqError::Revoked);
            }
            if *dev_branch != branch {
                return Err(HqError::BranchMismatch);
            }
        }
        let token = format!(
            "sila1_{}",
            hex::encode(hmac_sha256(
                &self.token_key,
                format!("{code_hash}/{device_id}").as_bytes()
            ))
        );
        let token_hash = sha_hex(token.as_bytes());
        let stamp = now.to_rfc3339();
        tx.execute(
            "INSERT INTO devices (device_id, branch, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(device_id) DO UPDATE SET token_hash = excluded.token_hash",
            params![device_id, branch, token_hash, stamp],
        )?;
        tx.execute(
            "UPDATE enrol_codes SET used_by_device = ?2, used_at = ?3 WHERE code_hash = ?1",
            params![code_hash, device_id, stamp],
        )?;
        tx.commit()?;
        Ok(EnrollResponse {
            device_id,
            branch,
            token,
        })
    }

    fn authenticate(&self, token: &str) -> Result<Device> {
        let conn = self.lock();
        let row: Option<(String, String, Option<String>)> = conn
            .query_row(
                "SELECT device_id, branch, revoked_at FROM devices WHERE token_hash = ?1",
                [sha_hex(token.as_bytes())],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match row {
            None => Err(HqError::Unauthorized),
            Some((_, _, Some(_))) => Err(HqError::Revoked),
            Some((device_id, branch, None)) => Ok(Device { device_id, branch }),
        }
    }

    fn push(&self, device: &Device, req: &PushRequest, now: DateTime<Utc>) -> Result<PushResponse> {
        if req.device_id != device.device_id {
            return Err(HqError::Forbidden("device_id"));
        }
        if req.ops.windows(2).any(|w| w[0].seq >= w[1].seq) {
            return Err(HqError::BadRequest("ops out of order"));
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (mut last, revoked): (i64, Option<String>) = tx.query_row(
            "SELECT last_seq, revoked_at FROM devices WHERE device_id = ?1",
            [&device.device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if revoked.is_some() {
            return Err(HqError::Revoked);
        }
        let mut results = Vec::with_capacity(req.ops.len());
        let stamp = now.to_rfc3339();
        for op in &req.ops {
            if op.seq <= last {
                let seen: Option<(String, String, Option<String>)> = tx
                    .query_row(
                        "SELECT op_id, result, reason FROM applied_ops WHERE device_id = ?1 AND seq = ?2",
                        params![device.device_id, op.seq],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                results.push(match seen {
                    Some((op_id, result, reason)) if op_id == op.op_id => OpOutcome {
                        seq: op.seq,
                        result: OpResult::from_code(&result).unwrap_or(OpResult::Applied),
                        reason,
                        repeat: true,
                    },
                    // Another operation under a number HQ has seen (a store restored from an
                    // old copy): refused, never mistaken for a repeat.
                    _ => OpOutcome {
                        seq: op.seq,
                        result: OpResult::Rejected,
                        reason: Some("seq_reused".into()),
                        repeat: false,
                    },
                });
                continue;
            }
            let applier = Applier {
                tx: &tx,
                device,
                now,
            };
            tx.prepare_cached("SAVEPOINT op")?.execute([])?;
            let (result, reason) = match applier.apply(op) {
                Ok(o) => o,
                // A payload HQ cannot read is refused; anything else (disk, database) fails
                // the whole batch so the device retries it.
                Err(HqError::Json(_)) => {
                    tx.prepare_cached("ROLLBACK TO op")?.execute([])?;
                    rejected("bad_payload")
                }
                Err(e) => return Err(e),
            };
            tx.prepare_cached("RELEASE op")?.execute([])?;
            let inserted = tx.prepare_cached(
                "INSERT INTO applied_ops (device_id, seq, op_id, op, entity, entity_id, result, reason, created_at, applied_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(op_id) DO NOTHING",
            )?.execute(
                params![device.device_id, op.seq, op.op_id, op.op, op.entity, op.entity_id, result.code(), reason, op.created_at.to_rfc3339(), stamp],
            )?;
            if inserted == 0 {
                return Err(HqError::BadRequest("op_id repeated under a new sequence"));
            }
            last = op.seq;
            // A plain success is implied by acked_through: listing it would cost ~35 bytes per
            // operation on the way down, seconds per thousand cases on 2G.
            if result != OpResult::Applied {
                results.push(OpOutcome {
                    seq: op.seq,
                    result,
                    reason,
                    repeat: false,
                });
            }
        }
        tx.execute(
            "UPDATE devices SET last_seq = ?2, last_seen_at = ?3 WHERE device_id = ?1",
            params![device.device_id, last, stamp],
        )?;
        tx.commit()?;
        Ok(PushResponse {
            acked_through: last,
            results,
        })
    }

    fn push_state(&self, device: &Device, after: i64) -> Result<PushResponse> {
        let conn = self.lock();
        let (last, revoked): (i64, Option<String>) = conn.query_row(
            "SELECT last_seq, revoked_at FROM devices WHERE device_id = ?1",
            [&device.device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if revoked.is_some() {
            return Err(HqError::Revoked);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT seq, result, reason FROM applied_ops
             WHERE device_id = ?1 AND seq > ?2 AND seq <= ?3 AND result <> 'applied' ORDER BY seq",
        )?;
        let results = stmt
            .query_map(params![device.device_id, after, last], |r| {
                let result: String = r.get(1)?;
                Ok(OpOutcome {
                    seq: r.get(0)?,
                    result: OpResult::from_code(&result).unwrap_or(OpResult::Rejected),
                    reason: r.get(2)?,
                    repeat: true,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(PushResponse {
            acked_through: last,
            results,
        })
    }

    fn pull(
        &self,
        device: &Device,
        after: i64,
        limit: usize,
        digest: Option<&str>,
    ) -> Result<PullResponse> {
        let limit = limit.clamp(1, 5000);
        let conn = self.lock();
        let resync: bool = conn.query_row(
            "SELECT resync_requested FROM devices WHERE device_id = ?1",
            [&device.device_id],
            |r| r.get(0),
        )?;
        if resync {
            return Ok(PullResponse {
                changes: vec![],
                next: after,
                more: false,
                reset: true,
            });
        }
        let mut stmt = conn.prepare_cached(
            "SELECT seq, kind, entity_id, payload FROM changes
             WHERE seq > ?1 AND (branch IS NULL OR branch = ?2) ORDER BY seq LIMIT ?3",
        )?;
        let mut changes = stmt
            .query_map(params![after, device.branch, limit as i64 + 1], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .map(|r| {
                let (seq, kind, entity_id, payload) = r?;
                Ok(Change {
                    seq,
                    kind,
                    entity_id,
                    payload: serde_json::from_str(&payload)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let more = changes.len() > limit;
        changes.truncate(limit);
        let next = if more {
            changes.last().map_or(after, |c| c.seq)
        } else {
            // Nothing of this branch follows: the cursor may skip to the head of the feed
            // (calls are serialised, so nothing can be committed below it later).
            let head: i64 =
                conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| {
                    r.get(0)
                })?;
            head.max(after)
        };
        let mut reset = false;
        if changes.is_empty()
            && let Some(d) = digest
            && device_digest(&conn, &device.device_id)? != d
        {
            tracing::warn!(device = %device.device_id, "holding digest differs: full re-download ordered");
            reset = true;
        }
        Ok(PullResponse {
            changes,
            next,
            more,
            reset,
        })
    }

    fn snapshot(
        &self,
        device: &Device,
        entity: &str,
        after: i64,
        limit: usize,
    ) -> Result<PullResponse> {
        let limit = limit.clamp(1, 5000);
        let conn = self.lock();
        if entity == "beneficiary" && after == 0 {
            conn.execute(
                "UPDATE devices SET resync_requested = 0 WHERE device_id = ?1",
                [&device.device_id],
            )?;
        }
        let sql = match entity {
            "beneficiary" => {
                "SELECT rid, id, data, branch, merged_into FROM beneficiaries WHERE device_id = ?1 AND rid > ?2 ORDER BY rid LIMIT ?3"
            }
            "case" => {
                "SELECT rid, id, data, branch, NULL FROM cases WHERE device_id = ?1 AND rid > ?2 ORDER BY rid LIMIT ?3"
            }
            _ => return Err(HqError::BadRequest("entity")),
        };
        let mut stmt = conn.prepare(sql)?;
        let mut changes = stmt
            .query_map(params![device.device_id, after, limit as i64 + 1], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .map(|r| {
                let (rid, id, data, branch, merged) = r?;
                Ok(Change {
                    seq: rid,
                    kind: kinds::SNAPSHOT.into(),
                    entity_id: id,
                    payload: json!({"entity": entity, "data": serde_json::from_str::<Value>(&data)?,
                                    "branch": branch, "merged_into": merged}),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let more = changes.len() > limit;
        changes.truncate(limit);
        Ok(PullResponse {
            next: changes.last().map_or(after, |c| c.seq),
            changes,
            more,
            reset: false,
        })
    }

    fn upload_status(&self, device: &Device, sha256: &str) -> Result<UploadStatus> {
        let conn = self.lock();
        status_for(&conn, device, sha256)
    }

    fn upload_chunk(
        &self,
        device: &Device,
        sha256: &str,
        offset: i64,
        bytes: &[u8],
    ) -> Result<UploadStatus> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let status = status_for(&tx, device, sha256)?;
        if status.complete || offset + (bytes.len() as i64) <= status.received {
            // Held already (a repeated chunk).
            return Ok(status);
        }
        if offset != status.received {
            return Err(HqError::UploadOffset(status));
        }
        if offset + bytes.len() as i64 > status.size {
            return Err(HqError::BadRequest("chunk past the end of the file"));
        }
        tx.execute(
            "INSERT INTO attachment_chunks (sha256, offset, bytes) VALUES (?1, ?2, ?3)",
            params![sha256, offset, bytes],
        )?;
        let received = offset + bytes.len() as i64;
        let mut complete = false;
        if received == status.size {
            let mut whole = Vec::with_capacity(status.size as usize);
            {
                let mut stmt = tx.prepare(
                    "SELECT bytes FROM attachment_chunks WHERE sha256 = ?1 ORDER BY offset",
                )?;
                for b in stmt.query_map([sha256], |r| r.get::<_, Vec<u8>>(0))? {
                    whole.extend_from_slice(&b?);
                }
            }
            tx.execute("DELETE FROM attachment_chunks WHERE sha256 = ?1", [sha256])?;
            if sha_hex(&whole) != sha256 {
                tx.execute(
                    "UPDATE attachments SET received = 0 WHERE sha256 = ?1",
                    [sha256],
                )?;
                tx.commit()?;
                return Err(HqError::HashMismatch);
            }
            tx.execute(
                "UPDATE attachments SET received = ?2, complete = 1, bytes = ?3 WHERE sha256 = ?1",
                params![sha256, received, whole],
            )?;
            complete = true;
        } else {
            tx.execute(
                "UPDATE attachments SET received = ?2 WHERE sha256 = ?1",
                params![sha256, received],
            )?;
        }
        tx.commit()?;
        Ok(UploadStatus {
            sha256: sha256.to_owned(),
            size: status.size,
            received,
            complete,
        })
    }

    fn download(&self, device: &Device, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>> {
        let conn = self.lock();
        let allowed: bool = conn.query_row(
            "SELECT count(*) > 0 FROM attachment_owners WHERE sha256 = ?1 AND branch IN (?2, '*')",
            params![sha256, device.branch],
            |r| r.get(0),
        )?;
        if !allowed {
            return Err(HqError::NotFound("attachment"));
        }
        conn.query_row(
            "SELECT substr(bytes, ?2, ?3) FROM attachments WHERE sha256 = ?1 AND complete = 1",
            params![sha256, offset + 1, len.min(1 << 20) as i64],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(HqError::NotFound("attachment"))
    }

    fn create_enrol_code(
        &self,
        branch: &str,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let branch = branch.trim();
        if branch.is_empty() {
            return Err(HqError::BadRequest("branch"));
        }
        const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
        let mut rng = rand::rng();
        let raw: String = (0..12)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12]);
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO branches (name, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![branch, now.to_rfc3339()],
        )?;
        tx.execute(
            "INSERT INTO enrol_codes (code_hash, branch, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                sha_hex(normalise_code(&code).as_bytes()),
                branch,
                now.to_rfc3339(),
                (now + ttl).to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(code)
    }

    fn revoke_device(&self, device_id: &str, now: DateTime<Utc>) -> Result<()> {
        let n = self.lock().execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE device_id = ?1",
            params![device_id, now.to_rfc3339()],
        )?;
        if n == 0 {
            return Err(HqError::NotFound("device"));
        }
        Ok(())
    }

    fn order_resync(&self, device_id: &str) -> Result<()> {
        let n = self.lock().execute(
            "UPDATE devices SET resync_requested = 1 WHERE device_id = ?1",
            [device_id],
        )?;
        if n == 0 {
            return Err(HqError::NotFound("device"));
        }
        Ok(())
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT device_id, branch, enrolled_at, revoked_at, last_seen_at, last_seq FROM devices ORDER BY branch, enrolled_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(DeviceInfo {
                device_id: r.get(0)?,
                branch: r.get(1)?,
                enrolled_at: r.get(2)?,
                revoked_at: r.get(3)?,
                last_seen_at: r.get(4)?,
                last_seq: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn decide(
        &self,
        case_id: &str,
        transition: Transition,
        note: &str,
        actor: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<CaseEvent> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, String)> = tx
            .query_row(
                "SELECT branch, data FROM cases WHERE id = ?1",
                [case_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (branch, data) = row.ok_or(HqError::NotFound("case"))?;
        let current: Case = serde_json::from_str(&data)?;
        let hq_actor = Actor {
            staff_id: actor.staff_id,
            display_name: actor.display_name.clone(),
            roles: vec![Role::Committee, Role::HqStaff],
            branch: "HQ".into(),
        };
        let req = TransitionRequest {
            transition,
            note: note.trim().to_owned(),
            device: self.hq_device,
            branch: "HQ".into(),
        };
        let policy = sila_domain::catalog::Catalog::arabic_defaults().policy;
        let applied = case::apply(
            &current,
            &req,
            &hq_actor,
            now,
            &policy,
            &case::SubmissionFacts {
                beneficiary_problems: vec![],
            },
        )?;
        // Keep every field the branch sent, and take the lifecycle's from the transition.
        let mut data: Value = serde_json::from_str(&data)?;
        let next = serde_json::to_value(&applied.case)?;
        for f in LIFECYCLE_FIELDS {
            data[f] = next.get(f).cloned().unwrap_or(Value::Null);
        }
        tx.execute(
            "UPDATE cases SET data = ?2, state = ?3, hq_decided = 1, updated_at = ?4 WHERE id = ?1",
            params![
                case_id,
                serde_json::to_string(&data)?,
                applied.case.state.code(),
                now.to_rfc3339()
            ],
        )?;
        let event = serde_json::to_value(&applied.event)?;
        tx.execute(
            "INSERT INTO case_events (case_id, origin, data) VALUES (?1, 'hq', ?2)",
            params![case_id, serde_json::to_string(&event)?],
        )?;
        feed(
            &tx,
            Some(&branch),
            kinds::CASE_DECISION,
            case_id,
            &serde_json::to_value(proto::DecisionPayload {
                case_id: case_id.to_owned(),
                case: data,
                event,
                decision_id: uuid::Uuid::now_v7().to_string(),
            })?,
            now,
        )?;
        tx.commit()?;
        Ok(applied.event)
    }

    fn edit_beneficiary(
        &self,
        id: &str,
        fields: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let write_id = edit_fields(&tx, id, fields, now)?;
        tx.commit()?;
        Ok(write_id)
    }

    fn duplicate_candidates(&self, limit: usize) -> Result<Vec<DuplicatePair>> {
        let conn = self.lock();
        // Moves only when beneficiaries or "not the same person" answers change (migration
        // hq/0005): audit rows, sessions and case updates leave the cached search standing.
        let stamp: i64 =
            conn.query_row("SELECT version FROM duplicate_inputs", [], |r| r.get(0))?;
        let mut cache = self.duplicates.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().map(|(s, _)| *s) != Some(stamp) {
            *cache = Some((stamp, find_duplicates(&conn)?));
        }
        let all = &cache.as_ref().expect("filled above").1;
        Ok(all.iter().take(limit).cloned().collect())
    }

    fn beneficiary_file(&self, id: &str) -> Result<Option<Value>> {
        let conn = self.lock();
        let row: Option<(String, String, i64, Option<String>)> = conn
            .query_row(
                "SELECT data, branch, version, merged_into FROM beneficiaries WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(data, branch, version, merged_into)| {
            Ok(json!({
                "record": serde_json::from_str::<Value>(&data)?,
                "branch": branch,
                "version": version,
                "merged_into": merged_into,
            }))
        })
        .transpose()
    }

    fn merge_duplicates(
        &self,
        survivor: &str,
        merged: &str,
        chosen: &Map<String, Value>,
        actor: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        if survivor == merged {
            return Err(HqError::BadRequest("a record cannot be merged into itself"));
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let get = |id: &str| -> Result<Option<(String, String, Option<String>)>> {
            Ok(tx
                .query_row(
                    "SELECT branch, data, merged_into FROM beneficiaries WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?)
        };
        let (s_branch, s_data, s_merged) = get(survivor)?.ok_or(HqError::NotFound("survivor"))?;
        let (m_branch, m_data, m_merged) = get(merged)?.ok_or(HqError::NotFound("merged"))?;
        if s_merged.is_some() {
            return Err(HqError::BadRequest("the survivor was itself merged"));
        }
        if m_merged.is_some() {
            return Err(HqError::BadRequest("the record was already merged"));
        }
        let s_data: Value = serde_json::from_str(&s_data)?;
        let m_data: Value = serde_json::from_str(&m_data)?;
        // Each chosen value must be one of the two files' values: a merge picks, it does not edit.
        let mut changes = Map::new();
        let mut record = Map::new();
        let mut previous = Map::new();
        for (field, value) in chosen {
            if field == "id" {
                return Err(HqError::BadRequest("the id cannot change"));
            }
            let theirs = s_data.get(field).unwrap_or(&Value::Null);
            let other = m_data.get(field).unwrap_or(&Value::Null);
            let from = if value == theirs {
                "survivor"
            } else if value == other {
                "merged"
            } else {
                return Err(HqError::BadRequest(
                    "a chosen value must come from one of the two files",
                ));
            };
            record.insert(field.clone(), json!({"value": value, "from": from}));
            if from == "merged" {
                previous.insert(field.clone(), theirs.clone());
                changes.insert(field.clone(), value.clone());
            }
        }
        if !changes.is_empty() {
            edit_fields(&tx, survivor, &changes, now)?;
        }
        tx.execute(
            "INSERT INTO merges (survivor, merged, chosen, previous, staff_id, staff_name, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                survivor,
                merged,
                serde_json::to_string(&record)?,
                serde_json::to_string(&previous)?,
                actor.staff_id.to_string(),
                actor.display_name,
                now.to_rfc3339()
            ],
        )?;
        let merge_id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE beneficiaries SET merged_into = ?2, updated_at = ?3 WHERE id = ?1",
            params![merged, survivor, now.to_rfc3339()],
        )?;
        let s_now: String = tx.query_row(
            "SELECT data FROM beneficiaries WHERE id = ?1",
            [survivor],
            |r| r.get(0),
        )?;
        let payload = serde_json::to_value(proto::MergePayload {
            merged_id: merged.to_owned(),
            survivor_id: survivor.to_owned(),
            survivor_branch: s_branch.clone(),
            survivor: serde_json::from_str(&s_now)?,
            merge_id: Some(merge_id),
        })?;
        for branch in branches_of(&s_branch, &m_branch) {
            feed(
                &tx,
                Some(branch),
                kinds::BENEFICIARY_MERGE,
                merged,
                &payload,
                now,
            )?;
        }
        audit(
            &tx,
            actor,
            "beneficiary.merge",
            "merge",
            &merge_id.to_string(),
            now,
        )?;
        tx.commit()?;
        Ok(merge_id)
    }

    fn undo_merge(&self, merge_id: i64, actor: &HqActor, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, String, String, Option<String>)> = tx
            .query_row(
                "SELECT survivor, merged, previous, undone_at FROM merges WHERE id = ?1",
                [merge_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (survivor, merged, previous, undone) = row.ok_or(HqError::NotFound("merge"))?;
        if undone.is_some() {
            return Err(HqError::BadRequest("the merge was already undone"));
        }
        let (s_branch, m_branch, m_into): (String, String, Option<String>) = tx.query_row(
            "SELECT s.branch, m.branch, m.merged_into FROM beneficiaries s, beneficiaries m
             WHERE s.id = ?1 AND m.id = ?2",
            params![survivor, merged],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if m_into.as_deref() != Some(survivor.as_str()) {
            return Err(HqError::BadRequest(
                "the record has changed since the merge",
            ));
        }
        let previous: Map<String, Value> = serde_json::from_str(&previous)?;
        if !previous.is_empty() {
            edit_fields(&tx, &survivor, &previous, now)?;
        }
        tx.execute(
            "UPDATE beneficiaries SET merged_into = NULL, updated_at = ?2 WHERE id = ?1",
            params![merged, now.to_rfc3339()],
        )?;
        tx.execute(
            "UPDATE merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1",
            params![merge_id, now.to_rfc3339(), actor.staff_id.to_string()],
        )?;
        let payload = serde_json::to_value(proto::UnmergePayload {
            merged_id: merged.clone(),
            survivor_id: survivor.clone(),
            merge_id,
        })?;
        for branch in branches_of(&s_branch, &m_branch) {
            feed(
                &tx,
                Some(branch),
                kinds::BENEFICIARY_UNMERGE,
                &merged,
                &payload,
                now,
            )?;
        }
        audit(
            &tx,
            actor,
            "beneficiary.unmerge",
            "merge",
            &merge_id.to_string(),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn mark_not_same(&self, a: &str, b: &str, actor: &HqActor, now: DateTime<Utc>) -> Result<()> {
        if a == b {
            return Err(HqError::BadRequest("a record is the same as itself"));
        }
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: i64 = tx.query_row(
            "SELECT count(*) FROM beneficiaries WHERE id IN (?1, ?2)",
            params![a, b],
            |r| r.get(0),
        )?;
        if known != 2 {
            return Err(HqError::NotFound("beneficiary"));
        }
        tx.execute(
            "INSERT INTO not_duplicates (a, b, staff_id, at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![a, b, actor.staff_id.to_string(), now.to_rfc3339()],
        )?;
        audit(
            &tx,
            actor,
            "beneficiary.not_same",
            "beneficiary",
            &format!("{a}|{b}"),
            now,
        )?;
        tx.commit()?;
        Ok(())
    }

    fn merges(&self, limit: usize) -> Result<Vec<MergeRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, survivor, merged, chosen, staff_name, at, undone_at FROM merges
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(
                |(id, survivor, merged, chosen, staff_name, at, undone_at)| {
                    Ok(MergeRow {
                        id,
                        survivor,
                        merged,
                        chosen: serde_json::from_str(&chosen)?,
                        staff_name,
                        at,
                        undone_at,
                    })
                },
            )
            .collect()
    }

    fn conflicts(&self, open_only: bool) -> Result<Vec<ConflictRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, entity, entity_id, field, hq_value, branch_value, device_id, seq, reason, resolved_at IS NOT NULL
             FROM conflicts WHERE (?1 = 0 OR resolved_at IS NULL) ORDER BY id",
        )?;
        let rows = stmt.query_map([open_only as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, bool>(9)?,
            ))
        })?;
        let parse = |s: Option<String>| -> Value {
            s.and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null)
        };
        let mut out = Vec::new();
        for r in rows {
            let (id, entity, entity_id, field, hq, br, device_id, seq, reason, resolved) = r?;
            out.push(ConflictRow {
                id,
                entity,
                entity_id,
                field,
                hq_value: parse(hq),
                branch_value: parse(br),
                device_id,
                seq,
                reason,
                resolved,
            });
        }
        Ok(out)
    }

    fn resolve_conflict(&self, id: i64, how: Resolution, now: DateTime<Utc>) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, String, String, Option<String>)> = tx
            .query_row(
                "SELECT entity, entity_id, field, branch_value FROM conflicts WHERE id = ?1 AND resolved_at IS NULL",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (entity, entity_id, field, branch_value) = row.ok_or(HqError::NotFound("conflict"))?;
        if entity == "beneficiary" {
            // Either way the chosen value is written again as HQ's, so it reaches the branch
            // (which kept its own value while the conflict was open).
            let v: Value = match how {
                Resolution::TakeBranch => branch_value
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(Value::Null),
                Resolution::KeepHq => {
                    let data: String = tx.query_row(
                        "SELECT data FROM beneficiaries WHERE id = ?1",
                        [&entity_id],
                        |r| r.get(0),
                    )?;
                    serde_json::from_str::<Value>(&data)?
                        .get(&field)
                        .cloned()
                        .unwrap_or(Value::Null)
                }
            };
            let mut fields = Map::new();
            fields.insert(field, v);
            edit_fields(&tx, &entity_id, &fields, now)?;
        }
        tx.execute(
            "UPDATE conflicts SET resolved_at = ?2, resolution = ?3 WHERE id = ?1",
            params![
                id,
                now.to_rfc3339(),
                match how {
                    Resolution::KeepHq => "keep_hq",
                    Resolution::TakeBranch => "take_branch",
                }
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn publish_document(
        &self,
        title: &str,
        body: &str,
        file: Option<(&[u8], &str)>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        if title.trim().is_empty() {
            return Err(HqError::BadRequest("title"));
        }
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = uuid::Uuid::now_v7().to_string();
        let (sha, mime, size) = match file {
            Some((bytes, mime)) => {
                let sha = sha_hex(bytes);
                tx.execute(
                    "INSERT INTO attachments (sha256, mime, size, received, complete, bytes) VALUES (?1, ?2, ?3, ?3, 1, ?4)
                     ON CONFLICT(sha256) DO UPDATE SET received = excluded.received, complete = 1, bytes = excluded.bytes",
                    params![sha, mime, bytes.len() as i64, bytes],
                )?;
                tx.execute(
                    "INSERT INTO attachment_owners (sha256, branch) VALUES (?1, '*') ON CONFLICT DO NOTHING",
                    [&sha],
                )?;
                (Some(sha), mime.to_owned(), bytes.len() as i64)
            }
            None => (None, String::new(), 0),
        };
        let doc = proto::KbDocument {
            id: id.clone(),
            title: title.trim().to_owned(),
            body: body.trim().to_owned(),
            sha256: sha,
            mime,
            size,
            published_at: now.to_rfc3339(),
        };
        let payload = serde_json::to_value(&doc)?;
        tx.execute(
            "INSERT INTO records (entity, id, branch, device_id, data) VALUES ('kb', ?1, 'HQ', ?2, ?3)",
            params![id, self.hq_device.to_string(), serde_json::to_string(&payload)?],
        )?;
        feed(&tx, None, kinds::KB_DOCUMENT, &id, &payload, now)?;
        tx.commit()?;
        Ok(id)
    }

    fn stats(&self) -> Result<HqStats> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT name,
                (SELECT count(*) FROM beneficiaries b WHERE b.branch = n.name AND b.merged_into IS NULL),
                (SELECT count(*) FROM cases c WHERE c.branch = n.name)
             FROM (SELECT name FROM branches UNION SELECT DISTINCT branch FROM beneficiaries) n ORDER BY name",
        )?;
        let branches = stmt
            .query_map([], |r| {
                Ok(BranchStats {
                    name: r.get(0)?,
                    beneficiaries: r.get(1)?,
                    cases: r.get(2)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(HqStats {
            beneficiaries: branches.iter().map(|b| b.beneficiaries).sum(),
            cases: branches.iter().map(|b| b.cases).sum(),
            branches,
        })
    }

    fn case_states(&self, branch: &str) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, state FROM cases WHERE branch = ?1 ORDER BY id")?;
        let rows = stmt.query_map([branch], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// HQ writes fields of a beneficiary: recorded per field as an unseen HQ write and sent down the
/// feed to the owning branch.
fn edit_fields(
    tx: &Connection,
    id: &str,
    fields: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT branch, data, field_writes FROM beneficiaries WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (branch, data, writes) = row.ok_or(HqError::NotFound("beneficiary"))?;
    let mut data: Value = serde_json::from_str(&data)?;
    let mut writes: Map<String, Value> = serde_json::from_str(&writes)?;
    tx.execute(
        "INSERT INTO hq_writes (beneficiary_id, fields, at) VALUES (?1, ?2, ?3)",
        params![id, serde_json::to_string(fields)?, now.to_rfc3339()],
    )?;
    let write_id = tx.last_insert_rowid();
    let obj = data.as_object_mut().ok_or(HqError::BadRequest("record"))?;
    for (f, v) in fields {
        if f == "id" {
            return Err(HqError::BadRequest("the id cannot change"));
        }
        // JSON null is a value (every field is always serialised).
        obj.insert(f.clone(), v.clone());
        writes.insert(f.clone(), json!({"write_id": write_id, "seen_at": null}));
    }
    if serde_json::from_value::<sila_domain::beneficiary::Beneficiary>(data.clone()).is_err() {
        return Err(HqError::BadRequest("the fields do not make a valid record"));
    }
    let national_id = data
        .get("national_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    tx.execute(
        "UPDATE beneficiaries SET data = ?2, field_writes = ?3, national_id = ?4, updated_at = ?5 WHERE id = ?1",
        params![id, serde_json::to_string(&data)?, serde_json::to_string(&writes)?, national_id, now.to_rfc3339()],
    )?;
    feed(
        tx,
        Some(&branch),
        kinds::BENEFICIARY_FIELDS,
        id,
        &serde_json::to_value(proto::FieldsPayload {
            beneficiary_id: id.to_owned(),
            fields: fields.clone(),
            write_id,
        })?,
        now,
    )?;
    Ok(write_id)
}

fn status_for(conn: &Connection, device: &Device, sha256: &str) -> Result<UploadStatus> {
    let row: Option<(i64, i64, bool)> = conn
        .query_row(
            "SELECT a.size, a.received, a.complete FROM attachments a
             JOIN attachment_owners o ON o.sha256 = a.sha256 AND o.branch = ?2
             WHERE a.sha256 = ?1",
            params![sha256, device.branch],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (size, received, complete) = row.ok_or(HqError::NotFound("attachment"))?;
    Ok(UploadStatus {
        sha256: sha256.to_owned(),
        size,
        received,
        complete,
    })
}

/// The branches a change about two records goes to: each record's own, once.
fn branches_of<'a>(a: &'a str, b: &'a str) -> Vec<&'a str> {
    if a == b { vec![a] } else { vec![a, b] }
}

/// An HQ staff action, by record IDs only (never names or values).
pub(crate) fn audit(
    tx: &Connection,
    actor: &HqActor,
    action: &str,
    entity: &str,
    entity_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO hq_audit (at, staff_id, action, entity, entity_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now.to_rfc3339(), actor.staff_id.to_string(), action, entity, entity_id],
    )?;
    Ok(())
}

/// Every live beneficiary as duplicate detection sees it, then the candidate pairs a reviewer
/// has not already answered.
fn find_duplicates(conn: &Connection) -> Result<Vec<DuplicatePair>> {
    #[derive(serde::Deserialize)]
    struct Lite {
        name: sila_domain::beneficiary::PersonName,
        #[serde(default)]
        birth_date: Option<chrono::NaiveDate>,
        #[serde(default)]
        mobile: Option<String>,
    }
    let mut people = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT id, branch, national_id, data FROM beneficiaries WHERE merged_into IS NULL ORDER BY rid",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let data: String = r.get(3)?;
        let lite: Lite = serde_json::from_str(&data)?;
        people.push(duplicates::Person {
            id: r.get(0)?,
            branch: r.get(1)?,
            national_id: r.get(2)?,
            full_name: lite.name.full(),
            birth_date: lite.birth_date,
            mobile: lite.mobile,
        });
    }
    let mut answered: std::collections::HashSet<(String, String)> =
        std::collections::HashSet::new();
    let mut stmt = conn.prepare("SELECT a, b FROM not_duplicates")?;
    for pair in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
        answered.insert(pair?);
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let person = |p: &duplicates::Person| DuplicatePerson {
        id: p.id.clone(),
        branch: p.branch.clone(),
        national_id: p.national_id.clone(),
        full_name: p.full_name.clone(),
        birth_date: p.birth_date.map(|d| d.to_string()),
        mobile: p.mobile.clone(),
    };
    Ok(
        duplicates::candidates(&people, duplicates::THRESHOLD, threads)
            .into_iter()
            .filter(|c| {
                let (x, y) = (&people[c.a].id, &people[c.b].id);
                let key = if x < y {
                    (x.clone(), y.clone())
                } else {
                    (y.clone(), x.clone())
                };
                !answered.contains(&key)
            })
            .map(|c| DuplicatePair {
                a: person(&people[c.a]),
                b: person(&people[c.b]),
                score: c.score,
                certain: c.certain,
                reasons: c.reasons.iter().map(|r| r.code().to_owned()).collect(),
            })
            .collect(),
    )
}
