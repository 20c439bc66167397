//! Drafts: a form saved as it is typed (the intake wizard's), so closing the app, a crash or a
//! sign-out never loses it. Each draft belongs to the person who started it; a person may have
//! several at once; nobody else sees one unless it is handed over to them.
//!
//! Drafts are working state of this device, not records: they are not synced and their content
//! is whatever JSON the form keeps (the store does not read it). Saving one is a plain write, not a
//! [`Store::write`]: it has no outbox operation. Handing one over is audited.

use crate::error::{Result, StoreError};
use crate::{Store, staff_by_username};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// A draft larger than this is refused: a wizard's form is a few kilobytes (files are stored
/// apart, as attachments), and the IPC must not be a way to fill the disk.
pub const MAX_DRAFT_BYTES: usize = 512 * 1024;

/// A discarded draft can be brought back ("undo") for this long; then it is deleted for good.
pub const UNDO_HOURS: i64 = 24;

/// One of the signed-in person's drafts, with its form as saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub id: String,
    pub kind: String,
    pub data: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
    /// Who handed it over to this person, if someone did.
    pub handed_by: Option<String>,
    /// A draft from before drafts belonged to a person: anyone may continue it (and so take it).
    pub unowned: bool,
}

impl Store {
    /// Save a draft of `kind`: a new one when `id` is None (its ID is returned), else the
    /// signed-in person's draft `id`. A draft that is not theirs is "not found", as if it were not there.
    pub fn save_draft(
        &mut self,
        id: Option<&str>,
        kind: &str,
        data: &serde_json::Value,
    ) -> Result<String> {
        let text = serde_json::to_string(data)?;
        if text.len() > MAX_DRAFT_BYTES {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "draft",
                    "draft_too_large",
                    "المسودة أكبر من المسموح",
                ),
            ]));
        }
        let me = self.session.actor.staff_id.to_string();
        let stamp = self.now().to_rfc3339();
        match id {
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                self.conn.execute(
                    "INSERT INTO drafts (id, kind, owner, data, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                    params![id, kind, me, text, stamp],
                )?;
                Ok(id.to_string())
            }
            Some(id) => {
                // Saving an unowned draft makes it the saver's.
                let n = self.conn.execute(
                    "UPDATE drafts SET data = ?3, updated_at = ?4, owner = ?2
                     WHERE id = ?1 AND (owner = ?2 OR owner IS NULL) AND discarded_at IS NULL",
                    params![id, me, text, stamp],
                )?;
                if n == 0 {
                    return Err(StoreError::NotFound("draft"));
                }
                Ok(id.to_owned())
            }
        }
    }

    /// The signed-in person's draft `id` (or an unowned one), or None.
    pub fn draft(&self, id: &str) -> Result<Option<Draft>> {
        let me = self.session.actor.staff_id.to_string();
        self.conn
            .query_row(
                "SELECT d.id, d.kind, d.data, d.created_at, d.updated_at, s.display_name, d.owner IS NULL
                 FROM drafts d LEFT JOIN staff s ON s.id = d.handed_by
                 WHERE d.id = ?1 AND (d.owner = ?2 OR d.owner IS NULL) AND d.discarded_at IS NULL",
                params![id, me],
                draft_row,
            )
            .optional()?
            .transpose()
    }

    /// The signed-in person's drafts of `kind` (and any unowned ones), last saved first.
    pub fn my_drafts(&self, kind: &str) -> Result<Vec<Draft>> {
        let me = self.session.actor.staff_id.to_string();
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.kind, d.data, d.created_at, d.updated_at, s.display_name, d.owner IS NULL
             FROM drafts d LEFT JOIN staff s ON s.id = d.handed_by
             WHERE d.kind = ?1 AND (d.owner = ?2 OR d.owner IS NULL) AND d.discarded_at IS NULL
             ORDER BY d.updated_at DESC, d.id DESC",
        )?;
        let rows = stmt.query_map(params![kind, me], draft_row)?;
        rows.map(|r| r?).collect()
    }

    /// Put a draft aside. It can be brought back with [`Store::restore_draft`] for
    /// [`UNDO_HOURS`]; drafts the person discarded longer ago than that are deleted now.
    pub fn discard_draft(&mut self, id: &str) -> Result<()> {
        let me = self.session.actor.staff_id.to_string();
        let now = self.now();
        let n = self.conn.execute(
            "UPDATE drafts SET discarded_at = ?3, owner = ?2
             WHERE id = ?1 AND (owner = ?2 OR owner IS NULL) AND discarded_at IS NULL",
            params![id, me, now.to_rfc3339()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("draft"));
        }
        let before = (now - chrono::Duration::hours(UNDO_HOURS)).to_rfc3339();
        self.conn.execute(
            "DELETE FROM drafts WHERE owner = ?1 AND discarded_at IS NOT NULL AND discarded_at < ?2",
            params![me, before],
        )?;
        Ok(())
    }

    /// Bring back a draft the signed-in person discarded ("undo").
    pub fn restore_draft(&mut self, id: &str) -> Result<()> {
        let me = self.session.actor.staff_id.to_string();
        let n = self.conn.execute(
            "UPDATE drafts SET discarded_at = NULL WHERE id = ?1 AND owner = ?2 AND discarded_at IS NOT NULL",
            params![id, me],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("draft"));
        }
        Ok(())
    }

    /// Delete a draft for good (its request was submitted).
    pub fn delete_draft(&mut self, id: &str) -> Result<()> {
        let me = self.session.actor.staff_id.to_string();
        self.conn.execute(
            "DELETE FROM drafts WHERE id = ?1 AND (owner = ?2 OR owner IS NULL)",
            params![id, me],
        )?;
        Ok(())
    }

    /// Give one of the signed-in person's drafts to a colleague of the branch, who sees it in their
    /// list from then on (and the giver no longer does). Audited: a draft holds personal data.
    pub fn hand_over_draft(&mut self, id: &str, to_username: &str) -> Result<()> {
        let to = staff_by_username(&self.conn, &to_username.trim().to_lowercase())?
            .filter(|a| a.active)
            .ok_or_else(|| {
                StoreError::Invalid(vec![sila_domain::error::FieldError::new(
                    "to",
                    "unknown_staff",
                    "اختر موظفاً من موظفي الفرع",
                )])
            })?;
        let me = self.session.actor.staff_id.to_string();
        if to.id.to_string() == me {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new("to", "hand_over_to_self", "المسودة لك بالفعل"),
            ]));
        }
        let id = id.to_owned();
        self.write(|w| {
            let n = w.exec(
                "UPDATE drafts SET owner = ?3, handed_by = ?2, updated_at = ?4
                 WHERE id = ?1 AND (owner = ?2 OR owner IS NULL) AND discarded_at IS NULL",
                params![id, me, to.id.to_string(), w.now.to_rfc3339()],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound("draft"));
            }
            w.audit("draft.hand_over", "draft", &id)
        })
    }
}

fn draft_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Draft>> {
    let data: String = r.get(2)?;
    Ok(serde_json::from_str(&data)
        .map_err(StoreError::from)
        .and_then(|data| {
            Ok(Draft {
                id: r.get(0)?,
                kind: r.get(1)?,
                data,
                created_at: r.get(3)?,
                updated_at: r.get(4)?,
                handed_by: r.get(5)?,
                unowned: r.get(6)?,
            })
        }))
}
