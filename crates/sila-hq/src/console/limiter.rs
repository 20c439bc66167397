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
//!   kept anywhere (no account can have one); a row is forgotten [`FORGET_AFTER`] after its last
//!   failure, so the rows are bounded by the attempts of a quarter of an hour.
//!
//! **In the database, shared by every server** (issue 12.4): the counts are rows
//! (`rules::signin` decides, `signin_limits` and `signin_known` hold them, under SHA-256 keys,
//! never a name or an address), so attempts split across several `sila-hq serve` on one
//! PostgreSQL are limited as if they came to one. An attempt whose server went away stops
//! counting after [`IN_FLIGHT_FOR`]; idle rows are forgotten.

use crate::store::HqStore;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub use crate::rules::signin::{
    ADDRESS_FREE, BACKOFF_MAX, BACKOFF_START, FORGET_AFTER, IN_FLIGHT_FOR, KNOWN_FOR,
    MAX_NAME_CHARS, MAX_PASSWORD_BYTES, NAME_FREE, Outcome, Refused,
};
use crate::rules::signin::{address_key, name_key};

/// Argon2 evaluations running at once.
pub const CHECKS_AT_ONCE: usize = 2;
/// Sign-ins waiting for a check; more are told the server is busy.
pub const CHECKS_WAITING: usize = 32;

/// An attempt in flight, its place reserved in the database. Whoever holds it reports its
/// outcome with [`Attempt::finish`]; dropped without one (the request went away), it frees its
/// place and counts for nothing.
pub struct Attempt {
    store: Arc<dyn HqStore>,
    name: String,
    address: Option<String>,
    done: bool,
}

impl Attempt {
    /// Reserve a place for `name` (already trimmed and lower-cased) from `from` (None when the
    /// server does not know the peer). Blocking: call it off the async runtime.
    pub fn begin(
        store: &Arc<dyn HqStore>,
        name: &str,
        from: Option<IpAddr>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> crate::Result<Result<Attempt, Refused>> {
        if name.chars().count() > MAX_NAME_CHARS {
            return Ok(Err(Refused::NameTooLong));
        }
        let (name, address) = (name_key(name), from.map(address_key));
        if !store.signin_begin(&name, address.as_deref(), now)? {
            return Ok(Err(Refused::TooMany));
        }
        Ok(Ok(Attempt {
            store: store.clone(),
            name,
            address,
            done: false,
        }))
    }

    /// Blocking, like [`Attempt::begin`].
    pub fn finish(mut self, outcome: Outcome, now: chrono::DateTime<chrono::Utc>) {
        self.done = true;
        if let Err(e) = self
            .store
            .signin_finish(&self.name, self.address.as_deref(), outcome, now)
        {
            // The place frees itself after IN_FLIGHT_FOR; a failure then goes uncounted.
            tracing::warn!(
                code = e.code().as_str(),
                "a sign-in attempt's outcome was not recorded"
            );
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.done {
            // Dropped with its request, possibly on the async runtime: the database is written
            // from a thread of its own.
            let (store, name, address) = (
                self.store.clone(),
                std::mem::take(&mut self.name),
                self.address.take(),
            );
            std::thread::spawn(move || {
                let _ = store.signin_finish(
                    &name,
                    address.as_deref(),
                    Outcome::Undecided,
                    chrono::Utc::now(),
                );
            });
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
