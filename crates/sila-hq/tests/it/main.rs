//! sila-hq's integration tests: the HQ console's storage against a real store (an SQLite file in
//! a temp folder, or with `SILA_TEST_DB=postgres` a fresh database on a throw-away PostgreSQL
//! cluster), and its HTTP layer on a real server on port 0. Time is passed in.

mod console;
mod hardening;
mod pool;
mod register;
mod releases;
mod seed;
mod support;

/// HQ links no branch code: not the branch store (its SQLCipher build, its rules for a laptop),
/// not the sync client, not an HTTP client. It speaks to devices through sila-proto and writes
/// exports through sila-export. Read from the manifest, so a new dependency fails here.
#[test]
fn hq_links_neither_the_branch_store_nor_the_sync_client_nor_an_http_client() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let start = manifest
        .find("\n[dependencies]\n")
        .expect("a [dependencies] table");
    let deps = &manifest[start + 1..];
    let deps = &deps[..deps[1..].find("\n[").map_or(deps.len(), |i| i + 1)];
    let names: Vec<&str> = deps
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| l.split(['.', ' ', '=']).next().unwrap())
        .collect();
    assert!(names.contains(&"sila-proto"), "{names:?}");
    for branch_only in ["sila-store", "sila-sync", "reqwest"] {
        assert!(
            !names.contains(&branch_only),
            "sila-hq depends on {branch_only}"
        );
    }
}
