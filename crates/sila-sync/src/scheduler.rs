//! When to sync: a pure state machine the desktop shell drives. Time is passed in (a monotonic
//! `Duration` since any fixed start), randomness comes from a seed, so every decision is exact
//! under test. The shell asks [`Scheduler::next`] what to do, does it, and reports back.
//!
//! Behaviour: probe HQ's health while offline, with exponential back-off and jitter; sync as soon
//! as a probe succeeds (reconnect), a few seconds after a local save, periodically while online,
//! and at once on "sync now". A refusal that needs a person (revoked device, unknown credential,
//! not enrolled) stops automatic syncing until "sync now".

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// First probe delay after a failure; doubles per failure up to `probe_max`.
    pub probe_min: Duration,
    pub probe_max: Duration,
    /// Sync this often while online with nothing saved.
    pub periodic: Duration,
    /// Sync this long after a local save (more saves within it are carried along).
    pub after_save: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            probe_min: Duration::from_secs(2),
            probe_max: Duration::from_secs(300),
            periodic: Duration::from_secs(600),
            after_save: Duration::from_secs(5),
        }
    }
}

/// What the shell should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Call `GET /healthz`, then [`Scheduler::probe_done`].
    Probe,
    /// Run `sync_once`, then [`Scheduler::sync_done`].
    Sync,
    /// Nothing before this much time has passed (or an event arrives).
    Wait(Duration),
}

/// How a sync pass ended, as the scheduler needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// The link or the server: try again after a back-off.
    Transient,
    /// Needs a person (revoked, not enrolled, unknown credential).
    NeedsPerson,
}

#[derive(Debug, Clone)]
pub struct Scheduler {
    cfg: SchedulerConfig,
    online: bool,
    failures: u32,
    next_probe: Duration,
    sync_due: Option<Duration>,
    busy: bool,
    stopped: bool,
    rng: u64,
}

impl Scheduler {
    pub fn new(cfg: SchedulerConfig, seed: u64) -> Scheduler {
        Scheduler {
            cfg,
            online: false,
            failures: 0,
            next_probe: Duration::ZERO,
            sync_due: None,
            busy: false,
            stopped: false,
            rng: seed | 1,
        }
    }

    pub fn is_online(&self) -> bool {
        self.online
    }
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
    pub fn failures(&self) -> u32 {
        self.failures
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: enough for jitter, and reproducible from the seed.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The back-off after `failures` failures: exponential, capped, with "equal jitter" (half
    /// fixed, half random) so devices that lost the link together do not return together.
    pub fn backoff(&mut self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let base = self
            .cfg
            .probe_min
            .saturating_mul(1u32 << exp)
            .min(self.cfg.probe_max);
        let half = base / 2;
        let jitter_ms = if half.as_millis() == 0 {
            0
        } else {
            self.random() % (half.as_millis() as u64 + 1)
        };
        half + Duration::from_millis(jitter_ms)
    }

    pub fn next(&mut self, now: Duration) -> Action {
        if self.busy {
            return Action::Wait(self.cfg.probe_min);
        }
        if self.stopped {
            return Action::Wait(self.cfg.periodic);
        }
        if self.online {
            let due = self.sync_due.unwrap_or(now + self.cfg.periodic);
            self.sync_due = Some(due);
            if due <= now {
                self.busy = true;
                self.sync_due = None;
                return Action::Sync;
            }
            return Action::Wait(due - now);
        }
        if self.next_probe <= now {
            self.busy = true;
            return Action::Probe;
        }
        Action::Wait(self.next_probe - now)
    }

    pub fn probe_done(&mut self, now: Duration, reachable: bool) {
        self.busy = false;
        if reachable {
            self.online = true;
            self.failures = 0;
            // Back online: sync at once.
            self.sync_due = Some(now);
        } else {
            self.online = false;
            self.failures += 1;
            let wait = self.backoff(self.failures);
            self.next_probe = now + wait;
        }
    }

    pub fn sync_done(&mut self, now: Duration, outcome: Outcome) {
        self.busy = false;
        match outcome {
            Outcome::Done => {
                self.online = true;
                self.failures = 0;
                let periodic = now + self.cfg.periodic;
                self.sync_due = Some(self.sync_due.map_or(periodic, |d| d.min(periodic)));
            }
            Outcome::Transient => {
                self.online = false;
                self.failures += 1;
                let wait = self.backoff(self.failures);
                self.next_probe = now + wait;
                // Whatever was due still is, once the link is back.
                self.sync_due = None;
            }
            Outcome::NeedsPerson => {
                self.stopped = true;
                self.sync_due = None;
            }
        }
    }

    /// Something was saved locally: sync soon (when online; offline, the next successful probe
    /// syncs anyway).
    pub fn local_change(&mut self, now: Duration) {
        let soon = now + self.cfg.after_save;
        self.sync_due = Some(self.sync_due.map_or(soon, |d| d.min(soon)));
    }

    /// "Sync now": clears a stop, and syncs at once (after a probe when offline).
    pub fn sync_now(&mut self, now: Duration) {
        self.stopped = false;
        if self.online {
            self.sync_due = Some(now);
        } else {
            self.next_probe = now;
        }
    }

    /// The operating system says the network changed: probe at once instead of waiting out the back-off.
    pub fn network_changed(&mut self, now: Duration) {
        if !self.online {
            self.next_probe = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn offline_probes_back_off_exponentially_with_jitter_and_cap() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 7);
        let mut now = s(0);
        let mut waits = Vec::new();
        for _ in 0..12 {
            assert_eq!(sch.next(now), Action::Probe);
            sch.probe_done(now, false);
            match sch.next(now) {
                Action::Wait(w) => {
                    waits.push(w);
                    now += w;
                }
                other => panic!("expected a wait, got {other:?}"),
            }
        }
        // Each wait lies in [base/2, base] with base = 2 s · 2^(n-1), capped at 300 s.
        for (i, w) in waits.iter().enumerate() {
            let base = (2u64 << i).min(300);
            assert!(
                *w >= Duration::from_millis(base * 500) && *w <= s(base),
                "wait {i}: {w:?}"
            );
        }
        assert!(waits[11] <= s(300));
    }

    #[test]
    fn jitter_differs_between_devices() {
        let mut a = Scheduler::new(SchedulerConfig::default(), 1);
        let mut b = Scheduler::new(SchedulerConfig::default(), 2);
        let wa: Vec<_> = (1..8).map(|n| a.backoff(n)).collect();
        let wb: Vec<_> = (1..8).map(|n| b.backoff(n)).collect();
        assert_ne!(wa, wb);
    }

    #[test]
    fn reconnect_syncs_at_once_then_periodically() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 3);
        assert_eq!(sch.next(s(0)), Action::Probe);
        sch.probe_done(s(0), true);
        assert_eq!(sch.next(s(0)), Action::Sync);
        sch.sync_done(s(1), Outcome::Done);
        assert_eq!(sch.next(s(1)), Action::Wait(s(600)));
        assert_eq!(sch.next(s(601)), Action::Sync);
    }

    #[test]
    fn a_save_brings_the_sync_forward() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 3);
        sch.probe_done(s(0), true);
        assert_eq!(sch.next(s(0)), Action::Sync);
        sch.sync_done(s(0), Outcome::Done);
        sch.local_change(s(100));
        assert_eq!(sch.next(s(100)), Action::Wait(s(5)));
        sch.local_change(s(102));
        assert_eq!(
            sch.next(s(102)),
            Action::Wait(s(3)),
            "the earlier due time stands"
        );
        assert_eq!(sch.next(s(105)), Action::Sync);
    }

    #[test]
    fn a_cut_during_sync_goes_back_to_probing() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 3);
        sch.probe_done(s(0), true);
        assert_eq!(sch.next(s(0)), Action::Sync);
        sch.sync_done(s(10), Outcome::Transient);
        assert!(!sch.is_online());
        let Action::Wait(w) = sch.next(s(10)) else {
            panic!()
        };
        assert!(w >= s(1) && w <= s(2));
        assert_eq!(sch.next(s(10) + w), Action::Probe);
        sch.probe_done(s(10) + w, true);
        assert_eq!(sch.next(s(10) + w), Action::Sync);
    }

    #[test]
    fn revoked_stops_until_sync_now() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 3);
        sch.probe_done(s(0), true);
        assert_eq!(sch.next(s(0)), Action::Sync);
        sch.sync_done(s(0), Outcome::NeedsPerson);
        assert!(sch.is_stopped());
        sch.local_change(s(1));
        assert!(matches!(sch.next(s(1000)), Action::Wait(_)));
        sch.sync_now(s(1000));
        assert_eq!(sch.next(s(1000)), Action::Sync);
    }

    #[test]
    fn nothing_runs_twice_at_once() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 3);
        sch.probe_done(s(0), true);
        assert_eq!(sch.next(s(0)), Action::Sync);
        sch.sync_now(s(0));
        assert!(matches!(sch.next(s(0)), Action::Wait(_)));
        sch.sync_done(s(1), Outcome::Done);
        assert_eq!(
            sch.next(s(1)),
            Action::Sync,
            "the sync-now asked meanwhile runs next"
        );
    }

    #[test]
    fn network_change_probes_at_once() {
        let mut sch = Scheduler::new(SchedulerConfig::default(), 3);
        for _ in 0..6 {
            sch.next(s(0));
            sch.probe_done(s(0), false);
        }
        assert!(matches!(sch.next(s(0)), Action::Wait(_)));
        sch.network_changed(s(1));
        assert_eq!(sch.next(s(1)), Action::Probe);
    }
}
