//! The command bodies: plain functions over [`Desk`], with no Tauri type in sight, so tests call
//! them with a temporary store and no window. Each one unpacks its input, calls the store, and
//! maps the result to a DTO. No SQL and no business rule live here: states, rules, validation and
//! wording are the libraries'.

use crate::dto::*;
use crate::intake;
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

/// The key of the intake wizard's draft in the store (one unfinished intake per device).
pub const INTAKE_DRAFT: &str = "intake";

fn parse_id<T: std::str::FromStr>(field: &str, s: &str) -> R<T> {
    s.parse().map_err(|_| ApiError::bad_input(field))
}

fn session_info(store: &Store) -> SessionInfo {
    let s = store.session();
    SessionInfo {
        username: s.username.clone(),
        display_name: s.actor.display_name.clone(),
        roles: s.actor.roles.iter().map(|r| r.code().to_owned()).collect(),
        branch: s.branch.clone(),
    }
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

fn enum_code<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
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
        version: env!("CARGO_PKG_VERSION").into(),
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
            roles: Role::ALL
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
            task_kinds: [
                TaskKind::AnnounceDecision,
                TaskKind::PromiseNear,
                TaskKind::Reassessment,
                TaskKind::Research,
                TaskKind::Survey,
                TaskKind::FollowUp,
            ]
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
        let tasks = s.my_tasks(50)?;
        let ids: Vec<String> = tasks.iter().map(|t| t.beneficiary_id.to_string()).collect();
        let names = s.beneficiary_rows(&ids)?;
        let tasks = tasks
            .into_iter()
            .map(|t| {
                let case_number = t
                    .case_id
                    .and_then(|c| s.case(c).ok().flatten())
                    .map(|c| c.case.number);
                TaskDto {
                    id: t.id.to_string(),
                    kind: task_kind_code(t.kind),
                    beneficiary_name: names
                        .iter()
                        .find(|n| n.id == t.beneficiary_id.to_string())
                        .map(|n| n.full_name.clone())
                        .unwrap_or_default(),
                    beneficiary_id: t.beneficiary_id.to_string(),
                    case_id: t.case_id.map(|c| c.to_string()),
                    case_number,
                    due_on: t.due_on.to_string(),
                    when: if t.due_on < today {
                        "overdue"
                    } else if t.due_on == today {
                        "today"
                    } else {
                        "upcoming"
                    }
                    .into(),
                    channel: t.channel.map(|c| c.code().to_owned()),
                    note: t.note,
                }
            })
            .collect();
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
            has_intake_draft: s.draft(INTAKE_DRAFT)?.is_some(),
        })
    })
}

pub fn complete_task(desk: &Desk, id: String) -> R<()> {
    let id = parse_id("id", &id)?;
    desk.with_store(|s| Ok(s.complete_task(id)?))
}

/// The home screen's sync area: what the store says (enrolled, last sync, changes waiting, the last
/// error in Arabic) and what the background worker is doing now.
pub fn sync_status(desk: &Desk) -> R<SyncStatusDto> {
    let (st, enrolment, admin) = desk.with_store(|s| {
        Ok((
            sila_sync::status(s).map_err(sync_error)?,
            s.enrolment()?,
            s.session().actor.has_any(&[Role::Admin]),
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
    })
}

/// "Sync now" (also clears a stop after a refusal that needed a person).
pub fn sync_now(desk: &Desk) -> R<SyncStatusDto> {
    desk.sync_now();
    sync_status(desk)
}

/// Bind this store to HQ with a one-time code, as `sila enroll` does. Only an administrator may;
/// that is checked before HQ is asked, so a code is not spent by someone who may not keep it.
pub fn enroll(desk: &Desk, input: EnrollInput) -> R<SyncStatusDto> {
    let url = input.hq_url.trim().trim_end_matches('/').to_owned();
    let code = input.code.trim().to_uppercase();
    let mut problems = Vec::new();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
        problems.push(sila_domain::error::FieldError::new(
            "hq_url",
            "invalid_url",
            "اكتب عنوان المقر كاملاً، مثل https://hq.example.org",
        ));
    }
    if code.is_empty() {
        problems.push(sila_domain::error::FieldError::new(
            "code",
            "required",
            "اكتب رمز التسجيل الذي أصدره المقر",
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
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

/// A sync error as the IPC's error, routed to the enrolment form's field it concerns.
fn sync_error(e: sila_sync::SyncError) -> ApiError {
    let code = e.code();
    let message = e.arabic_message();
    let field = match code.as_str() {
        "code_invalid" | "code_expired" | "code_used" | "branch_mismatch" => Some("code"),
        "network" | "protocol" | "server_error" => Some("hq_url"),
        _ => None,
    };
    ApiError {
        fields: field
            .map(|f| {
                vec![FieldProblem {
                    field: f.into(),
                    code: code.clone(),
                    message: message.clone(),
                }]
            })
            .unwrap_or_default(),
        code,
        message,
    }
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

fn case_dto(s: &Store, c: &Case, branch: &str) -> CaseDto {
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
        for e in s.case_history(id)? {
            timeline.push(TimelineItem {
                at: e.at.to_rfc3339(),
                kind: "transition".into(),
                code: e.transition.code().into(),
                actor: e.actor_name,
                detail: e.note,
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
            });
        }
        if let Some(r) = &c.research_report {
            timeline.push(TimelineItem {
                at: r.written_at.to_rfc3339(),
                kind: "report".into(),
                code: "research_report".into(),
                actor: r.researcher_name.clone(),
                detail: r.text.clone(),
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
            });
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
        Ok(CaseFileDto {
            case: case_dto(s, c, &stored.branch),
            beneficiary: beneficiary_dto(&ben),
            timeline,
            actions,
        })
    })
}

pub fn beneficiary_cases(desk: &Desk, id: String) -> R<CasePage> {
    cases_page(
        desk,
        CaseQuery {
            beneficiary_id: Some(id),
            limit: 100,
            ..Default::default()
        },
    )
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
        })?;
        Ok(())
    })
}

pub fn log_interaction(desk: &Desk, input: InteractionInput) -> R<()> {
    let ben: BeneficiaryId = parse_id("beneficiary_id", &input.beneficiary_id)?;
    let case: Option<CaseId> = match input.case_id.as_deref() {
        None | Some("") => None,
        Some(c) => Some(parse_id("case_id", c)?),
    };
    let channel =
        Channel::from_code(&input.channel).ok_or_else(|| ApiError::bad_input("channel"))?;
    let direction: Direction =
        intake::code(&input.direction).ok_or_else(|| ApiError::bad_input("direction"))?;
    let purpose: Purpose =
        intake::code(&input.purpose).ok_or_else(|| ApiError::bad_input("purpose"))?;
    let follow = typed_date("follow_up_on", &input.follow_up_on)?;
    desk.with_store(|s| {
        s.log_interaction(
            ben,
            case,
            channel,
            direction,
            purpose,
            &input.summary,
            &input.outcome,
            follow,
        )?;
        Ok(())
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

// ---- the intake wizard ----

pub fn intake_draft(desk: &Desk) -> R<Option<IntakeDraft>> {
    desk.with_store(|s| {
        Ok(s.draft(INTAKE_DRAFT)?
            .and_then(|v| serde_json::from_value(v).ok()))
    })
}

pub fn save_intake_draft(desk: &Desk, draft: IntakeDraft) -> R<()> {
    desk.with_store(|s| {
        let v = serde_json::to_value(&draft).map_err(|_| ApiError::internal())?;
        s.save_draft(INTAKE_DRAFT, &v)?;
        Ok(())
    })
}

pub fn discard_intake_draft(desk: &Desk) -> R<()> {
    desk.with_store(|s| Ok(s.delete_draft(INTAKE_DRAFT)?))
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
            0 if Channel::from_code(&draft.channel).is_none() => {
                out.push(FieldError::new("channel", "required", "اختر قناة التواصل"));
            }
            2 | 3 if draft.existing_beneficiary_id.is_none() => {
                if let Err(e) = intake::beneficiary(&draft, BeneficiaryId::new_v7(), today, false) {
                    let prefix = if step == 2 { "identity" } else { "household" };
                    out.extend(e.into_iter().filter(|f| wants(prefix, f)));
                }
            }
            4 => {
                if s.catalog().support_type(&draft.support_type).is_none() {
                    out.push(FieldError::new(
                        "support_type",
                        "required",
                        "اختر نوع الدعم",
                    ));
                }
                if draft.need.trim().is_empty() {
                    out.push(FieldError::new("need", "required", "يجب وصف الاحتياج"));
                }
            }
            5 => {
                let required = s
                    .catalog()
                    .support_type(&draft.support_type)
                    .map(|t| t.required_documents.clone())
                    .unwrap_or_default();
                for code in required {
                    let d = draft.documents.iter().find(|d| d.code == code);
                    if d.is_none_or(|d| d.attachment.is_none()) {
                        out.push(FieldError::new(
                            &format!("documents.{code}"),
                            "document_missing",
                            "أرفق صورة المستند",
                        ));
                    } else if d.is_some_and(|d| !d.seen_in_original) {
                        out.push(FieldError::new(
                            &format!("documents.{code}"),
                            "not_seen",
                            "يجب مطابقة المستند مع الأصل",
                        ));
                    }
                }
            }
            6 if draft.signature_attachment.is_none() => {
                out.push(FieldError::new(
                    "signature",
                    "declaration_missing",
                    "يجب توقيع المستفيد على الإقرار (على الشاشة أو على الورق مع صورة التوقيع)",
                ));
            }
            7 if draft.existing_beneficiary_id.is_none() => {
                if let Err(e) = intake::beneficiary(&draft, BeneficiaryId::new_v7(), today, true) {
                    out.extend(e);
                }
            }
            _ => {}
        }
        Ok(out.into_iter().map(FieldProblem::from).collect())
    })
}

/// Submit the intake: register the beneficiary with their request in one transaction (or open a
/// request for the one found by search), fill it from the draft, sign it and submit it. What was
/// made is written back into the draft at once, so a failure part-way (a document the store
/// refuses, say) leaves a draft that continues where it stopped instead of registering twice.
pub fn submit_intake(desk: &Desk) -> R<Receipt> {
    desk.with_store(|s| {
        let mut d: IntakeDraft = s
            .draft(INTAKE_DRAFT)?
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(StoreError::NotFound("draft"))?;
        let save = |s: &mut Store, d: &IntakeDraft| -> R<()> {
            s.save_draft(
                INTAKE_DRAFT,
                &serde_json::to_value(d).map_err(|_| ApiError::internal())?,
            )?;
            Ok(())
        };
        let today = s.now().date_naive();
        let channel = Channel::from_code(&d.channel).ok_or_else(|| {
            ApiError::invalid(vec![sila_domain::error::FieldError::new(
                "channel",
                "required",
                "اختر قناة التواصل",
            )])
        })?;
        // 1. The beneficiary and the case: a new person and their request are saved together in
        // one transaction; someone found by the search gets a new request on their file.
        let (ben_id, case_id, made_now): (BeneficiaryId, CaseId, bool) = match &d.case_id {
            Some(c) => {
                // Made by an earlier attempt: bring a new beneficiary up to the form as it is now.
                let case_id: CaseId = parse_id("case_id", c)?;
                let ben_id = s
                    .case(case_id)?
                    .ok_or(StoreError::NotFound("case"))?
                    .case
                    .beneficiary_id;
                if d.existing_beneficiary_id.is_none() {
                    let stored = s
                        .beneficiary(ben_id)?
                        .ok_or(StoreError::NotFound("beneficiary"))?;
                    let b =
                        intake::beneficiary(&d, ben_id, today, true).map_err(ApiError::invalid)?;
                    if b != stored.beneficiary {
                        s.update_beneficiary(&b, stored.version)?;
                    }
                }
                (ben_id, case_id, false)
            }
            None => {
                let (ben_id, c) = match &d.existing_beneficiary_id {
                    Some(existing) => {
                        let id: BeneficiaryId = parse_id("existing_beneficiary_id", existing)?;
                        (id, s.create_case(id, &d.support_type, channel)?)
                    }
                    None => {
                        let id = BeneficiaryId::new_v7();
                        let b =
                            intake::beneficiary(&d, id, today, true).map_err(ApiError::invalid)?;
                        (id, s.save_intake(&b, &d.support_type, channel)?)
                    }
                };
                d.beneficiary_id = Some(ben_id.to_string());
                d.case_id = Some(c.id.to_string());
                save(s, &d)?;
                (ben_id, c.id, true)
            }
        };
        if made_now && !d.reason.trim().is_empty() {
            s.log_interaction(
                ben_id,
                Some(case_id),
                channel,
                Direction::Inbound,
                Purpose::Inquiry,
                &d.reason,
                "",
                None,
            )?;
        }
        // 2. Fill it: need, documents and their originals, the declaration.
        s.set_case_need(case_id, &d.need)?;
        for doc in &d.documents {
            if let Some(sha) = &doc.attachment {
                let (_, bytes) = s
                    .attachment(sha)?
                    .ok_or(StoreError::NotFound("attachment"))?;
                s.attach_document(case_id, &doc.code, &bytes)?;
                s.mark_seen_in_original(case_id, &doc.code, doc.seen_in_original)?;
            }
        }
        let sig = d.signature_attachment.clone().ok_or_else(|| {
            ApiError::invalid(vec![sila_domain::error::FieldError::new(
                "signature",
                "declaration_missing",
                "يجب توقيع المستفيد على الإقرار",
            )])
        })?;
        let (_, sig_bytes) = s
            .attachment(&sig)?
            .ok_or(StoreError::NotFound("attachment"))?;
        s.sign_declaration(case_id, &sig_bytes, d.signature_kind == "on_paper")?;
        // 3. Submit: the lifecycle checks everything again and fixes the promised date.
        let c = s.transition(case_id, Transition::Submit, "")?;
        s.delete_draft(INTAKE_DRAFT)?;
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
