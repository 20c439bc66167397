//! HQ's storage operations in SQL, written once for both engines ([`crate::db`]): the
//! transaction the rules run in ([`tx`]), what devices read ([`read`]), what administration and
//! review read ([`admin`]), the console's storage ([`console`]) and its register ([`register`]), releases of the app ([`releases`]), and the audit
//! every stage writes ([`audit`]). No rule lives here: what may
//! be stored is decided in [`crate::rules`].

pub mod admin;
pub mod console;
pub mod read;
pub mod register;
pub mod releases;
pub mod rows;
pub mod tx;

// The two helpers every stage of HQ's SQL uses live here, below the stages, so that no stage
// imports another for them (they did, and made a circle: admin -> tx -> register -> admin).

use crate::Result;
use crate::db::Conn;
use crate::params;
use serde_json::Value;

/// A setting of this HQ, made once by whichever server needs it first (the others then read it).
pub fn meta_or_init(c: &mut dyn Conn, key: &str, make: impl FnOnce() -> String) -> Result<String> {
    if let Some(r) = c.row("SELECT value FROM meta WHERE key = ?1", params![key])? {
        return r.text(0);
    }
    c.exec(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
        params![key, make()],
    )?;
    c.one("SELECT value FROM meta WHERE key = ?1", params![key])?
        .text(0)
}

/// Write one audit row, in the transaction `c` is in: the change it records commits with it or
/// not at all. Written by the rules through `storage::Tx::audit` and by the console's own
/// storage (accounts, sessions, releases, reads of a whole file).
pub fn audit(
    c: &mut dyn Conn,
    a: &crate::store::Audit,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    c.exec(
        "INSERT INTO audit (at, staff_id, staff_name, action, entity, entity_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            now,
            a.by.staff_id.to_string(),
            a.by.display_name.as_str(),
            a.action,
            a.entity,
            a.entity_id.as_str(),
            serde_json::to_string(&a.detail)?
        ],
    )?;
    Ok(())
}

/// A JSON column that may hold anything (or nothing readable).
pub(crate) fn loose_json(s: Option<String>) -> Value {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}
