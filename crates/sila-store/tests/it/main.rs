//! Integration tests of the branch store, against real SQLCipher files in temporary folders.
//! One test binary for the crate (matklad's "Delete Cargo Integration Tests"); modules by subject.

mod backup;
mod compact;
mod contacts;
mod corrections;
mod drafts;
mod export_formats;
mod file_numbers;
mod import;
mod intake;
mod lifecycle;
mod migrations;
mod outbox;
mod search;
mod security;
mod tallies;
mod tasks;

use chrono::{DateTime, TimeZone, Utc};
use sila_domain::beneficiary::{Beneficiary, PersonName};
use sila_domain::ids::BeneficiaryId;
use sila_domain::national_id::NationalId;
use sila_domain::phone::Mobile;
use sila_store::{InitOptions, KdfParams, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub const PASSWORD: &str = "kalimat-sirr-1";

/// A clock the test moves by hand.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> TestClock {
        TestClock(Arc::new(AtomicI64::new(t.timestamp())))
    }
    pub fn advance_days(&self, days: i64) {
        self.0.fetch_add(days * 86_400, Ordering::SeqCst);
    }
    pub fn clock(&self) -> sila_store::Clock {
        let c = self.0.clone();
        Arc::new(move || Utc.timestamp_opt(c.load(Ordering::SeqCst), 0).unwrap())
    }
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap()
}

/// A fresh store in a temp folder, signed in as its administrator. Argon2 is cheap here so the
/// suite stays fast; production parameters are tested in `security`.
pub fn new_store() -> (tempfile::TempDir, Store, TestClock) {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(start());
    let store = Store::init(
        dir.path(),
        "الأفلاج",
        "admin",
        "مدير الفرع",
        PASSWORD,
        InitOptions {
            kdf: KdfParams {
                m_cost_kib: 1024,
                t_cost: 1,
                p_cost: 1,
            },
            clock: clock.clock(),
            ..Default::default()
        },
    )
    .unwrap();
    (dir, store, clock)
}

pub fn person(full: &str, id: Option<&str>, mobile: Option<&str>) -> Beneficiary {
    let mut b = Beneficiary::new(BeneficiaryId::new_v7(), PersonName::from_full(full));
    b.national_id = id.map(|i| NationalId::parse(i).unwrap());
    b.mobile = mobile.map(|m| Mobile::parse(m).unwrap());
    b
}

/// A valid national ID made from nine digits.
pub fn valid_id(first9: &str) -> String {
    format!(
        "{first9}{}",
        sila_domain::national_id::checksum_digit(first9).unwrap()
    )
}

pub fn outbox_ops(store: &Store) -> Vec<String> {
    sila_store::outbox::pending(store.conn(), 0, 100_000)
        .unwrap()
        .into_iter()
        .map(|o| o.op)
        .collect()
}

/// Take a store back to before the migration `name`, for a test of what it does to an older
/// store: that migration and the later ones forgotten, and what the later ones added that cannot
/// be added twice taken away (the caller undoes what `name` itself did).
pub fn rewind_to_before(store: &Store, name: &str) {
    let position = |name: &str| {
        sila_store::migrate::MIGRATIONS
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap()
    };
    let before = position(name);
    // SQLite's ADD COLUMN has no IF NOT EXISTS.
    if before < position("0013_file_numbers") {
        store
            .conn()
            .execute_batch(
                "DROP INDEX beneficiaries_file_number;
                 ALTER TABLE beneficiaries DROP COLUMN file_number;",
            )
            .unwrap();
    }
    store
        .conn()
        .execute_batch(&format!(
            "DELETE FROM schema_migrations WHERE version > {before};
             PRAGMA user_version = {before};"
        ))
        .unwrap();
}
