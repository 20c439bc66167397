//! The console's sign-in limits as rules over stored counts (issue 12.4): what a name or an
//! address may still try, decided from rows every `sila-hq serve` on the database shares, so
//! attempts split across servers are limited as if they came to one. Why these limits, and the
//! global cap on password checks, are in `console::limiter`.
//!
//! Times are milliseconds since the Unix epoch (the servers' clocks); a count is kept under a
//! key the storage never sees in the clear ([`name_key`], [`address_key`]: SHA-256), so a user
//! name typed wrong (or a password typed into the name field) is not stored.

use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// The longest user name and password an account may have: a longer one is refused unread.
pub use crate::rules::staff::{MAX_NAME_CHARS, MAX_PASSWORD_BYTES};

const SECOND: i64 = 1000;
/// Wrong passwords a name may have before it backs off.
pub const NAME_FREE: i64 = 5;
/// Wrong passwords an address may have before it backs off (for names it has not signed in as).
pub const ADDRESS_FREE: i64 = 20;
/// The first wait; each further failure doubles it.
pub const BACKOFF_START: i64 = 60 * SECOND;
/// The longest wait.
pub const BACKOFF_MAX: i64 = 15 * 60 * SECOND;
/// A name or an address with no failure for this long starts afresh (its row is deleted).
pub const FORGET_AFTER: i64 = 15 * 60 * SECOND;
/// How long a successful sign-in exempts its name from its address's back-off.
pub const KNOWN_FOR: i64 = 30 * 24 * 3600 * SECOND;
/// An attempt still counted in flight this long after it began was lost with its server (a
/// check takes well under a second, waiting for its turn included): it stops counting.
pub const IN_FLIGHT_FOR: i64 = 120 * SECOND;

/// The stored key of a user name (already trimmed and lower-cased).
pub fn name_key(name: &str) -> String {
    format!("n:{}", hex::encode(Sha256::digest(name.as_bytes())))
}

/// The stored key of an address: IPv4 whole, IPv6 by its /64, which one machine usually holds
/// whole (an IPv4-mapped IPv6 address counts as the IPv4 one).
pub fn address_key(ip: IpAddr) -> String {
    let counted = match ip {
        IpAddr::V4(a) => format!("4:{a}"),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => format!("4:{v4}"),
            None => format!("6:{}", hex::encode(&a.octets()[..8])),
        },
    };
    format!("a:{}", hex::encode(Sha256::digest(counted.as_bytes())))
}

/// The counts of one name or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Track {
    pub failures: i64,
    pub in_flight: i64,
    /// When the last attempt in flight began.
    pub flight_at: i64,
    /// When the last failure was.
    pub last: i64,
    pub wait_until: i64,
}

impl Track {
    fn flying(&self, now: i64) -> i64 {
        if now - self.flight_at < IN_FLIGHT_FOR {
            self.in_flight
        } else {
            0
        }
    }

    /// May one more attempt start? Before the back-off, attempts in flight count as failures;
    /// in back-off, one attempt at a time once the wait is over.
    pub fn admits(&self, free: i64, now: i64) -> bool {
        now >= self.wait_until && self.failures + self.flying(now) < free.max(self.failures + 1)
    }

    fn fail(&mut self, free: i64, now: i64) {
        self.failures = self.failures.saturating_add(1);
        self.last = now;
        if self.failures >= free {
            let doublings = (self.failures - free).min(16) as u32;
            self.wait_until = now
                + BACKOFF_START
                    .saturating_mul(1 << doublings)
                    .min(BACKOFF_MAX);
        }
    }

    /// Nothing left to remember: the row goes.
    pub fn is_empty(&self, now: i64) -> bool {
        self.failures == 0 && self.flying(now) == 0
    }
}

/// Why an attempt was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The name is longer than any account's.
    NameTooLong,
    /// The name or the address must wait.
    TooMany,
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// A wrong name or password.
    Failed,
    /// Not decided (a server error, or the request went away): neither counts.
    Undecided,
}

/// Start an attempt: the name's and the address's counts as stored (None: no row), and whether
/// the name signed in from this address within [`KNOWN_FOR`]. Returns the counts to store with
/// the attempt's place reserved, or why it may not start.
pub fn begin(
    name: Option<Track>,
    address: Option<Option<Track>>,
    known: bool,
    now: i64,
) -> Result<(Track, Option<Track>), Refused> {
    let name_ok = name.is_none_or(|t| t.admits(NAME_FREE, now));
    let address_ok = known
        || address
            .flatten()
            .is_none_or(|t| t.admits(ADDRESS_FREE, now));
    if !(name_ok && address_ok) {
        return Err(Refused::TooMany);
    }
    let reserve = |t: Option<Track>| {
        let mut t = t.unwrap_or_default();
        t.in_flight = t.flying(now) + 1;
        t.flight_at = now;
        t
    };
    Ok((reserve(name), address.map(reserve)))
}

/// End an attempt [`begin`] let through: the counts to store (the caller deletes an empty one).
/// A success clears the name but not the address: a guesser holding one account could otherwise
/// sign in between guesses to start afresh.
pub fn finish(
    name: Option<Track>,
    address: Option<Track>,
    outcome: Outcome,
    now: i64,
) -> (Option<Track>, Option<Track>) {
    let end = |t: &mut Track| t.in_flight = (t.flying(now) - 1).max(0);
    let name = name.map(|mut t| {
        end(&mut t);
        match outcome {
            Outcome::Failed => t.fail(NAME_FREE, now),
            Outcome::Succeeded => {
                t.failures = 0;
                t.wait_until = now;
            }
            Outcome::Undecided => {}
        }
        t
    });
    let address = address.map(|mut t| {
        end(&mut t);
        if outcome == Outcome::Failed {
            t.fail(ADDRESS_FREE, now);
        }
        t
    });
    (name, address)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// The stored rows, as the engines keep them.
    #[derive(Default)]
    struct Rows {
        tracks: HashMap<String, Track>,
        known: HashSet<(String, String)>,
    }

    impl Rows {
        fn begin(&mut self, name: &str, from: Option<IpAddr>, now: i64) -> Result<(), Refused> {
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(Refused::NameTooLong);
            }
            let (n, a) = (name_key(name), from.map(address_key));
            let known = a
                .as_ref()
                .is_some_and(|a| self.known.contains(&(a.clone(), n.clone())));
            let address = a.as_ref().map(|a| self.tracks.get(a).copied());
            let (tn, ta) = begin(self.tracks.get(&n).copied(), address, known, now)?;
            self.tracks.insert(n, tn);
            if let (Some(a), Some(t)) = (a, ta) {
                self.tracks.insert(a, t);
            }
            Ok(())
        }

        fn finish(&mut self, name: &str, from: Option<IpAddr>, outcome: Outcome, now: i64) {
            let (n, a) = (name_key(name), from.map(address_key));
            let address = a.as_ref().and_then(|a| self.tracks.get(a).copied());
            let (tn, ta) = finish(self.tracks.get(&n).copied(), address, outcome, now);
            for (k, t) in [(Some(n.clone()), tn), (a.clone(), ta)] {
                if let (Some(k), Some(t)) = (k, t) {
                    if t.is_empty(now) {
                        self.tracks.remove(&k);
                    } else {
                        self.tracks.insert(k, t);
                    }
                }
            }
            if outcome == Outcome::Succeeded
                && let Some(a) = a
            {
                self.known.insert((a, n));
            }
        }

        fn fail(&mut self, name: &str, from: Option<IpAddr>, now: i64) {
            self.begin(name, from, now).expect("let through");
            self.finish(name, from, Outcome::Failed, now);
        }
    }

    #[test]
    fn a_name_backs_off_exponentially_and_a_success_clears_it() {
        let mut l = Rows::default();
        let t0 = 1_000_000;
        for _ in 0..NAME_FREE {
            l.fail("amal", None, t0);
        }
        assert_eq!(l.begin("amal", None, t0), Err(Refused::TooMany));
        assert!(
            l.begin("other", None, t0).is_ok(),
            "another name is not held"
        );
        l.finish("other", None, Outcome::Undecided, t0);
        let t1 = t0 + BACKOFF_START;
        l.fail("amal", None, t1);
        assert_eq!(
            l.begin("amal", None, t1 + BACKOFF_START),
            Err(Refused::TooMany),
            "the second wait is twice the first"
        );
        let t2 = t1 + BACKOFF_START * 2;
        l.begin("amal", None, t2).unwrap();
        assert_eq!(
            l.begin("amal", None, t2),
            Err(Refused::TooMany),
            "in back-off, one attempt at a time"
        );
        l.finish("amal", None, Outcome::Succeeded, t2);
        assert!(l.tracks.is_empty(), "a success clears the name");
    }

    #[test]
    fn the_wait_is_capped() {
        let mut l = Rows::default();
        let mut t = 1_000_000;
        for _ in 0..40 {
            while l.begin("amal", None, t).is_err() {
                t += 30 * SECOND;
            }
            l.finish("amal", None, Outcome::Failed, t);
        }
        assert_eq!(l.tracks[&name_key("amal")].wait_until - t, BACKOFF_MAX);
    }

    #[test]
    fn parallel_attempts_reserve_their_places_and_a_lost_one_stops_counting() {
        let mut l = Rows::default();
        let t0 = 1_000_000;
        let let_through = (0..80)
            .filter(|_| l.begin("amal", None, t0).is_ok())
            .count();
        assert_eq!(let_through, NAME_FREE as usize);
        let from: Option<IpAddr> = Some([10, 0, 0, 7].into());
        let let_through = (0..80)
            .filter(|i| l.begin(&format!("n{i}"), from, t0).is_ok())
            .count();
        assert_eq!(let_through, ADDRESS_FREE as usize);
        // The server that held them went away: their places free themselves.
        assert!(l.begin("amal", None, t0 + IN_FLIGHT_FOR).is_ok());
    }

    #[test]
    fn an_address_backs_off_except_for_names_that_signed_in_from_it() {
        let mut l = Rows::default();
        let t0 = 1_000_000;
        let proxy: Option<IpAddr> = Some([10, 0, 0, 1].into());
        let elsewhere: Option<IpAddr> = Some([10, 0, 0, 8].into());
        l.begin("noura", proxy, t0).unwrap();
        l.finish("noura", proxy, Outcome::Succeeded, t0);
        // Four tries per name stays under the per-name limit; the address limit catches it.
        for i in 0..ADDRESS_FREE {
            l.fail(&format!("name{}", i / 4), proxy, t0);
        }
        assert_eq!(l.begin("someone", proxy, t0), Err(Refused::TooMany));
        assert!(
            l.begin("noura", proxy, t0).is_ok(),
            "a person who signed in from the proxy before is not locked out"
        );
        assert!(
            l.begin("someone", elsewhere, t0).is_ok(),
            "another address is not held"
        );
    }

    #[test]
    fn long_names_are_refused_and_ipv6_counts_by_its_64_and_nothing_is_kept_in_the_clear() {
        let mut l = Rows::default();
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(l.begin(&long, None, 0), Err(Refused::NameTooLong));
        assert!(l.tracks.is_empty());
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(
            address_key(mapped),
            address_key(IpAddr::from([10, 0, 0, 7]))
        );
        assert!(!name_key("amal").contains("amal"));
        assert!(!address_key(IpAddr::from([10, 0, 0, 7])).contains("10.0"));
    }
}
