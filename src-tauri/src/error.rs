//! Maps the libraries' errors to the IPC's `{code, message, fields}`. The code is the library's
//! stable code; the message is the library's Arabic sentence. Neither ever holds personal data,
//! so they may be logged.

use crate::dto::{ApiError, FieldProblem};
use sila_domain::DomainError;
use sila_domain::case::LifecycleError;
use sila_domain::error::FieldError;
use sila_store::StoreError;

impl ApiError {
    pub fn new(code: &str, message: &str) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }
    pub fn locked() -> ApiError {
        ApiError::new("locked", "البرنامج مقفل. سجّل الدخول للمتابعة.")
    }
    pub fn internal() -> ApiError {
        ApiError::new("internal", "حدث خطأ داخلي. لم يُحفظ شيء جزئياً.")
    }
    pub fn bad_input(field: &str) -> ApiError {
        ApiError::invalid(vec![FieldError::new(
            field,
            "invalid_value",
            "قيمة غير صالحة",
        )])
    }
    pub fn invalid(fields: Vec<FieldError>) -> ApiError {
        let message = fields
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join("؛ ");
        ApiError {
            code: "invalid_input".into(),
            message,
            fields: fields.into_iter().map(FieldProblem::from).collect(),
        }
    }
}

impl From<FieldError> for FieldProblem {
    fn from(f: FieldError) -> Self {
        FieldProblem {
            field: f.field,
            code: f.code,
            message: f.message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let fields = match &e {
            StoreError::Invalid(f) | StoreError::Domain(DomainError::Invalid(f)) => f.clone(),
            StoreError::Domain(DomainError::Lifecycle(l)) => lifecycle_fields(l),
            StoreError::DuplicateNationalId { .. } => vec![FieldError::new(
                "national_id",
                "duplicate_national_id",
                "يوجد مستفيد مسجل بنفس رقم الهوية",
            )],
            _ => Vec::new(),
        };
        ApiError {
            code: e.code().into(),
            message: e.arabic_message(),
            fields: fields.into_iter().map(FieldProblem::from).collect(),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(e: LifecycleError) -> Self {
        StoreError::from(e).into()
    }
}

fn lifecycle_fields(l: &LifecycleError) -> Vec<FieldError> {
    match l {
        LifecycleError::DocumentsMissing { codes } => codes
            .iter()
            .map(|c| {
                FieldError::new(
                    &format!("documents.{c}"),
                    "document_missing",
                    "المستند غير مرفق أو لم يطابق مع الأصل",
                )
            })
            .collect(),
        LifecycleError::BeneficiaryInvalid { fields } => fields
            .iter()
            .map(|f| FieldError::new(f, "invalid_for_submission", l.arabic_message()))
            .collect(),
        LifecycleError::NoteRequired { .. } => {
            vec![FieldError::new("note", "note_required", l.arabic_message())]
        }
        LifecycleError::NeedMissing => {
            vec![FieldError::new("need", "required", l.arabic_message())]
        }
        LifecycleError::DeclarationMissing => vec![FieldError::new(
            "signature",
            "declaration_missing",
            l.arabic_message(),
        )],
        _ => Vec::new(),
    }
}
