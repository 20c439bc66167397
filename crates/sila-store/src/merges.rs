//! Merging two registrations of one person at this branch, with undo. Which value each field
//! takes and what undo restores is `sila_domain::merge` (HQ applies the same rule to the
//! `beneficiary.merge` operation); this module checks that both records are this branch's and
//! live, and writes the outcome with its operation in one transaction.

use crate::error::{Result, StoreError};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value};
use sila_domain::beneficiary::Beneficiary;
use sila_domain::error::FieldError;
use sila_domain::ids::BeneficiaryId;
use sila_domain::merge::{self, MergeError, Side};
use sila_domain::staff::Role;

const MERGE_ROLES: &[Role] = &[Role::Representative, Role::Admin];

/// A merge made at this branch, as its file shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BranchMerge {
    pub id: String,
    pub survivor: String,
    pub merged: String,
    /// Each chosen field and the record its value came from.
    pub chosen: std::collections::BTreeMap<String, Side>,
    pub staff_id: String,
    pub at: String,
    pub undone_at: Option<String>,
}

fn merge_error(e: MergeError) -> StoreError {
    match e {
        MergeError::Invalid(f) => StoreError::Invalid(f),
        other => StoreError::Invalid(vec![FieldError::new(
            "merge",
            other.code(),
            &other.arabic_message(),
        )]),
    }
}

impl Writer<'_> {
    /// Overwrite a beneficiary's row with `b` (search columns included) as version `version`,
    /// without an operation: the caller writes the one that explains it.
    pub(crate) fn put_beneficiary_row(&self, b: &Beneficiary, version: i64) -> Result<()> {
        self.exec(
            "UPDATE beneficiaries SET full_name = ?2, name_key = ?3, national_id = ?4, phone = ?5, phone_rev = ?6,
                 birth_date = ?7, data = ?8, version = ?9, updated_at = ?10, file_number = ?11 WHERE id = ?1",
            params![
                b.id.to_string(),
                b.name.full(),
                crate::beneficiaries::name_key_of(b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                crate::beneficiaries::phone_rev_of(b),
                b.birth_date.map(|d| d.to_string()),
                serde_json::to_string(b)?,
                version,
                self.now.to_rfc3339(),
                b.file_number
            ],
        )?;
        Ok(())
    }
}

impl Store {
    /// A live beneficiary of this branch born here, with its version.
    fn own_live(&self, id: BeneficiaryId) -> Result<(Beneficiary, i64)> {
        let stored = self
            .beneficiary(id)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        let foreign: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM foreign_records WHERE entity = 'beneficiary' AND id = ?1)",
            [id.to_string()],
            |r| r.get(0),
        )?;
        if stored.merged_into.is_some() || foreign || stored.branch != self.session.branch {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "merge",
                "not_mergeable_here",
                "يُدمج هنا ملفان حاليان مسجلان في هذا الفرع فقط",
            )]));
        }
        Ok((stored.beneficiary, stored.version))
    }

    /// Merge `merged` into `survivor`, each field in `chosen` taking the given value (which must be
    /// one of the two records'). Returns the merge's ID, which undoes it.
    pub fn merge_beneficiaries(
        &mut self,
        survivor: BeneficiaryId,
        merged: BeneficiaryId,
        chosen: &Map<String, Value>,
    ) -> Result<String> {
        self.require(MERGE_ROLES)?;
        let (s, s_version) = self.own_live(survivor)?;
        let (m, _) = self.own_live(merged)?;
        let today = self.now().date_naive();
        let outcome = merge::merge(&s, &m, chosen, today).map_err(merge_error)?;
        let id = uuid::Uuid::now_v7().to_string();
        self.write(|w| {
            // Retire the other record first: the survivor may take its national ID.
            w.exec(
                "UPDATE beneficiaries SET merged_into = ?2, updated_at = ?3 WHERE id = ?1",
                params![merged.to_string(), survivor.to_string(), w.now.to_rfc3339()],
            )?;
            if outcome.record != s {
                w.put_beneficiary_row(&outcome.record, s_version + 1)?;
            }
            w.exec(
                "INSERT INTO branch_merges (id, survivor, merged, chosen, previous, staff_id, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    survivor.to_string(),
                    merged.to_string(),
                    serde_json::to_string(&outcome.provenance)?,
                    serde_json::to_string(&outcome.previous)?,
                    w.session.actor.staff_id.to_string(),
                    w.now.to_rfc3339()
                ],
            )?;
            w.op(
                "beneficiary.merge",
                "beneficiary",
                &survivor.to_string(),
                None,
                &serde_json::json!({
                    "merge_id": id,
                    "survivor_id": survivor,
                    "merged_id": merged,
                    "chosen": chosen,
                }),
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Undo a merge made here: the retired record is live again and the survivor gets back the
    /// values it had, except fields changed since the merge, which stay (and are returned, so a
    /// person can look at them).
    pub fn unmerge_beneficiaries(&mut self, merge_id: &str) -> Result<Vec<String>> {
        self.require(MERGE_ROLES)?;
        let row: Option<(String, String, String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT survivor, merged, previous, undone_at FROM branch_merges WHERE id = ?1",
                [merge_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (survivor, merged, previous, undone) = row.ok_or(StoreError::NotFound("merge"))?;
        if undone.is_some() {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "merge",
                "merge_undone",
                "أُلغي هذا الدمج من قبل",
            )]));
        }
        let survivor_id: BeneficiaryId = survivor.parse().map_err(|_| StoreError::Corrupt)?;
        let merged_id: BeneficiaryId = merged.parse().map_err(|_| StoreError::Corrupt)?;
        let now = self
            .beneficiary(survivor_id)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        let other = self
            .beneficiary(merged_id)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        if other.merged_into.as_deref() != Some(survivor.as_str()) {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "merge",
                "merge_undone",
                "أُلغي هذا الدمج من قبل",
            )]));
        }
        let previous: Map<String, Value> = serde_json::from_str(&previous)?;
        let (restored, kept) = merge::undo(&now.beneficiary, &other.beneficiary, &previous);
        let merge_id = merge_id.to_owned();
        self.write(|w| {
            // The survivor gives back what it took (a national ID, say) before the other record lives again.
            if restored != now.beneficiary {
                w.put_beneficiary_row(&restored, now.version + 1)?;
            }
            w.exec(
                "UPDATE beneficiaries SET merged_into = NULL, updated_at = ?2 WHERE id = ?1",
                params![merged, w.now.to_rfc3339()],
            )?;
            w.exec(
                "UPDATE branch_merges SET undone_at = ?2, undone_by = ?3 WHERE id = ?1",
                params![
                    merge_id,
                    w.now.to_rfc3339(),
                    w.session.actor.staff_id.to_string()
                ],
            )?;
            w.op(
                "beneficiary.unmerge",
                "beneficiary",
                &survivor,
                None,
                &serde_json::json!({ "merge_id": merge_id }),
            )?;
            Ok(())
        })?;
        Ok(kept)
    }

    /// The merges made here into or out of this beneficiary, newest first.
    pub fn branch_merges(&self, beneficiary: BeneficiaryId) -> Result<Vec<BranchMerge>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, survivor, merged, chosen, staff_id, at, undone_at FROM branch_merges
             WHERE survivor = ?1 OR merged = ?1 ORDER BY at DESC, id DESC",
        )?;
        let rows = stmt.query_map([beneficiary.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        rows.map(|r| {
            let (id, survivor, merged, chosen, staff_id, at, undone_at) = r?;
            Ok(BranchMerge {
                id,
                survivor,
                merged,
                chosen: serde_json::from_str(&chosen)?,
                staff_id,
                at,
                undone_at,
            })
        })
        .collect()
    }

    /// The records merged into this one (directly), whose cases and contacts are now this file's.
    pub fn merged_into(&self, survivor: BeneficiaryId) -> Result<Vec<BeneficiaryId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM beneficiaries WHERE merged_into = ?1")?;
        let rows = stmt.query_map([survivor.to_string()], |r| r.get::<_, String>(0))?;
        rows.map(|r| r?.parse().map_err(|_| StoreError::Corrupt))
            .collect()
    }
}
