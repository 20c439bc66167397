//! `sila-hq`: the headquarters server as a library. It takes pushes from branch devices, serves
//! them HQ's change feed and attachments, and holds what HQ decides (committee decisions, merges,
//! HQ edits, knowledge-base documents) until every branch has it.
//!
//! Layers, each using only those below it:
//! - [`server`] and [`console`]: the HTTP routes (devices, the console), over [`store`];
//! - [`store`]: what handlers and the command line call ([`HqStore`], [`ConsoleStore`]),
//!   implemented once by [`Hq`];
//! - [`rules`]: every rule of HQ in plain Rust over [`storage::Tx`], the storage operations
//!   inside one transaction;
//! - [`sql`]: those storage operations, and the reads, in SQL written once for both engines;
//! - [`db`]: the engines, SQLite (the embedded default) and PostgreSQL.
//!
//! The binary (`src/bin/sila-hq.rs`) is a thin command line over these. This crate never logs
//! personal data or credentials, and the HTTP layer never runs SQL.

pub mod backup;
pub mod cli;
pub mod console;
pub mod db;
pub mod error;
pub mod files;
pub mod hq;
mod hq_register;
pub mod rules;
pub mod server;
pub mod sql;
pub mod storage;
pub mod store;
pub mod testing;

pub use error::{Code, HqError, Result, StorageError};
pub use hq::Hq;
pub use server::{Failpoint, router, serve};
pub use store::{ConsoleStore, HqActor, HqStore};
