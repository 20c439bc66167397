//! Installing a release HQ offered (issue 13.2), once the sync worker has fetched and checked it
//! (`sila_sync::update`) and the person signed in has agreed. The package is checked once more
//! right before it is handed to the system's installer, then the app starts its new version and
//! ends. Everything that differs by OS is here, behind `cfg`:
//!
//! - Linux (Debian): the `.deb` through `pkexec dpkg -i` (the desktop's polkit agent asks for an
//!   administrator's password), or plain `dpkg -i` when the app already runs as root.
//! - Windows: the NSIS installer `packaging/windows/build.sh` makes, run silently (`/S`), which
//!   replaces the installed program and keeps every store. Built and installed silently under
//!   Wine by `packaging/windows/check.sh`; this step itself not yet run on Windows (README).

use crate::dto::ApiError;
use sila_sync::proto::Release;
use sila_sync::proto::release::UpdateKey;
use std::path::Path;

/// The argument a relaunched app is started with: it waits for the old process to let go of the
/// data folder's single-instance lock instead of refusing to start.
pub const AFTER_UPDATE: &str = "--after-update";

/// The key releases must be signed with, built into the app: `SILA_UPDATE_KEY` at compile time,
/// the text of the `.pub` file `tauri signer generate` wrote (packaging/build.sh passes it on).
/// Without it the app refuses every package.
pub fn key() -> Option<UpdateKey> {
    option_env!("SILA_UPDATE_KEY").and_then(|k| UpdateKey::decode(k).ok())
}

fn refused(code: &str) -> ApiError {
    ApiError::new(code, sila_sync::update::arabic_message(code))
}

/// Check the package once more (it sat in the data folder since it was fetched) and install it.
pub fn install(release: &Release, package: &Path) -> Result<(), ApiError> {
    let key = key().ok_or_else(|| refused("update_no_key"))?;
    if let Err(e) = sila_sync::update::check_file(&key, release, package) {
        let _ = std::fs::remove_file(package);
        return Err(refused(e.code()));
    }
    run_installer(package)
}

#[cfg(target_os = "linux")]
fn run_installer(package: &Path) -> Result<(), ApiError> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is the process's effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let mut cmd = if root {
        std::process::Command::new("dpkg")
    } else {
        let mut c = std::process::Command::new("pkexec");
        c.arg("dpkg");
        c
    };
    cmd.arg("-i")
        .arg(package)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(std::process::Stdio::null());
    let status = cmd.status().map_err(|_| refused("update_install_failed"))?;
    match status.code() {
        Some(0) => Ok(()),
        // pkexec: the person dismissed the password dialog (126) or may not (127).
        Some(126) | Some(127) if !root => Err(refused("update_cancelled")),
        _ => Err(refused("update_install_failed")),
    }
}

#[cfg(target_os = "windows")]
fn run_installer(package: &Path) -> Result<(), ApiError> {
    // The NSIS installer, silent: it replaces the installed program and asks for elevation
    // itself when installed per machine.
    let status = std::process::Command::new(package)
        .arg("/S")
        .status()
        .map_err(|_| refused("update_install_failed"))?;
    if status.success() {
        Ok(())
    } else {
        Err(refused("update_install_failed"))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
fn run_installer(_package: &Path) -> Result<(), ApiError> {
    Err(refused("update_install_failed"))
}

/// Start the installed (new) program with the arguments this one was started with; it waits for
/// this process to end before it opens the data folder.
pub fn relaunch() -> Result<(), ApiError> {
    let exe = std::env::current_exe().map_err(|_| refused("update_install_failed"))?;
    // On Linux the running file was replaced: its path reads "… (deleted)".
    let exe = match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
        Some(s) => std::path::PathBuf::from(s),
        None => exe,
    };
    let args = std::env::args_os()
        .skip(1)
        .filter(|a| a != AFTER_UPDATE)
        .collect::<Vec<_>>();
    std::process::Command::new(exe)
        .args(args)
        .arg(AFTER_UPDATE)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|_| refused("update_install_failed"))
}
