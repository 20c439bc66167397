//! HQ's errors: stable codes for machines ([`Code`], with the console's Arabic for each),
//! messages without personal data. No error names an engine: a database's own error becomes a
//! [`StorageError`] where the engine meets it.

use sila_domain::case::LifecycleError;
use sila_proto::UploadStatus;
use sila_proto::release::ReleaseError;

/// The words of a refusal the console has no words of its own for.
const COULD_NOT: &str = "تعذّر تنفيذ الطلب.";

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $arabic:expr;)*) => {
        /// Every code HQ answers a request with, on the devices' API and the console's, with the
        /// Arabic the console shows for it. The code is the machine's word and stable (the apps,
        /// the console's UI and the tests match on it, never on a message).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Code {
            $($(#[$doc])* $name,)*
            /// A release refused: sila-proto's codes (`update_bad_signature` …).
            Release(ReleaseError),
            /// A case's lifecycle refused a transition: sila-domain's codes (`wrong_state` …).
            Lifecycle(LifecycleError),
        }

        impl Code {
            /// Every code there is, once per wire word (the console's TypeScript lists them).
            pub fn all() -> Vec<Code> {
                let mut all = vec![$(Code::$name,)*];
                all.extend(every_release_error().into_iter().map(Code::Release));
                all.extend(every_lifecycle_error().into_iter().map(Code::Lifecycle));
                let mut seen = std::collections::HashSet::new();
                all.retain(|c| seen.insert(c.as_str()));
                all
            }

            /// The machine's word, as it goes on the wire.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Code::$name => $code,)*
                    Code::Release(e) => e.code(),
                    Code::Lifecycle(e) => e.code(),
                }
            }

            /// What the console says (never personal data).
            pub fn arabic(&self) -> &'static str {
                match self {
                    $(Code::$name => $arabic,)*
                    Code::Release(ReleaseError::BadSignature | ReleaseError::BadSignatureFormat) => {
                        "التوقيع لا يطابق الحزمة أو ليس بمفتاح التحديثات المعتمد في المقر، فلم يُنشر الإصدار."
                    }
                    Code::Release(ReleaseError::BadVersion) => "اكتب رقم الإصدار بالشكل 1.2.3.",
                    Code::Release(_) => COULD_NOT,
                    Code::Lifecycle(LifecycleError::WrongState { .. }) => {
                        "لا يمكن تنفيذ هذا الإجراء في حالة الطلب الحالية."
                    }
                    Code::Lifecycle(LifecycleError::NoteRequired { .. }) => "يجب كتابة سبب القرار.",
                    Code::Lifecycle(LifecycleError::NotPermitted { .. }) => Code::NotPermitted.arabic(),
                    Code::Lifecycle(e) => e.arabic_message(),
                }
            }
        }
    };
}

codes! {
    // The devices' API.
    Unauthorized = "unauthorized", COULD_NOT;
    DeviceRevoked = "device_revoked", COULD_NOT;
    CodeInvalid = "code_invalid", COULD_NOT;
    CodeExpired = "code_expired", COULD_NOT;
    CodeUsed = "code_used", COULD_NOT;
    BranchMismatch = "branch_mismatch", COULD_NOT;
    UploadOffset = "upload_offset", COULD_NOT;
    TooManyRequests = "too_many_requests", COULD_NOT;
    UpdateRequired = "update_required", COULD_NOT;
    HashMismatch = "hash_mismatch", COULD_NOT;
    Forbidden = "forbidden", COULD_NOT;
    // Both.
    BadRequest = "bad_request", COULD_NOT;
    NotFound = "not_found", "السجل المطلوب غير موجود.";
    ReleaseExists = "release_exists", "هذا الإصدار أو هذه الحزمة منشورة من قبل.";
    NoUpdateKey = "no_update_key",
        "لم يُضبط مفتاح التحديثات في المقر (--update-key)، فلا يمكن نشر إصدار.";
    ServerError = "server_error",
        "حدث خطأ في الخادم. أعد المحاولة، وإن تكرر فأبلغ مدير النظام.";
    // The console: signing in, sessions, roles.
    SignedOut = "signed_out", "انتهت الجلسة. سجّل الدخول من جديد.";
    WrongCredentials = "wrong_credentials", "اسم المستخدم أو كلمة المرور غير صحيحة.";
    TooManyAttempts = "too_many_attempts",
        "محاولات دخول كثيرة خاطئة. انتظر بضع دقائق ثم حاول مرة أخرى.";
    Busy = "busy", "الخادم مشغول بمحاولات دخول كثيرة. أعد المحاولة بعد قليل.";
    TooLarge = "too_large", "الطلب أكبر من المسموح.";
    UsernameTooLong = "username_too_long", "اسم المستخدم أطول من المسموح (64 حرفاً).";
    Csrf = "csrf", "تعذّر التحقق من مصدر الطلب. حدّث الصفحة ثم أعد المحاولة.";
    NotPermitted = "not_permitted", "ليست لديك صلاحية تنفيذ هذا الإجراء.";
    // The console: accounts.
    PasswordTooShort = "password_too_short", "كلمة المرور قصيرة: عشرة أحرف على الأقل.";
    PasswordTooLong = "password_too_long", "كلمة المرور أطول من المسموح.";
    HqRole = "hq_role", "أدوار المقر (لجنة البحث، موظف المقر) لا تُمنح لحساب فرع.";
    UsernameTaken = "username_taken", "اسم المستخدم مستخدم من قبل.";
    UsernameRequired = "username_required", "اكتب اسم المستخدم.";
    RolesRequired = "roles_required", "اختر دوراً واحداً على الأقل.";
    LastAdmin = "last_admin", "لا يمكن إيقاف آخر مدير نظام أو سحب صلاحيته.";
    OtherBranch = "other_branch", "الحساب تابع لفرع آخر.";
    BranchRequired = "branch_required", "اكتب اسم الفرع.";
    // The console: pages and forms.
    TitleRequired = "title_required", "اكتب عنوان المستند.";
    BadFilter = "bad_filter", "عامل التصفية غير صالح.";
    BadFile = "bad_file", "الملف غير صالح: يُقبل PDF أو PNG أو JPEG أو WebP حتى 15 ميغابايت.";
    BadTransition = "bad_transition", "القرار غير معروف.";
    CaseNumber = "case_number", "اكتب رقم الطلب كما في إيصال المستفيد.";
    CaseNotFound = "case_not_found", "لا يوجد طلب بهذا الرقم.";
    DuplicateValue = "duplicate_value", "القيمة المختارة يجب أن تكون من أحد الملفين.";
    /// A value of a person the domain refused (the answer names the field and its reason).
    InvalidField = "invalid_field", "قيمة غير صالحة";
    SignatureRequired = "signature_required",
        "اختر ملف التوقيع (‎.sig) الذي أنشأه tauri signer sign للحزمة.";
}

/// One of each of sila-proto's release refusals.
fn every_release_error() -> Vec<ReleaseError> {
    use ReleaseError as R;
    let all = vec![
        R::BadKey,
        R::BadSignatureFormat,
        R::BadSignature,
        R::SizeMismatch,
        R::HashMismatch,
        R::BadVersion,
        R::Io,
    ];
    // A refusal added to ReleaseError stops this match compiling until it is listed above too.
    for e in &all {
        match e {
            R::BadKey
            | R::BadSignatureFormat
            | R::BadSignature
            | R::SizeMismatch
            | R::HashMismatch
            | R::BadVersion
            | R::Io => {}
        }
    }
    all
}

/// One of each of sila-domain's lifecycle refusals (the fields are any: only the code is read).
fn every_lifecycle_error() -> Vec<LifecycleError> {
    use LifecycleError as L;
    use sila_domain::case::{CaseState, Transition};
    let transition = Transition::Approve;
    let all = vec![
        L::WrongState {
            from: CaseState::Draft,
            transition,
        },
        L::NotPermitted { transition },
        L::NoteRequired { transition },
        L::DeclarationMissing,
        L::DocumentsMissing { codes: Vec::new() },
        L::BeneficiaryInvalid { fields: Vec::new() },
        L::NeedMissing,
        L::ReportMissing,
        L::DecisionIsHq,
    ];
    // A refusal added to LifecycleError stops this match compiling until it is listed above too.
    for e in &all {
        match e {
            L::WrongState { .. }
            | L::NotPermitted { .. }
            | L::NoteRequired { .. }
            | L::DeclarationMissing
            | L::DocumentsMissing { .. }
            | L::BeneficiaryInvalid { .. }
            | L::NeedMissing
            | L::ReportMissing
            | L::DecisionIsHq => {}
        }
    }
    all
}

/// A code goes on the wire as its word.
impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// A request refused for a reason that has a code of its own (the console words each).
    #[error("refused: {0}")]
    Refused(Code),
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
    pub fn code(&self) -> Code {
        match self {
            HqError::Unauthorized => Code::Unauthorized,
            HqError::Revoked => Code::DeviceRevoked,
            HqError::CodeInvalid => Code::CodeInvalid,
            HqError::CodeExpired => Code::CodeExpired,
            HqError::CodeUsed => Code::CodeUsed,
            HqError::BranchMismatch => Code::BranchMismatch,
            HqError::BadRequest(_) => Code::BadRequest,
            HqError::Refused(code) => code.clone(),
            HqError::NotFound(_) => Code::NotFound,
            HqError::Forbidden(_) => Code::Forbidden,
            HqError::UploadOffset(_) => Code::UploadOffset,
            HqError::TooMany => Code::TooManyRequests,
            HqError::UpdateRequired => Code::UpdateRequired,
            HqError::HashMismatch => Code::HashMismatch,
            HqError::Release(e) => Code::Release(*e),
            HqError::ReleaseExists => Code::ReleaseExists,
            HqError::NoUpdateKey => Code::NoUpdateKey,
            HqError::Lifecycle(e) => Code::Lifecycle(e.clone()),
            HqError::Storage(_) | HqError::Json(_) | HqError::Io(_) => Code::ServerError,
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
