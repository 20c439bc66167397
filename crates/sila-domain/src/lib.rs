//! The Sila domain: the charity's records, the case lifecycle and its rules, validation of what a
//! desk types (national IDs, mobiles, Hijri and Gregorian dates) and Arabic text normalisation.
//!
//! This crate does no IO: no files, no database, no network, no clock. Time and identity are passed
//! in by the caller, so every rule here is exact and repeatable under test. Serialisation derives are
//! allowed (records travel through the outbox as JSON), but no wire or IPC format is decided here.

pub mod arabic;
pub mod beneficiary;
pub mod case;
pub mod catalog;
pub mod dates;
pub mod duplicates;
pub mod error;
pub mod field_error;
pub mod form;
pub mod ids;
pub mod interaction;
pub mod merge;
pub mod national_id;
pub mod phone;
pub mod staff;
pub mod task;

pub use error::DomainError;
