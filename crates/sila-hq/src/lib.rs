//! `sila-hq`: the headquarters server as a library. It takes pushes from branch devices, serves
//! them HQ's change feed and attachments, and holds what HQ decides (committee decisions, merges,
//! HQ edits, knowledge-base documents) until every branch has it.
//!
//! Layers: [`store`] is the storage boundary (a trait), [`sqlite`] its embedded default
//! implementation, [`server`] the HTTP routes. The binary (`src/bin/sila-hq.rs`) is a thin
//! command line over these. This crate never logs personal data or credentials, and the HTTP
//! layer never runs SQL.

pub mod cli;
pub mod console;
pub mod server;
pub mod sqlite;
pub mod store;

pub use server::{Failpoint, router, serve};
pub use sqlite::SqliteHq;
pub use store::{HqActor, HqError, HqStore};
