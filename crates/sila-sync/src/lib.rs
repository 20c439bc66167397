//! Sync between a branch store and headquarters: the wire protocol ([`proto`]), the client that
//! pushes the outbox, pulls HQ's change feed and moves attachments ([`client`]), the background
//! scheduler the desktop shell drives ([`scheduler`]), updates of the app from HQ ([`update`]), and the status the home screen shows
//! ([`SyncStatus`]).
//!
//! The client never decides what a record means: the store applies what HQ sends, HQ applies what
//! the branch sends. It never logs payloads, credentials or personal data: counts and codes only.

pub mod client;
pub mod scheduler;
pub mod update;

/// The wire protocol, shared with headquarters.
pub use sila_proto as proto;

pub use client::{
    FirstAccount, HqClient, SyncError, SyncOptions, SyncReport, arabic_message, enroll, join,
    sync_once,
};
pub use scheduler::{Action, Outcome, Scheduler, SchedulerConfig};

use serde::Serialize;
use sila_store::Store;

/// What the home screen shows about sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub enrolled: bool,
    /// When the last successful sync ended (RFC 3339, the device's clock).
    pub last_sync_at: Option<String>,
    /// Changes made here that HQ has not acknowledged yet.
    pub pending: i64,
    pub last_error: Option<StatusError>,
    /// Changes HQ lost in a restore that this device could not send again (they must be entered
    /// again by hand; the refused list names each).
    pub lost_at_hq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusError {
    pub code: String,
    /// Arabic, ready to show.
    pub message: String,
}

/// Read the sync status from the store (cheap: a few meta rows and a count).
pub fn status(store: &Store) -> Result<SyncStatus, SyncError> {
    let s = store.sync_state()?;
    Ok(SyncStatus {
        enrolled: s.enrolled,
        last_sync_at: s.last_sync_at,
        pending: s.pending,
        last_error: s.last_error_code.map(|code| StatusError {
            message: arabic_message(&code).to_owned(),
            code,
        }),
        lost_at_hq: s.lost_at_hq,
    })
}

/// The scheduler's view of a pass's result.
pub fn outcome_of(r: &Result<SyncReport, SyncError>) -> Outcome {
    match r {
        Ok(_) => Outcome::Done,
        Err(e) if e.is_transient() || matches!(e, SyncError::Store(_)) => Outcome::Transient,
        Err(_) => Outcome::NeedsPerson,
    }
}
