//! What devices read: where HQ stands with a device, a branch's feed, a branch's re-download,
//! lookups of a national ID at other branches, and files. Storage and SQL only; who may read
//! what is the branch of the authenticated device, passed in.

use crate::db::{Conn, Row};
use crate::files::Files;
use crate::params;
use crate::sql::loose_json;
use crate::store::Device;
use crate::{HqError, Result};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sila_proto::{
    Change, LookupResponse, OpOutcome, OpResult, PhaseCount, PullResponse, PushState, RecordState,
    Registration, SnapshotPlan, Standing, UploadStatus, kinds, phases, raw,
};
use std::collections::{BTreeMap, HashMap};

pub fn push_state(c: &mut dyn Conn, device: &Device, after: i64) -> Result<PushState> {
    // A push holds its device's row until it commits: waiting for that row here means a client
    // asking where HQ stands right after a cut push sees what that push kept (on PostgreSQL's
    // READ COMMITTED it would otherwise read the state before it and send the kept part again).
    let lock = c.dialect().for_update();
    let last = c
        .one(
            &format!("SELECT last_seq FROM devices WHERE device_id = ?1{lock}"),
            params![&device.device_id],
        )?
        .i64(0)?;
    let after = after.clamp(0, last);
    let rows = c.query(
        "SELECT seq, op_id, result, reason FROM applied_ops
         WHERE device_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
        params![&device.device_id, after, last],
    )?;
    let rows = rows
        .iter()
        .map(|r| Ok((r.i64(0)?, r.text(1)?, r.text(2)?, r.opt_text(3)?)))
        .collect::<Result<Vec<_>>>()?;
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
    c: &mut dyn Conn,
    device: &Device,
    after: i64,
    limit: usize,
    own: i64,
    digest: Option<&str>,
    continuous_backups: bool,
) -> Result<(PullResponse, Option<String>)> {
    let limit = limit.clamp(1, 5000);
    let d = c.one(
        "SELECT last_seq, resync_requested, backed_up_seq, epoch_seen FROM devices WHERE device_id = ?1",
        params![&device.device_id],
    )?;
    let (last_seq, resync, backed_up) = (d.i64(0)?, d.bool(1)?, d.i64(2)?);
    let epoch_seen = d.text(3)?;
    // A store that holds fewer of its own operations than HQ does was restored or copied: it
    // must take the branch again (and carry its unsent work over), not read on from its cursor.
    if resync || own < last_seq {
        let resp = PullResponse {
            changes: vec![],
            next: after,
            more: false,
            reset: true,
            release: None,
            standing: None,
        };
        return Ok((resp, None));
    }
    // Scan a bounded stretch of the feed (the device's own entries are passed over but still
    // cost a row each), so a page costs the same however much of it was the device's own.
    let scan = limit * 4;
    let rows = c
        .query(
            "SELECT seq, kind, entity_id, origin FROM feed WHERE branch = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            params![&device.branch, after, scan],
        )?
        .into_iter()
        .map(|mut r| Ok((r.i64(0)?, r.take_text(1)?, r.take_text(2)?, r.take_text(3)?)))
        .collect::<Result<Vec<_>>>()?;
    let scanned_all = rows.len() < scan;
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
    let wanted: Vec<(i64, String, String)> = wanted.into_iter().filter(|w| w.0 >= 0).collect();
    let keys: Vec<(&str, &str)> = wanted
        .iter()
        .map(|(_, kind, id)| (kind.as_str(), id.as_str()))
        .collect();
    let states = record_states(c, &device.branch, &keys, History::Recent)?;
    let mut changes = Vec::with_capacity(wanted.len());
    for ((seq, kind, id), state) in wanted.into_iter().zip(states) {
        if let Some(state) = state {
            changes.push(Change {
                seq,
                kind,
                entity_id: id,
                payload: raw(serde_json::to_string(&state)?),
            });
        }
    }
    // Read after the feed: on PostgreSQL each statement sees what was committed before it
    // began, and a backup starts the live database's new epoch before any entry the copy lacks
    // can commit, so a device never reads such an entry under the epoch the copy carries.
    let meta = |c: &mut dyn Conn, key: &str| -> Result<String> {
        Ok(
            c.row("SELECT value FROM meta WHERE key = ?1", params![key])?
                .map(|r| r.text(0))
                .transpose()?
                .unwrap_or_default(),
        )
    };
    let epoch = meta(c, "epoch")?;
    let restored = meta(c, "copy_epoch")? == epoch;
    let mut reset = false;
    // The holding digest cannot match while HQ lacks work of the branch's devices that they are
    // about to send again: this device's own (HQ holds fewer of its operations than it made),
    // or, on a restored HQ, a colleague's not seen since the restore. Taking the branch again
    // would not change what they hold, so it is not ordered.
    if changes.is_empty()
        && !more
        && own <= last_seq
        && let Some(d) = digest
        && !(restored && colleague_unseen(c, device, &epoch)?)
        && branch_digest(c, &device.branch)? != d
    {
        tracing::warn!(device = %device.device_id, "holding digest differs: re-download ordered");
        reset = true;
    }
    let epoch_head = c
        .row(
            "SELECT head FROM feed_epochs WHERE branch = ?1",
            params![&device.branch],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    let note_seen = (restored && epoch_seen != epoch).then(|| epoch.clone());
    let resp = PullResponse {
        changes,
        next,
        more,
        reset,
        release: None,
        standing: Some(Standing {
            acked_through: last_seq,
            backed_up_through: if continuous_backups {
                last_seq
            } else {
                backed_up.min(last_seq)
            },
            epoch,
            epoch_head,
        }),
    };
    Ok((resp, note_seen))
}

/// The device has pulled from this restored HQ (the epoch [`pull`] asked to note).
pub fn note_seen(c: &mut dyn Conn, device: &Device, epoch: &str) -> Result<()> {
    c.exec(
        "UPDATE devices SET epoch_seen = ?2 WHERE device_id = ?1",
        params![&device.device_id, epoch],
    )?;
    Ok(())
}

/// Is HQ on a restored copy with a device of this device's branch not seen since?
pub fn awaiting_branch(c: &mut dyn Conn, device: &Device) -> Result<bool> {
    let r = c.one(
        "SELECT (SELECT value FROM meta WHERE key = 'epoch'),
                (SELECT value FROM meta WHERE key = 'copy_epoch')",
        params![],
    )?;
    let (epoch, copy) = (r.opt_text(0)?, r.opt_text(1)?);
    match (epoch, copy) {
        (Some(e), Some(c2)) if e == c2 => colleague_unseen(c, device, &e),
        _ => Ok(false),
    }
}

/// Does the branch have an active device that has not pulled from this (restored) HQ yet?
fn colleague_unseen(c: &mut dyn Conn, device: &Device, epoch: &str) -> Result<bool> {
    Ok(c.row(
        "SELECT 1 FROM devices WHERE branch = ?1 AND device_id <> ?2 AND revoked_at IS NULL
         AND epoch_seen <> ?3 LIMIT 1",
        params![&device.branch, &device.device_id, epoch],
    )?
    .is_some())
}

/// The holding digest of a branch, as its devices compute it.
pub fn branch_digest(c: &mut dyn Conn, branch: &str) -> Result<String> {
    let mut lines = Vec::new();
    c.query_each(
        "SELECT id, coalesce(merged_into, '-') FROM beneficiaries WHERE branch = ?1",
        params![branch],
        &mut |r| {
            lines.push(format!("b {} {}", r.text(0)?, r.text(1)?));
            Ok(())
        },
    )?;
    c.query_each(
        "SELECT id, state FROM cases WHERE branch = ?1",
        params![branch],
        &mut |r| {
            lines.push(format!("c {} {}", r.text(0)?, r.text(1)?));
            Ok(())
        },
    )?;
    Ok(sila_proto::digest_lines(lines))
}

fn plain(version: i64, data: String) -> RecordState {
    RecordState {
        version,
        data: raw(data),
        merged_into: None,
        survivor: None,
        events: vec![],
        hq_edits: vec![],
        hq_edits_older: 0,
    }
}

/// The most edits by HQ's staff a record's state carries in the feed: a device shows those newer
/// than the version it held, so only a device that missed more than this many between two syncs
/// shows fewer (the record's values are whole either way).
const HQ_EDITS_SENT: i64 = 20;

/// The most a re-download carries (a laptop new to the person shows the person's whole history
/// at HQ): beyond it the state says how many older ones there are, so a person edited at HQ
/// hundreds of times costs a bounded page.
const HQ_EDITS_FIRST: i64 = 200;

/// How much of a record's history at HQ a state carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// The feed: the last few edits, for a device that held an earlier version.
    Recent,
    /// A re-download (a new laptop, or one taking its branch again): up to [`HQ_EDITS_FIRST`]
    /// and the count of those older.
    Whole,
}

/// The last edits HQ's staff made to a record (its ID, `{key}`), newest first (at most `cap`),
/// after the record's ID: a lookup by key ([`crate::db::Dialect::each_key`]).
const HQ_EDITS: &str =
    "SELECT entity_id, version, at, by_name, fields FROM hq_edits WHERE entity = ?1 AND entity_id = {key}
     ORDER BY version DESC LIMIT ?2";

/// An edit of [`HQ_EDITS`]' rows (after their record's ID).
fn hq_edit(r: &mut Row) -> Result<sila_proto::HqEdit> {
    Ok(sila_proto::HqEdit {
        version: r.i64(1)?,
        at: r.text(2)?.parse().map_err(|_| {
            HqError::Storage(crate::error::StorageError::new("hq_edits.at is not a time"))
        })?,
        by: r.take_text(3)?,
        fields: serde_json::from_str(&r.text(4)?)?,
    })
}

/// Queries, each with its own parameters, sent together ([`Conn::query_together`]).
fn together(c: &mut dyn Conn, queries: &[(&str, Vec<crate::db::Val>)]) -> Result<Vec<Vec<Row>>> {
    let refs: Vec<(&str, &[crate::db::Val])> =
        queries.iter().map(|(q, a)| (*q, a.as_slice())).collect();
    c.query_together(&refs)
}

/// The rows of one lookup by key for a page, by their first column (the key).
type ByKey = HashMap<String, Vec<Row>>;

/// The states of records as a device of `branch` receives them, in the order asked; `None` for
/// one that is not the branch's (it never leaves HQ for another branch) or no longer exists.
///
/// A page's reads go out together: one round trip for every record of it, a second only for
/// what depends on the first (a merged person's surviving record, the count of older edits);
/// each read is one lookup for all the page's keys of its kind ([`crate::db::Dialect::each_key`]: on
/// PostgreSQL one statement, not one per record). On PostgreSQL a read each, waited for in
/// turn, cost a round trip per read: two or three per record, 50,000 for a new laptop's branch
/// of 10,000 people and their cases.
pub fn record_states(
    c: &mut dyn Conn,
    branch: &str,
    wanted: &[(&str, &str)],
    history: History,
) -> Result<Vec<Option<RecordState>>> {
    let cap = match history {
        History::Recent => HQ_EDITS_SENT,
        History::Whole => HQ_EDITS_FIRST,
    };
    // The key a record is read by: its ID; a conflict's is its number (another names none).
    let key_of = |kind: &str, id: &str| match kind {
        kinds::CONFLICT => id.parse::<i64>().ok().map(|n| n.to_string()),
        _ => Some(id.to_owned()),
    };
    // The page's keys by kind, each once.
    let mut keys: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for &(kind, id) in wanted {
        if let Some(key) = key_of(kind, id) {
            keys.entry(kind).or_default().push(key);
        }
    }
    for k in keys.values_mut() {
        k.sort_unstable();
        k.dedup();
    }
    // Each lookup: the kind it reads for, what it reads, and its statements.
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Read {
        Record,
        Edits,
        Events,
    }
    let dialect = c.dialect();
    let mut lookups: Vec<((&str, Read), crate::db::Statements)> = Vec::new();
    for (&kind, ids) in &keys {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut read = |what: Read, lookup: &str, fixed: &[crate::db::Val]| {
            lookups.push(((kind, what), dialect.each_key(lookup, fixed, &ids)));
        };
        match kind {
            kinds::BENEFICIARY => read(
                Read::Record,
                "SELECT id, branch, data, version, merged_into FROM beneficiaries WHERE id = {key}",
                &[],
            ),
            kinds::CASE => {
                read(
                    Read::Record,
                    "SELECT id, branch, data, version FROM cases WHERE id = {key}",
                    &[],
                );
                read(
                    Read::Events,
                    "SELECT case_id, seq, data FROM case_events WHERE case_id = {key}",
                    &[],
                );
            }
            kinds::CONFLICT => read(
                Read::Record,
                "SELECT CAST(id AS TEXT), branch, entity, entity_id, field, hq_value, branch_value, device_id, reason, resolution
                 FROM conflicts WHERE id = CAST({key} AS BIGINT)",
                &[],
            ),
            _ => read(
                Read::Record,
                "SELECT id, branch, data, version FROM records WHERE entity = ?1 AND id = {key}",
                params![kind],
            ),
        }
        if kind == kinds::BENEFICIARY || kind == kinds::CASE {
            read(Read::Edits, HQ_EDITS, params![kind, cap]);
        }
    }
    let statements: Vec<(&str, &[crate::db::Val])> = lookups
        .iter()
        .flat_map(|(_, qs)| qs.iter().map(|(q, a)| (q.as_str(), a.as_slice())))
        .collect();
    let mut answers = c.query_together(&statements)?.into_iter();
    let mut read: BTreeMap<(&str, Read), ByKey> = BTreeMap::new();
    for (which, qs) in &lookups {
        let by_key = read.entry(*which).or_default();
        for row in answers.by_ref().take(qs.len()).flatten() {
            by_key.entry(row.text(0)?).or_default().push(row);
        }
    }
    let rows_of = |kind, what: Read, key: &str| -> Vec<Row> {
        read.get(&(kind, what))
            .and_then(|m| m.get(key).cloned())
            .unwrap_or_default()
    };

    let mut states = Vec::with_capacity(wanted.len());
    // What the second round trip reads: a merged person's survivor (the state's index and the
    // survivor's ID), and the states whose edits reached the cap (the count of older ones).
    let mut survivors: Vec<(usize, String)> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for &(kind, id) in wanted {
        let Some(mut r) = key_of(kind, id).and_then(|k| rows_of(kind, Read::Record, &k).pop())
        else {
            states.push(None);
            continue;
        };
        let b = r.opt_text(1)?.unwrap_or_default();
        // Knowledge-base documents published at HQ are every branch's.
        if b != branch && !(kind == kinds::KB && b == "HQ") {
            states.push(None);
            continue;
        }
        let mut state = match kind {
            kinds::CONFLICT => {
                let c = sila_proto::ConflictState {
                    id: id.parse().expect("a conflict is read only by its number"),
                    entity: r.text(2)?,
                    entity_id: r.text(3)?,
                    field: r.text(4)?,
                    current: loose_json(r.opt_text(5)?),
                    proposed: loose_json(r.opt_text(6)?),
                    device_id: r.text(7)?,
                    reason: r.text(8)?,
                    resolution: r.opt_text(9)?,
                };
                plain(
                    1 + i64::from(c.resolution.is_some()),
                    serde_json::to_string(&c)?,
                )
            }
            _ => plain(r.i64(3)?, r.take_text(2)?),
        };
        if kind == kinds::BENEFICIARY {
            state.merged_into = r.opt_text(4)?;
            // A person merged into someone of another branch: the branch is shown where the
            // file went (the surviving record), nothing more of that branch.
            if let Some(s) = &state.merged_into {
                survivors.push((states.len(), s.clone()));
            }
        }
        if kind == kinds::CASE {
            // In the order they were recorded (a lookup's rows come in no set order).
            let mut events = rows_of(kind, Read::Events, id);
            events.sort_by_key(|e| e.i64(1).unwrap_or_default());
            state.events = events
                .into_iter()
                .map(|mut e| e.take_text(2).map(raw))
                .collect::<Result<_>>()?;
        }
        if kind == kinds::BENEFICIARY || kind == kinds::CASE {
            let mut edits = rows_of(kind, Read::Edits, id)
                .iter_mut()
                .map(hq_edit)
                .collect::<Result<Vec<_>>>()?;
            edits.sort_by_key(|e| e.version);
            if history == History::Whole && edits.len() as i64 == cap {
                counts.push(states.len());
            }
            state.hq_edits = edits;
        }
        states.push(Some(state));
    }
    if survivors.is_empty() && counts.is_empty() {
        return Ok(states);
    }
    let mut second: Vec<(&str, Vec<crate::db::Val>)> = Vec::new();
    for (_, survivor) in &survivors {
        second.push((
            "SELECT data FROM beneficiaries WHERE id = ?1 AND branch <> ?2",
            params![survivor, branch].to_vec(),
        ));
    }
    for &i in &counts {
        let (kind, id) = wanted[i];
        second.push((
            "SELECT count(*) FROM hq_edits WHERE entity = ?1 AND entity_id = ?2",
            params![kind, id].to_vec(),
        ));
    }
    let mut answers = together(c, &second)?.into_iter();
    for (i, _) in survivors {
        let data = answers.next().unwrap_or_default().pop();
        if let Some(state) = &mut states[i] {
            state.survivor = data.map(|mut r| r.take_text(0)).transpose()?.map(raw);
        }
    }
    for i in counts {
        let n = match answers.next().unwrap_or_default().pop() {
            Some(r) => r.i64(0)?,
            None => 0,
        };
        if let Some(state) = &mut states[i] {
            state.hq_edits_older = n - cap;
        }
    }
    Ok(states)
}

/// The states a case is finished in: a re-download brings them after the open work.
const CLOSED_STATES: &str = "('closed', 'withdrawn', 'rejected')";

/// One phase of a re-download: its feed kind, and the query of (row number, id) in row order,
/// without its ORDER BY and LIMIT (so it also counts).
fn phase_query(c: &dyn Conn, phase: &str) -> Option<(&'static str, String, &'static str)> {
    let rid = c.dialect().records_rid();
    let records = |entity: &str| {
        format!(
            "SELECT {rid}, id FROM records WHERE entity = '{entity}' AND branch = ?1 AND {rid} > ?2"
        )
    };
    let rid: &'static str = rid;
    Some(match phase {
        phases::STAFF => (kinds::STAFF, records("staff"), rid),
        phases::KB => (
            kinds::KB,
            format!("SELECT {rid}, id FROM records WHERE entity = 'kb' AND branch IN (?1, 'HQ') AND {rid} > ?2"),
            rid,
        ),
        phases::BENEFICIARIES => (
            kinds::BENEFICIARY,
            "SELECT rid, id FROM beneficiaries WHERE branch = ?1 AND rid > ?2".into(),
            "rid",
        ),
        phases::OPEN_CASES => (
            kinds::CASE,
            format!("SELECT rid, id FROM cases WHERE branch = ?1 AND rid > ?2 AND state NOT IN {CLOSED_STATES}"),
            "rid",
        ),
        phases::TASKS => (kinds::TASK, records("task"), rid),
        phases::CLOSED_CASES => (
            kinds::CASE,
            format!("SELECT rid, id FROM cases WHERE branch = ?1 AND rid > ?2 AND state IN {CLOSED_STATES}"),
            "rid",
        ),
        phases::INTERACTIONS => (kinds::INTERACTION, records("interaction"), rid),
        phases::DELIVERIES => (kinds::DELIVERY, records("delivery"), rid),
        phases::SURVEYS => (kinds::SURVEY, records("survey"), rid),
        phases::CONFLICTS => (
            kinds::CONFLICT,
            "SELECT id, CAST(id AS TEXT) AS id_text FROM conflicts WHERE branch = ?1 AND id > ?2 AND resolved_at IS NULL".into(),
            "id",
        ),
        _ => return None,
    })
}

pub fn snapshot_plan(c: &mut dyn Conn, device: &Device) -> Result<SnapshotPlan> {
    let feed_head = c
        .row(
            "SELECT feed_head FROM branches WHERE name = ?1",
            params![&device.branch],
        )?
        .map(|r| r.i64(0))
        .transpose()?
        .unwrap_or(0);
    let mut out = Vec::new();
    for phase in phases::ALL {
        let (_, q, _) = phase_query(c, phase).expect("every phase has a query");
        let records = c
            .one(
                &format!("SELECT count(*) FROM ({q}) AS phase"),
                params![&device.branch, 0i64],
            )?
            .i64(0)?;
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
    c: &mut dyn Conn,
    device: &Device,
    phase: &str,
    after: i64,
    limit: usize,
) -> Result<PullResponse> {
    let limit = limit.clamp(1, 5000);
    let (kind, q, order) = phase_query(c, phase).ok_or(HqError::BadRequest("phase"))?;
    let rows = c.query(
        &format!("{q} ORDER BY {order} LIMIT ?3"),
        params![&device.branch, after, limit + 1],
    )?;
    let more = rows.len() > limit;
    let page = rows
        .into_iter()
        .take(limit)
        .map(|r| Ok((r.i64(0)?, r.text(1)?)))
        .collect::<Result<Vec<_>>>()?;
    let next = page.last().map_or(after, |(n, _)| *n);
    let keys: Vec<(&str, &str)> = page.iter().map(|(_, id)| (kind, id.as_str())).collect();
    let states = record_states(c, &device.branch, &keys, History::Whole)?;
    let mut changes = Vec::with_capacity(page.len());
    for ((n, id), state) in page.into_iter().zip(states) {
        if let Some(state) = state {
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
        release: None,
        standing: None,
    })
}

/// Most lookups one device may make in an hour: a desk registers a few dozen people a day; a
/// device asking thousands is enumerating the register.
pub const LOOKUPS_PER_HOUR: i64 = 300;

/// Is this national ID registered at another branch? Where and since when, never the file. Every
/// question is kept (who asked, when, whether it matched: never the ID).
pub fn lookup(
    c: &mut dyn Conn,
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
    let recent = c
        .one(
            "SELECT count(*) FROM lookups WHERE device_id = ?1 AND at > ?2",
            params![&device.device_id, now - chrono::Duration::hours(1)],
        )?
        .i64(0)?;
    if recent >= LOOKUPS_PER_HOUR {
        return Err(HqError::TooMany);
    }
    let registered = c
        .query(
            "SELECT branch, min(substr(created_at, 1, 10)) FROM beneficiaries
             WHERE national_id = ?1 AND branch <> ?2 AND merged_into IS NULL GROUP BY branch ORDER BY branch",
            params![national_id, &device.branch],
        )?
        .iter()
        .map(|r| {
            Ok(Registration {
                branch: r.text(0)?,
                since: r.text(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    c.exec(
        "INSERT INTO lookups (device_id, at, found) VALUES (?1, ?2, ?3)",
        params![&device.device_id, now, !registered.is_empty()],
    )?;
    Ok(LookupResponse { registered })
}

// ---- files ----

/// A branch's view of a file: what it has delivered of it. A file HQ published is whole for all.
pub fn upload_status(c: &mut dyn Conn, branch: &str, sha256: &str) -> Result<UploadStatus> {
    let r = c
        .row(
            "SELECT a.size, o.received, o.proven FROM attachments a
             JOIN attachment_owners o ON o.sha256 = a.sha256 AND o.branch IN (?2, '*')
             WHERE a.sha256 = ?1 ORDER BY o.proven DESC LIMIT 1",
            params![sha256, branch],
        )?
        .ok_or(HqError::NotFound("attachment"))?;
    Ok(UploadStatus {
        sha256: sha256.to_owned(),
        size: r.i64(0)?,
        received: r.i64(1)?,
        complete: r.bool(2)?,
    })
}

/// One chunk of a file the branch declared. The branch proves it holds the file by delivering
/// every byte: checked against HQ's copy when HQ has the file already, otherwise assembled and
/// checked against its SHA-256 at the end. A failed check is kept (the branch's progress goes
/// back to zero) and reported: the caller commits before it answers `HashMismatch`.
pub fn upload_chunk(
    c: &mut dyn Conn,
    files: &Files,
    branch: &str,
    sha256: &str,
    offset: i64,
    bytes: &[u8],
) -> Result<std::result::Result<UploadStatus, HqError>> {
    let lock = c.dialect().for_update();
    let Some(owner) = c.row(
        &format!(
            "SELECT received, proven FROM attachment_owners WHERE sha256 = ?1 AND branch = ?2{lock}"
        ),
        params![sha256, branch],
    )?
    else {
        return Err(HqError::NotFound("attachment"));
    };
    let (received, proven) = (owner.i64(0)?, owner.bool(1)?);
    let a = c.one(
        "SELECT size, complete FROM attachments WHERE sha256 = ?1",
        params![sha256],
    )?;
    let (size, complete) = (a.i64(0)?, a.bool(1)?);
    let status = |received: i64, complete: bool| UploadStatus {
        sha256: sha256.to_owned(),
        size,
        received,
        complete,
    };
    let len = bytes.len() as i64;
    if proven || offset.checked_add(len).is_some_and(|end| end <= received) {
        // Held already (a repeated chunk).
        return Ok(Ok(status(received, proven)));
    }
    if offset != received {
        return Err(HqError::UploadOffset(status(received, false)));
    }
    let end = offset.checked_add(len).filter(|e| *e <= size);
    let Some(end) = end else {
        return Err(HqError::BadRequest("chunk past the end of the file"));
    };
    let fail = |c: &mut dyn Conn| -> Result<std::result::Result<UploadStatus, HqError>> {
        c.exec(
            "UPDATE attachment_owners SET received = 0 WHERE sha256 = ?1 AND branch = ?2",
            params![sha256, branch],
        )?;
        c.exec(
            "DELETE FROM upload_chunks WHERE sha256 = ?1 AND branch = ?2",
            params![sha256, branch],
        )?;
        Ok(Err(HqError::HashMismatch))
    };
    if complete {
        let held = c.one(
            "SELECT substr(bytes, ?2, ?3), bytes IS NULL FROM attachments WHERE sha256 = ?1",
            params![sha256, offset + 1, len],
        )?;
        let held = if held.bool(1)? {
            files.read(sha256, offset as u64, len as usize)?
        } else {
            held.blob(0)?
        };
        let same = held == bytes;
        if !same {
            return fail(c);
        }
    } else {
        c.exec(
            "INSERT INTO upload_chunks (sha256, branch, \"offset\", bytes) VALUES (?1, ?2, ?3, ?4)",
            params![sha256, branch, offset, bytes],
        )?;
    }
    let mut proven = false;
    if end == size {
        if !complete {
            let mut whole = Vec::with_capacity(size as usize);
            c.query_each(
                "SELECT bytes FROM upload_chunks WHERE sha256 = ?1 AND branch = ?2 ORDER BY \"offset\"",
                params![sha256, branch],
                &mut |r: Row| {
                    whole.extend_from_slice(&r.blob(0)?);
                    Ok(())
                },
            )?;
            if hex::encode(Sha256::digest(&whole)) != sha256 {
                return fail(c);
            }
            // Verified: into the folder (before the commit; a file without its row is only
            // unused), or with the row.
            let in_db = files.put(sha256, &whole)?;
            c.exec(
                "UPDATE attachments SET received = size, complete = 1, bytes = ?2 WHERE sha256 = ?1",
                params![sha256, in_db.then_some(whole)],
            )?;
            c.exec(
                "DELETE FROM upload_chunks WHERE sha256 = ?1 AND branch = ?2",
                params![sha256, branch],
            )?;
        }
        proven = true;
    }
    c.exec(
        "UPDATE attachment_owners SET received = ?3, proven = ?4 WHERE sha256 = ?1 AND branch = ?2",
        params![sha256, branch, end, proven],
    )?;
    Ok(Ok(status(end, proven)))
}

/// Bytes of a file the branch holds itself (it delivered them) or HQ published.
pub fn download(
    c: &mut dyn Conn,
    files: &Files,
    branch: &str,
    sha256: &str,
    offset: i64,
    len: usize,
) -> Result<Vec<u8>> {
    let allowed = c
        .row(
            "SELECT 1 FROM attachment_owners WHERE sha256 = ?1 AND branch IN (?2, '*') AND proven = 1 LIMIT 1",
            params![sha256, branch],
        )?
        .is_some();
    if !allowed {
        return Err(HqError::NotFound("attachment"));
    }
    let size = c
        .one(
            "SELECT size FROM attachments WHERE sha256 = ?1 AND complete = 1",
            params![sha256],
        )?
        .i64(0)?;
    if !(0..=size).contains(&offset) {
        return Err(HqError::BadRequest("offset"));
    }
    let len = len.min(sila_proto::MAX_CHUNK) as i64;
    let r = c.one(
        "SELECT substr(bytes, ?2, ?3), bytes IS NULL FROM attachments WHERE sha256 = ?1",
        params![sha256, offset + 1, len],
    )?;
    if r.bool(1)? {
        return files.read(sha256, offset as u64, len as usize);
    }
    r.blob(0)
}
