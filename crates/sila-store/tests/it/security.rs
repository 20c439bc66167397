//! Encryption at rest, sign-in, accounts and roles.

use super::*;
use sila_domain::staff::Role;
use sila_store::StoreError;

#[test]
fn the_store_file_holds_no_readable_personal_data() {
    let (dir, mut store, _) = new_store();
    let id = valid_id("109876543");
    store
        .create_beneficiary(&person(
            "نورة فهد سالم العتيبي",
            Some(&id),
            Some("0551234567"),
        ))
        .unwrap();
    drop(store);
    let mut bytes = std::fs::read(dir.path().join(sila_store::DB_FILE)).unwrap();
    for f in ["branch.sila-wal"] {
        if let Ok(more) = std::fs::read(dir.path().join(f)) {
            bytes.extend(more);
        }
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!contains("العتيبي".as_bytes()));
    assert!(!contains(id.as_bytes()));
    assert!(!contains(b"551234567"));
    assert!(
        !contains(b"SQLite format 3"),
        "an encrypted file has no plain SQLite header"
    );
    let keyring = std::fs::read_to_string(dir.path().join("keyring.json")).unwrap();
    assert!(!keyring.contains("العتيبي"));
}

#[test]
fn a_wrong_password_opens_nothing_and_says_so() {
    let (dir, store, _) = new_store();
    drop(store);
    let e = Store::open(dir.path(), "admin", "not-the-password")
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::WrongPassword));
    assert_eq!(e.code(), "wrong_password");
    assert_eq!(e.arabic_message(), "اسم المستخدم أو كلمة المرور غير صحيحة.");
    let e = Store::open(dir.path(), "nobody", PASSWORD).err().unwrap();
    assert!(matches!(e, StoreError::WrongPassword));
    assert!(
        Store::open(dir.path(), " ADMIN ", PASSWORD).is_ok(),
        "user names ignore case and spaces"
    );
}

#[test]
fn every_staff_member_opens_the_store_with_their_own_password_until_disabled() {
    let (dir, mut store, _) = new_store();
    store
        .add_staff("sara", "سارة", &[Role::Researcher], "researcher-pass")
        .unwrap();
    drop(store);
    let mut sara = Store::open(dir.path(), "sara", "researcher-pass").unwrap();
    assert_eq!(sara.session().actor.roles, vec![Role::Researcher]);
    // A researcher cannot manage accounts.
    assert!(matches!(
        sara.add_staff("x", "x", &[Role::Admin], "12345678"),
        Err(StoreError::NotPermitted)
    ));
    drop(sara);

    let mut admin = Store::open(dir.path(), "admin", PASSWORD).unwrap();
    admin.set_password("sara", "new-password-2").unwrap();
    drop(admin);
    assert!(Store::open(dir.path(), "sara", "researcher-pass").is_err());
    assert!(Store::open(dir.path(), "sara", "new-password-2").is_ok());

    let mut admin = Store::open(dir.path(), "admin", PASSWORD).unwrap();
    admin.set_staff_active("sara", false, None).unwrap();
    assert!(
        admin.set_staff_active("admin", false, None).is_err(),
        "no one disables themselves"
    );
    drop(admin);
    assert!(matches!(
        Store::open(dir.path(), "sara", "new-password-2"),
        Err(StoreError::WrongPassword)
    ));
}

#[test]
fn init_refuses_weak_input_and_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let e = Store::init(
        dir.path(),
        " ",
        "admin",
        "x",
        "short",
        InitOptions::default(),
    )
    .err()
    .unwrap();
    match e {
        StoreError::Invalid(fields) => {
            let codes: Vec<_> = fields.iter().map(|f| f.code.as_str()).collect();
            assert_eq!(codes, ["required", "password_too_short"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !dir.path().join(sila_store::DB_FILE).exists(),
        "nothing half-made"
    );
    let (dir, store, _) = new_store();
    drop(store);
    assert!(matches!(
        Store::init(
            dir.path(),
            "الأفلاج",
            "a",
            "a",
            PASSWORD,
            InitOptions::default()
        ),
        Err(StoreError::AlreadyInitialised)
    ));
}

#[test]
fn saves_are_durable_wal_with_full_sync() {
    let (_dir, store, _) = new_store();
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = store
        .conn()
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn opening_a_file_is_audited_with_ids_only() {
    let (_dir, mut store, _) = new_store();
    let b = person("خالد سعد الدوسري", None, None);
    store.create_beneficiary(&b).unwrap();
    store.open_beneficiary(b.id).unwrap();
    let (action, entity_id): (String, String) = store
        .conn()
        .query_row(
            "SELECT action, entity_id FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(action, "beneficiary.open");
    assert_eq!(entity_id, b.id.to_string());
}

#[test]
fn errors_never_carry_personal_data() {
    let (_dir, mut store, _) = new_store();
    let id = valid_id("112233445");
    store
        .create_beneficiary(&person("هند ناصر القحطاني", Some(&id), Some("0559876543")))
        .unwrap();
    let e = store
        .create_beneficiary(&person("هند ناصر القحطاني", Some(&id), None))
        .unwrap_err();
    for text in [format!("{e}"), format!("{e:?}"), e.arabic_message()] {
        assert!(!text.contains(&id) && !text.contains("القحطاني"), "{text}");
    }
}
