//! What HQ's own people do to the branches' records: committee decisions and appeals, edits,
//! merging two registrations of one person (and undoing it), "not the same person", resolving a
//! conflict, publishing a knowledge-base document. Each reaches the record's branch through its
//! feed, with HQ as the origin, so every device of the branch receives it.

use super::fields;
use crate::error::Code;
use crate::storage::{HQ_ORIGIN, Kind, MergeRecord, Record, Tx};
use crate::store::{Audit, HqActor, Resolution};
use crate::{HqError, Result};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sila_domain::case::{self, Case, CaseEvent, Transition, TransitionRequest};
use sila_domain::catalog::Policy;
use sila_domain::ids::DeviceId;
use sila_domain::staff::{Actor, Role};

/// The lifecycle's fields: what a decision writes.
const LIFECYCLE_FIELDS: [&str; 5] = [
    "state",
    "submitted_at",
    "promised_reply_date",
    "decision",
    "registration_number",
];

fn load_any(tx: &mut dyn Tx, kind: Kind, id: &str, what: &'static str) -> Result<Record> {
    tx.load(kind, id)?.ok_or(HqError::NotFound(what))
}

/// A committee decision (approve, reject) or another HQ transition (reopen on appeal, return
/// incomplete) on a case, applied by the domain's rule table as the committee.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    tx: &mut dyn Tx,
    case_id: &str,
    transition: Transition,
    note: &str,
    actor: &HqActor,
    hq_device: DeviceId,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<CaseEvent> {
    let mut rec = load_any(tx, Kind::Case, case_id, "case")?;
    let current: Case = serde_json::from_value(rec.data.clone())?;
    let hq_actor = Actor {
        staff_id: actor.staff_id,
        display_name: actor.display_name.clone(),
        roles: vec![Role::Committee, Role::HqStaff],
        branch: "HQ".into(),
    };
    let req = TransitionRequest {
        transition,
        note: note.trim().to_owned(),
        device: hq_device,
        branch: "HQ".into(),
    };
    let applied = case::apply(
        &current,
        &req,
        &hq_actor,
        now,
        policy,
        &case::SubmissionFacts {
            beneficiary_problems: vec![],
        },
    )?;
    let next = serde_json::to_value(&applied.case)?;
    let changed: Map<String, Value> = LIFECYCLE_FIELDS
        .iter()
        .map(|f| {
            (
                (*f).to_owned(),
                next.get(*f).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    if fields::merge(&mut rec, &changed, None, HQ_ORIGIN)
        .changed
        .is_empty()
    {
        rec.version += 1;
    }
    rec.hq_decided = true;
    tx.update(&rec, now)?;
    tx.append_case_event(case_id, "hq", &serde_json::to_value(&applied.event)?)?;
    tx.feed(
        &rec.branch,
        sila_proto::kinds::CASE,
        case_id,
        HQ_ORIGIN,
        now,
    )?;
    tx.audit(
        &Audit::new(actor, "case.decide", "case", case_id)
            .detail(json!({"transition": transition.code()})),
        now,
    )?;
    Ok(applied.event)
}

/// HQ changes fields of a beneficiary (an edit in the console). The result must still be a valid
/// record. Returns the record's new version.
pub fn edit_beneficiary(
    tx: &mut dyn Tx,
    id: &str,
    changes: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let mut rec = load_any(tx, Kind::Beneficiary, id, "beneficiary")?;
    write_fields(tx, &mut rec, changes, now)?;
    Ok(rec.version)
}

/// Write fields as HQ's (never a collision: HQ's people see the current values), check the
/// record is still valid, save it and tell its branch.
fn write_fields(
    tx: &mut dyn Tx,
    rec: &mut Record,
    changes: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<()> {
    if changes.contains_key("id") {
        return Err(HqError::BadRequest("the id cannot change"));
    }
    if fields::merge(rec, changes, None, HQ_ORIGIN)
        .changed
        .is_empty()
    {
        return Ok(());
    }
    valid(rec)?;
    tx.update(rec, now)?;
    tx.feed(&rec.branch, rec.kind.code(), &rec.id, HQ_ORIGIN, now)?;
    Ok(())
}

/// Note for the record's branch that a person at HQ changed these fields (a merge's chosen
/// values, an undone merge's restored ones, a conflict's chosen value), as an edit in the register
/// is noted: who, when, which fields, never the values. Nothing is noted when the record did not
/// change (`before` is its version before the change).
fn note_edit(
    tx: &mut dyn Tx,
    rec: &Record,
    before: i64,
    changes: &Map<String, Value>,
    actor: &HqActor,
    now: DateTime<Utc>,
) -> Result<()> {
    if rec.version == before {
        return Ok(());
    }
    let fields: Vec<String> = changes.keys().cloned().collect();
    tx.note_hq_edit(rec.kind, &rec.id, rec.version, actor, &fields, now)
}

/// Is the record still its domain type?
fn valid(rec: &Record) -> Result<()> {
    let ok = match rec.kind {
        Kind::Beneficiary => {
            serde_json::from_value::<sila_domain::beneficiary::Beneficiary>(rec.data.clone())
                .is_ok()
        }
        Kind::Case => serde_json::from_value::<Case>(rec.data.clone()).is_ok(),
        Kind::Interaction => {
            serde_json::from_value::<sila_domain::interaction::Interaction>(rec.data.clone())
                .is_ok()
        }
        Kind::Task => serde_json::from_value::<sila_domain::task::Task>(rec.data.clone()).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(HqError::BadRequest("the fields do not make a valid record"))
    }
}

/// Merge `merged` into `survivor`, giving the survivor the values the reviewer chose (each must
/// be the survivor's or the merged record's value of that field: a merge picks, it does not
/// edit). The merged record then points at the survivor, at HQ and on both branches' devices.
pub fn merge(
    tx: &mut dyn Tx,
    survivor: &str,
    merged: &str,
    chosen: &Map<String, Value>,
    actor: &HqActor,
    now: DateTime<Utc>,
) -> Result<i64> {
    if survivor == merged {
        return Err(HqError::BadRequest("a record cannot be merged into itself"));
    }
    let mut s = load_any(tx, Kind::Beneficiary, survivor, "survivor")?;
    let mut m = load_any(tx, Kind::Beneficiary, merged, "merged")?;
    if s.merged_into.is_some() {
        return Err(HqError::BadRequest("the survivor was itself merged"));
    }
    if m.merged_into.is_some() {
        return Err(HqError::BadRequest("the record was already merged"));
    }
    let mut changes = Map::new();
    let mut record = Map::new();
    let mut previous = Map::new();
    for (field, value) in chosen {
        if field == "id" {
            return Err(HqError::BadRequest("the id cannot change"));
        }
        let theirs = s.data.get(field).cloned().unwrap_or(Value::Null);
        let other = m.data.get(field).cloned().unwrap_or(Value::Null);
        let from = if *value == theirs {
            "survivor"
        } else if *value == other {
            "merged"
        } else {
            return Err(HqError::BadRequest(
                "a chosen value must come from one of the two files",
            ));
        };
        record.insert(field.clone(), json!({"value": value, "from": from}));
        if from == "merged" {
            previous.insert(field.clone(), theirs);
            changes.insert(field.clone(), value.clone());
        }
    }
    let before = s.version;
    write_fields(tx, &mut s, &changes, now)?;
    note_edit(tx, &s, before, &changes, actor, now)?;
    m.merged_into = Some(survivor.to_owned());
    m.version += 1;
    tx.update(&m, now)?;
    tx.feed(
        &m.branch,
        sila_proto::kinds::BENEFICIARY,
        merged,
        HQ_ORIGIN,
        now,
    )?;
    let id = tx.insert_merge(
        &MergeRecord {
            id: 0,
            survivor: survivor.to_owned(),
            merged: merged.to_owned(),
            chosen: Value::Object(record),
            previous: Value::Object(previous),
            staff_id: actor.staff_id.to_string(),
            staff_name: actor.display_name.clone(),
            undone: false,
            branch_merge_id: None,
        },
        now,
    )?;
    // The values chosen are named by field only, never shown.
    let fields: Vec<&String> = chosen.keys().collect();
    tx.audit(
        &Audit::new(actor, "duplicates.merge", "beneficiary", survivor)
            .detail(json!({"merge_id": id, "merged": merged, "fields": fields})),
        now,
    )?;
    Ok(id)
}

/// Undo a merge: the merged record is live again and the survivor gets back the values it had.
pub fn undo_merge(
    tx: &mut dyn Tx,
    merge_id: i64,
    actor: &HqActor,
    now: DateTime<Utc>,
) -> Result<()> {
    let mr = tx
        .merge_record(merge_id)?
        .ok_or(HqError::NotFound("merge"))?;
    if mr.undone {
        return Err(HqError::BadRequest("the merge was already undone"));
    }
    let mut s = load_any(tx, Kind::Beneficiary, &mr.survivor, "survivor")?;
    let mut m = load_any(tx, Kind::Beneficiary, &mr.merged, "merged")?;
    if m.merged_into.as_deref() != Some(mr.survivor.as_str()) {
        return Err(HqError::BadRequest(
            "the record has changed since the merge",
        ));
    }
    let previous = mr.previous.as_object().cloned().unwrap_or_default();
    let before = s.version;
    write_fields(tx, &mut s, &previous, now)?;
    note_edit(tx, &s, before, &previous, actor, now)?;
    m.merged_into = None;
    m.version += 1;
    tx.update(&m, now)?;
    tx.feed(
        &m.branch,
        sila_proto::kinds::BENEFICIARY,
        &mr.merged,
        HQ_ORIGIN,
        now,
    )?;
    tx.set_merge_undone(merge_id, &actor.staff_id.to_string(), now)?;
    tx.audit(
        &Audit::new(
            actor,
            "duplicates.undo_merge",
            "merge",
            merge_id.to_string(),
        ),
        now,
    )?;
    Ok(())
}

/// Remember that two records are different people: the pair is never proposed again.
pub fn mark_not_same(
    tx: &mut dyn Tx,
    a: &str,
    b: &str,
    actor: &HqActor,
    now: DateTime<Utc>,
) -> Result<()> {
    if a == b {
        return Err(HqError::BadRequest("a record is the same as itself"));
    }
    tx.audit(
        &Audit::new(actor, "duplicates.not_same", "beneficiary", a).detail(json!({"other": b})),
        now,
    )?;
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    load_any(tx, Kind::Beneficiary, a, "beneficiary")?;
    load_any(tx, Kind::Beneficiary, b, "beneficiary")?;
    tx.add_not_same(a, b, &actor.staff_id.to_string(), now)?;
    Ok(())
}

/// A person chose one value of a conflict. Either way the record is written again as HQ's, so
/// every device of the branch (the one that proposed the other value too) ends with the chosen
/// value, and the conflict entry tells them it is resolved.
pub fn resolve_conflict(
    tx: &mut dyn Tx,
    id: i64,
    how: Resolution,
    by: &HqActor,
    now: DateTime<Utc>,
) -> Result<()> {
    let c = tx.conflict(id)?.ok_or(HqError::NotFound("conflict"))?;
    if c.resolved {
        return Err(HqError::NotFound("conflict"));
    }
    if let Some(mut rec) = tx.load(c.kind, &c.entity_id)? {
        let value = match how {
            Resolution::TakeBranch => c.proposed.clone(),
            Resolution::KeepHq => rec.data.get(&c.field).cloned().unwrap_or(Value::Null),
        };
        let mut f = Map::new();
        f.insert(c.field.clone(), value);
        let before = rec.version;
        write_fields(tx, &mut rec, &f, now)?;
        if rec.version == before {
            // The value stands: written again as HQ's, so the proposing device takes it.
            rec.version += 1;
            rec.fields.insert(
                c.field.clone(),
                crate::storage::FieldVersion {
                    v: rec.version,
                    by: HQ_ORIGIN.into(),
                },
            );
            tx.update(&rec, now)?;
            tx.feed(&rec.branch, rec.kind.code(), &rec.id, HQ_ORIGIN, now)?;
        }
        note_edit(tx, &rec, before, &f, by, now)?;
    }
    tx.set_conflict_resolved(
        id,
        match how {
            Resolution::KeepHq => "keep_current",
            Resolution::TakeBranch => "take_proposed",
        },
        now,
    )?;
    tx.feed(
        &c.branch,
        sila_proto::kinds::CONFLICT,
        &id.to_string(),
        HQ_ORIGIN,
        now,
    )?;
    let take = match how {
        Resolution::KeepHq => "hq",
        Resolution::TakeBranch => "branch",
    };
    tx.audit(
        &Audit::new(by, "conflict.resolve", "conflict", id.to_string())
            .detail(json!({ "take": take })),
        now,
    )?;
    Ok(())
}

/// Publish a knowledge-base document to every branch. Returns its ID.
pub fn publish_document(
    tx: &mut dyn Tx,
    title: &str,
    body: &str,
    file: Option<(&[u8], &str)>,
    by: &HqActor,
    now: DateTime<Utc>,
) -> Result<String> {
    if title.trim().is_empty() {
        return Err(HqError::Refused(Code::TitleRequired));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let (sha, mime, size) = match file {
        Some((bytes, mime)) => {
            let sha = hex::encode(Sha256::digest(bytes));
            tx.publish_file(&sha, mime, bytes)?;
            (Some(sha), mime.to_owned(), bytes.len() as i64)
        }
        None => (None, String::new(), 0),
    };
    let doc = sila_proto::KbDocument {
        id: id.clone(),
        title: title.trim().to_owned(),
        body: body.trim().to_owned(),
        sha256: sha,
        mime,
        size,
        published_at: now.to_rfc3339(),
    };
    let rec = Record::new(Kind::Kb, &id, "HQ", HQ_ORIGIN, serde_json::to_value(&doc)?);
    tx.insert(&rec, now)?;
    for branch in tx.branch_names()? {
        tx.feed(&branch, sila_proto::kinds::KB, &id, HQ_ORIGIN, now)?;
    }
    tx.audit(&Audit::new(by, "kb.publish", "kb", id.as_str()), now)?;
    Ok(id)
}

/// An administrator at HQ creates or changes a branch's staff account; it reaches the branch's
/// devices by the feed. A branch account never holds an HQ role.
pub fn upsert_branch_staff(
    tx: &mut dyn Tx,
    account: &sila_domain::staff::StaffAccount,
    by: &HqActor,
    now: DateTime<Utc>,
) -> Result<()> {
    let username = account.username.trim();
    if username.is_empty()
        || username.chars().count() > 64
        || account.branch.trim().is_empty()
        || account.roles.is_empty()
    {
        return Err(HqError::BadRequest("staff"));
    }
    if account.roles.iter().any(|r| r.is_hq()) {
        return Err(HqError::Refused(Code::HqRole));
    }
    let id = account.id.to_string();
    let existing = tx.load(Kind::Staff, &id)?;
    if existing
        .as_ref()
        .is_some_and(|r| r.branch != account.branch)
    {
        return Err(HqError::Refused(Code::OtherBranch));
    }
    if tx.staff_username_taken(&account.branch, username, &id)? {
        return Err(HqError::Refused(Code::UsernameTaken));
    }
    if !tx.branch_known(&account.branch)? {
        return Err(HqError::NotFound("branch"));
    }
    let data = serde_json::to_value(account)?;
    // The branch by the length of its name only, as the console always audited it.
    tx.audit(
        &Audit::new(
            by,
            if existing.is_some() {
                "branch_staff.update"
            } else {
                "branch_staff.create"
            },
            "branch_staff",
            id.as_str(),
        )
        .detail(json!({
            "branch_len": account.branch.chars().count(),
            "active": account.active,
            "roles": account.roles.iter().map(|r| r.code()).collect::<Vec<_>>(),
        })),
        now,
    )?;
    match existing {
        Some(mut rec) => {
            if rec.data == data {
                return Ok(());
            }
            rec.data = data;
            rec.version += 1;
            tx.update(&rec, now)?;
        }
        None => tx.insert(
            &Record::new(Kind::Staff, &id, &account.branch, HQ_ORIGIN, data),
            now,
        )?,
    }
    tx.feed(
        &account.branch,
        sila_proto::kinds::STAFF,
        &id,
        HQ_ORIGIN,
        now,
    )?;
    Ok(())
}
