//! `sila-hq`: the headquarters server as a library. It takes pushes from branch devices, serves
//! them HQ's change feed and attachments, and holds what HQ decides (committee decisions, merges,
//! HQ edits, knowledge-base documents) until every branch has it.
//!
//! Layers: [`rules`] holds every rule of HQ in plain Rust over [`storage::Tx`], the storage
//! operations an engine offers inside one transaction; [`sqlite`] is the embedded default engine;
//! [`store`] is what the HTTP handlers, the console and the command line call; [`server`] the
//! HTTP routes. The binary (`src/bin/sila-hq.rs`) is a thin command line over these. This crate
//! never logs personal data or credentials, and the HTTP layer never runs SQL.

pub mod cli;
pub mod console;
pub mod rules;
pub mod server;
pub mod sqlite;
pub mod storage;
pub mod store;

pub use server::{Failpoint, router, serve};
pub use sqlite::SqliteHq;
pub use store::{HqActor, HqError, HqStore, Result};
