//! The IPC's data shapes: what commands take and return. These are the only types the UI sees,
//! and their TypeScript twins in `ui/src/generated/` are generated from here by ts-rs (the test
//! `generated_types_are_current` fails when they are stale). Dates travel as ISO strings; money
//! as whole halalas; IDs as strings. Nothing here holds logic beyond `From` conversions.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Every command's error: a stable code the UI matches on, the Arabic sentence for people, and the
/// fields it concerns (shown beside each field). Never contains a person's data.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldProblem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct AppStatus {
    /// A branch store exists in the data folder (otherwise: first run).
    pub initialised: bool,
    pub session: Option<SessionInfo>,
    pub version: String,
    /// Minutes of inactivity after which the store is locked.
    pub idle_lock_minutes: u32,
    /// Set only by `--bench` runs: sign in with these without a person typing (never in production).
    pub bench_credentials: Option<SignInInput>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct SessionInfo {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub branch: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct FirstRunInput {
    pub branch: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct SignInInput {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Named {
    pub code: String,
    pub ar: String,
    pub en: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct SupportTypeDto {
    pub code: String,
    pub ar: String,
    pub en: String,
    pub required_documents: Vec<String>,
}

/// The branch's vocabulary: what the forms offer.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CatalogDto {
    pub channels: Vec<Named>,
    pub support_types: Vec<SupportTypeDto>,
    pub document_types: Vec<Named>,
    pub states: Vec<Named>,
    pub roles: Vec<Named>,
    pub purposes: Vec<Named>,
    pub task_kinds: Vec<Named>,
    pub declaration_ar: String,
    pub declaration_en: String,
    pub reply_days: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct TaskDto {
    pub id: String,
    pub kind: String,
    /// None for a complaint or suggestion from someone not registered.
    pub beneficiary_id: Option<String>,
    pub beneficiary_name: String,
    pub case_id: Option<String>,
    pub case_number: Option<String>,
    /// The task's own due date.
    pub due_on: String,
    /// The later day it was put off to, if it was.
    pub snoozed_until: Option<String>,
    /// "overdue", "today" or "upcoming" (the snoozed day if later), against the store's today.
    pub when: String,
    pub channel: Option<String>,
    /// The role whose pool it is in when no one has it.
    pub role: String,
    /// The user name and display name of the one person it is for, if any.
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    /// It is given to the signed-in person.
    pub mine: bool,
    /// Made by a rule (it also closes by itself when its reason goes away).
    pub by_rule: bool,
    pub note: String,
}

/// A follow-up task a person adds.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct TaskInput {
    pub beneficiary_id: String,
    pub case_id: Option<String>,
    pub note: String,
    /// Hijri or Gregorian, as typed.
    pub due_on: String,
    /// A colleague's user name; none leaves it in the pool of the adder's role.
    pub assignee: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct StateCount {
    pub state: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct HomeDto {
    pub today: String,
    pub tasks: Vec<TaskDto>,
    pub counts: Vec<StateCount>,
    pub beneficiaries: i64,
    pub cases: i64,
    pub pending_changes: i64,
    /// The signed-in person's unfinished intakes (continue or discard each).
    pub drafts: Vec<DraftSummary>,
}

/// An unfinished intake on the home screen.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DraftSummary {
    pub id: String,
    /// The applicant's name as typed so far (or the registered beneficiary's), "" if none yet.
    pub name: String,
    /// What was typed into the search step, shown when no name is there yet.
    pub query: String,
    /// The wizard step it stopped at.
    pub step: u8,
    pub support_type: String,
    pub created_at: String,
    pub updated_at: String,
    /// The colleague who handed this draft over, if one did.
    pub handed_by: Option<String>,
    /// From before drafts belonged to a person: continuing it makes it yours.
    pub unowned: bool,
}

/// A staff member of the branch, to hand a draft or a task to.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Colleague {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
}

/// The home screen's sync area.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncStatusDto {
    /// "not_enrolled", "starting", "probing", "syncing", "online", "offline", "needs_person" or "failed".
    pub state: String,
    pub enrolled: bool,
    /// The HQ address this store is bound to.
    pub hq_url: Option<String>,
    /// When the last successful sync ended (RFC 3339).
    pub last_sync: Option<String>,
    /// Changes made here that HQ has not acknowledged yet.
    pub pending_changes: i64,
    pub error_code: Option<String>,
    /// The error in Arabic, ready to show.
    pub error: Option<String>,
    /// Seconds until the next automatic attempt (offline: the next probe).
    pub next_attempt_seconds: Option<u32>,
    /// The signed-in person may enrol this device (an administrator, and it is not enrolled).
    pub can_enroll: bool,
    /// Moves when the worker changed what the home screen shows (tasks brought up to date, rows
    /// pulled from HQ); the screen reloads when it does.
    #[ts(type = "number")]
    pub data_version: u64,
    /// The branch arriving from HQ (a new laptop, or one that takes the branch again).
    pub redownload: Option<RedownloadDto>,
    /// Files of the branch's records still to come from HQ (made on another laptop).
    pub files_waiting: i64,
    /// Conflicts of the branch waiting for HQ's decision.
    pub open_conflicts: i64,
    /// Changes made here that HQ refused in the last week.
    pub refused_recently: i64,
    /// Changes HQ lost when it was restored from an old backup, which this laptop could not send
    /// again: an alert that stays (they must be entered again by hand).
    pub lost_at_hq: i64,
    /// A newer version of the app offered by HQ (None when there is none).
    pub update: Option<UpdateDto>,
}

/// A newer version of the app, as the banner shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UpdateDto {
    pub version: String,
    /// "fetching" (arriving over the sync link), "ready" (checked; may be installed) or
    /// "refused" (failed its check: deleted, reported to HQ).
    pub state: String,
    #[ts(type = "number")]
    pub done: u64,
    #[ts(type = "number")]
    pub size: u64,
    pub error_code: Option<String>,
    /// The refusal in Arabic, ready to show.
    pub error: Option<String>,
}

/// How far the branch has arrived on this laptop, for the progress bar.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RedownloadDto {
    /// The phase being fetched ("staff", "kb", "beneficiaries", "open_cases", "tasks",
    /// "closed_cases", "interactions", "deliveries", "surveys", "conflicts"); empty until HQ has
    /// said what is coming.
    pub phase: String,
    pub done: i64,
    pub total: i64,
    /// People and open cases are in: the desk can serve people while closed history arrives.
    pub usable: bool,
}

/// Adding this laptop to an existing branch from the first-run screen: HQ's address, the one-time
/// code HQ issued for the branch, and this laptop's first account. The branch's name comes from HQ.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct JoinInput {
    pub hq_url: String,
    pub code: String,
    pub username: String,
    pub display_name: String,
    pub password: String,
}

/// HQ's answer about a national ID at the other branches (never their file).
#[derive(Debug, Clone, Serialize, TS)]
pub struct LookupDto {
    /// "found", "none", "offline" (HQ not reachable now), "not_enrolled", or "unavailable" (HQ
    /// refused the question: `code` says why).
    pub state: String,
    pub registered: Vec<RegistrationDto>,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct RegistrationDto {
    pub branch: String,
    /// The date of the first registration there (YYYY-MM-DD).
    pub since: String,
}

/// What sync left for a person at the branch: conflicts waiting for HQ, changes HQ refused.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncIssuesDto {
    pub conflicts: Vec<ConflictDto>,
    pub refused: Vec<RefusedDto>,
}

/// Two values of one field, both kept until HQ decides.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConflictDto {
    #[ts(type = "number")]
    pub id: i64,
    /// "beneficiary", "case", …
    pub entity: String,
    pub entity_id: String,
    /// The person's name or the case's number, when this laptop holds the record.
    pub subject: Option<String>,
    pub beneficiary_id: Option<String>,
    pub case_id: Option<String>,
    pub field: String,
    /// HQ's value when the collision was found, as a person reads it.
    pub at_hq: String,
    /// The value the branch's edit proposed.
    pub proposed: String,
    /// The edit was made on this laptop (otherwise on another laptop of the branch).
    pub proposed_here: bool,
}

/// A change made here that HQ refused, with its reason code (the UI words it).
#[derive(Debug, Clone, Serialize, TS)]
pub struct RefusedDto {
    #[ts(type = "number")]
    pub seq: i64,
    /// The operation ("case.transition", "beneficiary.update", …).
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    pub subject: Option<String>,
    pub beneficiary_id: Option<String>,
    pub case_id: Option<String>,
    pub reason: String,
    pub created_at: String,
    pub answered_at: Option<String>,
}

/// A place a backup can be saved to, and where the first-run screen looks for backups.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupPlaceDto {
    /// The drive's label or the folder's name.
    pub label: String,
    pub path: String,
    /// A drive mounted now that is not the system's own disk (a USB stick, an SD card).
    pub removable: bool,
}

/// A backup just saved, and what it holds.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupDto {
    pub file_name: String,
    pub path: String,
    /// The place's label.
    pub place: String,
    pub removable: bool,
    #[ts(type = "number")]
    pub bytes: i64,
    #[ts(type = "number")]
    pub beneficiaries: i64,
    #[ts(type = "number")]
    pub cases: i64,
    /// Changes not yet at HQ, saved in the backup too.
    #[ts(type = "number")]
    pub pending_changes: i64,
}

/// A backup file found in one of the places.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupFileDto {
    pub name: String,
    pub path: String,
    pub place: String,
    pub removable: bool,
    #[ts(type = "number")]
    pub bytes: i64,
    /// When the file was last written (RFC 3339).
    pub modified: Option<String>,
}

/// First run: a backup found in the places, opened by a staff account held in it.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RestoreInput {
    pub path: String,
    pub username: String,
    pub password: String,
}

/// Enrolment from the home screen: HQ's address and the one-time code HQ issued.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct EnrollInput {
    pub hq_url: String,
    pub code: String,
}

/// A row of the beneficiaries list or of search results.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BeneficiaryRow {
    pub id: String,
    pub full_name: String,
    pub national_id: Option<String>,
    pub mobile: Option<String>,
    pub city: String,
    pub file_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct BeneficiaryPage {
    pub total: i64,
    pub offset: i64,
    pub rows: Vec<BeneficiaryRow>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, TS)]
pub struct CaseQuery {
    pub state: Option<String>,
    pub support_type: Option<String>,
    pub channel: Option<String>,
    /// "on_track", "due_soon" or "overdue".
    pub promise: Option<String>,
    pub beneficiary_id: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct CaseRow {
    pub id: String,
    pub number: String,
    pub beneficiary_id: String,
    pub full_name: String,
    pub state: String,
    pub support_type: String,
    pub channel: String,
    pub promised_reply_date: Option<String>,
    /// "on_track", "due_soon", "overdue", "decided", "decided_late", or null before submission.
    pub promise: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct CasePage {
    pub total: i64,
    pub offset: i64,
    pub rows: Vec<CaseRow>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct MemberDto {
    pub name: String,
    pub relation: String,
    pub national_id: Option<String>,
    pub birth_date: Option<String>,
    pub disability: bool,
    pub schooling: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct BeneficiaryDto {
    pub id: String,
    pub full_name: String,
    pub first: String,
    pub father: String,
    pub grandfather: String,
    pub family: String,
    pub national_id: Option<String>,
    pub id_expiry: Option<String>,
    pub nationality: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub marital_status: Option<String>,
    pub mobile: Option<String>,
    pub city: String,
    pub centre: String,
    pub district: String,
    pub preferred_channel: Option<String>,
    pub household: Vec<MemberDto>,
    pub monthly_income_halalas: i64,
    pub housing: Option<String>,
    pub annual_rent_halalas: Option<i64>,
    pub health_conditions: String,
    pub categories: Vec<String>,
    pub file_number: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct DocumentDto {
    pub code: String,
    pub required: bool,
    pub attachment: Option<String>,
    pub seen_in_original: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct DeclarationDto {
    pub text: String,
    /// "drawn" or "on_paper".
    pub signature_kind: String,
    pub signature_attachment: String,
    pub employee_name: String,
    pub signed_at: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct CaseDto {
    pub id: String,
    pub number: String,
    pub beneficiary_id: String,
    pub support_type: String,
    pub channel: String,
    pub need: String,
    pub state: String,
    pub documents: Vec<DocumentDto>,
    pub declaration: Option<DeclarationDto>,
    pub submitted_at: Option<String>,
    pub promised_reply_date: Option<String>,
    pub promise: Option<String>,
    pub research_report: Option<String>,
    pub research_recommendation: Option<String>,
    pub researcher_name: Option<String>,
    pub decision: Option<String>,
    pub decision_reasons: Option<String>,
    pub registration_number: Option<String>,
    pub branch: String,
    /// The version read, which a correction is based on.
    pub version: i64,
    /// The branch still holds it: need, support type and documents may be corrected.
    pub correctable: bool,
}

/// A correction of a request's need and support type, on top of the version read.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct CaseCorrection {
    pub case_id: String,
    pub version: i64,
    pub need: String,
    pub support_type: String,
}

/// One entry of a case file's timeline, newest last.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TimelineItem {
    pub at: String,
    /// "transition", "interaction", "document", "declaration", "report", "delivery", "survey" or
    /// "edit" (code "beneficiary" or "case", or "hq" for the person edited at HQ, whose actor is
    /// then HQ's staff member; detail the changed fields' names, comma-separated).
    pub kind: String,
    /// A code the UI names (a transition, a purpose, a document type …).
    pub code: String,
    pub actor: String,
    pub detail: String,
    /// Files that came with it (a contact's letter or message), by SHA-256.
    pub attachments: Vec<String>,
}

/// Something the signed-in person may do to this case now.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ActionDto {
    /// A transition code, or "research_report", "delivery", "survey", "interaction".
    pub code: String,
    pub needs_note: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct CaseFileDto {
    pub case: CaseDto,
    pub beneficiary: BeneficiaryDto,
    pub timeline: Vec<TimelineItem>,
    pub actions: Vec<ActionDto>,
    /// The open tasks about this case, whoever has them.
    pub tasks: Vec<TaskDto>,
    /// The store's today (ISO), which tasks' urgency is counted against.
    pub today: String,
    /// While the committee's return as incomplete stands (until resubmitted): its note, shown
    /// above the documents the desk must complete.
    pub returned: Option<ReturnNoteDto>,
}

/// The committee's note returning a request as incomplete, and what its checklist still lacks.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReturnNoteDto {
    pub at: String,
    pub actor: String,
    pub note: String,
    /// Required documents of the checklist not yet attached and seen in the original, by code.
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct TransitionInput {
    pub case_id: String,
    pub transition: String,
    pub note: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct ReportInput {
    pub case_id: String,
    pub text: String,
    pub recommendation: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct DeliveryInput {
    pub case_id: String,
    pub kind: String,
    /// Riyals as typed ("1500", "١٥٠٠", "1,500.50"); empty when items were given instead.
    pub amount: String,
    pub items: String,
    /// Hijri or Gregorian, as typed.
    pub delivered_on: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct SurveyInput {
    pub case_id: String,
    pub overall: u8,
    pub speed: u8,
    pub courtesy: u8,
    pub clarity: u8,
    pub comment: String,
    pub anonymous: bool,
    pub channel: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct InteractionInput {
    /// The registered beneficiary; none for someone not registered (then `contact_name`).
    pub beneficiary_id: Option<String>,
    pub case_id: Option<String>,
    pub channel: String,
    /// "inbound" or "outbound".
    pub direction: String,
    pub purpose: String,
    pub summary: String,
    pub outcome: String,
    /// Hijri or Gregorian, as typed; empty for none.
    pub follow_up_on: String,
    /// Someone not registered: their name and mobile as typed.
    pub contact_name: String,
    pub contact_phone: String,
    /// Files uploaded first with `upload` (the letter, a photo of the message), by SHA-256.
    pub attachments: Vec<String>,
    /// A colleague's user name to own a complaint or suggestion (else the one logging it).
    pub owner: Option<String>,
    /// The complaint or suggestion task this contact answers.
    pub answers: Option<String>,
}

/// A contact as lists show it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ContactDto {
    pub id: String,
    pub at: String,
    pub beneficiary_id: Option<String>,
    pub case_id: Option<String>,
    pub case_number: Option<String>,
    pub contact_name: String,
    pub contact_phone: Option<String>,
    pub channel: String,
    pub direction: String,
    pub purpose: String,
    pub summary: String,
    pub outcome: String,
    pub staff_name: String,
    pub attachments: Vec<StoredFile>,
    /// The contact (complaint or suggestion) this one answered.
    pub answers: Option<String>,
}

/// A complaint or suggestion and where it stands.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ComplaintDto {
    pub task_id: String,
    /// "complaint" or "suggestion".
    pub kind: String,
    /// "open", "overdue" (not answered and past its date), "on_time" or "late" (answered after it).
    pub status: String,
    /// The beneficiary's name, or the name given by someone not registered.
    pub who: String,
    pub due_on: String,
    pub done_at: Option<String>,
    pub owner: Option<String>,
    pub contact: ContactDto,
    pub answer: Option<ContactDto>,
}

/// One field of two registrations side by side.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MergeField {
    pub field: String,
    pub survivor: String,
    pub merged: String,
    /// Both hold the same value: nothing to choose.
    pub same: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct MergePreview {
    pub survivor_id: String,
    pub survivor_name: String,
    pub merged_id: String,
    pub merged_name: String,
    pub fields: Vec<MergeField>,
}

/// Merge `merged_id` into `survivor_id`: the fields named take the merged record's value, every
/// other differing field keeps the survivor's.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct MergeInput {
    pub survivor_id: String,
    pub merged_id: String,
    pub take_from_merged: Vec<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct MergeDto {
    pub id: String,
    pub survivor_id: String,
    pub survivor_name: String,
    pub merged_id: String,
    pub merged_name: String,
    /// The fields that took the merged record's value.
    pub from_merged: Vec<String>,
    pub by: String,
    pub at: String,
    pub undone: bool,
}

/// A beneficiary's file: who, every contact (newest first), the corrections made to it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PersonFileDto {
    pub beneficiary: BeneficiaryDto,
    pub contacts: Vec<ContactDto>,
    pub edits: Vec<TimelineItem>,
}

/// The intake wizard's whole state, saved to the store's drafts as it is typed. Every value is
/// kept as typed (strings), so resuming shows exactly what was there; parsing happens on
/// validation and submission.
#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, TS)]
#[serde(default)]
pub struct IntakeDraft {
    pub step: u8,
    pub channel: String,
    pub reason: String,
    pub query: String,
    /// Chosen from search-before-create: the intake is for a beneficiary already on file.
    pub existing_beneficiary_id: Option<String>,
    /// The version of that beneficiary's file the identity step was filled from: corrections
    /// made in the wizard are saved on top of it.
    pub existing_version: Option<i64>,
    pub identity: IdentityForm,
    pub household: Vec<MemberForm>,
    pub monthly_income: String,
    pub housing: String,
    pub annual_rent: String,
    pub support_type: String,
    pub need: String,
    pub documents: Vec<DocumentForm>,
    /// "drawn", "on_paper" or "" (not yet).
    pub signature_kind: String,
    pub signature_attachment: Option<String>,
    /// Only in drafts saved by a Sila that submitted step by step, which wrote here what a failed
    /// submission had already made; submission completes those instead of making them twice.
    /// Submission is one transaction now and never sets them.
    pub beneficiary_id: Option<String>,
    pub case_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, TS)]
#[serde(default)]
pub struct IdentityForm {
    pub first: String,
    pub father: String,
    pub grandfather: String,
    pub family: String,
    pub national_id: String,
    pub id_expiry: String,
    pub nationality: String,
    pub gender: String,
    pub birth_date: String,
    pub marital_status: String,
    pub mobile: String,
    pub city: String,
    pub centre: String,
    pub district: String,
    pub preferred_channel: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, TS)]
#[serde(default)]
pub struct MemberForm {
    /// The member's ID when they are already on file ("" for one added in this form).
    pub id: String,
    pub name: String,
    pub relation: String,
    pub national_id: String,
    pub birth_date: String,
    pub disability: bool,
    pub schooling: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, PartialEq, TS)]
#[serde(default)]
pub struct DocumentForm {
    pub code: String,
    pub attachment: Option<String>,
    pub file_name: String,
    pub mime: String,
    pub seen_in_original: bool,
}

/// A beneficiary's file as the edit screen shows it (strings as a desk types them), and the
/// version it was read at, which the save is based on.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct PersonFormDto {
    pub id: String,
    pub version: i64,
    pub full_name: String,
    pub identity: IdentityForm,
    pub household: Vec<MemberForm>,
    pub monthly_income: String,
    pub housing: String,
    pub annual_rent: String,
}

/// What compacting the store did: its size before and after, in bytes.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CompactDto {
    pub before_bytes: u64,
    pub after_bytes: u64,
}

/// A compaction under way: bytes written so far, and about how many there will be.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CompactProgressDto {
    pub written_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct StoredFile {
    pub sha256: String,
    pub mime: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Receipt {
    pub case_id: String,
    pub case_number: String,
    pub beneficiary_name: String,
    pub national_id: Option<String>,
    pub mobile: Option<String>,
    pub support_type: String,
    pub channel: String,
    pub submitted_at: String,
    pub promised_reply_date: String,
    pub employee_name: String,
    pub branch: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct StaffDto {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub active: bool,
    /// The account can open the store on this device. An account made at HQ arrives by sync
    /// without access: an administrator sets its first password here.
    pub can_sign_in_here: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct StaffInput {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct KbDocDto {
    pub id: String,
    pub title: String,
    pub body: String,
    pub attachment: Option<String>,
    pub mime: Option<String>,
    pub published_at: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, TS)]
pub struct KbInput {
    pub title: String,
    pub body: String,
    /// SHA-256 of a file uploaded first with `upload`, if any.
    pub attachment: Option<String>,
}

/// A column of a picked sheet: its header as written and the field it was recognised as
/// (none: the import leaves the column out).
#[derive(Debug, Clone, Serialize, TS)]
pub struct SheetColumn {
    pub header: String,
    pub field: Option<String>,
}

/// A problem with a row (or one of its cells; `column` is then the header as written).
#[derive(Debug, Clone, Serialize, TS)]
pub struct RowProblem {
    pub row: i64,
    pub column: String,
    pub code: String,
    pub message: String,
}

/// A row of a picked sheet as the import would take it, with its problems (a refused row has
/// problems and perhaps no name).
#[derive(Debug, Clone, Serialize, TS)]
pub struct PreviewRow {
    pub row: i64,
    pub name: String,
    pub national_id: Option<String>,
    pub mobile: Option<String>,
    pub birth_date: Option<String>,
    pub city: String,
    pub problems: Vec<RowProblem>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ImportPreviewDto {
    /// Names the sheet held for `import_sheet`.
    pub token: String,
    pub file_name: String,
    pub columns: Vec<SheetColumn>,
    pub rows: Vec<PreviewRow>,
    /// The sheet has more rows than the preview shows.
    pub more: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ImportProgressDto {
    /// "reading" or "saving".
    pub phase: String,
    pub done: i64,
    /// 0 while unknown.
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ImportResultDto {
    pub imported: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub refused: Vec<RowProblem>,
    /// The CSV of refused rows with their reasons, if any were refused.
    pub refused_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct IdCheck {
    pub valid: bool,
    pub kind: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Every DTO, for the TypeScript generator.
macro_rules! for_each_dto {
    ($m:ident) => {
        $m!(
            ApiError,
            FieldProblem,
            AppStatus,
            SessionInfo,
            FirstRunInput,
            SignInInput,
            Named,
            SupportTypeDto,
            CatalogDto,
            TaskDto,
            TaskInput,
            StateCount,
            HomeDto,
            DraftSummary,
            Colleague,
            SyncStatusDto,
            UpdateDto,
            RedownloadDto,
            EnrollInput,
            JoinInput,
            LookupDto,
            RegistrationDto,
            SyncIssuesDto,
            ConflictDto,
            RefusedDto,
            BackupPlaceDto,
            BackupDto,
            BackupFileDto,
            RestoreInput,
            BeneficiaryRow,
            BeneficiaryPage,
            CaseQuery,
            CaseRow,
            CasePage,
            MemberDto,
            BeneficiaryDto,
            DocumentDto,
            DeclarationDto,
            CaseDto,
            CaseCorrection,
            TimelineItem,
            ReturnNoteDto,
            ActionDto,
            CaseFileDto,
            TransitionInput,
            ReportInput,
            DeliveryInput,
            SurveyInput,
            InteractionInput,
            ContactDto,
            ComplaintDto,
            PersonFileDto,
            MergeField,
            MergePreview,
            MergeInput,
            MergeDto,
            IntakeDraft,
            IdentityForm,
            MemberForm,
            DocumentForm,
            PersonFormDto,
            StoredFile,
            Receipt,
            StaffDto,
            StaffInput,
            KbDocDto,
            KbInput,
            IdCheck,
            SheetColumn,
            RowProblem,
            PreviewRow,
            ImportPreviewDto,
            ImportProgressDto,
            ImportResultDto,
            CompactDto,
            CompactProgressDto
        )
    };
}

/// The TypeScript of every DTO: (file name, contents); `commands.rs` adds `Command.ts` to them. i64 is a JSON number on the wire, so it is
/// `number` in TypeScript too.
pub fn typescript() -> Vec<(String, String)> {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = Vec::new();
    macro_rules! render {
        ($($t:ty),*) => {$(
            out.push((
                <$t as TS>::output_path().expect("exportable").to_string_lossy().into_owned(),
                <$t as TS>::export_to_string(&cfg).expect("typescript"),
            ));
        )*};
    }
    for_each_dto!(render);
    out
}
