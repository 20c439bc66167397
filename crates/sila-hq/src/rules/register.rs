//! HQ's register changes one field of a person: the value is read as the branch's edit screen
//! reads it (an ID or a mobile in any form the domain accepts, a date, a code), the whole record
//! must still be the domain's `Beneficiary` and pass its `validate`, and then it is written as
//! HQ's per-field edit (`hq::edit_beneficiary`), which its branch receives by the feed.

use super::hq;
use crate::storage::{Kind, Tx};
use crate::store::HqActor;
use crate::{HqError, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};
use sila_domain::beneficiary::Beneficiary;
use sila_domain::error::FieldError;
use sila_domain::national_id::NationalId;
use sila_domain::phone::Mobile;

/// The fields of a person the register edits, one at a time. Household members, incomes and
/// housing are lists the branch's form edits as a whole; the register leaves them to it.
pub const EDITABLE: [&str; 14] = [
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
];

/// Longest free text of a field (the name has the domain's own limit).
const MAX_TEXT: usize = 200;
const MAX_HEALTH: usize = 2_000;

fn invalid(field: &str) -> FieldError {
    FieldError::new(field, "invalid_value", "قيمة غير صالحة")
}

/// The value as the record stores it, or the domain's reason it is not one.
fn normalise(field: &str, value: &Value) -> Result<Value, FieldError> {
    let text = || value.as_str().map(str::trim).unwrap_or("");
    let blank = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
    Ok(match field {
        "name" => {
            if !value.is_object() {
                return Err(invalid(field));
            }
            value.clone()
        }
        "national_id" if blank => Value::Null,
        "national_id" => {
            let id = NationalId::parse(text())
                .map_err(|e| FieldError::new(field, e.code(), e.arabic_message()))?;
            Value::String(id.as_str().to_owned())
        }
        "mobile" if blank => Value::Null,
        "mobile" => {
            let m = Mobile::parse(text())
                .map_err(|e| FieldError::new(field, e.code(), e.arabic_message()))?;
            serde_json::to_value(m).map_err(|_| invalid(field))?
        }
        "id_expiry" | "birth_date" if blank => Value::Null,
        "id_expiry" | "birth_date" => {
            let d = NaiveDate::parse_from_str(text(), "%Y-%m-%d").map_err(|_| invalid(field))?;
            Value::String(d.to_string())
        }
        "gender" | "marital_status" | "preferred_channel" if blank => Value::Null,
        "gender" | "marital_status" | "preferred_channel" => Value::String(text().to_owned()),
        "household_size" if blank => Value::Null,
        "household_size" => {
            let n = value
                .as_u64()
                .or_else(|| text().parse().ok())
                .filter(|n| (1..=99).contains(n))
                .ok_or_else(|| invalid(field))?;
            Value::from(n)
        }
        _ => {
            let max = if field == "health_conditions" {
                MAX_HEALTH
            } else {
                MAX_TEXT
            };
            if !(value.is_string() || value.is_null()) {
                return Err(invalid(field));
            }
            if text().chars().count() > max {
                return Err(FieldError::new(field, "too_long", "النص أطول من المسموح"));
            }
            Value::String(text().to_owned())
        }
    })
}

/// Change one field of a person as `staff` at HQ. `Ok(Err(..))`: the domain refused the value,
/// nothing was written. Returns the record's version. An edit that changed something is noted
/// (who, when, which field) for the branch's timeline.
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
    let value = match normalise(field, value) {
        Ok(v) => v,
        Err(e) => return Ok(Err(vec![e])),
    };
    let mut next = rec.data.clone();
    next[field] = value.clone();
    let person: Beneficiary = match serde_json::from_value(next) {
        Ok(b) => b,
        Err(_) => return Ok(Err(vec![invalid(field)])),
    };
    if let Err(errors) = person.validate(today) {
        return Ok(Err(errors));
    }
    let mut changes = Map::new();
    changes.insert(field.to_owned(), value);
    let version = hq::edit_beneficiary(tx, id, &changes, now)?;
    if version != rec.version {
        tx.note_hq_edit(
            Kind::Beneficiary,
            id,
            version,
            staff,
            &[field.to_owned()],
            now,
        )?;
    }
    Ok(Ok(version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_read_as_the_branch_reads_them() {
        assert_eq!(
            normalise("mobile", &json!("0501234567")).unwrap(),
            json!("+966501234567")
        );
        assert_eq!(normalise("mobile", &json!(" ")).unwrap(), Value::Null);
        assert_eq!(
            normalise("mobile", &json!("12")).unwrap_err().field,
            "mobile"
        );
        assert_eq!(
            normalise("national_id", &json!("١٠١٢٣٤٥٦٧٢")).unwrap(),
            json!("1012345672")
        );
        assert_eq!(
            normalise("birth_date", &json!("1990-13-01"))
                .unwrap_err()
                .code,
            "invalid_value"
        );
        assert_eq!(
            normalise("city", &json!("ا".repeat(201))).unwrap_err().code,
            "too_long"
        );
        assert_eq!(normalise("household_size", &json!("4")).unwrap(), json!(4));
    }
}
