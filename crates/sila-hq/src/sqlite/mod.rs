//! HQ's embedded default engine: one SQLite file (through the workspace's one rusqlite), WAL,
//! `synchronous=FULL` so an acknowledgement is only ever sent for a durable commit. It holds SQL
//! and nothing else: every rule (what an operation may do, decisions, merges, conflicts) is in
//! [`crate::rules`], which this engine runs inside its transactions through [`tx::SqliteTx`].
//!
//! One connection behind a mutex: SQLite has one writer anyway, and serialising every call makes
//! each branch's feed numbering exact (an entry is never committed below a cursor already handed
//! out).
//!
//! The file is unencrypted by default: an HQ server runs unattended, so a key would have to sit
//! beside the file; full-disk encryption of the server is the control that fits. Setting
//! `SILA_HQ_DB_KEY` (64 hex digits) keys it with SQLCipher all the same.

mod read;
pub mod tx;

use crate::rules;
use crate::store::*;
use chrono::{DateTime, Utc};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sila_domain::case::{CaseEvent, Transition};
use sila_domain::duplicates;
use sila_domain::ids::DeviceId;
use sila_proto::{
    EnrollRequest, EnrollResponse, LookupResponse, PullResponse, PushRequest, PushResponse,
    PushState, SnapshotPlan, UploadStatus,
};
use std::path::Path;
use std::sync::Mutex;
pub use tx::SqliteTx;

pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../../../migrations/hq/0001_init.sql"),
    ),
    (
        "0002_duplicates",
        include_str!("../../../../migrations/hq/0002_duplicates.sql"),
    ),
    (
        "0003_console",
        include_str!("../../../../migrations/hq/0003_console.sql"),
    ),
    (
        "0004_case_number",
        include_str!("../../../../migrations/hq/0004_case_number.sql"),
    ),
    (
        "0005_duplicate_inputs",
        include_str!("../../../../migrations/hq/0005_duplicate_inputs.sql"),
    ),
    (
        "0006_branch_sync",
        include_str!("../../../../migrations/hq/0006_branch_sync.sql"),
    ),
    (
        "0007_branch_merges",
        include_str!("../../../../migrations/hq/0007_branch_merges.sql"),
    ),
];

/// Files larger than this are refused at HQ as at the branch.
pub use crate::rules::ops::MAX_ATTACHMENT;

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

    /// Run storage operations (and the rules over them) in one IMMEDIATE transaction.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut SqliteTx<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock();
        let mut tx = SqliteTx::new(conn.transaction_with_behavior(TransactionBehavior::Immediate)?);
        let r = f(&mut tx)?;
        tx.commit()?;
        Ok(r)
    }
}

/// The charity's policy HQ applies (the promise, reminders).
fn policy() -> sila_domain::catalog::Policy {
    sila_domain::catalog::Catalog::arabic_defaults().policy
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
        let policy = policy();
        let ctx = rules::Context {
            device_id: &device.device_id,
            branch: &device.branch,
            policy: &policy,
            now,
        };
        self.write(|tx| rules::push::push(tx, &ctx, &req.ops))
    }

    fn push_state(&self, device: &Device, after: i64) -> Result<PushState> {
        read::push_state(&self.lock(), device, after)
    }

    fn pull(
        &self,
        device: &Device,
        after: i64,
        limit: usize,
        own: i64,
        digest: Option<&str>,
    ) -> Result<PullResponse> {
        read::pull(&self.lock(), device, after, limit, own, digest)
    }

    fn snapshot_plan(&self, device: &Device) -> Result<SnapshotPlan> {
        let conn = self.lock();
        conn.execute(
            "UPDATE devices SET resync_requested = 0 WHERE device_id = ?1",
            [&device.device_id],
        )?;
        read::snapshot_plan(&conn, device)
    }

    fn snapshot(
        &self,
        device: &Device,
        phase: &str,
        after: i64,
        limit: usize,
    ) -> Result<PullResponse> {
        read::snapshot(&self.lock(), device, phase, after, limit)
    }

    fn lookup(
        &self,
        device: &Device,
        national_id: &str,
        now: DateTime<Utc>,
    ) -> Result<LookupResponse> {
        read::lookup(&self.lock(), device, national_id, now)
    }

    fn upload_status(&self, device: &Device, sha256: &str) -> Result<UploadStatus> {
        read::upload_status(&self.lock(), &device.branch, sha256)
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
        let r = read::upload_chunk(&tx, &device.branch, sha256, offset, bytes);
        // A failed hash check is kept (the branch's progress goes back to zero) and reported.
        match r {
            Ok(s) => {
                tx.commit()?;
                Ok(s)
            }
            Err(HqError::HashMismatch) => {
                tx.commit()?;
                Err(HqError::HashMismatch)
            }
            Err(e) => Err(e),
        }
    }

    fn download(&self, device: &Device, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>> {
        read::download(&self.lock(), &device.branch, sha256, offset, len)
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
        let policy = policy();
        self.write(|tx| {
            rules::hq::decide(
                tx,
                case_id,
                transition,
                note,
                actor,
                self.hq_device,
                &policy,
                now,
            )
        })
    }

    fn edit_beneficiary(
        &self,
        id: &str,
        fields: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.write(|tx| rules::hq::edit_beneficiary(tx, id, fields, now))
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
        self.write(|tx| rules::hq::merge(tx, survivor, merged, chosen, actor, now))
    }

    fn undo_merge(&self, merge_id: i64, actor: &HqActor, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| rules::hq::undo_merge(tx, merge_id, actor, now))
    }

    fn mark_not_same(&self, a: &str, b: &str, actor: &HqActor, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| rules::hq::mark_not_same(tx, a, b, actor, now))
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
        self.write(|tx| rules::hq::resolve_conflict(tx, id, how, now))
    }

    fn publish_document(
        &self,
        title: &str,
        body: &str,
        file: Option<(&[u8], &str)>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        self.write(|tx| rules::hq::publish_document(tx, title, body, file, now))
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
    let mut unreadable = 0usize;
    while let Some(r) = rows.next()? {
        let data: String = r.get(3)?;
        // A row that cannot be read (an older HQ, a damaged page) is left out of the review
        // and counted, never fatal to the review of every branch.
        let Ok(lite) = serde_json::from_str::<Lite>(&data) else {
            unreadable += 1;
            continue;
        };
        people.push(duplicates::Person {
            id: r.get(0)?,
            branch: r.get(1)?,
            national_id: r.get(2)?,
            full_name: lite.name.full(),
            birth_date: lite.birth_date,
            mobile: lite.mobile,
        });
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "duplicate review: records that could not be read were left out"
        );
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
