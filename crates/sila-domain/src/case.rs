//! The support request (طلب دعم) and its lifecycle: the states of design.md, every transition,
//! which roles may take it, what must hold first, and the append-only history it leaves.
//!
//! [`apply`] is the only way a case changes state. It is pure: the caller passes the actor, the
//! moment and the policy, and gets back the new state and the history entry to append (or the
//! reason it is refused). The store writes both in one transaction; it never sets a state itself.

use crate::beneficiary::Beneficiary;
use crate::catalog::{Catalog, Channel};
use crate::field_error::FieldError;
use crate::ids::{BeneficiaryId, CaseId, DeviceId, StaffId};
use crate::staff::{Actor, Role};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Draft,
    Submitted,
    InResearch,
    Incomplete,
    InCommittee,
    Approved,
    Rejected,
    Registered,
    Served,
    Closed,
    Withdrawn,
}

impl CaseState {
    pub const ALL: [CaseState; 11] = [
        CaseState::Draft,
        CaseState::Submitted,
        CaseState::InResearch,
        CaseState::Incomplete,
        CaseState::InCommittee,
        CaseState::Approved,
        CaseState::Rejected,
        CaseState::Registered,
        CaseState::Served,
        CaseState::Closed,
        CaseState::Withdrawn,
    ];
    pub fn code(self) -> &'static str {
        match self {
            CaseState::Draft => "draft",
            CaseState::Submitted => "submitted",
            CaseState::InResearch => "in_research",
            CaseState::Incomplete => "incomplete",
            CaseState::InCommittee => "in_committee",
            CaseState::Approved => "approved",
            CaseState::Rejected => "rejected",
            CaseState::Registered => "registered",
            CaseState::Served => "served",
            CaseState::Closed => "closed",
            CaseState::Withdrawn => "withdrawn",
        }
    }
    pub fn from_code(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|c| c.code() == s)
    }
    pub fn arabic(self) -> &'static str {
        match self {
            CaseState::Draft => "مسودة",
            CaseState::Submitted => "مقدم",
            CaseState::InResearch => "لدى الباحث الاجتماعي",
            CaseState::Incomplete => "معاد لاستكمال النواقص",
            CaseState::InCommittee => "لدى لجنة البحث",
            CaseState::Approved => "مقبول",
            CaseState::Rejected => "مرفوض",
            CaseState::Registered => "مسجل",
            CaseState::Served => "قدمت الخدمة",
            CaseState::Closed => "مغلق",
            CaseState::Withdrawn => "مسحوب",
        }
    }
    /// Open states are those a request may still be withdrawn from.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            CaseState::Closed | CaseState::Withdrawn | CaseState::Rejected | CaseState::Served
        )
    }
    /// States in which the committee's promise is still running (no decision yet).
    pub fn awaits_decision(self) -> bool {
        matches!(
            self,
            CaseState::Submitted
                | CaseState::InResearch
                | CaseState::Incomplete
                | CaseState::InCommittee
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Submit,
    ReferToResearch,
    ResearchDone,
    ReturnIncomplete,
    Resubmit,
    SendToCommittee,
    Approve,
    Reject,
    Reopen,
    Register,
    Deliver,
    Close,
    Withdraw,
}

impl Transition {
    pub const ALL: [Transition; 13] = [
        Transition::Submit,
        Transition::ReferToResearch,
        Transition::ResearchDone,
        Transition::ReturnIncomplete,
        Transition::Resubmit,
        Transition::SendToCommittee,
        Transition::Approve,
        Transition::Reject,
        Transition::Reopen,
        Transition::Register,
        Transition::Deliver,
        Transition::Close,
        Transition::Withdraw,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Transition::Submit => "submit",
            Transition::ReferToResearch => "refer_to_research",
            Transition::ResearchDone => "research_done",
            Transition::ReturnIncomplete => "return_incomplete",
            Transition::Resubmit => "resubmit",
            Transition::SendToCommittee => "send_to_committee",
            Transition::Approve => "approve",
            Transition::Reject => "reject",
            Transition::Reopen => "reopen",
            Transition::Register => "register",
            Transition::Deliver => "deliver",
            Transition::Close => "close",
            Transition::Withdraw => "withdraw",
        }
    }
    pub fn from_code(s: &str) -> Option<Transition> {
        Transition::ALL.into_iter().find(|t| t.code() == s)
    }
    pub fn arabic(self) -> &'static str {
        match self {
            Transition::Submit => "تقديم الطلب",
            Transition::ReferToResearch => "إحالة للباحث الاجتماعي",
            Transition::ResearchDone => "اكتمال البحث الاجتماعي",
            Transition::ReturnIncomplete => "إعادة لاستكمال النواقص",
            Transition::Resubmit => "إعادة التقديم",
            Transition::SendToCommittee => "رفع للجنة البحث",
            Transition::Approve => "قبول الطلب",
            Transition::Reject => "رفض الطلب",
            Transition::Reopen => "إعادة فتح (تظلم)",
            Transition::Register => "استكمال التسجيل",
            Transition::Deliver => "تقديم الخدمة",
            Transition::Close => "إغلاق",
            Transition::Withdraw => "سحب الطلب",
        }
    }

    /// The rule table: from which states, to which state, by which roles, and whether a note is
    /// required. Admin may take every branch transition except the committee's decision, which
    /// belongs to the committee alone.
    pub fn rule(self) -> Rule {
        use CaseState::*;
        use Role::*;
        let (from, to, roles, needs_note): (
            &'static [CaseState],
            CaseState,
            &'static [Role],
            bool,
        ) = match self {
            Transition::Submit => (&[Draft], Submitted, &[Representative, Admin], false),
            Transition::ReferToResearch => (
                &[Submitted],
                InResearch,
                &[Representative, Researcher, Admin],
                true,
            ),
            Transition::ResearchDone => (&[InResearch], Submitted, &[Researcher, Admin], false),
            Transition::ReturnIncomplete => (
                &[Submitted, InResearch, InCommittee],
                Incomplete,
                &[Representative, Researcher, Committee, Admin],
                true,
            ),
            Transition::Resubmit => (&[Incomplete], Submitted, &[Representative, Admin], false),
            Transition::SendToCommittee => (
                &[Submitted],
                InCommittee,
                &[Representative, Researcher, Admin],
                false,
            ),
            Transition::Approve => (&[InCommittee], Approved, &[Committee], false),
            Transition::Reject => (&[InCommittee], Rejected, &[Committee], true),
            Transition::Reopen => (&[Rejected], InCommittee, &[Committee, HqStaff, Admin], true),
            Transition::Register => (&[Approved], Registered, &[Representative, Admin], false),
            Transition::Deliver => (
                &[Registered, Served],
                Served,
                &[Representative, Admin],
                false,
            ),
            Transition::Close => (
                &[Served, Rejected],
                Closed,
                &[Representative, HqStaff, Admin],
                false,
            ),
            Transition::Withdraw => (
                &[
                    Draft,
                    Submitted,
                    InResearch,
                    Incomplete,
                    InCommittee,
                    Approved,
                    Registered,
                ],
                Withdrawn,
                &[Representative, Admin],
                true,
            ),
        };
        Rule {
            from,
            to,
            roles,
            needs_note,
        }
    }

    /// Decisions belong to HQ's committee; a branch never overrides them.
    pub fn is_decision(self) -> bool {
        matches!(
            self,
            Transition::Approve | Transition::Reject | Transition::Reopen
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub from: &'static [CaseState],
    pub to: CaseState,
    pub roles: &'static [Role],
    pub needs_note: bool,
}

/// One document of the checklist: which type, whether a scan is attached, and whether the
/// employee saw the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentCheck {
    pub code: String,
    pub required: bool,
    /// SHA-256 (hex) of the attached scan, if any.
    #[serde(default)]
    pub attachment: Option<String>,
    #[serde(default)]
    pub seen_in_original: bool,
    #[serde(default)]
    pub seen_by: Option<StaffId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signature {
    /// Drawn on screen; the PNG is an attachment.
    Drawn { attachment: String },
    /// Signed on paper; the scan is an attachment.
    OnPaper { attachment: String },
}

/// The applicant's signed declaration (إقرار) that the data is true and theirs to answer for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub text: String,
    pub signature: Signature,
    pub employee: StaffId,
    pub employee_name: String,
    pub signed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResearchReport {
    pub text: String,
    #[serde(default)]
    pub recommendation: String,
    pub researcher: StaffId,
    pub researcher_name: String,
    pub written_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub reasons: String,
    pub decided_by: StaffId,
    pub decided_by_name: String,
    pub decided_at: DateTime<Utc>,
}

/// A support request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    /// Branch-prefixed human number, never reused (e.g. "AFL-000123").
    pub number: String,
    pub beneficiary_id: BeneficiaryId,
    pub support_type: String,
    pub channel: Channel,
    #[serde(default)]
    pub need: String,
    #[serde(default)]
    pub documents: Vec<DocumentCheck>,
    #[serde(default)]
    pub declaration: Option<Declaration>,
    pub state: CaseState,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    /// Fixed at the first submission; never moves.
    #[serde(default)]
    pub promised_reply_date: Option<NaiveDate>,
    #[serde(default)]
    pub research_report: Option<ResearchReport>,
    #[serde(default)]
    pub decision: Option<Decision>,
    #[serde(default)]
    pub registration_number: Option<String>,
}

impl Case {
    /// A new draft with the documents checklist of its support type.
    pub fn new_draft(
        id: CaseId,
        number: String,
        beneficiary_id: BeneficiaryId,
        support_type: &str,
        channel: Channel,
        catalog: &Catalog,
    ) -> Case {
        let documents = catalog
            .support_type(support_type)
            .map(|st| {
                st.required_documents
                    .iter()
                    .map(|code| DocumentCheck {
                        code: code.clone(),
                        required: true,
                        attachment: None,
                        seen_in_original: false,
                        seen_by: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Case {
            id,
            number,
            beneficiary_id,
            support_type: support_type.to_owned(),
            channel,
            need: String::new(),
            documents,
            declaration: None,
            state: CaseState::Draft,
            submitted_at: None,
            promised_reply_date: None,
            research_report: None,
            decision: None,
            registration_number: None,
        }
    }

    /// While the branch still holds the request (before the committee has it, or returned to the
    /// branch as incomplete), its need, support type and documents may be corrected.
    pub fn correctable(&self) -> bool {
        matches!(
            self.state,
            CaseState::Draft | CaseState::Submitted | CaseState::InResearch | CaseState::Incomplete
        )
    }

    /// Correct the need and the support type. A new support type brings its own documents
    /// checklist; documents already attached (or seen) stay on it, required or not.
    pub fn correct(
        &mut self,
        need: &str,
        support_type: &str,
        catalog: &Catalog,
    ) -> Result<(), Vec<crate::field_error::FieldError>> {
        use crate::field_error::FieldError;
        let mut errors = Vec::new();
        if !self.correctable() {
            errors.push(FieldError::new(
                "state",
                "case_not_editable",
                "لا يمكن تعديل الطلب في حالته الحالية",
            ));
        }
        let need = need.trim();
        if need.is_empty() {
            errors.push(FieldError::new("need", "required", "يجب وصف الاحتياج"));
        } else if need.chars().count() > 4_000 {
            errors.push(FieldError::new("need", "too_long", "الوصف أطول من المسموح"));
        }
        let st = catalog.support_type(support_type);
        if st.is_none() {
            errors.push(FieldError::new(
                "support_type",
                "unknown_support_type",
                "نوع الدعم غير معروف",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.need = need.to_owned();
        if let Some(st) = st
            && st.code != self.support_type
        {
            let mut documents: Vec<DocumentCheck> = st
                .required_documents
                .iter()
                .map(|code| {
                    let had = self.documents.iter().find(|d| &d.code == code);
                    DocumentCheck {
                        code: code.clone(),
                        required: true,
                        attachment: had.and_then(|d| d.attachment.clone()),
                        seen_in_original: had.is_some_and(|d| d.seen_in_original),
                        seen_by: had.and_then(|d| d.seen_by),
                    }
                })
                .collect();
            for d in &self.documents {
                let kept = d.attachment.is_some() || d.seen_in_original;
                if kept && !documents.iter().any(|x| x.code == d.code) {
                    documents.push(DocumentCheck {
                        required: false,
                        ..d.clone()
                    });
                }
            }
            self.documents = documents;
            self.support_type = st.code.clone();
        }
        Ok(())
    }

    /// What this case still lacks to be submitted, each problem beside its field: the need
    /// described (`need`), every required document attached (`documents.CODE`,
    /// `document_missing`) and seen in the original (`document_not_seen`), the declaration signed
    /// (`signature`). The rule of Submit and Resubmit: [`apply`] refuses them while this is not
    /// empty (or the beneficiary's own data is not valid for submission), and the intake wizard
    /// shows all of it at once ([`Intake::problems`]).
    pub fn submission_problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.need.trim().is_empty() {
            let e = LifecycleError::NeedMissing;
            out.push(FieldError::new("need", e.code(), e.arabic_message()));
        }
        for d in self.documents.iter().filter(|d| d.required) {
            let field = format!("documents.{}", d.code);
            if d.attachment.is_none() {
                out.push(FieldError::new(
                    &field,
                    "document_missing",
                    "أرفق صورة المستند",
                ));
            } else if !d.seen_in_original {
                out.push(FieldError::new(
                    &field,
                    "document_not_seen",
                    "يجب مطابقة المستند مع الأصل",
                ));
            }
        }
        if self.declaration.is_none() {
            out.push(FieldError::new(
                "signature",
                LifecycleError::DeclarationMissing.code(),
                "يجب توقيع المستفيد على الإقرار (على الشاشة أو على الورق مع صورة التوقيع)",
            ));
        }
        out
    }

    /// Required documents not yet attached and seen in original.
    pub fn missing_documents(&self) -> Vec<&str> {
        self.documents
            .iter()
            .filter(|d| d.required && !(d.attachment.is_some() && d.seen_in_original))
            .map(|d| d.code.as_str())
            .collect()
    }

    pub fn promise_status(
        &self,
        today: NaiveDate,
        policy: &crate::catalog::Policy,
    ) -> Option<PromiseStatus> {
        let promised = self.promised_reply_date?;
        if !self.state.awaits_decision() {
            let late = self
                .decision
                .as_ref()
                .is_some_and(|d| d.decided_at.date_naive() > promised);
            return Some(if late {
                PromiseStatus::DecidedLate
            } else {
                PromiseStatus::Decided
            });
        }
        Some(PromiseStatus::of(promised, today, policy.due_soon_days))
    }
}

/// Where a case stands against the reply date the applicant was promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromiseStatus {
    OnTrack,
    DueSoon,
    Overdue,
    Decided,
    DecidedLate,
}

impl PromiseStatus {
    pub fn of(promised: NaiveDate, today: NaiveDate, due_soon_days: i64) -> PromiseStatus {
        let left = (promised - today).num_days();
        if left < 0 {
            PromiseStatus::Overdue
        } else if left <= due_soon_days {
            PromiseStatus::DueSoon
        } else {
            PromiseStatus::OnTrack
        }
    }
    pub fn arabic(self) -> &'static str {
        match self {
            PromiseStatus::OnTrack => "في الموعد",
            PromiseStatus::DueSoon => "يقترب الموعد",
            PromiseStatus::Overdue => "متأخر",
            PromiseStatus::Decided => "صدر القرار",
            PromiseStatus::DecidedLate => "صدر القرار متأخراً",
        }
    }
}

/// A request to move a case, with what the transition needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRequest {
    pub transition: Transition,
    #[serde(default)]
    pub note: String,
    /// Where the request is made, for the history.
    pub device: DeviceId,
    pub branch: String,
}

/// One entry of a case's append-only history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    pub case_id: CaseId,
    pub transition: Transition,
    pub from: CaseState,
    pub to: CaseState,
    pub actor: StaffId,
    pub actor_name: String,
    pub at: DateTime<Utc>,
    pub device: DeviceId,
    pub branch: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum LifecycleError {
    #[error("transition not allowed from the current state")]
    WrongState {
        from: CaseState,
        transition: Transition,
    },
    #[error("the actor's roles may not take this transition")]
    NotPermitted { transition: Transition },
    #[error("this transition needs a note or reason")]
    NoteRequired { transition: Transition },
    #[error("the declaration is not signed")]
    DeclarationMissing,
    #[error("required documents are missing or not seen in original")]
    DocumentsMissing { codes: Vec<String> },
    #[error("the beneficiary's data is not valid for submission")]
    BeneficiaryInvalid { fields: Vec<String> },
    #[error("the need is not described")]
    NeedMissing,
    #[error("no research report has been written")]
    ReportMissing,
    #[error("a decision taken at headquarters cannot be changed at a branch")]
    DecisionIsHq,
}

impl LifecycleError {
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::WrongState { .. } => "wrong_state",
            LifecycleError::NotPermitted { .. } => "not_permitted",
            LifecycleError::NoteRequired { .. } => "note_required",
            LifecycleError::DeclarationMissing => "declaration_missing",
            LifecycleError::DocumentsMissing { .. } => "documents_missing",
            LifecycleError::BeneficiaryInvalid { .. } => "beneficiary_invalid",
            LifecycleError::NeedMissing => "need_missing",
            LifecycleError::ReportMissing => "report_missing",
            LifecycleError::DecisionIsHq => "decision_is_hq",
        }
    }
    pub fn arabic_message(&self) -> &'static str {
        match self {
            LifecycleError::WrongState { .. } => "لا يمكن تنفيذ هذا الإجراء في حالة الطلب الحالية",
            LifecycleError::NotPermitted { .. } => "ليست لديك صلاحية تنفيذ هذا الإجراء",
            LifecycleError::NoteRequired { .. } => "يجب كتابة السبب أو الملاحظة",
            LifecycleError::DeclarationMissing => "لم يوقع المستفيد على الإقرار بعد",
            LifecycleError::DocumentsMissing { .. } => {
                "بعض المستندات المطلوبة غير مرفقة أو لم تطابق مع الأصل"
            }
            LifecycleError::BeneficiaryInvalid { .. } => {
                "بيانات المستفيد غير مكتملة أو غير صالحة وقت التقديم"
            }
            LifecycleError::NeedMissing => "يجب وصف الاحتياج",
            LifecycleError::ReportMissing => "يجب كتابة تقرير البحث الاجتماعي أولاً",
            LifecycleError::DecisionIsHq => "قرار لجنة البحث يصدر من المقر ولا يعدل في الفرع",
        }
    }
}

/// What the beneficiary looks like to the lifecycle (so the rule does not need the whole record).
pub struct SubmissionFacts {
    /// Field codes of the beneficiary that fail `validate_for_submission`, empty when valid.
    pub beneficiary_problems: Vec<String>,
}

/// What a successful transition produces: the new state of the case and the history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub case: Case,
    pub event: CaseEvent,
}

/// Who an intake is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Applicant {
    /// Someone new, registered by the intake.
    New(Box<Beneficiary>),
    /// Someone already on file (found by the search that comes before the form): their file as
    /// the desk has it now (as it was, or corrected in the wizard), and the version of the file
    /// it was read at. A correction is saved on top of that version, never over someone else's.
    OnFile {
        beneficiary: Box<Beneficiary>,
        base_version: i64,
    },
}

impl Applicant {
    pub fn beneficiary(&self) -> &Beneficiary {
        match self {
            Applicant::New(b) | Applicant::OnFile { beneficiary: b, .. } => b,
        }
    }
}

/// A scan an intake attaches to a document of the checklist (by the document's code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeDocument {
    pub code: String,
    /// SHA-256 (hex) of an attachment already in the store.
    pub attachment: String,
    pub seen_in_original: bool,
}

/// The applicant's signature of the declaration: drawn on screen, or signed on paper and scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSignature {
    /// SHA-256 (hex) of an attachment already in the store.
    pub attachment: String,
    pub on_paper: bool,
}

/// A whole intake as a desk submits it: who, what they ask for, the documents and the signed
/// declaration. Submitting it registers the applicant (when new), opens the request with all of
/// this filled in, logs the inquiry that brought them and submits the request, all at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    pub applicant: Applicant,
    pub support_type: String,
    pub channel: Channel,
    /// Why they came, in their words: logged as their inbound inquiry when not empty.
    pub reason: String,
    pub need: String,
    pub documents: Vec<IntakeDocument>,
    pub signature: Option<IntakeSignature>,
}

impl Intake {
    /// The request this intake makes, as a draft ready to be submitted: the checklist of its
    /// support type with the scans attached and checked (a scan of a document the checklist does
    /// not ask for is kept as optional), the need, and the declaration signed at `at` before
    /// `actor`, the employee at the desk.
    pub fn case(
        &self,
        id: CaseId,
        number: String,
        beneficiary: BeneficiaryId,
        catalog: &Catalog,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Case {
        let mut c = Case::new_draft(
            id,
            number,
            beneficiary,
            &self.support_type,
            self.channel,
            catalog,
        );
        c.need = self.need.trim().to_owned();
        for d in &self.documents {
            let check = DocumentCheck {
                code: d.code.clone(),
                required: false,
                attachment: Some(d.attachment.clone()),
                seen_in_original: d.seen_in_original,
                seen_by: d.seen_in_original.then_some(actor.staff_id),
            };
            match c.documents.iter_mut().find(|x| x.code == d.code) {
                Some(x) => {
                    *x = DocumentCheck {
                        required: x.required,
                        ..check
                    }
                }
                None => c.documents.push(check),
            }
        }
        c.declaration = self.signature.as_ref().map(|s| Declaration {
            text: catalog.declaration_ar.clone(),
            signature: if s.on_paper {
                Signature::OnPaper {
                    attachment: s.attachment.clone(),
                }
            } else {
                Signature::Drawn {
                    attachment: s.attachment.clone(),
                }
            },
            employee: actor.staff_id,
            employee_name: actor.display_name.clone(),
            signed_at: at,
        });
        c
    }

    /// Every problem with this intake, each beside its field: the applicant's data (the fields
    /// of `Beneficiary::validate_for_submission`), then what the request lacks
    /// ([`Intake::request_problems`]). Empty when it can be submitted.
    pub fn problems(&self, catalog: &Catalog, today: NaiveDate) -> Vec<FieldError> {
        let mut out = self
            .applicant
            .beneficiary()
            .validate_for_submission(today)
            .err()
            .unwrap_or_default();
        out.extend(self.request_problems(catalog));
        out
    }

    /// What the request itself lacks: a known support type (`support_type`), and what Submit
    /// needs ([`Case::submission_problems`]: need, documents, declaration).
    pub fn request_problems(&self, catalog: &Catalog) -> Vec<FieldError> {
        let mut out = Vec::new();
        if self.support_type.trim().is_empty() {
            out.push(FieldError::new(
                "support_type",
                "required",
                "اختر نوع الدعم",
            ));
        } else if catalog.support_type(&self.support_type).is_none() {
            out.push(FieldError::new(
                "support_type",
                "unknown_support_type",
                "نوع الدعم غير معروف",
            ));
        }
        // Who signs, and when, does not change what the request lacks.
        let nobody = Actor {
            staff_id: StaffId(uuid::Uuid::nil()),
            display_name: String::new(),
            roles: Vec::new(),
            branch: String::new(),
        };
        let probe = self.case(
            CaseId(uuid::Uuid::nil()),
            String::new(),
            BeneficiaryId(uuid::Uuid::nil()),
            catalog,
            &nobody,
            DateTime::<Utc>::MIN_UTC,
        );
        out.extend(probe.submission_problems());
        out
    }
}

/// Apply a transition to a case. Pure: nothing is read but the arguments.
///
/// `decision` must be given for Approve/Reject (it carries the reasons); `report` for ResearchDone
/// when the case has none yet.
pub fn apply(
    case: &Case,
    req: &TransitionRequest,
    actor: &Actor,
    at: DateTime<Utc>,
    policy: &crate::catalog::Policy,
    facts: &SubmissionFacts,
) -> Result<Applied, LifecycleError> {
    let t = req.transition;
    let rule = t.rule();
    if !rule.from.contains(&case.state) {
        return Err(LifecycleError::WrongState {
            from: case.state,
            transition: t,
        });
    }
    if !actor.has_any(rule.roles) {
        return Err(LifecycleError::NotPermitted { transition: t });
    }
    if rule.needs_note && req.note.trim().is_empty() {
        return Err(LifecycleError::NoteRequired { transition: t });
    }
    let mut next = case.clone();
    match t {
        Transition::Submit | Transition::Resubmit => {
            // The refusal names the first kind of problem (need, declaration, documents,
            // beneficiary); `Case::submission_problems` lists every one of them.
            let problems = case.submission_problems();
            let has = |field: &str| problems.iter().any(|p| p.field == field);
            if has("need") {
                return Err(LifecycleError::NeedMissing);
            }
            if has("signature") {
                return Err(LifecycleError::DeclarationMissing);
            }
            if !problems.is_empty() {
                return Err(LifecycleError::DocumentsMissing {
                    codes: problems
                        .iter()
                        .filter_map(|p| p.field.strip_prefix("documents."))
                        .map(str::to_owned)
                        .collect(),
                });
            }
            if !facts.beneficiary_problems.is_empty() {
                return Err(LifecycleError::BeneficiaryInvalid {
                    fields: facts.beneficiary_problems.clone(),
                });
            }
            // The promise is made once, at the first submission, and never moves.
            if next.submitted_at.is_none() {
                next.submitted_at = Some(at);
                next.promised_reply_date =
                    Some(crate::dates::add_days(at.date_naive(), policy.reply_days));
            }
        }
        Transition::ResearchDone if case.research_report.is_none() => {
            return Err(LifecycleError::ReportMissing);
        }
        Transition::Approve | Transition::Reject => {
            next.decision = Some(Decision {
                outcome: if t == Transition::Approve {
                    Outcome::Approved
                } else {
                    Outcome::Rejected
                },
                reasons: req.note.clone(),
                decided_by: actor.staff_id,
                decided_by_name: actor.display_name.clone(),
                decided_at: at,
            });
        }
        Transition::Register => {
            let missing = case.missing_documents();
            if !missing.is_empty() {
                return Err(LifecycleError::DocumentsMissing {
                    codes: missing.into_iter().map(str::to_owned).collect(),
                });
            }
        }
        _ => {}
    }
    next.state = rule.to;
    let event = CaseEvent {
        case_id: case.id,
        transition: t,
        from: case.state,
        to: rule.to,
        actor: actor.staff_id,
        actor_name: actor.display_name.clone(),
        at,
        device: req.device,
        branch: req.branch.clone(),
        note: req.note.clone(),
    };
    Ok(Applied { case: next, event })
}

/// Check that a history is a legal walk from `draft`: every step starts where the previous one
/// ended and follows the rule table. Returns the state it ends in.
pub fn replay(history: &[CaseEvent]) -> Result<CaseState, LifecycleError> {
    let mut state = CaseState::Draft;
    for e in history {
        let rule = e.transition.rule();
        if e.from != state || !rule.from.contains(&state) || e.to != rule.to {
            return Err(LifecycleError::WrongState {
                from: state,
                transition: e.transition,
            });
        }
        state = e.to;
    }
    Ok(state)
}
