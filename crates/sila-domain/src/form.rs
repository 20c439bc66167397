//! A person's file as a form gives it (strings as typed: dates in either calendar, IDs and
//! amounts with Arabic-Indic digits, codes from a list) read into the domain's values, each
//! problem reported against its field. The branch's wizard and edit screen and HQ's register read
//! through these, so a value is accepted or refused the same way wherever it is typed.

use crate::beneficiary::{
    Beneficiary, HouseholdMember, Housing, HousingKind, Income, IncomeSource, Relation,
    parse_riyals,
};
use crate::field_error::FieldError;
use crate::ids::MemberId;
use crate::national_id::NationalId;
use crate::phone::Mobile;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;

/// A snake_case code to one of the domain's enums (their serde names are their codes).
pub fn code<T: DeserializeOwned>(s: &str) -> Option<T> {
    if s.trim().is_empty() {
        return None;
    }
    serde_json::from_value(serde_json::Value::String(s.trim().to_owned())).ok()
}

/// A date in either calendar (`dates::parse_date`); blank is none.
pub fn date(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    if s.trim().is_empty() {
        return None;
    }
    match crate::dates::parse_date(s) {
        Ok((d, _)) => Some(d),
        Err(e) => {
            errors.push(FieldError::new(field, e.code(), e.arabic_message()));
            None
        }
    }
}

/// A national ID or residence number; blank is none.
pub fn national_id(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<NationalId> {
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

/// A mobile in any form the domain reads (05…, +966…, with spaces); blank is none.
pub fn mobile(field: &str, s: &str, errors: &mut Vec<FieldError>) -> Option<Mobile> {
    if s.trim().is_empty() {
        return None;
    }
    match Mobile::parse(s) {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(FieldError::new(field, e.code(), e.arabic_message()));
            None
        }
    }
}

/// One of a list's codes; blank is none.
pub fn choice<T: DeserializeOwned>(
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

/// A household member as a form gives it.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberText<'a> {
    /// The member's ID when they are already on file ("" for one added in this form).
    pub id: &'a str,
    pub name: &'a str,
    pub relation: &'a str,
    pub national_id: &'a str,
    pub birth_date: &'a str,
    pub disability: bool,
    pub schooling: &'a str,
}

/// The `i`th member of the household, problems under `household[i].…`.
pub fn member(i: usize, m: &MemberText<'_>, errors: &mut Vec<FieldError>) -> HouseholdMember {
    let field = |name: &str| format!("household[{i}].{name}");
    if m.name.trim().is_empty() {
        errors.push(FieldError::required(&field("name")));
    }
    let relation = choice(&field("relation"), m.relation, errors);
    if m.relation.trim().is_empty() {
        errors.push(FieldError::required(&field("relation")));
    }
    HouseholdMember {
        // A member already on file keeps their ID, so an edit that leaves them alone changes nothing.
        id: m.id.parse().unwrap_or_else(|_| MemberId::new_v7()),
        name: m.name.trim().into(),
        relation: relation.unwrap_or(Relation::Other),
        national_id: national_id(&field("national_id"), m.national_id, errors),
        birth_date: date(&field("birth_date"), m.birth_date, errors),
        disability: m.disability,
        schooling: choice(&field("schooling"), m.schooling, errors),
    }
}

/// The incomes after the monthly total typed in riyals (`monthly_income`): blank is none, the
/// same total as on file keeps its sources, another total is one income.
pub fn incomes(base: &Beneficiary, monthly: &str, errors: &mut Vec<FieldError>) -> Vec<Income> {
    if monthly.trim().is_empty() {
        return Vec::new();
    }
    match parse_riyals(monthly) {
        Some(h) if h == base.monthly_income() && !base.incomes.is_empty() => base.incomes.clone(),
        Some(h) => vec![Income {
            source: IncomeSource::Other,
            monthly_halalas: h,
        }],
        None => {
            errors.push(FieldError::new(
                "monthly_income",
                "invalid_amount",
                "اكتب المبلغ بالأرقام، مثل 3500",
            ));
            base.incomes.clone()
        }
    }
}

/// The housing from its kind's code (`housing`; blank is none) and the yearly rent in riyals
/// (`annual_rent`; blank is none).
pub fn housing(kind: &str, annual_rent: &str, errors: &mut Vec<FieldError>) -> Option<Housing> {
    let kind = choice::<HousingKind>("housing", kind, errors)?;
    let rent = if annual_rent.trim().is_empty() {
        None
    } else {
        let r = parse_riyals(annual_rent);
        if r.is_none() {
            errors.push(FieldError::new(
                "annual_rent",
                "invalid_amount",
                "اكتب المبلغ بالأرقام، مثل 18000",
            ));
        }
        r
    };
    Some(Housing {
        kind,
        annual_rent_halalas: rent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beneficiary::PersonName;
    use crate::ids::BeneficiaryId;

    #[test]
    fn members_incomes_and_housing_are_read_as_typed_and_refused_per_field() {
        let mut errors = Vec::new();
        let m = member(
            1,
            &MemberText {
                name: " سارة ",
                relation: "daughter",
                birth_date: "1440/01/01",
                schooling: "nonsense",
                ..Default::default()
            },
            &mut errors,
        );
        assert_eq!((m.name.as_str(), m.relation), ("سارة", Relation::Daughter));
        assert!(m.birth_date.is_some());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["household[1].schooling"]);

        let mut base = Beneficiary::new(BeneficiaryId::new_v7(), PersonName::from_full("أ ب"));
        base.incomes = vec![
            Income {
                source: IncomeSource::Salary,
                monthly_halalas: 300_000,
            },
            Income {
                source: IncomeSource::CitizenAccount,
                monthly_halalas: 50_000,
            },
        ];
        let mut errors = Vec::new();
        assert_eq!(incomes(&base, "٣٥٠٠", &mut errors), base.incomes);
        assert_eq!(
            incomes(&base, "4,000", &mut errors)[0].monthly_halalas,
            400_000
        );
        assert!(incomes(&base, " ", &mut errors).is_empty());
        assert!(errors.is_empty());
        incomes(&base, "كثير", &mut errors);
        assert_eq!(errors[0].field, "monthly_income");

        let mut errors = Vec::new();
        let h = housing("rented", "18000", &mut errors).unwrap();
        assert_eq!(h.annual_rent_halalas, Some(1_800_000));
        assert_eq!(housing("", "18000", &mut errors), None);
        assert!(errors.is_empty());
        housing("tent", "", &mut errors);
        housing("owned", "x", &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["housing", "annual_rent"]);
    }
}
