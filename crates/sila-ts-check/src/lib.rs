//! The check that a folder of generated TypeScript is current: sila-desktop's IPC types
//! (`ui/src/generated/`) and sila-hq's console types (`ui/src/hq/generated/`) are made from Rust
//! by ts-rs, and each crate has a test that fails when its folder is not what the Rust makes now,
//! or rewrites the folder when `SILA_REGEN_TYPES` is set. Both call [`assert_current`].

use std::path::Path;

/// A generated file: its name in the folder, and its TypeScript.
pub type Generated = (String, String);

/// Fails the test when `dir`'s `.ts` files are not exactly `files` (a file differs, is missing,
/// or is no longer generated), naming them and `command`, the command that rewrites the folder.
/// With `SILA_REGEN_TYPES` set it rewrites the folder instead.
pub fn assert_current(dir: &Path, files: &[Generated], command: &str) {
    if std::env::var_os("SILA_REGEN_TYPES").is_some() {
        rewrite(dir, files);
    } else {
        assert_none_stale(dir, files, command);
    }
}

fn assert_none_stale(dir: &Path, files: &[Generated], command: &str) {
    let stale = stale(dir, files);
    assert!(
        stale.is_empty(),
        "{} is stale: {stale:?}. Run: SILA_REGEN_TYPES=1 {command}",
        dir.display()
    );
}

/// The files of `dir` that are not what `files` says: different or missing, and `.ts` files no
/// longer generated.
pub fn stale(dir: &Path, files: &[Generated]) -> Vec<String> {
    let mut stale: Vec<String> = files
        .iter()
        .filter(|(name, ts)| {
            std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(ts.as_str())
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in ts_files(dir) {
        if !files.iter().any(|(n, _)| *n == name) {
            stale.push(format!("{name} (no longer generated)"));
        }
    }
    stale
}

/// `dir` holds `files` and no other `.ts` file.
pub fn rewrite(dir: &Path, files: &[Generated]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ts_files(dir) {
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    for (name, ts) in files {
        std::fs::write(dir.join(name), ts).unwrap();
    }
}

fn ts_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".ts"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, ts: &str) -> Generated {
        (name.to_owned(), ts.to_owned())
    }

    /// A folder of this test's own under the system's temporary folder, empty, removed when
    /// dropped (also when the test panics).
    struct Folder(std::path::PathBuf);

    impl Folder {
        fn new(name: &str) -> Folder {
            let dir =
                std::env::temp_dir().join(format!("sila-ts-check-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Folder(dir)
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_changed_missing_or_no_longer_generated_file_is_stale_until_rewritten() {
        let folder = Folder::new("stale");
        let dir = &folder.0;
        let files = vec![
            file("A.ts", "export type A = 1;\n"),
            file("B.ts", "export type B = 2;\n"),
        ];
        rewrite(dir, &files);
        assert!(stale(dir, &files).is_empty());
        // Other files in the folder are none of its business.
        std::fs::write(dir.join("README.md"), "not TypeScript").unwrap();
        assert!(stale(dir, &files).is_empty());

        std::fs::write(dir.join("A.ts"), "export type A = 3;\n").unwrap();
        std::fs::remove_file(dir.join("B.ts")).unwrap();
        std::fs::write(dir.join("Old.ts"), "export type Old = 0;\n").unwrap();
        let mut found = stale(dir, &files);
        found.sort();
        assert_eq!(found, ["A.ts", "B.ts", "Old.ts (no longer generated)"]);

        rewrite(dir, &files);
        assert!(stale(dir, &files).is_empty());
        assert!(!dir.join("Old.ts").exists());
        assert!(dir.join("README.md").exists());
    }

    #[test]
    #[should_panic(expected = "Run: SILA_REGEN_TYPES=1 cargo test -p x")]
    fn a_stale_folder_fails_the_test_and_says_how_to_rewrite_it() {
        let folder = Folder::new("panics");
        rewrite(&folder.0, &[file("A.ts", "old")]);
        assert_none_stale(&folder.0, &[file("A.ts", "new")], "cargo test -p x");
    }
}
