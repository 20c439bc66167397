//! A new laptop joins its branch (issue 10.4) with HQ's address and a one-time code only: it is
//! enrolled before it has a store, HQ's answer names the branch, and the store is made for that
//! branch, so nobody has to type the branch's name exactly as HQ spells it.

use crate::harness::*;
use sila_domain::ids::DeviceId;
use sila_store::{InitOptions, Store};
use sila_sync::FirstAccount;

const BRANCH: &str = "الأفلاج";

fn init() -> InitOptions {
    InitOptions {
        kdf: fast_kdf(),
        ..Default::default()
    }
}

fn noura(password: &str) -> FirstAccount<'_> {
    FirstAccount {
        username: "noura",
        display_name: "نورة العتيبي",
        password,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_laptop_joins_its_branch_with_a_code_and_takes_the_whole_branch() {
    let hq = Hq::start().await;
    let mut reception = Branch::laptop(&hq, BRANCH, "reception").await;
    reception.demo(20, 41);
    reception.sync_until_quiet(&opts()).await;
    let code = hq.code(BRANCH);
    let dir = tempfile::tempdir().unwrap();
    let device = DeviceId::new_v7();

    // A short password is said before the code is spent: nothing on disk, the code still good.
    let e = sila_sync::join(
        dir.path(),
        &hq.url,
        &code,
        device,
        noura("short"),
        init(),
        &opts(),
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(e.code(), "invalid_input");
    assert!(!Store::exists(dir.path()));
    // A wrong code leaves nothing either.
    let e = sila_sync::join(
        dir.path(),
        &hq.url,
        "AAAA-BBBB-CCCC",
        device,
        noura(PASSWORD),
        init(),
        &opts(),
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(e.code(), "code_invalid");
    assert!(!Store::exists(dir.path()));

    // The code as a person may type it (small letters, a trailing slash on the address).
    let store = sila_sync::join(
        dir.path(),
        &format!("{}/", hq.url),
        &code.to_lowercase(),
        device,
        noura(PASSWORD),
        init(),
        &opts(),
    )
    .await
    .unwrap();
    assert_eq!(store.session().branch, BRANCH);
    assert_eq!(store.session().device, device);
    assert_eq!(store.enrolment().unwrap().unwrap().hq_url, hq.url);
    assert!(store.needs_redownload().unwrap());
    // The same device asking again with the same code before it synced (its answer was lost)
    // gets the same credential.
    let again = tempfile::tempdir().unwrap();
    let repeat = sila_sync::join(
        again.path(),
        &hq.url,
        &code,
        device,
        noura(PASSWORD),
        init(),
        &opts(),
    )
    .await
    .unwrap();
    assert_eq!(
        repeat.enrolment().unwrap().unwrap().token,
        store.enrolment().unwrap().unwrap().token
    );
    drop(repeat);
    let mut joined = Branch {
        store,
        dir,
        name: BRANCH.into(),
    };
    let r = joined.sync_until_quiet(&opts()).await;
    assert!(r.redownloaded);
    assert_hq_holds(&hq, &joined);
    let people: i64 = joined
        .store
        .conn()
        .query_row("SELECT count(*) FROM beneficiaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(people, 20);
    // The branch's other accounts came too; only this laptop's own first account opens it here.
    let staff: Vec<String> = joined
        .store
        .staff()
        .unwrap()
        .into_iter()
        .map(|a| a.username)
        .collect();
    assert!(staff.contains(&"reception".to_owned()), "{staff:?}");
    assert!(Store::open(joined.dir.path(), "reception", PASSWORD).is_err());

    // Once the laptop has synced with its credential, the code is spent: it yields nothing, to
    // this device too, and any other device finds it used.
    let spent = tempfile::tempdir().unwrap();
    let e = sila_sync::join(
        spent.path(),
        &hq.url,
        &code,
        device,
        noura(PASSWORD),
        init(),
        &opts(),
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(e.code(), "code_used");
    assert!(!Store::exists(spent.path()));
    let other = tempfile::tempdir().unwrap();
    let e = sila_sync::join(
        other.path(),
        &hq.url,
        &code,
        DeviceId::new_v7(),
        noura(PASSWORD),
        init(),
        &opts(),
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(e.code(), "code_used");
    assert!(!Store::exists(other.path()));

    // A store made for one branch still cannot be bound to another's code.
    let mut marwan = Branch::new("مروان");
    let e = sila_sync::enroll(&mut marwan.store, &hq.url, &hq.code(BRANCH), &opts())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "branch_mismatch");
}
