//! The per-field merge of an edit into a record, shared by branch edits and HQ's own (console
//! edits, conflict resolutions, merges).
//!
//! An edit names the version of the record it was made on (`base`). A field changed after that
//! version by *someone else* (another device, or HQ), to a value other than the edit's, is a true
//! collision: the current value stands and both go to the conflicts queue. A field the same
//! device changed after `base` is its own earlier edit (a device's operations arrive in order), so
//! the new value simply follows it.

use crate::storage::{FieldVersion, Record};
use serde_json::{Map, Value};

/// One field the edit could not take.
#[derive(Debug, Clone, PartialEq)]
pub struct Collision {
    pub field: String,
    pub current: Value,
    pub proposed: Value,
}

/// What merging an edit did to a record (which it changed in place).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merged {
    /// Fields whose value changed.
    pub changed: Vec<String>,
    pub collisions: Vec<Collision>,
}

/// Merge `fields` into `rec` as an edit by `by` made on version `base` (None: made knowing the
/// current version, as HQ's own edits are). Raises the record's version when anything changed.
/// Fields in `fixed` are not the edit's to change and are refused by the caller before this.
pub fn merge(rec: &mut Record, fields: &Map<String, Value>, base: Option<i64>, by: &str) -> Merged {
    let mut out = Merged::default();
    let next = rec.version + 1;
    for (field, proposed) in fields {
        let current = rec.data.get(field).cloned().unwrap_or(Value::Null);
        if current == *proposed {
            continue;
        }
        let last = rec.field_version(field);
        let unseen = base.is_some_and(|b| last.v > b) && last.by != by;
        if unseen {
            out.collisions.push(Collision {
                field: field.clone(),
                current,
                proposed: proposed.clone(),
            });
            continue;
        }
        if let Some(obj) = rec.data.as_object_mut() {
            obj.insert(field.clone(), proposed.clone());
        }
        rec.fields.insert(
            field.clone(),
            FieldVersion {
                v: next,
                by: by.to_owned(),
            },
        );
        out.changed.push(field.clone());
    }
    if !out.changed.is_empty() {
        rec.version = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Kind;
    use serde_json::json;

    fn rec() -> Record {
        Record::new(
            Kind::Beneficiary,
            "b1",
            "A",
            "dev-a",
            json!({"id": "b1", "city": "x", "district": "y"}),
        )
    }

    fn edit(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn two_devices_editing_different_fields_both_land() {
        let mut r = rec();
        let a = merge(&mut r, &edit(&[("city", json!("a"))]), Some(1), "dev-a");
        let b = merge(&mut r, &edit(&[("district", json!("b"))]), Some(1), "dev-b");
        assert_eq!((a.changed.len(), b.changed.len()), (1, 1));
        assert!(a.collisions.is_empty() && b.collisions.is_empty());
        assert_eq!(r.data["city"], "a");
        assert_eq!(r.data["district"], "b");
        assert_eq!(r.version, 3);
    }

    #[test]
    fn the_same_field_from_a_device_that_had_not_seen_the_change_collides() {
        let mut r = rec();
        merge(&mut r, &edit(&[("city", json!("a"))]), Some(1), "dev-a");
        let b = merge(&mut r, &edit(&[("city", json!("b"))]), Some(1), "dev-b");
        assert_eq!(b.collisions.len(), 1);
        assert_eq!(b.collisions[0].current, json!("a"));
        assert_eq!(b.collisions[0].proposed, json!("b"));
        assert_eq!(r.data["city"], "a", "the earlier value stands");
        assert_eq!(r.version, 2, "a refused field changes nothing");
    }

    #[test]
    fn a_device_follows_its_own_earlier_edit_and_an_edit_on_the_new_version_is_no_collision() {
        let mut r = rec();
        merge(&mut r, &edit(&[("city", json!("a"))]), Some(1), "dev-a");
        let again = merge(&mut r, &edit(&[("city", json!("a2"))]), Some(1), "dev-a");
        assert!(again.collisions.is_empty());
        let seen = merge(&mut r, &edit(&[("city", json!("b"))]), Some(3), "dev-b");
        assert!(seen.collisions.is_empty());
        assert_eq!(r.data["city"], "b");
    }

    #[test]
    fn the_same_value_from_both_sides_is_no_collision_and_no_change() {
        let mut r = rec();
        merge(&mut r, &edit(&[("city", json!("a"))]), Some(1), "dev-a");
        let b = merge(&mut r, &edit(&[("city", json!("a"))]), Some(1), "dev-b");
        assert_eq!(b, Merged::default());
        assert_eq!(r.version, 2);
    }

    #[test]
    fn hq_edits_never_collide() {
        let mut r = rec();
        merge(&mut r, &edit(&[("city", json!("a"))]), Some(1), "dev-a");
        let h = merge(&mut r, &edit(&[("city", json!("hq"))]), None, "hq");
        assert!(h.collisions.is_empty());
        assert_eq!(r.field_version("city").by, "hq");
    }
}
