//! Sign-in attempts, limited: after [`PER_NAME`] wrong passwords for one user name within
//! [`WINDOW`], that name is refused until the window has passed; after [`GLOBAL`] wrong
//! passwords across all names within a minute, every sign-in waits (a spray over many names).
//! In memory: a restart forgets, which only an administrator can cause. Time is passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const PER_NAME: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const GLOBAL: usize = 50;
const GLOBAL_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Limiter {
    by_name: HashMap<String, Vec<Instant>>,
    all: Vec<Instant>,
}

impl Limiter {
    fn prune(&mut self, now: Instant) {
        self.by_name.retain(|_, v| {
            v.retain(|t| now.duration_since(*t) < WINDOW);
            !v.is_empty()
        });
        self.all.retain(|t| now.duration_since(*t) < GLOBAL_WINDOW);
    }

    /// May this name try now?
    pub fn allowed(&mut self, name: &str, now: Instant) -> bool {
        self.prune(now);
        self.all.len() < GLOBAL && self.by_name.get(name).is_none_or(|v| v.len() < PER_NAME)
    }

    pub fn failed(&mut self, name: &str, now: Instant) {
        self.by_name.entry(name.to_owned()).or_default().push(now);
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
            assert!(l.allowed("amal", t0), "attempt {i}");
            l.failed("amal", t0);
        }
        assert!(!l.allowed("amal", t0));
        assert!(l.allowed("other", t0), "another name is not locked");
        assert!(!l.allowed("amal", t0 + WINDOW - Duration::from_secs(1)));
        assert!(l.allowed("amal", t0 + WINDOW));
    }

    #[test]
    fn success_clears_a_name_and_a_spray_stops_everyone() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        l.failed("amal", t0);
        l.succeeded("amal");
        assert!(l.by_name.is_empty());
        for i in 0..GLOBAL {
            l.failed(&format!("name{i}"), t0);
        }
        assert!(!l.allowed("fresh", t0));
        assert!(l.allowed("fresh", t0 + Duration::from_secs(61)));
    }
}
