//! Unpacking the intake wizard's form (strings as typed) into domain values, with every problem
//! reported against its field. The rules themselves are the domain's (`NationalId::parse`,
//! `Mobile::parse`, `dates::parse_date`, `Beneficiary::validate…`); this module only routes each
//! typed string to its parser and each error to its field name.

use crate::dto::{IdentityForm, IntakeDraft, MemberForm};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use sila_domain::beneficiary::{
    Beneficiary, HouseholdMember, Housing, HousingKind, Income, IncomeSource, PersonName,
    parse_riyals,
};
use sila_domain::error::FieldError;
use sila_domain::ids::{BeneficiaryId, MemberId};
use sila_domain::national_id::NationalId;
use sila_domain::phone::Mobile;

/// A snake_case code to one of the domain's enums (their serde names are their codes).
pub fn code<T: DeserializeOwned>(s: &str) -> Option<T> {
    if s.trim().is_empty() {
        return None;
    }
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned())).ok()
}

fn date(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    if s.trim().is_empty() {
        return None;
    }
    match sila_domain::dates::parse_date(s) {
        Ok((d, _)) => Some(d),
        Err(e) => {
            errors.push(FieldError::new(field, e.code(), e.arabic_message()));
            None
        }
    }
}

fn national_id(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<NationalId> {
    if s.trim().is_empty() {
        return None;
    }
    match NationalId::parse(s) {
        Ok(id) => Some(id),
        Err(e) => {
            errors.push(FieldError::new(field, e.code(), e.arabic_message()));
            None
        }
    }
}

fn enum_field<T: DeserializeOwned>(
    field: &str,
    s: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if s.trim().is_empty() {
        return None;
    }
    let v = code(s);
    if v.is_none() {
        errors.push(FieldError::new(
            field,
            "invalid_value",
            "اختر قيمة من القائمة",
        ));
    }
    v
}

fn identity(f: &IdentityForm, b: &mut Beneficiary, errors: &mut Vec<FieldError>) {
    b.name = PersonName {
        first: f.first.trim().into(),
        father: f.father.trim().into(),
        grandfather: f.grandfather.trim().into(),
        family: f.family.trim().into(),
        as_written: String::new(),
    };
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
    if !f.mobile.trim().is_empty() {
        match Mobile::parse(&f.mobile) {
            Ok(m) => b.mobile = Some(m),
            Err(e) => errors.push(FieldError::new(
                "identity.mobile",
                e.code(),
                e.arabic_message(),
            )),
        }
    }
    b.city = f.city.trim().into();
    b.centre = f.centre.trim().into();
    b.district = f.district.trim().into();
    b.preferred_channel = enum_field("identity.preferred_channel", &f.preferred_channel, errors);
}

fn member(i: usize, m: &MemberForm, errors: &mut Vec<FieldError>) -> HouseholdMember {
    let field = |name: &str| format!("household[{i}].{name}");
    if m.name.trim().is_empty() {
        errors.push(FieldError::required(&field("name")));
    }
    let relation = enum_field(&field("relation"), &m.relation, errors);
    if m.relation.trim().is_empty() {
        errors.push(FieldError::required(&field("relation")));
    }
    HouseholdMember {
        id: MemberId::new_v7(),
        name: m.name.trim().into(),
        relation: relation.unwrap_or(sila_domain::beneficiary::Relation::Other),
        national_id: national_id(&field("national_id"), &m.national_id, errors),
        birth_date: date(&field("birth_date"), &m.birth_date, errors),
        disability: m.disability,
        schooling: enum_field(&field("schooling"), &m.schooling, errors),
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
    let mut errors = Vec::new();
    let mut b = Beneficiary::new(id, PersonName::default());
    identity(&d.identity, &mut b, &mut errors);
    b.household = d
        .household
        .iter()
        .enumerate()
        .map(|(i, m)| member(i, m, &mut errors))
        .collect();
    if !d.monthly_income.trim().is_empty() {
        match parse_riyals(&d.monthly_income) {
            Some(h) => b.incomes.push(Income {
                source: IncomeSource::Other,
                monthly_halalas: h,
            }),
            None => errors.push(FieldError::new(
                "monthly_income",
                "invalid_amount",
                "اكتب المبلغ بالأرقام، مثل 3500",
            )),
        }
    }
    if let Some(kind) = enum_field::<HousingKind>("housing", &d.housing, &mut errors) {
        let rent = if d.annual_rent.trim().is_empty() {
            None
        } else {
            let r = parse_riyals(&d.annual_rent);
            if r.is_none() {
                errors.push(FieldError::new(
                    "annual_rent",
                    "invalid_amount",
                    "اكتب المبلغ بالأرقام، مثل 18000",
                ));
            }
            r
        };
        b.housing = Some(Housing {
            kind,
            annual_rent_halalas: rent,
        });
    }
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
