//! HQ's errors: stable codes for machines, messages without personal data. No error names an
//! engine: a database's own error becomes a [`StorageError`] where the engine meets it.

use sila_proto::UploadStatus;

/// A failure of the storage engine (a lost connection, a full disk, a constraint). Its message
/// is for the server's log only; clients see `server_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    pub message: String,
    /// The transaction lost a race with another server's (a deadlock, a serialisation failure,
    /// a row the other inserted first) and may succeed when run again.
    pub retry: bool,
}

impl StorageError {
    pub fn new(message: impl Into<String>) -> StorageError {
        StorageError {
            message: message.into(),
            retry: false,
        }
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HqError {
    #[error("unknown or missing device credential")]
    Unauthorized,
    #[error("this device has been revoked")]
    Revoked,
    #[error("unknown enrolment code")]
    CodeInvalid,
    #[error("the enrolment code has expired")]
    CodeExpired,
    #[error("the enrolment code has been used")]
    CodeUsed,
    #[error("the store's branch is not the code's branch")]
    BranchMismatch,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("too many requests")]
    TooMany,
    #[error("this client speaks an older protocol")]
    UpdateRequired,
    #[error("upload out of order")]
    UploadOffset(UploadStatus),
    #[error("uploaded bytes do not match their SHA-256")]
    HashMismatch,
    #[error("release refused: {0}")]
    Release(sila_proto::release::ReleaseError),
    #[error("a release of this version or package is already published")]
    ReleaseExists,
    #[error("no update key is configured (--update-key)")]
    NoUpdateKey,
    #[error("lifecycle: {0}")]
    Lifecycle(#[from] sila_domain::case::LifecycleError),
    #[error("storage: {0}")]
    Storage(StorageError),
    #[error("data format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl HqError {
    /// The stable code clients match on (never the message).
    pub fn code(&self) -> &'static str {
        match self {
            HqError::Unauthorized => "unauthorized",
            HqError::Revoked => "device_revoked",
            HqError::CodeInvalid => "code_invalid",
            HqError::CodeExpired => "code_expired",
            HqError::CodeUsed => "code_used",
            HqError::BranchMismatch => "branch_mismatch",
            HqError::BadRequest(_) => "bad_request",
            HqError::NotFound(_) => "not_found",
            HqError::Forbidden(_) => "forbidden",
            HqError::UploadOffset(_) => "upload_offset",
            HqError::TooMany => "too_many_requests",
            HqError::UpdateRequired => "update_required",
            HqError::HashMismatch => "hash_mismatch",
            HqError::Release(e) => e.code(),
            HqError::ReleaseExists => "release_exists",
            HqError::NoUpdateKey => "no_update_key",
            HqError::Lifecycle(e) => e.code(),
            HqError::Storage(_) | HqError::Json(_) | HqError::Io(_) => "server_error",
        }
    }

    /// A failure of the server itself (logged, answered as `server_error`), not of the request.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            HqError::Storage(_) | HqError::Json(_) | HqError::Io(_)
        )
    }

    /// Would running the transaction again succeed? (It lost a race with another server.)
    pub fn retryable(&self) -> bool {
        matches!(self, HqError::Storage(s) if s.retry)
    }
}

pub type Result<T, E = HqError> = std::result::Result<T, E>;
