//! The shell's log: one line per command with its name, outcome code and duration, appended to
//! `<data dir>/logs/desktop.log`. Nothing else is written: no argument, no result, no message text,
//! so no personal data can reach it.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

static LOG: Mutex<Option<std::fs::File>> = Mutex::new(None);

pub fn open(dir: &Path) {
    let logs = dir.join("logs");
    if std::fs::create_dir_all(&logs).is_err() {
        return;
    }
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join("desktop.log"))
    {
        *LOG.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }
}

/// `what` must be a fixed identifier (a command name, an error code): never user data.
pub fn line(what: &str, outcome: &str, millis: u128) {
    let mut guard = LOG.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = guard.as_mut() {
        let _ = writeln!(
            f,
            "{} {what} {outcome} {millis}ms",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
    }
}
