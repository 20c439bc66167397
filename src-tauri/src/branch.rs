//! The command bodies of the branch as a whole (issue 10): a laptop joining its branch from the
//! first-run screen, asking HQ whether a national ID is registered at another branch, and what
//! sync left for a person (conflicts waiting for HQ, changes HQ refused). Like `api.rs`: no Tauri
//! type, no SQL, no rule; the network calls run here, outside the store's lock, so the desk never
//! waits on HQ.

use crate::dto::*;
use crate::present::{field_text, session_info, sync_error};
use crate::state::Desk;
use sila_domain::ids::{BeneficiaryId, CaseId, DeviceId};
use sila_domain::national_id::NationalId;
use sila_store::Store;
use sila_sync::{FirstAccount, HqClient, SyncOptions};
use std::time::Duration;

type R<T> = Result<T, ApiError>;

fn runtime() -> R<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| ApiError::internal())
}

/// HQ's address and a one-time code as typed, checked for shape before anyone asks HQ.
pub fn hq_fields(hq_url: &str, code: &str) -> R<(String, String)> {
    let url = hq_url.trim().trim_end_matches('/').to_owned();
    let code = code.trim().to_uppercase();
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
    if problems.is_empty() {
        Ok((url, code))
    } else {
        Err(ApiError::invalid(problems))
    }
}

// ---- a new laptop for the branch ----

/// Add this laptop to an existing branch: enrolled at HQ with the code (which names the branch),
/// the store made for that branch with this laptop's first account, then signed in. The branch
/// arrives in the background, people and open cases first; the home screen shows its progress.
pub fn join_branch(desk: &Desk, input: JoinInput) -> R<SessionInfo> {
    let (url, code) = hq_fields(&input.hq_url, &input.code)?;
    Store::check_first_account(&input.username, &input.password)?;
    let device = {
        let mut joining = desk.joining.lock().unwrap_or_else(|p| p.into_inner());
        match &*joining {
            Some((c, d)) if *c == code => *d,
            _ => {
                let d = DeviceId::new_v7();
                *joining = Some((code.clone(), d));
                d
            }
        }
    };
    let opts = SyncOptions {
        request_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let store = runtime()?
        .block_on(sila_sync::join(
            &desk.dir,
            &url,
            &code,
            device,
            FirstAccount {
                username: &input.username,
                display_name: &input.display_name,
                password: &input.password,
            },
            sila_store::InitOptions::default(),
            &opts,
        ))
        .map_err(join_error)?;
    *desk.joining.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let info = session_info(&store);
    desk.begin_session(store)?;
    desk.sync_now();
    Ok(info)
}

/// A failed join in the words of the person joining. The sync worker's words for a lost
/// connection ("changes will be sent automatically when it returns") promise what a laptop that
/// has not joined yet will not do: here the person checks the address and tries again.
fn join_error(e: sila_sync::SyncError) -> ApiError {
    let mut err = sync_error(e);
    if err.code == "network" {
        let says = "تعذر الوصول إلى المقر على هذا العنوان. تأكد من العنوان ومن اتصال الجهاز بالشبكة، ثم حاول مرة أخرى.";
        err.message = says.into();
        for f in &mut err.fields {
            f.message = says.into();
        }
    }
    err
}

// ---- other branches ----

/// Is this national ID registered at another branch? HQ answers where and since when, never the
/// file; offline (or not enrolled) the answer says so, and HQ's duplicate review catches it later.
/// No laptop holds an index of other branches' people.
pub fn lookup_national_id(desk: &Desk, national_id: String) -> R<LookupDto> {
    // A malformed ID is never sent: HQ would refuse it, and it is not a person's.
    let id = NationalId::parse(&national_id).map_err(|_| ApiError::bad_input("national_id"))?;
    let answer = |state: &str, code: Option<String>| LookupDto {
        state: state.into(),
        registered: Vec::new(),
        code,
    };
    let Some(enrolment) = desk.with_store(|s| Ok(s.enrolment()?))? else {
        return Ok(answer("not_enrolled", None));
    };
    // Short: the person is waiting at the desk, and the answer only adds to what the branch knows.
    let opts = SyncOptions {
        connect_timeout: Duration::from_secs(4),
        request_timeout: Duration::from_secs(8),
        ..Default::default()
    };
    let client =
        HqClient::new(&enrolment.hq_url, Some(enrolment.token), &opts).map_err(sync_error)?;
    Ok(match runtime()?.block_on(client.lookup(id.as_str())) {
        Ok(r) => LookupDto {
            state: if r.registered.is_empty() {
                "none"
            } else {
                "found"
            }
            .into(),
            registered: r
                .registered
                .into_iter()
                .map(|g| RegistrationDto {
                    branch: g.branch,
                    since: g.since,
                })
                .collect(),
            code: None,
        },
        Err(e) if e.is_transient() => answer("offline", Some(e.code())),
        Err(e) => answer("unavailable", Some(e.code())),
    })
}

// ---- what sync left for a person ----

/// Most conflicts and refusals listed at once.
const ISSUES: usize = 200;

/// Who or what a record is, for a person: the beneficiary's name, or the case's number and its
/// beneficiary's name; with the IDs to open them.
fn subject(
    s: &Store,
    entity: &str,
    id: &str,
) -> R<(Option<String>, Option<String>, Option<String>)> {
    Ok(match entity {
        "beneficiary" => {
            let b = match id.parse::<BeneficiaryId>() {
                Ok(bid) => s.beneficiary(bid)?,
                Err(_) => None,
            };
            (
                b.map(|b| b.beneficiary.name.full()),
                Some(id.to_owned()),
                None,
            )
        }
        "case" => {
            let c = match id.parse::<CaseId>() {
                Ok(cid) => s.case(cid)?,
                Err(_) => None,
            };
            match c {
                Some(c) => {
                    let name = s
                        .beneficiary(c.case.beneficiary_id)?
                        .map(|b| b.beneficiary.name.full());
                    (
                        Some(match name {
                            Some(n) => format!("{} — {n}", c.case.number),
                            None => c.case.number.clone(),
                        }),
                        Some(c.case.beneficiary_id.to_string()),
                        Some(id.to_owned()),
                    )
                }
                None => (None, None, Some(id.to_owned())),
            }
        }
        _ => (None, None, None),
    })
}

/// A field's value as a person reads it: a beneficiary's field as the merge screen shows it,
/// anything else as plain text.
fn value_text(s: &Store, entity: &str, id: &str, field: &str, v: &serde_json::Value) -> String {
    if entity == "beneficiary"
        && let Ok(bid) = id.parse::<BeneficiaryId>()
        && let Ok(Some(b)) = s.beneficiary(bid)
        && let Ok(mut data) = serde_json::to_value(&b.beneficiary)
        && let Some(slot) = data.get_mut(field)
    {
        *slot = v.clone();
        if let Ok(with) = serde_json::from_value(data) {
            let text = field_text(&with, field);
            if !text.is_empty() || v.is_null() {
                return text;
            }
        }
    }
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(t) => t.clone(),
        other => other.to_string(),
    }
}

pub fn sync_issues(desk: &Desk) -> R<SyncIssuesDto> {
    desk.with_store(|s| {
        let mut conflicts = Vec::new();
        for c in s.open_conflicts(ISSUES)? {
            let (subject, beneficiary_id, case_id) = subject(s, &c.entity, &c.entity_id)?;
            conflicts.push(ConflictDto {
                at_hq: value_text(s, &c.entity, &c.entity_id, &c.field, &c.current),
                proposed: value_text(s, &c.entity, &c.entity_id, &c.field, &c.proposed),
                id: c.id,
                entity: c.entity,
                entity_id: c.entity_id,
                subject,
                beneficiary_id,
                case_id,
                field: c.field,
                proposed_here: c.proposed_here,
            });
        }
        let mut refused = Vec::new();
        for r in s.refused_ops(ISSUES)? {
            if r.result != "rejected" {
                continue;
            }
            let (subject, beneficiary_id, case_id) = subject(s, &r.entity, &r.entity_id)?;
            refused.push(RefusedDto {
                seq: r.seq,
                op: r.op,
                entity: r.entity,
                entity_id: r.entity_id,
                subject,
                beneficiary_id,
                case_id,
                reason: r.reason.unwrap_or_default(),
                created_at: r.created_at,
                answered_at: r.answered_at,
            });
        }
        Ok(SyncIssuesDto { conflicts, refused })
    })
}

/// The counts the home screen's sync area shows: open conflicts, changes refused in the last
/// week, files still to come.
pub fn issue_counts(s: &Store) -> R<(i64, i64, i64)> {
    let week_ago = (s.now() - chrono::Duration::days(7)).to_rfc3339();
    let refused = s
        .refused_ops(ISSUES)?
        .into_iter()
        .filter(|r| r.result == "rejected")
        .filter(|r| {
            r.answered_at
                .as_deref()
                .is_some_and(|a| a >= week_ago.as_str())
        })
        .count() as i64;
    Ok((
        s.open_conflicts(ISSUES)?.len() as i64,
        refused,
        s.downloads_wanted()?.len() as i64,
    ))
}

/// How far the branch has arrived, or None when it is all here.
pub fn redownload(s: &Store) -> R<Option<RedownloadDto>> {
    use sila_sync::proto::phases;
    let Some(r) = s.redownload()? else {
        // Enrolled but HQ's plan not asked yet (a laptop that has just joined).
        return Ok(
            (s.enrolment()?.is_some() && s.needs_redownload()?).then(|| RedownloadDto {
                phase: String::new(),
                done: 0,
                total: 0,
                usable: false,
            }),
        );
    };
    let after = |p: &str| phases::ALL.iter().position(|x| *x == p);
    let usable = match (after(&r.phase), after(phases::USABLE_AFTER)) {
        (Some(now), Some(usable)) => now > usable,
        _ => r.phase.is_empty(),
    };
    Ok(Some(RedownloadDto {
        total: r.total(),
        phase: r.phase,
        done: r.done,
        usable,
    }))
}
