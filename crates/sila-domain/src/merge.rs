//! Merging two registrations of one person: the rule the branch and HQ share.
//!
//! A merge keeps one record (the survivor) and retires the other (the merged one, which then
//! points at the survivor). For each top-level field a person chooses the value of one of the two
//! records: a merge picks, it never edits, so every chosen value must equal one of the two records'
//! values. [`merge`] returns the survivor's new record, where each chosen field came from, and the
//! survivor's previous values of the fields it took from the other record, which is all [`undo`]
//! needs to put the survivor back.

use crate::beneficiary::Beneficiary;
use crate::field_error::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Which of the two records a chosen value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Survivor,
    Merged,
}

/// What a merge decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The survivor's record after the merge.
    pub record: Beneficiary,
    /// Each chosen field and the record its value came from.
    pub provenance: BTreeMap<String, Side>,
    /// The survivor's values, before the merge, of the fields that took the other record's value.
    pub previous: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("a record cannot be merged into itself")]
    SameRecord,
    #[error("the id of the survivor cannot change")]
    IdCannotChange,
    #[error("a chosen value comes from neither record")]
    NotFromEither { field: String },
    #[error("the merged record is not valid")]
    Invalid(Vec<FieldError>),
}

impl MergeError {
    pub fn code(&self) -> &'static str {
        match self {
            MergeError::SameRecord => "merge_same_record",
            MergeError::IdCannotChange => "merge_id_cannot_change",
            MergeError::NotFromEither { .. } => "merge_value_not_from_either",
            MergeError::Invalid(_) => "invalid_input",
        }
    }
    pub fn arabic_message(&self) -> String {
        match self {
            MergeError::SameRecord => "لا يُدمج الملف في نفسه".into(),
            MergeError::IdCannotChange => "لا يتغير معرّف الملف الباقي".into(),
            MergeError::NotFromEither { .. } => "كل قيمة مختارة يجب أن تكون من أحد الملفين".into(),
            MergeError::Invalid(fields) => fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("؛ "),
        }
    }
}

/// Merge `merged` into `survivor`, taking for each field in `chosen` the given value, which must be
/// one of the two records' values for that field. Fields not chosen keep the survivor's value.
/// A value both records hold counts as the survivor's.
pub fn merge(
    survivor: &Beneficiary,
    merged: &Beneficiary,
    chosen: &Map<String, Value>,
    today: chrono::NaiveDate,
) -> Result<Merged, MergeError> {
    if survivor.id == merged.id {
        return Err(MergeError::SameRecord);
    }
    let mut s = to_map(survivor);
    let m = to_map(merged);
    let mut provenance = BTreeMap::new();
    let mut previous = Map::new();
    for (field, value) in chosen {
        if field == "id" {
            return Err(MergeError::IdCannotChange);
        }
        let theirs = s.get(field).cloned().unwrap_or(Value::Null);
        let other = m.get(field).cloned().unwrap_or(Value::Null);
        let side = if *value == theirs {
            Side::Survivor
        } else if *value == other {
            Side::Merged
        } else {
            return Err(MergeError::NotFromEither {
                field: field.clone(),
            });
        };
        provenance.insert(field.clone(), side);
        if side == Side::Merged {
            previous.insert(field.clone(), theirs);
            s.insert(field.clone(), value.clone());
        }
    }
    let record: Beneficiary = serde_json::from_value(Value::Object(s)).map_err(|_| {
        MergeError::Invalid(vec![FieldError::new(
            "record",
            "invalid_value",
            "قيمة غير صالحة",
        )])
    })?;
    record.validate(today).map_err(MergeError::Invalid)?;
    Ok(Merged {
        record,
        provenance,
        previous,
    })
}

/// Undo a merge on the survivor as it is now: each field the merge changed goes back to its
/// previous value, unless it was changed again since (then today's value stays, and the field is
/// named in the second part of the answer so a person can look at it).
pub fn undo(
    current: &Beneficiary,
    merged_from: &Beneficiary,
    previous: &Map<String, Value>,
) -> (Beneficiary, Vec<String>) {
    let mut now = to_map(current);
    let other = to_map(merged_from);
    let mut kept = Vec::new();
    for (field, before) in previous {
        if field == "id" {
            continue;
        }
        let merged_value = other.get(field).cloned().unwrap_or(Value::Null);
        let current_value = now.get(field).cloned().unwrap_or(Value::Null);
        if current_value == merged_value {
            now.insert(field.clone(), before.clone());
        } else {
            kept.push(field.clone());
        }
    }
    let restored = serde_json::from_value(Value::Object(now)).unwrap_or_else(|_| current.clone());
    (restored, kept)
}

fn to_map(b: &Beneficiary) -> Map<String, Value> {
    match serde_json::to_value(b) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beneficiary::PersonName;
    use crate::ids::BeneficiaryId;
    use crate::phone::Mobile;
    use serde_json::json;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn two() -> (Beneficiary, Beneficiary) {
        let mut a = Beneficiary::new(
            BeneficiaryId::new_v7(),
            PersonName::from_full("منيرة سعد السبيعي"),
        );
        a.city = "الأفلاج".into();
        let mut b = Beneficiary::new(
            BeneficiaryId::new_v7(),
            PersonName::from_full("منيره سعد السبيعى"),
        );
        b.mobile = Some(Mobile::parse("0551234567").unwrap());
        b.city = "مروان".into();
        (a, b)
    }

    #[test]
    fn each_field_comes_from_the_record_it_was_chosen_from() {
        let (a, b) = two();
        let chosen = json!({
            "mobile": b.mobile,
            "city": "الأفلاج",
            "name": a.name,
        });
        let m = merge(&a, &b, chosen.as_object().unwrap(), today()).unwrap();
        assert_eq!(m.record.id, a.id);
        assert_eq!(m.record.mobile, b.mobile);
        assert_eq!(m.record.city, "الأفلاج");
        assert_eq!(m.record.name, a.name);
        assert_eq!(m.provenance["mobile"], Side::Merged);
        assert_eq!(m.provenance["city"], Side::Survivor);
        assert_eq!(m.previous.keys().collect::<Vec<_>>(), ["mobile"]);
        assert_eq!(m.previous["mobile"], Value::Null);
    }

    #[test]
    fn a_merge_picks_and_never_edits() {
        let (a, b) = two();
        let e = merge(
            &a,
            &b,
            json!({"city": "الرياض"}).as_object().unwrap(),
            today(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            MergeError::NotFromEither {
                field: "city".into()
            }
        );
        let e = merge(&a, &b, json!({"id": b.id}).as_object().unwrap(), today()).unwrap_err();
        assert_eq!(e, MergeError::IdCannotChange);
        assert_eq!(
            merge(&a, &a, &Map::new(), today()).unwrap_err(),
            MergeError::SameRecord
        );
    }

    #[test]
    fn undo_puts_back_what_the_merge_took_unless_it_changed_since() {
        let (a, b) = two();
        let chosen = json!({"mobile": b.mobile, "city": "مروان"});
        let m = merge(&a, &b, chosen.as_object().unwrap(), today()).unwrap();
        let (back, kept) = undo(&m.record, &b, &m.previous);
        assert_eq!(back, a);
        assert!(kept.is_empty());

        let mut edited = m.record.clone();
        edited.city = "الرياض".into();
        let (back, kept) = undo(&edited, &b, &m.previous);
        assert_eq!(back.mobile, None);
        assert_eq!(back.city, "الرياض", "an edit made after the merge stays");
        assert_eq!(kept, ["city"]);
    }
}
