//! Sync under faults: a proxy that cuts, repeats and delays; the HQ server killed after a commit
//! and before its answer; the client process killed at each commit and acknowledgement point;
//! attachments that are large, cut or broken.

use crate::harness::*;
use crate::proxy::{FaultPlan, Proxy};
use chrono::Utc;
use sila_domain::case::{CaseState, Transition};
use sila_hq::store::{HqActor, HqStore};
use sila_store::cases::CaseFilter;

fn first_in(b: &Branch, state: CaseState) -> Option<String> {
    b.store
        .cases(&CaseFilter {
            state: Some(state),
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .next()
        .map(|c| c.id)
}

fn committee() -> HqActor {
    HqActor {
        staff_id: sila_domain::ids::StaffId::new_v7(),
        display_name: "لجنة البحث".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_through_cuts_repeats_and_delays() {
    let hq = Hq::start().await;
    let proxy = Proxy::start(hq.addr, 42).await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &proxy.url).await;
    a.demo(80, 14);
    let mut o = opts();
    o.push_batch = 25;
    o.pull_page = 3;
    proxy.set_plan(FaultPlan {
        drop_request: 0.2,
        drop_answer: 0.25,
        repeat: 0.25,
        delay: 0.3,
        max_delay_ms: 30,
        offline: false,
        ..FaultPlan::none()
    });
    // Decisions wait at HQ while the link misbehaves.
    let mut failures = 0;
    let mut decided = 0;
    for _ in 0..200 {
        match a.sync_with(&o).await {
            Ok(r) if r.pending == 0 => {
                if decided < 5 {
                    // Once HQ has the cases, decide some: they must come down through the same faults.
                    let hq_states = hq_case_states(&hq, "الأفلاج");
                    if let Some((id, _)) = hq_states.iter().find(|(_, s)| *s == "in_committee") {
                        hq.store
                            .decide(id, Transition::Approve, "", &committee(), Utc::now())
                            .unwrap();
                        decided += 1;
                        continue;
                    }
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_transient(), "{e:?}");
                failures += 1;
            }
        }
    }
    let c = proxy.counts();
    assert!(failures > 0, "the faults did bite");
    assert!(c.dropped_requests > 0 && c.dropped_answers > 0 && c.repeats > 0 && c.delayed > 0);
    proxy.set_plan(FaultPlan::none());
    a.sync_until_quiet(&o).await;
    assert_hq_holds(&hq, &a);
    let local: std::collections::BTreeMap<String, String> = {
        let mut s = a
            .store
            .conn()
            .prepare("SELECT id, state FROM cases")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(local, hq_case_states(&hq, "الأفلاج"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_then_back_loses_nothing_and_reports_network() {
    let hq = Hq::start().await;
    let proxy = Proxy::start(hq.addr, 1).await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &proxy.url).await;
    a.demo(10, 15);
    proxy.set_plan(FaultPlan {
        offline: true,
        ..FaultPlan::none()
    });
    let e = a.sync().await.unwrap_err();
    assert_eq!(e.code(), "network");
    let st = sila_sync::status(&a.store).unwrap();
    assert_eq!(st.last_error.as_ref().unwrap().code, "network");
    assert!(st.pending > 0);
    proxy.set_plan(FaultPlan::none());
    a.sync_until_quiet(&opts()).await;
    assert!(sila_sync::status(&a.store).unwrap().last_error.is_none());
    assert_hq_holds(&hq, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_after_commit_before_answer_then_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    let (mut server, addr) = spawn_hq_process(&db, Some("push_after_commit:1")).await;
    let proxy = Proxy::start(addr, 2).await;
    // Enrol through the process (codes come from the same database file).
    let code = {
        let s = sila_hq::Hq::open(&db).unwrap();
        s.create_enrol_code(
            "الأفلاج",
            chrono::Duration::hours(1),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap()
    };
    let mut a = Branch::new("الأفلاج");
    sila_sync::enroll(&mut a.store, &proxy.url, &code, &opts())
        .await
        .unwrap();
    a.demo(15, 16);
    let pending = a.pending();
    let e = a.sync().await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    let status = server.wait().await.unwrap();
    assert!(!status.success(), "the server died at the failpoint");
    assert_eq!(
        a.pending(),
        pending,
        "nothing acknowledged without an answer"
    );
    // HQ did commit the batch.
    let committed: i64 = read_db(&db, dir.path())
        .query_row("SELECT count(*) FROM applied_ops", [], |r| r.get(0))
        .unwrap();
    assert!(committed > 0);
    let (mut server, addr) = spawn_hq_process(&db, None).await;
    proxy.set_upstream(addr);
    let r = a.sync().await.unwrap();
    assert_eq!(r.pending, 0);
    let h = read_db(&db, dir.path());
    let (ops, distinct): (i64, i64) = h
        .query_row(
            "SELECT count(*), count(DISTINCT op_id) FROM applied_ops WHERE device_id = ?1",
            [a.device()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let local: i64 = a
        .store
        .conn()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        (ops, distinct),
        (local, local),
        "each operation exactly once"
    );
    let beneficiaries: i64 = h
        .query_row("SELECT count(*) FROM beneficiaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(beneficiaries, a.store.stats().unwrap().beneficiaries);
    server.start_kill().unwrap();
    let _ = server.wait().await;
}

/// Operations HQ (the store `db`) holds of a device: (rows, distinct op_ids).
fn held_ops(db: &str, device: &str) -> (i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    read_db(db, dir.path())
        .query_row(
            "SELECT count(*), count(DISTINCT op_id) FROM applied_ops WHERE device_id = ?1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// Graceful shutdown finishes the batch in hand: SIGTERM while a push stream is in flight, and
/// HQ commits every batch it has received in full, answers with them, reads no further and exits
/// 0. The client records the answer, sends the rest to the next server, and nothing is lost or
/// doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_push_answers_the_batches_in_hand_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    let (server, addr) = spawn_hq_process(&db, None).await;
    let proxy = Proxy::start(addr, 7).await;
    let code = sila_hq::Hq::open(&db)
        .unwrap()
        .create_enrol_code(
            "الأفلاج",
            chrono::Duration::hours(1),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    let mut a = Branch::new("الأفلاج");
    sila_sync::enroll(&mut a.store, &proxy.url, &code, &opts())
        .await
        .unwrap();
    a.demo(200, 18);
    let total = a.pending();
    let dev = a.device();
    // A slow uplink, so the push is still streaming when the signal comes.
    proxy.set_plan(FaultPlan {
        uplink_bytes_per_sec: Some(8 * 1024),
        ..FaultPlan::none()
    });
    let mut server = server;
    let (r, ()) = tokio::join!(a.sync(), async {
        eventually("a first batch committed at HQ", || {
            held_ops(&db, &dev).0 > 0
        })
        .await;
        sigterm(&server);
    });
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), server.wait())
        .await
        .expect("the server stops")
        .unwrap();
    assert!(status.success(), "sila-hq exited with {status:?}");
    let (held, distinct) = held_ops(&db, &dev);
    assert_eq!(held, distinct, "nothing applied twice");
    assert!(
        held > 0 && held < total,
        "stopped in the middle: {held} of {total}"
    );
    // The pass ends in a network error (its next stream finds no server), but HQ's answer for
    // the batches in hand came back and is recorded: exactly what HQ committed is acknowledged.
    let e = r.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
    assert_eq!(
        a.pending(),
        total - held,
        "acknowledged exactly what HQ committed"
    );

    let (server, addr) = spawn_hq_process(&db, None).await;
    proxy.set_upstream(addr);
    proxy.set_plan(FaultPlan::none());
    let r = a.sync_until_quiet(&opts()).await;
    assert_eq!(r.pending, 0);
    let (held, distinct) = held_ops(&db, &dev);
    let local: i64 = a
        .store
        .conn()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        (held, distinct),
        (local, local),
        "each operation exactly once"
    );
    // An idle server stops at once, and cleanly.
    sigterm(&server);
    let mut server = server;
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), server.wait())
        .await
        .expect("the server stops")
        .unwrap();
    assert!(status.success(), "sila-hq exited with {status:?}");
}

/// The library's own graceful stop (`serve`'s shutdown future, as the desktop tests and the
/// benchmark run HQ): with a push in flight, `serve` returns Ok once the batches in hand are
/// committed and answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_gracefully_with_a_push_in_flight() {
    let mut hq = Hq::start().await;
    let proxy = Proxy::start(hq.addr, 9).await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &proxy.url).await;
    a.demo(200, 20);
    let total = a.pending();
    let dev = a.device();
    let db = hq.db.clone();
    proxy.set_plan(FaultPlan {
        uplink_bytes_per_sec: Some(8 * 1024),
        ..FaultPlan::none()
    });
    let (r, ()) = tokio::join!(a.sync(), async {
        eventually("a first batch committed at HQ", || {
            held_ops(&db, &dev).0 > 0
        })
        .await;
        hq.stop().await;
    });
    assert!(r.unwrap_err().is_transient());
    let (held, distinct) = held_ops(&db, &dev);
    assert_eq!(held, distinct);
    assert!(held > 0 && held < total, "{held} of {total}");
    assert_eq!(
        a.pending(),
        total - held,
        "acknowledged exactly what HQ committed"
    );
}

/// A push cut in the middle of its stream: the batches HQ received in full stay committed, and
/// the next pass asks HQ where it stands and sends only the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_cut_mid_stream_keeps_what_arrived_and_resumes_after_it() {
    let hq = Hq::start().await;
    let proxy = Proxy::start(hq.addr, 8).await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &proxy.url).await;
    a.demo(200, 19);
    let total = a.pending();
    let dev = a.device();
    proxy.set_plan(FaultPlan {
        uplink_bytes_per_sec: Some(16 * 1024),
        ..FaultPlan::none()
    });
    let (r, ()) = tokio::join!(a.sync(), async {
        eventually("a third of the push committed at HQ", || {
            held_ops(&hq.db, &dev).0 >= total / 3
        })
        .await;
        proxy.cut();
    });
    assert_eq!(r.unwrap_err().code(), "network");
    assert_eq!(a.pending(), total, "no answer, nothing acknowledged yet");
    let held = held_ops(&hq.db, &dev).0;
    assert!(held >= total / 3 && held < total, "{held} of {total}");
    proxy.set_plan(FaultPlan::none());
    let r = a.sync().await.unwrap();
    assert_eq!(r.pending, 0);
    assert!(
        (r.resent as i64) < held / 2,
        "resumed after what HQ held ({held}), not from the start: {} sent again",
        r.resent
    );
    assert_hq_holds(&hq, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_killed_at_each_commit_and_acknowledgement_point() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(30, 17);
    a.store.put_attachment(&png(200 * 1024, 1)).unwrap();
    let dir = a.dir.path().to_owned();
    let points = [
        "after_push_answer",
        "after_ack_commit",
        "after_pull_answer",
        "after_pull_commit",
        "after_chunk",
    ];
    for (i, point) in points.iter().enumerate() {
        // Something new to push, and a decision to pull, at every round.
        a.demo(3, 100 + i as u64);
        if let Some(c) = hq_case_states(&hq, "الأفلاج")
            .into_iter()
            .find(|(_, s)| s == "in_committee")
            .map(|(id, _)| id)
        {
            hq.store
                .decide(&c, Transition::Reject, "سبب", &committee(), Utc::now())
                .unwrap();
        }
        let out = tokio::process::Command::new(bin("client"))
            .arg(&dir)
            .env("SILA_USER", USER)
            .env("SILA_PASSWORD", PASSWORD)
            .env("SILA_SYNC_FAILPOINT", format!("{point}:1"))
            .output()
            .await
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: the client should have died there"
        );
    }
    // A clean run after all the crashes: everything through, once.
    let out = tokio::process::Command::new(bin("client"))
        .arg(&dir)
        .env("SILA_USER", USER)
        .env("SILA_PASSWORD", PASSWORD)
        .env_remove("SILA_SYNC_FAILPOINT")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("pushed").is_some() && report.get("conflicts").is_some());
    a.sync_until_quiet(&opts()).await;
    assert_hq_holds(&hq, &a);
    let complete: i64 = hq
        .read()
        .query_row(
            "SELECT count(*) FROM attachments WHERE complete = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let local: i64 = a
        .store
        .conn()
        .query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(complete, local);
}

/// A PNG-looking file of `size` bytes (the store checks the magic number, not the picture).
pub fn png(size: usize, seed: u8) -> Vec<u8> {
    let mut v = sila_store::demo::PNG_1X1.to_vec();
    let mut x = seed as u32 | 1;
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.push(x as u8);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_resume_verify_and_never_hold_up_records() {
    let hq = Hq::start().await;
    let proxy = Proxy::start(hq.addr, 3).await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &proxy.url).await;
    let big = png(700 * 1024, 2);
    let broken = png(90 * 1024, 3);
    let big_sha = a.store.put_attachment(&big).unwrap();
    let broken_sha = a.store.put_attachment(&broken).unwrap();
    // The broken file's bytes rot on disk after it was recorded: HQ's SHA-256 check refuses it.
    a.store
        .conn()
        .execute(
            "UPDATE attachments SET bytes = ?2 WHERE sha256 = ?1",
            rusqlite::params![broken_sha, png(90 * 1024, 4)],
        )
        .unwrap();
    a.demo(10, 18);
    let mut o = opts();
    o.chunk = 64 * 1024;
    // Records first: a pass whose file transfer is cut still delivers every record.
    proxy.set_plan(FaultPlan {
        drop_request: 0.25,
        drop_answer: 0.25,
        ..FaultPlan::none()
    });
    let mut records_done = false;
    for _ in 0..300 {
        match a.sync_with(&o).await {
            Ok(r) => {
                records_done |= r.pending == 0;
                let left: i64 = hq
                    .read()
                    .query_row(
                        "SELECT count(*) FROM attachments WHERE sha256 = ?1 AND complete = 1",
                        [&big_sha],
                        |r| r.get(0),
                    )
                    .unwrap();
                if left == 1 && a.store.attachments_to_upload().unwrap().len() <= 1 {
                    break;
                }
            }
            Err(e) => assert!(e.is_transient(), "{e:?}"),
        }
    }
    assert!(records_done);
    proxy.set_plan(FaultPlan::none());
    a.sync_until_quiet(&o).await;
    assert_hq_holds(&hq, &a);
    let h = hq.read();
    let (complete, bytes): (bool, Vec<u8>) = h
        .query_row(
            "SELECT complete, bytes FROM attachments WHERE sha256 = ?1",
            [&big_sha],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(complete);
    assert_eq!(bytes, big);
    let broken_done: bool = h
        .query_row(
            "SELECT complete FROM attachments WHERE sha256 = ?1",
            [&broken_sha],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!broken_done, "a file failing its SHA-256 is never accepted");
    let err: Option<String> = a
        .store
        .conn()
        .query_row(
            "SELECT last_error FROM attachment_uploads WHERE sha256 = ?1",
            [&broken_sha],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(err.as_deref(), Some("hash_mismatch"));

    // A knowledge-base file published at HQ comes down in chunks and is checked here too.
    let doc = png(150 * 1024, 5);
    hq.store
        .publish_document(
            "دليل البحث الاجتماعي",
            "",
            Some((&doc, "image/png")),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    a.sync_until_quiet(&o).await;
    let (title, got): (String, Vec<u8>) = a
        .store
        .conn()
        .query_row(
            "SELECT k.title, a.bytes FROM kb_documents k JOIN attachments a ON a.sha256 = k.attachment",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(title, "دليل البحث الاجتماعي");
    assert_eq!(got, doc);
    let _ = first_in(&a, CaseState::Draft);
}
