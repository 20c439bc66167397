//! The console API's transport types: the request bodies and queries its handlers read, grouped
//! by resource, and the typed views of the domain's records its answers carry (below). The
//! console's TypeScript for both is generated from here by ts-rs (`types.rs`).

use crate::error::Code;
use crate::store::console::{ConsoleSession, ConsoleStaff, FileDocument, Promise};
use crate::store::register::VoiceRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sila_domain::beneficiary::{Beneficiary, HouseholdMember};
use sila_domain::case::{Case, CaseEvent};
use sila_domain::interaction::{Delivery, Interaction, Survey};
use std::collections::BTreeMap;
use ts_rs::TS;

#[derive(Deserialize, TS)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
pub struct CommitteeQuery {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub promise: Option<String>,
}

#[derive(Deserialize)]
pub struct FindCase {
    pub number: String,
}

#[derive(Deserialize, TS)]
pub struct DecideBody {
    pub transition: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize, TS)]
pub struct ResolveBody {
    /// "hq" or "branch"
    pub take: String,
}

#[derive(Deserialize)]
pub struct LimitQuery {
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub before: Option<i64>,
}

#[derive(Deserialize, TS)]
pub struct MergeBody {
    pub survivor: String,
    pub merged: String,
    #[serde(default)]
    #[ts(type = "Record<string, unknown>")]
    pub fields: serde_json::Map<String, Value>,
}

#[derive(Deserialize, TS)]
pub struct PairBody {
    pub a: String,
    pub b: String,
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub promise: Option<String>,
}

#[derive(Deserialize)]
pub struct ReleaseQuery {
    pub version: String,
}

#[derive(Deserialize, TS)]
pub struct EnrolBody {
    pub branch: String,
    #[serde(default)]
    #[ts(optional)]
    pub ttl_hours: Option<i64>,
}

#[derive(Deserialize, TS)]
pub struct StaffAdd {
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    pub password: String,
    pub roles: Vec<String>,
}

#[derive(Deserialize, TS)]
pub struct StaffSet {
    #[serde(default)]
    #[ts(optional)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    #[ts(optional)]
    pub active: Option<bool>,
    #[serde(default)]
    #[ts(optional)]
    pub password: Option<String>,
}

#[derive(Deserialize)]
pub struct BranchQuery {
    #[serde(default)]
    pub branch: Option<String>,
}

#[derive(Deserialize, TS)]
pub struct BranchStaffBody {
    /// Absent: a new account.
    #[serde(default)]
    #[ts(optional)]
    pub id: Option<String>,
    pub branch: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub active: bool,
}

#[derive(Deserialize, TS)]
pub struct KbBody {
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// The file, base64 (standard alphabet).
    #[serde(default)]
    #[ts(optional)]
    pub file_base64: Option<String>,
}

#[derive(Deserialize, TS)]
pub struct EditBody {
    pub field: String,
    #[serde(default)]
    #[ts(type = "unknown")]
    pub value: Value,
}

// ---------------------------------------------------------------------------------------------
// Answers: typed views of the domain's records, built here at the boundary from the records the
// store holds (as the domain parses them), so the console's TypeScript comes from these structs
// (ts-rs, `types.rs`) and sila-domain stays free of it. Codes of the domain's enums travel as
// their snake_case words, as the records store them.

/// An enum's code as its records store it ("in_committee", "phone" …).
fn code<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Option<T> {
    serde_json::from_value(v).ok()
}

/// The devices page: every device (with the work a restore lost, if any) and the branches an
/// enrolment code may name.
#[derive(Serialize, TS)]
pub struct DevicesView {
    pub devices: Vec<crate::store::DeviceInfo>,
    pub branches: Vec<String>,
}

/// Who is signed in, and the token their changes echo.
#[derive(Serialize, TS)]
#[ts(rename = "Me")]
pub struct MeView {
    pub staff: ConsoleStaff,
    pub csrf: String,
    pub expires_at: String,
}

impl From<&ConsoleSession> for MeView {
    fn from(s: &ConsoleSession) -> Self {
        MeView {
            staff: s.staff.clone(),
            csrf: s.csrf.clone(),
            expires_at: s.expires_at.to_rfc3339(),
        }
    }
}

#[derive(Serialize, TS)]
#[ts(rename = "PersonName")]
pub struct NameView {
    pub first: String,
    pub father: String,
    pub grandfather: String,
    pub family: String,
    pub as_written: String,
}

#[derive(Serialize, TS)]
#[ts(rename = "Member")]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub relation: String,
    pub national_id: Option<String>,
    pub birth_date: Option<String>,
    pub disability: bool,
    pub schooling: Option<String>,
}

impl From<&HouseholdMember> for MemberView {
    fn from(m: &HouseholdMember) -> Self {
        MemberView {
            id: m.id.to_string(),
            name: m.name.clone(),
            relation: code(&m.relation),
            national_id: m.national_id.as_ref().map(|n| n.as_str().to_owned()),
            birth_date: m.birth_date.map(|d| d.to_string()),
            disability: m.disability,
            schooling: m.schooling.as_ref().map(code),
        }
    }
}

#[derive(Serialize, TS)]
#[ts(rename = "Income")]
pub struct IncomeView {
    pub source: String,
    pub monthly_halalas: i64,
}

#[derive(Serialize, TS)]
#[ts(rename = "Housing")]
pub struct HousingView {
    pub kind: String,
    pub annual_rent_halalas: Option<i64>,
}

/// A beneficiary's record, field by field as the branch keeps it.
#[derive(Serialize, TS)]
#[ts(rename = "Person")]
pub struct PersonView {
    pub id: String,
    pub file_number: Option<String>,
    pub name: NameView,
    pub national_id: Option<String>,
    pub id_expiry: Option<String>,
    pub nationality: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub marital_status: Option<String>,
    /// E.164.
    pub mobile: Option<String>,
    pub city: String,
    pub centre: String,
    pub district: String,
    pub preferred_channel: Option<String>,
    pub household: Vec<MemberView>,
    pub household_size: Option<u16>,
    pub incomes: Vec<IncomeView>,
    pub housing: Option<HousingView>,
    pub health_conditions: String,
    pub categories: Vec<String>,
}

impl From<&Beneficiary> for PersonView {
    fn from(b: &Beneficiary) -> Self {
        PersonView {
            id: b.id.to_string(),
            file_number: b.file_number.clone(),
            name: NameView {
                first: b.name.first.clone(),
                father: b.name.father.clone(),
                grandfather: b.name.grandfather.clone(),
                family: b.name.family.clone(),
                as_written: b.name.as_written.clone(),
            },
            national_id: b.national_id.as_ref().map(|n| n.as_str().to_owned()),
            id_expiry: b.id_expiry.map(|d| d.to_string()),
            nationality: b.nationality.clone(),
            gender: b.gender.as_ref().map(code),
            birth_date: b.birth_date.map(|d| d.to_string()),
            marital_status: b.marital_status.as_ref().map(code),
            mobile: b.mobile.as_ref().map(|m| m.as_str().to_owned()),
            city: b.city.clone(),
            centre: b.centre.clone(),
            district: b.district.clone(),
            preferred_channel: b.preferred_channel.as_ref().map(code),
            household: b.household.iter().map(MemberView::from).collect(),
            household_size: b.household_size,
            incomes: b
                .incomes
                .iter()
                .map(|i| IncomeView {
                    source: code(&i.source),
                    monthly_halalas: i.monthly_halalas,
                })
                .collect(),
            housing: b.housing.as_ref().map(|h| HousingView {
                kind: code(&h.kind),
                annual_rent_halalas: h.annual_rent_halalas,
            }),
            health_conditions: b.health_conditions.clone(),
            categories: b.categories.iter().map(code).collect(),
        }
    }
}

#[derive(Serialize, TS)]
#[ts(rename = "ResearchReport")]
pub struct ReportView {
    pub text: String,
    pub recommendation: String,
    pub researcher_name: String,
    pub written_at: String,
}

#[derive(Serialize, TS)]
#[ts(rename = "Decision")]
pub struct DecisionView {
    /// "approved" or "rejected".
    pub outcome: String,
    pub reasons: String,
    pub decided_by_name: String,
    pub decided_at: String,
}

/// A request as the committee reads it (its documents come beside it, with what HQ holds of them).
#[derive(Serialize, TS)]
#[ts(rename = "Case")]
pub struct CaseView {
    pub id: String,
    pub number: String,
    pub beneficiary_id: String,
    pub support_type: String,
    pub channel: String,
    pub need: String,
    pub state: String,
    pub submitted_at: Option<String>,
    pub promised_reply_date: Option<String>,
    pub research_report: Option<ReportView>,
    pub decision: Option<DecisionView>,
    pub registration_number: Option<String>,
}

impl From<&Case> for CaseView {
    fn from(c: &Case) -> Self {
        CaseView {
            id: c.id.to_string(),
            number: c.number.clone(),
            beneficiary_id: c.beneficiary_id.to_string(),
            support_type: c.support_type.clone(),
            channel: code(&c.channel),
            need: c.need.clone(),
            state: code(&c.state),
            submitted_at: c.submitted_at.map(|t| t.to_rfc3339()),
            promised_reply_date: c.promised_reply_date.map(|d| d.to_string()),
            research_report: c.research_report.as_ref().map(|r| ReportView {
                text: r.text.clone(),
                recommendation: r.recommendation.clone(),
                researcher_name: r.researcher_name.clone(),
                written_at: r.written_at.to_rfc3339(),
            }),
            decision: c.decision.as_ref().map(|d| DecisionView {
                outcome: code(&d.outcome),
                reasons: d.reasons.clone(),
                decided_by_name: d.decided_by_name.clone(),
                decided_at: d.decided_at.to_rfc3339(),
            }),
            registration_number: c.registration_number.clone(),
        }
    }
}

/// A step of a request's history.
#[derive(Serialize, TS)]
#[ts(rename = "CaseEvent")]
pub struct EventView {
    pub transition: String,
    pub from: String,
    pub to: String,
    pub actor_name: String,
    pub at: String,
    pub note: String,
    pub branch: String,
}

impl From<&CaseEvent> for EventView {
    fn from(e: &CaseEvent) -> Self {
        EventView {
            transition: code(&e.transition),
            from: code(&e.from),
            to: code(&e.to),
            actor_name: e.actor_name.clone(),
            at: e.at.to_rfc3339(),
            note: e.note.clone(),
            branch: e.branch.clone(),
        }
    }
}

/// A contact with a person, on one of the eight channels.
#[derive(Serialize, TS)]
#[ts(rename = "Contact")]
pub struct ContactView {
    pub id: String,
    pub beneficiary_id: Option<String>,
    pub case_id: Option<String>,
    pub channel: String,
    pub direction: String,
    pub purpose: String,
    pub summary: String,
    pub outcome: String,
    pub follow_up_on: Option<String>,
    /// The staff member's ID (the answer's `staff` names them).
    pub staff: String,
    pub at: String,
    pub contact_name: String,
    pub contact_phone: Option<String>,
    pub attachments: Vec<String>,
    pub answers: Option<String>,
}

impl From<&Interaction> for ContactView {
    fn from(i: &Interaction) -> Self {
        ContactView {
            id: i.id.to_string(),
            beneficiary_id: i.beneficiary_id.map(|b| b.to_string()),
            case_id: i.case_id.map(|c| c.to_string()),
            channel: code(&i.channel),
            direction: code(&i.direction),
            purpose: code(&i.purpose),
            summary: i.summary.clone(),
            outcome: i.outcome.clone(),
            follow_up_on: i.follow_up_on.map(|d| d.to_string()),
            staff: i.staff.to_string(),
            at: i.at.to_rfc3339(),
            contact_name: i.contact_name.clone(),
            contact_phone: i.contact_phone.as_ref().map(|m| m.as_str().to_owned()),
            attachments: i.attachments.clone(),
            answers: i.answers.map(|a| a.to_string()),
        }
    }
}

#[derive(Serialize, TS)]
#[ts(rename = "Delivery")]
pub struct DeliveryView {
    pub id: String,
    pub kind: String,
    pub amount_halalas: Option<i64>,
    pub items: String,
    pub delivered_on: String,
    pub delivered_by_name: String,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        DeliveryView {
            id: d.id.to_string(),
            kind: d.kind.clone(),
            amount_halalas: d.amount_halalas,
            items: d.items.clone(),
            delivered_on: d.delivered_on.to_string(),
            delivered_by_name: d.delivered_by_name.clone(),
        }
    }
}

/// A survey's answers (1..5 each).
#[derive(Serialize, TS)]
#[ts(rename = "Survey")]
pub struct SurveyView {
    pub id: String,
    pub case_id: Option<String>,
    pub overall: u8,
    pub speed: u8,
    pub courtesy: u8,
    pub clarity: u8,
    pub comment: String,
    pub anonymous: bool,
    pub channel: String,
    pub answered_on: String,
    pub support_type: String,
}

impl From<&Survey> for SurveyView {
    fn from(s: &Survey) -> Self {
        SurveyView {
            id: s.id.to_string(),
            case_id: s.case_id.map(|c| c.to_string()),
            overall: s.overall,
            speed: s.speed,
            courtesy: s.courtesy,
            clarity: s.clarity,
            comment: s.comment.clone(),
            anonymous: s.anonymous,
            channel: code(&s.channel),
            answered_on: s.answered_on.to_string(),
            support_type: s.support_type.clone(),
        }
    }
}

/// Another request of the same person, in a line.
#[derive(Serialize, TS)]
#[ts(rename = "CaseLine")]
pub struct CaseLine {
    pub id: String,
    pub state: String,
    pub number: Option<String>,
    pub support_type: String,
    pub channel: Option<String>,
    pub submitted_at: Option<String>,
    pub promised_reply_date: Option<String>,
    /// "approved" or "rejected", once decided.
    pub outcome: Option<String>,
}

impl CaseLine {
    /// From the store's summary of a case (`id`, `state` and the fields above, as stored).
    fn of(v: &Value) -> CaseLine {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        CaseLine {
            id: s("id").unwrap_or_default(),
            state: s("state").unwrap_or_default(),
            number: s("number"),
            support_type: s("support_type").unwrap_or_default(),
            channel: s("channel"),
            submitted_at: s("submitted_at"),
            promised_reply_date: s("promised_reply_date"),
            outcome: s("outcome"),
        }
    }
}

/// The records of a list that the domain reads; one it cannot is left out rather than shown
/// half-understood.
fn views<D, V>(values: Vec<Value>) -> Vec<V>
where
    D: serde::de::DeserializeOwned,
    V: for<'a> From<&'a D>,
{
    values
        .into_iter()
        .filter_map(parse::<D>)
        .map(|d| V::from(&d))
        .collect()
}

/// The whole file of a case as the committee reads it.
#[derive(Serialize, TS)]
#[ts(rename = "CaseFile")]
pub struct CaseFileView {
    pub case: CaseView,
    pub branch: String,
    pub state: String,
    pub promise: Option<Promise>,
    pub beneficiary: Option<PersonView>,
    pub events: Vec<EventView>,
    pub documents: Vec<FileDocument>,
    pub signature: Option<FileDocument>,
    pub interactions: Vec<ContactView>,
    pub deliveries: Vec<DeliveryView>,
    pub surveys: Vec<SurveyView>,
    pub other_cases: Vec<CaseLine>,
}

impl CaseFileView {
    /// None when the stored request is not one the domain reads.
    pub fn of(f: crate::store::console::CaseFile) -> Option<CaseFileView> {
        let case: Case = parse(f.case)?;
        Some(CaseFileView {
            case: CaseView::from(&case),
            branch: f.branch,
            state: f.state,
            promise: f.promise,
            beneficiary: f
                .beneficiary
                .and_then(parse::<Beneficiary>)
                .map(|b| PersonView::from(&b)),
            events: views::<CaseEvent, _>(f.events),
            documents: f.documents,
            signature: f.signature,
            interactions: views::<Interaction, _>(f.interactions),
            deliveries: views::<Delivery, _>(f.deliveries),
            surveys: views::<Survey, _>(f.surveys),
            other_cases: f.other_cases.iter().map(CaseLine::of).collect(),
        })
    }
}

/// A person's record at HQ, to compare two of them before a merge.
#[derive(Serialize, TS)]
#[ts(rename = "BeneficiaryFile")]
pub struct BeneficiaryFileView {
    pub record: PersonView,
    pub branch: String,
    pub version: i64,
    pub merged_into: Option<String>,
}

impl BeneficiaryFileView {
    /// From the store's `{record, branch, version, merged_into}`.
    pub fn of(v: Value) -> Option<BeneficiaryFileView> {
        let b: Beneficiary = parse(v["record"].clone())?;
        Some(BeneficiaryFileView {
            record: PersonView::from(&b),
            branch: v["branch"].as_str().unwrap_or_default().to_owned(),
            version: v["version"].as_i64().unwrap_or_default(),
            merged_into: v["merged_into"].as_str().map(str::to_owned),
        })
    }
}

/// A person's whole file in the register.
#[derive(Serialize, TS)]
#[ts(rename = "PersonFile")]
pub struct PersonFileView {
    pub record: PersonView,
    pub branch: String,
    pub version: i64,
    pub merged_into: Option<String>,
    pub cases: Vec<CaseLine>,
    pub interactions: Vec<ContactView>,
    pub surveys: Vec<SurveyView>,
    pub voice: Vec<VoiceRow>,
    /// Staff of the person's branch by ID, for naming who did what.
    pub staff: BTreeMap<String, String>,
}

impl PersonFileView {
    pub fn of(f: crate::store::register::PersonFile) -> Option<PersonFileView> {
        let b: Beneficiary = parse(f.record)?;
        Some(PersonFileView {
            record: PersonView::from(&b),
            branch: f.branch,
            version: f.version,
            merged_into: f.merged_into,
            cases: f.cases.iter().map(CaseLine::of).collect(),
            interactions: views::<Interaction, _>(f.interactions),
            surveys: views::<Survey, _>(f.surveys),
            voice: f.voice,
            staff: f.staff,
        })
    }
}

/// A complaint or suggestion with the contact that brought it and the one that answered it.
#[derive(Serialize, TS)]
#[ts(rename = "VoiceItem")]
pub struct VoiceItemView {
    pub row: VoiceRow,
    pub contact: Option<ContactView>,
    pub answer: Option<ContactView>,
    pub staff: BTreeMap<String, String>,
}

impl From<crate::store::register::VoiceItem> for VoiceItemView {
    fn from(v: crate::store::register::VoiceItem) -> Self {
        let contact = |c: Option<Value>| {
            c.and_then(parse::<Interaction>)
                .map(|i| ContactView::from(&i))
        };
        VoiceItemView {
            row: v.row,
            contact: contact(v.contact),
            answer: contact(v.answer),
            staff: v.staff,
        }
    }
}

/// An open conflict between a branch's change and HQ's, with whose record it is.
#[derive(Serialize, TS)]
#[ts(rename = "ConflictRow")]
pub struct ConflictView {
    pub id: i64,
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    /// The field's value at HQ and the branch's, as stored (any JSON).
    #[ts(type = "unknown")]
    pub hq_value: Value,
    #[ts(type = "unknown")]
    pub branch_value: Value,
    pub device_id: String,
    pub seq: i64,
    pub reason: String,
    pub resolved: bool,
    /// The person's name ("" for another record).
    pub name: String,
    pub branch: Option<String>,
}

/// A value a merge kept, and whose it was.
#[derive(Serialize, TS)]
#[ts(rename = "MergeChoice")]
pub struct MergeChoice {
    #[ts(type = "unknown")]
    pub value: Value,
    /// "survivor" or "merged".
    pub from: String,
}

/// A merge of two registrations, and its undoing.
#[derive(Serialize, TS)]
#[ts(rename = "MergeRow")]
pub struct MergeView {
    pub id: i64,
    pub survivor: String,
    pub merged: String,
    pub chosen: BTreeMap<String, MergeChoice>,
    pub staff_name: String,
    pub at: String,
    pub undone_at: Option<String>,
}

impl From<crate::store::MergeRow> for MergeView {
    fn from(m: crate::store::MergeRow) -> Self {
        let chosen = match m.chosen {
            Value::Object(fields) => fields
                .into_iter()
                .map(|(field, c)| {
                    let choice = MergeChoice {
                        value: c.get("value").cloned().unwrap_or(Value::Null),
                        from: c
                            .get("from")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    (field, choice)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        MergeView {
            id: m.id,
            survivor: m.survivor,
            merged: m.merged,
            chosen,
            staff_name: m.staff_name,
            at: m.at,
            undone_at: m.undone_at,
        }
    }
}

/// The lists the console's pages load, each in the object it comes in.
#[derive(Serialize, TS)]
pub struct AuditList {
    pub rows: Vec<crate::store::console::AuditRow>,
}

#[derive(Serialize, TS)]
pub struct ConflictList {
    pub rows: Vec<ConflictView>,
}

#[derive(Serialize, TS)]
pub struct MergeList {
    pub rows: Vec<MergeView>,
}

#[derive(Serialize, TS)]
pub struct DuplicateList {
    pub pairs: Vec<crate::store::DuplicatePair>,
}

#[derive(Serialize, TS)]
pub struct StaffList {
    pub rows: Vec<ConsoleStaff>,
}

#[derive(Serialize, TS)]
pub struct BranchStaffList {
    pub rows: Vec<crate::store::console::BranchStaffRow>,
    pub branches: Vec<String>,
}

#[derive(Serialize, TS)]
pub struct KbList {
    pub rows: Vec<crate::store::console::KbRow>,
}

#[derive(Serialize, TS)]
pub struct ReleaseList {
    pub releases: Vec<crate::store::ReleaseInfo>,
}

#[derive(Serialize, TS)]
pub struct BranchList {
    pub branches: Vec<String>,
}

/// A one-time enrolment code for a branch's laptop, and when it stops working.
#[derive(Serialize, TS)]
pub struct EnrolCode {
    pub code: String,
    pub expires_at: String,
}

/// The case a receipt's number names.
#[derive(Serialize, TS)]
pub struct FoundCase {
    pub id: String,
}

/// A support or document type, by code, with its names.
#[derive(Serialize, TS)]
pub struct CatalogEntry {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
}

/// What every page needs to name things (the console shows names, never codes).
#[derive(Serialize, TS)]
#[ts(rename = "Catalog")]
pub struct CatalogView {
    pub support_types: Vec<CatalogEntry>,
    pub document_types: Vec<CatalogEntry>,
    /// Days from submission to the promised reply, and the days before it that are "due soon".
    pub reply_days: i64,
    pub due_soon_days: i64,
}

impl From<&sila_domain::catalog::Catalog> for CatalogView {
    fn from(c: &sila_domain::catalog::Catalog) -> Self {
        let entry = |code: &str, ar: &str, en: &str| CatalogEntry {
            code: code.to_owned(),
            name_ar: ar.to_owned(),
            name_en: en.to_owned(),
        };
        CatalogView {
            support_types: c
                .support_types
                .iter()
                .map(|t| entry(&t.code, &t.name_ar, &t.name_en))
                .collect(),
            document_types: c
                .document_types
                .iter()
                .map(|t| entry(&t.code, &t.name_ar, &t.name_en))
                .collect(),
            reply_days: c.policy.reply_days,
            due_soon_days: c.policy.due_soon_days,
        }
    }
}

// ---- The small answers of a change (what the change made, or only that it was done) ----

/// A change that has nothing to say but that it was done.
#[derive(Serialize, TS)]
pub struct Done {
    #[ts(type = "true")]
    pub ok: bool,
}

impl Done {
    pub const OK: Done = Done { ok: true };
}

/// A record the change made (a knowledge-base document, a branch's account).
#[derive(Serialize, TS)]
pub struct Created {
    pub id: String,
}

/// Two files merged: the merge's number (to undo it by).
#[derive(Serialize, TS)]
pub struct Merged {
    pub merge_id: i64,
}

/// A person's field changed: the record's version after the change.
#[derive(Serialize, TS)]
pub struct Edited {
    pub version: i64,
}

/// A release published: the package HQ now offers the devices.
#[derive(Serialize, TS)]
pub struct PublishedRelease {
    pub version: String,
    pub sha256: String,
    pub size: i64,
}

// ---- Refusals: every console error's body is built from these, in `ConsoleError` ----

/// A refused request: the code the UI and the tests match on (one of `error::Code`'s words, as
/// the TypeScript union `ErrorCode`), and the Arabic the console shows (never personal data).
#[derive(Serialize, TS)]
#[ts(rename = "ApiError")]
pub struct ErrorAnswer {
    pub code: Code,
    pub message: String,
}

/// A person's value the domain refused (`invalid_field`): the field it is about
/// (`household[1].name` for the second member's name), the domain's reason code (the UI's
/// English is keyed by it), and the domain's Arabic for it as the message. Never the value.
#[derive(Serialize, TS)]
pub struct FieldRefusal {
    pub code: Code,
    pub message: String,
    pub field: String,
    pub reason: Option<String>,
}

/// `error::Code` in TypeScript: the union of its wire words, so the console's UI cannot match
/// on a code the server never sends.
impl TS for Code {
    type WithoutGenerics = Code;
    type OptionInnerType = Code;

    fn docs() -> Option<String> {
        Some(
            "/**\n * Every code a refusal of HQ's carries (crates/sila-hq/src/error.rs).\n */\n"
                .into(),
        )
    }
    fn name(_: &ts_rs::Config) -> String {
        "ErrorCode".into()
    }
    fn inline(_: &ts_rs::Config) -> String {
        Code::all()
            .iter()
            .map(|c| format!("\"{}\"", c.as_str()))
            .collect::<Vec<_>>()
            .join(" | ")
    }
    fn decl(cfg: &ts_rs::Config) -> String {
        format!("type ErrorCode = {};", Self::inline(cfg))
    }
    fn decl_concrete(cfg: &ts_rs::Config) -> String {
        Self::decl(cfg)
    }
    fn output_path() -> Option<std::path::PathBuf> {
        Some("ErrorCode.ts".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A person's view says what the domain's record says, key for key: the console sends a
    /// merge's chosen values and a register edit's value back in this form, and the domain reads
    /// them as its own.
    #[test]
    fn a_person_reads_as_the_domain_writes_them() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen_household = false;
        for _ in 0..200 {
            let mut b = sila_store::demo::beneficiary(&mut rng, today);
            b.file_number = Some("AFL-K3F-F00001".into());
            seen_household |= !b.household.is_empty() && b.housing.is_some();
            assert_eq!(
                serde_json::to_value(PersonView::from(&b)).unwrap(),
                serde_json::to_value(&b).unwrap()
            );
        }
        assert!(
            seen_household,
            "the demo people have households and housing"
        );
    }

    /// A refusal goes on the wire as `{code, message}` with the code's word, and that word is in
    /// the TypeScript union once: the codes of this crate, sila-proto's releases and sila-domain's
    /// lifecycle alike (`not_permitted` is both HQ's and the lifecycle's, and listed once).
    #[test]
    fn a_refusal_carries_a_code_the_typescript_union_lists() {
        use sila_domain::case::{LifecycleError, Transition};
        let code = Code::Lifecycle(LifecycleError::NoteRequired {
            transition: Transition::Reopen,
        });
        let answer = ErrorAnswer {
            message: code.arabic().into(),
            code: code.clone(),
        };
        assert_eq!(
            serde_json::to_value(&answer).unwrap(),
            serde_json::json!({"code": "note_required", "message": code.arabic()})
        );
        let union = <Code as TS>::inline(&ts_rs::Config::new());
        let words: Vec<&str> = union.split(" | ").collect();
        for c in [
            code,
            Code::NotPermitted,
            Code::Release(sila_proto::release::ReleaseError::BadVersion),
            Code::InvalidField,
        ] {
            let quoted = format!("\"{}\"", c.as_str());
            assert_eq!(words.iter().filter(|w| **w == quoted).count(), 1, "{c}");
        }
    }
}
