//! The branch, not the laptop (issue 10): several laptops of one branch through a real HQ. Every
//! laptop holds the whole branch; what one does reaches the others; a laptop enrolled later, or
//! restored from a copy, comes up with everything and loses nothing.

use crate::harness::*;
use chrono::Utc;
use sila_domain::case::{CaseState, Transition};
use sila_hq::store::{HqActor, HqStore};
use sila_store::Store;
use std::sync::{Arc, Mutex};

const BRANCH: &str = "الأفلاج";

fn committee() -> HqActor {
    HqActor {
        staff_id: sila_domain::ids::StaffId::new_v7(),
        display_name: "لجنة البحث".into(),
    }
}

fn count(b: &Branch, sql: &str) -> i64 {
    b.store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn first(b: &Branch, sql: &str) -> String {
    b.store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

async fn quiet(laptops: &mut [&mut Branch]) {
    // Twice round: what one laptop pushes in the first round reaches the others in the second.
    for _ in 0..2 {
        for l in laptops.iter_mut() {
            l.sync_until_quiet(&opts()).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_laptop_of_a_branch_holds_the_whole_branch_and_sees_the_others_work() {
    let hq = Hq::start().await;
    let mut reception = Branch::laptop(&hq, BRANCH, "reception").await;
    let mut research = Branch::laptop(&hq, BRANCH, "research").await;
    let mut other = Branch::enrolled(&hq, "مروان", &hq.url).await;
    reception.demo(25, 31);
    research.demo(15, 32);
    other.demo(10, 33);
    quiet(&mut [&mut reception, &mut research, &mut other]).await;
    for l in [&reception, &research] {
        assert_hq_holds(&hq, l);
        assert_eq!(count(l, "SELECT count(*) FROM beneficiaries"), 40);
    }
    // A person registered on the reception laptop is found on the researcher's.
    let name: String = first(
        &reception,
        "SELECT full_name FROM beneficiaries ORDER BY rid LIMIT 1",
    );
    let found = research.store.search(&name, 5).unwrap();
    assert!(!found.is_empty(), "found on the other laptop");
    // Nothing of another branch reaches them.
    assert_hq_holds(&hq, &other);
    assert_eq!(count(&other, "SELECT count(*) FROM beneficiaries"), 10);
    // Case numbers stay apart across the branch's laptops.
    let numbers = count(&research, "SELECT count(DISTINCT number) FROM cases");
    assert_eq!(numbers, count(&research, "SELECT count(*) FROM cases"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_laptops_editing_one_person_merge_by_field_and_keep_a_true_collision_for_a_person() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, BRANCH, "a").await;
    let mut b = Branch::laptop(&hq, BRANCH, "b").await;
    a.demo(3, 34);
    quiet(&mut [&mut a, &mut b]).await;
    let id: sila_domain::ids::BeneficiaryId =
        first(&a, "SELECT id FROM beneficiaries ORDER BY rid LIMIT 1")
            .parse()
            .unwrap();
    // Both offline: A corrects the district, B the centre (different fields).
    let sa = a.store.beneficiary(id).unwrap().unwrap();
    let mut ea = sa.beneficiary.clone();
    ea.district = "حي النخيل".into();
    a.store.update_beneficiary(&ea, sa.version).unwrap();
    let sb = b.store.beneficiary(id).unwrap().unwrap();
    let mut eb = sb.beneficiary.clone();
    eb.centre = "مركز مروان".into();
    b.store.update_beneficiary(&eb, sb.version).unwrap();
    quiet(&mut [&mut a, &mut b]).await;
    for l in [&a, &b] {
        let got = l.store.beneficiary(id).unwrap().unwrap().beneficiary;
        assert_eq!(
            (got.district.as_str(), got.centre.as_str()),
            ("حي النخيل", "مركز مروان")
        );
    }
    assert!(hq.store.conflicts(true).unwrap().is_empty());
    // Both offline again: both change the city (the same field) to different values.
    let sa = a.store.beneficiary(id).unwrap().unwrap();
    let mut ea = sa.beneficiary.clone();
    ea.city = "الأفلاج".into();
    a.store.update_beneficiary(&ea, sa.version).unwrap();
    let sb = b.store.beneficiary(id).unwrap().unwrap();
    let mut eb = sb.beneficiary.clone();
    eb.city = "ليلى".into();
    b.store.update_beneficiary(&eb, sb.version).unwrap();
    a.sync_until_quiet(&opts()).await;
    let r = b.sync_until_quiet(&opts()).await;
    assert_eq!(r.conflicts, 1, "the second edit collides with the first");
    quiet(&mut [&mut a, &mut b]).await;
    // Never a silent overwrite: both values are kept, shown at HQ and on both laptops.
    let open = hq.store.conflicts(true).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].field, "city");
    for l in [&a, &b] {
        let c = l.store.open_conflicts(10).unwrap();
        assert_eq!(c.len(), 1, "shown on every laptop");
        assert_eq!(c[0].current, serde_json::json!("الأفلاج"));
        assert_eq!(c[0].proposed, serde_json::json!("ليلى"));
    }
    // A person at HQ takes the second value: it reaches both laptops, the conflict closes.
    hq.store
        .resolve_conflict(
            open[0].id,
            sila_hq::store::Resolution::TakeBranch,
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    quiet(&mut [&mut a, &mut b]).await;
    for l in [&a, &b] {
        assert_eq!(
            l.store.beneficiary(id).unwrap().unwrap().beneficiary.city,
            "ليلى"
        );
        assert!(l.store.open_conflicts(10).unwrap().is_empty());
        assert_hq_holds(&hq, l);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_moved_from_two_laptops_keeps_one_legal_history() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, BRANCH, "a").await;
    let mut b = Branch::laptop(&hq, BRANCH, "b").await;
    a.demo(30, 35);
    quiet(&mut [&mut a, &mut b]).await;
    let case: sila_domain::ids::CaseId =
        first(&a, "SELECT id FROM cases WHERE state = 'submitted' LIMIT 1")
            .parse()
            .unwrap();
    // Offline, A refers it to the researcher while B sends it to the committee.
    a.store
        .transition(case, Transition::ReferToResearch, "الإجراءات غير واضحة")
        .unwrap();
    b.store
        .transition(case, Transition::SendToCommittee, "")
        .unwrap();
    a.sync_until_quiet(&opts()).await;
    let r = b.sync_until_quiet(&opts()).await;
    assert_eq!(r.rejected, 1);
    let refused = b.store.refused_ops(5).unwrap();
    assert_eq!(refused[0].reason.as_deref(), Some("wrong_state"));
    quiet(&mut [&mut a, &mut b]).await;
    for l in [&a, &b] {
        let c = l.store.case(case).unwrap().unwrap().case;
        assert_eq!(c.state, CaseState::InResearch);
        assert_hq_holds(&hq, l);
    }
    // B's history keeps its refused step, marked as refused; the legal history is the same.
    let refusals = count(&b, "SELECT count(*) FROM case_event_refusals");
    assert_eq!(refusals, 1);
    let history = a.store.case_history(case).unwrap();
    assert_eq!(
        history.last().unwrap().transition,
        Transition::ReferToResearch
    );
    sila_domain::case::replay(&history).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_reaches_the_researchers_laptop_and_a_decision_every_laptop() {
    let hq = Hq::start().await;
    let mut reception = Branch::laptop(&hq, BRANCH, "reception").await;
    let mut research = Branch::laptop(&hq, BRANCH, "fieldadmin").await;
    research
        .store
        .add_staff(
            "huda",
            "هدى الباحثة",
            &[sila_domain::staff::Role::Researcher],
            PASSWORD,
        )
        .unwrap();
    reception.demo(30, 36);
    quiet(&mut [&mut reception, &mut research]).await;
    let case: sila_domain::ids::CaseId = first(
        &reception,
        "SELECT id FROM cases WHERE state = 'submitted' LIMIT 1",
    )
    .parse()
    .unwrap();
    reception
        .store
        .transition(case, Transition::ReferToResearch, "يحتاج زيارة منزلية")
        .unwrap();
    quiet(&mut [&mut reception, &mut research]).await;
    // The researcher signs in on her own laptop: the case and her task are there.
    let dir = research.dir.path().to_owned();
    drop(std::mem::replace(
        &mut research.store,
        Store::open(&dir, "huda", PASSWORD).unwrap(),
    ));
    let c = research.store.case(case).unwrap().unwrap().case;
    assert_eq!(c.state, CaseState::InResearch);
    let tasks = research.store.my_tasks(50).unwrap();
    assert!(
        tasks.iter().any(|t| t.case_id == Some(case)),
        "the research task is on the researcher's laptop"
    );
    // A committee decision at HQ reaches both laptops, with one "tell the beneficiary" task for
    // the branch (the same task, whichever laptop made it).
    let waiting = first(
        &reception,
        "SELECT id FROM cases WHERE state = 'in_committee' LIMIT 1",
    );
    hq.store
        .decide(&waiting, Transition::Approve, "", &committee(), Utc::now())
        .unwrap();
    let dir = research.dir.path().to_owned();
    drop(std::mem::replace(
        &mut research.store,
        Store::open(&dir, "fieldadmin", PASSWORD).unwrap(),
    ));
    quiet(&mut [&mut reception, &mut research]).await;
    let id: sila_domain::ids::CaseId = waiting.parse().unwrap();
    for l in [&reception, &research] {
        assert_eq!(
            l.store.case(id).unwrap().unwrap().case.state,
            CaseState::Approved
        );
        assert_hq_holds(&hq, l);
    }
    let announce: i64 = hq
        .read()
        .query_row(
            "SELECT count(*) FROM records WHERE entity = 'task' AND json_extract(data, '$.key') LIKE 'announce_decision:' || ?1 || ':%'",
            [&waiting],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(announce, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptop_enrolled_later_gets_everything_and_a_revoked_one_nothing() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, BRANCH, "a").await;
    a.demo(60, 37);
    hq.store
        .publish_document(
            "دليل البحث الاجتماعي",
            "نص الدليل",
            None,
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    a.sync_until_quiet(&opts()).await;
    let mut late = Branch::laptop(&hq, BRANCH, "late").await;
    let seen: Arc<Mutex<Vec<(String, i64, i64)>>> = Arc::default();
    let mut o = opts();
    o.pull_page = 25;
    let s2 = seen.clone();
    o.progress = Some(Arc::new(move |r: &sila_store::sync::Redownload| {
        s2.lock()
            .unwrap()
            .push((r.phase.clone(), r.done, r.total()));
    }));
    let r = late.sync_with(&o).await.unwrap();
    assert!(r.redownloaded);
    assert_hq_holds(&hq, &late);
    assert_eq!(count(&late, "SELECT count(*) FROM kb_documents"), 1);
    let seen = seen.lock().unwrap().clone();
    // Progress moved forward page by page, people first, to the whole branch.
    assert!(seen.len() > 3);
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1));
    let (_, done, total) = seen.last().unwrap();
    assert_eq!(done, total);
    let first_phase_with_people = seen.iter().position(|(p, _, _)| p == "open_cases");
    let first_closed = seen.iter().position(|(p, _, _)| p == "closed_cases");
    assert!(first_phase_with_people <= first_closed);
    // The old laptop, revoked at HQ, can no longer pull anything.
    hq.store
        .revoke_device(&a.device(), &sila_hq::HqActor::command_line(), Utc::now())
        .unwrap();
    let e = a.sync().await.unwrap_err();
    assert_eq!(e.code(), "device_revoked");
    let token = a.store.enrolment().unwrap().unwrap().token;
    let pull = http()
        .get(format!("{}/v1/snapshot/plan", hq.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(pull.status(), 403);
}

/// Copy a store's folder (the database and its keyring), as a backup on a USB stick would.
fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_restored_from_an_old_copy_loses_nothing_and_doubles_nothing() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, BRANCH, "a").await;
    a.demo(10, 38);
    a.sync_until_quiet(&opts()).await;
    // Offline: a copy of the store is taken.
    let dir = a.dir.path().to_owned();
    let backup = tempfile::tempdir().unwrap();
    a.store.checkpoint_for_copy().unwrap();
    copy_store(&dir, backup.path());
    // Work, and sync it.
    a.demo(5, 39);
    a.sync_until_quiet(&opts()).await;
    let at_hq_before: i64 = hq
        .read()
        .query_row("SELECT count(*) FROM beneficiaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(at_hq_before, 15);
    // The laptop is restored from the copy: the last work is gone from it, and more is done.
    drop(std::mem::replace(
        &mut a.store,
        Store::open(backup.path(), "a", PASSWORD).unwrap(),
    ));
    for f in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    drop(std::mem::replace(&mut a.store, {
        copy_store(backup.path(), &dir);
        Store::open(&dir, "a", PASSWORD).unwrap()
    }));
    assert_eq!(count(&a, "SELECT count(*) FROM beneficiaries"), 10);
    a.demo(4, 40);
    let unsent = a.pending();
    assert!(unsent > 0);
    let r = a.sync_until_quiet(&opts()).await;
    assert_eq!(r.rejected, 0);
    assert!(r.carried_over > 0 || r.redownloaded, "{r:?}");
    // HQ holds everything of both timelines, once; the laptop holds it all again.
    let at_hq: i64 = hq
        .read()
        .query_row("SELECT count(*) FROM beneficiaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(at_hq, 19);
    assert_eq!(count(&a, "SELECT count(*) FROM beneficiaries"), 19);
    assert_eq!(a.pending(), 0);
    // Later passes are plain: nothing alternates between success and failure.
    for _ in 0..3 {
        let r = a.sync().await.unwrap();
        assert_eq!((r.pushed, r.rejected, r.pending), (0, 0, 0));
    }
    // Every operation the laptop made in either timeline is at HQ exactly once.
    let ops: i64 = hq
        .read()
        .query_row(
            "SELECT count(DISTINCT op_id) FROM applied_ops WHERE device_id = ?1",
            [a.device()],
            |r| r.get(0),
        )
        .unwrap();
    let local_now: i64 = count(&a, "SELECT count(*) FROM outbox");
    assert!(ops >= local_now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_restored_after_more_work_was_synced_comes_back_with_everything() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, BRANCH, "a").await;
    let mut b = Branch::laptop(&hq, BRANCH, "b").await;
    a.demo(10, 41);
    a.sync_until_quiet(&opts()).await;
    // A backup to a USB stick, then more work on this laptop (synced) and on the other one.
    let stick = tempfile::tempdir().unwrap();
    let file = stick.path().join("afl.sila-backup");
    a.store.backup(&file).unwrap();
    a.demo(6, 42);
    a.sync_until_quiet(&opts()).await;
    b.demo(3, 43);
    b.sync_until_quiet(&opts()).await;
    // The laptop dies; its backup comes back on a new one, which is used before it syncs.
    let new_dir = tempfile::tempdir().unwrap();
    let restored = Store::restore(&file, new_dir.path(), "a", PASSWORD).unwrap();
    drop(std::mem::replace(&mut a.store, restored));
    a.dir = new_dir;
    assert_eq!(count(&a, "SELECT count(*) FROM beneficiaries"), 10);
    a.demo(2, 44);
    let r = a.sync_until_quiet(&opts()).await;
    assert_eq!(r.rejected, 0);
    quiet(&mut [&mut a, &mut b]).await;
    // Everything of the branch: the backup's, what was synced after it, the other laptop's, and
    // what was done after the restore; once each at HQ.
    assert_eq!(count(&a, "SELECT count(*) FROM beneficiaries"), 21);
    let at_hq: i64 = hq
        .read()
        .query_row("SELECT count(*) FROM beneficiaries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(at_hq, 21);
    assert_hq_holds(&hq, &b);
    // The restored laptop numbered its new cases apart from everything printed before.
    let numbers = count(&a, "SELECT count(DISTINCT number) FROM cases");
    assert_eq!(numbers, count(&a, "SELECT count(*) FROM cases"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_made_at_the_branch_and_its_undo_reach_hq_and_the_other_laptops() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, BRANCH, "a").await;
    let mut b = Branch::laptop(&hq, BRANCH, "b").await;
    a.demo(4, 45);
    quiet(&mut [&mut a, &mut b]).await;
    let ids: Vec<String> = {
        let mut s = a
            .store
            .conn()
            .prepare("SELECT id FROM beneficiaries ORDER BY rid LIMIT 2")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let (survivor, merged) = (ids[0].parse().unwrap(), ids[1].parse().unwrap());
    let other = a.store.beneficiary(merged).unwrap().unwrap().beneficiary;
    let mut chosen = serde_json::Map::new();
    chosen.insert("district".into(), serde_json::json!(other.district));
    let merge_id = a
        .store
        .merge_beneficiaries(survivor, merged, &chosen)
        .unwrap();
    quiet(&mut [&mut a, &mut b]).await;
    let at = |l: &Branch| l.store.beneficiary(merged).unwrap().unwrap().merged_into;
    assert_eq!(
        at(&b).as_deref(),
        Some(ids[0].as_str()),
        "the other laptop has the merge"
    );
    assert_eq!(
        b.store
            .beneficiary(survivor)
            .unwrap()
            .unwrap()
            .beneficiary
            .district,
        other.district
    );
    for l in [&a, &b] {
        assert_hq_holds(&hq, l);
    }
    a.store.unmerge_beneficiaries(&merge_id).unwrap();
    quiet(&mut [&mut a, &mut b]).await;
    assert_eq!(at(&b), None, "and its undo");
    for l in [&a, &b] {
        assert_hq_holds(&hq, l);
    }
}
