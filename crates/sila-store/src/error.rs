//! The store's errors: one enum, a stable code for each, and never a person's data in the text.

use sila_domain::DomainError;
use sila_domain::error::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no store in this folder")]
    NotInitialised,
    #[error("a store already exists in this folder")]
    AlreadyInitialised,
    #[error("wrong user name or password")]
    WrongPassword,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error(
        "the store was written by a newer version of Sila (schema {found}, this build knows {known})"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("the store's migration history does not match this build")]
    MigrationMismatch,
    #[error("the store file is damaged or is not a Sila store")]
    Corrupt,
    #[error("the file is not a Sila backup, or is incomplete")]
    NotABackup,
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("the record was changed since it was read (version {current}, edit based on {base})")]
    VersionConflict { current: i64, base: i64 },
    #[error("a beneficiary with this national ID already exists")]
    DuplicateNationalId { existing: String },
    #[error("not permitted for this account")]
    NotPermitted,
    #[error("another connection has the store open")]
    InUse,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("attachment type not accepted")]
    AttachmentType,
    #[error("attachment larger than the limit")]
    AttachmentTooLarge,
    #[error("export failed: {0}")]
    Export(String),
    #[error("keyring file: {0}")]
    Keyring(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("data format error: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<sila_domain::case::LifecycleError> for StoreError {
    fn from(e: sila_domain::case::LifecycleError) -> Self {
        StoreError::Domain(DomainError::Lifecycle(e))
    }
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotInitialised => "store_not_initialised",
            StoreError::AlreadyInitialised => "store_exists",
            StoreError::WrongPassword => "wrong_password",
            StoreError::AccountDisabled => "account_disabled",
            StoreError::NewerSchema { .. } => "store_newer_schema",
            StoreError::MigrationMismatch => "store_migration_mismatch",
            StoreError::Corrupt => "store_corrupt",
            StoreError::NotABackup => "not_a_backup",
            StoreError::NotFound(_) => "not_found",
            StoreError::VersionConflict { .. } => "version_conflict",
            StoreError::DuplicateNationalId { .. } => "duplicate_national_id",
            StoreError::NotPermitted => "not_permitted",
            StoreError::InUse => "store_in_use",
            StoreError::Invalid(_) => "invalid_input",
            StoreError::Domain(e) => e.code(),
            StoreError::AttachmentType => "attachment_type",
            StoreError::AttachmentTooLarge => "attachment_too_large",
            StoreError::Export(_) => "export_failed",
            StoreError::Keyring(_) => "keyring_error",
            StoreError::Sqlite(_) => "database_error",
            StoreError::Io(_) => "io_error",
            StoreError::Json(_) => "data_format_error",
        }
    }

    pub fn arabic_message(&self) -> String {
        match self {
            StoreError::NotInitialised => {
                "لا توجد قاعدة بيانات للفرع في هذا المجلد. ابدأ بالإعداد الأول.".into()
            }
            StoreError::AlreadyInitialised => {
                "قاعدة بيانات الفرع موجودة مسبقاً في هذا المجلد.".into()
            }
            StoreError::WrongPassword => "اسم المستخدم أو كلمة المرور غير صحيحة.".into(),
            StoreError::AccountDisabled => "هذا الحساب موقوف. راجع مدير النظام.".into(),
            StoreError::NewerSchema { .. } => {
                "أنشئت قاعدة البيانات بإصدار أحدث من صلة. حدّث البرنامج.".into()
            }
            StoreError::MigrationMismatch => "سجل ترقيات قاعدة البيانات لا يطابق هذا الإصدار.".into(),
            StoreError::Corrupt => "ملف قاعدة البيانات تالف أو ليس من صلة.".into(),
            StoreError::NotABackup => {
                "هذا الملف ليس نسخة احتياطية من صلة، أو أنه غير مكتمل. لم يُستعد شيء.".into()
            }
            StoreError::NotFound(_) => "السجل المطلوب غير موجود.".into(),
            StoreError::VersionConflict { .. } => "عُدّل السجل بعد فتحه. أعد فتحه ثم عدّل.".into(),
            StoreError::DuplicateNationalId { .. } => {
                "يوجد مستفيد مسجل بنفس رقم الهوية. افتح ملفه بدلاً من إنشاء ملف جديد.".into()
            }
            StoreError::NotPermitted => "ليست لديك صلاحية تنفيذ هذا الإجراء.".into(),
            StoreError::InUse => {
                "قاعدة البيانات مفتوحة في برنامج آخر (مثل سطر الأوامر). أغلقه ثم أعد المحاولة."
                    .into()
            }
            StoreError::Invalid(fields) => fields
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("؛ "),
            StoreError::Domain(e) => e.arabic_message(),
            StoreError::AttachmentType => {
                "نوع الملف غير مقبول. المقبول: صور (PNG، JPEG، WebP) أو PDF.".into()
            }
            StoreError::AttachmentTooLarge => "حجم الملف أكبر من المسموح.".into(),
            StoreError::Export(_) => "تعذر كتابة ملف التصدير.".into(),
            StoreError::Keyring(_) => "ملف مفاتيح التشفير تالف أو غير مقروء.".into(),
            StoreError::Sqlite(_) | StoreError::Io(_) | StoreError::Json(_) => {
                "تعذر حفظ البيانات أو قراءتها. لم يُحفظ شيء جزئياً.".into()
            }
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
