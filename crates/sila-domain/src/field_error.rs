//! A field that failed validation. It is the leaf every rule module reports with; the domain's
//! error type ([`crate::error::DomainError`]) sits above those modules and gathers them.

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
