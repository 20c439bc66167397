//! Append-only records around a beneficiary: contacts through the policy's channels, services
//! delivered, satisfaction surveys, and content-addressed attachments.
//!
//! None of these is ever edited in place: sync treats them as append-only, so two places can add
//! them offline without ever colliding.

use crate::catalog::{Channel, Purpose};
use crate::field_error::FieldError;
use crate::ids::{BeneficiaryId, CaseId, DeliveryId, InteractionId, StaffId, SurveyId};
use crate::phone::Mobile;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// One contact through any of the channels (the interaction log on every file): with a registered
/// beneficiary (and perhaps about one of their cases), or with someone not registered (a question
/// by phone, a suggestion), who is then named by `contact_name` and perhaps `contact_phone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    #[serde(default)]
    pub beneficiary_id: Option<BeneficiaryId>,
    #[serde(default)]
    pub case_id: Option<CaseId>,
    pub channel: Channel,
    pub direction: Direction,
    pub purpose: Purpose,
    pub summary: String,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub follow_up_on: Option<NaiveDate>,
    pub staff: StaffId,
    pub at: DateTime<Utc>,
    /// Who it was with, when they are not a registered beneficiary.
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_phone: Option<Mobile>,
    /// The letter, message or photo that came with it (SHA-256 of each stored attachment).
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The complaint or suggestion this contact answers.
    #[serde(default)]
    pub answers: Option<InteractionId>,
}

/// Files attached to one contact, at most.
pub const MAX_CONTACT_ATTACHMENTS: usize = 10;
/// The longest summary or outcome.
pub const MAX_CONTACT_TEXT: usize = 4_000;

impl Interaction {
    /// What must hold for a contact to be stored, or accepted from a device.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.summary.trim().is_empty() {
            errors.push(FieldError::required("summary"));
        } else if self.summary.chars().count() > MAX_CONTACT_TEXT {
            errors.push(FieldError::new(
                "summary",
                "too_long",
                "النص أطول من المسموح",
            ));
        }
        if self.outcome.chars().count() > MAX_CONTACT_TEXT {
            errors.push(FieldError::new(
                "outcome",
                "too_long",
                "النص أطول من المسموح",
            ));
        }
        if self.beneficiary_id.is_none() && self.contact_name.trim().is_empty() {
            errors.push(FieldError::new(
                "contact_name",
                "required",
                "اختر المستفيد أو اكتب اسم من تواصل",
            ));
        }
        if self.contact_name.chars().count() > 200 {
            errors.push(FieldError::new(
                "contact_name",
                "too_long",
                "الاسم أطول من المسموح",
            ));
        }
        if self.case_id.is_some() && self.beneficiary_id.is_none() {
            errors.push(FieldError::new(
                "case_id",
                "invalid_value",
                "قيمة غير صالحة",
            ));
        }
        if self.attachments.len() > MAX_CONTACT_ATTACHMENTS {
            errors.push(FieldError::new(
                "attachments",
                "too_many",
                "عدد المرفقات أكثر من المسموح",
            ));
        }
        if self
            .attachments
            .iter()
            .any(|a| a.len() != 64 || !a.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errors.push(FieldError::new(
                "attachments",
                "invalid_value",
                "قيمة غير صالحة",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A service delivered under a registered case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub case_id: CaseId,
    /// What was given ("سلة غذائية", "سداد إيجار" …), usually the support type's code.
    pub kind: String,
    /// Amount in halalas when the service is money.
    #[serde(default)]
    pub amount_halalas: Option<i64>,
    /// Items when the service is in kind.
    #[serde(default)]
    pub items: String,
    pub delivered_on: NaiveDate,
    pub delivered_by: StaffId,
    pub delivered_by_name: String,
}

/// A satisfaction survey answer. Scores are 1..=5. An anonymous answer keeps no link to the
/// beneficiary: only the case's branch, support type, channel and employee are kept for reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    pub id: SurveyId,
    #[serde(default)]
    pub case_id: Option<CaseId>,
    #[serde(default)]
    pub delivery_id: Option<DeliveryId>,
    pub overall: u8,
    pub speed: u8,
    pub courtesy: u8,
    pub clarity: u8,
    #[serde(default)]
    pub comment: String,
    pub anonymous: bool,
    pub channel: Channel,
    pub answered_on: NaiveDate,
    /// The service asked about (the case's support type), kept even when the answer is anonymous.
    #[serde(default)]
    pub support_type: String,
    /// The employee who served the applicant (who delivered the service, else who took the
    /// request), for reports per employee; kept even when the answer is anonymous.
    #[serde(default)]
    pub employee: Option<StaffId>,
}

impl Survey {
    /// A case can be asked about once it has been decided (approved or rejected: a rejected
    /// applicant's view of how they were treated counts too), and after it is served or closed.
    pub fn allowed_for(state: crate::case::CaseState) -> bool {
        use crate::case::CaseState::*;
        matches!(state, Approved | Rejected | Registered | Served | Closed)
    }

    pub fn validate(&self) -> Result<(), crate::field_error::FieldError> {
        for (field, v) in [
            ("overall", self.overall),
            ("speed", self.speed),
            ("courtesy", self.courtesy),
            ("clarity", self.clarity),
        ] {
            if !(1..=5).contains(&v) {
                return Err(crate::field_error::FieldError::new(
                    field,
                    "score_out_of_range",
                    "التقييم من 1 إلى 5",
                ));
            }
        }
        Ok(())
    }
}

/// A file kept by its content: scanned IDs, family cards, leases, signatures, knowledge-base documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub mime: String,
    pub size: u64,
}

/// The content address of some bytes.
pub fn content_address(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The mime types a scan or document may have. Anything else is refused: files are untrusted input.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_address_is_sha256_hex() {
        assert_eq!(
            content_address(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn sniffs_only_known_types() {
        assert_eq!(sniff_mime(b"%PDF-1.7 ..."), Some("application/pdf"));
        assert_eq!(sniff_mime(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(sniff_mime(b"<script>alert(1)</script>"), None);
    }
}
