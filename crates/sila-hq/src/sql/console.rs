//! The console's storage in shared SQL: HQ staff and their sessions, the audit, and the read
//! models of its pages (the committee queue, the whole file of a case, dashboards, branch staff,
//! the knowledge base). Every list is paged in SQL and served from an index
//! (`migrations/hq/0003_console.sql` and its PostgreSQL twin).

use crate::db::{Conn, Row, Val};
use crate::error::Code;
use crate::params;
use crate::rules::promise::{self, WAITING};
use crate::rules::signin::{self, Outcome, Track};
use crate::store::console::*;
use crate::{HqError, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const STAFF_COLS: &str = "id, username, display_name, roles, active";

fn staff_row(r: &Row) -> Result<ConsoleStaff> {
    Ok(ConsoleStaff {
        id: r.text(0)?,
        username: r.text(1)?,
        display_name: r.text(2)?,
        roles: serde_json::from_str(&r.text(3)?).unwrap_or_default(),
        active: r.bool(4)?,
    })
}

/// The name to show for a beneficiary record (as written, or the four parts).
pub fn display_name(data: &Value) -> String {
    let name = &data["name"];
    let part = |k: &str| name[k].as_str();
    shown_name(
        part("as_written"),
        [
            part("first"),
            part("father"),
            part("grandfather"),
            part("family"),
        ],
    )
}

/// A name as written when there is one, or else its parts (first, father, grandfather,
/// family) that are not empty, joined by spaces.
fn shown_name(as_written: Option<&str>, parts: [Option<&str>; 4]) -> String {
    if let Some(w) = as_written.map(str::trim)
        && !w.is_empty()
    {
        return w.to_owned();
    }
    parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The fields of a case's record a queue row shows. Read typed, the rest of the record is
/// skipped unread: the queue's download reads every waiting case (181,863 at 1M cases), and
/// building each record as a `Value` tree was most of its time on SQLite. A field of another
/// type than text shows empty, as `Value::as_str` did.
#[derive(serde::Deserialize)]
struct QueueCase {
    #[serde(default, deserialize_with = "text")]
    number: Option<String>,
    #[serde(default, deserialize_with = "text")]
    support_type: Option<String>,
    #[serde(default, deserialize_with = "text")]
    channel: Option<String>,
    #[serde(default, deserialize_with = "text")]
    submitted_at: Option<String>,
    #[serde(default, deserialize_with = "text")]
    promised_reply_date: Option<String>,
    #[serde(default, deserialize_with = "text")]
    beneficiary_id: Option<String>,
}

/// A person's name as a queue row shows it ([`display_name`], read typed).
#[derive(serde::Deserialize)]
struct QueuePerson {
    #[serde(default)]
    name: Option<QueueName>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct QueueName {
    #[serde(deserialize_with = "text")]
    as_written: Option<String>,
    #[serde(deserialize_with = "text")]
    first: Option<String>,
    #[serde(deserialize_with = "text")]
    father: Option<String>,
    #[serde(deserialize_with = "text")]
    grandfather: Option<String>,
    #[serde(deserialize_with = "text")]
    family: Option<String>,
}

impl QueueName {
    /// As [`display_name`].
    fn shown(&self) -> String {
        shown_name(
            self.as_written.as_deref(),
            [
                self.first.as_deref(),
                self.father.as_deref(),
                self.grandfather.as_deref(),
                self.family.as_deref(),
            ],
        )
    }
}

/// A JSON value as text when it is a string, and nothing when it is anything else (skipped).
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> std::result::Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut a: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut a: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while a
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(Text)
}

// ---- staff and sessions ----

/// An account by user name (any case), with its password hash.
pub fn staff_by_name(c: &mut dyn Conn, username: &str) -> Result<Option<(ConsoleStaff, String)>> {
    c.row(
        &format!("SELECT {STAFF_COLS}, password_hash FROM console_staff WHERE lower(username) = lower(?1)"),
        params![username],
    )?
    .map(|r| Ok((staff_row(&r)?, r.text(5)?)))
    .transpose()
}

pub fn staff_by_id(c: &mut dyn Conn, id: &str) -> Result<Option<ConsoleStaff>> {
    let lock = c.dialect().for_update();
    c.row(
        &format!("SELECT {STAFF_COLS} FROM console_staff WHERE id = ?1{lock}"),
        params![id],
    )?
    .map(|r| staff_row(&r))
    .transpose()
}

pub fn all_staff(c: &mut dyn Conn) -> Result<Vec<ConsoleStaff>> {
    c.query(
        &format!("SELECT {STAFF_COLS} FROM console_staff ORDER BY username"),
        params![],
    )?
    .iter()
    .map(staff_row)
    .collect()
}

pub fn insert_staff(
    c: &mut dyn Conn,
    id: &str,
    username: &str,
    display_name: &str,
    roles_json: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    c.exec(
        "INSERT INTO console_staff (id, username, display_name, roles, password_hash, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
        params![id, username, display_name, roles_json, hash, now],
    )?;
    Ok(())
}

/// Change an account; a disabled account or a new password ends every open session.
pub fn update_staff(
    c: &mut dyn Conn,
    id: &str,
    roles_json: &str,
    active: bool,
    hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    c.exec(
        "UPDATE console_staff SET roles = ?2, active = ?3, password_hash = coalesce(?4, password_hash), updated_at = ?5 WHERE id = ?1",
        params![id, roles_json, active, hash, now],
    )?;
    if !active || hash.is_some() {
        c.exec(
            "DELETE FROM console_sessions WHERE staff_id = ?1",
            params![id],
        )?;
    }
    Ok(())
}

pub fn add_session(
    c: &mut dyn Conn,
    token_hash: &str,
    staff_id: &str,
    csrf: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    c.exec(
        "DELETE FROM console_sessions WHERE expires_at < ?1",
        params![now],
    )?;
    c.exec(
        "INSERT INTO console_sessions (token_hash, staff_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, staff_id, csrf, now, expires_at],
    )?;
    Ok(())
}

/// A session by its token's hash: who, the CSRF token, until when.
pub fn session(
    c: &mut dyn Conn,
    token_hash: &str,
) -> Result<Option<(ConsoleStaff, String, String)>> {
    c.row(
        "SELECT s.id, s.username, s.display_name, s.roles, s.active, x.csrf, x.expires_at
         FROM console_sessions x JOIN console_staff s ON s.id = x.staff_id
         WHERE x.token_hash = ?1",
        params![token_hash],
    )?
    .map(|r| Ok((staff_row(&r)?, r.text(5)?, r.text(6)?)))
    .transpose()
}

pub fn end_session(c: &mut dyn Conn, token_hash: &str) -> Result<()> {
    c.exec(
        "DELETE FROM console_sessions WHERE token_hash = ?1",
        params![token_hash],
    )?;
    Ok(())
}

// ---- audit ----

pub fn audit_log(c: &mut dyn Conn, before: Option<i64>, limit: usize) -> Result<Vec<AuditRow>> {
    c.query(
        "SELECT id, at, staff_id, staff_name, action, entity, entity_id, detail FROM audit
         WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        params![before.unwrap_or(i64::MAX), limit.clamp(1, 500)],
    )?
    .iter()
    .map(|r| {
        Ok(AuditRow {
            id: r.i64(0)?,
            at: r.text(1)?,
            staff_id: r.text(2)?,
            staff_name: r.text(3)?,
            action: r.text(4)?,
            entity: r.text(5)?,
            entity_id: r.text(6)?,
            detail: serde_json::from_str(&r.text(7)?).unwrap_or(Value::Null),
        })
    })
    .collect()
}

// ---- the committee ----

/// The promise filter's half-open range [from, to) of the queue index's promised column.
fn promise_range(
    filter: &CommitteeFilter,
    today: NaiveDate,
) -> Result<(Option<String>, Option<String>)> {
    let (today_s, after_soon) = promise::bounds(today, promise::due_soon_days());
    Ok(match filter.promise.as_deref() {
        None | Some("") => (None, None),
        Some("overdue") => (None, Some(today_s)),
        Some("due_soon") => (Some(today_s), Some(after_soon)),
        Some("on_track") => (Some(after_soon), None),
        Some(_) => return Err(HqError::Refused(Code::BadFilter)),
    })
}

/// The queue's statement: at most `limit` rows after the cursor `after` (promised date `|`
/// rid), in the index's order, so a page is a keyset seek and a download reads the index in
/// order. The limit is written in the statement, not a parameter, so that the plan PostgreSQL
/// keeps for it is the index walk ([`crate::db::Dialect::kept_plans`]).
fn queue_sql(
    filter: &CommitteeFilter,
    after: Option<&str>,
    limit: usize,
    today: NaiveDate,
) -> Result<(String, Vec<Val>)> {
    let (from, to) = promise_range(filter, today)?;
    // Each promise filter is one half-open range [from, to) of the index's second column.
    let (after_p, after_rid) = match after {
        Some(cur) => {
            let (p, rid) = cur
                .rsplit_once('|')
                .ok_or(HqError::Refused(Code::BadFilter))?;
            (
                Some(p.to_owned()),
                rid.parse::<i64>()
                    .map_err(|_| HqError::Refused(Code::BadFilter))?,
            )
        }
        None => (None, 0),
    };
    let branch = filter.branch.as_deref().filter(|b| !b.is_empty());
    // Only the conditions in use are written, so each is an index seek (an `?1 IS NULL OR`
    // form would make the engine test every waiting case).
    let mut cond = String::from("c.state = 'in_committee'");
    let mut args: Vec<Val> = Vec::new();
    if let Some(b) = branch {
        args.push(b.into());
        cond.push_str(&format!(" AND c.branch = ?{}", args.len()));
    }
    if let Some(f) = &from {
        args.push(f.into());
        cond.push_str(&format!(" AND c.c_promised >= ?{}", args.len()));
    }
    if let Some(t) = &to {
        args.push(t.into());
        cond.push_str(&format!(" AND c.c_promised < ?{}", args.len()));
    }
    if let Some(p) = &after_p {
        args.push(p.into());
        args.push(after_rid.into());
        cond.push_str(&format!(
            " AND (c.c_promised, c.rid) > (?{}, ?{})",
            args.len() - 1,
            args.len()
        ));
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok((
        format!(
            "SELECT c.rid, c.id, c.branch, c.data, b.data
             FROM cases c LEFT JOIN beneficiaries b ON b.id = c.beneficiary_id
             WHERE {cond} ORDER BY c.c_promised, c.rid LIMIT {limit}"
        ),
        args,
    ))
}

/// One row of [`queue_sql`]'s answer, and its cursor (promised date `|` rid).
fn queue_row(r: &Row, today: NaiveDate, soon: i64) -> Result<(CommitteeRow, String)> {
    let rid = r.i64(0)?;
    let case: QueueCase = serde_json::from_str(&r.text(3)?)?;
    let name = r
        .opt_text(4)?
        .as_deref()
        .map(serde_json::from_str::<QueuePerson>)
        .transpose()?
        .and_then(|p| p.name)
        .map_or_else(String::new, |n| n.shown());
    let (promise, left) = case
        .promised_reply_date
        .as_deref()
        .and_then(|p| promise::promise_of(p, today, soon))
        .map_or((Promise::OnTrack, None), |(p, l)| (p, Some(l)));
    let cursor = format!(
        "{}|{rid}",
        case.promised_reply_date.as_deref().unwrap_or_default()
    );
    Ok((
        CommitteeRow {
            case_id: r.text(1)?,
            number: case.number.unwrap_or_default(),
            branch: r.text(2)?,
            support_type: case.support_type.unwrap_or_default(),
            channel: case.channel.unwrap_or_default(),
            submitted_at: case.submitted_at,
            promised_reply_date: case.promised_reply_date,
            promise,
            days_left: left,
            beneficiary_id: case.beneficiary_id.unwrap_or_default(),
            beneficiary_name: name,
        },
        cursor,
    ))
}

pub fn committee_queue(
    c: &mut dyn Conn,
    filter: &CommitteeFilter,
    after: Option<&str>,
    limit: usize,
    today: NaiveDate,
) -> Result<CommitteePage> {
    let limit = limit.clamp(1, 200);
    let (sql, args) = queue_sql(filter, after, limit + 1, today)?;
    let (today_s, after_soon) = promise::bounds(today, promise::due_soon_days());
    let branch = filter.branch.as_deref().filter(|b| !b.is_empty());
    // The totals from the queue's count table (a few rows per branch and promised day, kept by
    // trigger with the cases: migrations/hq/0016), in one statement. '' is "no promised date":
    // counted, but neither overdue nor due soon.
    let mut count_args: Vec<Val> = vec![today_s.into(), after_soon.into()];
    let mut cond = String::new();
    if let Some(b) = branch {
        count_args.push(b.into());
        cond.push_str(" WHERE branch = ?3");
    }
    let count_sql = format!(
        "SELECT CAST(coalesce(sum(n), 0) AS BIGINT),
                CAST(coalesce(sum(CASE WHEN promised <> '' AND promised < ?1 THEN n END), 0) AS BIGINT),
                CAST(coalesce(sum(CASE WHEN promised >= ?1 AND promised < ?2 THEN n END), 0) AS BIGINT)
         FROM committee_counts{cond}"
    );
    // The page and its totals are sent together: one round trip on PostgreSQL, each on the plan
    // kept for it.
    if let Some(kept) = c.dialect().kept_plans() {
        c.batch_later(kept)?;
    }
    let (page, totals) = c.query_two((&sql, &args), (&count_sql, &count_args))?;
    let soon = promise::due_soon_days();
    let mut rows = Vec::with_capacity(limit);
    let (mut next, mut last_cursor) = (None, None);
    for r in &page {
        if rows.len() == limit {
            // One row more than the page: there is a next page, after the page's last row.
            next = last_cursor.take();
            break;
        }
        let (row, cursor) = queue_row(r, today, soon)?;
        rows.push(row);
        last_cursor = Some(cursor);
    }
    let r = totals
        .first()
        .ok_or_else(|| HqError::Storage(crate::error::StorageError::new("no row")))?;
    let (total, overdue, due_soon) = (r.i64(0)?, r.i64(1)?, r.i64(2)?);
    Ok(CommitteePage {
        rows,
        next,
        total,
        on_track: total - overdue - due_soon,
        due_soon,
        overdue,
    })
}

/// The queue's rows for a download, at most `max`: one statement reading the index in order,
/// its rows converted as they arrive, with none of a page's counts. One statement rather than
/// keyset pages: at 1M cases PostgreSQL planned each page of 1,000 as a parallel nested loop
/// over pages not in its buffers (about 40 ms a page, 182 pages), and the whole queue as one
/// hash join and sort (about 2 s); SQLite reads the index in order either way.
pub fn committee_export(
    c: &mut dyn Conn,
    filter: &CommitteeFilter,
    today: NaiveDate,
    max: usize,
) -> Result<Vec<CommitteeRow>> {
    let (sql, args) = queue_sql(filter, None, max, today)?;
    let soon = promise::due_soon_days();
    let mut out = Vec::new();
    c.query_each(&sql, &args, &mut |r| {
        out.push(queue_row(&r, today, soon)?.0);
        Ok(())
    })?;
    Ok(out)
}

pub fn case_by_number(c: &mut dyn Conn, number: &str) -> Result<Option<String>> {
    c.row(
        "SELECT id FROM cases WHERE c_number = ?1",
        params![number.trim().to_uppercase()],
    )?
    .map(|r| r.text(0))
    .transpose()
}

/// A case's whole file. What is found from the case's id alone (the case with its person, its
/// events, its contacts, deliveries and surveys, the person's other cases) is asked together:
/// one round trip on PostgreSQL, where it was eight. The documents' files are known only from
/// the case's record, so they are a second round trip, and only when a document has a file.
pub fn case_file(c: &mut dyn Conn, case_id: &str, today: NaiveDate) -> Result<Option<CaseFile>> {
    let [head, events, records, others]: [Vec<Row>; 4] = c
        .query_together(&[
            (
                "SELECT c.branch, c.state, c.data, c.beneficiary_id, b.data, b.merged_into, b.branch
                 FROM cases c LEFT JOIN beneficiaries b ON b.id = c.beneficiary_id WHERE c.id = ?1",
                params![case_id],
            ),
            (
                "SELECT data, origin FROM case_events WHERE case_id = ?1 ORDER BY seq",
                params![case_id],
            ),
            (
                "SELECT entity, data FROM records
                 WHERE entity IN ('interaction', 'delivery', 'survey') AND r_case = ?1 ORDER BY id",
                params![case_id],
            ),
            (
                "SELECT id, state, data FROM cases
                 WHERE beneficiary_id = (SELECT beneficiary_id FROM cases WHERE id = ?1) AND id <> ?1
                 ORDER BY rid LIMIT 50",
                params![case_id],
            ),
        ])?
        .try_into()
        .expect("four queries, four answers");
    let Some(r) = head.first() else {
        return Ok(None);
    };
    let (branch, state, case) = (r.text(0)?, r.text(1)?, r.json(2)?);
    // A person's branch is never empty: no branch, no person (the LEFT JOIN found none).
    let beneficiary = match r.opt_text(6)? {
        Some(b_branch) => {
            let mut v = r.json(4)?;
            v["merged_into"] = json!(r.opt_text(5)?);
            v["branch"] = json!(b_branch);
            Some(v)
        }
        None => None,
    };
    let events = events
        .iter()
        .map(|r| -> Result<Value> {
            let mut v = r.json(0)?;
            v["origin"] = json!(r.text(1)?);
            Ok(v)
        })
        .collect::<Result<Vec<_>>>()?;
    // The files the documents and the signature name, each looked up once, all together.
    let docs = case["documents"].as_array().map_or(&[][..], Vec::as_slice);
    let signature_sha = case["declaration"]["signature"]["attachment"].as_str();
    let shas: BTreeSet<&str> = docs
        .iter()
        .filter_map(|d| d["attachment"].as_str())
        .chain(signature_sha)
        .collect();
    let keys: Vec<Vec<Val>> = shas.iter().map(|s| vec![Val::from(*s)]).collect();
    let mut files: BTreeMap<&str, (String, i64, bool)> = BTreeMap::new();
    for (sha, found) in shas.iter().zip(c.query_many(
        "SELECT mime, size, complete FROM attachments WHERE sha256 = ?1",
        &keys,
    )?) {
        if let Some(r) = found.first() {
            files.insert(sha, (r.text(0)?, r.i64(1)?, r.bool(2)?));
        }
    }
    let file_doc = |code: &str, required: bool, seen: bool, sha: Option<&str>| {
        let meta = sha.and_then(|s| files.get(s));
        FileDocument {
            code: code.to_owned(),
            required,
            seen_in_original: seen,
            sha256: sha.map(str::to_owned),
            mime: meta.map(|m| m.0.clone()),
            size: meta.map(|m| m.1),
            at_hq: meta.is_some_and(|m| m.2),
        }
    };
    let documents = docs
        .iter()
        .map(|d| {
            file_doc(
                d["code"].as_str().unwrap_or(""),
                d["required"].as_bool().unwrap_or(false),
                d["seen_in_original"].as_bool().unwrap_or(false),
                d["attachment"].as_str(),
            )
        })
        .collect();
    let signature = signature_sha.map(|sha| {
        file_doc(
            case["declaration"]["signature"]["kind"]
                .as_str()
                .unwrap_or("drawn"),
            true,
            true,
            Some(sha),
        )
    });
    let (mut interactions, mut deliveries, mut surveys) = (Vec::new(), Vec::new(), Vec::new());
    for r in &records {
        match r.text(0)?.as_str() {
            "interaction" => interactions.push(r.json(1)?),
            "delivery" => deliveries.push(r.json(1)?),
            _ => surveys.push(r.json(1)?),
        }
    }
    let other_cases = others
        .iter()
        .map(|r| -> Result<Value> {
            let d = r.json(2)?;
            Ok(json!({
                "id": r.text(0)?,
                "state": r.text(1)?,
                "number": d.get("number"),
                "support_type": d.get("support_type"),
                "submitted_at": d.get("submitted_at"),
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    let promise = if WAITING.contains(&state.as_str()) {
        case["promised_reply_date"]
            .as_str()
            .and_then(|p| promise::promise_of(p, today, promise::due_soon_days()))
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

pub fn attachment(
    c: &mut dyn Conn,
    files: &crate::files::Files,
    sha256: &str,
) -> Result<Option<AttachmentBytes>> {
    let Some(r) = c.row(
        "SELECT mime, bytes, size FROM attachments WHERE sha256 = ?1 AND complete = 1",
        params![sha256],
    )?
    else {
        return Ok(None);
    };
    let bytes = match r.opt_blob(1)? {
        Some(b) => b,
        None => match files.read(sha256, 0, r.i64(2)? as usize) {
            Ok(b) => b,
            Err(HqError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        },
    };
    Ok(Some(AttachmentBytes {
        mime: r.text(0)?,
        bytes,
    }))
}

// ---- dashboards ----

pub fn dashboard(c: &mut dyn Conn, filter: &DashFilter, today: NaiveDate) -> Result<Dashboard> {
    let branch = filter.branch.as_deref().filter(|b| !b.is_empty());
    let channel = filter.channel.as_deref().filter(|b| !b.is_empty());
    let soon = promise::due_soon_days();
    let (today_s, after_soon) = promise::bounds(today, soon);
    let branches = branch_names(c)?;

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
    // The case figures from their count table (kept by trigger with the cases:
    // migrations/hq/0016): a few rows per branch, channel, state and month, and per promised
    // day of the cases still waiting. '' is "none"; CAST keeps PostgreSQL's sum an integer.
    let mut cond = String::from("1 = 1");
    let mut args: Vec<Val> = vec![today_s.clone().into(), after_soon.clone().into()];
    if let Some(b) = branch {
        args.push(b.into());
        cond.push_str(&format!(" AND branch = ?{}", args.len()));
    }
    if let Some(ch) = channel {
        args.push(ch.into());
        cond.push_str(&format!(" AND channel = ?{}", args.len()));
    }
    c.query_each(
        &format!(
            "SELECT branch, nullif(channel, ''), state, nullif(month, ''), nullif(outcome, ''),
                    nullif(on_time, -1),
                    CASE WHEN promised = '' THEN NULL
                         WHEN promised < ?1 THEN 'overdue'
                         WHEN promised < ?2 THEN 'due_soon'
                         ELSE 'on_track' END,
                    CAST(sum(n) AS BIGINT)
             FROM case_counts WHERE {cond}
             GROUP BY 1, 2, 3, 4, 5, 6, 7"
        ),
        &args,
        &mut |r| {
            let b = r.text(0)?;
            let ch = r.opt_text(1)?;
            let state = r.text(2)?;
            let month = r.opt_text(3)?;
            let outcome = r.opt_text(4)?;
            let on_time = r.opt_i64(5)?.map(|v| v != 0);
            let promise = r.opt_text(6)?;
            let n = r.i64(7)?;
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
            Ok(())
        },
    )?;
    let facts = |entity: &str, extra: &str| -> (String, Vec<Val>) {
        let mut cond = format!("entity = '{entity}'{extra}");
        let mut args: Vec<Val> = Vec::new();
        if let Some(b) = branch {
            args.push(b.into());
            cond.push_str(&format!(" AND branch = ?{}", args.len()));
        }
        if let Some(ch) = channel {
            args.push(ch.into());
            cond.push_str(&format!(" AND channel = ?{}", args.len()));
        }
        (cond, args)
    };
    let mut satisfaction: BTreeMap<i64, i64> = (1..=5).map(|s| (s, 0)).collect();
    let mut trend: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (cond, args) = facts("survey", "");
    c.query_each(
        &format!(
            "SELECT branch, nullif(channel, ''), nullif(value, ''), nullif(month, ''), n
             FROM record_counts WHERE {cond}"
        ),
        &args,
        &mut |r| {
            let b = r.text(0)?;
            let ch = r.opt_text(1)?;
            let score = r.opt_text(2)?.and_then(|s| s.trim().parse::<i64>().ok());
            let month = r.opt_text(3)?;
            let n = r.i64(4)?;
            let Some(score) = score.filter(|s| (1..=5).contains(s)) else {
                return Ok(());
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
            Ok(())
        },
    )?;
    let mut voice: BTreeMap<String, i64> = BTreeMap::new();
    let (mut complaints, mut suggestions) = (0, 0);
    let (cond, args) = facts("interaction", " AND value IN ('complaint', 'suggestion')");
    c.query_each(
        &format!(
            "SELECT branch, nullif(channel, ''), nullif(value, ''), nullif(month, ''), n
             FROM record_counts WHERE {cond}"
        ),
        &args,
        &mut |r| {
            let b = r.text(0)?;
            let ch = r.opt_text(1)?;
            let purpose = r.text(2)?;
            let month = r.opt_text(3)?;
            let n = r.i64(4)?;
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
            Ok(())
        },
    )?;
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

// ---- administration ----

pub fn branch_names(c: &mut dyn Conn) -> Result<Vec<String>> {
    c.query(
        "SELECT name FROM branches UNION SELECT DISTINCT branch FROM devices ORDER BY 1",
        params![],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect()
}

pub fn branch_staff(c: &mut dyn Conn, branch: Option<&str>) -> Result<Vec<BranchStaffRow>> {
    let rows = match branch {
        Some(b) => c.query(
            "SELECT id, branch, data FROM records WHERE entity = 'staff' AND branch = ?1 LIMIT 2000",
            params![b],
        )?,
        None => c.query(
            "SELECT id, branch, data FROM records WHERE entity = 'staff' LIMIT 2000",
            params![],
        )?,
    };
    let mut out = rows
        .iter()
        .map(|r| {
            let d = r.json(2)?;
            Ok(BranchStaffRow {
                id: r.text(0)?,
                branch: r.text(1)?,
                username: d["username"].as_str().unwrap_or("").to_owned(),
                display_name: d["display_name"].as_str().unwrap_or("").to_owned(),
                roles: d["roles"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect(),
                active: d["active"].as_bool().unwrap_or(true),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| (&a.branch, &a.username).cmp(&(&b.branch, &b.username)));
    Ok(out)
}

pub fn kb_documents(c: &mut dyn Conn) -> Result<Vec<KbRow>> {
    c.query(
        "SELECT id, data FROM records WHERE entity = 'kb' AND branch = 'HQ' ORDER BY id DESC LIMIT 500",
        params![],
    )?
    .iter()
    .map(|r| {
        let d = r.json(1)?;
        Ok(KbRow {
            id: r.text(0)?,
            title: d["title"].as_str().unwrap_or("").to_owned(),
            mime: d["mime"].as_str().unwrap_or("").to_owned(),
            size: d["size"].as_i64().unwrap_or(0),
            published_at: d["published_at"].as_str().unwrap_or("").to_owned(),
        })
    })
    .collect()
}

// ---- sign-in limits (rules::signin over rows every server shares) ----

/// The counts stored under `key`, locked until the transaction ends (None: no row).
fn signin_track(c: &mut dyn Conn, key: &str) -> Result<Option<Track>> {
    let lock = c.dialect().for_update();
    c.row(
        &format!(
            "SELECT failures, in_flight, flight_at, last_at, wait_until FROM signin_limits
             WHERE key = ?1{lock}"
        ),
        params![key],
    )?
    .map(|r| {
        Ok(Track {
            failures: r.i64(0)?,
            in_flight: r.i64(1)?,
            flight_at: r.i64(2)?,
            last: r.i64(3)?,
            wait_until: r.i64(4)?,
        })
    })
    .transpose()
}

/// Store `t` under `key` (`existed`: whether a row was read), or delete it when empty. A row
/// another server inserted meanwhile makes the insert fail and the transaction run again.
fn save_signin_track(c: &mut dyn Conn, key: &str, existed: bool, t: Track, now: i64) -> Result<()> {
    if t.is_empty(now) {
        if existed {
            c.exec("DELETE FROM signin_limits WHERE key = ?1", params![key])?;
        }
        return Ok(());
    }
    let sql = if existed {
        "UPDATE signin_limits SET failures = ?2, in_flight = ?3, flight_at = ?4, last_at = ?5,
            wait_until = ?6 WHERE key = ?1"
    } else {
        "INSERT INTO signin_limits (key, failures, in_flight, flight_at, last_at, wait_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    };
    c.exec(
        sql,
        params![
            key,
            t.failures,
            t.in_flight,
            t.flight_at,
            t.last,
            t.wait_until
        ],
    )?;
    Ok(())
}

/// Reserve a sign-in attempt's place for the name and address keys (`rules::signin`), or say
/// it must wait (false). Forgets what has been idle long enough on the way.
pub fn signin_begin(c: &mut dyn Conn, name: &str, address: Option<&str>, now: i64) -> Result<bool> {
    c.exec(
        "DELETE FROM signin_limits WHERE last_at < ?1 AND wait_until <= ?2
            AND (in_flight = 0 OR flight_at < ?3)",
        params![now - signin::FORGET_AFTER, now, now - signin::IN_FLIGHT_FOR],
    )?;
    c.exec(
        "DELETE FROM signin_known WHERE at < ?1",
        params![now - signin::KNOWN_FOR],
    )?;
    // Locked in one order (name, then address) on every server.
    let tn = signin_track(c, name)?;
    let ta = address.map(|a| signin_track(c, a)).transpose()?;
    let known = match address {
        Some(a) => c
            .row(
                "SELECT 1 FROM signin_known WHERE address = ?1 AND name = ?2",
                params![a, name],
            )?
            .is_some(),
        None => false,
    };
    let Ok((n, a)) = signin::begin(tn, ta, known, now) else {
        return Ok(false);
    };
    save_signin_track(c, name, tn.is_some(), n, now)?;
    if let (Some(key), Some(t)) = (address, a) {
        save_signin_track(c, key, ta.flatten().is_some(), t, now)?;
    }
    Ok(true)
}

/// End an attempt [`signin_begin`] let through.
pub fn signin_finish(
    c: &mut dyn Conn,
    name: &str,
    address: Option<&str>,
    outcome: Outcome,
    now: i64,
) -> Result<()> {
    let tn = signin_track(c, name)?;
    let ta = address.map(|a| signin_track(c, a)).transpose()?.flatten();
    let (n, a) = signin::finish(tn, ta, outcome, now);
    if let Some(t) = n {
        save_signin_track(c, name, true, t, now)?;
    }
    if let (Some(key), Some(t)) = (address, a) {
        save_signin_track(c, key, true, t, now)?;
    }
    if outcome == Outcome::Succeeded
        && let Some(a) = address
    {
        c.exec(
            "INSERT INTO signin_known (address, name, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (address, name) DO UPDATE SET at = excluded.at",
            params![a, name, now],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue's typed reading shows what the whole record read as a `Value` shows.
    #[test]
    fn a_queue_row_reads_the_fields_display_name_and_as_str_would() {
        let people = [
            json!({"name": {"as_written": " سارة محمد ", "first": "x"}}),
            json!({"name": {"as_written": "", "first": "سارة", "father": " محمد", "family": "العتيبي"}}),
            json!({"name": {"first": "سارة", "father": 7, "grandfather": null, "family": ["x"]}}),
            json!({"name": null}),
            json!({"name": {}, "other": {"deep": [1, {"a": "b"}]}}),
            json!({}),
        ];
        for p in people {
            let typed: QueuePerson = serde_json::from_str(&p.to_string()).unwrap();
            let shown = typed.name.map_or_else(String::new, |n| n.shown());
            assert_eq!(shown, display_name(&p), "{p}");
        }
        let cases = [
            json!({"number": "AF-1", "support_type": "food", "channel": "visit",
                   "submitted_at": "2026-03-01T08:00:00Z", "promised_reply_date": "2026-03-15",
                   "beneficiary_id": "b1", "documents": [{"code": "id"}], "declaration": {"signed": true}}),
            json!({"number": 12, "support_type": null, "channel": {"x": 1}, "promised_reply_date": true}),
            json!({}),
        ];
        for c in cases {
            let typed: QueueCase = serde_json::from_str(&c.to_string()).unwrap();
            let s = |k: &str| c[k].as_str().map(str::to_owned);
            assert_eq!(typed.number, s("number"), "{c}");
            assert_eq!(typed.support_type, s("support_type"), "{c}");
            assert_eq!(typed.channel, s("channel"), "{c}");
            assert_eq!(typed.submitted_at, s("submitted_at"), "{c}");
            assert_eq!(typed.promised_reply_date, s("promised_reply_date"), "{c}");
            assert_eq!(typed.beneficiary_id, s("beneficiary_id"), "{c}");
        }
    }
}
