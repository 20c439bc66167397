//! HQ's register changes one field of a person: the value is read as the branch's edit screen
//! reads it, through the same readers (`sila_domain::form`: an ID or a mobile in any form the
//! domain accepts, a date in either calendar, a code from a list, the household's members, the
//! monthly income in riyals, the housing and its rent), the whole record must still pass the
//! domain's `validate`, and then the record fields that changed are written as HQ's per-field
//! edit (`hq::edit_beneficiary`), which its branch receives by the feed with who made it.

use super::hq;
use crate::storage::{Kind, Tx};
use crate::store::{Audit, HqActor};
use crate::{HqError, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sila_domain::beneficiary::{Beneficiary, PersonName};
use sila_domain::catalog::Channel;
use sila_domain::error::FieldError;
use sila_domain::form;

/// The fields of a person the register edits, one at a time. `household` is the whole list of
/// members, `monthly_income` the total in riyals (the record's `incomes`), `housing` its kind and
/// yearly rent: as the branch's edit screen takes them.
pub const EDITABLE: [&str; 17] = [
    "name",
    "national_id",
    "id_expiry",
    "nationality",
    "gender",
    "birth_date",
    "marital_status",
    "mobile",
    "city",
    "centre",
    "district",
    "preferred_channel",
    "household_size",
    "health_conditions",
    "household",
    "monthly_income",
    "housing",
];

/// Longest free text of a field (the name has the domain's own limit).
const MAX_TEXT: usize = 200;
const MAX_HEALTH: usize = 2_000;
/// The most members a household edit may list.
const MAX_MEMBERS: usize = 60;

/// A household member as the register's form sends it (strings as typed, like the branch's).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MemberBody {
    pub id: String,
    pub name: String,
    pub relation: String,
    pub national_id: String,
    pub birth_date: String,
    pub disability: bool,
    pub schooling: String,
}

/// The housing as the register's form sends it: the kind's code ("" for none) and the yearly
/// rent in riyals.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HousingBody {
    pub kind: String,
    pub annual_rent: String,
}

fn invalid(field: &str) -> FieldError {
    FieldError::new(field, "invalid_value", "قيمة غير صالحة")
}

/// The text a field's value gives (a number as its digits), or why it is not text.
fn text_of(field: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid(field)),
    }
}

fn limited(field: &str, text: String, max: usize) -> Result<String, FieldError> {
    if text.chars().count() > max {
        return Err(FieldError::new(field, "too_long", "النص أطول من المسموح"));
    }
    Ok(text)
}

/// `b` with `field` set to what the value says, read as the branch's edit screen reads it, or
/// the reasons it cannot be (per field, household members as `household[i].…`).
fn apply(b: &mut Beneficiary, field: &str, value: &Value) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let one = |e: FieldError| vec![e];
    match field {
        "name" => {
            b.name = PersonName::deserialize(value).map_err(|_| one(invalid(field)))?;
        }
        "household" => {
            let members: Vec<MemberBody> =
                Vec::deserialize(value).map_err(|_| one(invalid(field)))?;
            if members.len() > MAX_MEMBERS {
                return Err(one(FieldError::new(
                    field,
                    "too_many",
                    "عدد أفراد الأسرة أكبر من المسموح",
                )));
            }
            b.household = members
                .iter()
                .enumerate()
                .map(|(i, m)| {
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
                        &mut errors,
                    )
                })
                .collect();
        }
        "housing" => {
            let h = if value.is_null() {
                HousingBody::default()
            } else {
                HousingBody::deserialize(value).map_err(|_| one(invalid(field)))?
            };
            b.housing = form::housing(&h.kind, &h.annual_rent, &mut errors);
        }
        _ => {
            let text = text_of(field, value).map_err(one)?;
            match field {
                "national_id" => b.national_id = form::national_id(field, &text, &mut errors),
                "mobile" => b.mobile = form::mobile(field, &text, &mut errors),
                "id_expiry" => b.id_expiry = form::date(field, &text, &mut errors),
                "birth_date" => b.birth_date = form::date(field, &text, &mut errors),
                "gender" => b.gender = form::choice(field, &text, &mut errors),
                "marital_status" => b.marital_status = form::choice(field, &text, &mut errors),
                "preferred_channel" => {
                    b.preferred_channel = form::choice::<Channel>(field, &text, &mut errors)
                }
                "monthly_income" => {
                    let base = b.clone();
                    b.incomes = form::incomes(&base, &text, &mut errors);
                }
                "household_size" if text.is_empty() => b.household_size = None,
                "household_size" => {
                    let n = sila_domain::arabic::fold_digits(&text)
                        .parse::<u16>()
                        .ok()
                        .filter(|n| (1..=99).contains(n))
                        .ok_or_else(|| one(invalid(field)))?;
                    b.household_size = Some(n);
                }
                "health_conditions" => {
                    b.health_conditions = limited(field, text, MAX_HEALTH).map_err(one)?
                }
                "nationality" => b.nationality = limited(field, text, MAX_TEXT).map_err(one)?,
                "city" => b.city = limited(field, text, MAX_TEXT).map_err(one)?,
                "centre" => b.centre = limited(field, text, MAX_TEXT).map_err(one)?,
                "district" => b.district = limited(field, text, MAX_TEXT).map_err(one)?,
                _ => return Err(one(invalid(field))),
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Change one field of a person as `staff` at HQ. `Ok(Err(..))`: the domain refused the value,
/// nothing was written. Returns the record's version. An edit that changed something is noted
/// (who, when, which record fields) for the branch's timeline.
pub fn edit_person(
    tx: &mut dyn Tx,
    staff: &HqActor,
    id: &str,
    field: &str,
    value: &Value,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Result<i64, Vec<FieldError>>> {
    if !EDITABLE.contains(&field) {
        return Err(HqError::BadRequest("field"));
    }
    let rec = tx
        .load(Kind::Beneficiary, id)?
        .ok_or(HqError::NotFound("beneficiary"))?;
    if rec.merged_into.is_some() {
        return Err(HqError::BadRequest("merged"));
    }
    let before: Beneficiary = serde_json::from_value(rec.data.clone())?;
    let mut after = before.clone();
    if let Err(errors) = apply(&mut after, field, value) {
        return Ok(Err(errors));
    }
    if let Err(errors) = after.validate(today) {
        return Ok(Err(errors));
    }
    // The record's fields the edit changed (`monthly_income` changes `incomes`), each sent to
    // the branch as a change of its own.
    let (Value::Object(old), Value::Object(new)) = (
        serde_json::to_value(&before)?,
        serde_json::to_value(&after)?,
    ) else {
        return Err(HqError::BadRequest("beneficiary"));
    };
    let changes: Map<String, Value> = new
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .collect();
    let version = if changes.is_empty() {
        rec.version
    } else {
        hq::edit_beneficiary(tx, id, &changes, now)?
    };
    if version != rec.version {
        let fields: Vec<String> = changes.keys().cloned().collect();
        tx.note_hq_edit(Kind::Beneficiary, id, version, staff, &fields, now)?;
    }
    tx.audit(
        &Audit::new(staff, "person.edit", "beneficiary", id)
            .detail(json!({"field": field, "version": version})),
        now,
    )?;
    Ok(Ok(version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sila_domain::ids::BeneficiaryId;

    fn edited(field: &str, value: Value) -> Result<Beneficiary, Vec<FieldError>> {
        let mut b = Beneficiary::new(BeneficiaryId::new_v7(), PersonName::from_full("أ ب"));
        apply(&mut b, field, &value).map(|()| b)
    }

    #[test]
    fn values_are_read_as_the_branch_reads_them() {
        assert_eq!(
            edited("mobile", json!("0501234567"))
                .unwrap()
                .mobile
                .unwrap()
                .as_str(),
            "+966501234567"
        );
        assert_eq!(edited("mobile", json!(" ")).unwrap().mobile, None);
        assert_eq!(
            edited("mobile", json!("12")).unwrap_err()[0].field,
            "mobile"
        );
        assert_eq!(
            edited("national_id", json!("١٠١٢٣٤٥٦٧٢"))
                .unwrap()
                .national_id
                .unwrap()
                .as_str(),
            "1012345672"
        );
        assert_eq!(
            edited("birth_date", json!("1990-13-01")).unwrap_err()[0].field,
            "birth_date"
        );
        // Either calendar, as the branch's form takes it.
        assert!(
            edited("birth_date", json!("1410/05/12"))
                .unwrap()
                .birth_date
                .is_some()
        );
        assert_eq!(
            edited("city", json!("ا".repeat(201))).unwrap_err()[0].code,
            "too_long"
        );
        assert_eq!(
            edited("household_size", json!("٤")).unwrap().household_size,
            Some(4)
        );
        assert_eq!(
            edited("monthly_income", json!("3,500"))
                .unwrap()
                .monthly_income(),
            350_000
        );
        let h = edited("housing", json!({"kind": "rented", "annual_rent": "18000"})).unwrap();
        assert_eq!(h.housing.unwrap().annual_rent_halalas, Some(1_800_000));
        assert_eq!(edited("housing", Value::Null).unwrap().housing, None);
        let e = edited(
            "household",
            json!([{"name": "سارة", "relation": "daughter"}, {"name": " ", "relation": "son"}]),
        )
        .unwrap_err();
        assert_eq!(e[0].field, "household[1].name");
        assert_eq!(
            edited("household", json!("x")).unwrap_err()[0].field,
            "household"
        );
    }
}
