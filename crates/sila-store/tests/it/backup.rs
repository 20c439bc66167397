//! Backups to a file and restores from one: consistent, encrypted, opened by a staff password,
//! and nothing left half-done when a file or a password is wrong.

use crate::*;
use sila_store::{Store, StoreError};

#[test]
fn a_backup_is_encrypted_and_restores_whole_under_a_new_device_tag() {
    let (dir, mut store, _) = new_store();
    store.generate_demo(30, 7, &mut |_, _| {}).unwrap();
    let name = person("غادة عبدالعزيز فهد الحربي", None, Some("0551239876"));
    store.create_beneficiary(&name).unwrap();
    let before = store.stats().unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("sila.backup");
    let report = store.backup(&file).unwrap();
    assert_eq!(report.beneficiaries, before.beneficiaries);
    assert_eq!(report.pending_changes, before.pending_changes);
    // Never plaintext: no name, no phone, no SQLite header in the file.
    let bytes = std::fs::read(&file).unwrap();
    for needle in [
        "الحربي".as_bytes(),
        b"0551239876",
        b"+966551239876",
        b"SQLite format 3",
    ] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    // Work goes on after the backup; it is not in it.
    store
        .create_beneficiary(&person("سلمان ناصر علي الدوسري", None, None))
        .unwrap();
    let prefix = store.session().number_prefix.clone();
    drop(store);
    drop(dir);

    let target = tempfile::tempdir().unwrap();
    let restored = Store::restore(&file, target.path(), "admin", PASSWORD).unwrap();
    let after = restored.stats().unwrap();
    assert_eq!(after, before);
    assert_ne!(
        restored.session().number_prefix,
        prefix,
        "new cases get a new device tag"
    );
    assert_eq!(
        restored.session().number_prefix[..3],
        prefix[..3],
        "the branch code stays"
    );
    assert!(!restored.search("الحربي", 5).unwrap().is_empty());
}

#[test]
fn a_wrong_password_or_a_file_that_is_not_a_backup_restores_nothing() {
    let (_dir, store, _) = new_store();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("sila.backup");
    store.backup(&file).unwrap();
    let target = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::restore(&file, target.path(), "admin", "not-the-password"),
        Err(StoreError::WrongPassword)
    ));
    assert_eq!(
        std::fs::read_dir(target.path()).unwrap().count(),
        0,
        "no debris"
    );
    for junk in [
        b"not a backup at all".to_vec(),
        b"SILA-BACKUP-1\n{\"created_at\":\"x\"}\n".to_vec(),
        {
            // Cut short: the header promises more bytes than follow.
            let mut cut = std::fs::read(&file).unwrap();
            cut.truncate(cut.len() / 2);
            cut
        },
    ] {
        let bad = out.path().join("bad");
        std::fs::write(&bad, junk).unwrap();
        let Err(e) = Store::restore(&bad, target.path(), "admin", PASSWORD) else {
            panic!("a file that is not a backup was restored");
        };
        assert!(matches!(e, StoreError::NotABackup), "{e:?}");
        assert_eq!(e.code(), "not_a_backup");
        assert!(!e.arabic_message().is_empty());
        assert_eq!(std::fs::read_dir(target.path()).unwrap().count(), 0);
    }
    // A folder that already holds a store is never overwritten.
    let (busy, _other, _) = new_store();
    assert!(matches!(
        Store::restore(&file, busy.path(), "admin", PASSWORD),
        Err(StoreError::AlreadyInitialised)
    ));
}
