//! [`ConsoleStore`] for the embedded SQLite store. Same connection and mutex as the rest of
//! [`SqliteHq`], so a staff account sent down the feed is numbered exactly like every other entry.

use super::store::*;
use crate::sqlite::SqliteHq;
use crate::store::{HqError, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, NaiveDate, Utc};
use rand::Rng;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn random_token() -> String {
    let mut k = [0u8; 32];
    rand::rng().fill(&mut k);
    hex::encode(k)
}

fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 10 {
        return Err(HqError::BadRequest("password_too_short"));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| HqError::BadRequest("salt"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HqError::BadRequest("password"))
}

/// A hash of a password nobody has, checked when the user name is unknown so that a wrong name
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("salt");
        Argon2::default()
            .hash_password(b"no such account, no such password", &salt)
            .expect("hash")
            .to_string()
    })
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn roles_json(roles: &[ConsoleRole]) -> Result<String> {
    let mut r: Vec<ConsoleRole> = roles.to_vec();
    r.sort();
    r.dedup();
    Ok(serde_json::to_string(&r)?)
}

fn staff_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConsoleStaff> {
    let roles: String = r.get(3)?;
    Ok(ConsoleStaff {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        active: r.get(4)?,
    })
}

const STAFF_COLS: &str = "id, username, display_name, roles, active";

/// The name to show for a beneficiary record (as written, or the four parts).
pub(crate) fn display_name(data: &Value) -> String {
    let name = &data["name"];
    let written = name["as_written"].as_str().unwrap_or("").trim();
    if !written.is_empty() {
        return written.to_owned();
    }
    ["first", "father", "grandfather", "family"]
        .iter()
        .filter_map(|k| name[*k].as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn promise_of(promised: &str, today: NaiveDate, due_soon_days: i64) -> Option<(Promise, i64)> {
    let p = NaiveDate::parse_from_str(promised, "%Y-%m-%d").ok()?;
    let left = (p - today).num_days();
    Some((
        if left < 0 {
            Promise::Overdue
        } else if left <= due_soon_days {
            Promise::DueSoon
        } else {
            Promise::OnTrack
        },
        left,
    ))
}

fn due_soon_days() -> i64 {
    sila_domain::catalog::Catalog::arabic_defaults()
        .policy
        .due_soon_days
}

impl SqliteHq {
    /// The console's second connection to the same file, for staff, sessions and the audit:
    /// a page view writes an audit row, and on the main connection that write would count as a
    /// change and throw away the cached duplicate search (seconds at 1M people).
    fn aux(&self) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>> {
        if self.console_conn.get().is_none() {
            let path = self
                .lock()
                .path()
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .ok_or(HqError::BadRequest("the console needs a database file"))?;
            let conn = rusqlite::Connection::open(&path)?;
            if let Ok(key) = std::env::var("SILA_HQ_DB_KEY") {
                // Checked by SqliteHq::open already.
                conn.execute_batch(&format!("PRAGMA key = \"x'{key}'\";"))?;
            }
            conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;")?;
            // Another thread may have set it first; either connection will do.
            let _ = self.console_conn.set(std::sync::Mutex::new(conn));
        }
        Ok(self
            .console_conn
            .get()
            .expect("set above")
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
    }
}

/// States in which a case waits for its decision (its promise is still open).
const WAITING: [&str; 4] = ["submitted", "in_research", "incomplete", "in_committee"];

impl ConsoleStore for SqliteHq {
    fn add_console_staff(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[ConsoleRole],
        now: DateTime<Utc>,
    ) -> Result<ConsoleStaff> {
        let username = username.trim();
        if username.is_empty() || username.chars().count() > 64 {
            return Err(HqError::BadRequest("username"));
        }
        if roles.is_empty() {
            return Err(HqError::BadRequest("roles"));
        }
        let display_name = match display_name.trim() {
            "" => username,
            d => d,
        };
        let hash = hash_password(password)?;
        let id = sila_domain::ids::StaffId::new_v7().to_string();
        let conn = self.aux()?;
        let taken: bool = conn.query_row(
            "SELECT count(*) > 0 FROM console_staff WHERE username = ?1",
            [username],
            |r| r.get(0),
        )?;
        if taken {
            return Err(HqError::BadRequest("username_taken"));
        }
        conn.execute(
            "INSERT INTO console_staff (id, username, display_name, roles, password_hash, active, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
            params![id, username, display_name, roles_json(roles)?, hash, now.to_rfc3339()],
        )?;
        Ok(conn.query_row(
            &format!("SELECT {STAFF_COLS} FROM console_staff WHERE id = ?1"),
            [&id],
            staff_row,
        )?)
    }

    fn console_staff(&self) -> Result<Vec<ConsoleStaff>> {
        let conn = self.aux()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {STAFF_COLS} FROM console_staff ORDER BY username"
        ))?;
        let rows = stmt.query_map([], staff_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_console_staff(
        &self,
        id: &str,
        roles: Option<&[ConsoleRole]>,
        active: Option<bool>,
        password: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<ConsoleStaff> {
        let hash = password.map(hash_password).transpose()?;
        let mut conn = self.aux()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: ConsoleStaff = tx
            .query_row(
                &format!("SELECT {STAFF_COLS} FROM console_staff WHERE id = ?1"),
                [id],
                staff_row,
            )
            .optional()?
            .ok_or(HqError::NotFound("staff"))?;
        let roles = roles.unwrap_or(&current.roles);
        if roles.is_empty() {
            return Err(HqError::BadRequest("roles"));
        }
        let active = active.unwrap_or(current.active);
        // The console must always keep one active administrator.
        if !(active && roles.contains(&ConsoleRole::Admin)) && current.has(ConsoleRole::Admin) {
            let admins: i64 = tx.query_row(
                "SELECT count(*) FROM console_staff WHERE active = 1 AND id <> ?1
                 AND EXISTS (SELECT 1 FROM json_each(roles) WHERE value = 'admin')",
                [id],
                |r| r.get(0),
            )?;
            if admins == 0 {
                return Err(HqError::BadRequest("last_admin"));
            }
        }
        tx.execute(
            "UPDATE console_staff SET roles = ?2, active = ?3, password_hash = coalesce(?4, password_hash), updated_at = ?5 WHERE id = ?1",
            params![id, roles_json(roles)?, active, hash, now.to_rfc3339()],
        )?;
        if !active || hash.is_some() {
            // A disabled account, or a new password: every open session ends.
            tx.execute("DELETE FROM console_sessions WHERE staff_id = ?1", [id])?;
        }
        let s = tx.query_row(
            &format!("SELECT {STAFF_COLS} FROM console_staff WHERE id = ?1"),
            [id],
            staff_row,
        )?;
        tx.commit()?;
        Ok(s)
    }

    fn sign_in(
        &self,
        username: &str,
        password: &str,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, ConsoleSession)> {
        let found: Option<(ConsoleStaff, String)> = {
            let conn = self.aux()?;
            conn.query_row(
                &format!(
                    "SELECT {STAFF_COLS}, password_hash FROM console_staff WHERE username = ?1"
                ),
                [username.trim()],
                |r| Ok((staff_row(r)?, r.get(5)?)),
            )
            .optional()?
        };
        // The hash is checked outside the lock: Argon2 takes tens of milliseconds, and sync
        // must not wait for it.
        let ok = match &found {
            Some((_, hash)) => verify_password(hash, password),
            None => {
                verify_password(dummy_hash(), password);
                false
            }
        };
        let staff = match found {
            Some((s, _)) if ok && s.active => s,
            _ => return Err(HqError::Unauthorized),
        };
        let token = random_token();
        let csrf = random_token();
        let expires_at = now + ttl;
        let conn = self.aux()?;
        conn.execute(
            "DELETE FROM console_sessions WHERE expires_at < ?1",
            [now.to_rfc3339()],
        )?;
        conn.execute(
            "INSERT INTO console_sessions (token_hash, staff_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![sha_hex(token.as_bytes()), staff.id, csrf, now.to_rfc3339(), expires_at.to_rfc3339()],
        )?;
        Ok((
            token,
            ConsoleSession {
                staff,
                csrf,
                expires_at,
            },
        ))
    }

    fn session(&self, token: &str, now: DateTime<Utc>) -> Result<Option<ConsoleSession>> {
        let conn = self.aux()?;
        let row: Option<(ConsoleStaff, String, String)> = conn
            .query_row(
                "SELECT s.id, s.username, s.display_name, s.roles, s.active, x.csrf, x.expires_at
                 FROM console_sessions x JOIN console_staff s ON s.id = x.staff_id
                 WHERE x.token_hash = ?1",
                [sha_hex(token.as_bytes())],
                |r| Ok((staff_row(r)?, r.get(5)?, r.get(6)?)),
            )
            .optional()?;
        let Some((staff, csrf, expires)) = row else {
            return Ok(None);
        };
        let expires_at = DateTime::parse_from_rfc3339(&expires)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(now);
        if expires_at <= now || !staff.active {
            return Ok(None);
        }
        Ok(Some(ConsoleSession {
            staff,
            csrf,
            expires_at,
        }))
    }

    fn sign_out(&self, token: &str) -> Result<()> {
        self.aux()?.execute(
            "DELETE FROM console_sessions WHERE token_hash = ?1",
            [sha_hex(token.as_bytes())],
        )?;
        Ok(())
    }

    fn audit(
        &self,
        staff: &ConsoleStaff,
        action: &str,
        entity: &str,
        entity_id: &str,
        detail: &Value,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.aux()?.execute(
            "INSERT INTO console_audit (at, staff_id, staff_name, action, entity, entity_id, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                now.to_rfc3339(),
                staff.id,
                staff.display_name,
                action,
                entity,
                entity_id,
                serde_json::to_string(detail)?
            ],
        )?;
        Ok(())
    }

    fn audit_log(&self, before: Option<i64>, limit: usize) -> Result<Vec<AuditRow>> {
        let conn = self.aux()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, staff_id, staff_name, action, entity, entity_id, detail FROM console_audit
             WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![before.unwrap_or(i64::MAX), limit.clamp(1, 500) as i64],
            |r| {
                let detail: String = r.get(7)?;
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    staff_id: r.get(2)?,
                    staff_name: r.get(3)?,
                    action: r.get(4)?,
                    entity: r.get(5)?,
                    entity_id: r.get(6)?,
                    detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn committee_queue(
        &self,
        filter: &CommitteeFilter,
        after: Option<&str>,
        limit: usize,
        today: NaiveDate,
    ) -> Result<CommitteePage> {
        let soon = due_soon_days();
        let today_s = today.format("%Y-%m-%d").to_string();
        let soon_s = (today + chrono::Duration::days(soon))
            .format("%Y-%m-%d")
            .to_string();
        // Each promise filter is one half-open range [from, to) of the index's second column.
        let next_day = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| {
                    (d + chrono::Duration::days(1))
                        .format("%Y-%m-%d")
                        .to_string()
                })
                .unwrap_or_default()
        };
        let after_soon = next_day(&soon_s);
        let (from, to): (Option<String>, Option<String>) = match filter.promise.as_deref() {
            None | Some("") => (None, None),
            Some("overdue") => (None, Some(today_s.clone())),
            Some("due_soon") => (Some(today_s.clone()), Some(after_soon.clone())),
            Some("on_track") => (Some(after_soon.clone()), None),
            Some(_) => return Err(HqError::BadRequest("promise")),
        };
        let (after_p, after_rid) = match after {
            Some(c) => {
                let (p, rid) = c.rsplit_once('|').ok_or(HqError::BadRequest("cursor"))?;
                (
                    Some(p.to_owned()),
                    rid.parse::<i64>()
                        .map_err(|_| HqError::BadRequest("cursor"))?,
                )
            }
            None => (None, 0),
        };
        let branch = filter.branch.as_deref().filter(|b| !b.is_empty());
        let limit = limit.clamp(1, 200);
        let conn = self.lock();
        // Only the conditions in use are written, so each is an index seek (an `?1 IS NULL OR`
        // form would make SQLite test every waiting case).
        let mut cond = String::from("c.state = 'in_committee'");
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(b) = branch {
            args.push(Box::new(b.to_owned()));
            cond.push_str(&format!(" AND c.branch = ?{}", args.len()));
        }
        if let Some(f) = &from {
            args.push(Box::new(f.clone()));
            cond.push_str(&format!(" AND c.c_promised >= ?{}", args.len()));
        }
        if let Some(t) = &to {
            args.push(Box::new(t.clone()));
            cond.push_str(&format!(" AND c.c_promised < ?{}", args.len()));
        }
        if let Some(p) = &after_p {
            args.push(Box::new(p.clone()));
            args.push(Box::new(after_rid));
            cond.push_str(&format!(
                " AND (c.c_promised, c.rid) > (?{}, ?{})",
                args.len() - 1,
                args.len()
            ));
        }
        args.push(Box::new(limit as i64 + 1));
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT c.rid, c.id, c.branch, c.data, b.data
             FROM cases c LEFT JOIN beneficiaries b ON b.id = c.beneficiary_id
             WHERE {cond} ORDER BY c.c_promised, c.rid LIMIT ?{}",
            args.len()
        ))?;
        let raw = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let more = raw.len() > limit;
        let mut rows = Vec::with_capacity(limit);
        let mut next = None;
        for (i, (rid, id, branch, data, bdata)) in raw.into_iter().enumerate() {
            if i == limit {
                break;
            }
            let c: Value = serde_json::from_str(&data)?;
            let b: Value = bdata
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?
                .unwrap_or(Value::Null);
            let promised = c["promised_reply_date"].as_str().map(str::to_owned);
            let (promise, left) = promised
                .as_deref()
                .and_then(|p| promise_of(p, today, soon))
                .map_or((Promise::OnTrack, None), |(p, l)| (p, Some(l)));
            if more && i == limit - 1 {
                next = Some(format!("{}|{rid}", promised.clone().unwrap_or_default()));
            }
            rows.push(CommitteeRow {
                case_id: id,
                number: c["number"].as_str().unwrap_or("").to_owned(),
                branch,
                support_type: c["support_type"].as_str().unwrap_or("").to_owned(),
                channel: c["channel"].as_str().unwrap_or("").to_owned(),
                submitted_at: c["submitted_at"].as_str().map(str::to_owned),
                promised_reply_date: promised,
                promise,
                days_left: left,
                beneficiary_id: c["beneficiary_id"].as_str().unwrap_or("").to_owned(),
                beneficiary_name: display_name(&b),
            });
        }
        let count = |from: Option<&str>, to: Option<&str>| -> Result<i64> {
            let mut cond = String::from("state = 'in_committee'");
            let mut args: Vec<&str> = Vec::new();
            for (value, op) in [
                (branch, "branch ="),
                (from, "c_promised >="),
                (to, "c_promised <"),
            ] {
                if let Some(v) = value {
                    args.push(v);
                    cond.push_str(&format!(" AND {op} ?{}", args.len()));
                }
            }
            Ok(conn
                .prepare_cached(&format!("SELECT count(*) FROM cases WHERE {cond}"))?
                .query_row(rusqlite::params_from_iter(args), |r| r.get(0))?)
        };
        let overdue = count(None, Some(&today_s))?;
        let due_soon = count(Some(&today_s), Some(&after_soon))?;
        let total = count(None, None)?;
        Ok(CommitteePage {
            rows,
            next,
            total,
            on_track: total - overdue - due_soon,
            due_soon,
            overdue,
        })
    }

    fn case_by_number(&self, number: &str) -> Result<Option<String>> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT id FROM cases WHERE c_number = ?1",
                [number.trim().to_uppercase()],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn case_file(&self, case_id: &str, today: NaiveDate) -> Result<Option<CaseFile>> {
        let conn = self.lock();
        let row: Option<(String, String, String, String)> = conn
            .query_row(
                "SELECT branch, state, data, beneficiary_id FROM cases WHERE id = ?1",
                [case_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((branch, state, data, beneficiary_id)) = row else {
            return Ok(None);
        };
        let case: Value = serde_json::from_str(&data)?;
        let beneficiary: Option<Value> = conn
            .query_row(
                "SELECT data, merged_into, branch FROM beneficiaries WHERE id = ?1",
                [&beneficiary_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?
            .map(|(d, m, b)| -> Result<Value> {
                let mut v: Value = serde_json::from_str(&d)?;
                v["merged_into"] = json!(m);
                v["branch"] = json!(b);
                Ok(v)
            })
            .transpose()?;
        let events = {
            let mut stmt = conn.prepare_cached(
                "SELECT data, origin FROM case_events WHERE case_id = ?1 ORDER BY seq",
            )?;
            stmt.query_map([case_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .map(|r| -> Result<Value> {
                let (d, origin) = r?;
                let mut v: Value = serde_json::from_str(&d)?;
                v["origin"] = json!(origin);
                Ok(v)
            })
            .collect::<Result<Vec<_>>>()?
        };
        let file_doc =
            |code: &str, required: bool, seen: bool, sha: Option<&str>| -> Result<FileDocument> {
                let meta: Option<(String, i64, bool)> = match sha {
                    Some(s) => conn
                        .query_row(
                            "SELECT mime, size, complete FROM attachments WHERE sha256 = ?1",
                            [s],
                            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                        )
                        .optional()?,
                    None => None,
                };
                Ok(FileDocument {
                    code: code.to_owned(),
                    required,
                    seen_in_original: seen,
                    sha256: sha.map(str::to_owned),
                    mime: meta.as_ref().map(|m| m.0.clone()),
                    size: meta.as_ref().map(|m| m.1),
                    at_hq: meta.is_some_and(|m| m.2),
                })
            };
        let mut documents = Vec::new();
        for d in case["documents"].as_array().into_iter().flatten() {
            documents.push(file_doc(
                d["code"].as_str().unwrap_or(""),
                d["required"].as_bool().unwrap_or(false),
                d["seen_in_original"].as_bool().unwrap_or(false),
                d["attachment"].as_str(),
            )?);
        }
        let signature = match case["declaration"]["signature"]["attachment"].as_str() {
            Some(sha) => Some(file_doc(
                case["declaration"]["signature"]["kind"]
                    .as_str()
                    .unwrap_or("drawn"),
                true,
                true,
                Some(sha),
            )?),
            None => None,
        };
        let records = |entity: &str| -> Result<Vec<Value>> {
            let mut stmt = conn.prepare_cached(
                "SELECT data FROM records WHERE entity = ?1 AND r_case = ?2 ORDER BY id",
            )?;
            stmt.query_map(params![entity, case_id], |r| r.get::<_, String>(0))?
                .map(|r| Ok(serde_json::from_str(&r?)?))
                .collect()
        };
        let interactions = records("interaction")?;
        let deliveries = records("delivery")?;
        let surveys = records("survey")?;
        let other_cases = {
            let mut stmt = conn.prepare_cached(
                "SELECT id, state, json_extract(data, '$.number'), json_extract(data, '$.support_type'), json_extract(data, '$.submitted_at')
                 FROM cases WHERE beneficiary_id = ?1 AND id <> ?2 ORDER BY rid LIMIT 50",
            )?;
            stmt.query_map(params![beneficiary_id, case_id], |r| {
                Ok(json!({
                    "id": r.get::<_, String>(0)?,
                    "state": r.get::<_, String>(1)?,
                    "number": r.get::<_, Option<String>>(2)?,
                    "support_type": r.get::<_, Option<String>>(3)?,
                    "submitted_at": r.get::<_, Option<String>>(4)?,
                }))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let promise = if WAITING.contains(&state.as_str()) {
            case["promised_reply_date"]
                .as_str()
                .and_then(|p| promise_of(p, today, due_soon_days()))
                .map(|(p, _)| p)
        } else {
            None
        };
        Ok(Some(CaseFile {
            case,
            branch,
            state,
            promise,
            beneficiary,
            events,
            documents,
            signature,
            interactions,
            deliveries,
            surveys,
            other_cases,
        }))
    }

    fn attachment(&self, sha256: &str) -> Result<Option<AttachmentBytes>> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT mime, bytes FROM attachments WHERE sha256 = ?1 AND complete = 1 AND bytes IS NOT NULL",
                [sha256],
                |r| {
                    Ok(AttachmentBytes {
                        mime: r.get(0)?,
                        bytes: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn dashboard(&self, filter: &DashFilter, today: NaiveDate) -> Result<Dashboard> {
        let branch = filter.branch.as_deref().filter(|b| !b.is_empty());
        let channel = filter.channel.as_deref().filter(|b| !b.is_empty());
        let soon = due_soon_days();
        let today_s = today.format("%Y-%m-%d").to_string();
        let soon_s = (today + chrono::Duration::days(soon))
            .format("%Y-%m-%d")
            .to_string();
        let conn = self.lock();
        let branches = branch_names(&conn)?;

        #[derive(Default, Clone)]
        struct Acc {
            intake: i64,
            open: i64,
            approved: i64,
            rejected: i64,
            on_time: i64,
            late: i64,
            overdue: i64,
            surveys: i64,
            score_sum: i64,
            complaints: i64,
            suggestions: i64,
        }
        let mut by_branch: BTreeMap<String, Acc> = BTreeMap::new();
        let mut by_channel: BTreeMap<String, Acc> = BTreeMap::new();
        let mut intake: BTreeMap<String, i64> = BTreeMap::new();
        let mut funnel: BTreeMap<String, i64> = BTreeMap::new();
        let mut compliance = Compliance {
            decided_on_time: 0,
            decided_late: 0,
            waiting_on_track: 0,
            waiting_due_soon: 0,
            waiting_overdue: 0,
        };
        {
            // Every column below is in case_facts_dashboard, so SQLite reads only the index.
            let mut stmt = conn.prepare_cached(
                "SELECT branch, channel, state, month, outcome,
                        CASE WHEN decided IS NULL OR promised IS NULL THEN NULL ELSE decided <= promised END,
                        CASE WHEN promised IS NULL THEN NULL
                             WHEN promised < ?3 THEN 'overdue'
                             WHEN promised <= ?4 THEN 'due_soon'
                             ELSE 'on_track' END,
                        count(*)
                 FROM case_facts
                 WHERE (?1 IS NULL OR branch = ?1) AND (?2 IS NULL OR channel = ?2)
                 GROUP BY 1, 2, 3, 4, 5, 6, 7",
            )?;
            let mut q = stmt.query(params![branch, channel, today_s, soon_s])?;
            while let Some(r) = q.next()? {
                let b: String = r.get(0)?;
                let ch: Option<String> = r.get(1)?;
                let state: String = r.get(2)?;
                let month: Option<String> = r.get(3)?;
                let outcome: Option<String> = r.get(4)?;
                let on_time: Option<bool> = r.get(5)?;
                let promise: Option<String> = r.get(6)?;
                let n: i64 = r.get(7)?;
                *funnel.entry(state.clone()).or_default() += n;
                let waiting = WAITING.contains(&state.as_str());
                for acc in [
                    by_branch.entry(b).or_default(),
                    by_channel.entry(ch.unwrap_or_default()).or_default(),
                ] {
                    if month.is_some() {
                        acc.intake += n;
                    }
                    if waiting {
                        acc.open += n;
                        if promise.as_deref() == Some("overdue") {
                            acc.overdue += n;
                        }
                    }
                    match outcome.as_deref() {
                        Some("approved") => acc.approved += n,
                        Some("rejected") => acc.rejected += n,
                        _ => {}
                    }
                    match on_time {
                        Some(true) => acc.on_time += n,
                        Some(false) => acc.late += n,
                        None => {}
                    }
                }
                if let Some(m) = month {
                    *intake.entry(m).or_default() += n;
                }
                match on_time {
                    Some(true) => compliance.decided_on_time += n,
                    Some(false) => compliance.decided_late += n,
                    None => {}
                }
                if waiting {
                    match promise.as_deref() {
                        Some("overdue") => compliance.waiting_overdue += n,
                        Some("due_soon") => compliance.waiting_due_soon += n,
                        Some("on_track") => compliance.waiting_on_track += n,
                        _ => {}
                    }
                }
            }
        }
        let mut satisfaction: BTreeMap<i64, i64> = (1..=5).map(|s| (s, 0)).collect();
        let mut trend: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT branch, channel, CAST(value AS INTEGER), month, count(*)
                 FROM record_facts
                 WHERE entity = 'survey' AND (?1 IS NULL OR branch = ?1) AND (?2 IS NULL OR channel = ?2)
                 GROUP BY 1, 2, 3, 4",
            )?;
            let mut q = stmt.query(params![branch, channel])?;
            while let Some(r) = q.next()? {
                let b: String = r.get(0)?;
                let ch: Option<String> = r.get(1)?;
                let score: Option<i64> = r.get(2)?;
                let month: Option<String> = r.get(3)?;
                let n: i64 = r.get(4)?;
                let Some(score) = score.filter(|s| (1..=5).contains(s)) else {
                    continue;
                };
                *satisfaction.entry(score).or_default() += n;
                if let Some(m) = month {
                    let t = trend.entry(m).or_default();
                    t.0 += n;
                    t.1 += n * score;
                }
                for acc in [
                    by_branch.entry(b).or_default(),
                    by_channel.entry(ch.unwrap_or_default()).or_default(),
                ] {
                    acc.surveys += n;
                    acc.score_sum += n * score;
                }
            }
        }
        let mut voice: BTreeMap<String, i64> = BTreeMap::new();
        let (mut complaints, mut suggestions) = (0, 0);
        {
            let mut stmt = conn.prepare_cached(
                "SELECT branch, channel, value, month, count(*)
                 FROM record_facts
                 WHERE entity = 'interaction' AND (?1 IS NULL OR branch = ?1) AND (?2 IS NULL OR channel = ?2)
                   AND value IN ('complaint', 'suggestion')
                 GROUP BY 1, 2, 3, 4",
            )?;
            let mut q = stmt.query(params![branch, channel])?;
            while let Some(r) = q.next()? {
                let b: String = r.get(0)?;
                let ch: Option<String> = r.get(1)?;
                let purpose: String = r.get(2)?;
                let month: Option<String> = r.get(3)?;
                let n: i64 = r.get(4)?;
                let complaint = purpose == "complaint";
                if complaint {
                    complaints += n;
                } else {
                    suggestions += n;
                }
                *voice
                    .entry(format!("{}/{}", month.unwrap_or_default(), purpose))
                    .or_default() += n;
                for acc in [
                    by_branch.entry(b).or_default(),
                    by_channel.entry(ch.unwrap_or_default()).or_default(),
                ] {
                    if complaint {
                        acc.complaints += n;
                    } else {
                        acc.suggestions += n;
                    }
                }
            }
        }
        let rows = |m: BTreeMap<String, Acc>| -> Vec<DashRow> {
            m.into_iter()
                .map(|(key, a)| DashRow {
                    key,
                    intake: a.intake,
                    open: a.open,
                    approved: a.approved,
                    rejected: a.rejected,
                    decided_on_time: a.on_time,
                    decided_late: a.late,
                    waiting_overdue: a.overdue,
                    surveys: a.surveys,
                    satisfaction: (a.surveys > 0)
                        .then(|| (a.score_sum as f64 / a.surveys as f64 * 100.0).round() / 100.0),
                    complaints: a.complaints,
                    suggestions: a.suggestions,
                })
                .collect()
        };
        let order = sila_domain::case::CaseState::ALL;
        Ok(Dashboard {
            today: today_s,
            branches,
            intake: intake
                .into_iter()
                .map(|(key, n)| Count { key, n })
                .collect(),
            funnel: order
                .iter()
                .map(|s| Count {
                    key: s.code().to_owned(),
                    n: funnel.get(s.code()).copied().unwrap_or(0),
                })
                .collect(),
            compliance,
            satisfaction: satisfaction
                .into_iter()
                .map(|(k, n)| Count {
                    key: k.to_string(),
                    n,
                })
                .collect(),
            satisfaction_trend: trend
                .into_iter()
                .map(|(month, (n, sum))| MonthScore {
                    month,
                    n,
                    mean: (sum as f64 / n as f64 * 100.0).round() / 100.0,
                })
                .collect(),
            voice: voice.into_iter().map(|(key, n)| Count { key, n }).collect(),
            complaints,
            suggestions,
            by_branch: rows(by_branch),
            by_channel: rows(by_channel),
        })
    }

    fn branches(&self) -> Result<Vec<String>> {
        branch_names(&self.lock())
    }

    fn branch_staff(&self, branch: Option<&str>) -> Result<Vec<BranchStaffRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, branch, data FROM records WHERE entity = 'staff' AND (?1 IS NULL OR branch = ?1)
             ORDER BY branch, json_extract(data, '$.username') LIMIT 2000",
        )?;
        let rows = stmt
            .query_map([branch], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, branch, data) in rows {
            let d: Value = serde_json::from_str(&data)?;
            out.push(BranchStaffRow {
                id,
                branch,
                username: d["username"].as_str().unwrap_or("").to_owned(),
                display_name: d["display_name"].as_str().unwrap_or("").to_owned(),
                roles: d["roles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect(),
                active: d["active"].as_bool().unwrap_or(true),
            });
        }
        Ok(out)
    }

    fn upsert_branch_staff(
        &self,
        account: &sila_domain::staff::StaffAccount,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| crate::rules::hq::upsert_branch_staff(tx, account, now))
    }

    fn kb_documents(&self) -> Result<Vec<KbRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, data FROM records WHERE entity = 'kb' AND branch = 'HQ' ORDER BY id DESC LIMIT 500",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, d)| {
                let d: Value = serde_json::from_str(&d)?;
                Ok(KbRow {
                    id,
                    title: d["title"].as_str().unwrap_or("").to_owned(),
                    mime: d["mime"].as_str().unwrap_or("").to_owned(),
                    size: d["size"].as_i64().unwrap_or(0),
                    published_at: d["published_at"].as_str().unwrap_or("").to_owned(),
                })
            })
            .collect()
    }
}

fn branch_names(conn: &rusqlite::Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM branches UNION SELECT DISTINCT branch FROM devices ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
