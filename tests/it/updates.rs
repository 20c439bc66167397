//! Updates from HQ over the sync link (issue 13.2), against a real `sila-hq` and the real client:
//! a device naming its version learns of a newer release in the pull answer, fetches it in
//! chunks that resume after a cut where they stopped (the partial file kept, never a restart),
//! and refuses, deletes and reports a package that fails its check.

use crate::harness::{Branch, Hq, opts};
use crate::proxy::{FaultPlan, Proxy};
use sila_hq::store::HqStore;
use sila_sync::SyncOptions;
use sila_sync::proto::release::UpdateKey;
use sila_sync::update::{UpdateError, fetch_release, package_path};
use std::sync::{Arc, Mutex};

const KEY: &str = include_str!("../fixtures/update/test-key.pub");
const OTHER: &str = include_str!("../fixtures/update/other-key.pub");
/// `tauri signer sign`'s signature of [`package`] by the test key.
const SIG: &str = include_str!("../fixtures/update/release-300k.sig");
const CHUNK: usize = 16 * 1024;

fn package() -> Vec<u8> {
    (0..300_000u64).map(|i| ((i * 7919) % 251) as u8).collect()
}

/// Publish the fixture as 0.2.0 the way `sila-hq publish-release` does: the same database,
/// opened with the update key, beside the running server.
fn publish(hq: &Hq) {
    sila_hq::Hq::open(&hq.db)
        .unwrap()
        .with_update_key(UpdateKey::decode(KEY).unwrap())
        .publish_release(
            "0.2.0",
            &package(),
            SIG,
            &sila_hq::HqActor::command_line(),
            chrono::Utc::now(),
        )
        .unwrap();
}

fn as_version(v: &str) -> SyncOptions {
    SyncOptions {
        app_version: Some(v.into()),
        ..opts()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_download_cut_midway_resumes_where_it_stopped() {
    let hq = Hq::start().await;
    let proxy = Proxy::start(hq.addr, 13).await;
    let mut b = Branch::enrolled(&hq, "الأفلاج", &proxy.url).await;
    // Nothing published: nothing offered, and HQ learns the version this device runs.
    assert_eq!(
        b.sync_with(&as_version("0.1.0")).await.unwrap().release,
        None
    );
    publish(&hq);
    let release = b.sync_with(&as_version("0.1.0")).await.unwrap().release;
    let release = release.expect("the pull answer names the newer release");
    assert_eq!((release.version.as_str(), release.size), ("0.2.0", 300_000));
    assert_eq!(
        b.sync_with(&as_version("0.2.0")).await.unwrap().release,
        None,
        "a device that runs it is not offered it"
    );
    let devices = hq.store.devices().unwrap();
    assert_eq!(devices[0].app_version.as_deref(), Some("0.2.0"));

    let key = UpdateKey::decode(KEY).unwrap();
    let dir = b.dir.path().join("updates");
    let client = sila_sync::HqClient::new(
        &proxy.url,
        Some(b.store.enrolment().unwrap().unwrap().token),
        &opts(),
    )
    .unwrap();
    // The link goes down once a third has arrived.
    let seen = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut on_progress = {
        let (seen, proxy) = (seen.clone(), proxy.clone());
        move |done: u64, size: u64| {
            seen.lock().unwrap().push(done);
            if done >= size / 3 {
                proxy.set_plan(FaultPlan {
                    offline: true,
                    ..FaultPlan::none()
                });
                proxy.cut();
            }
        }
    };
    let cut = fetch_release(&client, &release, &dir, Some(&key), CHUNK, &mut on_progress).await;
    assert!(
        matches!(&cut, Err(UpdateError::Sync(e)) if e.is_transient()),
        "a cut link is a transient failure: {cut:?}"
    );
    let part = package_path(&dir, &release).unwrap().with_extension("part");
    let kept = std::fs::metadata(&part).unwrap().len();
    assert!((100_000..300_000).contains(&kept), "kept {kept} bytes");
    assert!(!package_path(&dir, &release).unwrap().exists());

    // Back online: the next try asks HQ for the rest only.
    proxy.set_plan(FaultPlan::none());
    let resumed = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut on_progress = {
        let resumed = resumed.clone();
        move |done: u64, _: u64| resumed.lock().unwrap().push(done)
    };
    let path = fetch_release(&client, &release, &dir, Some(&key), CHUNK, &mut on_progress)
        .await
        .unwrap();
    let resumed = resumed.lock().unwrap().clone();
    assert_eq!(
        resumed[0], kept,
        "the second try starts where the first stopped"
    );
    let requests = resumed.len() - 1;
    let rest = (300_000 - kept).div_ceil(CHUNK as u64) as usize;
    assert!(
        requests <= rest + 1,
        "{requests} chunks asked for {rest} chunks' worth"
    );
    assert_eq!(std::fs::read(&path).unwrap(), package());
    assert!(!part.exists());
    println!(
        "release of 300,000 bytes in {CHUNK}-byte chunks: cut after {kept} bytes, resumed with {requests} requests for the remaining {} bytes",
        300_000 - kept
    );
    // Asked again, the package already held is checked and kept: nothing is fetched.
    let mut count = 0;
    let mut on_progress = |_: u64, _: u64| count += 1;
    let again = fetch_release(&client, &release, &dir, Some(&key), CHUNK, &mut on_progress)
        .await
        .unwrap();
    assert_eq!((again, count), (path, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_release_is_refused_deleted_and_reported_to_hq() {
    let hq = Hq::start().await;
    let mut b = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    publish(&hq);
    let release = b
        .sync_with(&as_version("0.1.0"))
        .await
        .unwrap()
        .release
        .unwrap();
    let token = b.store.enrolment().unwrap().unwrap().token;
    let client = sila_sync::HqClient::new(&hq.url, Some(token), &opts()).unwrap();
    let dir = b.dir.path().join("updates");
    let key = UpdateKey::decode(KEY).unwrap();
    let mut quiet = |_: u64, _: u64| {};
    // Signed by another key than the one this app carries: refused, nothing kept.
    let other = UpdateKey::decode(OTHER).unwrap();
    let r = fetch_release(&client, &release, &dir, Some(&other), CHUNK, &mut quiet).await;
    assert!(
        matches!(&r, Err(UpdateError::Refused(e)) if e.code() == "update_bad_signature"),
        "{r:?}"
    );
    // The package changed on its way (here: in HQ's store, after it was published and checked).
    hq.store
        .execute(
            "UPDATE release_chunks SET bytes = ?1 WHERE n = 3",
            &[sila_hq::db::Val::from(vec![
                0u8;
                sila_sync::proto::DEFAULT_CHUNK
            ])],
        )
        .unwrap();
    let r = fetch_release(&client, &release, &dir, Some(&key), CHUNK, &mut quiet).await;
    assert!(
        matches!(&r, Err(UpdateError::Refused(e)) if e.code() == "update_bad_signature"),
        "{r:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "a refused package is deleted: {left:?}");
    let devices = hq.store.devices().unwrap();
    assert_eq!(devices[0].update_version.as_deref(), Some("0.2.0"));
    assert_eq!(
        devices[0].update_outcome.as_deref(),
        Some("update_bad_signature")
    );
    // An app built without an update key refuses every package.
    let r = fetch_release(&client, &release, &dir, None, CHUNK, &mut quiet).await;
    assert!(matches!(&r, Err(UpdateError::Refused(_))), "{r:?}");
}
