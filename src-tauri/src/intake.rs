//! Unpacking the intake wizard's form (strings as typed) into domain values, with every problem
//! reported against its field. The rules themselves are the domain's (`sila_domain::form`, which
//! HQ's register reads through too, `Beneficiary::validate…`, `Intake::problems`); this module
//! only routes each typed string to its reader and each error to its field name.

use crate::dto::{IdentityForm, IntakeDraft, MemberForm};
use chrono::NaiveDate;
use sila_domain::beneficiary::{Beneficiary, HouseholdMember, PersonName};
use sila_domain::case::{Applicant, Intake, IntakeDocument, IntakeSignature};
use sila_domain::catalog::{Catalog, Channel};
use sila_domain::error::FieldError;
use sila_domain::form::{self, choice as enum_field, date, national_id};
use sila_domain::ids::BeneficiaryId;

pub use sila_domain::form::code;

fn identity(f: &IdentityForm, b: &mut Beneficiary, errors: &mut Vec<FieldError>) {
    let name = PersonName {
        first: f.first.trim().into(),
        father: f.father.trim().into(),
        grandfather: f.grandfather.trim().into(),
        family: f.family.trim().into(),
        as_written: String::new(),
    };
    // The name as written (from a sheet, say) stays while its parts do.
    let same_parts = [&name.first, &name.father, &name.grandfather, &name.family]
        == [
            &b.name.first,
            &b.name.father,
            &b.name.grandfather,
            &b.name.family,
        ];
    if !same_parts {
        b.name = name;
    }
    if f.first.trim().is_empty() {
        errors.push(FieldError::required("identity.first"));
    }
    if f.family.trim().is_empty() {
        errors.push(FieldError::required("identity.family"));
    }
    b.national_id = national_id("identity.national_id", &f.national_id, errors);
    b.id_expiry = date("identity.id_expiry", &f.id_expiry, errors);
    b.nationality = f.nationality.trim().into();
    b.gender = enum_field("identity.gender", &f.gender, errors);
    b.birth_date = date("identity.birth_date", &f.birth_date, errors);
    b.marital_status = enum_field("identity.marital_status", &f.marital_status, errors);
    b.mobile = form::mobile("identity.mobile", &f.mobile, errors);
    b.city = f.city.trim().into();
    b.centre = f.centre.trim().into();
    b.district = f.district.trim().into();
    b.preferred_channel = enum_field("identity.preferred_channel", &f.preferred_channel, errors);
}

fn member(i: usize, m: &MemberForm, errors: &mut Vec<FieldError>) -> HouseholdMember {
    form::member(
        i,
        &form::MemberText {
            id: &m.id,
            name: &m.name,
            relation: &m.relation,
            national_id: &m.national_id,
            birth_date: &m.birth_date,
            disability: m.disability,
            schooling: &m.schooling,
        },
        errors,
    )
}

/// The fields of a person that the wizard's identity and household steps (and the edit screen) show.
pub struct PersonForm<'a> {
    pub identity: &'a IdentityForm,
    pub household: &'a [MemberForm],
    pub monthly_income: &'a str,
    pub housing: &'a str,
    pub annual_rent: &'a str,
}

impl<'a> PersonForm<'a> {
    pub fn of(d: &'a IntakeDraft) -> PersonForm<'a> {
        PersonForm {
            identity: &d.identity,
            household: &d.household,
            monthly_income: &d.monthly_income,
            housing: &d.housing,
            annual_rent: &d.annual_rent,
        }
    }
}

/// The beneficiary the draft describes, or every problem with it (field names as the UI's).
/// `for_submission` adds what must hold at submission (mobile, ID not expired).
pub fn beneficiary(
    d: &IntakeDraft,
    id: BeneficiaryId,
    today: NaiveDate,
    for_submission: bool,
) -> Result<Beneficiary, Vec<FieldError>> {
    edited(
        &Beneficiary::new(id, PersonName::default()),
        &PersonForm::of(d),
        today,
        for_submission,
    )
}

/// `base` with what the form says: every field the form shows is taken from it, everything else
/// (file number, health, categories) stays as it was. Or every problem, per field.
pub fn edited(
    base: &Beneficiary,
    form: &PersonForm<'_>,
    today: NaiveDate,
    for_submission: bool,
) -> Result<Beneficiary, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut b = base.clone();
    identity(form.identity, &mut b, &mut errors);
    b.household = form
        .household
        .iter()
        .enumerate()
        .map(|(i, m)| member(i, m, &mut errors))
        .collect();
    b.incomes = form::incomes(base, form.monthly_income, &mut errors);
    b.housing = form::housing(form.housing, form.annual_rent, &mut errors);
    let checked = if for_submission {
        b.validate_for_submission(today)
    } else {
        b.validate(today)
    };
    if let Err(more) = checked {
        for e in more {
            let field = match e.field.as_str() {
                "name" => "identity.first".to_owned(),
                f if f.starts_with("household") || f == "housing" => f.to_owned(),
                f if f.starts_with("incomes") => "monthly_income".to_owned(),
                f => format!("identity.{f}"),
            };
            if !errors.iter().any(|x| x.field == field) {
                errors.push(FieldError::new(&field, &e.code, &e.message));
            }
        }
    }
    if errors.is_empty() {
        Ok(b)
    } else {
        Err(errors)
    }
}

fn text_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn text_code<T: serde::Serialize>(v: &Option<T>) -> String {
    v.as_ref()
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A stored beneficiary as the form shows it (the inverse of [`edited`]): what the edit screen and
/// a returning applicant's identity step start from. Dates are ISO Gregorian, amounts riyals.
pub fn form_of(b: &Beneficiary) -> (IdentityForm, Vec<MemberForm>, String, String, String) {
    let riyals = |h: i64| {
        if h % 100 == 0 {
            (h / 100).to_string()
        } else {
            format!("{}.{:02}", h / 100, h % 100)
        }
    };
    let identity = IdentityForm {
        first: b.name.first.clone(),
        father: b.name.father.clone(),
        grandfather: b.name.grandfather.clone(),
        family: b.name.family.clone(),
        national_id: b
            .national_id
            .as_ref()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        id_expiry: text_date(b.id_expiry),
        nationality: b.nationality.clone(),
        gender: text_code(&b.gender),
        birth_date: text_date(b.birth_date),
        marital_status: text_code(&b.marital_status),
        mobile: b.mobile.as_ref().map(|m| m.national()).unwrap_or_default(),
        city: b.city.clone(),
        centre: b.centre.clone(),
        district: b.district.clone(),
        preferred_channel: b
            .preferred_channel
            .map(|c| c.code().to_owned())
            .unwrap_or_default(),
    };
    let household = b
        .household
        .iter()
        .map(|m| MemberForm {
            id: m.id.to_string(),
            name: m.name.clone(),
            relation: text_code(&Some(m.relation)),
            national_id: m
                .national_id
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
            birth_date: text_date(m.birth_date),
            disability: m.disability,
            schooling: text_code(&m.schooling),
        })
        .collect();
    let income = if b.incomes.is_empty() {
        String::new()
    } else {
        riyals(b.monthly_income())
    };
    let housing = b
        .housing
        .as_ref()
        .map(|h| text_code(&Some(h.kind)))
        .unwrap_or_default();
    let rent = b
        .housing
        .as_ref()
        .and_then(|h| h.annual_rent_halalas)
        .map(riyals)
        .unwrap_or_default();
    (identity, household, income, housing, rent)
}

/// The intake the draft describes, ready for `Store::submit_intake`, or every problem with it:
/// what cannot be read from the form (`channel`; the applicant's fields, as `person` reports
/// them: the draft's person, new or on file, read for submission) and what the domain refuses
/// (`Intake::request_problems`: support type, need, documents, declaration). `on_file_version`:
/// the version of the applicant's file the wizard read, for someone already on file.
pub fn intake(
    d: &IntakeDraft,
    person: Result<Beneficiary, Vec<FieldError>>,
    on_file_version: Option<i64>,
    catalog: &Catalog,
) -> Result<Intake, Vec<FieldError>> {
    let mut errors = Vec::new();
    let channel = Channel::from_code(&d.channel).unwrap_or_else(|| {
        errors.push(FieldError::new("channel", "required", "اختر قناة التواصل"));
        Channel::Interview
    });
    // The person's problems come from the form, with the form's field names; the request's
    // from the domain. (The store asks the domain about both again when it saves.)
    let person = person.unwrap_or_else(|e| {
        errors.extend(e);
        Beneficiary::new(BeneficiaryId::new_v7(), PersonName::default())
    });
    let applicant = match on_file_version {
        Some(base_version) => Applicant::OnFile {
            beneficiary: Box::new(person),
            base_version,
        },
        None => Applicant::New(Box::new(person)),
    };
    let intake = Intake {
        applicant,
        support_type: d.support_type.trim().to_owned(),
        channel,
        reason: d.reason.trim().to_owned(),
        need: d.need.trim().to_owned(),
        documents: d
            .documents
            .iter()
            .filter_map(|doc| {
                Some(IntakeDocument {
                    code: doc.code.clone(),
                    attachment: doc.attachment.clone()?,
                    seen_in_original: doc.seen_in_original,
                })
            })
            .collect(),
        signature: d
            .signature_attachment
            .clone()
            .map(|attachment| IntakeSignature {
                attachment,
                on_paper: d.signature_kind == "on_paper",
            }),
    };
    errors.extend(intake.request_problems(catalog));
    if errors.is_empty() {
        Ok(intake)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> IntakeDraft {
        IntakeDraft {
            identity: IdentityForm {
                first: "محمد".into(),
                father: "عبد الله".into(),
                grandfather: "سعد".into(),
                family: "الدوسري".into(),
                national_id: "1000000008".into(),
                mobile: "٠٥٥١٢٣٤٥٦٧".into(),
                birth_date: "1410/05/12".into(),
                gender: "male".into(),
                ..Default::default()
            },
            household: vec![MemberForm {
                name: "سارة".into(),
                relation: "daughter".into(),
                birth_date: "2015-03-01".into(),
                ..Default::default()
            }],
            monthly_income: "3,500".into(),
            housing: "rented".into(),
            annual_rent: "١٨٠٠٠".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_form_becomes_a_beneficiary() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let b = beneficiary(&draft(), BeneficiaryId::new_v7(), today, true).unwrap();
        assert_eq!(b.name.full(), "محمد عبد الله سعد الدوسري");
        assert_eq!(b.mobile.as_ref().unwrap().as_str(), "+966551234567");
        assert_eq!(b.household.len(), 1);
        assert_eq!(b.monthly_income(), 350_000);
        assert_eq!(b.housing.unwrap().annual_rent_halalas, Some(1_800_000));
    }

    #[test]
    fn a_stored_beneficiary_round_trips_through_its_form_unchanged() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut b = beneficiary(&draft(), BeneficiaryId::new_v7(), today, true).unwrap();
        b.file_number = Some("AFL-K3F-F00001".into());
        b.health_conditions = "سكري".into();
        b.name.as_written = "محمد بن عبد الله بن سعد الدوسري".into();
        let (identity, household, income, housing, rent) = form_of(&b);
        let form = PersonForm {
            identity: &identity,
            household: &household,
            monthly_income: &income,
            housing: &housing,
            annual_rent: &rent,
        };
        assert_eq!(
            edited(&b, &form, today, true).unwrap(),
            b,
            "nothing changed, nothing differs"
        );
        let mut identity = identity.clone();
        identity.city = "مروان".into();
        identity.family = "آل دوسر".into();
        let form = PersonForm {
            identity: &identity,
            ..form
        };
        let e = edited(&b, &form, today, true).unwrap();
        assert_eq!(e.city, "مروان");
        assert_eq!(
            e.name.full(),
            "محمد عبد الله سعد آل دوسر",
            "new parts, so the written form goes"
        );
        assert_eq!(
            e.file_number, b.file_number,
            "fields the form does not show stay"
        );
        assert_eq!(e.health_conditions, "سكري");
        assert_eq!(e.household[0].id, b.household[0].id);
    }

    #[test]
    fn each_problem_is_reported_beside_its_field() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let mut d = draft();
        d.identity.national_id = "1000000009".into();
        d.identity.mobile = "12345".into();
        d.household[0].name.clear();
        d.identity.id_expiry = "2020-01-01".into();
        let errors = beneficiary(&d, BeneficiaryId::new_v7(), today, true).unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert!(
            fields.contains(&("identity.national_id", "id_bad_checksum")),
            "{fields:?}"
        );
        assert!(
            fields.iter().any(|f| f.0 == "identity.mobile"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("household[0].name", "required")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("identity.id_expiry", "id_expired")),
            "{fields:?}"
        );
        assert!(errors.iter().all(|e| !e.message.is_empty()));
    }
}
