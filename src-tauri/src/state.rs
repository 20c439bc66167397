//! The app's state: where the branch store lives, the open store while someone is signed in
//! (held in a mutex: a SQLite connection is used by one thread at a time), and when the last
//! activity was, so an idle app locks itself by dropping the store (the key leaves memory with it).

use crate::dto::{ApiError, SignInInput};
use sila_store::Store;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Desk {
    pub dir: PathBuf,
    store: Mutex<Option<Store>>,
    last_activity: Mutex<Instant>,
    pub idle_lock: Duration,
    /// Only for the startup benchmark (`--bench`): credentials the UI signs in with by itself.
    pub bench: Option<SignInInput>,
}

impl Desk {
    pub fn new(dir: PathBuf, idle_lock: Duration, bench: Option<SignInInput>) -> Desk {
        Desk {
            dir,
            store: Mutex::new(None),
            last_activity: Mutex::new(Instant::now()),
            idle_lock,
            bench,
        }
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
        f(store)
    }

    pub fn signed_in(&self) -> bool {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    pub fn set_store(&self, store: Option<Store>) {
        self.touch();
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }

    /// Drop the store if the app has been idle too long. Returns true when it locked now.
    pub fn lock_if_idle(&self) -> bool {
        if self.idle_for() < self.idle_lock {
            return false;
        }
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        guard.take().is_some()
    }
}
