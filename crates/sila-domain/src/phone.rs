//! Saudi mobile numbers: parsing what staff type into the one stored form,
//! E.164 `+9665XXXXXXXX`, and the digit form used to search by a typed tail.
//!
//! Owns: the only way to make a [`Mobile`], so a value of that type is always
//! `+9665` followed by exactly 8 digits.
//!
//! Must never: do IO, or put the number itself into an error, a log line or a
//! `Debug` string. Errors carry only the kind of problem; `Debug` is redacted;
//! only `Display`/`as_str`/`national` give the number, for the caller to show
//! or to dial.

use std::fmt;

use crate::arabic::{fold_digits, is_invisible_format};

/// A Saudi mobile number in E.164 form, `+9665XXXXXXXX`.
///
/// Serialises as that string; deserialising validates (and accepts any form
/// [`Mobile::parse`] accepts).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mobile(String);

/// Why a mobile number was rejected. The variants never carry the input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
pub enum PhoneError {
    #[error("mobile number is empty")]
    #[serde(rename = "phone_empty")]
    Empty,
    #[error("mobile number may contain only digits, spaces, dashes, brackets and a leading +")]
    #[serde(rename = "phone_not_digits")]
    NotDigits,
    #[error("not a Saudi mobile number (expected 05XXXXXXXX or +9665XXXXXXXX)")]
    #[serde(rename = "phone_not_saudi_mobile")]
    NotSaudiMobile,
    #[error("Saudi mobile number has the wrong number of digits")]
    #[serde(rename = "phone_wrong_length")]
    WrongLength,
}

impl PhoneError {
    /// Stable machine code, for the UI and for tests; never changes once
    /// shipped. Serde uses the same string.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "phone_empty",
            PhoneError::NotDigits => "phone_not_digits",
            PhoneError::NotSaudiMobile => "phone_not_saudi_mobile",
            PhoneError::WrongLength => "phone_wrong_length",
        }
    }

    /// The message shown to staff.
    pub fn arabic_message(&self) -> &'static str {
        match self {
            PhoneError::Empty => "رقم الجوال مطلوب",
            PhoneError::NotDigits => "رقم الجوال يجب أن يحتوي على أرقام فقط",
            PhoneError::NotSaudiMobile => "رقم الجوال يجب أن يكون رقم جوال سعودي يبدأ بـ 05",
            PhoneError::WrongLength => "رقم الجوال يجب أن يتكون من 10 أرقام تبدأ بـ 05",
        }
    }
}

impl Mobile {
    /// Parses a Saudi mobile number as staff type it: `0551234567`,
    /// `551234567`, `966551234567`, `+966551234567`, `00966551234567`, with
    /// spaces, dashes, dots or brackets anywhere, in Arabic-Indic or ASCII
    /// digits. A trunk `0` written after the country code (`+966 055…`, a
    /// common slip) is tolerated.
    pub fn parse(input: &str) -> Result<Mobile, PhoneError> {
        let folded = fold_digits(input);
        let mut digits = String::with_capacity(16);
        let mut plus = false;
        for c in folded.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if c == '+' && digits.is_empty() && !plus {
                // Only as the very first significant character.
                plus = true;
            } else if is_separator(c) {
                continue;
            } else {
                return Err(PhoneError::NotDigits);
            }
        }
        if digits.is_empty() {
            return Err(if plus {
                PhoneError::NotDigits
            } else {
                PhoneError::Empty
            });
        }

        let subscriber = if plus {
            // After + only a country code can follow, and it must be Saudi.
            digits
                .strip_prefix("966")
                .ok_or(PhoneError::NotSaudiMobile)?
        } else if let Some(international) = digits.strip_prefix("00") {
            international
                .strip_prefix("966")
                .ok_or(PhoneError::NotSaudiMobile)?
        } else if let Some(rest) = digits.strip_prefix("966") {
            // A local number starts with 0 or 5, never 9, so "966" here can
            // only be the country code.
            rest
        } else {
            digits.as_str()
        };
        let subscriber = subscriber.strip_prefix('0').unwrap_or(subscriber);

        if !subscriber.starts_with('5') {
            return Err(PhoneError::NotSaudiMobile);
        }
        if subscriber.len() != 9 {
            return Err(PhoneError::WrongLength);
        }
        Ok(Mobile(format!("+966{subscriber}")))
    }

    /// E.164 form, `+9665XXXXXXXX`: what is stored and what is dialled.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// National form, `05XXXXXXXX`: what staff and beneficiaries recognise.
    pub fn national(&self) -> String {
        format!("0{}", &self.0["+966".len()..])
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || is_invisible_format(c)
        || matches!(
            c,
            '-' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '(' | ')' | '.' | '/'
        )
}

/// Folds digits and keeps only the ASCII digits, for matching a typed phone
/// number (or its tail) against stored numbers. Never fails: a partial number
/// is a legitimate search.
pub fn digits_for_search(input: &str) -> String {
    fold_digits(input)
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

impl fmt::Display for Mobile {
    /// E.164 form: the value the caller shows or dials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Mobile {
    /// Redacted: `Debug` output ends up in logs and panic messages, where a
    /// person's phone number must never appear.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mobile(<redacted>)")
    }
}

impl std::str::FromStr for Mobile {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mobile::parse(s)
    }
}

impl TryFrom<String> for Mobile {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Mobile::parse(&s)
    }
}

impl From<Mobile> for String {
    fn from(m: Mobile) -> String {
        m.0
    }
}

impl AsRef<str> for Mobile {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E164: &str = "+966551234567";

    fn check(cases: &[(&str, Result<&str, PhoneError>)]) {
        for (input, expected) in cases {
            let got = Mobile::parse(input);
            let got = got.as_ref().map(Mobile::as_str).map_err(|e| *e);
            assert_eq!(got, *expected, "input: {input:?}");
        }
    }

    #[test]
    fn parse_cases() {
        check(&[
            ("0551234567", Ok(E164)),
            ("551234567", Ok(E164)),
            ("966551234567", Ok(E164)),
            ("+966551234567", Ok(E164)),
            ("00966551234567", Ok(E164)),
            ("+966 55 123 4567", Ok(E164)),
            ("055-123-4567", Ok(E164)),
            ("(055) 123 4567", Ok(E164)),
            ("٠٥٥١٢٣٤٥٦٧", Ok(E164)),
            ("۰۵۵۱۲۳۴۵۶۷", Ok(E164)),
            ("+٩٦٦٥٥١٢٣٤٥٦٧", Ok(E164)),
            ("  0551234567 ", Ok(E164)),
            ("\u{200E}+966551234567", Ok(E164)),
            ("+966 0551234567", Ok(E164)),
            ("055.123.4567", Ok(E164)),
            ("0501234567", Ok("+966501234567")),
            ("", Err(PhoneError::Empty)),
            ("  ", Err(PhoneError::Empty)),
            ("()", Err(PhoneError::Empty)),
            ("+", Err(PhoneError::NotDigits)),
            ("055123456a", Err(PhoneError::NotDigits)),
            ("055+1234567", Err(PhoneError::NotDigits)),
            ("++966551234567", Err(PhoneError::NotDigits)),
            ("جوال 0551234567", Err(PhoneError::NotDigits)),
            ("0112345678", Err(PhoneError::NotSaudiMobile)),
            ("+971501234567", Err(PhoneError::NotSaudiMobile)),
            ("00971501234567", Err(PhoneError::NotSaudiMobile)),
            ("+1 555 123 4567", Err(PhoneError::NotSaudiMobile)),
            ("055123456", Err(PhoneError::WrongLength)),
            ("05512345678", Err(PhoneError::WrongLength)),
            ("+96655123456", Err(PhoneError::WrongLength)),
            ("5", Err(PhoneError::WrongLength)),
        ]);
    }

    #[test]
    fn national_form() {
        let cases = [
            ("+966551234567", "0551234567"),
            ("0501234567", "0501234567"),
        ];
        for (input, expected) in cases {
            assert_eq!(Mobile::parse(input).unwrap().national(), expected);
        }
    }

    #[test]
    fn digits_for_search_cases() {
        let cases = [
            ("٤٥٦٧", "4567"),
            ("055-123 4567", "0551234567"),
            ("+966 (55)", "96655"),
            ("abc", ""),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(digits_for_search(input), expected, "input: {input:?}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let cases = [
            (PhoneError::Empty, "phone_empty"),
            (PhoneError::NotDigits, "phone_not_digits"),
            (PhoneError::NotSaudiMobile, "phone_not_saudi_mobile"),
            (PhoneError::WrongLength, "phone_wrong_length"),
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
        let m = Mobile::parse("0551234567").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"+966551234567\"");
        assert_eq!(m.to_string(), E164);
        assert!(!format!("{m:?}").contains("1234567"));
        let back: Mobile = serde_json::from_str("\"+966551234567\"").unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Mobile>("\"+966112345678\"").is_err());
    }
}
