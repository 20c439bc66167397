//! Several `sila-hq` servers on one database: devices push to two servers at once while a third
//! server answers a puller, over many seeds, and every device of every branch converges with
//! nothing skipped. The feed is numbered per branch under the branch's row, so an entry one server
//! commits late can never carry a number below a cursor another server already handed out (the
//! puller below would then miss it for good, and its store would not hold what HQ holds).
//!
//! Runs on the run's engine (`SILA_TEST_DB`): on SQLite the servers share one file (one writer at
//! a time), on PostgreSQL one database (row locks).

use crate::harness::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

async fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let first = Hq::start().await;
    let second = Hq::start_on(first.db.clone()).await;
    let third = Hq::start_on(first.db.clone()).await;
    let names = ["الأفلاج", "مروان"];
    let mut devices = Vec::new();
    for (i, name) in names.iter().enumerate() {
        devices.push(Branch::enrolled(&first, name, &first.url).await);
        for k in 0..2 {
            devices.push(Branch::laptop(&first, name, &format!("user{i}{k}")).await);
        }
    }
    // One laptop per branch only pulls, from the third server, while the others push.
    let mut pullers: Vec<Branch> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let p = Branch::laptop(&third, name, &format!("reader{i}")).await;
        point_at(&p, &third.url);
        pullers.push(p);
    }
    for d in &mut devices {
        d.demo(
            rng.random_range(2..6),
            seed * 100 + rng.random_range(0..100),
        );
        let url = if rng.random_bool(0.5) {
            &first.url
        } else {
            &second.url
        };
        point_at(d, url);
    }
    let mut o = opts();
    o.push_batch = rng.random_range(2..10);
    o.pull_page = rng.random_range(1..5);
    // Everyone at once: pushes to two servers, pulls from the third (on this task: a branch
    // store's connection stays on its thread).
    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    let local = tokio::task::LocalSet::new();
    let (mut devices, mut pullers) = local
        .run_until(async {
            let mut tasks = Vec::new();
            for mut d in devices {
                let o = o.clone();
                tasks.push(tokio::task::spawn_local(async move {
                    d.sync_until_quiet(&o).await;
                    d
                }));
            }
            let mut readers = Vec::new();
            for mut p in pullers {
                let o = o.clone();
                let stop = stop.clone();
                readers.push(tokio::task::spawn_local(async move {
                    while !stop.get() {
                        let _ = p.sync_with(&o).await;
                        tokio::task::yield_now().await;
                    }
                    p
                }));
            }
            let mut devices = Vec::new();
            for t in tasks {
                devices.push(t.await.unwrap());
            }
            stop.set(true);
            let mut pullers = Vec::new();
            for r in readers {
                pullers.push(r.await.unwrap());
            }
            (devices, pullers)
        })
        .await;
    // Then each device once more (what the others pushed after its last pull), and the readers
    // from where their cursors stand: an entry skipped behind a cursor would never come.
    for d in devices.iter_mut().chain(pullers.iter_mut()) {
        d.sync_until_quiet(&o).await;
    }
    for d in devices.iter().chain(pullers.iter()) {
        assert_hq_holds(&first, d);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_push_to_two_servers_while_a_third_serves_a_puller_and_nothing_is_skipped() {
    for seed in 0..6 {
        run(seed).await;
    }
}
