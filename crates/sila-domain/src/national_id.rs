//! Saudi national ID (citizen, starts with 1) and iqama (resident, starts
//! with 2) numbers: parsing, validation and the check digit.
//!
//! Owns: the only way to make a [`NationalId`], so a value of that type is
//! always ten ASCII digits with a valid prefix and checksum.
//!
//! Must never: do IO, or put the number itself into an error, a log line or
//! a `Debug` string. Errors carry only the kind of problem; `Debug` is
//! redacted; only `Display`/`as_str` give the digits, for the caller to show
//! on screen.

use std::fmt;

use crate::arabic::{fold_digits, is_invisible_format};

/// Citizen (national ID, first digit 1) or resident (iqama, first digit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    Citizen,
    Resident,
}

/// A validated Saudi national ID or iqama number: exactly ten ASCII digits,
/// first digit 1 or 2, checksum valid.
///
/// Serialises as a plain string; deserialising validates, so a corrupted or
/// hand-edited value is rejected at the boundary instead of travelling on.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

/// Why a national ID was rejected. The variants never carry the input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
pub enum IdError {
    #[error("national ID is empty")]
    #[serde(rename = "id_empty")]
    Empty,
    #[error("national ID may contain only digits, spaces and dashes")]
    #[serde(rename = "id_not_digits")]
    NotDigits,
    #[error("national ID must be exactly 10 digits")]
    #[serde(rename = "id_wrong_length")]
    WrongLength,
    #[error("national ID must start with 1 (citizen) or 2 (resident)")]
    #[serde(rename = "id_bad_prefix")]
    BadPrefix,
    #[error("national ID check digit does not match (probably a typing mistake)")]
    #[serde(rename = "id_bad_checksum")]
    BadChecksum,
}

impl IdError {
    /// Stable machine code, for the UI and for tests; never changes once
    /// shipped. Serde uses the same string.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Empty => "id_empty",
            IdError::NotDigits => "id_not_digits",
            IdError::WrongLength => "id_wrong_length",
            IdError::BadPrefix => "id_bad_prefix",
            IdError::BadChecksum => "id_bad_checksum",
        }
    }

    /// The message shown to staff.
    pub fn arabic_message(&self) -> &'static str {
        match self {
            IdError::Empty => "رقم الهوية مطلوب",
            IdError::NotDigits => "رقم الهوية يجب أن يحتوي على أرقام فقط",
            IdError::WrongLength => "رقم الهوية يجب أن يتكون من 10 أرقام",
            IdError::BadPrefix => "رقم الهوية يجب أن يبدأ بالرقم 1 للمواطن أو 2 للمقيم",
            IdError::BadChecksum => "رقم الهوية غير صحيح، تأكد من كتابته كما هو في البطاقة",
        }
    }
}

impl NationalId {
    /// Parses what staff type or paste: Arabic-Indic or ASCII digits,
    /// surrounding or inner spaces and dashes (ID cards print the number in
    /// groups), and invisible direction marks that come with pasted Arabic
    /// text. Anything else is rejected rather than silently dropped, so a
    /// letter typed by mistake is noticed.
    pub fn parse(input: &str) -> Result<NationalId, IdError> {
        let folded = fold_digits(input);
        let mut digits = String::with_capacity(10);
        for c in folded.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if is_separator(c) {
                continue;
            } else {
                return Err(IdError::NotDigits);
            }
        }
        if digits.is_empty() {
            return Err(IdError::Empty);
        }
        if digits.len() != 10 {
            return Err(IdError::WrongLength);
        }
        if !matches!(digits.as_bytes()[0], b'1' | b'2') {
            return Err(IdError::BadPrefix);
        }
        if !luhn_sum(digits.as_bytes()).is_multiple_of(10) {
            return Err(IdError::BadChecksum);
        }
        Ok(NationalId(digits))
    }

    pub fn kind(&self) -> IdKind {
        // The constructor guarantees the first digit is 1 or 2.
        if self.0.starts_with('1') {
            IdKind::Citizen
        } else {
            IdKind::Resident
        }
    }

    /// The ten ASCII digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || is_invisible_format(c)
        || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// The Saudi ID checksum: digits at even (0-based) positions are doubled and
/// the digits of the product added; digits at odd positions are added as is.
/// `digits` must be ASCII digits.
fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let p = d * 2;
                p / 10 + p % 10
            } else {
                d
            }
        })
        .sum()
}

/// The tenth digit that makes `first9` a valid ID, or `None` when `first9` is
/// not nine digits (Arabic-Indic accepted) or does not start with 1 or 2 (no
/// check digit can make such a number valid). Used to generate demo data.
pub fn checksum_digit(first9: &str) -> Option<char> {
    let folded = fold_digits(first9);
    let bytes = folded.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !matches!(bytes[0], b'1' | b'2') {
        return None;
    }
    // Position 9 is odd, so the check digit is added as is.
    let d = (10 - luhn_sum(bytes) % 10) % 10;
    char::from_digit(d, 10)
}

impl fmt::Display for NationalId {
    /// The digits themselves: this is the value the caller shows on screen.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NationalId {
    /// Redacted: `Debug` output ends up in logs and panic messages, where a
    /// person's ID must never appear.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({:?}, <redacted>)", self.kind())
    }
}

impl std::str::FromStr for NationalId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NationalId::parse(s)
    }
}

impl TryFrom<String> for NationalId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        NationalId::parse(&s)
    }
}

impl From<NationalId> for String {
    fn from(id: NationalId) -> String {
        id.0
    }
}

impl AsRef<str> for NationalId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Valid samples computed by hand with the rule in `luhn_sum`, e.g.
    // 1000000008: 1*2=2, +0.., 8 at odd position 9 → 2+8 = 10.
    const VALID_CITIZEN: &str = "1000000008";
    const VALID_RESIDENT: &str = "2000000006";
    const VALID_CITIZEN_2: &str = "1234567897";

    fn check(cases: &[(&str, Result<&str, IdError>)]) {
        for (input, expected) in cases {
            let got = NationalId::parse(input);
            let got = got.as_ref().map(NationalId::as_str).map_err(|e| *e);
            assert_eq!(got, *expected, "input: {input:?}");
        }
    }

    #[test]
    fn parse_cases() {
        check(&[
            (VALID_CITIZEN, Ok(VALID_CITIZEN)),
            (VALID_RESIDENT, Ok(VALID_RESIDENT)),
            (VALID_CITIZEN_2, Ok(VALID_CITIZEN_2)),
            ("١٠٠٠٠٠٠٠٠٨", Ok(VALID_CITIZEN)),
            ("۱۰۰۰۰۰۰۰۰۸", Ok(VALID_CITIZEN)),
            ("  1000000008  ", Ok(VALID_CITIZEN)),
            ("1 000 000 008", Ok(VALID_CITIZEN)),
            ("1-000-000-008", Ok(VALID_CITIZEN)),
            ("\u{200F}1000000008", Ok(VALID_CITIZEN)),
            ("", Err(IdError::Empty)),
            ("   ", Err(IdError::Empty)),
            (" - ", Err(IdError::Empty)),
            ("10000000O8", Err(IdError::NotDigits)),
            ("1000000008x", Err(IdError::NotDigits)),
            ("1000.000.008", Err(IdError::NotDigits)),
            ("+1000000008", Err(IdError::NotDigits)),
            ("100000000", Err(IdError::WrongLength)),
            ("10000000080", Err(IdError::WrongLength)),
            ("3000000004", Err(IdError::BadPrefix)),
            ("0000000000", Err(IdError::BadPrefix)),
            ("1000000009", Err(IdError::BadChecksum)),
            ("1234567890", Err(IdError::BadChecksum)),
            // A swapped pair of digits is caught.
            ("1234567879", Err(IdError::BadChecksum)),
        ]);
    }

    #[test]
    fn kind_cases() {
        let cases = [
            (VALID_CITIZEN, IdKind::Citizen),
            (VALID_RESIDENT, IdKind::Resident),
        ];
        for (input, kind) in cases {
            assert_eq!(NationalId::parse(input).unwrap().kind(), kind);
        }
    }

    #[test]
    fn checksum_digit_cases() {
        let cases = [
            ("100000000", Some('8')),
            ("200000000", Some('6')),
            ("123456789", Some('7')),
            ("١٢٣٤٥٦٧٨٩", Some('7')),
            ("300000000", None),
            ("12345678", None),
            ("1234567890", None),
            ("12345678x", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(checksum_digit(input), expected, "input: {input:?}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let cases = [
            (IdError::Empty, "id_empty"),
            (IdError::NotDigits, "id_not_digits"),
            (IdError::WrongLength, "id_wrong_length"),
            (IdError::BadPrefix, "id_bad_prefix"),
            (IdError::BadChecksum, "id_bad_checksum"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(serde_json::to_string(&err).unwrap(), format!("\"{code}\""));
            assert!(crate::arabic::contains_arabic(err.arabic_message()));
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn serde_and_formatting() {
        let id = NationalId::parse(VALID_CITIZEN).unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"1000000008\"");
        assert_eq!(id.to_string(), VALID_CITIZEN);
        assert!(!format!("{id:?}").contains(VALID_CITIZEN));
        let back: NationalId = serde_json::from_str("\"1000000008\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<NationalId>("\"1000000009\"").is_err());
        assert_eq!(
            serde_json::to_string(&IdKind::Citizen).unwrap(),
            "\"citizen\""
        );
        assert_eq!(
            serde_json::to_string(&IdKind::Resident).unwrap(),
            "\"resident\""
        );
    }

    proptest! {
        #[test]
        fn checksum_digit_makes_a_valid_id(prefix in 1u8..=2, rest in "[0-9]{8}") {
            let first9 = format!("{prefix}{rest}");
            let d = checksum_digit(&first9).unwrap();
            let full = format!("{first9}{d}");
            let id = NationalId::parse(&full).unwrap();
            prop_assert_eq!(id.as_str(), full.as_str());
            // Every other last digit is rejected: the check digit is unique.
            for other in ('0'..='9').filter(|c| *c != d) {
                prop_assert_eq!(
                    NationalId::parse(&format!("{first9}{other}")),
                    Err(IdError::BadChecksum)
                );
            }
        }
    }
}
