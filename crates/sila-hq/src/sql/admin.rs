//! What administration and review read: devices, the duplicate search's input, a person's whole
//! record, merges, conflicts, counts; and HQ's own settings (`meta`).

use crate::Result;
use crate::db::Conn;
use crate::params;
use crate::sql::loose_json;
use crate::store::{BranchStats, ConflictRow, DeviceInfo, HqStats, MergeRow};
use serde_json::{Value, json};
use sila_domain::duplicates;

/// Begin a new epoch of HQ's timeline: every branch's feed position now is where a device that
/// knew another epoch reads the feed again from. `copy`: the epoch a backup's copy carries (a
/// database serving it was restored), else the live database's.
pub fn new_epoch(c: &mut dyn Conn, epoch: &str, copy: bool) -> Result<()> {
    c.exec("DELETE FROM feed_epochs", params![])?;
    c.exec(
        "INSERT INTO feed_epochs (branch, head) SELECT name, feed_head FROM branches",
        params![],
    )?;
    c.exec(
        "INSERT INTO meta (key, value) VALUES ('epoch', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![epoch],
    )?;
    if copy {
        c.exec(
            "INSERT INTO meta (key, value) VALUES ('copy_epoch', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![epoch],
        )?;
    } else {
        c.exec("DELETE FROM meta WHERE key = 'copy_epoch'", params![])?;
    }
    Ok(())
}

/// The highest sequence of each device a store holds (read from a backup's copy, or inside the
/// snapshot a backup is made from).
pub fn device_seqs(c: &mut dyn Conn) -> Result<Vec<(String, i64)>> {
    c.query("SELECT device_id, last_seq FROM devices", params![])?
        .iter()
        .map(|r| Ok((r.text(0)?, r.i64(1)?)))
        .collect()
}

/// A backup completed: record it, and that it holds each device's operations up to `seqs`.
pub fn record_backup(
    c: &mut dyn Conn,
    taken_at: &str,
    epoch: &str,
    file: &str,
    seqs: &[(String, i64)],
) -> Result<()> {
    c.exec(
        "INSERT INTO backups (taken_at, epoch, file) VALUES (?1, ?2, ?3)",
        params![taken_at, epoch, file],
    )?;
    for (device, seq) in seqs {
        c.exec(
            "UPDATE devices SET backed_up_seq = ?2 WHERE device_id = ?1 AND backed_up_seq < ?2",
            params![device, *seq],
        )?;
    }
    Ok(())
}

pub fn devices(c: &mut dyn Conn) -> Result<Vec<DeviceInfo>> {
    // The work a restore lost is read through the index of refused operations (a few rows).
    c.query(
        "SELECT d.device_id, d.branch, d.enrolled_at, d.revoked_at, d.last_seen_at, d.last_seq, d.app_version,
             d.update_version, d.update_outcome, d.update_at, coalesce(l.n, 0), l.since
         FROM devices d
         LEFT JOIN (SELECT device_id, count(*) AS n, min(applied_at) AS since FROM applied_ops
                    WHERE result <> 'applied' AND reason = ?1 GROUP BY device_id) l
           ON l.device_id = d.device_id
         ORDER BY d.branch, d.enrolled_at",
        params![sila_proto::LOST_AT_DEVICE],
    )?
    .iter()
    .map(|r| {
        Ok(DeviceInfo {
            device_id: r.text(0)?,
            branch: r.text(1)?,
            enrolled_at: r.text(2)?,
            revoked_at: r.opt_text(3)?,
            last_seen_at: r.opt_text(4)?,
            last_seq: r.i64(5)?,
            app_version: r.opt_text(6)?,
            update_version: r.opt_text(7)?,
            update_outcome: r.opt_text(8)?,
            update_at: r.opt_text(9)?,
            lost_operations: r.i64(10)?,
            lost_since: r.opt_text(11)?,
        })
    })
    .collect()
}

/// Moves only when an input of the duplicate search does (beneficiaries, "not the same person"
/// answers): the key of its cached answer. A sum: PostgreSQL counts on several rows, so that
/// pushes do not wait for each other on one (hq-postgres/0010); SQLite has one.
pub fn duplicate_inputs(c: &mut dyn Conn) -> Result<i64> {
    c.one(
        "SELECT CAST(sum(version) AS BIGINT) FROM duplicate_inputs",
        params![],
    )?
    .i64(0)
}

/// Pairs of beneficiary IDs a reviewer has said are different people.
pub type NotSame = std::collections::HashSet<(String, String)>;

/// Every live beneficiary as duplicate detection sees it, and the pairs a reviewer has said are
/// different people.
pub fn duplicate_search_input(c: &mut dyn Conn) -> Result<(Vec<duplicates::Person>, NotSame)> {
    #[derive(serde::Deserialize)]
    struct Lite {
        name: sila_domain::beneficiary::PersonName,
        #[serde(default)]
        birth_date: Option<chrono::NaiveDate>,
        #[serde(default)]
        mobile: Option<String>,
    }
    let mut people = Vec::new();
    let mut unreadable = 0usize;
    c.query_each(
        "SELECT id, branch, national_id, data FROM beneficiaries WHERE merged_into IS NULL ORDER BY rid",
        params![],
        &mut |mut r| {
            // A row that cannot be read (an older HQ, a damaged page) is left out of the review
            // and counted, never fatal to the review of every branch.
            let Ok(lite) = serde_json::from_str::<Lite>(&r.take_text(3)?) else {
                unreadable += 1;
                return Ok(());
            };
            people.push(duplicates::Person {
                id: r.take_text(0)?,
                branch: r.take_text(1)?,
                national_id: r.opt_text(2)?,
                full_name: lite.name.full(),
                birth_date: lite.birth_date,
                mobile: lite.mobile,
            });
            Ok(())
        },
    )?;
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "duplicate review: records that could not be read were left out"
        );
    }
    let mut answered = std::collections::HashSet::new();
    c.query_each("SELECT a, b FROM not_duplicates", params![], &mut |r| {
        answered.insert((r.text(0)?, r.text(1)?));
        Ok(())
    })?;
    Ok((people, answered))
}

pub fn beneficiary_file(c: &mut dyn Conn, id: &str) -> Result<Option<Value>> {
    c.row(
        "SELECT data, branch, version, merged_into FROM beneficiaries WHERE id = ?1",
        params![id],
    )?
    .map(|r| {
        Ok(json!({
            "record": r.json(0)?,
            "branch": r.text(1)?,
            "version": r.i64(2)?,
            "merged_into": r.opt_text(3)?,
        }))
    })
    .transpose()
}

pub fn merges(c: &mut dyn Conn, limit: usize) -> Result<Vec<MergeRow>> {
    c.query(
        "SELECT id, survivor, merged, chosen, staff_name, at, undone_at FROM merges
         ORDER BY id DESC LIMIT ?1",
        params![limit],
    )?
    .iter()
    .map(|r| {
        Ok(MergeRow {
            id: r.i64(0)?,
            survivor: r.text(1)?,
            merged: r.text(2)?,
            chosen: r.json(3)?,
            staff_name: r.text(4)?,
            at: r.text(5)?,
            undone_at: r.opt_text(6)?,
        })
    })
    .collect()
}

pub fn conflicts(c: &mut dyn Conn, open_only: bool) -> Result<Vec<ConflictRow>> {
    c.query(
        "SELECT id, entity, entity_id, field, hq_value, branch_value, device_id, seq, reason, resolved_at
         FROM conflicts WHERE (?1 = 0 OR resolved_at IS NULL) ORDER BY id",
        params![open_only],
    )?
    .iter()
    .map(|r| {
        Ok(ConflictRow {
            id: r.i64(0)?,
            entity: r.text(1)?,
            entity_id: r.text(2)?,
            field: r.text(3)?,
            hq_value: loose_json(r.opt_text(4)?),
            branch_value: loose_json(r.opt_text(5)?),
            device_id: r.text(6)?,
            seq: r.i64(7)?,
            reason: r.text(8)?,
            resolved: r.opt_text(9)?.is_some(),
        })
    })
    .collect()
}

pub fn stats(c: &mut dyn Conn) -> Result<HqStats> {
    let branches = c
        .query(
            "SELECT name,
                (SELECT count(*) FROM beneficiaries b WHERE b.branch = n.name AND b.merged_into IS NULL),
                (SELECT count(*) FROM cases c WHERE c.branch = n.name)
             FROM (SELECT name FROM branches UNION SELECT DISTINCT branch FROM beneficiaries) n ORDER BY name",
            params![],
        )?
        .iter()
        .map(|r| {
            Ok(BranchStats {
                name: r.text(0)?,
                beneficiaries: r.i64(1)?,
                cases: r.i64(2)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let lost = c
        .one(
            "SELECT count(*) FROM applied_ops WHERE reason = ?1",
            params![sila_proto::LOST_AT_DEVICE],
        )?
        .i64(0)?;
    let last_backup = c
        .row("SELECT max(taken_at) FROM backups", params![])?
        .map(|r| r.opt_text(0))
        .transpose()?
        .flatten();
    Ok(HqStats {
        beneficiaries: branches.iter().map(|b| b.beneficiaries).sum(),
        cases: branches.iter().map(|b| b.cases).sum(),
        branches,
        lost_operations: lost,
        last_backup,
    })
}

pub fn case_states(c: &mut dyn Conn, branch: &str) -> Result<Vec<(String, String)>> {
    c.query(
        "SELECT id, state FROM cases WHERE branch = ?1 ORDER BY id",
        params![branch],
    )?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?)))
    .collect()
}
