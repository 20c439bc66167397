//! Append-only records around a beneficiary: contacts through the policy's channels, services
//! delivered, satisfaction surveys, and content-addressed attachments.
//!
//! None of these is ever edited in place: sync treats them as append-only, so two places can add
//! them offline without ever colliding.

use crate::catalog::{Channel, Purpose};
use crate::ids::{BeneficiaryId, CaseId, DeliveryId, InteractionId, StaffId, SurveyId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// One contact with a beneficiary (the interaction log on every file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: InteractionId,
    pub beneficiary_id: BeneficiaryId,
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
/// beneficiary: only the case's branch, support type and channel are kept for reporting.
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
}

impl Survey {
    pub fn validate(&self) -> Result<(), crate::error::FieldError> {
        for (field, v) in [
            ("overall", self.overall),
            ("speed", self.speed),
            ("courtesy", self.courtesy),
            ("clarity", self.clarity),
        ] {
            if !(1..=5).contains(&v) {
                return Err(crate::error::FieldError::new(
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
