//! Realistic synthetic data for demos, screenshots and benchmarks: Saudi four-part names (with the
//! particles and compounds real names have), valid national IDs and iqamas, mobiles, households,
//! and cases walked through the real lifecycle into every state, with interactions, deliveries and
//! surveys. Seeded, so the same seed gives the same people.
//!
//! Everything goes through the same writers as the desk does (outbox, history, tasks); only the
//! actor is a demo account holding every role, so the committee's decisions can be simulated.

use crate::error::Result;
use crate::{Store, Writer};
use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sila_domain::beneficiary::{
    Beneficiary, Category, Gender, HouseholdMember, Housing, HousingKind, Income, IncomeSource,
    MaritalStatus, PersonName, Relation, Schooling,
};
use sila_domain::case::{
    Case, CaseState, Declaration, DocumentCheck, ResearchReport, Signature, Transition,
};
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::{BeneficiaryId, CaseId, DeliveryId, InteractionId, MemberId, SurveyId};
use sila_domain::interaction::{Delivery, Direction, Interaction, Survey};
use sila_domain::national_id::{self, NationalId};
use sila_domain::phone::Mobile;
use sila_domain::staff::Role;

const MALE: &[&str] = &[
    "محمد",
    "أحمد",
    "عبدالله",
    "عبد الرحمن",
    "خالد",
    "فهد",
    "سعد",
    "سلطان",
    "ناصر",
    "عبدالعزيز",
    "فيصل",
    "تركي",
    "سعود",
    "بندر",
    "ماجد",
    "عمر",
    "علي",
    "يوسف",
    "إبراهيم",
    "حمد",
    "مشعل",
    "نايف",
    "بدر",
    "راشد",
    "صالح",
    "عبد الله",
    "منصور",
    "عادل",
    "هاني",
    "وليد",
    "زياد",
    "مساعد",
    "حسن",
    "سليمان",
    "عثمان",
    "طلال",
];
const FEMALE: &[&str] = &[
    "نورة",
    "فاطمة",
    "سارة",
    "مريم",
    "هيا",
    "لطيفة",
    "منيرة",
    "عائشة",
    "حصة",
    "الجوهرة",
    "ريم",
    "أمل",
    "هند",
    "نوف",
    "مها",
    "العنود",
    "شهد",
    "لمى",
    "دانة",
    "جواهر",
    "موضي",
    "عبير",
    "أسماء",
    "خديجة",
];
const FAMILY: &[&str] = &[
    "الدوسري",
    "العتيبي",
    "القحطاني",
    "الشهري",
    "الغامدي",
    "الزهراني",
    "المطيري",
    "الحربي",
    "الشمري",
    "العنزي",
    "السبيعي",
    "آل سعود",
    "آل الشيخ",
    "الرشيد",
    "السهلي",
    "البقمي",
    "الودعاني",
    "الهاجري",
    "القرني",
    "آل مرشد",
    "المالكي",
    "الخالدي",
    "التميمي",
    "السالم",
    "العجمي",
    "اليامي",
    "الفايز",
    "البلوي",
    "الجهني",
    "آل عمر",
];
const CITIES: &[(&str, &[&str])] = &[
    (
        "الأفلاج",
        &["ليلى", "الخالدية", "الروضة", "الهدار", "الوسيطاء"],
    ),
    ("مروان", &["مروان الشمالي", "مروان الجنوبي"]),
    ("السليل", &["الوادي", "النخيل"]),
    ("الرياض", &["النسيم", "السويدي", "الشفا", "العزيزية"]),
];

fn name_of(rng: &mut StdRng, gender: Gender) -> PersonName {
    let first = if gender == Gender::Male {
        MALE.choose(rng)
    } else {
        FEMALE.choose(rng)
    }
    .unwrap();
    let father = MALE.choose(rng).unwrap();
    let grandfather = MALE.choose(rng).unwrap();
    let family = FAMILY.choose(rng).unwrap();
    // Some desks write the linking particles; the search must not care.
    let link = if gender == Gender::Male {
        "بن"
    } else {
        "بنت"
    };
    let written = match rng.random_range(0..6) {
        0 => format!("{first} {link} {father} بن {grandfather} {family}"),
        1 => format!("{first} {father} {family}"),
        _ => format!("{first} {father} {grandfather} {family}"),
    };
    let mut n = PersonName::from_full(&written);
    n.as_written = written;
    n
}

fn national_id(rng: &mut StdRng, resident: bool) -> NationalId {
    let mut first9 = String::from(if resident { "2" } else { "1" });
    for _ in 0..8 {
        first9.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = national_id::checksum_digit(&first9).expect("nine digits");
    NationalId::parse(&format!("{first9}{check}")).expect("made valid")
}

fn mobile(rng: &mut StdRng) -> Mobile {
    let prefix = ["50", "53", "54", "55", "56", "58", "59"]
        .choose(rng)
        .unwrap();
    let rest: u32 = rng.random_range(0..10_000_000);
    Mobile::parse(&format!("05{}{:07}", &prefix[1..], rest)).expect("valid mobile")
}

/// One synthetic beneficiary.
pub fn beneficiary(rng: &mut StdRng, today: NaiveDate) -> Beneficiary {
    let gender = if rng.random_bool(0.55) {
        Gender::Female
    } else {
        Gender::Male
    };
    let mut b = Beneficiary::new(BeneficiaryId::new_v7(), name_of(rng, gender));
    let resident = rng.random_bool(0.12);
    if rng.random_bool(0.95) {
        b.national_id = Some(national_id(rng, resident));
        b.id_expiry = Some(today + Duration::days(rng.random_range(30..3000)));
    }
    b.nationality = if resident {
        "يمني".into()
    } else {
        "سعودي".into()
    };
    b.gender = Some(gender);
    b.birth_date = Some(today - Duration::days(rng.random_range(18 * 365..85 * 365)));
    b.marital_status = Some(
        *[
            MaritalStatus::Married,
            MaritalStatus::Widowed,
            MaritalStatus::Divorced,
            MaritalStatus::Single,
        ]
        .choose(rng)
        .unwrap(),
    );
    if rng.random_bool(0.97) {
        b.mobile = Some(mobile(rng));
    }
    let (city, districts) = CITIES.choose(rng).unwrap();
    b.city = (*city).into();
    b.district = (*districts.choose(rng).unwrap()).into();
    b.preferred_channel = Some(
        *[
            Channel::Phone,
            Channel::Interview,
            Channel::SocialMedia,
            Channel::BranchRepresentative,
        ]
        .choose(rng)
        .unwrap(),
    );
    let members = rng.random_range(0..9);
    for i in 0..members {
        let child = i > 0 || b.marital_status == Some(MaritalStatus::Widowed);
        let g = if rng.random_bool(0.5) {
            Gender::Male
        } else {
            Gender::Female
        };
        let age_days = if child {
            rng.random_range(365..20 * 365)
        } else {
            rng.random_range(20 * 365..70 * 365)
        };
        let mut m = HouseholdMember {
            id: MemberId::new_v7(),
            name: name_of(rng, g).first,
            relation: if child {
                if g == Gender::Male {
                    Relation::Son
                } else {
                    Relation::Daughter
                }
            } else {
                Relation::Spouse
            },
            national_id: None,
            birth_date: Some(today - Duration::days(age_days)),
            disability: rng.random_bool(0.04),
            schooling: Some(if age_days < 6 * 365 {
                Schooling::NotApplicable
            } else if age_days < 12 * 365 {
                Schooling::Primary
            } else {
                Schooling::Secondary
            }),
        };
        if age_days > 15 * 365 {
            m.national_id = Some(national_id(rng, resident));
        }
        b.household.push(m);
    }
    b.incomes = vec![Income {
        source: *[
            IncomeSource::SocialSecurity,
            IncomeSource::CitizenAccount,
            IncomeSource::Retirement,
            IncomeSource::Salary,
        ]
        .choose(rng)
        .unwrap(),
        monthly_halalas: rng.random_range(800..7000) * 100,
    }];
    b.housing = Some(if rng.random_bool(0.6) {
        Housing {
            kind: HousingKind::Rented,
            annual_rent_halalas: Some(rng.random_range(80..400) * 10_000),
        }
    } else {
        Housing {
            kind: *[HousingKind::Owned, HousingKind::Shared]
                .choose(rng)
                .unwrap(),
            annual_rent_halalas: None,
        }
    });
    let mut cats = Vec::new();
    if b.marital_status == Some(MaritalStatus::Widowed) {
        cats.push(if gender == Gender::Female {
            Category::Widows
        } else {
            Category::Orphans
        });
    }
    if b.monthly_income() < 300_000 {
        cats.push(Category::LowIncome);
    }
    if b.household.iter().any(|m| m.disability) {
        cats.push(Category::Disability);
    }
    b.categories = cats;
    b
}

/// A tiny valid PNG (1×1), standing in for a scan or a drawn signature.
pub const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The walk through the lifecycle that leaves a case in `target`, as far as a branch can take it:
/// the committee's decision is HQ's (a branch's own "approve" would be refused there), so a case
/// meant to be decided waits with the committee, where HQ's demo or its committee decides it.
fn path_to(target: CaseState) -> &'static [Transition] {
    use Transition::*;
    match target {
        CaseState::Draft => &[],
        CaseState::Submitted => &[Submit],
        CaseState::InResearch => &[Submit, ReferToResearch],
        CaseState::Incomplete => &[Submit, ReturnIncomplete],
        CaseState::Withdrawn => &[Submit, Withdraw],
        CaseState::InCommittee
        | CaseState::Approved
        | CaseState::Rejected
        | CaseState::Registered
        | CaseState::Served
        | CaseState::Closed => &[Submit, SendToCommittee],
    }
}

impl Writer<'_> {
    fn demo_case(
        &mut self,
        rng: &mut StdRng,
        b: &Beneficiary,
        target: CaseState,
        signature_sha: &str,
    ) -> Result<()> {
        let catalog = self.catalog.clone();
        let st = catalog.support_types.choose(rng).unwrap();
        let n = self.next_number("case")?;
        let number = format!("{}-{:06}", self.session.number_prefix, n);
        let channel = *Channel::ALL.choose(rng).unwrap();
        let mut c = Case::new_draft(CaseId::new_v7(), number, b.id, &st.code, channel, &catalog);
        c.need = format!(
            "{} — الأسرة من {} أفراد",
            st.name_ar,
            b.effective_household_size()
        );
        if target != CaseState::Draft {
            c.documents = st
                .required_documents
                .iter()
                .map(|code| DocumentCheck {
                    code: code.clone(),
                    required: true,
                    attachment: Some(signature_sha.to_owned()),
                    seen_in_original: true,
                    seen_by: Some(self.session.actor.staff_id),
                })
                .collect();
            c.declaration = Some(Declaration {
                text: catalog.declaration_ar.clone(),
                signature: Signature::Drawn {
                    attachment: signature_sha.to_owned(),
                },
                employee: self.session.actor.staff_id,
                employee_name: self.session.actor.display_name.clone(),
                signed_at: self.now,
            });
        }
        self.insert_case(&c)?;
        let notes = [
            "الإجراءات غير واضحة للمستفيد",
            "نقص في صورة سجل الأسرة",
            "تظلم المستفيد",
            "الدخل يتجاوز حد الاستحقاق",
        ];
        let start = self.now;
        for (i, t) in path_to(target).iter().enumerate() {
            self.now = start + Duration::hours(6 * i as i64 + 1);
            if *t == Transition::ResearchDone {
                continue;
            }
            let note = if t.rule().needs_note {
                *notes.choose(rng).unwrap()
            } else {
                ""
            };
            if *t == Transition::Deliver {
                let d = Delivery {
                    id: DeliveryId::new_v7(),
                    case_id: c.id,
                    kind: st.code.clone(),
                    amount_halalas: Some(rng.random_range(5..50) * 10_000),
                    items: String::new(),
                    delivered_on: self.now.date_naive(),
                    delivered_by: self.session.actor.staff_id,
                    delivered_by_name: self.session.actor.display_name.clone(),
                };
                self.insert_delivery(&d)?;
            }
            let (next, _) = self.apply_transition(c.id, *t, note)?;
            c = next;
        }
        if target == CaseState::InResearch && rng.random_bool(0.5) {
            c = self.edit_case(c.id, None, |c| {
                c.research_report = Some(ResearchReport {
                    text: "زيارة منزلية: الأسرة تسكن في شقة مستأجرة والدخل لا يغطي الإيجار".into(),
                    recommendation: "يوصى بالقبول".into(),
                    researcher: self.session.actor.staff_id,
                    researcher_name: self.session.actor.display_name.clone(),
                    written_at: self.now,
                });
                Ok(())
            })?;
        }
        if matches!(target, CaseState::Served | CaseState::Closed) && rng.random_bool(0.7) {
            let mut s = Survey {
                id: SurveyId::new_v7(),
                case_id: Some(c.id),
                delivery_id: None,
                overall: rng.random_range(3..=5),
                speed: rng.random_range(2..=5),
                courtesy: rng.random_range(3..=5),
                clarity: rng.random_range(2..=5),
                comment: String::new(),
                anonymous: rng.random_bool(0.2),
                channel: Channel::Phone,
                answered_on: self.now.date_naive(),
                support_type: String::new(),
                employee: None,
            };
            self.insert_survey(&mut s)?;
        }
        let purposes = [
            Purpose::Inquiry,
            Purpose::FollowUp,
            Purpose::Complaint,
            Purpose::Suggestion,
        ];
        let i = Interaction {
            id: InteractionId::new_v7(),
            beneficiary_id: Some(b.id),
            case_id: Some(c.id),
            channel,
            direction: Direction::Inbound,
            purpose: *purposes.choose(rng).unwrap(),
            summary: "استفسار عن حالة الطلب".into(),
            outcome: "أفيد بموعد الرد".into(),
            follow_up_on: None,
            staff: self.session.actor.staff_id,
            at: self.now,
            contact_name: String::new(),
            contact_phone: None,
            attachments: Vec::new(),
            answers: None,
        };
        self.insert_interaction(&i, None)?;
        self.refresh_rule_tasks_for(&c)?;
        Ok(())
    }
}

/// What `generate` made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DemoReport {
    pub beneficiaries: usize,
    pub cases: usize,
}

impl Store {
    /// Add `n` synthetic beneficiaries; about one in three gets a case, spread over every state
    /// and over the last 40 days so promised dates are on track, due soon and overdue; half are
    /// beneficiaries of earlier years, whose file (and its number) is already open.
    pub fn generate_demo(
        &mut self,
        n: usize,
        seed: u64,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<DemoReport> {
        let mut rng = StdRng::seed_from_u64(seed);
        let signature = self.put_attachment(PNG_1X1)?;
        let mut session = self.session.clone();
        session.actor.roles = Role::ALL.to_vec();
        let mut report = DemoReport::default();
        let today = self.now().date_naive();
        let base_now = self.now();
        let mut done = 0;
        const BATCH: usize = 5000;
        while done < n {
            let take = BATCH.min(n - done);
            let (people, cases) = (report.beneficiaries, report.cases);
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut w = Writer {
                tx,
                session: &session,
                catalog: &self.catalog,
                now: base_now,
                // Demo data is one bulk change: audited once per batch, with its counts.
                audit_each_op: false,
            };
            for i in 0..take {
                let k = done + i;
                let with_case = k % 3 == 0 || k < 33;
                let mut b = beneficiary(&mut rng, today);
                if with_case && b.mobile.is_none() {
                    // Submission needs a way to tell the beneficiary the decision.
                    b.mobile = Some(mobile(&mut rng));
                }
                // Every other person is a beneficiary of earlier years (some applying again):
                // their file was opened then, numbered as "complete registration" numbers it.
                if k % 2 == 1 {
                    let n = w.next_number("file")?;
                    b.file_number = Some(sila_domain::beneficiary::file_number(
                        &session.number_prefix,
                        n,
                    ));
                }
                w.now = base_now;
                match w.insert_beneficiary(&b, &session.branch) {
                    Ok(()) => report.beneficiaries += 1,
                    // A random ID that happens to repeat: skip that person, as a desk would.
                    Err(crate::StoreError::DuplicateNationalId { .. }) => continue,
                    Err(e) => return Err(e),
                }
                if with_case {
                    let target = CaseState::ALL[(k / 3 + k) % CaseState::ALL.len()];
                    w.now = base_now - Duration::hours(rng.random_range(0..40 * 24));
                    w.demo_case(&mut rng, &b, target, &signature)?;
                    report.cases += 1;
                }
            }
            w.audit_with(
                "demo_data",
                "store",
                &w.session.device.to_string(),
                &serde_json::json!({
                    "beneficiaries": report.beneficiaries - people,
                    "cases": report.cases - cases,
                }),
            )?;
            w.commit()?;
            done += take;
            progress(done, n);
        }
        Ok(report)
    }
}
