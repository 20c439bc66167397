//! Errors of the domain, each with a stable machine code and an Arabic sentence for people.
//!
//! Codes never change once shipped: the UI, the CLI's JSON and HQ's per-operation results match on them.
//! Messages never contain the value that failed (a name, an ID, a phone): errors end up in logs.

use crate::case::LifecycleError;
use crate::dates::DateError;
// Re-exported here, where callers outside the domain look for errors; the domain's own modules
// import it from `field_error`, below this module, so that no circle runs through `error`.
pub use crate::field_error::FieldError;
use crate::national_id::IdError;
use crate::phone::PhoneError;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("invalid input in {} field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error(transparent)]
    NationalId(#[from] IdError),
    #[error(transparent)]
    Phone(#[from] PhoneError),
    #[error(transparent)]
    Date(#[from] DateError),
}

impl DomainError {
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Invalid(_) => "invalid_input",
            DomainError::Lifecycle(e) => e.code(),
            DomainError::NationalId(e) => e.code(),
            DomainError::Phone(e) => e.code(),
            DomainError::Date(e) => e.code(),
        }
    }
    pub fn arabic_message(&self) -> String {
        match self {
            DomainError::Invalid(fields) => fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("؛ "),
            DomainError::Lifecycle(e) => e.arabic_message().to_owned(),
            DomainError::NationalId(e) => e.arabic_message().to_owned(),
            DomainError::Phone(e) => e.arabic_message().to_owned(),
            DomainError::Date(e) => e.arabic_message().to_owned(),
        }
    }
}
