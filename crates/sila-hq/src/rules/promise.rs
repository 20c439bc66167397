//! The promise: every submitted request gets a reply date (the charity's policy, 14 days), and
//! the console shows where each waiting case stands against it.

use crate::store::console::Promise;
use chrono::NaiveDate;

/// States in which a case waits for its decision (its promise is still open).
pub const WAITING: [&str; 4] = ["submitted", "in_research", "incomplete", "in_committee"];

/// Days before the promised date from which a case is "due soon" (the charity's policy).
pub fn due_soon_days() -> i64 {
    sila_domain::catalog::Catalog::arabic_defaults()
        .policy
        .due_soon_days
}

/// Where a case promised for `promised` (YYYY-MM-DD) stands `today`, and the days left (negative
/// when late).
pub fn promise_of(promised: &str, today: NaiveDate, due_soon_days: i64) -> Option<(Promise, i64)> {
    let p = NaiveDate::parse_from_str(promised, "%Y-%m-%d").ok()?;
    let left = (p - today).num_days();
    Some((
        if left < 0 {
            Promise::Overdue
        } else if left <= due_soon_days {
            Promise::DueSoon
        } else {
            Promise::OnTrack
        },
        left,
    ))
}

/// The dates that split waiting cases into overdue, due soon and on track, as YYYY-MM-DD: a case
/// promised before `today` is overdue, one promised before `after_soon` is due soon.
pub fn bounds(today: NaiveDate, due_soon_days: i64) -> (String, String) {
    (
        today.format("%Y-%m-%d").to_string(),
        (today + chrono::Duration::days(due_soon_days + 1))
            .format("%Y-%m-%d")
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promise_is_on_track_then_due_soon_then_overdue() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        assert_eq!(
            promise_of("2026-03-20", today, 3),
            Some((Promise::OnTrack, 10))
        );
        assert_eq!(
            promise_of("2026-03-13", today, 3),
            Some((Promise::DueSoon, 3))
        );
        assert_eq!(
            promise_of("2026-03-10", today, 3),
            Some((Promise::DueSoon, 0))
        );
        assert_eq!(
            promise_of("2026-03-09", today, 3),
            Some((Promise::Overdue, -1))
        );
        assert_eq!(promise_of("not a date", today, 3), None);
        assert_eq!(bounds(today, 3), ("2026-03-10".into(), "2026-03-14".into()));
    }
}
