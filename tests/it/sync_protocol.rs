//! The sync guarantees of design.md, one by one, with no faults on the wire.

use crate::harness::*;
use chrono::Utc;
use serde_json::json;
use sila_domain::case::{CaseState, Transition};
use sila_hq::store::{HqActor, HqStore, Resolution};
use sila_store::cases::CaseFilter;
use sila_sync::SyncError;
use sila_sync::proto::{self, OpResult, PushRequest, PushResponse};

fn committee() -> HqActor {
    HqActor {
        staff_id: sila_domain::ids::StaffId::new_v7(),
        display_name: "لجنة البحث".into(),
    }
}

fn cases_in(b: &Branch, state: CaseState) -> Vec<String> {
    b.store
        .cases(&CaseFilter {
            state: Some(state),
            limit: 1000,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_branches_push_and_hq_holds_exactly_what_each_holds() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let mut b = Branch::enrolled(&hq, "مروان", &hq.url).await;
    a.demo(60, 1);
    b.demo(45, 2);
    let pending_a = a.pending() as usize;
    let ra = a.sync().await.unwrap();
    let rb = b.sync().await.unwrap();
    assert_eq!(ra.pushed, pending_a);
    assert_eq!(
        (ra.rejected, ra.pending, rb.rejected, rb.pending),
        (0, 0, 0, 0)
    );
    assert_hq_holds(&hq, &a);
    assert_hq_holds(&hq, &b);
    let stats = hq.store.stats().unwrap();
    let sa = a.store.stats().unwrap();
    let sb = b.store.stats().unwrap();
    assert_eq!(stats.beneficiaries, sa.beneficiaries + sb.beneficiaries);
    assert_eq!(stats.cases, sa.cases + sb.cases);
    let by_name: std::collections::BTreeMap<_, _> = stats
        .branches
        .iter()
        .map(|s| (s.name.as_str(), s.cases))
        .collect();
    assert_eq!(by_name["الأفلاج"], sa.cases);
    assert_eq!(by_name["مروان"], sb.cases);
    // A second pass sends nothing again.
    let again = a.sync().await.unwrap();
    assert_eq!((again.pushed, again.pending), (0, 0));
    let status = sila_sync::status(&a.store).unwrap();
    assert!(status.enrolled && status.last_sync_at.is_some() && status.last_error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_one_time_expiring_retryable_and_kept_encrypted() {
    let hq = Hq::start().await;
    let mut a = Branch::new("الأفلاج");
    let code = hq.code("الأفلاج");
    sila_sync::enroll(&mut a.store, &hq.url, &code, &opts())
        .await
        .unwrap();
    let first = a.store.enrolment().unwrap().unwrap().token;
    // The answer was lost: the same device repeats with the same code and gets the same credential.
    sila_sync::enroll(&mut a.store, &hq.url, &code, &opts())
        .await
        .unwrap();
    assert_eq!(a.store.enrolment().unwrap().unwrap().token, first);
    a.sync().await.unwrap();

    // Another device cannot use it.
    let mut other = Branch::new("الأفلاج");
    let e = sila_sync::enroll(&mut other.store, &hq.url, &code, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "code_used");
    // Expired, unknown, other branch.
    let old = hq
        .store
        .create_enrol_code(
            "الأفلاج",
            chrono::Duration::hours(-1),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    let e = sila_sync::enroll(&mut other.store, &hq.url, &old, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "code_expired");
    let e = sila_sync::enroll(&mut other.store, &hq.url, "AAAA-BBBB-CCCC", &opts())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "code_invalid");
    let marwan = hq.code("مروان");
    let e = sila_sync::enroll(&mut other.store, &hq.url, &marwan, &opts())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "branch_mismatch");
    assert!(!sila_sync::arabic_message("branch_mismatch").is_empty());
    // The credential lives inside the encrypted store: not in any file in clear.
    drop(a.store);
    for entry in std::fs::read_dir(a.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(first.len()).any(|w| w == first.as_bytes()),
            "credential found in clear"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_authenticated_and_a_revoked_device_keeps_its_data() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let http = http();
    for auth in [None, Some("Bearer sila1_00")] {
        let mut rq = http.get(format!("{}/v1/pull?after=0&own=0", hq.url));
        if let Some(v) = auth {
            rq = rq.header("authorization", v);
        }
        assert_eq!(rq.send().await.unwrap().status(), 401);
    }
    // A device that speaks an older protocol is told to update, not misunderstood.
    let token = a.store.enrolment().unwrap().unwrap().token;
    let old = reqwest::Client::new()
        .get(format!("{}/v1/pull?after=0", hq.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 426);
    let body: serde_json::Value = old.json().await.unwrap();
    assert_eq!(body["code"], "update_required");
    assert!(sila_sync::arabic_message("update_required").contains("حدّث"));
    let r = http
        .get(format!("{}/healthz", hq.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    a.sync().await.unwrap();
    a.demo(10, 3);
    let pending = a.pending();
    assert!(pending > 0);
    hq.store
        .revoke_device(&a.device(), &sila_hq::HqActor::command_line(), Utc::now())
        .unwrap();
    let e = a.sync().await.unwrap_err();
    assert!(matches!(e, SyncError::Revoked), "{e:?}");
    assert_eq!(e.code(), "device_revoked");
    assert!(e.arabic_message().contains("أُوقف"));
    assert_eq!(a.pending(), pending, "unsent data is kept");
    let st = sila_sync::status(&a.store).unwrap();
    assert_eq!(st.pending, pending);
    assert_eq!(st.last_error.unwrap().code, "device_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_are_skipped_refusals_never_block_and_branches_write_only_their_own() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(5, 4);
    a.sync().await.unwrap();
    let a_beneficiary: String = a
        .store
        .conn()
        .query_row("SELECT id FROM beneficiaries LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let dev = RawDevice::enroll(&hq, "مروان").await;
    let device = dev.device.clone();
    let own = person("سارة محمد علي القحطاني");
    let own_id = own["id"].as_str().unwrap().to_owned();
    let note = |id: &str| {
        json!({"id": id, "beneficiary_id": own_id, "channel": "phone", "direction": "inbound",
               "purpose": "inquiry", "summary": "x", "staff": uuid::Uuid::now_v7(), "at": Utc::now()})
    };
    let i1 = uuid::Uuid::now_v7().to_string();
    let i2 = uuid::Uuid::now_v7().to_string();
    let req = PushRequest {
        protocol: proto::PROTOCOL,
        device_id: device.clone(),
        ops: vec![
            op(1, "beneficiary.create", "beneficiary", &own_id, own.clone()),
            op(2, "interaction.add", "interaction", &i1, note(&i1)),
            op(3, "no.such.op", "x", "x", json!({})),
            op(
                4,
                "beneficiary.update",
                "beneficiary",
                &a_beneficiary,
                json!({"fields": {"district": "حي آخر"}}),
            ),
            op(5, "interaction.add", "interaction", &i2, note(&i2)),
        ],
    };
    let r: PushResponse = dev.push(req.ops.clone()).await.json().await.unwrap();
    assert_eq!(r.acked_through, 5);
    let results: Vec<_> = r
        .results
        .iter()
        .map(|o| (o.seq, o.result, o.reason.clone(), o.repeat))
        .collect();
    // Plain successes are implied for what the stream carried; refusals are listed with reasons.
    assert_eq!(
        results,
        vec![
            (3, OpResult::Rejected, Some("unknown_op".into()), false),
            (4, OpResult::Rejected, Some("other_branch".into()), false),
        ]
    );
    // The same batch again: nothing applied twice, the same answers, marked as repeats.
    let again: PushResponse = dev.push(req.ops.clone()).await.json().await.unwrap();
    assert_eq!(again.acked_through, 5);
    assert_eq!(again.results.len(), 5);
    assert!(again.results.iter().all(|o| o.repeat));
    assert_eq!(
        again.results.iter().map(|o| o.result).collect::<Vec<_>>(),
        vec![
            OpResult::Applied,
            OpResult::Applied,
            OpResult::Rejected,
            OpResult::Rejected,
            OpResult::Applied
        ]
    );
    let n: i64 = hq
        .read()
        .query_row(
            "SELECT count(*) FROM records WHERE entity = 'interaction' AND device_id = ?1",
            [&device],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
    // Another op under a number HQ has seen is refused as a reused number, never taken for a
    // repeat and never recorded.
    let reused = vec![op(2, "interaction.add", "interaction", "zz", json!({}))];
    let r: PushResponse = dev.push(reused).await.json().await.unwrap();
    assert_eq!(r.results[0].reason.as_deref(), Some("seq_reused"));
    // A device pushes only as itself.
    let mut other = req.clone();
    other.device_id = a.device();
    let body = proto::PushEncoder::new(proto::PUSH_LEVEL)
        .unwrap()
        .frame(&other)
        .unwrap();
    assert_eq!(dev.push_body(body).await.status(), 403);
    // A's data was not touched by the refused edit.
    assert_hq_holds(&hq, &a);
}

/// A valid beneficiary record, as a device would send it.
pub fn person(name: &str) -> serde_json::Value {
    let b = sila_domain::beneficiary::Beneficiary::new(
        sila_domain::ids::BeneficiaryId::new_v7(),
        sila_domain::beneficiary::PersonName::from_full(name),
    );
    serde_json::to_value(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_decisions_reach_the_branch_and_are_never_overwritten() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(120, 5);
    a.sync().await.unwrap();
    let waiting = cases_in(&a, CaseState::InCommittee);
    assert!(
        waiting.len() >= 2,
        "demo data has cases before the committee"
    );
    let (x, y) = (&waiting[0], &waiting[1]);
    let e = hq
        .store
        .decide(x, Transition::Approve, "", &committee(), Utc::now())
        .unwrap();
    assert_eq!(e.to, CaseState::Approved);
    hq.store
        .decide(
            y,
            Transition::Reject,
            "الدخل يتجاوز الحد",
            &committee(),
            Utc::now(),
        )
        .unwrap();
    // Before hearing of it, the branch withdraws x.
    let xid = x.parse().unwrap();
    a.store
        .transition(xid, Transition::Withdraw, "طلب المستفيد")
        .unwrap();
    let r = a.sync().await.unwrap();
    assert_eq!(
        r.rejected, 1,
        "the withdrawal after HQ's decision is refused"
    );
    let refused = a.store.refused_ops(10).unwrap();
    assert_eq!(refused[0].reason.as_deref(), Some("decision_is_hq"));
    // HQ's decision stands at both ends; the history shows it; a task says to tell the beneficiary.
    let local = a.store.case(xid).unwrap().unwrap();
    assert_eq!(local.case.state, CaseState::Approved);
    assert!(local.case.decision.is_some());
    let history = a.store.case_history(xid).unwrap();
    assert_eq!(history.last().unwrap().transition, Transition::Approve);
    let yid = y.parse().unwrap();
    assert_eq!(
        a.store.case(yid).unwrap().unwrap().case.state,
        CaseState::Rejected
    );
    let announce: i64 = a
        .store
        .conn()
        .query_row(
            "SELECT count(*) FROM tasks WHERE key LIKE 'announce_decision:' || ?1 || ':%' AND done_at IS NULL",
            [x],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(announce, 1);
    assert_eq!(hq_case_states(&hq, "الأفلاج")[x.as_str()], "approved");
    // The branch goes on from HQ's decision: registering the approved case is accepted.
    a.store.transition(xid, Transition::Register, "").unwrap();
    a.sync_until_quiet(&opts()).await;
    assert_eq!(hq_case_states(&hq, "الأفلاج")[x.as_str()], "registered");
    assert_hq_holds(&hq, &a);
    // Applying the branch again (a full re-download) changes nothing.
    a.store.forget_sync_protocol().unwrap();
    let before = a.store.case_history(xid).unwrap().len();
    a.sync().await.unwrap();
    assert_eq!(a.store.case_history(xid).unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_field_edited_at_hq_and_at_a_branch_is_kept_for_a_person() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(3, 6);
    a.sync().await.unwrap();
    let id: String = a
        .store
        .conn()
        .query_row(
            "SELECT id FROM beneficiaries ORDER BY rid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let bid = id.parse().unwrap();
    // HQ corrects the district; offline, the branch edits it too (and the centre, which HQ left alone).
    let mut fields = serde_json::Map::new();
    fields.insert("district".into(), json!("حي المقر"));
    hq.store.edit_beneficiary(&id, &fields, Utc::now()).unwrap();
    let sb = a.store.beneficiary(bid).unwrap().unwrap();
    let mut edited = sb.beneficiary.clone();
    edited.district = "حي الفرع".into();
    edited.centre = "مركز جديد".into();
    a.store.update_beneficiary(&edited, sb.version).unwrap();
    let r = a.sync().await.unwrap();
    assert_eq!(r.conflicts, 1);
    let open = hq.store.conflicts(true).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].field, "district");
    assert_eq!(open[0].hq_value, json!("حي المقر"));
    assert_eq!(open[0].branch_value, json!("حي الفرع"));
    // Neither value is lost: both are in the conflicts queue, HQ's stands (at HQ and, once
    // pulled, at the branch) until a person decides; the centre (no collision) went through.
    let hq_data: serde_json::Value = serde_json::from_str(
        &hq.read()
            .query_row("SELECT data FROM beneficiaries WHERE id = ?1", [&id], |r| {
                r.get::<_, String>(0)
            })
            .unwrap(),
    )
    .unwrap();
    assert_eq!(hq_data["district"], json!("حي المقر"));
    assert_eq!(hq_data["centre"], json!("مركز جديد"));
    assert_eq!(
        a.store
            .beneficiary(bid)
            .unwrap()
            .unwrap()
            .beneficiary
            .district,
        "حي المقر"
    );
    assert_eq!(a.store.refused_ops(5).unwrap()[0].result, "conflict");
    // A later edit made after seeing HQ's write is no conflict.
    a.sync().await.unwrap();
    let sb = a.store.beneficiary(bid).unwrap().unwrap();
    let mut later = sb.beneficiary.clone();
    later.city = "الأفلاج".into();
    a.store.update_beneficiary(&later, sb.version).unwrap();
    assert_eq!(a.sync().await.unwrap().conflicts, 0);
    // A person takes the branch's value; it reaches both ends.
    hq.store
        .resolve_conflict(
            open[0].id,
            Resolution::TakeBranch,
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    a.sync_until_quiet(&opts()).await;
    assert!(hq.store.conflicts(true).unwrap().is_empty());
    assert_eq!(
        a.store
            .beneficiary(bid)
            .unwrap()
            .unwrap()
            .beneficiary
            .district,
        "حي الفرع"
    );
    assert_hq_holds(&hq, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_boundaries_exact_multiples_and_empty_pages() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(20, 7);
    // Make the outbox a multiple of 4 (one operation per logged contact).
    let someone = a
        .store
        .conn()
        .query_row("SELECT id FROM beneficiaries LIMIT 1", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
        .parse()
        .unwrap();
    while a.pending() % 4 != 0 {
        a.store
            .log_interaction(
                someone,
                None,
                sila_domain::catalog::Channel::Phone,
                sila_domain::interaction::Direction::Inbound,
                sila_domain::catalog::Purpose::Inquiry,
                "استفسار",
                "",
                None,
            )
            .unwrap();
    }
    let pending = a.pending() as usize;
    // A batch size that divides the outbox exactly (the last page is full, the next one empty).
    let batch = (2..=pending / 2)
        .rev()
        .find(|b| pending.is_multiple_of(*b))
        .expect("a divisor");
    let mut o = opts();
    o.push_batch = batch;
    assert_eq!(pending % batch, 0);
    o.pull_page = 4;
    let r = a.sync_with(&o).await.unwrap();
    assert_eq!((r.pushed, r.pending), (pending, 0));
    // Exactly two pages of feed, then an empty page.
    for i in 0..8 {
        hq.store
            .publish_document(
                &format!("دليل {i}"),
                "نص",
                None,
                &sila_hq::HqActor::command_line(),
                Utc::now(),
            )
            .unwrap();
    }
    let r = a.sync_with(&o).await.unwrap();
    assert_eq!(r.pulled, 8);
    let docs: i64 = a
        .store
        .conn()
        .query_row("SELECT count(*) FROM kb_documents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(docs, 8);
    let r = a.sync_with(&o).await.unwrap();
    assert_eq!((r.pushed, r.pulled), (0, 0));
    // Another branch.
    let mut b = Branch::enrolled(&hq, "مروان", &hq.url).await;
    b.demo(30, 8);
    b.sync().await.unwrap();
    let case = cases_in(&b, CaseState::InCommittee)[0].clone();
    hq.store
        .decide(&case, Transition::Approve, "", &committee(), Utc::now())
        .unwrap();
    // Another branch's entries are in its own feed: this branch reads nothing of them.
    let before = a.store.pull_cursor().unwrap();
    let r = a.sync_with(&o).await.unwrap();
    assert_eq!(r.pulled, 0);
    assert_eq!(a.store.pull_cursor().unwrap(), before);
    assert_hq_holds(&hq, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_clocks_two_days_wrong_lose_and_misorder_nothing() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let mut b = Branch::enrolled(&hq, "مروان", &hq.url).await;
    a.store.set_clock(std::sync::Arc::new(|| {
        Utc::now() + chrono::Duration::days(2)
    }));
    b.store.set_clock(std::sync::Arc::new(|| {
        Utc::now() - chrono::Duration::days(2)
    }));
    a.demo(30, 9);
    b.demo(30, 10);
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    // HQ decides in its own time; the branches' clocks change nothing.
    for br in [&mut a, &mut b] {
        let c = cases_in(br, CaseState::InCommittee)[0].clone();
        hq.store
            .decide(&c, Transition::Approve, "", &committee(), Utc::now())
            .unwrap();
        let id = c.parse().unwrap();
        br.sync().await.unwrap();
        assert_eq!(
            br.store.case(id).unwrap().unwrap().case.state,
            CaseState::Approved
        );
        br.store.transition(id, Transition::Register, "").unwrap();
        br.sync_until_quiet(&opts()).await;
        assert_hq_holds(&hq, br);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_mismatch_or_an_hq_order_brings_a_full_redownload() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(40, 11);
    a.sync().await.unwrap();
    // The branch's copy drifts (a restored backup, a bug): a case's state differs from HQ's.
    let (id, state): (String, String) = a
        .store
        .conn()
        .query_row(
            "SELECT id, state FROM cases WHERE state = 'in_committee' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    a.store
        .conn()
        .execute("UPDATE cases SET state = 'draft' WHERE id = ?1", [&id])
        .unwrap();
    let r = a.sync().await.unwrap();
    assert!(r.redownloaded);
    let now: String = a
        .store
        .conn()
        .query_row("SELECT state FROM cases WHERE id = ?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(now, state);
    assert!(!a.sync().await.unwrap().redownloaded, "agreement: no loop");
    // HQ may order one too.
    hq.store.order_resync(&a.device()).unwrap();
    assert!(a.sync().await.unwrap().redownloaded);
    assert!(!a.sync().await.unwrap().redownloaded);
    assert_hq_holds(&hq, &a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_and_staff_accounts_reach_the_branch() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let mut b = Branch::enrolled(&hq, "مروان", &hq.url).await;
    a.demo(3, 12);
    b.demo(3, 13);
    a.store
        .add_staff(
            "researcher1",
            "باحثة",
            &[sila_domain::staff::Role::Researcher],
            PASSWORD,
        )
        .unwrap();
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    let first = |br: &Branch| -> String {
        br.store
            .conn()
            .query_row(
                "SELECT id FROM beneficiaries ORDER BY rid LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let (merged, survivor) = (first(&a), first(&b));
    hq.store
        .merge_duplicates(
            &survivor,
            &merged,
            &Default::default(),
            &committee(),
            Utc::now(),
        )
        .unwrap();
    a.sync().await.unwrap();
    let sb = a
        .store
        .beneficiary(merged.parse().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(sb.merged_into.as_deref(), Some(survivor.as_str()));
    // The survivor, registered at another branch, can be opened here.
    let opened = a.store.open_beneficiary(merged.parse().unwrap()).unwrap();
    assert_eq!(opened.beneficiary.id.to_string(), survivor);
    a.sync_until_quiet(&opts()).await;
    assert_hq_holds(&hq, &a);

    // A second device of the branch receives the branch's staff accounts.
    let mut a2 = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a2.sync().await.unwrap();
    let names: Vec<String> = a2
        .store
        .staff()
        .unwrap()
        .into_iter()
        .map(|s| s.username)
        .collect();
    assert!(names.contains(&"researcher1".to_owned()), "{names:?}");
}
