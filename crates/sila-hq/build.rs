//! Embeds the HQ console's built UI (`ui/dist-hq`) into the binary: writes
//! `$OUT_DIR/console_assets.rs` with one `include_bytes!` per file. When the UI has not been
//! built, the list is empty, a warning says how to build it, and the server answers `/console/`
//! with a page that says so (503) rather than an empty console.

use std::path::{Path, PathBuf};

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, root, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            out.push((rel, p.canonicalize().unwrap_or(p)));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dist = manifest.join("../../ui/dist-hq");
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-env-changed=SILA_HQ_REQUIRE_CONSOLE");
    let mut files = Vec::new();
    if dist.join("hq.html").is_file() {
        walk(&dist, &dist, &mut files);
        files.sort();
    } else if std::env::var("SILA_HQ_REQUIRE_CONSOLE").is_ok_and(|v| v == "1") {
        panic!(
            "SILA_HQ_REQUIRE_CONSOLE=1 but ui/dist-hq/hq.html is missing: run `cd ui && npm ci && npm run build:hq`"
        );
    } else {
        println!(
            "cargo:warning=the HQ console UI is not built (ui/dist-hq is missing): sila-hq will answer /console/ with 503. Build it with `cd ui && npm ci && npm run build:hq`."
        );
    }
    let mut src = String::from(
        "/// Every file of ui/dist-hq: (path relative to it, bytes).\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        src.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            abs.display().to_string()
        ));
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("console_assets.rs");
    std::fs::write(out, src).unwrap();
}
