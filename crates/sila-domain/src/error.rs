//! Errors of the domain, each with a stable machine code and an Arabic sentence for people.
//!
//! Codes never change once shipped: the UI, the CLI's JSON and HQ's per-operation results match on them.
//! Messages never contain the value that failed (a name, an ID, a phone): errors end up in logs.

use crate::case::LifecycleError;
use crate::dates::DateError;
use crate::national_id::IdError;
use crate::phone::PhoneError;

/// A field that failed validation: which field, why (a code), and the Arabic sentence for the desk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: &str) -> Self {
        Self {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }
    pub fn required(field: &str) -> Self {
        Self::new(field, "required", "هذا الحقل مطلوب")
    }
}

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
