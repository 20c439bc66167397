//! The app's state: where the branch store lives, the open store while someone is signed in
//! (held in a mutex: a SQLite connection is used by one thread at a time), and when the last
//! activity was, so an idle app locks itself by dropping the store (the key leaves memory with it).
//! While someone is signed in, a sync worker ([`crate::sync`]) runs beside the store on its own
//! connection; it stops whenever the store is dropped.

use crate::dto::{ApiError, SignInInput};
use crate::sync::{Live, Notify, SyncConfig, Worker};
use sila_store::Store;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub struct Desk {
    pub dir: PathBuf,
    store: Mutex<Option<Store>>,
    last_activity: Mutex<Instant>,
    pub idle_lock: Duration,
    /// Only for the startup benchmark (`--bench`): credentials the UI signs in with by itself.
    pub bench: Option<SignInInput>,
    worker: Mutex<Option<Worker>>,
    /// While the store is compacted: bytes written so far and about how many there will be.
    pub compacting: Mutex<Option<(u64, u64)>>,
    pub sync_config: SyncConfig,
    /// How the sync worker tells the window that its state changed (set once the window exists).
    notify: OnceLock<Notify>,
    /// The sheet an administrator picked to import, held in memory between its preview and the
    /// import (never written to disk in the clear); dropped at sign-out and idle lock.
    pub pending_import: Mutex<Option<PendingImport>>,
    /// Where the import in progress stands, for the progress bar (read without the store's lock).
    pub import_progress: Mutex<Option<(String, u64, u64)>>,
    /// Where exports and refused-rows reports are written (`SILA_EXPORT_DIR`, else the user's
    /// Downloads folder, else `exports` in the data folder).
    pub export_dir: PathBuf,
    /// A laptop joining its branch: the code it used and the device ID HQ enrolled with it, kept
    /// so that trying again with the same code (a lost answer) gets the same credential.
    pub joining: Mutex<Option<(String, sila_domain::ids::DeviceId)>>,
    /// This app's version (the bundle's, which a release build may override).
    pub version: String,
}

/// A picked sheet awaiting its import.
pub struct PendingImport {
    pub token: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl Desk {
    pub fn new(dir: PathBuf, idle_lock: Duration, bench: Option<SignInInput>) -> Desk {
        Desk {
            store: Mutex::new(None),
            last_activity: Mutex::new(Instant::now()),
            idle_lock,
            bench,
            worker: Mutex::new(None),
            compacting: Mutex::new(None),
            sync_config: SyncConfig::default(),
            notify: OnceLock::new(),
            pending_import: Mutex::new(None),
            import_progress: Mutex::new(None),
            export_dir: std::env::var_os("SILA_EXPORT_DIR")
                .map(PathBuf::from)
                .or_else(dirs::download_dir)
                .unwrap_or_else(|| dir.join("exports")),
            joining: Mutex::new(None),
            version: env!("CARGO_PKG_VERSION").into(),
            dir,
        }
    }

    pub fn with_sync_config(mut self, cfg: SyncConfig) -> Desk {
        self.sync_config = cfg;
        self
    }

    /// This app's version, named to HQ at every sync: HQ offers releases newer than it.
    pub fn with_version(mut self, version: String) -> Desk {
        self.version = version;
        self
    }

    pub fn set_notify(&self, notify: Notify) {
        let _ = self.notify.set(notify);
    }

    pub fn touch(&self) {
        *self.last_activity.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    pub fn idle_for(&self) -> Duration {
        self.last_activity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Run `f` with the open store, or fail with `locked` when nobody is signed in.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.touch();
        // A panic inside one command must not lock everyone out: take the store back from a poisoned lock.
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let store = guard.as_mut().ok_or_else(ApiError::locked)?;
        let before = store.conn().total_changes();
        let out = f(store);
        if store.conn().total_changes() != before {
            // Something was written: the worker looks whether it was a change for HQ.
            if let Some(w) = self
                .worker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
            {
                w.changed();
            }
        }
        out
    }

    /// Run `f` with the open store while no other connection to it is open: the sync worker is
    /// stopped first (its connection closed) and started again afterwards, on whatever file the
    /// store is then. For compaction, which swaps the store's file.
    pub fn with_store_alone<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.touch();
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let store = guard.as_mut().ok_or_else(ApiError::locked)?;
        self.stop_sync();
        let out = f(store);
        // As at sign-in: the worker's own connection, and the checkpoints left to it.
        let worker_conn = store.another_connection()?;
        store.checkpoints_in_background()?;
        drop(guard);
        self.start_sync(worker_conn);
        out
    }

    pub fn signed_in(&self) -> bool {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Hold the signed-in store, or drop it (sign-out). Dropping it stops the sync worker too.
    pub fn set_store(&self, store: Option<Store>) {
        self.touch();
        if store.is_none() {
            self.stop_sync();
            *self
                .pending_import
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = None;
        }
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }

    /// Someone signed in: the store becomes the window's, and the sync worker starts on its own
    /// connection (same key, no second derivation), which also takes over WAL checkpoints so the
    /// window's saves never wait for one.
    pub fn begin_session(&self, store: Store) -> Result<(), ApiError> {
        let worker_conn = store.another_connection()?;
        store.checkpoints_in_background()?;
        self.set_store(Some(store));
        self.start_sync(worker_conn);
        Ok(())
    }

    fn start_sync(&self, store: Store) {
        let notify = self
            .notify
            .get()
            .cloned()
            .unwrap_or_else(|| Arc::new(|| {}));
        let worker = Worker::start(store, self.sync_config.clone(), notify);
        let old = self
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(worker);
        if let Some(old) = old {
            old.stop();
        }
    }

    /// Stop the sync worker and wait until its connection (and key) is gone.
    pub fn stop_sync(&self) {
        let old = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(old) = old {
            old.stop();
        }
    }

    /// The worker's live state, or None when no worker runs (nobody signed in).
    pub fn sync_live(&self) -> Option<Live> {
        self.worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Worker::live)
    }

    pub fn sync_now(&self) {
        if let Some(w) = self
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            w.sync_now();
        }
    }

    /// Drop the store if the app has been idle too long. Returns true when it locked now.
    pub fn lock_if_idle(&self) -> bool {
        if self.idle_for() < self.idle_lock {
            return false;
        }
        self.stop_sync();
        *self
            .pending_import
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        guard.take().is_some()
    }
}
