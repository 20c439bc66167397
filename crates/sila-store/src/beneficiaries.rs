//! Beneficiary records in the store: create, edit (recording which fields changed and the version
//! the edit was based on), read (audited: opening a full file is an audit event).

use crate::error::{Result, StoreError};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sila_domain::arabic;
use sila_domain::beneficiary::Beneficiary;
use sila_domain::ids::BeneficiaryId;
use sila_domain::staff::Role;

/// A stored beneficiary with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredBeneficiary {
    pub beneficiary: Beneficiary,
    pub branch: String,
    pub version: i64,
    pub merged_into: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The search key of every written form of a name: the name as written and its four parts.
pub(crate) fn name_key_of(b: &Beneficiary) -> String {
    let mut tokens = arabic::name_tokens(&b.name.full());
    let parts = [
        &b.name.first,
        &b.name.father,
        &b.name.grandfather,
        &b.name.family,
    ];
    for p in parts {
        for t in arabic::name_tokens(p) {
            if !tokens.contains(&t) {
                tokens.push(t);
            }
        }
    }
    tokens.join(" ")
}

/// National-format mobile digits reversed, so a typed tail is an index prefix.
pub(crate) fn phone_rev_of(b: &Beneficiary) -> Option<String> {
    b.mobile
        .as_ref()
        .map(|m| m.national().chars().rev().collect())
}

const WRITE_ROLES: &[Role] = &[Role::Representative, Role::Researcher, Role::Admin];

impl Writer<'_> {
    /// Insert a beneficiary row and its outbox operation. Validation is the caller's.
    pub(crate) fn insert_beneficiary(&self, b: &Beneficiary, branch: &str) -> Result<()> {
        // A person already on file here is opened, not registered again. (The index allows the
        // same ID twice: two laptops of a branch may each register someone offline, and both
        // registrations arrive here by sync until they are merged.)
        if let Some(nid) = &b.national_id {
            let existing: Option<String> = self
                .tx
                .prepare_cached(
                    "SELECT id FROM beneficiaries WHERE national_id = ?1 AND merged_into IS NULL LIMIT 1",
                )?
                .query_row([nid.as_str()], |r| r.get(0))
                .optional()?;
            if let Some(existing) = existing {
                return Err(StoreError::DuplicateNationalId { existing });
            }
        }
        let stamp = self.now.to_rfc3339();
        let record = serde_json::to_value(b)?;
        self.exec(
            "INSERT INTO beneficiaries (id, branch, full_name, name_key, national_id, phone, phone_rev,
                 birth_date, data, version, created_at, updated_at, file_number)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10, ?11)",
            params![
                b.id.to_string(),
                branch,
                b.name.full(),
                name_key_of(b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                phone_rev_of(b),
                b.birth_date.map(|d| d.to_string()),
                record.to_string(),
                stamp,
                b.file_number
            ],
        )?;
        self.op(
            "beneficiary.create",
            "beneficiary",
            &b.id.to_string(),
            None,
            &record,
        )?;
        Ok(())
    }

    /// Replace a beneficiary's data, recording only the changed fields and the version they were
    /// based on. Returns the new version, or None when nothing changed.
    pub(crate) fn update_beneficiary_row(
        &self,
        b: &Beneficiary,
        base_version: i64,
    ) -> Result<Option<i64>> {
        let row: Option<(String, i64, i64)> = self
            .tx
            .query_row(
                "SELECT data, version, hq_version FROM beneficiaries WHERE id = ?1",
                [b.id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (old, version, hq_version) = row.ok_or(StoreError::NotFound("beneficiary"))?;
        if version != base_version {
            return Err(StoreError::VersionConflict {
                current: version,
                base: base_version,
            });
        }
        let old: serde_json::Value = serde_json::from_str(&old)?;
        let new = serde_json::to_value(b)?;
        let changed = changed_fields(&old, &new);
        if changed.is_empty() {
            return Ok(None);
        }
        if let Some(nid) = &b.national_id {
            let clash: Option<String> = self
                .tx
                .query_row(
                    "SELECT id FROM beneficiaries WHERE national_id = ?1 AND merged_into IS NULL AND id <> ?2",
                    params![nid.as_str(), b.id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing) = clash {
                return Err(StoreError::DuplicateNationalId { existing });
            }
        }
        let next = version + 1;
        self.exec(
            "UPDATE beneficiaries SET full_name = ?2, name_key = ?3, national_id = ?4, phone = ?5, phone_rev = ?6,
                 birth_date = ?7, data = ?8, version = ?9, updated_at = ?10, file_number = ?11 WHERE id = ?1",
            params![
                b.id.to_string(),
                b.name.full(),
                name_key_of(b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                phone_rev_of(b),
                b.birth_date.map(|d| d.to_string()),
                serde_json::to_string(b)?,
                next,
                self.now.to_rfc3339(),
                b.file_number
            ],
        )?;
        // HQ merges the edit field by field against the version this device last received.
        self.op(
            "beneficiary.update",
            "beneficiary",
            &b.id.to_string(),
            Some(hq_version),
            &serde_json::json!({ "fields": changed }),
        )?;
        Ok(Some(next))
    }
}

/// The top-level fields whose values differ, with their new values. Sync compares edits per field,
/// so only what changed travels and collides.
pub fn changed_fields(
    old: &serde_json::Value,
    new: &serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    if let (Some(o), Some(n)) = (old.as_object(), new.as_object()) {
        for (k, v) in n {
            if o.get(k) != Some(v) {
                out.insert(k.clone(), v.clone());
            }
        }
        for k in o.keys() {
            if !n.contains_key(k) {
                out.insert(k.clone(), serde_json::Value::Null);
            }
        }
    }
    out
}

impl Store {
    /// Register a new beneficiary. The desk should have searched first; a national ID already on
    /// file is refused with the existing record's ID so the UI can open it instead.
    pub fn create_beneficiary(&mut self, b: &Beneficiary) -> Result<()> {
        self.require(WRITE_ROLES)?;
        let today = self.now().date_naive();
        b.validate(today).map_err(StoreError::Invalid)?;
        let branch = self.session.branch.clone();
        self.write(|w| w.insert_beneficiary(b, &branch))
    }

    /// Save an edit made on top of `base_version`. Returns the new version.
    pub fn update_beneficiary(&mut self, b: &Beneficiary, base_version: i64) -> Result<i64> {
        self.require(WRITE_ROLES)?;
        let today = self.now().date_naive();
        b.validate(today).map_err(StoreError::Invalid)?;
        self.write(|w| {
            Ok(w.update_beneficiary_row(b, base_version)?
                .unwrap_or(base_version))
        })
    }

    /// Open a beneficiary's full file (an audited read). Follows a merge redirect to the survivor.
    pub fn open_beneficiary(&mut self, id: BeneficiaryId) -> Result<StoredBeneficiary> {
        let found = self
            .beneficiary(id)?
            .ok_or(StoreError::NotFound("beneficiary"))?;
        let found = match &found.merged_into {
            Some(target) => {
                let target: BeneficiaryId = target.parse().map_err(|_| StoreError::Corrupt)?;
                self.beneficiary(target)?
                    .ok_or(StoreError::NotFound("beneficiary"))?
            }
            None => found,
        };
        let shown = found.beneficiary.id.to_string();
        self.write(|w| w.audit("beneficiary.open", "beneficiary", &shown))?;
        Ok(found)
    }

    /// Read a beneficiary without auditing (internal use: listings, rules, export).
    pub fn beneficiary(&self, id: BeneficiaryId) -> Result<Option<StoredBeneficiary>> {
        self.conn
            .query_row(
                "SELECT data, branch, version, merged_into, created_at, updated_at FROM beneficiaries WHERE id = ?1",
                [id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?
            .map(|(data, branch, version, merged_into, created_at, updated_at)| {
                Ok(StoredBeneficiary {
                    beneficiary: serde_json::from_str(&data)?,
                    branch,
                    version,
                    merged_into,
                    created_at,
                    updated_at,
                })
            })
            .transpose()
    }

    /// The live beneficiaries holding this national ID (more than one when two devices of the
    /// branch registered the same person offline), oldest first.
    pub fn with_national_id(
        &self,
        nid: &sila_domain::national_id::NationalId,
    ) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM beneficiaries WHERE national_id = ?1 AND merged_into IS NULL ORDER BY rid",
        )?;
        let rows = stmt.query_map([nid.as_str()], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every beneficiary (not merged away), in registration order, for export and reports.
    pub fn all_beneficiaries(&self, mut each: impl FnMut(Beneficiary) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM beneficiaries WHERE merged_into IS NULL ORDER BY rid")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let data: String = r.get(0)?;
            each(serde_json::from_str(&data)?)?;
        }
        Ok(())
    }
}
