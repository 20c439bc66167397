//! The command bodies: plain functions over [`Desk`], with no Tauri type in sight, so tests call
//! them with a temporary store and no window. Each one unpacks its input, calls the store, and
//! maps the result to a DTO. No SQL and no business rule live here: states, rules, validation and
//! wording are the libraries'.

use crate::dto::*;
use crate::intake;
use crate::present::{enum_code, field_text, session_info, sync_error};
use crate::state::Desk;
use chrono::NaiveDate;
use sila_domain::case::{Case, CaseState, PromiseStatus, Signature, Transition};
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::{BeneficiaryId, CaseId};
use sila_domain::interaction::{Direction, Survey};
use sila_domain::national_id::NationalId;
use sila_domain::staff::Role;
use sila_domain::task::TaskKind;
use sila_store::desk::{CasePageQuery, PromiseFilter};
use sila_store::{InitOptions, Store, StoreError};

type R<T> = Result<T, ApiError>;

// The branch as a whole (a laptop joining it, other branches, what sync left): `branch.rs`.
pub use crate::branch::{join_branch, lookup_national_id, sync_issues};
// Backups saved from the app and restored on first run: `backups.rs`.
pub use crate::backups::{backup_places, find_backups, restore_backup, save_backup};

/// The kind of the intake wizard's drafts in the store (each person has their own, several at once).
pub const INTAKE_DRAFT: &str = "intake";

fn parse_id<T: std::str::FromStr>(field: &str, s: &str) -> R<T> {
    s.parse().map_err(|_| ApiError::bad_input(field))
}

fn promise_code(p: PromiseStatus) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn task_kind_code(k: TaskKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

// ---- session ----

pub fn app_status(desk: &Desk) -> R<AppStatus> {
    let session = if desk.signed_in() {
        Some(desk.with_store(|s| Ok(session_info(s)))?)
    } else {
        None
    };
    Ok(AppStatus {
        initialised: Store::exists(&desk.dir),
        session,
        version: desk.version.clone(),
        idle_lock_minutes: (desk.idle_lock.as_secs() / 60).max(1) as u32,
        bench_credentials: desk.bench.clone(),
    })
}

pub fn first_run(desk: &Desk, input: FirstRunInput) -> R<SessionInfo> {
    let store = Store::init(
        &desk.dir,
        &input.branch,
        &input.username,
        &input.display_name,
        &input.password,
        InitOptions::default(),
    )?;
    let info = session_info(&store);
    desk.begin_session(store)?;
    Ok(info)
}

pub fn sign_in(desk: &Desk, input: SignInInput) -> R<SessionInfo> {
    // Only the key derivation and the store's opening happen here: the rule tasks are brought up
    // to date by the sync worker on its own connection, after the home screen has drawn.
    let store = Store::open(&desk.dir, &input.username, &input.password)?;
    let info = session_info(&store);
    desk.begin_session(store)?;
    Ok(info)
}

pub fn sign_out(desk: &Desk) -> R<()> {
    desk.set_store(None);
    Ok(())
}

pub fn touch(desk: &Desk) -> R<bool> {
    desk.touch();
    Ok(desk.signed_in())
}

// ---- vocabulary ----

pub fn catalog(desk: &Desk) -> R<CatalogDto> {
    desk.with_store(|s| {
        let c = s.catalog();
        let named = |code: &str, ar: &str, en: &str| Named {
            code: code.into(),
            ar: ar.into(),
            en: en.into(),
        };
        Ok(CatalogDto {
            channels: Channel::ALL
                .iter()
                .map(|ch| named(ch.code(), ch.arabic(), ch.code()))
                .collect(),
            support_types: c
                .support_types
                .iter()
                .map(|t| SupportTypeDto {
                    code: t.code.clone(),
                    ar: t.name_ar.clone(),
                    en: t.name_en.clone(),
                    required_documents: t.required_documents.clone(),
                })
                .collect(),
            document_types: c
                .document_types
                .iter()
                .map(|d| named(&d.code, &d.name_ar, &d.name_en))
                .collect(),
            states: CaseState::ALL
                .iter()
                .map(|st| named(st.code(), st.arabic(), st.code()))
                .collect(),
            // The roles a branch account may be given: the Staff screen offers exactly these.
            roles: Role::BRANCH
                .iter()
                .map(|r| named(r.code(), r.arabic(), r.code()))
                .collect(),
            purposes: [
                Purpose::Inquiry,
                Purpose::Complaint,
                Purpose::Suggestion,
                Purpose::FollowUp,
                Purpose::DecisionNotice,
            ]
            .iter()
            .map(|p| named(&enum_code(p), p.arabic(), &enum_code(p)))
            .collect(),
            task_kinds: TaskKind::ALL
                .iter()
                .map(|k| named(&task_kind_code(*k), k.arabic(), &task_kind_code(*k)))
                .collect(),
            declaration_ar: c.declaration_ar.clone(),
            declaration_en: c.declaration_en.clone(),
            reply_days: c.policy.reply_days,
        })
    })
}

// ---- home ----

pub fn home(desk: &Desk) -> R<HomeDto> {
    desk.with_store(|s| {
        let today = s.now().date_naive();
        let tasks = task_dtos(s, s.my_tasks(50)?)?;
        let stats = s.stats()?;
        Ok(HomeDto {
            today: today.to_string(),
            tasks,
            counts: s
                .case_counts()?
                .into_iter()
                .map(|(st, n)| StateCount {
                    state: st.code().into(),
                    count: n,
                })
                .collect(),
            beneficiaries: stats.beneficiaries,
            cases: stats.cases,
            pending_changes: stats.pending_changes,
            drafts: draft_summaries(s)?,
        })
    })
}

/// Tasks as the screens show them: for whom, about whom, due when (against the store's today).
fn task_dtos(s: &Store, tasks: Vec<sila_domain::task::Task>) -> R<Vec<TaskDto>> {
    let today = s.now().date_naive();
    let ids: Vec<String> = tasks
        .iter()
        .filter_map(|t| t.beneficiary_id.map(|b| b.to_string()))
        .collect();
    let names = s.beneficiary_rows(&ids)?;
    let staff = s.staff()?;
    let staff_name = |id: Option<sila_domain::ids::StaffId>| {
        id.and_then(|id| staff.iter().find(|a| a.id == id))
            .map(|a| (a.username.clone(), a.display_name.clone()))
    };
    let me = s.session().actor.clone();
    Ok(tasks
        .into_iter()
        .map(|t| {
            let case_number = t
                .case_id
                .and_then(|c| s.case(c).ok().flatten())
                .map(|c| c.case.number);
            let assignee = staff_name(t.assignee);
            TaskDto {
                id: t.id.to_string(),
                kind: task_kind_code(t.kind),
                beneficiary_name: t
                    .beneficiary_id
                    .and_then(|b| names.iter().find(|n| n.id == b.to_string()))
                    .map(|n| n.full_name.clone())
                    .unwrap_or_default(),
                beneficiary_id: t.beneficiary_id.map(|b| b.to_string()),
                case_id: t.case_id.map(|c| c.to_string()),
                case_number,
                due_on: t.due_on.to_string(),
                snoozed_until: t.snoozed_until.map(|d| d.to_string()),
                when: enum_code(&t.urgency(today)),
                channel: t.channel.map(|c| c.code().to_owned()),
                role: t.role.code().into(),
                assignee: assignee.as_ref().map(|a| a.0.clone()),
                assignee_name: assignee.map(|a| a.1),
                mine: t.assignee == Some(me.staff_id),
                by_rule: t.kind.is_rule(),
                note: t.note,
            }
        })
        .collect())
}

pub fn complete_task(desk: &Desk, id: String) -> R<()> {
    let id = parse_id("id", &id)?;
    desk.with_store(|s| {
        s.complete_task(id)?;
        Ok(())
    })
}

/// Put a task off until a later day (typed Hijri or Gregorian).
pub fn snooze_task(desk: &Desk, id: String, until: String) -> R<()> {
    let id = parse_id("id", &id)?;
    let until = typed_date("until", &until)?.ok_or_else(|| {
        ApiError::invalid(vec![sila_domain::error::FieldError::required("until")])
    })?;
    desk.with_store(|s| {
        s.snooze_task(id, until)?;
        Ok(())
    })
}

/// Give a task to a colleague, take it (one's own user name), or put it back in its role's pool
/// (no one).
pub fn assign_task(desk: &Desk, id: String, to: Option<String>) -> R<()> {
    let id = parse_id("id", &id)?;
    desk.with_store(|s| {
        s.assign_task(id, to.as_deref())?;
        Ok(())
    })
}

/// A follow-up a person adds for a beneficiary (and one of their cases).
pub fn add_task(desk: &Desk, input: TaskInput) -> R<()> {
    let ben: BeneficiaryId = parse_id("beneficiary_id", &input.beneficiary_id)?;
    let case: Option<CaseId> = match input.case_id.as_deref() {
        None | Some("") => None,
        Some(c) => Some(parse_id("case_id", c)?),
    };
    let due = typed_date("due_on", &input.due_on)?;
    desk.with_store(|s| {
        s.add_task(ben, case, &input.note, due, input.assignee.as_deref())?;
        Ok(())
    })
}

/// The home screen's sync area: what the store says (enrolled, last sync, changes waiting, the last
/// error in Arabic) and what the background worker is doing now.
pub fn sync_status(desk: &Desk) -> R<SyncStatusDto> {
    let (st, enrolment, admin, redownload, (open_conflicts, refused_recently, files_waiting)) =
        desk.with_store(|s| {
            Ok((
                sila_sync::status(s).map_err(sync_error)?,
                s.enrolment()?,
                s.session().actor.has_any(&[Role::Admin]),
                crate::branch::redownload(s)?,
                crate::branch::issue_counts(s)?,
            ))
        })?;
    let live = desk.sync_live().unwrap_or_default();
    let phase = if st.enrolled {
        match live.phase {
            crate::sync::Phase::NotEnrolled => crate::sync::Phase::Starting,
            p => p,
        }
    } else {
        crate::sync::Phase::NotEnrolled
    };
    use crate::sync::Phase;
    let (error_code, error) = match phase {
        // Unreachable: the last pass's own error if it had one, else the network's wording.
        Phase::Offline => {
            let code = st
                .last_error
                .as_ref()
                .map(|e| e.code.clone())
                .unwrap_or_else(|| "network".into());
            let msg = sila_sync::arabic_message(&code).to_owned();
            (Some(code), Some(msg))
        }
        Phase::NeedsPerson => (
            st.last_error.as_ref().map(|e| e.code.clone()),
            st.last_error.as_ref().map(|e| e.message.clone()),
        ),
        Phase::Failed => (
            Some("sync_failed".into()),
            Some("تعذر تشغيل المزامنة. سجّل الخروج ثم الدخول مرة أخرى.".into()),
        ),
        _ => (None, None),
    };
    let now = std::time::Instant::now();
    Ok(SyncStatusDto {
        state: phase.code().into(),
        enrolled: st.enrolled,
        hq_url: enrolment.map(|e| e.hq_url),
        last_sync: st.last_sync_at,
        pending_changes: st.pending,
        error_code,
        error,
        next_attempt_seconds: match phase {
            Phase::Offline | Phase::Online => live.next_attempt.map(|t| {
                t.saturating_duration_since(now)
                    .as_secs()
                    .min(u32::MAX as u64) as u32
            }),
            _ => None,
        },
        can_enroll: admin && !st.enrolled,
        data_version: live.data_version,
        redownload,
        files_waiting,
        open_conflicts,
        refused_recently,
        lost_at_hq: st.lost_at_hq,
        update: update_dto(&live.update),
    })
}

fn update_dto(u: &crate::sync::UpdateLive) -> Option<UpdateDto> {
    use crate::sync::UpdateLive;
    let (version, state, done, size, code) = match u {
        UpdateLive::None => return None,
        UpdateLive::Fetching {
            version,
            done,
            size,
        } => (version.clone(), "fetching", *done, *size, None),
        UpdateLive::Ready { release, .. } => (
            release.version.clone(),
            "ready",
            release.size as u64,
            release.size as u64,
            None,
        ),
        UpdateLive::Refused { release, code } => (
            release.version.clone(),
            "refused",
            0,
            release.size as u64,
            Some(code.clone()),
        ),
    };
    Some(UpdateDto {
        version,
        state: state.into(),
        done,
        size,
        error: code
            .as_deref()
            .map(|c| sila_sync::update::arabic_message(c).to_owned()),
        error_code: code,
    })
}

/// The person signed in agreed to install the release HQ offered (the window asks only where
/// no intake or unsaved form is open): it is checked once more and handed to the system's
/// installer. On success the caller starts the new version and ends this one; the store is
/// closed first (the sync worker stopped, the key dropped).
pub fn install_update(desk: &Desk) -> R<()> {
    desk.with_store(|_| Ok(()))?;
    let (release, path) = match desk.sync_live().map(|l| l.update) {
        Some(crate::sync::UpdateLive::Ready { release, path }) => (release, path),
        _ => {
            return Err(ApiError::new(
                "update_not_ready",
                "لا يوجد تحديث جاهز للتثبيت الآن.",
            ));
        }
    };
    crate::update::install(&release, &path)?;
    let _ = std::fs::remove_file(&path);
    desk.set_store(None);
    Ok(())
}

/// "Sync now" (also clears a stop after a refusal that needed a person).
pub fn sync_now(desk: &Desk) -> R<SyncStatusDto> {
    desk.sync_now();
    sync_status(desk)
}

/// Bind this store to HQ with a one-time code, as `sila enroll` does. Only an administrator may;
/// that is checked before HQ is asked, so a code is not spent by someone who may not keep it.
pub fn enroll(desk: &Desk, input: EnrollInput) -> R<SyncStatusDto> {
    let (url, code) = crate::branch::hq_fields(&input.hq_url, &input.code)?;
    desk.with_store(|s| {
        if !s.session().actor.has_any(&[Role::Admin]) {
            return Err(ApiError::new(
                "forbidden",
                "ربط الجهاز بالمقر من صلاحيات مدير النظام.",
            ));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| ApiError::internal())?;
        let opts = sila_sync::SyncOptions {
            request_timeout: std::time::Duration::from_secs(30),
            ..Default::default()
        };
        rt.block_on(sila_sync::enroll(s, &url, &code, &opts))
            .map_err(sync_error)
    })?;
    desk.sync_now();
    sync_status(desk)
}

// ---- lists and search ----

fn row(r: sila_store::desk::BeneficiaryListRow) -> BeneficiaryRow {
    BeneficiaryRow {
        id: r.id,
        full_name: r.full_name,
        national_id: r.national_id,
        mobile: r.mobile,
        city: r.city,
        file_number: r.file_number,
    }
}

pub fn search(desk: &Desk, query: String, limit: u32) -> R<Vec<BeneficiaryRow>> {
    desk.with_store(|s| {
        let hits = s.search(&query, limit as usize)?;
        let ids: Vec<String> = hits.into_iter().map(|h| h.id).collect();
        Ok(s.beneficiary_rows(&ids)?.into_iter().map(row).collect())
    })
}

pub fn beneficiary_row(desk: &Desk, id: String) -> R<Option<BeneficiaryRow>> {
    desk.with_store(|s| Ok(s.beneficiary_rows(&[id])?.into_iter().next().map(row)))
}

pub fn beneficiaries_page(desk: &Desk, offset: u32, limit: u32) -> R<BeneficiaryPage> {
    desk.with_store(|s| {
        let (total, rows) = s.beneficiaries_page(offset as usize, limit as usize)?;
        Ok(BeneficiaryPage {
            total,
            offset: offset as i64,
            rows: rows.into_iter().map(row).collect(),
        })
    })
}

pub fn cases_page(desk: &Desk, query: CaseQuery) -> R<CasePage> {
    let q = CasePageQuery {
        state: match query.state.as_deref() {
            None | Some("") => None,
            Some(c) => Some(CaseState::from_code(c).ok_or_else(|| ApiError::bad_input("state"))?),
        },
        support_type: query.support_type.filter(|s| !s.is_empty()),
        channel: match query.channel.as_deref() {
            None | Some("") => None,
            Some(c) => Some(Channel::from_code(c).ok_or_else(|| ApiError::bad_input("channel"))?),
        },
        promise: match query.promise.as_deref() {
            None | Some("") => None,
            Some(c) => {
                Some(PromiseFilter::from_code(c).ok_or_else(|| ApiError::bad_input("promise"))?)
            }
        },
        beneficiary_id: match query.beneficiary_id.as_deref() {
            None | Some("") => None,
            Some(b) => Some(parse_id("beneficiary_id", b)?),
        },
        offset: query.offset.max(0) as usize,
        limit: if query.limit <= 0 {
            50
        } else {
            query.limit as usize
        },
    };
    desk.with_store(|s| {
        let today = s.now().date_naive();
        let policy = s.catalog().policy;
        let (total, rows) = s.cases_page(&q)?;
        Ok(CasePage {
            total,
            offset: q.offset as i64,
            rows: rows
                .into_iter()
                .map(|r| {
                    let promise = r
                        .promised_reply_date
                        .as_deref()
                        .and_then(|d| d.parse::<NaiveDate>().ok())
                        .map(|d| {
                            if r.state.awaits_decision() {
                                PromiseStatus::of(d, today, policy.due_soon_days)
                            } else {
                                PromiseStatus::Decided
                            }
                        })
                        .map(promise_code);
                    CaseRow {
                        id: r.id,
                        number: r.number,
                        beneficiary_id: r.beneficiary_id,
                        full_name: r.full_name,
                        state: r.state.code().into(),
                        support_type: r.support_type,
                        channel: r.channel,
                        promised_reply_date: r.promised_reply_date,
                        promise,
                    }
                })
                .collect(),
        })
    })
}

pub fn check_id(_desk: &Desk, id: String) -> R<IdCheck> {
    Ok(match NationalId::parse(&id) {
        Ok(n) => IdCheck {
            valid: true,
            kind: Some(enum_code(&n.kind())),
            code: None,
            message: None,
        },
        Err(e) => IdCheck {
            valid: false,
            kind: None,
            code: Some(e.code().into()),
            message: Some(e.arabic_message().into()),
        },
    })
}

// ---- the case file ----

fn beneficiary_dto(sb: &sila_store::beneficiaries::StoredBeneficiary) -> BeneficiaryDto {
    let b = &sb.beneficiary;
    BeneficiaryDto {
        id: b.id.to_string(),
        full_name: b.name.full(),
        first: b.name.first.clone(),
        father: b.name.father.clone(),
        grandfather: b.name.grandfather.clone(),
        family: b.name.family.clone(),
        national_id: b.national_id.as_ref().map(|n| n.as_str().to_owned()),
        id_expiry: b.id_expiry.map(|d| d.to_string()),
        nationality: b.nationality.clone(),
        gender: b.gender.map(|g| enum_code(&g)),
        birth_date: b.birth_date.map(|d| d.to_string()),
        marital_status: b.marital_status.map(|m| enum_code(&m)),
        mobile: b.mobile.as_ref().map(|m| m.as_str().to_owned()),
        city: b.city.clone(),
        centre: b.centre.clone(),
        district: b.district.clone(),
        preferred_channel: b.preferred_channel.map(|c| c.code().to_owned()),
        household: b
            .household
            .iter()
            .map(|m| MemberDto {
                name: m.name.clone(),
                relation: enum_code(&m.relation),
                national_id: m.national_id.as_ref().map(|n| n.as_str().to_owned()),
                birth_date: m.birth_date.map(|d| d.to_string()),
                disability: m.disability,
                schooling: m.schooling.map(|s| enum_code(&s)),
            })
            .collect(),
        monthly_income_halalas: b.monthly_income(),
        housing: b.housing.as_ref().map(|h| enum_code(&h.kind)),
        annual_rent_halalas: b.housing.as_ref().and_then(|h| h.annual_rent_halalas),
        health_conditions: b.health_conditions.clone(),
        categories: b.categories.iter().map(enum_code).collect(),
        file_number: b.file_number.clone(),
        version: sb.version,
    }
}

fn case_dto(s: &Store, c: &Case, branch: &str, version: i64) -> CaseDto {
    CaseDto {
        id: c.id.to_string(),
        number: c.number.clone(),
        beneficiary_id: c.beneficiary_id.to_string(),
        support_type: c.support_type.clone(),
        channel: c.channel.code().into(),
        need: c.need.clone(),
        state: c.state.code().into(),
        documents: c
            .documents
            .iter()
            .map(|d| DocumentDto {
                code: d.code.clone(),
                required: d.required,
                attachment: d.attachment.clone(),
                seen_in_original: d.seen_in_original,
            })
            .collect(),
        declaration: c.declaration.as_ref().map(|d| {
            let (kind, att) = match &d.signature {
                Signature::Drawn { attachment } => ("drawn", attachment.clone()),
                Signature::OnPaper { attachment } => ("on_paper", attachment.clone()),
            };
            DeclarationDto {
                text: d.text.clone(),
                signature_kind: kind.into(),
                signature_attachment: att,
                employee_name: d.employee_name.clone(),
                signed_at: d.signed_at.to_rfc3339(),
            }
        }),
        submitted_at: c.submitted_at.map(|t| t.to_rfc3339()),
        promised_reply_date: c.promised_reply_date.map(|d| d.to_string()),
        promise: s.promise_status(c).map(promise_code),
        research_report: c.research_report.as_ref().map(|r| r.text.clone()),
        research_recommendation: c.research_report.as_ref().map(|r| r.recommendation.clone()),
        researcher_name: c
            .research_report
            .as_ref()
            .map(|r| r.researcher_name.clone()),
        decision: c.decision.as_ref().map(|d| enum_code(&d.outcome)),
        decision_reasons: c.decision.as_ref().map(|d| d.reasons.clone()),
        registration_number: c.registration_number.clone(),
        branch: branch.into(),
        version,
        correctable: c.correctable(),
    }
}

pub fn case_file(desk: &Desk, id: String) -> R<CaseFileDto> {
    let id: CaseId = parse_id("id", &id)?;
    desk.with_store(|s| {
        let stored = s.case(id)?.ok_or(StoreError::NotFound("case"))?;
        let c = &stored.case;
        // Opening a file is an audited read.
        let ben = s.open_beneficiary(c.beneficiary_id)?;
        let mut timeline: Vec<TimelineItem> = Vec::new();
        let history = s.case_history(id)?;
        // The return that put the request where it is: the latest one, while it is incomplete.
        let returned = history
            .iter()
            .rev()
            .find(|e| e.transition == Transition::ReturnIncomplete)
            .filter(|_| c.state == CaseState::Incomplete)
            .map(|e| ReturnNoteDto {
                at: e.at.to_rfc3339(),
                actor: e.actor_name.clone(),
                note: e.note.clone(),
                missing: c
                    .missing_documents()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            });
        for e in history {
            timeline.push(TimelineItem {
                at: e.at.to_rfc3339(),
                kind: "transition".into(),
                code: e.transition.code().into(),
                actor: e.actor_name,
                detail: e.note,
                attachments: Vec::new(),
            });
        }
        for i in s.interactions(c.beneficiary_id)? {
            if i.case_id.is_some_and(|x| x != id) {
                continue;
            }
            timeline.push(TimelineItem {
                at: i.at.to_rfc3339(),
                kind: "interaction".into(),
                code: enum_code(&i.purpose),
                actor: enum_code(&i.channel),
                detail: if i.outcome.is_empty() {
                    i.summary
                } else {
                    format!("{} — {}", i.summary, i.outcome)
                },
                attachments: i.attachments,
            });
        }
        let created = stored.created_at.clone();
        for d in &c.documents {
            if d.attachment.is_some() {
                timeline.push(TimelineItem {
                    at: created.clone(),
                    kind: "document".into(),
                    code: d.code.clone(),
                    actor: String::new(),
                    detail: if d.seen_in_original { "seen" } else { "" }.into(),
                    attachments: Vec::new(),
                });
            }
        }
        if let Some(d) = &c.declaration {
            timeline.push(TimelineItem {
                at: d.signed_at.to_rfc3339(),
                kind: "declaration".into(),
                code: match d.signature {
                    Signature::Drawn { .. } => "drawn".into(),
                    Signature::OnPaper { .. } => "on_paper".into(),
                },
                actor: d.employee_name.clone(),
                detail: String::new(),
                attachments: Vec::new(),
            });
        }
        if let Some(r) = &c.research_report {
            timeline.push(TimelineItem {
                at: r.written_at.to_rfc3339(),
                kind: "report".into(),
                code: "research_report".into(),
                actor: r.researcher_name.clone(),
                detail: r.text.clone(),
                attachments: Vec::new(),
            });
        }
        for d in s.deliveries(id)? {
            timeline.push(TimelineItem {
                at: format!("{}T12:00:00+00:00", d.delivered_on),
                kind: "delivery".into(),
                code: d.kind.clone(),
                actor: d.delivered_by_name.clone(),
                detail: match d.amount_halalas {
                    Some(a) => format!("{}.{:02}", a / 100, a % 100),
                    None => d.items.clone(),
                },
                attachments: Vec::new(),
            });
        }
        for sv in s.case_surveys(id)? {
            timeline.push(TimelineItem {
                at: format!("{}T12:00:00+00:00", sv.answered_on),
                kind: "survey".into(),
                code: enum_code(&sv.channel),
                actor: String::new(),
                detail: format!(
                    "{}/{}/{}/{} {}",
                    sv.overall, sv.speed, sv.courtesy, sv.clarity, sv.comment
                ),
                attachments: Vec::new(),
            });
        }
        // Corrections of the person's file, and of the request once it was submitted (before,
        // filling it in was the intake itself).
        let submitted = c.submitted_at.map(|t| t.to_rfc3339());
        for e in s.edits_of(&[c.beneficiary_id.to_string(), id.to_string()])? {
            let is_case = e.entity == "case";
            if is_case && submitted.as_ref().is_none_or(|t| &e.at <= t) {
                continue;
            }
            timeline.push(edit_item(e));
        }
        timeline.sort_by(|a, b| a.at.cmp(&b.at));
        let actions = s
            .case_actions(c)
            .into_iter()
            .map(|a| ActionDto {
                code: a.code().into(),
                needs_note: match a {
                    sila_store::desk::CaseAction::Transition(t) => t.rule().needs_note,
                    _ => false,
                },
            })
            .collect();
        let tasks = task_dtos(s, s.case_tasks(id)?)?;
        Ok(CaseFileDto {
            case: case_dto(s, c, &stored.branch, stored.version),
            beneficiary: beneficiary_dto(&ben),
            timeline,
            actions,
            tasks,
            today: s.now().date_naive().to_string(),
            returned,
        })
    })
}

/// Correct a request's need and support type (see `Store::correct_case`).
pub fn correct_case(desk: &Desk, input: CaseCorrection) -> R<()> {
    let id: CaseId = parse_id("case_id", &input.case_id)?;
    desk.with_store(|s| {
        s.correct_case(id, input.version, &input.need, &input.support_type)?;
        Ok(())
    })
}

/// Attach a file already uploaded (`upload`) to a document of a request's checklist: a missing
/// document brought later, or a better scan.
pub fn attach_case_document(desk: &Desk, case_id: String, code: String, sha256: String) -> R<()> {
    let id: CaseId = parse_id("case_id", &case_id)?;
    desk.with_store(|s| {
        let (_, bytes) = s
            .attachment(&sha256)?
            .ok_or(StoreError::NotFound("attachment"))?;
        s.attach_document(id, &code, &bytes)?;
        Ok(())
    })
}

/// Tick (or untick) "seen in original" for a document of a request's checklist.
pub fn mark_document_seen(desk: &Desk, case_id: String, code: String, seen: bool) -> R<()> {
    let id: CaseId = parse_id("case_id", &case_id)?;
    desk.with_store(|s| {
        s.mark_seen_in_original(id, &code, seen)?;
        Ok(())
    })
}

/// A person's requests, those of registrations merged into their file included.
pub fn beneficiary_cases(desk: &Desk, id: String) -> R<CasePage> {
    let ben: BeneficiaryId = parse_id("id", &id)?;
    let merged = desk.with_store(|s| Ok(s.merged_into(ben)?))?;
    let mut page = cases_page(
        desk,
        CaseQuery {
            beneficiary_id: Some(id),
            limit: 100,
            ..Default::default()
        },
    )?;
    for m in merged {
        let more = cases_page(
            desk,
            CaseQuery {
                beneficiary_id: Some(m.to_string()),
                limit: 100,
                ..Default::default()
            },
        )?;
        page.total += more.total;
        page.rows.extend(more.rows);
    }
    Ok(page)
}

/// Two registrations side by side, field by field, for choosing what the merged file keeps.
pub fn merge_preview(desk: &Desk, survivor_id: String, merged_id: String) -> R<MergePreview> {
    let sid: BeneficiaryId = parse_id("survivor_id", &survivor_id)?;
    let mid: BeneficiaryId = parse_id("merged_id", &merged_id)?;
    desk.with_store(|s| {
        let a = s.open_beneficiary(sid)?;
        let b = s.open_beneficiary(mid)?;
        if a.beneficiary.id == b.beneficiary.id {
            return Err(ApiError::invalid(vec![
                sila_domain::error::FieldError::new(
                    "merge",
                    "merge_same_record",
                    "لا يُدمج الملف في نفسه",
                ),
            ]));
        }
        let av = serde_json::to_value(&a.beneficiary).map_err(|_| ApiError::internal())?;
        let bv = serde_json::to_value(&b.beneficiary).map_err(|_| ApiError::internal())?;
        let fields = av
            .as_object()
            .map(|o| o.keys().filter(|k| *k != "id").cloned().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|f| MergeField {
                same: av.get(&f) == bv.get(&f),
                survivor: field_text(&a.beneficiary, &f),
                merged: field_text(&b.beneficiary, &f),
                field: f,
            })
            .collect();
        Ok(MergePreview {
            survivor_id: a.beneficiary.id.to_string(),
            survivor_name: a.beneficiary.name.full(),
            merged_id: b.beneficiary.id.to_string(),
            merged_name: b.beneficiary.name.full(),
            fields,
        })
    })
}

/// Merge one registration into another at this branch, each field from the side chosen.
pub fn merge_beneficiaries(desk: &Desk, input: MergeInput) -> R<String> {
    let sid: BeneficiaryId = parse_id("survivor_id", &input.survivor_id)?;
    let mid: BeneficiaryId = parse_id("merged_id", &input.merged_id)?;
    desk.with_store(|s| {
        let a = s
            .beneficiary(sid)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        let b = s
            .beneficiary(mid)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        let av = serde_json::to_value(&a.beneficiary).map_err(|_| ApiError::internal())?;
        let bv = serde_json::to_value(&b.beneficiary).map_err(|_| ApiError::internal())?;
        // Every field differing between the two is chosen: from the other record when asked,
        // else the survivor's, so the operation says the whole decision.
        let mut chosen = serde_json::Map::new();
        if let (Some(ao), Some(bo)) = (av.as_object(), bv.as_object()) {
            for (k, v) in ao {
                if k == "id" || bo.get(k) == Some(v) {
                    continue;
                }
                let from_merged = input.take_from_merged.iter().any(|f| f == k);
                let value = if from_merged {
                    bo.get(k).cloned().unwrap_or(serde_json::Value::Null)
                } else {
                    v.clone()
                };
                chosen.insert(k.clone(), value);
            }
        }
        Ok(s.merge_beneficiaries(sid, mid, &chosen)?)
    })
}

/// Undo a merge made at this branch. Answers the fields kept because they changed since.
pub fn unmerge_beneficiaries(desk: &Desk, merge_id: String) -> R<Vec<String>> {
    desk.with_store(|s| Ok(s.unmerge_beneficiaries(&merge_id)?))
}

/// The merges made here into or out of a person's file.
pub fn beneficiary_merges(desk: &Desk, id: String) -> R<Vec<MergeDto>> {
    let id: BeneficiaryId = parse_id("id", &id)?;
    desk.with_store(|s| {
        let staff = s.staff()?;
        let merges = s.branch_merges(id)?;
        let mut out = Vec::new();
        for m in merges {
            let name = |bid: &str| -> R<String> {
                Ok(s.beneficiary(parse_id("id", bid)?)?
                    .map(|b| b.beneficiary.name.full())
                    .unwrap_or_default())
            };
            out.push(MergeDto {
                survivor_name: name(&m.survivor)?,
                merged_name: name(&m.merged)?,
                from_merged: m
                    .chosen
                    .iter()
                    .filter(|(_, side)| **side == sila_domain::merge::Side::Merged)
                    .map(|(f, _)| f.clone())
                    .collect(),
                by: staff
                    .iter()
                    .find(|a| a.id.to_string() == m.staff_id)
                    .map(|a| a.display_name.clone())
                    .unwrap_or_default(),
                id: m.id,
                survivor_id: m.survivor,
                merged_id: m.merged,
                at: m.at,
                undone: m.undone_at.is_some(),
            });
        }
        Ok(out)
    })
}

pub fn transition(desk: &Desk, input: TransitionInput) -> R<()> {
    let id: CaseId = parse_id("case_id", &input.case_id)?;
    let t = Transition::from_code(&input.transition)
        .ok_or_else(|| ApiError::bad_input("transition"))?;
    desk.with_store(|s| {
        s.transition(id, t, &input.note)?;
        Ok(())
    })
}

pub fn research_report(desk: &Desk, input: ReportInput) -> R<()> {
    let id: CaseId = parse_id("case_id", &input.case_id)?;
    desk.with_store(|s| {
        s.write_research_report(id, &input.text, &input.recommendation)?;
        Ok(())
    })
}

fn typed_date(field: &str, s: &str) -> R<Option<NaiveDate>> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    sila_domain::dates::parse_date(s)
        .map(|(d, _)| Some(d))
        .map_err(|e| {
            ApiError::invalid(vec![sila_domain::error::FieldError::new(
                field,
                e.code(),
                e.arabic_message(),
            )])
        })
}

pub fn record_delivery(desk: &Desk, input: DeliveryInput) -> R<()> {
    let id: CaseId = parse_id("case_id", &input.case_id)?;
    let amount = if input.amount.trim().is_empty() {
        None
    } else {
        Some(
            sila_domain::beneficiary::parse_riyals(&input.amount).ok_or_else(|| {
                ApiError::invalid(vec![sila_domain::error::FieldError::new(
                    "amount",
                    "invalid_amount",
                    "اكتب المبلغ بالأرقام، مثل 1500",
                )])
            })?,
        )
    };
    desk.with_store(|s| {
        let on = typed_date("delivered_on", &input.delivered_on)?.unwrap_or(s.now().date_naive());
        s.record_delivery(id, &input.kind, amount, &input.items, on)?;
        Ok(())
    })
}

pub fn record_survey(desk: &Desk, input: SurveyInput) -> R<()> {
    let id: CaseId = parse_id("case_id", &input.case_id)?;
    let channel =
        Channel::from_code(&input.channel).ok_or_else(|| ApiError::bad_input("channel"))?;
    desk.with_store(|s| {
        s.record_survey(Survey {
            id: sila_domain::ids::SurveyId::new_v7(),
            case_id: Some(id),
            delivery_id: None,
            overall: input.overall,
            speed: input.speed,
            courtesy: input.courtesy,
            clarity: input.clarity,
            comment: input.comment.trim().into(),
            anonymous: input.anonymous,
            channel,
            answered_on: s.now().date_naive(),
            support_type: String::new(),
            employee: None,
        })?;
        Ok(())
    })
}

/// Log any contact: from a case file, from a person's file, or from home for someone registered
/// or not, with its letter or message attached; a complaint or suggestion gets an owner and the
/// policy's date to answer it by; an answer (`answers`) closes the complaint it answers.
pub fn log_interaction(desk: &Desk, input: InteractionInput) -> R<()> {
    fn opt_id<T: std::str::FromStr>(field: &str, v: &Option<String>) -> R<Option<T>> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(x) => parse_id(field, x).map(Some),
        }
    }
    let ben: Option<BeneficiaryId> = opt_id("beneficiary_id", &input.beneficiary_id)?;
    let case: Option<CaseId> = opt_id("case_id", &input.case_id)?;
    let answers: Option<sila_domain::ids::TaskId> = opt_id("answers", &input.answers)?;
    let channel =
        Channel::from_code(&input.channel).ok_or_else(|| ApiError::bad_input("channel"))?;
    let direction: Direction =
        intake::code(&input.direction).ok_or_else(|| ApiError::bad_input("direction"))?;
    let purpose: Purpose =
        intake::code(&input.purpose).ok_or_else(|| ApiError::bad_input("purpose"))?;
    let follow = typed_date("follow_up_on", &input.follow_up_on)?;
    let phone = if input.contact_phone.trim().is_empty() || ben.is_some() {
        None
    } else {
        Some(
            sila_domain::phone::Mobile::parse(&input.contact_phone).map_err(|e| {
                ApiError::invalid(vec![sila_domain::error::FieldError::new(
                    "contact_phone",
                    e.code(),
                    e.arabic_message(),
                )])
            })?,
        )
    };
    desk.with_store(|s| {
        s.log_contact(sila_store::records::NewContact {
            beneficiary: ben,
            case,
            channel,
            direction,
            purpose,
            summary: input.summary.clone(),
            outcome: input.outcome.clone(),
            follow_up_on: follow,
            contact_name: input.contact_name.clone(),
            contact_phone: phone,
            attachments: input.attachments.clone(),
            owner: input.owner.clone().filter(|o| !o.trim().is_empty()),
            answers,
        })?;
        Ok(())
    })
}

fn contact_dto(
    s: &Store,
    i: sila_domain::interaction::Interaction,
    staff: &[sila_domain::staff::StaffAccount],
) -> R<ContactDto> {
    let mut files = Vec::new();
    for sha in &i.attachments {
        if let Some((mime, bytes)) = s.attachment(sha)? {
            files.push(StoredFile {
                sha256: sha.clone(),
                mime,
                size: bytes.len() as i64,
            });
        }
    }
    Ok(ContactDto {
        id: i.id.to_string(),
        at: i.at.to_rfc3339(),
        beneficiary_id: i.beneficiary_id.map(|b| b.to_string()),
        case_id: i.case_id.map(|c| c.to_string()),
        case_number: i
            .case_id
            .and_then(|c| s.case(c).ok().flatten())
            .map(|c| c.case.number),
        contact_name: i.contact_name,
        contact_phone: i.contact_phone.map(|m| m.as_str().to_owned()),
        channel: i.channel.code().into(),
        direction: enum_code(&i.direction),
        purpose: enum_code(&i.purpose),
        summary: i.summary,
        outcome: i.outcome,
        staff_name: staff
            .iter()
            .find(|a| a.id == i.staff)
            .map(|a| a.display_name.clone())
            .unwrap_or_default(),
        attachments: files,
        answers: i.answers.map(|a| a.to_string()),
    })
}

/// The branch's complaints and suggestions: who, what, whose, by when, and where each stands
/// ("open", "overdue", "on_time", "late"), newest first.
pub fn complaints(desk: &Desk) -> R<Vec<ComplaintDto>> {
    desk.with_store(|s| {
        let today = s.now().date_naive();
        let staff = s.staff()?;
        let rows = s.complaints(500)?;
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|(_, i, _)| i.beneficiary_id.map(|b| b.to_string()))
            .collect();
        let names = s.beneficiary_rows(&ids)?;
        let mut out = Vec::with_capacity(rows.len());
        for (t, i, a) in rows {
            let who = match i.beneficiary_id {
                Some(b) => names
                    .iter()
                    .find(|n| n.id == b.to_string())
                    .map(|n| n.full_name.clone())
                    .unwrap_or_default(),
                None => i.contact_name.clone(),
            };
            let owner = t
                .assignee
                .and_then(|a| staff.iter().find(|x| x.id == a))
                .map(|a| a.display_name.clone());
            out.push(ComplaintDto {
                task_id: t.id.to_string(),
                kind: task_kind_code(t.kind),
                status: enum_code(&t.answer_status(today)),
                who,
                due_on: t.due_on.to_string(),
                done_at: t.done_at.map(|d| d.to_rfc3339()),
                owner,
                contact: contact_dto(s, i, &staff)?,
                answer: a.map(|a| contact_dto(s, a, &staff)).transpose()?,
            });
        }
        Ok(out)
    })
}

/// An edit as a timeline shows it: of the person or the request here ("beneficiary", "case"), or
/// of the person at HQ ("hq", by HQ's staff member), with the changed fields' names; or the count
/// of older changes at HQ the record came without ("hq_older", the count as its detail).
fn edit_item(e: sila_store::Edit) -> TimelineItem {
    if e.older > 0 {
        return TimelineItem {
            at: e.at,
            kind: "edit".into(),
            code: "hq_older".into(),
            actor: String::new(),
            detail: e.older.to_string(),
            attachments: Vec::new(),
        };
    }
    let code = match (e.at_hq, e.entity.as_str()) {
        (true, _) => "hq",
        (false, "case") => "case",
        (false, _) => "beneficiary",
    };
    TimelineItem {
        at: e.at,
        kind: "edit".into(),
        code: code.into(),
        actor: e.by,
        detail: e.fields.join(","),
        attachments: Vec::new(),
    }
}

/// A beneficiary's whole file: who they are, their requests, every contact, the corrections made.
pub fn person_file(desk: &Desk, id: String) -> R<PersonFileDto> {
    let id: BeneficiaryId = parse_id("id", &id)?;
    desk.with_store(|s| {
        let stored = s.open_beneficiary(id)?;
        let id = stored.beneficiary.id;
        let staff = s.staff()?;
        let mut contacts = Vec::new();
        for i in s.interactions(id)?.into_iter().rev() {
            contacts.push(contact_dto(s, i, &staff)?);
        }
        let edits = s
            .edits_of(&[id.to_string()])?
            .into_iter()
            .map(edit_item)
            .collect();
        Ok(PersonFileDto {
            beneficiary: beneficiary_dto(&stored),
            contacts,
            edits,
        })
    })
}

// ---- files ----

pub fn upload(desk: &Desk, bytes: Vec<u8>) -> R<StoredFile> {
    desk.with_store(|s| {
        let sha = s.put_attachment(&bytes)?;
        let mime =
            sila_domain::interaction::sniff_mime(&bytes).unwrap_or("application/octet-stream");
        Ok(StoredFile {
            sha256: sha,
            mime: mime.into(),
            size: bytes.len() as i64,
        })
    })
}

pub fn file(desk: &Desk, sha256: String) -> R<Vec<u8>> {
    desk.with_store(|s| {
        let (_, bytes) = s
            .attachment(&sha256)?
            .ok_or(StoreError::NotFound("attachment"))?;
        Ok(bytes)
    })
}

// ---- the store's upkeep (administrators) ----

/// Rewrite the store without its free space (`Store::compact`), with the sync worker stopped
/// meanwhile; the window asks `compact_progress` how far it is.
pub fn compact_store(desk: &Desk) -> R<CompactDto> {
    let out = desk.with_store_alone(|s| {
        let report = s.compact(&mut |written, total| {
            *desk.compacting.lock().unwrap_or_else(|p| p.into_inner()) = Some((written, total));
        })?;
        Ok(CompactDto {
            before_bytes: report.before_bytes,
            after_bytes: report.after_bytes,
        })
    });
    *desk.compacting.lock().unwrap_or_else(|p| p.into_inner()) = None;
    out
}

/// How far a running compaction is, or None when none runs. Never waits for the store.
pub fn compact_progress(desk: &Desk) -> R<Option<CompactProgressDto>> {
    Ok(desk
        .compacting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .map(|(written, total)| CompactProgressDto {
            written_bytes: written,
            total_bytes: total,
        }))
}

// ---- the intake wizard ----

/// The signed-in person's unfinished intakes, for the home screen: whose, how far, when saved.
fn draft_summaries(s: &Store) -> R<Vec<DraftSummary>> {
    let drafts = s.my_drafts(INTAKE_DRAFT)?;
    let parsed: Vec<(sila_store::drafts::Draft, IntakeDraft)> = drafts
        .into_iter()
        .map(|d| {
            let form = serde_json::from_value(d.data.clone()).unwrap_or_default();
            (d, form)
        })
        .collect();
    let existing: Vec<String> = parsed
        .iter()
        .filter_map(|(_, f)| f.existing_beneficiary_id.clone())
        .collect();
    let rows = s.beneficiary_rows(&existing)?;
    Ok(parsed
        .into_iter()
        .map(|(d, f)| {
            let typed = [
                &f.identity.first,
                &f.identity.father,
                &f.identity.grandfather,
                &f.identity.family,
            ]
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
            let name = match &f.existing_beneficiary_id {
                Some(b) => rows
                    .iter()
                    .find(|r| &r.id == b)
                    .map(|r| r.full_name.clone())
                    .unwrap_or_default(),
                None => typed,
            };
            DraftSummary {
                id: d.id,
                name,
                query: f.query,
                step: f.step,
                support_type: f.support_type,
                created_at: d.created_at,
                updated_at: d.updated_at,
                handed_by: d.handed_by,
                unowned: d.unowned,
            }
        })
        .collect())
}

pub fn intake_drafts(desk: &Desk) -> R<Vec<DraftSummary>> {
    desk.with_store(|s| draft_summaries(s))
}

/// One of the signed-in person's intake drafts, as the wizard saved it.
pub fn intake_draft(desk: &Desk, id: String) -> R<IntakeDraft> {
    desk.with_store(|s| {
        let d = s.draft(&id)?.ok_or(StoreError::NotFound("draft"))?;
        // A draft the wizard can no longer read starts again empty rather than failing for good.
        Ok(serde_json::from_value(d.data).unwrap_or_default())
    })
}

/// Save the wizard's form: into draft `id`, or a new draft when `id` is None. Returns the ID.
pub fn save_intake_draft(desk: &Desk, id: Option<String>, draft: IntakeDraft) -> R<String> {
    desk.with_store(|s| {
        let v = serde_json::to_value(&draft).map_err(|_| ApiError::internal())?;
        Ok(s.save_draft(id.as_deref(), INTAKE_DRAFT, &v)?)
    })
}

/// Put an intake draft aside (it can be brought back by `restore_intake_draft` for a day).
pub fn discard_intake_draft(desk: &Desk, id: String) -> R<()> {
    desk.with_store(|s| Ok(s.discard_draft(&id)?))
}

pub fn restore_intake_draft(desk: &Desk, id: String) -> R<()> {
    desk.with_store(|s| Ok(s.restore_draft(&id)?))
}

/// Give an intake draft to a colleague (a shift ends, the applicant comes back to someone else).
pub fn hand_over_draft(desk: &Desk, id: String, to: String) -> R<()> {
    desk.with_store(|s| Ok(s.hand_over_draft(&id, &to)?))
}

/// The branch's active staff, for choosing whom to hand a draft or a task to.
pub fn colleagues(desk: &Desk) -> R<Vec<Colleague>> {
    desk.with_store(|s| {
        Ok(s.staff()?
            .into_iter()
            .filter(|a| a.active)
            .map(|a| Colleague {
                id: a.id.to_string(),
                username: a.username,
                display_name: a.display_name,
                roles: a.roles.iter().map(|r| r.code().to_owned()).collect(),
            })
            .collect())
    })
}

/// Check one step of the wizard; the problems come back per field. Steps: 0 channel and reason,
/// 1 search, 2 identity, 3 household, 4 need, 5 documents, 6 declaration, 7 review.
pub fn validate_intake(desk: &Desk, draft: IntakeDraft, step: u8) -> R<Vec<FieldProblem>> {
    use sila_domain::error::FieldError;
    desk.with_store(|s| {
        let today = s.now().date_naive();
        let mut out: Vec<FieldError> = Vec::new();
        let wants = |prefix: &str, f: &FieldError| match prefix {
            "identity" => f.field.starts_with("identity."),
            "household" => {
                f.field.starts_with("household")
                    || f.field == "monthly_income"
                    || f.field == "annual_rent"
            }
            _ => true,
        };
        match step {
            2 | 3 => {
                if let Err(e) = person_of(s, &draft, today, false)? {
                    let prefix = if step == 2 { "identity" } else { "household" };
                    out.extend(e.into_iter().filter(|f| wants(prefix, f)));
                }
            }
            0 | 4 | 5 | 6 => {
                // The step's fields among what submission would refuse in the request (the
                // person is checked at their own steps, 2, 3 and 7).
                let on_step = |f: &FieldError| match step {
                    0 => f.field == "channel",
                    4 => f.field == "support_type" || f.field == "need",
                    5 => f.field.starts_with("documents."),
                    _ => f.field == "signature",
                };
                if let Err(e) = intake::intake(&draft, Err(Vec::new()), None, s.catalog()) {
                    out.extend(e.into_iter().filter(on_step));
                }
            }
            7 => {
                if let Err(e) = person_of(s, &draft, today, true)? {
                    out.extend(e);
                }
            }
            _ => {}
        }
        Ok(out.into_iter().map(FieldProblem::from).collect())
    })
}

/// The person the draft's identity and household steps describe: a new one, or the returning
/// applicant's file as the desk corrected it (everything the form does not show stays as on file).
/// The outer error is the store's; the inner one the form's problems, per field.
fn person_of(
    s: &Store,
    d: &IntakeDraft,
    today: NaiveDate,
    for_submission: bool,
) -> R<Result<sila_domain::beneficiary::Beneficiary, Vec<sila_domain::error::FieldError>>> {
    let form = intake::PersonForm::of(d);
    let on_file = match (&d.beneficiary_id, &d.existing_beneficiary_id) {
        (Some(id), _) | (None, Some(id)) => Some(
            s.beneficiary(parse_id("beneficiary_id", id)?)?
                .ok_or(StoreError::NotFound("beneficiary"))?
                .beneficiary,
        ),
        (None, None) => None,
    };
    Ok(match on_file {
        Some(b) => intake::edited(&b, &form, today, for_submission),
        None => intake::beneficiary(d, BeneficiaryId::new_v7(), today, for_submission),
    })
}

/// A beneficiary's file as the edit screen (and a returning applicant's identity step) shows it.
pub fn beneficiary_form(desk: &Desk, id: String) -> R<PersonFormDto> {
    let id: BeneficiaryId = parse_id("id", &id)?;
    desk.with_store(|s| {
        let stored = s.open_beneficiary(id)?;
        let (identity, household, monthly_income, housing, annual_rent) =
            intake::form_of(&stored.beneficiary);
        Ok(PersonFormDto {
            id: stored.beneficiary.id.to_string(),
            version: stored.version,
            full_name: stored.beneficiary.name.full(),
            identity,
            household,
            monthly_income,
            housing,
            annual_rent,
        })
    })
}

/// Who is already on file with this national ID (search-before-create: the wizard warns and
/// offers to open their file). `except` leaves out the file being edited. An ID that does not
/// parse has no one.
pub fn same_national_id(
    desk: &Desk,
    national_id: String,
    except: Option<String>,
) -> R<Vec<BeneficiaryRow>> {
    let Ok(nid) = NationalId::parse(&national_id) else {
        return Ok(Vec::new());
    };
    desk.with_store(|s| {
        let ids: Vec<String> = s
            .with_national_id(&nid)?
            .into_iter()
            .filter(|id| Some(id) != except.as_ref())
            .collect();
        Ok(s.beneficiary_rows(&ids)?.into_iter().map(row).collect())
    })
}

/// Save a correction of a beneficiary's file, made on top of the version the form was opened at:
/// checked by the domain, saved as the fields that changed (and audited); a file changed by
/// someone else since is refused (`version_conflict`) rather than overwritten.
pub fn save_beneficiary(desk: &Desk, input: PersonFormDto) -> R<PersonFormDto> {
    let id: BeneficiaryId = parse_id("id", &input.id)?;
    desk.with_store(|s| {
        let stored = s
            .beneficiary(id)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        let form = intake::PersonForm {
            identity: &input.identity,
            household: &input.household,
            monthly_income: &input.monthly_income,
            housing: &input.housing,
            annual_rent: &input.annual_rent,
        };
        let today = s.now().date_naive();
        let b =
            intake::edited(&stored.beneficiary, &form, today, false).map_err(ApiError::invalid)?;
        s.update_beneficiary(&b, input.version)?;
        Ok(())
    })?;
    beneficiary_form(desk, input.id)
}

/// Submit the intake: the draft becomes a submitted request (for someone new, with their
/// registration; for a returning applicant, with the wizard's corrections to their file) in one
/// store transaction that also deletes the draft, so a failure at any point leaves the draft as
/// it was and nothing half-made (`Store::submit_intake`).
pub fn submit_intake(desk: &Desk, id: String) -> R<Receipt> {
    desk.with_store(|s| {
        let d: IntakeDraft = s
            .draft(&id)?
            .and_then(|d| serde_json::from_value(d.data).ok())
            .ok_or(StoreError::NotFound("draft"))?;
        let person = person_of(s, &d, s.now().date_naive(), true)?;
        // A returning applicant's corrections go on top of the version the wizard read.
        let on_file_version = match &d.existing_beneficiary_id {
            Some(existing) => Some(match d.existing_version {
                Some(v) => v,
                None => {
                    s.beneficiary(parse_id("existing_beneficiary_id", existing)?)?
                        .ok_or(StoreError::NotFound("beneficiary"))?
                        .version
                }
            }),
            None => None,
        };
        let intake =
            intake::intake(&d, person, on_file_version, s.catalog()).map_err(ApiError::invalid)?;
        // Drafts saved by a Sila that submitted step by step name the request a failed attempt opened.
        let opened: Option<CaseId> = d
            .case_id
            .as_deref()
            .map(|c| parse_id("case_id", c))
            .transpose()?;
        let c = s.submit_intake(&id, &intake, opened)?;
        receipt_of(s, &c)
    })
}

fn receipt_of(s: &mut Store, c: &Case) -> R<Receipt> {
    let ben = s
        .beneficiary(c.beneficiary_id)?
        .ok_or(StoreError::NotFound("beneficiary"))?;
    let b = &ben.beneficiary;
    let st = s
        .catalog()
        .support_type(&c.support_type)
        .map(|t| t.name_ar.clone())
        .unwrap_or_else(|| c.support_type.clone());
    Ok(Receipt {
        case_id: c.id.to_string(),
        case_number: c.number.clone(),
        beneficiary_name: b.name.full(),
        national_id: b.national_id.as_ref().map(|n| n.as_str().to_owned()),
        mobile: b.mobile.as_ref().map(|m| m.national()),
        support_type: st,
        channel: c.channel.code().into(),
        submitted_at: c.submitted_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        promised_reply_date: c
            .promised_reply_date
            .map(|d| d.to_string())
            .unwrap_or_default(),
        employee_name: c
            .declaration
            .as_ref()
            .map(|d| d.employee_name.clone())
            .unwrap_or_else(|| s.session().actor.display_name.clone()),
        branch: s.session().branch.clone(),
    })
}

/// The receipt of any submitted case (to print it again).
pub fn receipt(desk: &Desk, id: String) -> R<Receipt> {
    let id: CaseId = parse_id("id", &id)?;
    desk.with_store(|s| {
        let c = s.case(id)?.ok_or(StoreError::NotFound("case"))?.case;
        receipt_of(s, &c)
    })
}

// ---- import and export (administrators) ----

fn require_admin(desk: &Desk) -> R<()> {
    desk.with_store(|s| {
        if s.session().actor.has_any(&[Role::Admin]) {
            Ok(())
        } else {
            Err(ApiError::new(
                "forbidden",
                "الاستيراد والتصدير من صلاحيات مدير النظام.",
            ))
        }
    })
}

/// How many rows a preview shows.
pub const PREVIEW_ROWS: usize = 20;

/// A sheet picked for import: its columns as recognised and its first rows with their problems,
/// before anything is saved. The sheet stays in memory for `import_sheet` (one at a time).
pub fn import_preview(desk: &Desk, file_name: String, bytes: Vec<u8>) -> R<ImportPreviewDto> {
    require_admin(desk)?;
    let file_name: String = file_name.chars().take(200).collect();
    let sheet = desk.with_store(|s| Ok(s.preview_sheet(&bytes, &file_name, PREVIEW_ROWS)?))?;
    let mut rows: Vec<PreviewRow> = sheet
        .rows
        .iter()
        .map(|r| {
            let b = &r.beneficiary;
            PreviewRow {
                row: r.row as i64,
                name: b.name.full(),
                national_id: b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                mobile: b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                birth_date: b.birth_date.map(|d| d.to_string()),
                city: b.city.clone(),
                problems: Vec::new(),
            }
        })
        .collect();
    for e in &sheet.rejected {
        let problem = RowProblem {
            row: e.row as i64,
            column: e.column.clone(),
            code: e.code.clone(),
            message: e.message.clone(),
        };
        match rows.iter_mut().find(|r| r.row == e.row as i64) {
            Some(r) => r.problems.push(problem),
            None => rows.push(PreviewRow {
                row: e.row as i64,
                name: String::new(),
                national_id: None,
                mobile: None,
                birth_date: None,
                city: String::new(),
                problems: vec![problem],
            }),
        }
    }
    rows.sort_by_key(|r| r.row);
    let token = format!(
        "{:x}",
        sila_domain::ids::DeviceId::new_v7().as_uuid().as_u128()
    );
    *desk
        .pending_import
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(crate::state::PendingImport {
        token: token.clone(),
        file_name: file_name.clone(),
        bytes,
    });
    Ok(ImportPreviewDto {
        token,
        file_name,
        columns: sheet
            .columns
            .into_iter()
            .map(|(header, field)| SheetColumn {
                header,
                field: field.map(str::to_owned),
            })
            .collect(),
        rows,
        more: sheet.truncated,
    })
}

/// Import the sheet previewed under `token`, in one transaction; its progress is readable
/// meanwhile with `import_progress`. The rows it refused, with their reasons, are also written
/// as a CSV beside the exports (named in the answer), so they can be fixed in the sheet.
pub fn import_sheet(desk: &Desk, token: String) -> R<ImportResultDto> {
    require_admin(desk)?;
    let pending = desk
        .pending_import
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .filter(|p| p.token == token)
        .ok_or(StoreError::NotFound("import"))?;
    let set = |phase: &str, done: usize, total: usize| {
        *desk
            .import_progress
            .lock()
            .unwrap_or_else(|p| p.into_inner()) =
            Some((phase.to_owned(), done as u64, total as u64));
    };
    set("reading", 0, 0);
    let result = desk.with_store(|s| {
        Ok(
            s.import_bytes(&pending.bytes, &pending.file_name, &mut |p| match p {
                sila_store::import::ImportProgress::Reading { rows } => set("reading", rows, 0),
                sila_store::import::ImportProgress::Saving { done, total } => {
                    set("saving", done, total)
                }
            })?,
        )
    });
    *desk
        .import_progress
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
    let report = result?;
    let refused_file = if report.rejected.is_empty() {
        None
    } else {
        let table = sila_export::Table {
            name: "الصفوف المرفوضة".into(),
            headers: ["الصف", "العمود", "الرمز", "السبب"]
                .iter()
                .map(|h| h.to_string())
                .collect(),
            rows: report
                .rejected
                .iter()
                .map(|e| {
                    vec![
                        sila_export::Cell::Int(e.row as i64),
                        sila_export::Cell::Text(e.column.clone()),
                        sila_export::Cell::Text(e.code.clone()),
                        sila_export::Cell::Text(e.message.clone()),
                    ]
                })
                .collect(),
        };
        std::fs::create_dir_all(&desk.export_dir).map_err(|_| ApiError::internal())?;
        let stem = std::path::Path::new(&pending.file_name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sheet")
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .collect::<String>();
        let path = desk.export_dir.join(format!("{stem}-refused-rows.csv"));
        sila_export::write_csv(&path, &table)
            .map_err(|_| ApiError::new("export_failed", "تعذر كتابة ملف الصفوف المرفوضة."))?;
        Some(path.display().to_string())
    };
    Ok(ImportResultDto {
        imported: report.imported as i64,
        updated: report.updated as i64,
        unchanged: report.unchanged as i64,
        refused: report
            .rejected
            .into_iter()
            .map(|e| RowProblem {
                row: e.row as i64,
                column: e.column,
                code: e.code,
                message: e.message,
            })
            .collect(),
        refused_file,
    })
}

/// Where the import in progress stands (None when none runs).
pub fn import_progress(desk: &Desk) -> R<Option<ImportProgressDto>> {
    Ok(desk
        .import_progress
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .map(|(phase, done, total)| ImportProgressDto {
            phase,
            done: done as i64,
            total: total as i64,
        }))
}

/// Forget a previewed sheet without importing it.
pub fn cancel_import(desk: &Desk) -> R<()> {
    *desk
        .pending_import
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
    Ok(())
}

/// Export beneficiaries and cases ("xlsx": one workbook; "csv": two files) into the export
/// folder. Answers the files written.
pub fn export_data(desk: &Desk, format: String) -> R<Vec<String>> {
    require_admin(desk)?;
    let format = match format.as_str() {
        "xlsx" => sila_store::exporting::ExportFormat::Xlsx,
        "csv" => sila_store::exporting::ExportFormat::Csv,
        _ => return Err(ApiError::bad_input("format")),
    };
    std::fs::create_dir_all(&desk.export_dir).map_err(|_| ApiError::internal())?;
    desk.with_store(|s| {
        let day = s.now().date_naive();
        let ext = match format {
            sila_store::exporting::ExportFormat::Xlsx => "xlsx",
            sila_store::exporting::ExportFormat::Csv => "csv",
        };
        let out = desk.export_dir.join(format!("sila-{day}.{ext}"));
        Ok(s.export(format, &out)?
            .into_iter()
            .map(|p| p.display().to_string())
            .collect())
    })
}

// ---- staff accounts ----

fn roles_of(codes: &[String]) -> R<Vec<Role>> {
    codes
        .iter()
        .map(|c| Role::from_code(c).ok_or_else(|| ApiError::bad_input("roles")))
        .collect()
}

pub fn staff(desk: &Desk) -> R<Vec<StaffDto>> {
    desk.with_store(|s| {
        let access = s.usernames_with_access()?;
        Ok(s.staff()?
            .into_iter()
            .map(|a| StaffDto {
                can_sign_in_here: access.contains(&a.username),
                username: a.username,
                display_name: a.display_name,
                roles: a.roles.iter().map(|r| r.code().to_owned()).collect(),
                active: a.active,
            })
            .collect())
    })
}

pub fn add_staff(desk: &Desk, input: StaffInput) -> R<()> {
    let roles = roles_of(&input.roles)?;
    desk.with_store(|s| {
        s.add_staff(
            &input.username,
            &input.display_name,
            &roles,
            &input.password,
        )?;
        Ok(())
    })
}

pub fn set_staff_active(
    desk: &Desk,
    username: String,
    active: bool,
    password: Option<String>,
) -> R<()> {
    desk.with_store(|s| {
        s.set_staff_active(&username, active, password.as_deref())?;
        Ok(())
    })
}

pub fn reset_password(desk: &Desk, username: String, password: String) -> R<()> {
    desk.with_store(|s| Ok(s.set_password(&username, &password)?))
}

pub fn set_staff_roles(desk: &Desk, username: String, roles: Vec<String>) -> R<()> {
    let roles = roles_of(&roles)?;
    desk.with_store(|s| Ok(s.set_staff_roles(&username, &roles)?))
}

// ---- knowledge base ----

pub fn kb_documents(desk: &Desk) -> R<Vec<KbDocDto>> {
    desk.with_store(|s| {
        Ok(s.kb_documents()?
            .into_iter()
            .map(|k| KbDocDto {
                id: k.id,
                title: k.title,
                body: k.body,
                attachment: k.attachment,
                mime: k.mime,
                published_at: k.published_at,
            })
            .collect())
    })
}

pub fn add_kb_document(desk: &Desk, input: KbInput) -> R<()> {
    desk.with_store(|s| {
        let bytes = match &input.attachment {
            Some(sha) => Some(
                s.attachment(sha)?
                    .ok_or(StoreError::NotFound("attachment"))?
                    .1,
            ),
            None => None,
        };
        s.add_kb_document(&input.title, &input.body, bytes.as_deref())?;
        Ok(())
    })
}
