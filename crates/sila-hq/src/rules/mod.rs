//! HQ's rules, in plain Rust: no SQL, no engine, no HTTP. Everything HQ decides about what a
//! branch device sends lives here and sees storage only through [`crate::storage::Tx`], so the
//! SQLite and PostgreSQL engines hold SQL and nothing else, and these rules are tested without a
//! database as well as through both engines.
//!
//! HQ checks every pushed operation as if it came from an attacker holding that device's
//! credential: every payload is parsed into the domain's own type and validated by the domain's
//! own rules before anything is stored; every reference (beneficiary, case, staff member,
//! attachment) must be a record of the device's branch; committee decisions are HQ's alone; a
//! field changed meanwhile by someone else becomes a conflict with both values kept, never a
//! silent overwrite. A refused operation is recorded with its code and the batch goes on.
//!
//! - [`push`]: a batch of operations from one device (sequence numbers, repeats, reused numbers).
//! - [`ops`]: what each operation may do (records, lifecycle, staff, attachments).
//! - [`fields`]: the per-field merge every edit of a record goes through.
//! - [`releases`]: a release of the desktop app is published only signed with HQ's update key.

pub mod devices;
pub mod fields;
pub mod hq;
pub mod ops;
pub mod promise;
pub mod push;
pub mod register;
pub mod releases;
pub mod signin;
pub mod staff;

use sila_domain::catalog::Policy;

/// What applying one operation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Applied; this many fields collided and went to the conflicts queue.
    Conflict(usize),
    /// Refused with a stable reason code (never personal data).
    Rejected(&'static str),
}

/// What the rules need to know besides storage: the device, its branch, the charity's policy.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub device_id: &'a str,
    pub branch: &'a str,
    pub policy: &'a Policy,
    pub now: chrono::DateTime<chrono::Utc>,
    /// HQ was restored from a copy and a device of this branch has not come back since: an
    /// operation that refers to a record HQ does not hold may refer to that device's work, which
    /// it will send again. Such an operation is held back, not refused.
    pub awaiting_branch: bool,
}
