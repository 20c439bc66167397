//! Background sync while someone is signed in. At sign-in the shell starts one worker thread with
//! its own connection to the store (opened with the same credentials, so the store key exists
//! only while someone is signed in); at sign-out or the idle lock the worker is told to stop, drops
//! its connection and ends. The worker never holds the window's connection, so the desk stays
//! responsive while a pass crawls over a 2G link.
//!
//! What to do when is `sila_sync::Scheduler`'s decision (health probe with exponential back-off
//! and jitter while HQ is unreachable, a pass at once on reconnect, a few seconds after a save,
//! periodically while online, and at once on "sync now"); the pass is `sila_sync::sync_once`.
//! Nothing here decides what a record means, and nothing is logged but phases and counts.

use sila_store::Store;
use sila_sync::{Action, HqClient, Scheduler, SchedulerConfig, SyncOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the worker is doing, for the home screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// The worker is opening its connection.
    #[default]
    Starting,
    /// The store is not bound to HQ (an administrator enrols it from the home screen or `sila enroll`).
    NotEnrolled,
    /// Asking HQ's `/healthz` whether it can be reached.
    Probing,
    Syncing,
    /// HQ answered and the last pass finished.
    Online,
    /// HQ cannot be reached; the next probe is scheduled with back-off.
    Offline,
    /// HQ refused this device (revoked, unknown credential): automatic sync waits for "sync now".
    NeedsPerson,
    /// The worker's own connection could not be opened.
    Failed,
}

impl Phase {
    pub fn code(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::NotEnrolled => "not_enrolled",
            Phase::Probing => "probing",
            Phase::Syncing => "syncing",
            Phase::Online => "online",
            Phase::Offline => "offline",
            Phase::NeedsPerson => "needs_person",
            Phase::Failed => "failed",
        }
    }
}

/// The worker's live state, shared with the commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    pub phase: Phase,
    /// When the next automatic attempt is due (offline: the next probe).
    pub next_attempt: Option<Instant>,
    /// Counts of the last finished pass: pushed, pulled.
    pub last_pushed: usize,
    pub last_pulled: usize,
    /// How many passes this worker finished (for tests and the log).
    pub passes: u64,
    /// Bumped whenever the worker changed what the home screen shows (rule tasks brought up to
    /// date, rows pulled from HQ): the screen reloads its tasks and counts when it moves.
    pub data_version: u64,
    /// A newer release HQ offered, on its way or ready to install.
    pub update: UpdateLive,
}

/// Where a release HQ offered stands on this device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UpdateLive {
    #[default]
    None,
    /// Arriving in chunks (a cut link resumes at the next pass).
    Fetching {
        version: String,
        done: u64,
        size: u64,
    },
    /// Checked and kept in the data folder: the person signed in may install it.
    Ready {
        release: sila_sync::proto::Release,
        path: std::path::PathBuf,
    },
    /// Refused (a bad signature, a damaged package): deleted and reported to HQ.
    Refused {
        release: sila_sync::proto::Release,
        code: String,
    },
}

/// What the worker needs to fetch releases: the version this app is, where packages are kept,
/// and the key they must be signed with (None: every package is refused).
#[derive(Clone)]
pub struct Updates {
    pub version: String,
    pub dir: std::path::PathBuf,
    pub key: Option<sila_sync::proto::release::UpdateKey>,
}

enum Event {
    /// Something was written through the window's connection.
    Changed,
    SyncNow,
}

/// Tells the window that the sync state changed (an event it listens to); a no-op in tests.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// The tunables of the worker; production's are the scheduler's defaults.
#[derive(Clone)]
pub struct SyncConfig {
    pub scheduler: SchedulerConfig,
    /// A pass is not started before this much time after sign-in (the first screen draws first).
    pub first_delay: Duration,
    /// Releases from HQ (None: the app names no version and fetches nothing, as in tests of
    /// other things).
    pub updates: Option<Updates>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            scheduler: SchedulerConfig::default(),
            first_delay: Duration::from_secs(2),
            updates: None,
        }
    }
}

/// A running worker. Dropping it stops it.
pub struct Worker {
    tx: mpsc::UnboundedSender<Event>,
    stop: Arc<tokio::sync::Notify>,
    live: Arc<Mutex<Live>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Start a worker on its own connection to the store in `dir`, opened as `username`.
    /// Start the worker on its own connection to the signed-in store (see
    /// `Store::another_connection`: no second key derivation).
    pub fn start(store: Store, cfg: SyncConfig, notify: Notify) -> Worker {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(tokio::sync::Notify::new());
        let live = Arc::new(Mutex::new(Live::default()));
        let (stop2, live2) = (Arc::clone(&stop), Arc::clone(&live));
        let thread = std::thread::Builder::new()
            .name("sila-sync".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    set(&live2, &notify, |l| l.phase = Phase::Failed);
                    return;
                };
                rt.block_on(run(store, rx, stop2, live2, notify, cfg));
            })
            .expect("spawn the sync thread");
        Worker {
            tx,
            stop,
            live,
            thread: Some(thread),
        }
    }

    pub fn live(&self) -> Live {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A save went through the window's connection: sync soon if it made changes for HQ.
    pub fn changed(&self) {
        let _ = self.tx.send(Event::Changed);
    }

    pub fn sync_now(&self) {
        let _ = self.tx.send(Event::SyncNow);
    }

    /// Stop and wait until the worker has dropped its connection (a pass in flight is abandoned:
    /// sync is safe to cut at any point, and what was not acknowledged is sent next time).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Change the live state, and tell the window when it did change.
fn set(live: &Mutex<Live>, notify: &Notify, f: impl FnOnce(&mut Live)) {
    let changed = {
        let mut l = live.lock().unwrap_or_else(|p| p.into_inner());
        let before = l.clone();
        f(&mut l);
        *l != before
    };
    if changed {
        notify();
    }
}

/// What the scheduler would do now, without telling it (for the display): `next` itself marks a
/// probe or pass as started, so it is asked on a copy.
fn peek(sched: &Scheduler, now: Duration) -> Action {
    sched.clone().next(now)
}

/// Seed the jitter from this device, so two laptops that lost the link together do not return together.
fn seed(store: &Store) -> u64 {
    let id = store.session().device.to_string();
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }) ^ std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn run(
    mut store: Store,
    mut rx: mpsc::UnboundedReceiver<Event>,
    stop: Arc<tokio::sync::Notify>,
    live: Arc<Mutex<Live>>,
    notify: Notify,
    cfg: SyncConfig,
) {
    let start = Instant::now();
    // While the branch arrives (a new laptop), every page moves the progress bar and brings new
    // people into the lists: the window reloads.
    let progress: Arc<dyn Fn(&sila_store::sync::Redownload) + Send + Sync> = {
        let (live, notify) = (Arc::clone(&live), Arc::clone(&notify));
        Arc::new(move |_: &sila_store::sync::Redownload| {
            set(&live, &notify, |l| l.data_version += 1)
        })
    };
    let opts = SyncOptions {
        progress: Some(progress),
        app_version: cfg.updates.as_ref().map(|u| u.version.clone()),
        ..SyncOptions::default()
    };
    let fetching = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut sched = Scheduler::new(cfg.scheduler.clone(), seed(&store));
    let mut pending = sila_store::outbox::pending_count(store.conn()).unwrap_or(0);
    let mut enrolled = false;
    let mut saves = 0u32;
    // Let the first screen draw before any work: then the rule tasks ("promised date near"
    // depends on today) are brought up to date once per sign-in, here on the worker's connection
    // rather than in sign-in, and the first probe follows.
    tokio::select! {
        _ = tokio::time::sleep(cfg.first_delay) => {}
        _ = stop.notified() => return,
    }
    let t = Instant::now();
    match store.refresh_rule_tasks() {
        Ok(made) => {
            crate::log::line("rule_tasks", "ok", t.elapsed().as_millis());
            if made > 0 {
                set(&live, &notify, |l| l.data_version += 1);
            }
        }
        Err(e) => crate::log::line("rule_tasks", e.code(), t.elapsed().as_millis()),
    }
    loop {
        let now = start.elapsed();
        let enrolment = store.enrolment().ok().flatten();
        if enrolment.is_some() && !enrolled {
            enrolled = true;
        }
        let action = match &enrolment {
            None => {
                enrolled = false;
                set(&live, &notify, |l| {
                    l.phase = Phase::NotEnrolled;
                    l.next_attempt = None;
                });
                // Nothing to do until an enrolment (which sends "sync now").
                Action::Wait(Duration::from_secs(3600))
            }
            Some(_) => sched.next(now),
        };
        match action {
            Action::Probe => {
                let url = enrolment
                    .as_ref()
                    .map(|e| e.hq_url.clone())
                    .unwrap_or_default();
                set(&live, &notify, |l| l.phase = Phase::Probing);
                let reachable = match HqClient::new(&url, None, &opts) {
                    Ok(client) => tokio::select! {
                        ok = client.healthy() => ok,
                        _ = stop.notified() => return,
                    },
                    Err(_) => false,
                };
                let now = start.elapsed();
                sched.probe_done(now, reachable);
                if !reachable {
                    crate::log::line("sync_probe", "unreachable", 0);
                    let wait = match peek(&sched, now) {
                        Action::Wait(w) => Some(Instant::now() + w),
                        _ => None,
                    };
                    set(&live, &notify, |l| {
                        l.phase = Phase::Offline;
                        l.next_attempt = wait;
                    });
                }
            }
            Action::Sync => {
                set(&live, &notify, |l| {
                    l.phase = Phase::Syncing;
                    l.next_attempt = None;
                });
                let began = Instant::now();
                // Events that arrive during the pass are remembered: a save made while the pass
                // ran may have come after its push, and must bring the next pass forward.
                let (mut saved_meanwhile, mut now_asked) = (false, false);
                let result = {
                    let pass = sila_sync::sync_once(&mut store, &opts);
                    tokio::pin!(pass);
                    loop {
                        tokio::select! {
                            r = &mut pass => break r,
                            e = rx.recv() => match e {
                                Some(Event::Changed) => saved_meanwhile = true,
                                Some(Event::SyncNow) => now_asked = true,
                                None => return,
                            },
                            _ = stop.notified() => return,
                        }
                    }
                };
                let outcome = sila_sync::outcome_of(&result);
                let now = start.elapsed();
                sched.sync_done(now, outcome);
                pending = sila_store::outbox::pending_count(store.conn()).unwrap_or(pending);
                if saved_meanwhile && pending > 0 {
                    sched.local_change(now);
                }
                if now_asked {
                    sched.sync_now(now);
                }
                if let (Ok(r), Some(up)) = (&result, &cfg.updates)
                    && let Some(release) = &r.release
                {
                    fetch_in_background(&store, release, up, &live, &notify, &fetching);
                }
                let code = match &result {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.code(),
                };
                crate::log::line("sync_pass", &code, began.elapsed().as_millis());
                let next = match peek(&sched, now) {
                    Action::Wait(w) => Some(Instant::now() + w),
                    _ => None,
                };
                set(&live, &notify, |l| {
                    l.passes += 1;
                    l.next_attempt = next;
                    match &result {
                        Ok(r) => {
                            l.phase = Phase::Online;
                            l.last_pushed = r.pushed;
                            l.last_pulled = r.pulled;
                            if r.pulled > 0 {
                                l.data_version += 1;
                            }
                        }
                        Err(_) => {
                            l.phase = match outcome {
                                sila_sync::Outcome::NeedsPerson => Phase::NeedsPerson,
                                _ => Phase::Offline,
                            }
                        }
                    }
                });
            }
            Action::Wait(d) => {
                let event = tokio::select! {
                    e = rx.recv() => e,
                    _ = tokio::time::sleep(d) => continue,
                    _ = stop.notified() => return,
                };
                let now = start.elapsed();
                match event {
                    None => return,
                    Some(Event::SyncNow) => sched.sync_now(now),
                    Some(Event::Changed) => {
                        // The window's connection leaves checkpoints to this one, so the desk's
                        // saves do not wait for them (Store::checkpoints_in_background).
                        saves += 1;
                        if saves >= sila_store::SAVES_PER_CHECKPOINT {
                            saves = 0;
                            if let Err(e) = store.checkpoint() {
                                crate::log::line("checkpoint", e.code(), 0);
                            }
                        }
                        // Only a change for HQ (an outbox operation) brings a pass forward; a
                        // wizard draft saved while typing does not.
                        let p = sila_store::outbox::pending_count(store.conn()).unwrap_or(pending);
                        if p > pending && enrolled {
                            sched.local_change(now);
                        }
                        if p != pending {
                            notify();
                        }
                        pending = p;
                    }
                }
            }
        }
    }
}

/// Fetch a release HQ offered beside the passes (a 15 MB package takes a while on 2G, and records
/// go first), unless it is already here, was refused, or is on its way. The task ends with the
/// worker's runtime at sign-out; the partial file stays and the next sign-in resumes it.
fn fetch_in_background(
    store: &Store,
    release: &sila_sync::proto::Release,
    up: &Updates,
    live: &Arc<Mutex<Live>>,
    notify: &Notify,
    fetching: &Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::Ordering;
    let known = match &live.lock().unwrap_or_else(|p| p.into_inner()).update {
        UpdateLive::Ready { release: r, .. } | UpdateLive::Refused { release: r, .. } => {
            r == release
        }
        _ => false,
    };
    if known || fetching.swap(true, Ordering::SeqCst) {
        return;
    }
    let client = store
        .enrolment()
        .ok()
        .flatten()
        .and_then(|e| HqClient::new(&e.hq_url, Some(e.token), &SyncOptions::default()).ok());
    let Some(client) = client else {
        fetching.store(false, Ordering::SeqCst);
        return;
    };
    let (release, up) = (release.clone(), up.clone());
    let (live, notify, fetching) = (Arc::clone(live), Arc::clone(notify), Arc::clone(fetching));
    tokio::spawn(async move {
        let began = Instant::now();
        let mut progress = {
            let (live, notify) = (Arc::clone(&live), Arc::clone(&notify));
            let version = release.version.clone();
            move |done: u64, size: u64| {
                set(&live, &notify, |l| {
                    l.update = UpdateLive::Fetching {
                        version: version.clone(),
                        done,
                        size,
                    }
                })
            }
        };
        let r = sila_sync::update::fetch_release(
            &client,
            &release,
            &up.dir,
            up.key.as_ref(),
            sila_sync::proto::DEFAULT_CHUNK,
            &mut progress,
        )
        .await;
        let code = match &r {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code(),
        };
        crate::log::line("update_fetch", &code, began.elapsed().as_millis());
        set(&live, &notify, |l| match r {
            Ok(path) => l.update = UpdateLive::Ready { release, path },
            // The link: the partial file stays, and the next pass goes on from it.
            Err(sila_sync::update::UpdateError::Sync(_)) => {}
            Err(e) => {
                l.update = UpdateLive::Refused {
                    release,
                    code: e.code(),
                }
            }
        });
        fetching.store(false, Ordering::SeqCst);
    });
}
