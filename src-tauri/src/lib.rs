//! Sila's branch desktop app: the Tauri shell. It owns the window, the IPC commands (thin
//! wrappers over `sila-store`), the idle lock, the single-instance guard and the log. It never runs
//! SQL and holds no business rule: those are `sila-domain`'s and `sila-store`'s. It never logs
//! personal data (see [`log`]).

pub mod api;
pub mod backups;
pub mod branch;
pub mod commands;
pub mod dto;
pub mod error;
pub mod intake;
pub mod log;
pub mod present;
pub mod state;
pub mod sync;
pub mod update;

use dto::SignInInput;
use state::Desk;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tauri::Emitter;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// When the process started (for the startup benchmark).
pub fn started() -> Instant {
    *STARTED.get_or_init(Instant::now)
}

/// How the app was started: where the store is, how soon it locks, and benchmark mode.
pub struct Options {
    pub data_dir: PathBuf,
    pub idle_lock: Duration,
    pub bench: Option<SignInInput>,
}

impl Options {
    /// `--data-dir DIR` or `SILA_DATA_DIR`, else the platform data directory (as the CLI does);
    /// `SILA_IDLE_LOCK_SECONDS` (default 10 minutes); `--bench` with `SILA_USER`/`SILA_PASSWORD`.
    pub fn from_env() -> Options {
        let args: Vec<String> = std::env::args().collect();
        let arg = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1).cloned())
        };
        let data_dir = arg("--data-dir")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("SILA_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| {
                dirs::data_dir()
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join("sila")
            });
        let idle_lock = std::env::var("SILA_IDLE_LOCK_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(10 * 60));
        let bench = args.iter().any(|a| a == "--bench").then(|| SignInInput {
            username: std::env::var("SILA_USER").unwrap_or_default(),
            password: std::env::var("SILA_PASSWORD").unwrap_or_default(),
        });
        Options {
            data_dir,
            idle_lock,
            bench,
        }
    }
}

/// One app per data folder: a second start finds the lock held and stops (the kernel releases
/// the lock when the first process ends, however it ends). The new version started by an update
/// waits for the old process to end first (it does within moments of starting it).
fn single_instance(dir: &std::path::Path) -> Result<std::fs::File, String> {
    let after_update = std::env::args().any(|a| a == update::AFTER_UPDATE);
    let deadline = Instant::now() + Duration::from_secs(30);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("desktop.lock"))
        .map_err(|e| e.to_string())?;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if after_update && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(
                    "صلة مفتوح بالفعل على هذا الجهاز — Sila is already running on this device"
                        .into(),
                );
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.to_string()),
        }
    }
}

pub fn run() {
    started();
    let opts = Options::from_env();
    let _instance = match single_instance(&opts.data_dir) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    log::open(&opts.data_dir);
    log::line("start", "ok", 0);
    // The bundle's version (tauri.conf.json, which a release build may override with
    // TAURI_CONFIG): what HQ is told this device runs, and what a release must be newer than.
    let context = tauri::generate_context!();
    let version = context.package_info().version.to_string();
    let sync_config = sync::SyncConfig {
        updates: Some(sync::Updates {
            version: version.clone(),
            dir: opts.data_dir.join("updates"),
            key: update::key(),
        }),
        ..sync::SyncConfig::default()
    };
    let desk = Arc::new(
        Desk::new(opts.data_dir, opts.idle_lock, opts.bench)
            .with_version(version)
            .with_sync_config(sync_config),
    );
    let watcher = Arc::clone(&desk);
    tauri::Builder::default()
        .manage(desk)
        .setup(move |app| {
            camera_for_documents(app);
            // The sync worker tells the window when its state changes; the home screen listens.
            let emitter = app.handle().clone();
            watcher.set_notify(Arc::new(move || {
                let _ = emitter.emit("sila://sync", ());
            }));
            // The idle lock: drop the store (and its key) after the idle time, and tell the window.
            let handle = app.handle().clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    if watcher.lock_if_idle() {
                        log::line("idle_lock", "ok", 0);
                        let _ = handle.emit("sila://locked", ());
                    }
                }
            });
            Ok(())
        })
        .invoke_handler(commands::handler())
        .run(context)
        .expect("the window could not start");
}

/// A document can be photographed with the machine's camera (`getUserMedia` in the window).
/// WebKitGTK keeps media streams off and asks the app about each request: video is allowed (the
/// window shows only Sila's own pages), the microphone never.
fn camera_for_documents(app: &tauri::App) {
    #[cfg(target_os = "linux")]
    {
        use tauri::Manager;
        use webkit2gtk::glib::prelude::Cast;
        use webkit2gtk::{
            PermissionRequestExt, SettingsExt, UserMediaPermissionRequest,
            UserMediaPermissionRequestExt, WebViewExt,
        };
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.with_webview(|wv| {
                let view = wv.inner();
                if let Some(settings) = WebViewExt::settings(&view) {
                    settings.set_enable_media_stream(true);
                    // The end-to-end tests run where there is no camera: WebKit's mock camera
                    // stands in when SILA_MOCK_CAMERA is set (never set in production).
                    if std::env::var_os("SILA_MOCK_CAMERA").is_some() {
                        settings.set_enable_mock_capture_devices(true);
                    }
                }
                view.connect_permission_request(|_, request| {
                    match request.downcast_ref::<UserMediaPermissionRequest>() {
                        Some(media)
                            if media.is_for_video_device() && !media.is_for_audio_device() =>
                        {
                            request.allow();
                            true
                        }
                        Some(_) => {
                            request.deny();
                            true
                        }
                        None => false,
                    }
                });
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod branch_tests;
