//! What the branch desktop app needs beyond the other modules: paged lists for 100k
//! beneficiaries, the cases list filtered by where each stands against its promised reply date,
//! the actions the signed-in person may take on a case, surveys of a case, staff roles, and the
//! knowledge base (documents readable offline). Queries only; every change still goes through
//! [`Store::write`] with its outbox operation.

use crate::error::{Result, StoreError};
use crate::{Store, staff_by_username};
use rusqlite::{OptionalExtension, params};
use sila_domain::case::{CaseState, PromiseStatus, Transition};
use sila_domain::catalog::Channel;
use sila_domain::ids::{BeneficiaryId, CaseId};
use sila_domain::interaction::Survey;
use sila_domain::staff::Role;

/// A beneficiary as a list shows it: no household, income or health (those are read, audited,
/// only when the file is opened).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BeneficiaryListRow {
    pub id: String,
    pub full_name: String,
    pub national_id: Option<String>,
    pub mobile: Option<String>,
    pub city: String,
    pub file_number: Option<String>,
}

/// Where a case stands against its promised reply date, as a list filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseFilter {
    OnTrack,
    DueSoon,
    Overdue,
}

impl PromiseFilter {
    pub fn from_code(s: &str) -> Option<PromiseFilter> {
        match s {
            "on_track" => Some(PromiseFilter::OnTrack),
            "due_soon" => Some(PromiseFilter::DueSoon),
            "overdue" => Some(PromiseFilter::Overdue),
            _ => None,
        }
    }
}

/// Filters and page of the cases list.
#[derive(Debug, Clone, Default)]
pub struct CasePageQuery {
    pub state: Option<CaseState>,
    pub support_type: Option<String>,
    pub channel: Option<Channel>,
    pub promise: Option<PromiseFilter>,
    pub beneficiary_id: Option<BeneficiaryId>,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseListRow {
    pub id: String,
    pub number: String,
    pub beneficiary_id: String,
    pub full_name: String,
    pub state: CaseState,
    pub support_type: String,
    pub channel: String,
    pub promised_reply_date: Option<String>,
}

/// A non-transition action on a case file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAction {
    Transition(Transition),
    ResearchReport,
    Delivery,
    Survey,
    Interaction,
}

impl CaseAction {
    pub fn code(self) -> &'static str {
        match self {
            CaseAction::Transition(t) => t.code(),
            CaseAction::ResearchReport => "research_report",
            CaseAction::Delivery => "delivery",
            CaseAction::Survey => "survey",
            CaseAction::Interaction => "interaction",
        }
    }
}

/// A knowledge-base document: the bylaws, the social-research guide, the support policy guide,
/// the support request form. Published at HQ (or added locally by an administrator until sync
/// brings HQ's), kept inside the encrypted store so it reads offline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KbDocument {
    pub id: String,
    pub title: String,
    pub body: String,
    pub attachment: Option<String>,
    pub mime: Option<String>,
    pub published_at: String,
}

const LIST_COLUMNS: &str = "b.id, json_extract(b.data, '$.name.as_written'), b.national_id,
    json_extract(b.data, '$.mobile'), json_extract(b.data, '$.city'), json_extract(b.data, '$.file_number'), b.data";

fn list_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BeneficiaryListRow> {
    let written: Option<String> = r.get(1)?;
    let full_name = match written.filter(|w| !w.trim().is_empty()) {
        Some(w) => w,
        None => {
            // Only the four parts were given: build the display name the domain's way.
            let data: String = r.get(6)?;
            serde_json::from_str::<sila_domain::beneficiary::Beneficiary>(&data)
                .map(|b| b.name.full())
                .unwrap_or_default()
        }
    };
    Ok(BeneficiaryListRow {
        id: r.get(0)?,
        full_name,
        national_id: r.get(2)?,
        mobile: r.get(3)?,
        city: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        file_number: r.get(5)?,
    })
}

impl Store {
    /// One page of the beneficiaries list, newest first, and the total. `limit` is capped at 500.
    pub fn beneficiaries_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(i64, Vec<BeneficiaryListRow>)> {
        let total: i64 = self.conn.query_row(
            "SELECT count(*) FROM beneficiaries WHERE merged_into IS NULL",
            [],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LIST_COLUMNS} FROM beneficiaries b WHERE b.merged_into IS NULL
             ORDER BY b.rid DESC LIMIT ?1 OFFSET ?2"
        ))?;
        let rows = stmt
            .query_map(params![limit.clamp(1, 500) as i64, offset as i64], list_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total, rows))
    }

    /// List rows for the given beneficiaries, in the given order (search results).
    pub fn beneficiary_rows(&self, ids: &[String]) -> Result<Vec<BeneficiaryListRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {LIST_COLUMNS} FROM beneficiaries b WHERE b.id = ?1"
        ))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(row) = stmt.query_row([id], list_row).optional()? {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// One page of the cases list with its filters, soonest promise first, and the total.
    pub fn cases_page(&self, q: &CasePageQuery) -> Result<(i64, Vec<CaseListRow>)> {
        let mut filter = String::from(" WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        // Each condition's `?` becomes the next numbered parameter.
        fn push(filter: &mut String, args: &mut Vec<String>, sql: &str, v: String) {
            args.push(v);
            filter.push_str(&sql.replace('?', &format!("?{}", args.len())));
        }
        if let Some(s) = q.state {
            push(&mut filter, &mut args, " AND c.state = ?", s.code().into());
        }
        if let Some(s) = &q.support_type {
            push(&mut filter, &mut args, " AND c.support_type = ?", s.clone());
        }
        if let Some(ch) = q.channel {
            push(
                &mut filter,
                &mut args,
                " AND c.channel = ?",
                ch.code().into(),
            );
        }
        if let Some(b) = q.beneficiary_id {
            push(
                &mut filter,
                &mut args,
                " AND c.beneficiary_id = ?",
                b.to_string(),
            );
        }
        if let Some(p) = q.promise {
            let today = self.now().date_naive();
            let soon =
                sila_domain::dates::add_days(today, self.catalog.policy.due_soon_days).to_string();
            // Only requests still waiting for a decision stand against their promise.
            filter.push_str(
                " AND c.state IN ('submitted','in_research','incomplete','in_committee')",
            );
            let today = today.to_string();
            match p {
                PromiseFilter::Overdue => push(
                    &mut filter,
                    &mut args,
                    " AND c.promised_reply_date < ?",
                    today,
                ),
                PromiseFilter::DueSoon => {
                    push(
                        &mut filter,
                        &mut args,
                        " AND c.promised_reply_date >= ?",
                        today,
                    );
                    push(
                        &mut filter,
                        &mut args,
                        " AND c.promised_reply_date <= ?",
                        soon,
                    );
                }
                PromiseFilter::OnTrack => push(
                    &mut filter,
                    &mut args,
                    " AND c.promised_reply_date > ?",
                    soon,
                ),
            }
        }
        let total: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM cases c{filter}"),
            rusqlite::params_from_iter(args.iter()),
            |r| r.get(0),
        )?;
        let sql = format!(
            "SELECT c.id, c.number, c.beneficiary_id, b.data, c.state, c.support_type, c.channel, c.promised_reply_date
             FROM cases c JOIN beneficiaries b ON b.id = c.beneficiary_id{filter}
             ORDER BY c.promised_reply_date IS NULL, c.promised_reply_date, c.rid DESC
             LIMIT {} OFFSET {}",
            q.limit.clamp(1, 500),
            q.offset
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                let state: String = r.get(4)?;
                let data: String = r.get(3)?;
                Ok(CaseListRow {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    beneficiary_id: r.get(2)?,
                    full_name: serde_json::from_str::<sila_domain::beneficiary::Beneficiary>(&data)
                        .map(|b| b.name.full())
                        .unwrap_or_default(),
                    state: CaseState::from_code(&state).unwrap_or(CaseState::Draft),
                    support_type: r.get(5)?,
                    channel: r.get(6)?,
                    promised_reply_date: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((total, rows))
    }

    /// Where a case stands against its promise today (None before submission).
    pub fn promise_status(&self, case: &sila_domain::case::Case) -> Option<PromiseStatus> {
        case.promise_status(self.now().date_naive(), &self.catalog.policy)
    }

    /// What the signed-in person may do to this case now: the lifecycle transitions their roles
    /// allow from its state (committee decisions excluded: they are taken at HQ), and the records
    /// a case in this state takes.
    pub fn case_actions(&self, case: &sila_domain::case::Case) -> Vec<CaseAction> {
        let actor = &self.session.actor;
        let mut out: Vec<CaseAction> = Transition::ALL
            .into_iter()
            .filter(|t| !t.is_decision() && *t != Transition::Deliver)
            .filter(|t| {
                let rule = t.rule();
                rule.from.contains(&case.state) && actor.has_any(rule.roles)
            })
            .map(CaseAction::Transition)
            .collect();
        if case.state == CaseState::InResearch && actor.has_any(&[Role::Researcher, Role::Admin]) {
            out.insert(0, CaseAction::ResearchReport);
        }
        let deliver = Transition::Deliver.rule();
        if deliver.from.contains(&case.state) && actor.has_any(deliver.roles) {
            out.push(CaseAction::Delivery);
        }
        if Survey::allowed_for(case.state) {
            out.push(CaseAction::Survey);
        }
        out.push(CaseAction::Interaction);
        out
    }

    /// Survey answers recorded for a case (anonymous ones keep no case link and never show here).
    pub fn case_surveys(&self, case: CaseId) -> Result<Vec<Survey>> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM surveys WHERE case_id = ?1")?;
        let rows = stmt.query_map([case.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Give an account a new set of roles (administrators only).
    pub fn set_staff_roles(&mut self, username: &str, roles: &[Role]) -> Result<()> {
        self.require(&[Role::Admin])?;
        if roles.is_empty() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::required("roles"),
            ]));
        }
        crate::check_branch_roles(roles)?;
        let username = username.trim().to_lowercase();
        if username == self.session.username && !roles.contains(&Role::Admin) {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "roles",
                    "cannot_remove_own_admin",
                    "لا يمكنك إزالة صلاحية الإدارة عن حسابك",
                ),
            ]));
        }
        let account =
            staff_by_username(&self.conn, &username)?.ok_or(StoreError::NotFound("staff"))?;
        let codes: Vec<&str> = roles.iter().map(|r| r.code()).collect();
        let id = account.id.to_string();
        self.write(move |w| {
            w.tx.execute(
                "UPDATE staff SET roles = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3",
                params![serde_json::to_string(&codes)?, w.now.to_rfc3339(), id],
            )?;
            w.op(
                "staff.set_roles",
                "staff",
                &id,
                None,
                &serde_json::json!({"roles": codes}),
            )?;
            Ok(())
        })
    }

    /// The knowledge base, newest first.
    pub fn kb_documents(&self) -> Result<Vec<KbDocument>> {
        let mut stmt = self.conn.prepare(
            "SELECT k.id, k.title, k.body, k.attachment, a.mime, k.published_at
             FROM kb_documents k LEFT JOIN attachments a ON a.sha256 = k.attachment
             ORDER BY k.published_at DESC, k.id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(KbDocument {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    body: r.get(2)?,
                    attachment: r.get(3)?,
                    mime: r.get(4)?,
                    published_at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Add a knowledge-base document on this device (administrators). HQ's published documents
    /// arrive by sync into the same table.
    pub fn add_kb_document(
        &mut self,
        title: &str,
        body: &str,
        file: Option<&[u8]>,
    ) -> Result<KbDocument> {
        self.require(&[Role::Admin])?;
        let title = title.trim().to_owned();
        if title.is_empty() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::required("title"),
            ]));
        }
        if body.trim().is_empty() && file.is_none() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "body",
                    "required",
                    "اكتب نص المستند أو أرفق ملفه",
                ),
            ]));
        }
        let attachment = file.map(|f| self.put_attachment(f)).transpose()?;
        let id = uuid::Uuid::now_v7().to_string();
        let body = body.trim().to_owned();
        self.write(|w| {
            let at = w.now.to_rfc3339();
            w.tx.execute(
                "INSERT INTO kb_documents (id, title, body, attachment, published_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'branch')",
                params![id, title, body, attachment, at],
            )?;
            w.op(
                "kb.add",
                "kb_document",
                &id,
                None,
                &serde_json::json!({"title": title, "body": body, "attachment": attachment}),
            )?;
            Ok(())
        })?;
        self.kb_documents()?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(StoreError::NotFound("kb_document"))
    }
}
