//! Cases in the store: drafts edited step by step, documents attached and checked against the
//! original, the declaration, research reports, and lifecycle transitions. A transition is decided
//! by `sila_domain::case::apply`; this module only writes what it returns (state, history entry,
//! outbox operation) in one transaction.

use crate::error::{Result, StoreError};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sila_domain::beneficiary::Beneficiary;
use sila_domain::case::{
    self, Applicant, Case, CaseEvent, CaseState, Declaration, Intake, ResearchReport, Signature,
    SubmissionFacts, Transition, TransitionRequest,
};
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::error::FieldError;
use sila_domain::ids::{BeneficiaryId, CaseId, InteractionId};
use sila_domain::interaction::{Direction, Interaction};
use sila_domain::staff::Role;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCase {
    pub case: Case,
    pub branch: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A row of the cases list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseSummary {
    pub id: String,
    pub number: String,
    pub beneficiary_id: String,
    pub full_name: String,
    pub state: CaseState,
    pub support_type: String,
    pub channel: String,
    pub promised_reply_date: Option<String>,
}

/// Filters of the cases list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub support_type: Option<String>,
    pub channel: Option<Channel>,
    pub beneficiary_id: Option<BeneficiaryId>,
    pub limit: usize,
}

/// Attachments accepted per file: scans and signatures, not archives of everything.
pub const MAX_ATTACHMENT_BYTES: usize = 15 * 1024 * 1024;

impl Writer<'_> {
    pub(crate) fn insert_case(&self, c: &Case) -> Result<()> {
        let stamp = self.now.to_rfc3339();
        self.exec(
            "INSERT INTO cases (id, number, beneficiary_id, branch, state, support_type, channel,
                 promised_reply_date, data, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10)",
            params![
                c.id.to_string(),
                c.number,
                c.beneficiary_id.to_string(),
                self.session.branch,
                c.state.code(),
                c.support_type,
                c.channel.code(),
                c.promised_reply_date.map(|d| d.to_string()),
                serde_json::to_string(c)?,
                stamp
            ],
        )?;
        self.op(
            "case.create",
            "case",
            &c.id.to_string(),
            None,
            &serde_json::to_value(c)?,
        )?;
        Ok(())
    }

    fn load_case(&self, id: CaseId) -> Result<(Case, i64)> {
        let (data, version): (String, i64) = self
            .tx
            .query_row(
                "SELECT data, version FROM cases WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or(StoreError::NotFound("case"))?;
        Ok((serde_json::from_str(&data)?, version))
    }

    /// The version of a case HQ last sent here (0: made here, not received back).
    fn case_hq_version(&self, id: CaseId) -> Result<i64> {
        Ok(self.tx.query_row(
            "SELECT hq_version FROM cases WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )?)
    }

    fn save_case(&self, c: &Case, version: i64) -> Result<i64> {
        let next = version + 1;
        self.exec(
            "UPDATE cases SET state = ?2, support_type = ?3, channel = ?4, promised_reply_date = ?5, data = ?6,
                 version = ?7, updated_at = ?8 WHERE id = ?1",
            params![
                c.id.to_string(),
                c.state.code(),
                c.support_type,
                c.channel.code(),
                c.promised_reply_date.map(|d| d.to_string()),
                serde_json::to_string(c)?,
                next,
                self.now.to_rfc3339()
            ],
        )?;
        Ok(next)
    }

    /// Edit a case's draft data (need, documents, declaration, report): records changed fields.
    pub(crate) fn edit_case(
        &self,
        id: CaseId,
        base_version: Option<i64>,
        edit: impl FnOnce(&mut Case) -> Result<()>,
    ) -> Result<Case> {
        let (mut c, version) = self.load_case(id)?;
        if let Some(base) = base_version
            && base != version
        {
            return Err(StoreError::VersionConflict {
                current: version,
                base,
            });
        }
        let before = serde_json::to_value(&c)?;
        edit(&mut c)?;
        let changed = crate::beneficiaries::changed_fields(&before, &serde_json::to_value(&c)?);
        if changed.is_empty() {
            return Ok(c);
        }
        self.save_case(&c, version)?;
        self.op(
            "case.update",
            "case",
            &id.to_string(),
            Some(self.case_hq_version(id)?),
            &serde_json::json!({ "fields": changed }),
        )?;
        Ok(c)
    }

    pub(crate) fn apply_transition(
        &self,
        id: CaseId,
        transition: Transition,
        note: &str,
    ) -> Result<(Case, CaseEvent)> {
        let (c, version) = self.load_case(id)?;
        let problems = if matches!(transition, Transition::Submit | Transition::Resubmit) {
            let data: String = self.tx.query_row(
                "SELECT data FROM beneficiaries WHERE id = ?1",
                [c.beneficiary_id.to_string()],
                |r| r.get(0),
            )?;
            let b: sila_domain::beneficiary::Beneficiary = serde_json::from_str(&data)?;
            b.validate_for_submission(self.now.date_naive())
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|f| f.field)
                .collect()
        } else {
            Vec::new()
        };
        let req = TransitionRequest {
            transition,
            note: note.trim().to_owned(),
            device: self.session.device,
            branch: self.session.branch.clone(),
        };
        let applied = case::apply(
            &c,
            &req,
            &self.session.actor,
            self.now,
            &self.catalog.policy,
            &SubmissionFacts {
                beneficiary_problems: problems,
            },
        )?;
        let mut next = applied.case;
        if transition == Transition::Register && next.registration_number.is_none() {
            let n = self.next_number("file")?;
            let number = sila_domain::beneficiary::file_number(&self.session.number_prefix, n);
            next.registration_number = Some(number.clone());
            // The beneficiary's file number is given once, at their first registration.
            let (data, bversion): (String, i64) = self.tx.query_row(
                "SELECT data, version FROM beneficiaries WHERE id = ?1",
                [c.beneficiary_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let mut b: sila_domain::beneficiary::Beneficiary = serde_json::from_str(&data)?;
            if b.file_number.is_none() {
                b.file_number = Some(number);
                self.update_beneficiary_row(&b, bversion)?;
            }
        }
        self.save_case(&next, version)?;
        self.exec(
            "INSERT INTO case_events (case_id, at, data) VALUES (?1, ?2, ?3)",
            params![
                id.to_string(),
                self.now.to_rfc3339(),
                serde_json::to_string(&applied.event)?
            ],
        )?;
        self.op(
            "case.transition",
            "case",
            &id.to_string(),
            Some(version),
            &serde_json::json!({
                "event": applied.event,
                "state": next.state,
                "submitted_at": next.submitted_at,
                "promised_reply_date": next.promised_reply_date,
                "decision": next.decision,
                "registration_number": next.registration_number,
            }),
        )?;
        Ok((next, applied.event))
    }
}

/// The version a correction of an applicant on file was made on (a new one has none yet).
fn base_version(applicant: &Applicant) -> Option<i64> {
    match applicant {
        Applicant::New(_) => None,
        Applicant::OnFile { base_version, .. } => Some(*base_version),
    }
}

impl Writer<'_> {
    /// Save a person on file as the intake's form has them, on top of `base` (the version the
    /// form read; None: whatever is on file now), when the form changed anything. Someone merged
    /// into another file is not theirs to submit for.
    fn bring_up_to_form(&self, b: &Beneficiary, base: Option<i64>) -> Result<()> {
        let stored: Option<(String, i64, Option<String>)> = self
            .tx
            .query_row(
                "SELECT data, version, merged_into FROM beneficiaries WHERE id = ?1",
                [b.id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((data, version, None)) = stored else {
            return Err(StoreError::NotFound("beneficiary"));
        };
        let on_file: Beneficiary = serde_json::from_str(&data)?;
        if on_file != *b {
            self.update_beneficiary_row(b, base.unwrap_or(version))?;
        }
        Ok(())
    }
}

const DESK_ROLES: &[Role] = &[Role::Representative, Role::Researcher, Role::Admin];

impl Store {
    /// Open a new draft request for a beneficiary, with the documents checklist of its support type.
    pub fn create_case(
        &mut self,
        beneficiary: BeneficiaryId,
        support_type: &str,
        channel: Channel,
    ) -> Result<Case> {
        self.require(DESK_ROLES)?;
        if self.catalog.support_type(support_type).is_none() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "support_type",
                    "unknown_support_type",
                    "نوع الدعم غير معروف",
                ),
            ]));
        }
        if self.beneficiary(beneficiary)?.is_none() {
            return Err(StoreError::NotFound("beneficiary"));
        }
        let catalog = self.catalog.clone();
        self.write(|w| {
            let n = w.next_number("case")?;
            let number = format!("{}-{:06}", w.session.number_prefix, n);
            let c = Case::new_draft(
                CaseId::new_v7(),
                number,
                beneficiary,
                support_type,
                channel,
                &catalog,
            );
            w.insert_case(&c)?;
            Ok(c)
        })
    }

    /// Save a whole intake in one transaction: a new beneficiary (with their household) and their
    /// first request as a draft with its documents checklist. Either both are saved or neither.
    pub fn save_intake(
        &mut self,
        b: &Beneficiary,
        support_type: &str,
        channel: Channel,
    ) -> Result<Case> {
        self.require(DESK_ROLES)?;
        if self.catalog.support_type(support_type).is_none() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "support_type",
                    "unknown_support_type",
                    "نوع الدعم غير معروف",
                ),
            ]));
        }
        b.validate(self.now().date_naive())
            .map_err(StoreError::Invalid)?;
        let catalog = self.catalog.clone();
        let branch = self.session.branch.clone();
        self.write(|w| {
            w.insert_beneficiary(b, &branch)?;
            let n = w.next_number("case")?;
            let number = format!("{}-{:06}", w.session.number_prefix, n);
            let c = Case::new_draft(
                CaseId::new_v7(),
                number,
                b.id,
                support_type,
                channel,
                &catalog,
            );
            w.insert_case(&c)?;
            Ok(c)
        })
    }

    /// Submit a whole intake as one change: register the applicant (when new; for someone on
    /// file, save the wizard's corrections on top of the version it read), open their request
    /// with its need, documents and signed declaration, log the inquiry that brought them,
    /// submit it (which fixes the promised reply date) and delete the wizard's draft `draft_id`,
    /// in one transaction. Either all of it is saved and the draft is gone, or nothing is and the
    /// draft is as it was. Every problem the intake has is refused at once, beside its field
    /// ([`Intake::problems`]).
    ///
    /// `opened`: a draft request that Sila before one-transaction submission opened for this
    /// draft and left behind when a later step failed (its id is in such drafts). The request is
    /// completed and submitted instead of a second one opened; the applicant is then the one
    /// already registered with it (their data brought up to the form), not registered again.
    pub fn submit_intake(
        &mut self,
        draft_id: &str,
        intake: &Intake,
        opened: Option<CaseId>,
    ) -> Result<Case> {
        self.require(DESK_ROLES)?;
        let problems = intake.problems(&self.catalog, self.now().date_naive());
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }
        let catalog = self.catalog.clone();
        let branch = self.session.branch.clone();
        self.write(|w| {
            let attachments = intake
                .documents
                .iter()
                .map(|d| &d.attachment)
                .chain(intake.signature.iter().map(|s| &s.attachment));
            for sha in attachments {
                let known: bool = w
                    .tx
                    .prepare_cached("SELECT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1)")?
                    .query_row([sha], |r| r.get(0))?;
                if !known {
                    return Err(StoreError::NotFound("attachment"));
                }
            }
            let actor = w.session.actor.clone();
            let applicant = intake.applicant.beneficiary();
            let id = match opened {
                Some(id) => {
                    let (before, _) = w.load_case(id)?;
                    require_state(&before, &[CaseState::Draft])?;
                    if applicant.id != before.beneficiary_id {
                        return Err(StoreError::NotFound("beneficiary"));
                    }
                    w.bring_up_to_form(applicant, base_version(&intake.applicant))?;
                    let filled = intake.case(
                        id,
                        before.number.clone(),
                        before.beneficiary_id,
                        &catalog,
                        &actor,
                        w.now,
                    );
                    w.edit_case(id, None, |c| {
                        *c = filled;
                        Ok(())
                    })?;
                    id
                }
                None => {
                    match &intake.applicant {
                        Applicant::New(b) => w.insert_beneficiary(b, &branch)?,
                        Applicant::OnFile {
                            beneficiary,
                            base_version,
                        } => w.bring_up_to_form(beneficiary, Some(*base_version))?,
                    }
                    let n = w.next_number("case")?;
                    let number = format!("{}-{:06}", w.session.number_prefix, n);
                    let c = intake.case(
                        CaseId::new_v7(),
                        number,
                        applicant.id,
                        &catalog,
                        &actor,
                        w.now,
                    );
                    w.insert_case(&c)?;
                    if !intake.reason.trim().is_empty() {
                        let inquiry = Interaction {
                            id: InteractionId::new_v7(),
                            beneficiary_id: Some(applicant.id),
                            case_id: Some(c.id),
                            channel: intake.channel,
                            direction: Direction::Inbound,
                            purpose: Purpose::Inquiry,
                            summary: intake.reason.trim().to_owned(),
                            outcome: String::new(),
                            follow_up_on: None,
                            staff: actor.staff_id,
                            at: w.now,
                            contact_name: String::new(),
                            contact_phone: None,
                            attachments: Vec::new(),
                            answers: None,
                        };
                        w.insert_interaction(&inquiry, None)?;
                    }
                    c.id
                }
            };
            let (submitted, _) = w.apply_transition(id, Transition::Submit, "")?;
            w.refresh_rule_tasks_for(&submitted)?;
            w.exec(
                "DELETE FROM drafts WHERE id = ?1 AND (owner = ?2 OR owner IS NULL)",
                params![draft_id, actor.staff_id.to_string()],
            )?;
            Ok(submitted)
        })
    }

    pub fn case(&self, id: CaseId) -> Result<Option<StoredCase>> {
        self.conn
            .query_row(
                "SELECT data, branch, version, created_at, updated_at FROM cases WHERE id = ?1",
                [id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                    ))
                },
            )
            .optional()?
            .map(|(data, branch, version, created_at, updated_at)| {
                Ok(StoredCase {
                    case: serde_json::from_str(&data)?,
                    branch,
                    version,
                    created_at,
                    updated_at,
                })
            })
            .transpose()
    }

    /// The append-only history of a case, oldest first.
    pub fn case_history(&self, id: CaseId) -> Result<Vec<CaseEvent>> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM case_events WHERE case_id = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| Ok(serde_json::from_str(&r?)?)).collect()
    }

    /// Describe the need (the wizard's needs step).
    pub fn set_case_need(&mut self, id: CaseId, need: &str) -> Result<Case> {
        self.require(DESK_ROLES)?;
        let need = need.trim().to_owned();
        self.write(|w| {
            w.edit_case(id, None, |c| {
                require_state(c, &[CaseState::Draft, CaseState::Incomplete])?;
                c.need = need;
                Ok(())
            })
        })
    }

    /// Correct a request's need and support type while the branch still holds it (the domain's
    /// `Case::correct` says when and what), on top of the version the desk read. A new support
    /// type brings its documents checklist.
    pub fn correct_case(
        &mut self,
        id: CaseId,
        base_version: i64,
        need: &str,
        support_type: &str,
    ) -> Result<Case> {
        self.require(DESK_ROLES)?;
        let catalog = self.catalog.clone();
        self.write(|w| {
            w.edit_case(id, Some(base_version), |c| {
                c.correct(need, support_type, &catalog)
                    .map_err(StoreError::Invalid)
            })
        })
    }

    /// Attach a scan to a document of the checklist. The bytes are checked to be an image or PDF.
    pub fn attach_document(&mut self, id: CaseId, code: &str, bytes: &[u8]) -> Result<Case> {
        self.require(DESK_ROLES)?;
        // A document the checklist does not list yet (one the committee asked for) must be one
        // of the catalog's kinds.
        let known = self.catalog.document_types.iter().any(|d| d.code == code);
        let sha = self.put_attachment(bytes)?;
        let code = code.to_owned();
        self.write(|w| {
            w.edit_case(id, None, |c| {
                require_state(
                    c,
                    &[
                        CaseState::Draft,
                        CaseState::Incomplete,
                        CaseState::Submitted,
                        CaseState::InResearch,
                    ],
                )?;
                match c.documents.iter_mut().find(|d| d.code == code) {
                    Some(d) => d.attachment = Some(sha),
                    None if !known => {
                        return Err(StoreError::Invalid(vec![FieldError::new(
                            "code",
                            "unknown_document_type",
                            "نوع المستند غير معروف",
                        )]));
                    }
                    None => c.documents.push(case::DocumentCheck {
                        code,
                        required: false,
                        attachment: Some(sha),
                        seen_in_original: false,
                        seen_by: None,
                    }),
                }
                Ok(())
            })
        })
    }

    /// Tick (or untick) "seen in original" for a document.
    pub fn mark_seen_in_original(&mut self, id: CaseId, code: &str, seen: bool) -> Result<Case> {
        self.require(DESK_ROLES)?;
        let staff = self.session.actor.staff_id;
        self.write(|w| {
            w.edit_case(id, None, |c| {
                require_state(
                    c,
                    &[
                        CaseState::Draft,
                        CaseState::Incomplete,
                        CaseState::Submitted,
                        CaseState::InResearch,
                    ],
                )?;
                let d = c
                    .documents
                    .iter_mut()
                    .find(|d| d.code == code)
                    .ok_or(StoreError::NotFound("document"))?;
                d.seen_in_original = seen;
                d.seen_by = seen.then_some(staff);
                Ok(())
            })
        })
    }

    /// The applicant signs the declaration: a drawn signature (PNG) or a scan of the paper one.
    pub fn sign_declaration(
        &mut self,
        id: CaseId,
        signature_bytes: &[u8],
        on_paper: bool,
    ) -> Result<Case> {
        self.require(DESK_ROLES)?;
        let sha = self.put_attachment(signature_bytes)?;
        let text = self.catalog.declaration_ar.clone();
        self.write(|w| {
            let now = w.now;
            let actor = w.session.actor.clone();
            w.edit_case(id, None, |c| {
                require_state(c, &[CaseState::Draft, CaseState::Incomplete])?;
                c.declaration = Some(Declaration {
                    text,
                    signature: if on_paper {
                        Signature::OnPaper { attachment: sha }
                    } else {
                        Signature::Drawn { attachment: sha }
                    },
                    employee: actor.staff_id,
                    employee_name: actor.display_name.clone(),
                    signed_at: now,
                });
                Ok(())
            })
        })
    }

    /// The social researcher's report on a case referred to them.
    pub fn write_research_report(
        &mut self,
        id: CaseId,
        text: &str,
        recommendation: &str,
    ) -> Result<Case> {
        self.require(&[Role::Researcher, Role::Admin])?;
        if text.trim().is_empty() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::required("report"),
            ]));
        }
        let (text, recommendation) = (text.trim().to_owned(), recommendation.trim().to_owned());
        self.write(|w| {
            let now = w.now;
            let actor = w.session.actor.clone();
            w.edit_case(id, None, |c| {
                require_state(c, &[CaseState::InResearch])?;
                c.research_report = Some(ResearchReport {
                    text,
                    recommendation,
                    researcher: actor.staff_id,
                    researcher_name: actor.display_name,
                    written_at: now,
                });
                Ok(())
            })
        })
    }

    /// Move a case through the lifecycle. Rule tasks that follow from the new state are refreshed
    /// in the same transaction.
    pub fn transition(&mut self, id: CaseId, transition: Transition, note: &str) -> Result<Case> {
        self.write(|w| {
            let (c, _) = w.apply_transition(id, transition, note)?;
            w.refresh_rule_tasks_for(&c)?;
            Ok(c)
        })
    }

    pub fn cases(&self, f: &CaseFilter) -> Result<Vec<CaseSummary>> {
        let mut sql = String::from(
            "SELECT c.id, c.number, c.beneficiary_id, b.full_name, c.state, c.support_type, c.channel, c.promised_reply_date
             FROM cases c JOIN beneficiaries b ON b.id = c.beneficiary_id WHERE 1 = 1",
        );
        let mut args: Vec<String> = Vec::new();
        if let Some(s) = f.state {
            args.push(s.code().into());
            sql.push_str(&format!(" AND c.state = ?{}", args.len()));
        }
        if let Some(s) = &f.support_type {
            args.push(s.clone());
            sql.push_str(&format!(" AND c.support_type = ?{}", args.len()));
        }
        if let Some(ch) = f.channel {
            args.push(ch.code().into());
            sql.push_str(&format!(" AND c.channel = ?{}", args.len()));
        }
        if let Some(b) = f.beneficiary_id {
            args.push(b.to_string());
            sql.push_str(&format!(" AND c.beneficiary_id = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY c.promised_reply_date IS NULL, c.promised_reply_date, c.rid DESC");
        sql.push_str(&format!(
            " LIMIT {}",
            if f.limit == 0 { 200 } else { f.limit }
        ));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let state: String = r.get(4)?;
            Ok(CaseSummary {
                id: r.get(0)?,
                number: r.get(1)?,
                beneficiary_id: r.get(2)?,
                full_name: r.get(3)?,
                state: CaseState::from_code(&state).unwrap_or(CaseState::Draft),
                support_type: r.get(5)?,
                channel: r.get(6)?,
                promised_reply_date: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Count of cases per state, from the tallies kept as cases change (no scan), in the
    /// lifecycle's order; states no case is in are left out.
    pub fn case_counts(&self) -> Result<Vec<(CaseState, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT substr(name, 7), value FROM tallies WHERE name LIKE 'cases:%' AND value > 0",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            let (s, n) = r?;
            if let Some(s) = CaseState::from_code(&s) {
                out.push((s, n));
            }
        }
        out.sort_by_key(|(s, _)| CaseState::ALL.iter().position(|x| x == s));
        Ok(out)
    }
}

fn require_state(c: &Case, allowed: &[CaseState]) -> Result<()> {
    if allowed.contains(&c.state) {
        Ok(())
    } else {
        Err(StoreError::Invalid(vec![
            sila_domain::error::FieldError::new(
                "state",
                "case_not_editable",
                "لا يمكن تعديل الطلب في حالته الحالية",
            ),
        ]))
    }
}
