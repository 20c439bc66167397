//! Dates as staff enter and read them: Hijri (Umm al-Qura) or Gregorian, while
//! every date is stored as a Gregorian `chrono::NaiveDate`.
//!
//! Owns: Hijri ⇄ Gregorian conversion (Umm al-Qura, the official Saudi
//! calendar, via `icu_calendar`; never the tabular/civil Hijri variant, which
//! drifts a day or two from official dates), parsing typed dates, formatting,
//! and day arithmetic.
//!
//! Must never: read the clock or do any other IO. "Today" is always passed in
//! by the caller, so results are reproducible and testable.

use std::fmt;

use chrono::{Datelike, NaiveDate, TimeDelta};
use icu_calendar::Date;
use icu_calendar::cal::Hijri;
use icu_calendar::cal::hijri::UmmAlQura;
use icu_calendar::types::RataDie;

use crate::arabic::{fold_digits, is_invisible_format};

/// A date in the Umm al-Qura Hijri calendar. `month` is 1..=12, `day` 1..=30.
/// Field order makes the derived ordering chronological.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct HijriDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl fmt::Display for HijriDate {
    /// `1410/05/12`, the way Saudi forms write Hijri dates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}/{:02}/{:02}", self.year, self.month, self.day)
    }
}

/// The calendar a date was entered in (and should be shown in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DateCalendar {
    Hijri,
    Gregorian,
}

/// Why a date was rejected. The variants never carry the input (a date of
/// birth is personal data).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
pub enum DateError {
    #[error("date is empty")]
    #[serde(rename = "date_empty")]
    Empty,
    #[error("date not recognised (expected day/month/year or year/month/day)")]
    #[serde(rename = "date_unrecognised")]
    Unrecognised,
    #[error("year out of range (Hijri 1300-1500 or Gregorian 1850-2100)")]
    #[serde(rename = "date_out_of_range")]
    OutOfRange,
    #[error("no such day in that month")]
    #[serde(rename = "date_invalid_day")]
    InvalidDay,
}

impl DateError {
    /// Stable machine code, for the UI and for tests; never changes once
    /// shipped. Serde uses the same string.
    pub fn code(&self) -> &'static str {
        match self {
            DateError::Empty => "date_empty",
            DateError::Unrecognised => "date_unrecognised",
            DateError::OutOfRange => "date_out_of_range",
            DateError::InvalidDay => "date_invalid_day",
        }
    }

    /// The message shown to staff.
    pub fn arabic_message(&self) -> &'static str {
        match self {
            DateError::Empty => "التاريخ مطلوب",
            DateError::Unrecognised => {
                "صيغة التاريخ غير معروفة، اكتبه مثل 1410/05/12 أو 31/01/1990"
            }
            DateError::OutOfRange => {
                "السنة خارج النطاق المقبول (هجري 1300-1500 أو ميلادي 1850-2100)"
            }
            DateError::InvalidDay => "هذا اليوم غير موجود في الشهر المحدد",
        }
    }
}

/// Years read as Hijri when no suffix says otherwise.
const HIJRI_YEARS: std::ops::RangeInclusive<i32> = 1300..=1500;
/// Years accepted with an explicit هـ suffix: the span where icu_calendar has
/// the official KACST Umm al-Qura month lengths (1300-1600 AH). Outside it
/// icu falls back to a tabular calendar, which is not what Saudi documents use.
const HIJRI_YEARS_EXPLICIT: std::ops::RangeInclusive<i32> = 1300..=1600;
/// Years read as Gregorian, with or without an م suffix.
const GREGORIAN_YEARS: std::ops::RangeInclusive<i32> = 1850..=2100;

fn umm_al_qura() -> Hijri<UmmAlQura> {
    Hijri::new_umm_al_qura()
}

/// Converts a Gregorian date to its Umm al-Qura Hijri date.
pub fn gregorian_to_hijri(d: NaiveDate) -> HijriDate {
    // chrono's day count from 0001-01-01 (= 1) is the same fixed-day count
    // as icu's Rata Die, so no ISO date construction (and no failure) is
    // needed.
    let rd = RataDie::new(i64::from(d.num_days_from_ce()));
    let h = Date::from_rata_die(rd, umm_al_qura());
    HijriDate {
        year: h.year().extended_year(),
        // Hijri has no leap months, so the ordinal month is the month number.
        month: h.month().ordinal,
        day: h.day_of_month().0,
    }
}

/// Converts an Umm al-Qura Hijri date to Gregorian. A month outside 1..=12 or
/// a day the month does not have (Umm al-Qura months have 29 or 30 days,
/// varying year to year) is [`DateError::InvalidDay`]; a year icu cannot
/// represent is [`DateError::OutOfRange`].
pub fn hijri_to_gregorian(h: HijriDate) -> Result<NaiveDate, DateError> {
    let date =
        Date::try_new_hijri_with_calendar(h.year, h.month, h.day, umm_al_qura()).map_err(|e| {
            if e.field == "year" {
                DateError::OutOfRange
            } else {
                DateError::InvalidDay
            }
        })?;
    let days = date.to_rata_die().to_i64_date();
    i32::try_from(days)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or(DateError::OutOfRange)
}

/// Parses a typed date, in ASCII or Arabic-Indic digits, and tells which
/// calendar it was written in.
///
/// Accepted shapes: `Y/M/D` or `D/M/Y` with a four-digit year and one- or
/// two-digit day and month, separated by `/`, `-` or `.` (the same separator
/// twice), optionally followed by `هـ` (Hijri) or `م` (Gregorian). Day comes
/// first whenever the year is last; month-first (US) order is not supported.
///
/// Without a suffix a year in 1300..=1500 is Hijri and a year in 1850..=2100
/// is Gregorian. With هـ the year may be 1300..=1600; with م it must be
/// 1850..=2100. Anything else is [`DateError::OutOfRange`].
pub fn parse_date(input: &str) -> Result<(NaiveDate, DateCalendar), DateError> {
    let cleaned: String = fold_digits(input)
        .chars()
        .filter(|c| !is_invisible_format(*c))
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        return Err(DateError::Empty);
    }

    let (body, explicit) = split_calendar_suffix(trimmed);
    let (year, month, day) = split_ymd(body).ok_or(DateError::Unrecognised)?;

    let calendar = match explicit {
        Some(DateCalendar::Hijri) if HIJRI_YEARS_EXPLICIT.contains(&year) => DateCalendar::Hijri,
        Some(DateCalendar::Gregorian) if GREGORIAN_YEARS.contains(&year) => DateCalendar::Gregorian,
        Some(_) => return Err(DateError::OutOfRange),
        None if HIJRI_YEARS.contains(&year) => DateCalendar::Hijri,
        None if GREGORIAN_YEARS.contains(&year) => DateCalendar::Gregorian,
        None => return Err(DateError::OutOfRange),
    };

    let date = match calendar {
        DateCalendar::Hijri => hijri_to_gregorian(HijriDate { year, month, day })?,
        DateCalendar::Gregorian => NaiveDate::from_ymd_opt(year, u32::from(month), u32::from(day))
            .ok_or(DateError::InvalidDay)?,
    };
    Ok((date, calendar))
}

/// Splits off a trailing calendar marker: "هـ" / "ه" (hijri, with or without
/// tatweel or a final dot) or "م" (miladi).
fn split_calendar_suffix(s: &str) -> (&str, Option<DateCalendar>) {
    let s = s.trim_end_matches(['.', ' ']);
    let without_tatweel = s.trim_end_matches('\u{0640}');
    if let Some(body) = without_tatweel.strip_suffix('ه') {
        return (body.trim_end(), Some(DateCalendar::Hijri));
    }
    if let Some(body) = s.strip_suffix('م') {
        return (body.trim_end(), Some(DateCalendar::Gregorian));
    }
    (s, None)
}

/// `Y?M?D` or `D?M?Y` with one separator kind, four-digit year, one- or
/// two-digit month and day. Returns (year, month, day) without validating
/// ranges beyond the digit counts.
fn split_ymd(s: &str) -> Option<(i32, u8, u8)> {
    let sep = s.chars().find(|c| matches!(c, '/' | '-' | '.'))?;
    let parts: Vec<&str> = s.split(sep).map(str::trim).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(a) && all_digits(b) && all_digits(c)) {
        return None;
    }
    let short = |p: &str| (1..=2).contains(&p.len());
    let (y, m, d) = if a.len() == 4 && short(b) && short(c) {
        (a, b, c)
    } else if c.len() == 4 && short(a) && short(b) {
        (c, b, a)
    } else {
        return None;
    };
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}

/// `1410/05/12`: Hijri year/month/day, zero-padded, ASCII digits.
pub fn format_hijri(d: NaiveDate) -> String {
    gregorian_to_hijri(d).to_string()
}

/// `1990-01-31`: ISO 8601, zero-padded, ASCII digits.
pub fn format_gregorian(d: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// `d` plus `days` (negative goes back). Saturates at chrono's limits
/// (±262 000 years) instead of panicking: the signature cannot fail, and no
/// real follow-up or reply date gets anywhere near them.
pub fn add_days(d: NaiveDate, days: i64) -> NaiveDate {
    TimeDelta::try_days(days)
        .and_then(|delta| d.checked_add_signed(delta))
        .unwrap_or(if days < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn h(year: i32, month: u8, day: u8) -> HijriDate {
        HijriDate { year, month, day }
    }

    type HijriYmd = (i32, u8, u8);
    type GregorianYmd = (i32, u32, u32);
    type Parsed = Result<(NaiveDate, DateCalendar), DateError>;

    /// Umm al-Qura dates checked against official Saudi announcements.
    const KNOWN: &[(HijriYmd, GregorianYmd)] = &[
        ((1446, 1, 1), (2024, 7, 7)),
        ((1445, 9, 1), (2024, 3, 11)),
        ((1444, 10, 1), (2023, 4, 21)),
        ((1446, 9, 1), (2025, 3, 1)),
        ((1446, 10, 1), (2025, 3, 30)),
    ];

    #[test]
    fn known_conversions() {
        for &((hy, hm, hd), (gy, gm, gd)) in KNOWN {
            let g = ymd(gy, gm, gd);
            assert_eq!(gregorian_to_hijri(g), h(hy, hm, hd), "{g}");
            assert_eq!(hijri_to_gregorian(h(hy, hm, hd)), Ok(g), "{hy}/{hm}/{hd}");
        }
    }

    #[test]
    fn hijri_to_gregorian_errors() {
        let cases = [
            (h(1445, 13, 1), Err(DateError::InvalidDay)),
            (h(1445, 0, 1), Err(DateError::InvalidDay)),
            (h(1445, 1, 0), Err(DateError::InvalidDay)),
            (h(1445, 1, 31), Err(DateError::InvalidDay)),
            (h(20000, 1, 1), Err(DateError::OutOfRange)),
        ];
        for (input, expected) in cases {
            assert_eq!(hijri_to_gregorian(input), expected, "{input:?}");
        }
    }

    #[test]
    fn a_29_day_month_has_no_30th() {
        // Umm al-Qura month lengths vary; find a 29-day month near a known
        // date and check that day 30 is refused there.
        let last_of_ramadan_1445 = add_days(ymd(2024, 3, 11), 29);
        let next = gregorian_to_hijri(last_of_ramadan_1445);
        let ramadan_len = if next.month == 10 { 29 } else { 30 };
        let day30 = hijri_to_gregorian(h(1445, 9, 30));
        if ramadan_len == 29 {
            assert_eq!(day30, Err(DateError::InvalidDay));
        } else {
            assert!(day30.is_ok());
        }
    }

    fn check(cases: &[(&str, Parsed)]) {
        for (input, expected) in cases {
            assert_eq!(parse_date(input), *expected, "input: {input:?}");
        }
    }

    #[test]
    fn parse_date_cases() {
        use DateCalendar::{Gregorian as G, Hijri as H};
        let h1410 = hijri_to_gregorian(h(1410, 5, 12)).unwrap();
        let g1990 = ymd(1990, 1, 31);
        check(&[
            ("1410/05/12", Ok((h1410, H))),
            ("1410-05-12", Ok((h1410, H))),
            ("12/05/1410", Ok((h1410, H))),
            ("12-05-1410هـ", Ok((h1410, H))),
            ("12/5/1410 هـ", Ok((h1410, H))),
            ("12/5/1410 ه", Ok((h1410, H))),
            ("12/5/1410هـ.", Ok((h1410, H))),
            ("١٤١٠/٠٥/١٢", Ok((h1410, H))),
            ("١٢/٥/١٤١٠ هـ", Ok((h1410, H))),
            (" \u{200F}1410/05/12 ", Ok((h1410, H))),
            ("1990-01-31", Ok((g1990, G))),
            ("31/01/1990", Ok((g1990, G))),
            ("1990/01/31", Ok((g1990, G))),
            ("31-01-1990م", Ok((g1990, G))),
            ("31/1/1990 م", Ok((g1990, G))),
            ("31.01.1990", Ok((g1990, G))),
            ("٣١/٠١/١٩٩٠", Ok((g1990, G))),
            (
                "1550/01/01 هـ",
                Ok((hijri_to_gregorian(h(1550, 1, 1)).unwrap(), H)),
            ),
            ("", Err(DateError::Empty)),
            ("   ", Err(DateError::Empty)),
            ("yesterday", Err(DateError::Unrecognised)),
            ("31011990", Err(DateError::Unrecognised)),
            ("1990/01", Err(DateError::Unrecognised)),
            ("1990/01/31/2", Err(DateError::Unrecognised)),
            ("90/01/31", Err(DateError::Unrecognised)),
            ("31/01/90", Err(DateError::Unrecognised)),
            ("1990/001/31", Err(DateError::Unrecognised)),
            ("1990-01/31", Err(DateError::Unrecognised)),
            ("1990/1a/31", Err(DateError::Unrecognised)),
            ("31/01/1700", Err(DateError::OutOfRange)),
            ("31/01/2200", Err(DateError::OutOfRange)),
            ("1550/01/01", Err(DateError::OutOfRange)),
            ("1990/01/31 هـ", Err(DateError::OutOfRange)),
            ("1410/05/12م", Err(DateError::OutOfRange)),
            ("1990-02-30", Err(DateError::InvalidDay)),
            ("1990-13-01", Err(DateError::InvalidDay)),
            ("01/31/1990", Err(DateError::InvalidDay)),
            ("1410/13/01", Err(DateError::InvalidDay)),
            ("1410/01/31", Err(DateError::InvalidDay)),
            ("00/01/1990", Err(DateError::InvalidDay)),
        ]);
    }

    #[test]
    fn format_cases() {
        let cases = [
            (ymd(2024, 7, 7), "1446/01/01", "2024-07-07"),
            (ymd(2024, 3, 11), "1445/09/01", "2024-03-11"),
            (ymd(2023, 4, 21), "1444/10/01", "2023-04-21"),
        ];
        for (d, hijri, gregorian) in cases {
            assert_eq!(format_hijri(d), hijri);
            assert_eq!(format_gregorian(d), gregorian);
        }
    }

    #[test]
    fn add_days_cases() {
        let cases = [
            (ymd(2024, 2, 28), 1, ymd(2024, 2, 29)),
            (ymd(2024, 2, 28), 2, ymd(2024, 3, 1)),
            (ymd(2024, 1, 1), -1, ymd(2023, 12, 31)),
            (ymd(2024, 1, 1), 0, ymd(2024, 1, 1)),
            (ymd(2024, 1, 1), i64::MAX, NaiveDate::MAX),
            (ymd(2024, 1, 1), i64::MIN, NaiveDate::MIN),
        ];
        for (d, n, expected) in cases {
            assert_eq!(add_days(d, n), expected, "{d} + {n}");
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let cases = [
            (DateError::Empty, "date_empty"),
            (DateError::Unrecognised, "date_unrecognised"),
            (DateError::OutOfRange, "date_out_of_range"),
            (DateError::InvalidDay, "date_invalid_day"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(serde_json::to_string(&err).unwrap(), format!("\"{code}\""));
            assert!(crate::arabic::contains_arabic(err.arabic_message()));
            assert!(!err.to_string().is_empty());
        }
        assert_eq!(
            serde_json::to_string(&DateCalendar::Hijri).unwrap(),
            "\"hijri\""
        );
    }

    fn date_between(from: NaiveDate, to: NaiveDate) -> impl Strategy<Value = NaiveDate> {
        (0..=(to - from).num_days()).prop_map(move |n| add_days(from, n))
    }

    proptest! {
        #[test]
        fn gregorian_hijri_round_trip(d in date_between(ymd(1950, 1, 1), ymd(2075, 12, 31))) {
            let hijri = gregorian_to_hijri(d);
            prop_assert_eq!(hijri_to_gregorian(hijri), Ok(d));
        }

        #[test]
        fn formatted_dates_parse_back(d in date_between(ymd(1883, 1, 1), ymd(2075, 12, 31))) {
            prop_assert_eq!(parse_date(&format_hijri(d)), Ok((d, DateCalendar::Hijri)));
            prop_assert_eq!(parse_date(&format_gregorian(d)), Ok((d, DateCalendar::Gregorian)));
        }

        #[test]
        fn consecutive_days_are_consecutive_in_hijri(d in date_between(ymd(1950, 1, 1), ymd(2075, 12, 31))) {
            let today = gregorian_to_hijri(d);
            let tomorrow = gregorian_to_hijri(add_days(d, 1));
            prop_assert!(tomorrow > today);
            let same_month = tomorrow.year == today.year
                && tomorrow.month == today.month
                && tomorrow.day == today.day + 1;
            let new_month = tomorrow.day == 1 && (29..=30).contains(&today.day);
            prop_assert!(same_month || new_month);
        }
    }
}
