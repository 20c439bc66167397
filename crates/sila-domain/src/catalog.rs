//! The charity's configurable vocabulary: the eight channels of the policy, interaction purposes,
//! support types and the documents each requires, the declaration text, and the policy numbers
//! (the promised reply period). Support types and documents are data: these are the Arabic defaults
//! a new branch store starts with, and HQ may publish others.

use serde::{Deserialize, Serialize};

/// The eight channels of the policy ("القنوات المستخدمة للتواصل مع المستفيدين").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Interview,
    Phone,
    SocialMedia,
    Letter,
    HelpRequestService,
    Volunteer,
    Website,
    BranchRepresentative,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::Interview,
        Channel::Phone,
        Channel::SocialMedia,
        Channel::Letter,
        Channel::HelpRequestService,
        Channel::Volunteer,
        Channel::Website,
        Channel::BranchRepresentative,
    ];
    pub fn code(self) -> &'static str {
        match self {
            Channel::Interview => "interview",
            Channel::Phone => "phone",
            Channel::SocialMedia => "social_media",
            Channel::Letter => "letter",
            Channel::HelpRequestService => "help_request_service",
            Channel::Volunteer => "volunteer",
            Channel::Website => "website",
            Channel::BranchRepresentative => "branch_representative",
        }
    }
    pub fn from_code(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.code() == s)
    }
    /// The policy's own words for each channel.
    pub fn arabic(self) -> &'static str {
        match self {
            Channel::Interview => "المقابلة",
            Channel::Phone => "الاتصالات الهاتفية",
            Channel::SocialMedia => "وسائل التواصل الاجتماعي",
            Channel::Letter => "الخطابات",
            Channel::HelpRequestService => "خدمات طلب المساعدة",
            Channel::Volunteer => "خدمة التطوع",
            Channel::Website => "الموقع الإلكتروني للجمعية",
            Channel::BranchRepresentative => "مناديب المكاتب الفرعية",
        }
    }
}

/// A document a support type requires, checked against the original by the employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentType {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
}

/// A kind of support the charity gives, with the documents a request for it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportType {
    pub code: String,
    pub name_ar: String,
    pub name_en: String,
    /// Codes of [`DocumentType`]s that must be attached and seen in original before submission.
    pub required_documents: Vec<String>,
}

/// The numbers the policy fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Promised reply date = submission date + this many days ("خلال مدة لا تقل عن أسبوعين").
    pub reply_days: i64,
    /// A promise is "due soon" when this many days or fewer remain.
    pub due_soon_days: i64,
    /// A "promised date near" task appears this many days before the promise.
    pub promise_reminder_days: i64,
    /// Registered beneficiaries are re-assessed this many days after their last assessment.
    pub reassessment_days: i64,
    /// A complaint is answered within this many days of being received.
    #[serde(default = "default_complaint_reply_days")]
    pub complaint_reply_days: i64,
    /// A suggestion is answered within this many days of being received.
    #[serde(default = "default_suggestion_reply_days")]
    pub suggestion_reply_days: i64,
}

// Catalogs saved before these numbers existed read them as the defaults.
fn default_complaint_reply_days() -> i64 {
    7
}
fn default_suggestion_reply_days() -> i64 {
    14
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            reply_days: 14,
            due_soon_days: 3,
            promise_reminder_days: 3,
            reassessment_days: 365,
            complaint_reply_days: default_complaint_reply_days(),
            suggestion_reply_days: default_suggestion_reply_days(),
        }
    }
}

/// The support types, documents and declaration a branch works with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub support_types: Vec<SupportType>,
    pub document_types: Vec<DocumentType>,
    pub declaration_ar: String,
    pub declaration_en: String,
    pub policy: Policy,
}

impl Catalog {
    pub fn support_type(&self, code: &str) -> Option<&SupportType> {
        self.support_types.iter().find(|s| s.code == code)
    }
    pub fn document_type(&self, code: &str) -> Option<&DocumentType> {
        self.document_types.iter().find(|d| d.code == code)
    }

    /// The Arabic defaults a new branch starts with.
    pub fn arabic_defaults() -> Catalog {
        let doc = |code: &str, ar: &str, en: &str| DocumentType {
            code: code.into(),
            name_ar: ar.into(),
            name_en: en.into(),
        };
        let st = |code: &str, ar: &str, en: &str, docs: &[&str]| SupportType {
            code: code.into(),
            name_ar: ar.into(),
            name_en: en.into(),
            required_documents: docs.iter().map(|d| d.to_string()).collect(),
        };
        Catalog {
            document_types: vec![
                doc("national_id", "صورة الهوية الوطنية أو الإقامة", "National ID or iqama"),
                doc("family_card", "صورة سجل الأسرة", "Family card"),
                doc("income_proof", "ما يثبت الدخل (تعريف بالراتب أو الضمان)", "Proof of income"),
                doc("lease", "عقد الإيجار", "Lease contract"),
                doc("bill", "صورة الفاتورة", "Bill"),
                doc("medical_report", "تقرير طبي", "Medical report"),
                doc("school_proof", "إفادة من المدرسة أو الجامعة", "School or university letter"),
                doc("bank_iban", "شهادة الآيبان", "Bank IBAN certificate"),
            ],
            support_types: vec![
                st("financial", "مساعدة مالية", "Financial aid", &["national_id", "family_card", "income_proof", "bank_iban"]),
                st("food_basket", "سلة غذائية", "Food basket", &["national_id", "family_card"]),
                st("rent", "سداد إيجار", "Rent", &["national_id", "family_card", "lease", "income_proof"]),
                st("bills", "سداد فواتير", "Bills", &["national_id", "bill"]),
                st("medical", "مساعدة علاجية", "Medical", &["national_id", "medical_report"]),
                st("education", "دعم تعليمي", "Education", &["national_id", "school_proof"]),
                st("furniture", "أثاث وأجهزة", "Furniture", &["national_id", "family_card"]),
                st("seasonal", "مساعدة موسمية", "Seasonal", &["national_id", "family_card"]),
            ],
            declaration_ar: "أقر أنا الموقع أدناه بأن جميع البيانات والمعلومات المقدمة مني في هذا الطلب صحيحة وكاملة، \
وأنني مسؤول مسؤولية مباشرة عن صحتها، وأتعهد بإبلاغ الجمعية بأي تغيير يطرأ عليها، وأعلم أن طلبي سيرفع إلى لجنة البحث \
لدراسته والرد علي بقبوله أو رفضه خلال مدة لا تقل عن أسبوعين."
                .into(),
            declaration_en: "I, the undersigned, declare that all the information I have given in this request is true and \
complete, that I am directly responsible for its correctness, and that I will inform the association of any change. I \
understand that my request will go to the research committee, which will reply with its acceptance or rejection in no \
less than two weeks."
                .into(),
            policy: Policy::default(),
        }
    }
}

/// Why a staff member and a beneficiary were in contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Inquiry,
    Complaint,
    Suggestion,
    FollowUp,
    DecisionNotice,
}

impl Purpose {
    pub fn arabic(self) -> &'static str {
        match self {
            Purpose::Inquiry => "استفسار",
            Purpose::Complaint => "شكوى",
            Purpose::Suggestion => "اقتراح",
            Purpose::FollowUp => "متابعة",
            Purpose::DecisionNotice => "إبلاغ بالقرار",
        }
    }
}
