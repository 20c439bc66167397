//! HQ as an attacker holding a real branch device's credential would find it (issue 9): each test
//! sends, over HTTP to the real server, what a hostile or buggy device could, and checks that
//! HQ refuses it with a code, changes nothing of another branch, and keeps every read working.

use crate::harness::*;
use crate::sync_protocol::person;
use chrono::Utc;
use serde_json::{Value, json};
use sila_hq::store::HqStore;
use sila_sync::proto::{self, OpResult, PushResponse};

fn first(b: &Branch, sql: &str) -> String {
    b.store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn reasons(r: &PushResponse) -> Vec<(i64, Option<String>)> {
    r.results
        .iter()
        .filter(|o| o.result == OpResult::Rejected)
        .map(|o| (o.seq, o.reason.clone()))
        .collect()
}

/// What HQ holds of a branch, as one comparable value: records, case histories, feed, files.
fn branch_at_hq(hq: &Hq, branch: &str) -> Vec<String> {
    let h = hq.read();
    let mut out = Vec::new();
    for sql in [
        "SELECT id || data || version || coalesce(merged_into, '') FROM beneficiaries WHERE branch = ?1 ORDER BY id",
        "SELECT id || data || version || state FROM cases WHERE branch = ?1 ORDER BY id",
        "SELECT entity || id || data || version FROM records WHERE branch = ?1 ORDER BY entity, id",
        "SELECT e.case_id || e.data FROM case_events e JOIN cases c ON c.id = e.case_id WHERE c.branch = ?1 ORDER BY e.seq",
        "SELECT seq || kind || entity_id || origin FROM feed WHERE branch = ?1 ORDER BY seq",
        "SELECT sha256 || proven FROM attachment_owners WHERE branch = ?1 ORDER BY sha256",
    ] {
        let mut stmt = h.prepare(sql).unwrap();
        out.extend(
            stmt.query_map([branch], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap),
        );
    }
    out
}

async fn two_branches() -> (Hq, Branch, RawDevice) {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(30, 21);
    a.sync().await.unwrap();
    let b = RawDevice::enroll(&hq, "مروان").await;
    (hq, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_take_a_committee_decision_or_give_itself_the_committee_role() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    a.demo(40, 22);
    a.sync().await.unwrap();
    let case = first(
        &a,
        "SELECT id FROM cases WHERE state = 'in_committee' LIMIT 1",
    );
    let admin = a.store.session().actor.staff_id;
    // The branch's own device, with its own credential, sends a decision on its own case.
    let dev = RawDevice {
        device: a.device(),
        token: a.store.enrolment().unwrap().unwrap().token,
        url: hq.url.clone(),
    };
    let next = a.store.own_seq().unwrap() + 1;
    let event = |t: &str, to: &str| {
        json!({"event": {"case_id": case, "transition": t, "from": "in_committee", "to": to,
            "actor": admin, "actor_name": "عضو لجنة مزور", "at": Utc::now(),
            "device": a.device(), "branch": "الأفلاج", "note": "مقبول"},
            "state": to})
    };
    let staff_id = admin.to_string();
    // A case "born" approved, with its decision.
    let mut born: Value =
        serde_json::from_str(&first(&a, "SELECT data FROM cases LIMIT 1")).unwrap();
    let born_id = uuid::Uuid::now_v7().to_string();
    born["id"] = json!(born_id);
    born["state"] = json!("approved");
    let r: PushResponse = dev
        .push(vec![
            op(
                next,
                "case.transition",
                "case",
                &case,
                event("approve", "approved"),
            ),
            op(
                next + 1,
                "case.transition",
                "case",
                &case,
                event("reject", "rejected"),
            ),
            // A local account given the committee's role.
            op(
                next + 2,
                "staff.set_roles",
                "staff",
                &staff_id,
                json!({"roles": ["admin", "committee"]}),
            ),
            op(
                next + 3,
                "staff.create",
                "staff",
                &uuid::Uuid::now_v7().to_string(),
                json!({"id": uuid::Uuid::now_v7(), "username": "x", "display_name": "x",
                       "roles": ["hq_staff"], "branch": "الأفلاج", "active": true}),
            ),
            op(next + 4, "case.create", "case", &born_id, born),
        ])
        .await
        .json()
        .await
        .unwrap();
    let codes: Vec<_> = reasons(&r).into_iter().map(|(_, c)| c.unwrap()).collect();
    assert_eq!(
        codes,
        [
            "decision_is_hq",
            "decision_is_hq",
            "hq_role",
            "hq_role",
            "not_a_draft"
        ]
    );
    assert_eq!(hq_case_states(&hq, "الأفلاج")[case.as_str()], "in_committee");
    // Still in the committee's queue.
    let console: &dyn sila_hq::ConsoleStore = &*hq.store;
    let queue = console
        .committee_queue(&Default::default(), None, 200, Utc::now().date_naive())
        .unwrap();
    assert!(queue.rows.iter().any(|r| r.case_id == case));
    // The device goes on: its next operation meets numbers HQ holds under the forged ones, is
    // carried over under a new number, and arrives.
    let someone = first(&a, "SELECT id FROM beneficiaries LIMIT 1")
        .parse()
        .unwrap();
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
    let r = a.sync_until_quiet(&opts()).await;
    assert_eq!((r.pending, r.rejected), (0, 0));
    let at_hq: i64 = hq
        .read()
        .query_row(
            "SELECT count(*) FROM records WHERE entity = 'interaction' AND branch = 'الأفلاج'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let here: i64 = a
        .store
        .conn()
        .query_row("SELECT count(*) FROM interactions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(at_hq, here);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_records_are_refused_and_never_break_a_read() {
    let (hq, a, b) = two_branches().await;
    let mine = person("نورة سعد عبدالله العتيبي");
    let id = mine["id"].as_str().unwrap().to_owned();
    let mut number_mobile = mine.clone();
    number_mobile["mobile"] = json!(501234567);
    let mut bad_id = mine.clone();
    bad_id["national_id"] = json!("1234567890");
    let mut future = mine.clone();
    future["birth_date"] = json!("2999-01-01");
    let r: PushResponse = b
        .push(vec![
            op(1, "beneficiary.create", "beneficiary", &id, number_mobile),
            op(2, "beneficiary.create", "beneficiary", &id, bad_id),
            op(3, "beneficiary.create", "beneficiary", &id, future),
            op(4, "beneficiary.create", "beneficiary", &id, mine.clone()),
            // The mobile as a number, in an edit.
            op(
                5,
                "beneficiary.update",
                "beneficiary",
                &id,
                json!({"fields": {"mobile": 501234567}}),
            ),
            op(
                6,
                "beneficiary.update",
                "beneficiary",
                &id,
                json!({"fields": {"id": "other"}}),
            ),
            op(
                7,
                "beneficiary.update",
                "beneficiary",
                &id,
                json!({"fields": "x"}),
            ),
            op(8, "survey.add", "survey", &id, json!({"overall": 99})),
        ])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        reasons(&r),
        vec![
            (1, Some("invalid_record".into())),
            (2, Some("invalid_record".into())),
            (3, Some("invalid_record".into())),
            (5, Some("invalid_record".into())),
            (6, Some("fixed_field".into())),
            (7, Some("bad_payload".into())),
            (8, Some("invalid_record".into())),
        ]
    );
    // Reads stay whole for everyone: the duplicate review, a re-download of another branch.
    hq.store.duplicate_candidates(100).unwrap();
    let st = b.get("/v1/snapshot?phase=beneficiaries&after=0").await;
    assert_eq!(st.status(), 200);
    // A row that cannot be read (written by an older HQ, a disk error) is skipped by the
    // duplicate review, not fatal to it.
    hq.read()
        .execute(
            "UPDATE beneficiaries SET data = '{\"oops\": true}' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    hq.store.duplicate_candidates(100).unwrap();
    let st = b.get("/v1/snapshot?phase=beneficiaries&after=0").await;
    assert_eq!(st.status(), 200);
    let _ = a;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_by_reference_into_another_branch_are_refused() {
    let (hq, a, b) = two_branches().await;
    let before = branch_at_hq(&hq, "الأفلاج");
    let a_person = first(&a, "SELECT id FROM beneficiaries LIMIT 1");
    let a_case = first(&a, "SELECT id FROM cases LIMIT 1");
    let a_file = first(&a, "SELECT sha256 FROM attachments LIMIT 1");
    let staff = uuid::Uuid::now_v7();
    let n = || uuid::Uuid::now_v7().to_string();
    let (i, c, d, s, t) = (n(), n(), n(), n(), n());
    let case = json!({"id": c, "number": "MRW-XXX-000001", "beneficiary_id": a_person, "support_type": "food_basket",
        "channel": "interview", "state": "draft"});
    let r: PushResponse = b
        .push(vec![
            op(1, "interaction.add", "interaction", &i, json!({"id": i, "beneficiary_id": a_person,
                "case_id": a_case, "channel": "phone", "direction": "inbound", "purpose": "complaint",
                "summary": "x", "staff": staff, "at": Utc::now()})),
            op(2, "case.create", "case", &c, case),
            op(3, "delivery.add", "delivery", &d, json!({"id": d, "case_id": a_case, "kind": "food_basket",
                "delivered_on": "2026-11-01", "delivered_by": staff, "delivered_by_name": "x"})),
            op(4, "survey.add", "survey", &s, json!({"id": s, "case_id": a_case, "overall": 1, "speed": 1,
                "courtesy": 1, "clarity": 1, "anonymous": false, "channel": "phone", "answered_on": "2026-11-01"})),
            op(5, "task.create", "task", &t, json!({"id": t, "key": t, "kind": "follow_up",
                "beneficiary_id": a_person, "role": "representative", "due_on": "2026-12-01",
                "note": "x", "origin": {"by": "rule"}})),
            op(6, "case.update", "case", &a_case, json!({"fields": {"need": "x"}})),
            op(7, "task.done", "task", &t, json!({"done_at": Utc::now()})),
            // Declaring another branch's file gives the right to upload it, not to read it.
            op(8, "attachment.add", "attachment", &a_file, json!({"sha256": a_file, "mime": "image/png", "size": 69})),
        ])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        reasons(&r),
        vec![
            (1, Some("other_branch".into())),
            (2, Some("other_branch".into())),
            (3, Some("other_branch".into())),
            (4, Some("other_branch".into())),
            (5, Some("other_branch".into())),
            (6, Some("other_branch".into())),
            (7, Some("unknown_record".into())),
        ]
    );
    let got = b
        .get(&format!("/v1/attachments/{a_file}?offset=0&len=100"))
        .await;
    assert_eq!(got.status(), 404, "another branch's file is never served");
    let status: Value = b
        .get(&format!("/v1/attachments/{a_file}/status"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["complete"], json!(false));
    // Wrong bytes under its hash are refused and prove nothing.
    let put = http()
        .put(format!("{}/v1/attachments/{a_file}?offset=0", hq.url))
        .bearer_auth(&b.token)
        .body(vec![0u8; 69])
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 422);
    assert_eq!(
        b.get(&format!("/v1/attachments/{a_file}?offset=0&len=100"))
            .await
            .status(),
        404
    );
    assert_eq!(branch_at_hq(&hq, "الأفلاج"), before, "nothing of A changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_frame_cannot_cost_gigabytes_or_stall_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    let (mut child, addr) = spawn_hq_process(&db, None).await;
    let url = format!("http://{addr}");
    let code = {
        let s = sila_hq::Hq::open(&db).unwrap();
        s.create_enrol_code(
            "مروان",
            chrono::Duration::hours(1),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap()
    };
    let device = sila_domain::ids::DeviceId::new_v7().to_string();
    let enrolled: proto::EnrollResponse = http()
        .post(format!("{url}/v1/enroll"))
        .json(&proto::EnrollRequest {
            code,
            device_id: device.clone(),
            branch: "مروان".into(),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A frame of a few KB that expands to the most JSON a frame may hold: an operation whose
    // payload is millions of tiny values (a tree of values would take gigabytes).
    let zeros = "0,".repeat(7 * 1024 * 1024);
    let json = format!(
        "{{\"protocol\":{},\"device_id\":\"{device}\",\"ops\":[{{\"seq\":1,\"op_id\":\"{}\",\"op\":\"survey.add\",\
         \"entity\":\"survey\",\"entity_id\":\"x\",\"payload\":[{zeros}0],\"created_at\":\"2026-01-01T00:00:00Z\"}}]}}",
        proto::PROTOCOL,
        uuid::Uuid::now_v7()
    );
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    std::io::Write::write_all(&mut z, json.as_bytes()).unwrap();
    let body = z.finish().unwrap();
    assert!(body.len() < 8 * 1024, "{} bytes", body.len());
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let pid = child.id().unwrap();
    let peak = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap()
    };
    let push = |frame: Vec<u8>| {
        let (url, token) = (url.clone(), enrolled.token.clone());
        tokio::spawn(async move {
            http()
                .post(format!("{url}/v1/push"))
                .bearer_auth(token)
                .header("content-type", proto::PUSH_STREAM)
                .body(frame)
                .send()
                .await
                .unwrap()
        })
    };
    // Three at once, while the server keeps answering.
    let pushes: Vec<_> = (0..3).map(|_| push(frame.clone())).collect();
    let health = http().get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    for p in pushes {
        let r = p.await.unwrap();
        assert_eq!(r.status(), 200);
        let r: PushResponse = r.json().await.unwrap();
        assert_eq!(r.results[0].reason.as_deref(), Some("too_large"));
    }
    let kb = peak();
    eprintln!(
        "peak resident memory of sila-hq after three hostile frames: {} MB",
        kb / 1024
    );
    assert!(kb < 400 * 1024, "peak {kb} kB");
    let _ = child.kill().await;
}

/// Random, well-formed but hostile operations from a device of another branch (references to
/// this branch's records, wrong types, HQ-only transitions, extreme numbers, unknown operations,
/// IDs that are not IDs): whatever the mix, this branch's data at HQ is exactly as it was, and
/// every read (a sync of this branch, the other branch's pulls and re-downloads, the duplicate
/// review, the console's case files and dashboards) still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_operations_never_touch_another_branch_or_break_a_read() {
    use rand::rngs::StdRng;
    use rand::seq::IndexedRandom;
    use rand::{Rng, SeedableRng};
    let (hq, mut a, b) = two_branches().await;
    let before = branch_at_hq(&hq, "الأفلاج");
    let ids = |sql: &str| -> Vec<String> {
        let mut stmt = a.store.conn().prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let theirs: Vec<String> = [
        ids("SELECT id FROM beneficiaries LIMIT 5"),
        ids("SELECT id FROM cases LIMIT 5"),
        ids("SELECT id FROM tasks LIMIT 3"),
        ids("SELECT id FROM staff"),
        ids("SELECT sha256 FROM attachments"),
    ]
    .concat();
    // The other branch's own people and a case of theirs, so its edits reach the merge rules.
    let own = person("ريم خالد سعد الشهري");
    let own_id = own["id"].as_str().unwrap().to_owned();
    let r: PushResponse = b
        .push(vec![op(
            1,
            "beneficiary.create",
            "beneficiary",
            &own_id,
            own.clone(),
        )])
        .await
        .json()
        .await
        .unwrap();
    assert!(r.results.is_empty(), "{:?}", r.results);
    let names = [
        "beneficiary.create",
        "beneficiary.update",
        "case.create",
        "case.update",
        "case.transition",
        "interaction.add",
        "interaction.update",
        "delivery.add",
        "survey.add",
        "task.create",
        "task.update",
        "task.done",
        "attachment.add",
        "staff.create",
        "staff.set_active",
        "staff.set_roles",
        "kb.add",
        "beneficiary.hq_seen",
        "no.such",
        "",
    ];
    let weird = [
        json!(null),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-0.0),
        json!(""),
        json!("x".repeat(20_000)),
        json!([1, [2, [3, [4]]]]),
        json!({"a": {"b": {"c": {}}}}),
        json!(true),
        json!("approved"),
        json!("committee"),
        json!(["committee", "hq_staff"]),
    ];
    let mut rng = StdRng::seed_from_u64(0x5e1a);
    let mut seq = 1;
    for round in 0..40 {
        let mut ops = Vec::new();
        for _ in 0..15 {
            seq += 1;
            let name = *names.choose(&mut rng).unwrap();
            let id = match rng.random_range(0..5) {
                0 | 1 => theirs.choose(&mut rng).unwrap().clone(),
                2 => own_id.clone(),
                3 => uuid::Uuid::now_v7().to_string(),
                _ => "../../x'; DROP TABLE cases; --".to_owned(),
            };
            let mut payload = match rng.random_range(0..4) {
                0 => own.clone(),
                1 => json!({"fields": {"city": *weird.choose(&mut rng).unwrap(), "id": id}}),
                2 => {
                    json!({"event": {"case_id": id, "transition": *["approve", "reject", "reopen", "close"].choose(&mut rng).unwrap(),
                    "from": "in_committee", "to": "approved", "actor": uuid::Uuid::now_v7(), "actor_name": "x",
                    "at": Utc::now(), "device": b.device, "branch": "الأفلاج"}, "registration_number": *weird.choose(&mut rng).unwrap()})
                }
                _ => weird.choose(&mut rng).unwrap().clone(),
            };
            if payload.is_object() && rng.random_bool(0.5) {
                // A valid record pointing at the other branch's people.
                payload["beneficiary_id"] = json!(theirs[0]);
                payload["case_id"] = json!(theirs[5]);
                payload["id"] = json!(id);
            }
            let mut o = op(
                seq,
                name,
                name.split('.').next().unwrap_or(""),
                &id,
                payload,
            );
            o.base_version = *[None, Some(0), Some(-1), Some(i64::MAX), Some(i64::MIN)]
                .choose(&mut rng)
                .unwrap();
            ops.push(o);
        }
        let r = b.push(ops).await;
        assert_eq!(r.status(), 200, "round {round}");
        let r: PushResponse = r.json().await.unwrap();
        assert_eq!(r.acked_through, seq, "round {round}");
        // Reads, for everyone.
        assert_eq!(
            b.get(&format!("/v1/pull?after=0&own={seq}")).await.status(),
            200
        );
        assert_eq!(b.get("/v1/snapshot/plan").await.status(), 200);
        for phase in proto::phases::ALL {
            let page = b.get(&format!("/v1/snapshot?phase={phase}&after=0")).await;
            assert_eq!(page.status(), 200, "round {round} phase {phase}");
        }
        hq.store.duplicate_candidates(1000).unwrap();
        let console: &dyn sila_hq::ConsoleStore = &*hq.store;
        let today = Utc::now().date_naive();
        console.dashboard(&Default::default(), today).unwrap();
        for id in &theirs[5..10] {
            console.case_file(id, today).unwrap();
        }
        assert_eq!(
            branch_at_hq(&hq, "الأفلاج"),
            before,
            "round {round}: the other branch changed"
        );
    }
    // The branch itself syncs on as before.
    let r = a.sync().await.unwrap();
    assert_eq!((r.rejected, r.pending), (0, 0));
    assert_hq_holds(&hq, &a);
}
