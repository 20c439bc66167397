//! What one pushed operation may do. Each operation is parsed into the domain type it names and
//! validated by the domain's own rules (the same as the branch's), its references are checked
//! against the device's branch, and only then is anything stored; every change is appended to the
//! branch's feed so the branch's other devices receive it.

use super::fields::{self, Merged};
use super::{Context, Outcome};
use crate::HqError;
use crate::storage::{Kind, NewConflict, Record, Tx};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sila_domain::beneficiary::Beneficiary;
use sila_domain::case::{
    self, Case, CaseEvent, CaseState, Signature, Transition, TransitionRequest,
};
use sila_domain::interaction::{Delivery, Interaction, Survey};
use sila_domain::staff::{Actor, Role, StaffAccount};
use sila_domain::task::Task;
use sila_proto::WireOp;

/// Why an operation stops: refused by a rule (recorded, the batch goes on) or a storage failure
/// (the whole batch fails and the device retries it).
pub(crate) enum Stop {
    Refuse(&'static str),
    Storage(HqError),
}

impl From<HqError> for Stop {
    fn from(e: HqError) -> Self {
        Stop::Storage(e)
    }
}

type Step<T> = std::result::Result<T, Stop>;

fn refuse<T>(code: &'static str) -> Step<T> {
    Err(Stop::Refuse(code))
}

/// Fields of a case that only the lifecycle writes, and the ones that never change.
const LIFECYCLE_FIELDS: [&str; 5] = [
    "state",
    "submitted_at",
    "promised_reply_date",
    "decision",
    "registration_number",
];
const CASE_FIXED: [&str; 3] = ["id", "number", "beneficiary_id"];

/// Largest attachment HQ takes, as the branch.
pub const MAX_ATTACHMENT: i64 = 15 * 1024 * 1024;

/// Kinds of file HQ keeps (by what the branch sniffed; HQ checks the bytes' hash, not their type).
const ATTACHMENT_TYPES: [&str; 4] = ["application/pdf", "image/png", "image/jpeg", "image/webp"];

pub fn apply(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> crate::Result<Outcome> {
    match dispatch(tx, ctx, op) {
        Ok(o) => Ok(o),
        Err(Stop::Refuse(code)) => Ok(Outcome::Rejected(code)),
        Err(Stop::Storage(e)) => Err(e),
    }
}

fn dispatch(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    match op.op.as_str() {
        "beneficiary.create" => create(tx, ctx, op, Kind::Beneficiary),
        "case.create" => create(tx, ctx, op, Kind::Case),
        "interaction.add" | "interaction.create" => create(tx, ctx, op, Kind::Interaction),
        "delivery.add" => create(tx, ctx, op, Kind::Delivery),
        "survey.add" => create(tx, ctx, op, Kind::Survey),
        "task.create" => create(tx, ctx, op, Kind::Task),
        "beneficiary.update" => update(tx, ctx, op, Kind::Beneficiary),
        "case.update" => update(tx, ctx, op, Kind::Case),
        "interaction.update" => update(tx, ctx, op, Kind::Interaction),
        "task.update" => update(tx, ctx, op, Kind::Task),
        "case.transition" => transition(tx, ctx, op),
        "task.done" => task_done(tx, ctx, op),
        "attachment.add" => attachment(tx, ctx, op),
        "staff.create" => staff_create(tx, ctx, op),
        "staff.set_active" | "staff.set_roles" => staff_change(tx, ctx, op),
        "kb.add" => kb_add(tx, ctx, op),
        "beneficiary.merge" => branch_merge(tx, ctx, op),
        "beneficiary.unmerge" => branch_unmerge(tx, ctx, op),
        // Version 2's acknowledgement of an HQ edit: version 3 carries HQ's version in every
        // edit instead. One left in an outbox from before the upgrade changes nothing.
        "beneficiary.hq_seen" => Ok(Outcome::Applied),
        _ => refuse("unknown_op"),
    }
}

fn payload<T: DeserializeOwned>(op: &WireOp) -> Step<T> {
    serde_json::from_str(op.payload.get()).or_else(|_| refuse("bad_payload"))
}

fn typed<T: DeserializeOwned>(v: &Value) -> Step<T> {
    T::deserialize(v).or_else(|_| refuse("invalid_record"))
}

/// What a record points at, all of which must be the branch's.
#[derive(Default)]
struct Refs {
    id: String,
    beneficiaries: Vec<String>,
    cases: Vec<String>,
    staff: Vec<String>,
    files: Vec<String>,
}

/// Parse a record into its domain type, validate it by the domain's rules, and say what it
/// references.
fn check(kind: Kind, data: &Value, ctx: &Context<'_>) -> Step<Refs> {
    // A device's day can be ahead of HQ's (its time zone, a clock a day off): dates "in the
    // future" are judged against HQ's date plus that margin.
    let today = ctx.now.date_naive() + chrono::Days::new(2);
    Ok(match kind {
        Kind::Beneficiary => {
            let b: Beneficiary = typed(data)?;
            if b.validate(today).is_err() {
                return refuse("invalid_record");
            }
            Refs {
                id: b.id.to_string(),
                ..Refs::default()
            }
        }
        Kind::Case => {
            let c: Case = typed(data)?;
            let mut files: Vec<String> = c
                .documents
                .iter()
                .filter_map(|d| d.attachment.clone())
                .collect();
            if let Some(d) = &c.declaration {
                files.push(match &d.signature {
                    Signature::Drawn { attachment } | Signature::OnPaper { attachment } => {
                        attachment.clone()
                    }
                });
            }
            Refs {
                id: c.id.to_string(),
                beneficiaries: vec![c.beneficiary_id.to_string()],
                files,
                ..Refs::default()
            }
        }
        Kind::Interaction => {
            let i: Interaction = typed(data)?;
            if i.validate().is_err() {
                return refuse("invalid_record");
            }
            Refs {
                id: i.id.to_string(),
                beneficiaries: i.beneficiary_id.iter().map(ToString::to_string).collect(),
                cases: i.case_id.iter().map(ToString::to_string).collect(),
                files: i.attachments.clone(),
                ..Refs::default()
            }
        }
        Kind::Delivery => {
            let d: Delivery = typed(data)?;
            Refs {
                id: d.id.to_string(),
                cases: vec![d.case_id.to_string()],
                ..Refs::default()
            }
        }
        Kind::Survey => {
            let s: Survey = typed(data)?;
            if s.validate().is_err() {
                return refuse("invalid_record");
            }
            Refs {
                id: s.id.to_string(),
                cases: s.case_id.iter().map(ToString::to_string).collect(),
                ..Refs::default()
            }
        }
        Kind::Task => {
            let t: Task = typed(data)?;
            if t.role.is_hq() {
                return refuse("hq_role");
            }
            if t.validate().is_err() {
                return refuse("invalid_record");
            }
            Refs {
                id: t.id.to_string(),
                beneficiaries: t.beneficiary_id.iter().map(ToString::to_string).collect(),
                cases: t.case_id.iter().map(ToString::to_string).collect(),
                staff: t.assignee.iter().map(ToString::to_string).collect(),
                ..Refs::default()
            }
        }
        Kind::Staff => {
            let a: StaffAccount = typed(data)?;
            if a.roles.iter().any(|r| r.is_hq()) {
                return refuse("hq_role");
            }
            if a.branch != ctx.branch {
                return refuse("other_branch");
            }
            if a.username.trim().is_empty() || a.username.chars().count() > 64 {
                return refuse("invalid_record");
            }
            Refs {
                id: a.id.to_string(),
                ..Refs::default()
            }
        }
        Kind::Kb => {
            let d: sila_proto::KbDocument = typed(data)?;
            Refs {
                id: d.id.clone(),
                files: d.sha256.into_iter().collect(),
                ..Refs::default()
            }
        }
    })
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Every reference must be a record of the device's branch (or a file the branch declared).
fn check_refs(tx: &mut dyn Tx, ctx: &Context<'_>, refs: &Refs) -> Step<()> {
    for (kind, ids, unknown) in [
        (
            Kind::Beneficiary,
            &refs.beneficiaries,
            "unknown_beneficiary",
        ),
        (Kind::Case, &refs.cases, "unknown_case"),
        (Kind::Staff, &refs.staff, "unknown_staff"),
    ] {
        for id in ids {
            match tx.load(kind, id)? {
                None => return refuse(unknown),
                Some(r) if r.branch != ctx.branch => return refuse("other_branch"),
                Some(_) => {}
            }
        }
    }
    for sha in &refs.files {
        if !is_sha256(sha) {
            return refuse("invalid_record");
        }
        if !tx.attachment_declared(sha, ctx.branch)? {
            return refuse("unknown_attachment");
        }
    }
    Ok(())
}

/// A record of the device's branch, or the refusal that fits.
fn load_own(tx: &mut dyn Tx, ctx: &Context<'_>, kind: Kind, id: &str) -> Step<Record> {
    match tx.load(kind, id)? {
        None => refuse("unknown_record"),
        Some(r) if r.branch != ctx.branch => refuse("other_branch"),
        Some(r) => Ok(r),
    }
}

/// Store a changed record, its file references and its feed entry.
fn save(tx: &mut dyn Tx, ctx: &Context<'_>, rec: &Record, refs: &Refs, new: bool) -> Step<()> {
    if new {
        tx.insert(rec, ctx.now)?;
    } else {
        tx.update(rec, ctx.now)?;
    }
    for sha in &refs.files {
        tx.reference_attachment(sha, ctx.branch, rec.kind, &rec.id)?;
    }
    tx.feed(ctx.branch, rec.kind.code(), &rec.id, ctx.device_id, ctx.now)?;
    Ok(())
}

/// The device's copy of a record may differ from HQ's (an operation that changed nothing here,
/// one that was refused): HQ's copy goes down the feed again, as HQ's, so the device takes it.
/// Its version rises (nothing else changes), so a device that already held this version takes it
/// all the same.
pub(crate) fn resend(tx: &mut dyn Tx, ctx: &Context<'_>, rec: &Record) -> crate::Result<()> {
    let mut rec = rec.clone();
    rec.version += 1;
    tx.update(&rec, ctx.now)?;
    tx.feed(
        ctx.branch,
        rec.kind.code(),
        &rec.id,
        crate::storage::HQ_ORIGIN,
        ctx.now,
    )?;
    Ok(())
}

fn create(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp, kind: Kind) -> Step<Outcome> {
    let data: Value = payload(op)?;
    if !data.is_object() {
        return refuse("bad_payload");
    }
    let refs = check(kind, &data, ctx)?;
    if refs.id != op.entity_id {
        return refuse("bad_payload");
    }
    if kind == Kind::Case {
        // A case is born a draft: its lifecycle moves only by transitions HQ checks one by one.
        let c: Case = typed(&data)?;
        if c.state != CaseState::Draft
            || c.submitted_at.is_some()
            || c.promised_reply_date.is_some()
            || c.decision.is_some()
            || c.registration_number.is_some()
        {
            return refuse("not_a_draft");
        }
    }
    if let Some(existing) = tx.load(kind, &refs.id)? {
        // The same record again from the branch (a rule task both laptops made, an operation
        // carried over after a restore) changes nothing, and the device is sent HQ's copy in
        // case its own differs; another branch's ID is not taken over.
        return if existing.branch == ctx.branch {
            resend(tx, ctx, &existing)?;
            Ok(Outcome::Applied)
        } else {
            refuse("id_taken")
        };
    }
    check_refs(tx, ctx, &refs)?;
    let rec = Record::new(kind, &refs.id, ctx.branch, ctx.device_id, data);
    save(tx, ctx, &rec, &refs, true)?;
    Ok(Outcome::Applied)
}

#[derive(Deserialize)]
struct Edit {
    fields: Map<String, Value>,
}

fn update(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp, kind: Kind) -> Step<Outcome> {
    let edit: Edit = payload(op)?;
    let mut rec = load_own(tx, ctx, kind, &op.entity_id)?;
    let fixed: &[&str] = match kind {
        Kind::Case => &CASE_FIXED,
        _ => &["id"],
    };
    if edit.fields.keys().any(|f| fixed.contains(&f.as_str())) {
        return refuse("fixed_field");
    }
    if kind == Kind::Case
        && edit
            .fields
            .keys()
            .any(|f| LIFECYCLE_FIELDS.contains(&f.as_str()))
    {
        // The lifecycle moves only by transitions.
        return refuse("lifecycle_field");
    }
    let base = Some(op.base_version.unwrap_or(0));
    let merged = if rec.merged_into.is_some() {
        // A person merged into another is edited on the survivor: every field waits for a person.
        Merged {
            changed: vec![],
            collisions: edit
                .fields
                .iter()
                .map(|(f, v)| fields::Collision {
                    field: f.clone(),
                    current: rec.data.get(f).cloned().unwrap_or(Value::Null),
                    proposed: v.clone(),
                })
                .collect(),
        }
    } else {
        fields::merge(&mut rec, &edit.fields, base, ctx.device_id)
    };
    let reason = if rec.merged_into.is_some() {
        "merged"
    } else {
        "edited_elsewhere"
    };
    if !merged.changed.is_empty() {
        let refs = check(kind, &rec.data, ctx)?;
        if refs.id != rec.id {
            return refuse("bad_payload");
        }
        check_refs(tx, ctx, &refs)?;
        save(tx, ctx, &rec, &refs, false)?;
    }
    conflicts(tx, ctx, op, &rec, &merged, reason)?;
    Ok(if merged.collisions.is_empty() {
        Outcome::Applied
    } else {
        Outcome::Conflict(merged.collisions.len())
    })
}

/// Keep both values of every collision, for a person at the branch and at HQ.
fn conflicts(
    tx: &mut dyn Tx,
    ctx: &Context<'_>,
    op: &WireOp,
    rec: &Record,
    merged: &Merged,
    reason: &str,
) -> Step<()> {
    for c in &merged.collisions {
        let id = tx.add_conflict(
            &NewConflict {
                kind: rec.kind,
                entity_id: &rec.id,
                branch: ctx.branch,
                field: &c.field,
                current: &c.current,
                proposed: &c.proposed,
                base_version: op.base_version,
                device_id: ctx.device_id,
                seq: op.seq,
                reason,
            },
            ctx.now,
        )?;
        // The proposing device knows from its answer; the others learn of the conflict here.
        tx.feed(
            ctx.branch,
            sila_proto::kinds::CONFLICT,
            &id.to_string(),
            crate::storage::HQ_ORIGIN,
            ctx.now,
        )?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct TransitionPayload {
    event: CaseEvent,
    /// Given by the branch when it registers the beneficiary (the file number).
    #[serde(default)]
    registration_number: Option<String>,
}

/// A branch moves a case. HQ does not take the device's word for the result: it applies the
/// transition itself, by the domain's rule table, from the state *HQ* holds, as the staff member
/// HQ knows (with the roles HQ knows), and keeps what that gives.
fn transition(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let p: TransitionPayload = payload(op)?;
    let ev = p.event;
    if ev.case_id.to_string() != op.entity_id {
        return refuse("bad_payload");
    }
    if ev.transition.is_decision() {
        return refuse("decision_is_hq");
    }
    let mut rec = load_own(tx, ctx, Kind::Case, &op.entity_id)?;
    let current: Case = typed(&rec.data)?;
    if current.state != ev.from || !ev.transition.rule().from.contains(&current.state) {
        return refuse(if rec.hq_decided {
            "decision_is_hq"
        } else {
            "wrong_state"
        });
    }
    let staff = match tx.load(Kind::Staff, &ev.actor.to_string())? {
        Some(s) if s.branch == ctx.branch => s,
        _ => return refuse("unknown_staff"),
    };
    let Ok(account) = StaffAccount::deserialize(&staff.data) else {
        return refuse("unknown_staff");
    };
    if !account.active {
        return refuse("staff_disabled");
    }
    let actor = Actor {
        staff_id: account.id,
        display_name: account.display_name.clone(),
        roles: account
            .roles
            .iter()
            .copied()
            .filter(|r| !r.is_hq())
            .collect(),
        branch: ctx.branch.to_owned(),
    };
    let problems = if matches!(ev.transition, Transition::Submit | Transition::Resubmit) {
        let b = load_own(
            tx,
            ctx,
            Kind::Beneficiary,
            &current.beneficiary_id.to_string(),
        )?;
        let b: Beneficiary = typed(&b.data)?;
        b.validate_for_submission(ev.at.date_naive())
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.field)
            .collect()
    } else {
        Vec::new()
    };
    let Ok(device) = ctx.device_id.parse() else {
        return refuse("bad_payload");
    };
    let req = TransitionRequest {
        transition: ev.transition,
        note: ev.note.trim().to_owned(),
        device,
        branch: ctx.branch.to_owned(),
    };
    let applied = match case::apply(
        &current,
        &req,
        &actor,
        ev.at,
        ctx.policy,
        &case::SubmissionFacts {
            beneficiary_problems: problems,
        },
    ) {
        Ok(a) => a,
        Err(e) => return refuse(e.code()),
    };
    let mut next = applied.case;
    if ev.transition == Transition::Register && next.registration_number.is_none() {
        match p.registration_number {
            Some(n) if !n.trim().is_empty() && n.chars().count() <= 40 => {
                next.registration_number = Some(n.trim().to_owned())
            }
            _ => return refuse("bad_payload"),
        }
    }
    let next = serde_json::to_value(&next).map_err(HqError::from)?;
    let changed: Map<String, Value> = LIFECYCLE_FIELDS
        .iter()
        .map(|f| {
            (
                (*f).to_owned(),
                next.get(*f).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    // HQ's own application of the rule: no collision is possible (base None).
    if fields::merge(&mut rec, &changed, None, ctx.device_id)
        .changed
        .is_empty()
    {
        // The history grew even where no field moved (a second delivery, served to served).
        rec.version += 1;
    }
    rec.hq_decided = false;
    let refs = check(Kind::Case, &rec.data, ctx)?;
    let event = serde_json::to_value(&applied.event).map_err(HqError::from)?;
    tx.append_case_event(&rec.id, "branch", &event)?;
    save(tx, ctx, &rec, &refs, false)?;
    Ok(Outcome::Applied)
}

#[derive(Deserialize)]
struct DonePayload {
    done_at: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    done_by: Option<sila_domain::ids::StaffId>,
}

/// A task is done once: the second "done" (from another laptop) changes nothing.
fn task_done(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let p: DonePayload = payload(op)?;
    let mut rec = load_own(tx, ctx, Kind::Task, &op.entity_id)?;
    if !rec.data.get("done_at").is_none_or(Value::is_null) {
        resend(tx, ctx, &rec)?;
        return Ok(Outcome::Applied);
    }
    let mut f = Map::new();
    f.insert("done_at".into(), json!(p.done_at));
    f.insert("done_by".into(), json!(p.done_by));
    fields::merge(&mut rec, &f, None, ctx.device_id);
    let refs = check(Kind::Task, &rec.data, ctx)?;
    save(tx, ctx, &rec, &refs, false)?;
    Ok(Outcome::Applied)
}

#[derive(Deserialize)]
struct AttachmentPayload {
    sha256: String,
    mime: String,
    size: i64,
}

/// A branch declares a file it holds; it may then upload the bytes. Declaring gives no right to
/// read: a branch reads a file only once it has delivered the bytes itself (or HQ published it).
fn attachment(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let p: AttachmentPayload = payload(op)?;
    if p.sha256 != op.entity_id
        || !is_sha256(&p.sha256)
        || !(0..=MAX_ATTACHMENT).contains(&p.size)
        || !ATTACHMENT_TYPES.contains(&p.mime.as_str())
    {
        return refuse("bad_payload");
    }
    tx.declare_attachment(&p.sha256, &p.mime, p.size, ctx.branch)?;
    Ok(Outcome::Applied)
}

fn staff_create(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let data: Value = payload(op)?;
    let refs = check(Kind::Staff, &data, ctx)?;
    if refs.id != op.entity_id {
        return refuse("bad_payload");
    }
    match tx.load(Kind::Staff, &refs.id)? {
        Some(existing) if existing.branch != ctx.branch => refuse("id_taken"),
        // Version 2 sent a store's first account as its user name alone: the whole account, sent
        // again after the upgrade, completes it.
        Some(mut existing) if StaffAccount::deserialize(&existing.data).is_err() => {
            existing.data = data;
            existing.version += 1;
            save(tx, ctx, &existing, &refs, false)?;
            Ok(Outcome::Applied)
        }
        Some(_) => Ok(Outcome::Applied),
        None => {
            let rec = Record::new(Kind::Staff, &refs.id, ctx.branch, ctx.device_id, data);
            save(tx, ctx, &rec, &refs, true)?;
            Ok(Outcome::Applied)
        }
    }
}

fn staff_change(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let mut rec = load_own(tx, ctx, Kind::Staff, &op.entity_id)?;
    if StaffAccount::deserialize(&rec.data).is_err() {
        return refuse("unknown_record");
    }
    let mut f = Map::new();
    if op.op == "staff.set_active" {
        #[derive(Deserialize)]
        struct P {
            active: bool,
        }
        let p: P = payload(op)?;
        f.insert("active".into(), json!(p.active));
    } else {
        #[derive(Deserialize)]
        struct P {
            roles: Vec<Role>,
        }
        let p: P = payload(op)?;
        f.insert("roles".into(), json!(p.roles));
    }
    // Account changes are an administrator's: the last one wins, there is nothing to merge.
    let merged = fields::merge(&mut rec, &f, None, ctx.device_id);
    let refs = check(Kind::Staff, &rec.data, ctx)?;
    if !merged.changed.is_empty() {
        save(tx, ctx, &rec, &refs, false)?;
    }
    Ok(Outcome::Applied)
}

#[derive(Deserialize)]
struct KbAddPayload {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    attachment: Option<String>,
}

/// A branch administrator adds a document to the branch's own knowledge base.
fn kb_add(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let p: KbAddPayload = payload(op)?;
    if p.title.trim().is_empty() || p.title.chars().count() > 300 || p.body.len() > 100_000 {
        return refuse("invalid_record");
    }
    let doc = sila_proto::KbDocument {
        id: op.entity_id.clone(),
        title: p.title.trim().to_owned(),
        body: p.body,
        sha256: p.attachment,
        mime: String::new(),
        size: 0,
        published_at: op.created_at.to_rfc3339(),
    };
    let data = serde_json::to_value(&doc).map_err(HqError::from)?;
    let refs = check(Kind::Kb, &data, ctx)?;
    if let Some(existing) = tx.load(Kind::Kb, &refs.id)? {
        return if existing.branch == ctx.branch {
            Ok(Outcome::Applied)
        } else {
            refuse("id_taken")
        };
    }
    check_refs(tx, ctx, &refs)?;
    let rec = Record::new(Kind::Kb, &refs.id, ctx.branch, ctx.device_id, data);
    save(tx, ctx, &rec, &refs, true)?;
    Ok(Outcome::Applied)
}

#[derive(Deserialize)]
struct MergePayload {
    merge_id: uuid::Uuid,
    survivor_id: String,
    merged_id: String,
    #[serde(default)]
    chosen: Map<String, Value>,
}

/// Two registrations of one person at the branch made one there: the same rule as HQ's merges
/// (`sila_domain::merge`), applied by HQ to the records as HQ holds them.
fn branch_merge(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let p: MergePayload = payload(op)?;
    let merge_id = p.merge_id.to_string();
    if let Some(done) = tx.branch_merge(&merge_id)? {
        return if done.survivor == p.survivor_id && done.merged == p.merged_id {
            Ok(Outcome::Applied)
        } else {
            refuse("id_taken")
        };
    }
    let mut s = load_own(tx, ctx, Kind::Beneficiary, &p.survivor_id)?;
    let mut m = load_own(tx, ctx, Kind::Beneficiary, &p.merged_id)?;
    if s.merged_into.is_some() || m.merged_into.is_some() {
        return refuse("already_merged");
    }
    let survivor: sila_domain::beneficiary::Beneficiary = typed(&s.data)?;
    let merged: sila_domain::beneficiary::Beneficiary = typed(&m.data)?;
    let today = ctx.now.date_naive() + chrono::Days::new(2);
    let outcome = match sila_domain::merge::merge(&survivor, &merged, &p.chosen, today) {
        Ok(o) => o,
        Err(e) => return refuse(e.code()),
    };
    m.merged_into = Some(s.id.clone());
    save_pair(tx, ctx, &mut s, &mut m, &outcome.record)?;
    tx.insert_merge(
        &crate::storage::MergeRecord {
            id: 0,
            survivor: s.id.clone(),
            merged: m.id.clone(),
            chosen: serde_json::to_value(&outcome.provenance).map_err(HqError::from)?,
            previous: Value::Object(outcome.previous),
            staff_id: ctx.device_id.to_owned(),
            staff_name: ctx.branch.to_owned(),
            undone: false,
            branch_merge_id: Some(merge_id),
        },
        ctx.now,
    )?;
    Ok(Outcome::Applied)
}

/// Writes a branch merge's (or its undo's) outcome: the survivor takes `survivor` field by field
/// (so HQ's per-field versions say which fields moved), the other record's `merged_into` as the
/// caller set it; both are fed to the branch.
fn save_pair(
    tx: &mut dyn Tx,
    ctx: &Context<'_>,
    s: &mut Record,
    m: &mut Record,
    survivor: &sila_domain::beneficiary::Beneficiary,
) -> Step<()> {
    let record = serde_json::to_value(survivor).map_err(HqError::from)?;
    let changes: Map<String, Value> = record
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| s.data.get(k.as_str()) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    fields::merge(s, &changes, None, ctx.device_id);
    m.version += 1;
    for r in [&*m, &*s] {
        tx.update(r, ctx.now)?;
        tx.feed(
            ctx.branch,
            Kind::Beneficiary.code(),
            &r.id,
            ctx.device_id,
            ctx.now,
        )?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct UnmergePayload {
    merge_id: uuid::Uuid,
}

/// A merge made at the branch undone there: the survivor gets back the values it took (unless
/// they changed again since), and the other record is live again.
fn branch_unmerge(tx: &mut dyn Tx, ctx: &Context<'_>, op: &WireOp) -> Step<Outcome> {
    let p: UnmergePayload = payload(op)?;
    let Some(mr) = tx.branch_merge(&p.merge_id.to_string())? else {
        return refuse("unknown_record");
    };
    let mut s = load_own(tx, ctx, Kind::Beneficiary, &mr.survivor)?;
    let mut m = load_own(tx, ctx, Kind::Beneficiary, &mr.merged)?;
    if mr.undone {
        return Ok(Outcome::Applied);
    }
    if m.merged_into.as_deref() != Some(mr.survivor.as_str()) {
        return refuse("merge_changed");
    }
    let current: sila_domain::beneficiary::Beneficiary = typed(&s.data)?;
    let merged: sila_domain::beneficiary::Beneficiary = typed(&m.data)?;
    let previous = mr.previous.as_object().cloned().unwrap_or_default();
    let (restored, _kept) = sila_domain::merge::undo(&current, &merged, &previous);
    m.merged_into = None;
    save_pair(tx, ctx, &mut s, &mut m, &restored)?;
    tx.set_merge_undone(mr.id, ctx.device_id, ctx.now)?;
    Ok(Outcome::Applied)
}
