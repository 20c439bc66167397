//! Compacting the store: a smaller file with the same data and the same key, encrypted
//! throughout, swapped in whole; refused while another connection has the store open.

use super::*;
use sila_store::StoreError;
use sila_store::compact::COMPACTING_FILE;

fn file_size(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join(sila_store::DB_FILE))
        .unwrap()
        .len()
}

/// No file in the folder is a plaintext SQLite database, whole or in part.
fn nothing_in_plaintext(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(16).any(|w| w == b"SQLite format 3\0"),
                "{} holds a plaintext database",
                path.display()
            );
        }
    }
}

#[test]
fn compaction_gives_back_the_free_pages_and_keeps_everything_else() {
    let (dir, mut store, clock) = new_store();
    store.generate_demo(400, 5, &mut |_, _| {}).unwrap();
    // Pruned operations leave free pages behind, which SQLite keeps in the file.
    store
        .conn()
        .execute_batch("DELETE FROM outbox; DELETE FROM audit_events;")
        .unwrap();
    store.checkpoint().unwrap();
    let stats = store.stats().unwrap();
    let hits = store.search("محمد", 20).unwrap().len();
    let before = file_size(dir.path());
    let free: u64 = store
        .conn()
        .query_row(
            "SELECT freelist_count * page_size FROM pragma_freelist_count(), pragma_page_size()",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap() as u64;
    assert!(free > before / 4, "{free} of {before} bytes free");

    let mut calls = 0;
    let report = store.compact(&mut |_, _| calls += 1).unwrap();

    assert!(calls > 0, "progress is reported");
    assert_eq!(report.before_bytes, before);
    assert_eq!(report.after_bytes, file_size(dir.path()));
    assert!(
        report.after_bytes <= report.before_bytes - free,
        "{report:?}: the {free} free bytes are gone"
    );
    assert!(!dir.path().join(COMPACTING_FILE).exists());
    assert_eq!(store.stats().unwrap(), stats);
    assert_eq!(store.search("محمد", 20).unwrap().len(), hits);
    let (action, detail): (String, String) = store
        .conn()
        .query_row(
            "SELECT action, detail FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(action, "store.compact");
    assert!(detail.contains(&report.after_bytes.to_string()), "{detail}");
    drop(store);
    nothing_in_plaintext(dir.path());
    // The same password opens it: it is the same key, over the same data.
    let store = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    assert_eq!(store.stats().unwrap(), stats);
}

#[test]
fn compaction_waits_for_the_other_connections_to_close() {
    let (dir, mut store, _clock) = new_store();
    store.generate_demo(50, 2, &mut |_, _| {}).unwrap();
    let worker = store.another_connection().unwrap();
    // Compaction first moves the log into the file, which is no swap: start from there.
    store.checkpoint().unwrap();
    let before = file_size(dir.path());
    assert!(matches!(
        store.compact(&mut |_, _| {}),
        Err(StoreError::InUse)
    ));
    // Nothing was swapped, and both connections go on working on the same file.
    assert_eq!(file_size(dir.path()), before);
    assert!(!dir.path().join(COMPACTING_FILE).exists());
    store
        .create_beneficiary(&person("هند سعد", None, None))
        .unwrap();
    assert_eq!(
        worker.stats().unwrap().beneficiaries,
        store.stats().unwrap().beneficiaries
    );
    drop(worker);
    store.compact(&mut |_, _| {}).unwrap();
}

#[test]
fn only_an_administrator_compacts() {
    let (dir, mut store, clock) = new_store();
    store
        .add_staff(
            "rep",
            "مندوب",
            &[sila_domain::staff::Role::Representative],
            "rep-pass-1",
        )
        .unwrap();
    drop(store);
    let mut rep = Store::open_with(dir.path(), "rep", "rep-pass-1", clock.clock()).unwrap();
    assert!(matches!(
        rep.compact(&mut |_, _| {}),
        Err(StoreError::NotPermitted)
    ));
}
