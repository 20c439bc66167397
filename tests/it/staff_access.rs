//! Staff accounts across the devices of one branch (issue 9): a person disabled on one device
//! loses the wrapped store key on every other device of the branch at its next sync, through the
//! real client and a real HQ.

use crate::harness::*;
use sila_domain::staff::Role;
use sila_store::keyring::Keyring;
use sila_store::{Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_account_loses_its_key_on_every_device_of_the_branch() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let mut b = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.store
        .add_staff("amal", "أمل", &[Role::Researcher], "amal-on-a-123")
        .unwrap();
    a.sync().await.unwrap();
    // The account reaches the other laptop; its administrator lets her sign in there too.
    b.sync().await.unwrap();
    b.store.set_password("amal", "amal-on-b-123").unwrap();
    assert!(Store::open(b.dir.path(), "amal", "amal-on-b-123").is_ok());

    // Amal leaves: an administrator disables her on the first laptop.
    a.store.set_staff_active("amal", false, None).unwrap();
    a.sync().await.unwrap();
    assert!(!Keyring::load(a.dir.path()).unwrap().has("amal"));
    // The second laptop's next sync takes her key away: her password opens nothing there, not
    // even the database file outside the app.
    b.sync().await.unwrap();
    let ring = Keyring::load(b.dir.path()).unwrap();
    assert!(
        !ring.has("amal"),
        "the disabled account's key is still on the other device"
    );
    assert!(matches!(
        ring.unwrap("amal", "amal-on-b-123"),
        Err(StoreError::WrongPassword)
    ));
    assert!(matches!(
        Store::open(b.dir.path(), "amal", "amal-on-b-123"),
        Err(StoreError::WrongPassword)
    ));
    // Everyone else still signs in there.
    assert!(ring.has(USER));
    assert!(Store::open(b.dir.path(), USER, PASSWORD).is_ok());
}
