//! Sign-in attempts, limited, and what a password check may cost.
//!
//! The choice, and why (SECURITY.md says the same for people who run HQ):
//!
//! - **A slot is reserved before the password is checked.** [`Attempt::begin`] counts the attempt
//!   as in flight before Argon2 runs, and an attempt in flight counts against the limits as if it
//!   had failed. Eighty requests racing in parallel therefore get at most the free tries
//!   evaluated; the rest are refused at once, without costing a hash.
//! - **Per account, exponential back-off.** After [`NAME_FREE`] wrong passwords for one user name,
//!   that name waits [`BACKOFF_START`], then twice as long after each further failure, up to
//!   [`BACKOFF_MAX`]; in back-off it gets one attempt at a time. A success clears the name. This
//!   bounds guessing against one account from any number of addresses (about four tries an hour
//!   once the back-off is at its longest), while a person who mistypes a few times waits a minute,
//!   not a quarter of an hour.
//! - **Per address, the same, but never a lock-out of people who signed in from there before.**
//!   One address guessing across many names gets [`ADDRESS_FREE`] tries, then backs off. Behind a
//!   TLS proxy every browser shares the proxy's address, so that alone would let one guesser lock
//!   the whole console out: a name that signed in successfully from an address within
//!   [`KNOWN_FOR`] is therefore exempt from that address's back-off (its own per-name back-off
//!   still holds). IPv6 addresses count by their /64, which one machine usually holds whole.
//! - **No global failure limit; a global cap on concurrent password checks instead.** A limit on
//!   failures across all names would hand any guesser a lock-out of everyone. What must be bounded
//!   globally is cost: [`Gate`] runs [`CHECKS_AT_ONCE`] Argon2 evaluations at a time (19 MiB
//!   each) on threads of its own, off the async runtime, with at most [`CHECKS_WAITING`] waiting;
//!   beyond that the answer is "busy".
//! - **Bounded memory.** User names longer than [`MAX_NAME_CHARS`] are refused before they are
//!   kept anywhere (no account can have one); the tables keep at most [`MAX_TRACKED`] entries each
//!   and forget an entry [`FORGET_AFTER`] after its last failure.
//!
//! In memory: a restart forgets, which only an administrator can cause. Time is passed in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest user name and password an account may have: a longer one is refused unread.
pub use crate::rules::staff::{MAX_NAME_CHARS, MAX_PASSWORD_BYTES};
/// Wrong passwords a name may have before it backs off.
pub const NAME_FREE: u32 = 5;
/// Wrong passwords an address may have before it backs off (for names it has not signed in as).
pub const ADDRESS_FREE: u32 = 20;
/// The first wait; each further failure doubles it.
pub const BACKOFF_START: Duration = Duration::from_secs(60);
/// The longest wait.
pub const BACKOFF_MAX: Duration = Duration::from_secs(15 * 60);
/// A name or an address with no failure for this long starts afresh.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// How long a successful sign-in exempts its name from its address's back-off.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Most entries each table keeps (names, addresses, known pairs); the oldest idle one makes room.
pub const MAX_TRACKED: usize = 50_000;
/// Argon2 evaluations running at once.
pub const CHECKS_AT_ONCE: usize = 2;
/// Sign-ins waiting for a check; more are told the server is busy.
pub const CHECKS_WAITING: usize = 32;

/// An address as the limiter counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4([u8; 4]),
    /// The first 64 bits.
    V6([u8; 8]),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => AddressKey::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(v4.octets()),
                None => {
                    let o = a.octets();
                    AddressKey::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
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

#[derive(Debug, Clone, Copy)]
struct Track {
    failures: u32,
    in_flight: u32,
    last: Instant,
    wait_until: Instant,
}

impl Track {
    fn new(now: Instant) -> Track {
        Track {
            failures: 0,
            in_flight: 0,
            last: now,
            wait_until: now,
        }
    }

    /// May one more attempt start? Before the back-off, attempts in flight count as failures;
    /// in back-off, one attempt at a time once the wait is over.
    fn admits(&self, free: u32, now: Instant) -> bool {
        now >= self.wait_until && self.failures + self.in_flight < free.max(self.failures + 1)
    }

    fn fail(&mut self, free: u32, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.last = now;
        if self.failures >= free {
            let doublings = (self.failures - free).min(16);
            let wait = BACKOFF_START
                .saturating_mul(1u32 << doublings)
                .min(BACKOFF_MAX);
            self.wait_until = now + wait;
        }
    }

    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && now >= self.wait_until
            && now.saturating_duration_since(self.last) >= FORGET_AFTER
    }
}

/// Make room in a table that is full: forget what is idle, then the entry idle the longest.
fn make_room<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Track>, now: Instant) {
    if map.len() < MAX_TRACKED {
        return;
    }
    map.retain(|_, t| !t.idle(now));
    if map.len() >= MAX_TRACKED
        && let Some(k) = map
            .iter()
            .filter(|(_, t)| t.in_flight == 0)
            .min_by_key(|(_, t)| t.last)
            .map(|(k, _)| k.clone())
    {
        map.remove(&k);
    }
}

#[derive(Default)]
pub struct Limiter {
    names: HashMap<String, Track>,
    addresses: HashMap<AddressKey, Track>,
    /// (address, name) pairs that signed in, and when.
    known: HashMap<(AddressKey, String), Instant>,
}

impl Limiter {
    /// Start an attempt for `name` (already trimmed and lower-cased) from `from` (None when the
    /// server does not know the peer): reserves its place, or says why not.
    pub fn begin(&mut self, name: &str, from: Option<IpAddr>, now: Instant) -> Result<(), Refused> {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Refused::NameTooLong);
        }
        let address = from.map(AddressKey::from);
        let known = address.is_some_and(|a| {
            self.known
                .get(&(a, name.to_owned()))
                .is_some_and(|t| now.saturating_duration_since(*t) < KNOWN_FOR)
        });
        let name_ok = self
            .names
            .get(name)
            .is_none_or(|t| t.admits(NAME_FREE, now));
        let address_ok = known
            || address.is_none_or(|a| {
                self.addresses
                    .get(&a)
                    .is_none_or(|t| t.admits(ADDRESS_FREE, now))
            });
        if !(name_ok && address_ok) {
            return Err(Refused::TooMany);
        }
        if !self.names.contains_key(name) {
            make_room(&mut self.names, now);
        }
        self.names
            .entry(name.to_owned())
            .or_insert_with(|| Track::new(now))
            .in_flight += 1;
        if let Some(a) = address {
            if !self.addresses.contains_key(&a) {
                make_room(&mut self.addresses, now);
            }
            self.addresses
                .entry(a)
                .or_insert_with(|| Track::new(now))
                .in_flight += 1;
        }
        Ok(())
    }

    /// End an attempt [`Limiter::begin`] let through.
    pub fn finish(&mut self, name: &str, from: Option<IpAddr>, outcome: Outcome, now: Instant) {
        let address = from.map(AddressKey::from);
        if let Some(t) = self.names.get_mut(name) {
            t.in_flight = t.in_flight.saturating_sub(1);
            match outcome {
                Outcome::Failed => t.fail(NAME_FREE, now),
                Outcome::Succeeded => {
                    t.failures = 0;
                    t.wait_until = now;
                }
                Outcome::Undecided => {}
            }
            if t.failures == 0 && t.in_flight == 0 {
                self.names.remove(name);
            }
        }
        if let Some(a) = address {
            if let Some(t) = self.addresses.get_mut(&a) {
                t.in_flight = t.in_flight.saturating_sub(1);
                // A success does not clear the address: a guesser holding one account could
                // otherwise sign in between guesses to start afresh.
                if outcome == Outcome::Failed {
                    t.fail(ADDRESS_FREE, now);
                }
                if t.failures == 0 && t.in_flight == 0 {
                    self.addresses.remove(&a);
                }
            }
            if outcome == Outcome::Succeeded {
                if self.known.len() >= MAX_TRACKED {
                    self.known
                        .retain(|_, t| now.saturating_duration_since(*t) < KNOWN_FOR);
                }
                if self.known.len() >= MAX_TRACKED
                    && let Some(k) = self
                        .known
                        .iter()
                        .min_by_key(|(_, t)| **t)
                        .map(|(k, _)| k.clone())
                {
                    self.known.remove(&k);
                }
                self.known.insert((a, name.to_owned()), now);
            }
        }
    }
}

/// An attempt in flight. Whoever holds it reports its outcome with [`Attempt::finish`]; dropped
/// without one (the request went away), it frees its place and counts for nothing.
pub struct Attempt {
    limiter: Arc<Mutex<Limiter>>,
    name: String,
    from: Option<IpAddr>,
    done: bool,
}

impl Attempt {
    pub fn begin(
        limiter: &Arc<Mutex<Limiter>>,
        name: &str,
        from: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Refused> {
        limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .begin(name, from, now)?;
        Ok(Attempt {
            limiter: limiter.clone(),
            name: name.to_owned(),
            from,
            done: false,
        })
    }

    pub fn finish(mut self, outcome: Outcome, now: Instant) {
        self.done = true;
        self.limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(&self.name, self.from, outcome, now);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            self.limiter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finish(&self.name, self.from, Outcome::Undecided, Instant::now());
        }
    }
}

/// The global cap on password checks: [`CHECKS_AT_ONCE`] threads of its own run them, and at most
/// [`CHECKS_WAITING`] wait. Threads of its own, not the runtime's blocking pool: Argon2's 19 MiB
/// stay in the allocator of the thread that used them, so a check on a fresh pool thread each
/// time would keep 19 MiB per thread the pool ever had (20 checks in a row held 400 MB).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

type Job = Box<dyn FnOnce() + Send>;

struct GateInner {
    at_once: usize,
    waiting: usize,
    /// Started at the first check.
    jobs: Mutex<Option<std::sync::mpsc::SyncSender<Job>>>,
}

/// The server has too many password checks waiting.
#[derive(Debug)]
pub struct Busy;

impl Default for Gate {
    fn default() -> Self {
        Gate::new(CHECKS_AT_ONCE, CHECKS_WAITING)
    }
}

impl Gate {
    pub fn new(at_once: usize, waiting: usize) -> Gate {
        Gate {
            inner: Arc::new(GateInner {
                at_once: at_once.max(1),
                waiting,
                jobs: Mutex::new(None),
            }),
        }
    }

    fn sender(&self) -> std::sync::mpsc::SyncSender<Job> {
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.get_or_insert_with(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(self.inner.waiting);
            let rx = Arc::new(Mutex::new(rx));
            for _ in 0..self.inner.at_once {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name("password-check".into())
                    .spawn(move || {
                        loop {
                            let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                            match job {
                                // A check that panics fails its request, not this thread.
                                Ok(job) => {
                                    let _ =
                                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                                }
                                Err(_) => return,
                            }
                        }
                    })
                    .expect("a thread for password checks");
            }
            tx
        })
        .clone()
    }

    /// Run `check` (a password hash or its verification, with what goes with it) on one of the
    /// gate's threads: it takes its place in the queue now, and the answer is [`Busy`] when too
    /// many wait already. The check runs to its end even if the caller stops waiting, so
    /// whatever it must record, it records itself.
    pub fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = Result<T, Busy>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(check());
        });
        let queued = self.sender().try_send(job).map_err(|_| Busy);
        async move {
            queued?;
            rx.await.map_err(|_| Busy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(l: &mut Limiter, name: &str, from: Option<IpAddr>, now: Instant) {
        l.begin(name, from, now).expect("let through");
        l.finish(name, from, Outcome::Failed, now);
    }

    #[test]
    fn a_name_backs_off_exponentially_and_a_success_clears_it() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..NAME_FREE {
            fail(&mut l, "amal", None, t0);
        }
        assert_eq!(l.begin("amal", None, t0), Err(Refused::TooMany));
        assert!(
            l.begin("other", None, t0).is_ok(),
            "another name is not held"
        );
        l.finish("other", None, Outcome::Undecided, t0);
        let t1 = t0 + BACKOFF_START;
        fail(&mut l, "amal", None, t1);
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
        assert!(l.names.is_empty(), "a success clears the name");
    }

    #[test]
    fn the_wait_is_capped_and_an_idle_name_is_forgotten() {
        let mut l = Limiter::default();
        let mut t = Instant::now();
        for _ in 0..40 {
            while l.begin("amal", None, t).is_err() {
                t += Duration::from_secs(30);
            }
            l.finish("amal", None, Outcome::Failed, t);
        }
        let track = l.names["amal"];
        assert_eq!(track.wait_until - t, BACKOFF_MAX);
        assert!(!track.idle(t + BACKOFF_MAX - Duration::from_secs(1)));
        assert!(track.idle(t + BACKOFF_MAX.max(FORGET_AFTER)));
    }

    #[test]
    fn parallel_attempts_reserve_their_places() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let let_through = (0..80)
            .filter(|_| l.begin("amal", None, t0).is_ok())
            .count();
        assert_eq!(let_through, NAME_FREE as usize);
        let from: Option<IpAddr> = Some([10, 0, 0, 7].into());
        let let_through = (0..80)
            .filter(|i| l.begin(&format!("n{i}"), from, t0).is_ok())
            .count();
        assert_eq!(let_through, ADDRESS_FREE as usize);
    }

    #[test]
    fn an_address_backs_off_except_for_names_that_signed_in_from_it() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let proxy: Option<IpAddr> = Some([10, 0, 0, 1].into());
        let elsewhere: Option<IpAddr> = Some([10, 0, 0, 8].into());
        l.begin("noura", proxy, t0).unwrap();
        l.finish("noura", proxy, Outcome::Succeeded, t0);
        // Four tries per name stays under the per-name limit; the address limit catches it.
        for i in 0..ADDRESS_FREE {
            fail(&mut l, &format!("name{}", i / 4), proxy, t0);
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
    fn long_names_are_refused_and_ipv6_counts_by_its_64() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(l.begin(&long, None, t0), Err(Refused::NameTooLong));
        assert!(l.names.is_empty());
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(AddressKey::from(a), AddressKey::from(b));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(
            AddressKey::from(mapped),
            AddressKey::from(IpAddr::from([10, 0, 0, 7]))
        );
    }

    #[test]
    fn a_dropped_attempt_frees_its_place() {
        let l = Arc::new(Mutex::new(Limiter::default()));
        let t0 = Instant::now();
        let held: Vec<Attempt> = (0..NAME_FREE)
            .map(|_| Attempt::begin(&l, "amal", None, t0).unwrap())
            .collect();
        assert!(Attempt::begin(&l, "amal", None, t0).is_err());
        drop(held);
        assert!(Attempt::begin(&l, "amal", None, t0).is_ok());
    }

    #[tokio::test]
    async fn the_gate_runs_a_few_and_turns_away_a_crowd() {
        let g = Gate::new(2, 1);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let check = || {
            let (hold, started) = (hold.clone(), started_tx.clone());
            move || {
                let _ = started.send(());
                hold.lock().unwrap().recv().unwrap();
                std::thread::current().name().map(str::to_owned)
            }
        };
        let running: Vec<_> = (0..2)
            .map(|_| {
                let t = tokio::spawn(g.run(check()));
                started.recv().unwrap();
                t
            })
            .collect();
        // Both threads are busy: a third check waits, a fourth finds no place to wait.
        let queued = tokio::spawn(g.run(check()));
        assert!(matches!(g.run(|| None::<String>).await, Err(Busy)));
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        for t in running.into_iter().chain([queued]) {
            let name = t.await.unwrap().unwrap();
            assert_eq!(
                name.as_deref(),
                Some("password-check"),
                "off the async runtime"
            );
        }
    }
}
