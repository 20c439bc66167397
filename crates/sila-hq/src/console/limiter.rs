//! Sign-in attempts, limited: after [`PER_NAME`] wrong passwords for one user name within
//! [`WINDOW`], that name is refused until the window has passed; after [`PER_ADDRESS`] wrong
//! passwords from one network address within the window, that address is refused (one machine
//! guessing many names); after [`GLOBAL`] wrong passwords across all names within a minute,
//! every sign-in waits (a spray from many addresses). The address is the connection's peer: behind
//! a reverse proxy every browser shares the proxy's, and the per-name and global limits still hold.
//! In memory: a restart forgets, which only an administrator can cause. Time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

pub const PER_NAME: usize = 5;
pub const PER_ADDRESS: usize = 20;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const GLOBAL: usize = 50;
const GLOBAL_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Limiter {
    by_name: HashMap<String, Vec<Instant>>,
    by_address: HashMap<IpAddr, Vec<Instant>>,
    all: Vec<Instant>,
}

impl Limiter {
    fn prune(&mut self, now: Instant) {
        self.by_name.retain(|_, v| {
            v.retain(|t| now.duration_since(*t) < WINDOW);
            !v.is_empty()
        });
        self.by_address.retain(|_, v| {
            v.retain(|t| now.duration_since(*t) < WINDOW);
            !v.is_empty()
        });
        self.all.retain(|t| now.duration_since(*t) < GLOBAL_WINDOW);
    }

    /// May this name try now, from this address (None when the server does not know it)?
    pub fn allowed(&mut self, name: &str, from: Option<IpAddr>, now: Instant) -> bool {
        self.prune(now);
        self.all.len() < GLOBAL
            && self.by_name.get(name).is_none_or(|v| v.len() < PER_NAME)
            && from.is_none_or(|a| {
                self.by_address
                    .get(&a)
                    .is_none_or(|v| v.len() < PER_ADDRESS)
            })
    }

    pub fn failed(&mut self, name: &str, from: Option<IpAddr>, now: Instant) {
        self.by_name.entry(name.to_owned()).or_default().push(now);
        if let Some(a) = from {
            self.by_address.entry(a).or_default().push(now);
        }
        self.all.push(now);
    }

    pub fn succeeded(&mut self, name: &str) {
        self.by_name.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_a_name_for_the_window_only() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..PER_NAME {
            assert!(l.allowed("amal", None, t0), "attempt {i}");
            l.failed("amal", None, t0);
        }
        assert!(!l.allowed("amal", None, t0));
        assert!(l.allowed("other", None, t0), "another name is not locked");
        assert!(!l.allowed("amal", None, t0 + WINDOW - Duration::from_secs(1)));
        assert!(l.allowed("amal", None, t0 + WINDOW));
    }

    #[test]
    fn success_clears_a_name_and_a_spray_stops_everyone() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        l.failed("amal", None, t0);
        l.succeeded("amal");
        assert!(l.by_name.is_empty());
        for i in 0..GLOBAL {
            l.failed(&format!("name{i}"), None, t0);
        }
        assert!(!l.allowed("fresh", None, t0));
        assert!(l.allowed("fresh", None, t0 + Duration::from_secs(61)));
    }

    #[test]
    fn one_address_guessing_many_names_is_stopped_and_others_are_not() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let guesser: Option<IpAddr> = Some([10, 0, 0, 7].into());
        let colleague: Option<IpAddr> = Some([10, 0, 0, 8].into());
        // Four tries per name stays under the per-name limit; the address limit catches it.
        for i in 0..PER_ADDRESS {
            let name = format!("name{}", i / 4);
            assert!(l.allowed(&name, guesser, t0), "attempt {i}");
            l.failed(&name, guesser, t0);
        }
        assert!(!l.allowed("someone", guesser, t0));
        assert!(
            l.allowed("someone", colleague, t0),
            "another address is not locked"
        );
        assert!(l.allowed("someone", guesser, t0 + WINDOW));
    }
}
