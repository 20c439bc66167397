//! The Tauri commands: each is a one-line wrapper that runs its body from [`crate::api`] on a
//! blocking thread (SQLite and Argon2 never run on the window's thread) and logs its name,
//! outcome code and duration. `command_list.rs` is the whole IPC surface, listed once: the
//! commands, their registration, their permissions and the capability all come from it.

use crate::api;
use crate::dto::*;
use crate::log;
use crate::state::Desk;
use std::sync::Arc;
use std::time::Instant;
use tauri::State;

async fn run<T: Send + 'static>(
    name: &'static str,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let out = tauri::async_runtime::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ApiError::internal()));
    let outcome = match &out {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    log::line(name, outcome, started.elapsed().as_millis());
    out
}

/// Makes the commands of `command_list.rs`: a Tauri command for each `wrapped` entry (its body is
/// `api::NAME`, run by [`run`]), [`ALL`], and [`handler`] over every entry, `own` ones included.
macro_rules! commands {
    (
        wrapped { $( $name:ident ( $( $arg:ident : $ty:ty ),* ) -> $out:ty; )* }
        own { $( $own:ident ),* $(,)? }
    ) => {
        $(
            #[tauri::command]
            pub async fn $name(desk: State<'_, Arc<Desk>>, $( $arg: $ty ),*) -> Result<$out, ApiError> {
                let desk = Arc::clone(&desk);
                run(stringify!($name), move || api::$name(&desk, $( $arg ),*)).await
            }
        )*

        /// Every command the window may call, by name.
        pub const ALL: &[&str] = &[$( stringify!($name), )* $( stringify!($own), )*];

        /// The invoke handler of every command, which `lib.rs` registers.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$( $name, )* $( $own, )*]
        }
    };
}

include!("command_list.rs");

/// A scan, signature or document, sent as the raw request body (no JSON number arrays).
#[tauri::command]
pub async fn upload(
    desk: State<'_, Arc<Desk>>,
    request: tauri::ipc::Request<'_>,
) -> Result<StoredFile, ApiError> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(ApiError::bad_input("file"));
    };
    let bytes = bytes.clone();
    let desk = Arc::clone(&desk);
    run("upload", move || api::upload(&desk, bytes)).await
}

/// A sheet to preview for import, sent as the raw request body, its file name (percent-encoded)
/// in the `x-file-name` header.
#[tauri::command]
pub async fn import_preview(
    desk: State<'_, Arc<Desk>>,
    request: tauri::ipc::Request<'_>,
) -> Result<ImportPreviewDto, ApiError> {
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(ApiError::bad_input("file"));
    };
    let name = request
        .headers()
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .unwrap_or_default();
    let bytes = bytes.clone();
    let desk = Arc::clone(&desk);
    run("import_preview", move || {
        api::import_preview(&desk, name, bytes)
    })
    .await
}

/// `encodeURIComponent` undone (a header carries ASCII only; file names are often Arabic).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A stored file's bytes, returned raw.
#[tauri::command]
pub async fn file(
    desk: State<'_, Arc<Desk>>,
    sha256: String,
) -> Result<tauri::ipc::Response, ApiError> {
    let desk = Arc::clone(&desk);
    run("file", move || api::file(&desk, sha256))
        .await
        .map(tauri::ipc::Response::new)
}

/// Print the current page (the receipt or the request form, laid out by the print stylesheet).
#[tauri::command]
pub async fn print_page(window: tauri::WebviewWindow) -> Result<(), ApiError> {
    window
        .print()
        .map_err(|_| ApiError::new("print_failed", "تعذرت الطباعة."))
}

/// Install the release HQ offered, which the person signed in agreed to (see
/// `api::install_update`), then start the new version and end this one.
#[tauri::command]
pub async fn install_update(
    app: tauri::AppHandle,
    desk: State<'_, Arc<Desk>>,
) -> Result<(), ApiError> {
    let desk = Arc::clone(&desk);
    run("install_update", move || api::install_update(&desk)).await?;
    crate::update::relaunch()?;
    log::line("update_restart", "ok", 0);
    app.exit(0);
    Ok(())
}

/// The UI reports its home screen is interactive. Only the startup benchmark listens: it prints
/// the time since the process started, once.
#[tauri::command]
pub async fn ui_ready(desk: State<'_, Arc<Desk>>, screen: String) -> Result<(), ApiError> {
    if desk.bench.is_some() {
        let ms = crate::started().elapsed().as_secs_f64() * 1000.0;
        let screen: String = screen
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        println!("SILA_READY {screen} {ms:.0}");
    }
    Ok(())
}

/// `ui/src/generated/Command.ts`: the type of the names the UI may invoke, so that a misspelt or
/// removed command fails the UI's type check instead of failing at run time. Written with the
/// DTOs' TypeScript (`dto::typescript`) by [`typescript`].
fn command_type() -> (String, String) {
    let names: Vec<String> = ALL.iter().map(|c| format!("\"{c}\"")).collect();
    (
        "Command.ts".into(),
        format!(
            "// Generated from src-tauri/src/command_list.rs. Do not edit this file manually.\n\n\
             export type Command = {};\n",
            names.join(" | ")
        ),
    )
}

/// Everything under `ui/src/generated/`: the DTOs' TypeScript and the names of the commands.
pub fn typescript() -> Vec<(String, String)> {
    let mut files = crate::dto::typescript();
    files.push(command_type());
    files
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// What the build made of the one list, as the app embeds it (tauri-build's resolved ACL in
    /// OUT_DIR): the main window may call exactly the listed commands, and listen to events.
    #[test]
    fn the_window_may_call_exactly_the_listed_commands() {
        let read = |file: &str| -> Value {
            let path = std::path::Path::new(env!("OUT_DIR")).join(file);
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let manifests = read("acl-manifests.json");
        let capabilities = read("capabilities.json");
        let mut allowed = BTreeSet::new();
        let mut grant = |manifest: &str, prefix: &str, permission: &str| {
            let m = &manifests[manifest];
            let members: Vec<String> =
                match m["permission_sets"][permission]["permissions"].as_array() {
                    Some(set) => set.iter().map(|p| p.as_str().unwrap().to_owned()).collect(),
                    None => vec![permission.to_owned()],
                };
            for p in members {
                let commands = m["permissions"][&p]["commands"]["allow"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{manifest} has no permission {p}"));
                for c in commands {
                    allowed.insert(format!("{prefix}{}", c.as_str().unwrap()));
                }
            }
        };
        for p in capabilities["main"]["permissions"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            match p.rsplit_once(':') {
                Some((plugin, name)) => grant(plugin, &format!("{plugin}:"), name),
                None => grant("__app-acl__", "", p),
            }
        }
        let mut expected: BTreeSet<String> = super::ALL.iter().map(|c| c.to_string()).collect();
        expected.extend(["core:event:listen".into(), "core:event:unlisten".into()]);
        assert_eq!(allowed, expected);
    }

    /// ui/src/generated/ is what `typescript()` makes. Run with SILA_REGEN_TYPES=1 to rewrite it.
    #[test]
    fn generated_types_are_current() {
        sila_ts_check::assert_current(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated"),
            &super::typescript(),
            "cargo test -p sila-desktop generated_types_are_current",
        );
    }
}
