//! HQ's register (issue 11, points 4, 6 and 8) on the engine of this run: people pushed by two
//! branches' devices through HQ's real rules, found by any spelling of a name, an ID, a mobile, a
//! case or file number; a field changed at HQ, checked by the domain and sent down the branch's
//! feed; complaints counted by their answer's status; every survey question scored.

use crate::seed::{self, CaseSeed, Raw};
use crate::support::{self, now, open, today};
use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};
use sila_domain::beneficiary::{Beneficiary, PersonName};
use sila_domain::catalog::{Channel, Purpose};
use sila_domain::ids::{BeneficiaryId, InteractionId, StaffId, SurveyId, TaskId};
use sila_domain::interaction::{Direction, Interaction, Survey};
use sila_domain::staff::{Role, StaffAccount};
use sila_domain::task::{Task, TaskKind, TaskOrigin};
use sila_hq::Code;
use sila_hq::db::Dialect;
use sila_hq::store::Device;
use sila_hq::store::register::{RegisterQuery, ScoreFilter, VoiceFilter};
use sila_hq::store::{HqError, HqStore, RegisterStore};
use sila_hq::{Hq, HqActor, params};
use sila_proto::{PushRequest, WireOp};
use std::collections::BTreeSet;

/// The reviewer at HQ who edits people in the register.
fn reviewer() -> HqActor {
    HqActor {
        staff_id: StaffId::new_v7(),
        display_name: "ريم الحربي".into(),
    }
}

/// A branch device enrolled at HQ, pushing operations as a laptop would.
struct Laptop {
    device: Device,
    seq: i64,
}

impl Laptop {
    fn enrol(hq: &Hq, branch: &str) -> Laptop {
        Laptop {
            device: support::device(hq, branch, now()).0,
            seq: 0,
        }
    }

    /// Push one operation; HQ must apply it.
    fn push(&mut self, hq: &Hq, op: &str, entity: &str, id: &str, payload: Value) {
        let r = self.send(hq, op, entity, id, None, payload);
        assert_eq!(r.acked_through, self.seq);
        assert!(r.results.is_empty(), "{op} refused: {:?}", r.results);
    }

    /// Send a correction of a person's `fields` as the branch sends one: a per-field update on
    /// the version it held (1, as pushed), and say what HQ answered.
    fn correct(&mut self, hq: &Hq, id: &str, fields: Value) -> sila_proto::PushResponse {
        let payload = json!({ "fields": fields });
        self.send(
            hq,
            "beneficiary.update",
            "beneficiary",
            id,
            Some(1),
            payload,
        )
    }

    /// Push one operation on the record's version `base` (a per-field update names the version
    /// it edited), and say what HQ answered.
    fn send(
        &mut self,
        hq: &Hq,
        op: &str,
        entity: &str,
        id: &str,
        base: Option<i64>,
        payload: Value,
    ) -> sila_proto::PushResponse {
        self.seq += 1;
        let req = PushRequest {
            protocol: sila_proto::PROTOCOL,
            device_id: self.device.device_id.clone(),
            ops: vec![WireOp {
                seq: self.seq,
                op_id: uuid::Uuid::now_v7().to_string(),
                op: op.into(),
                entity: entity.into(),
                entity_id: id.into(),
                base_version: base,
                payload: serde_json::value::RawValue::from_string(payload.to_string()).unwrap(),
                created_at: now(),
            }],
        };
        hq.push(&self.device, &req, now()).unwrap()
    }

    fn person(&mut self, hq: &Hq, name: &str, edit: impl FnOnce(&mut Beneficiary)) -> String {
        let mut b = Beneficiary::new(BeneficiaryId::new_v7(), PersonName::from_full(name));
        edit(&mut b);
        let id = b.id.to_string();
        self.push(
            hq,
            "beneficiary.create",
            "beneficiary",
            &id,
            serde_json::to_value(&b).unwrap(),
        );
        id
    }
}

fn search(hq: &Hq, q: &str, branch: Option<&str>) -> Vec<String> {
    hq.register(&RegisterQuery {
        q: q.into(),
        branch: branch.map(str::to_owned),
        ..Default::default()
    })
    .unwrap()
    .rows
    .into_iter()
    .map(|r| r.id)
    .collect()
}

#[test]
fn the_register_finds_every_branchs_people_by_any_spelling_id_mobile_and_number() {
    let (_d, hq, raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    let mut marwan = Laptop::enrol(&hq, "مروان");
    let abdullah = aflaj.person(&hq, "عبد الله محمد آل سعود", |b| {
        b.mobile = Some("0501234567".parse().unwrap());
        b.national_id = Some("1012345672".parse().unwrap());
        b.city = "الأفلاج".into();
    });
    let muhammadain = aflaj.person(&hq, "محمدين سعد الدوسري", |_| {});
    let other = marwan.person(&hq, "عبدالله سعد القحطاني", |_| {});

    // Any spelling of a name: "عبد الله" and "عبدالله" are one token, آل joins its family name.
    let mut both = search(&hq, "عبدالله", None);
    both.sort();
    let mut want = vec![abdullah.clone(), other.clone()];
    want.sort();
    assert_eq!(both, want);
    assert_eq!(search(&hq, "عبد الله السعود", None), vec![abdullah.clone()]);
    assert_eq!(search(&hq, "عبداللة ال سعود", None), vec![abdullah.clone()]);
    // A whole token before a prefix of a longer one, as at the branch.
    assert_eq!(
        search(&hq, "محمد", None),
        vec![abdullah.clone(), muhammadain.clone()]
    );
    // One branch only.
    assert_eq!(search(&hq, "عبدالله", Some("مروان")), vec![other.clone()]);
    // An ID or its beginning; a mobile in any form or its last digits (Arabic-Indic too).
    assert_eq!(search(&hq, "1012345672", None), vec![abdullah.clone()]);
    assert_eq!(search(&hq, "101234", None), vec![abdullah.clone()]);
    assert_eq!(search(&hq, "٤٥٦٧", None), vec![abdullah.clone()]);
    assert_eq!(
        search(&hq, "+966 50 123 4567", None),
        vec![abdullah.clone()]
    );
    assert_eq!(search(&hq, "عبدالله 4567", None), vec![abdullah.clone()]);
    assert!(search(&hq, "زيد", None).is_empty());
    // A receipt's case number names its person and the case.
    let case = seed::case(&raw, 7, &CaseSeed::with_the_committee(today()));
    let page = hq
        .register(&RegisterQuery {
            q: "afl-x-000007".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].case_id.as_deref(), Some(case.as_str()));
    // Rows show mobiles in the national form.
    let page = hq
        .register(&RegisterQuery {
            q: "السعود".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.rows[0].mobile.as_deref(), Some("0501234567"));
    assert!(!page.capped);
    assert_eq!(page.rows[0].branch, "الأفلاج");

    // Browsing pages through everyone in the order HQ received them.
    let first = hq
        .register(&RegisterQuery {
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(first.total, 4);
    assert_eq!(first.rows.len(), 2);
    let second = hq
        .register(&RegisterQuery {
            limit: Some(2),
            after: first.next.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(second.rows.len(), 2);
    assert!(second.next.is_none());
    assert_eq!(first.rows[0].id, abdullah);
    assert_eq!(second.rows[0].id, other);
    // A bad cursor is a bad filter, never a panic.
    assert!(matches!(
        hq.register(&RegisterQuery {
            after: Some("x".into()),
            ..Default::default()
        }),
        Err(HqError::Refused(Code::BadFilter))
    ));
}

#[test]
fn the_file_number_a_branch_gives_at_registration_fills_the_register_and_finds_the_person() {
    let (_d, hq, _raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    let id = aflaj.person(&hq, "هند سالم الشهراني", |_| {});
    let row = |q: &str| {
        hq.register(&RegisterQuery {
            q: q.into(),
            ..Default::default()
        })
        .unwrap()
        .rows
    };
    assert_eq!(row("الشهراني")[0].file_number, None);
    // "Complete registration" at the branch gives the file its number, sent as the branch
    // sends any correction of the person: a per-field update on the version it held.
    let r = aflaj.correct(&hq, &id, json!({"file_number": "AFL-X-F00012"}));
    assert!(r.results.is_empty(), "{:?}", r.results);
    let rows = row("الشهراني");
    assert_eq!(rows[0].file_number.as_deref(), Some("AFL-X-F00012"));
    // Found by it, however its letters are written.
    let found = row("afl-x-f00012");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);
    assert_eq!(found[0].case_id, None);
}

#[test]
fn people_stored_before_the_register_get_their_terms_when_hq_opens() {
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    let id = {
        let hq = Hq::open(db.clone()).unwrap();
        let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
        let id = aflaj.person(&hq, "سارة خالد العتيبي", |_| {});
        // As a store from before the register's migration would be: no terms, not yet indexed.
        hq.execute("DELETE FROM register_terms", params![]).unwrap();
        hq.execute(
            "UPDATE meta SET value = '0' WHERE key = 'register_terms'",
            params![],
        )
        .unwrap();
        assert!(search(&hq, "ساره", None).is_empty());
        id
    };
    let hq = Hq::open(db).unwrap();
    assert_eq!(search(&hq, "ساره", None), vec![id]);
}

#[test]
fn an_hq_edit_is_checked_by_the_domain_and_goes_down_the_branch_feed() {
    let (_d, hq, _raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    let id = aflaj.person(&hq, "نورة سعد الشهري", |b| {
        b.mobile = Some("0501234567".parse().unwrap());
    });
    let before = hq.person_file(&id, today()).unwrap().unwrap().version;

    // The national form in, E.164 stored, the search follows the new number.
    let v = hq
        .edit_person(&reviewer(), &id, "mobile", &json!("055 987 6543"), now())
        .unwrap()
        .unwrap();
    assert!(v > before);
    let file = hq.person_file(&id, today()).unwrap().unwrap();
    assert_eq!(file.record["mobile"], "+966559876543");
    assert_eq!(file.version, v);
    assert_eq!(search(&hq, "6543", None), vec![id.clone()]);
    assert!(search(&hq, "4567", None).is_empty());

    // The domain refuses, with its own reason and Arabic message, and nothing is written.
    let refused = hq
        .edit_person(&reviewer(), &id, "birth_date", &json!("2030-01-01"), now())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (refused[0].field.as_str(), refused[0].code.as_str()),
        ("birth_date", "date_in_future")
    );
    assert!(!refused[0].message.is_empty());
    let refused = hq
        .edit_person(&reviewer(), &id, "national_id", &json!("12345"), now())
        .unwrap()
        .unwrap_err();
    assert_eq!(refused[0].field, "national_id");
    let name =
        json!({"first": "", "father": "", "grandfather": "", "family": "", "as_written": " "});
    let refused = hq
        .edit_person(&reviewer(), &id, "name", &name, now())
        .unwrap()
        .unwrap_err();
    assert_eq!(refused[0].code, "required");
    assert_eq!(hq.person_file(&id, today()).unwrap().unwrap().version, v);
    // Fields the register does not edit, and people it does not hold.
    assert!(matches!(
        hq.edit_person(&reviewer(), &id, "id", &json!("x"), now()),
        Err(HqError::BadRequest("field"))
    ));
    assert!(matches!(
        hq.edit_person(&reviewer(), "no-such-person", "city", &json!("x"), now()),
        Err(HqError::NotFound(_))
    ));

    // A name changed at HQ is found by its new spelling.
    let name = json!({"first": "نوره", "father": "سعد", "grandfather": "", "family": "القحطاني", "as_written": ""});
    hq.edit_person(&reviewer(), &id, "name", &name, now())
        .unwrap()
        .unwrap();
    assert_eq!(search(&hq, "نورة القحطاني", None), vec![id.clone()]);
    assert!(search(&hq, "الشهري", None).is_empty());

    // The branch's other laptops receive HQ's change of the person by the feed, with the field
    // as HQ's (a per-field change, like any other).
    let other = Laptop::enrol(&hq, "الأفلاج");
    let state = state_in(&hq.pull(&other.device, 0, 100, 0, None).unwrap(), &id);
    assert_eq!(state["data"]["mobile"], "+966559876543", "{state}");
    assert_eq!(state["data"]["name"]["family"], "القحطاني");
    // With who at HQ changed which field, at which version, for the branch's timeline; the
    // refused edits are not there, and no value is.
    let edits = state["hq_edits"].as_array().unwrap();
    let named: Vec<(&str, &str)> = edits
        .iter()
        .map(|e| (e["fields"][0].as_str().unwrap(), e["by"].as_str().unwrap()))
        .collect();
    assert_eq!(named, [("mobile", "ريم الحربي"), ("name", "ريم الحربي")]);
    assert_eq!(edits[0]["version"], v);
    assert_eq!(edits[1]["version"], state["version"]);
    assert!(!edits.iter().any(|e| e.to_string().contains("6543")));
    // Another branch's laptop hears nothing of it.
    let marwan = Laptop::enrol(&hq, "مروان");
    let pulled = hq.pull(&marwan.device, 0, 100, 0, None).unwrap();
    assert!(pulled.changes.iter().all(|c| c.entity_id != id));
}

#[test]
fn the_household_income_and_housing_are_edited_at_hq_as_the_branch_edits_them() {
    let (_d, hq, _raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    let id = aflaj.person(&hq, "مها عبدالله العمري", |b| {
        b.household = vec![sila_domain::beneficiary::HouseholdMember {
            id: sila_domain::ids::MemberId::new_v7(),
            name: "سعد".into(),
            relation: sila_domain::beneficiary::Relation::Son,
            national_id: None,
            birth_date: None,
            disability: false,
            schooling: None,
        }];
    });
    let record = |hq: &Hq| hq.person_file(&id, today()).unwrap().unwrap();
    let son = record(&hq).record["household"][0]["id"].clone();

    // The household as the branch's form sends it: the member on file keeps their ID, a new one
    // is added, dates in either calendar.
    let household = json!([
        {"id": son, "name": "سعد", "relation": "son", "birth_date": "1440/03/01", "schooling": "primary"},
        {"name": "ريم", "relation": "daughter", "national_id": "", "disability": true}
    ]);
    let v1 = hq
        .edit_person(&reviewer(), &id, "household", &household, now())
        .unwrap()
        .unwrap();
    let file = record(&hq);
    assert_eq!(file.record["household"][0]["id"], son);
    assert_eq!(file.record["household"][0]["schooling"], "primary");
    assert_eq!(file.record["household"][1]["name"], "ريم");
    assert_eq!(file.record["household"][1]["disability"], true);
    // Each problem under its member, nothing written.
    let refused = hq
        .edit_person(
            &reviewer(),
            &id,
            "household",
            &json!([{"name": "ريم", "relation": "daughter"}, {"name": " ", "relation": "cousin"}]),
            now(),
        )
        .unwrap()
        .unwrap_err();
    let fields: Vec<&str> = refused.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["household[1].name", "household[1].relation"]);
    assert_eq!(record(&hq).version, v1);

    // The monthly income in riyals (Arabic-Indic digits too) is the record's incomes.
    hq.edit_person(&reviewer(), &id, "monthly_income", &json!("٣٥٠٠"), now())
        .unwrap()
        .unwrap();
    assert_eq!(
        record(&hq).record["incomes"],
        json!([{"source": "other", "monthly_halalas": 350_000}])
    );
    let refused = hq
        .edit_person(&reviewer(), &id, "monthly_income", &json!("كثير"), now())
        .unwrap()
        .unwrap_err();
    assert_eq!(refused[0].field, "monthly_income");
    // The housing and its yearly rent.
    let v3 = hq
        .edit_person(
            &reviewer(),
            &id,
            "housing",
            &json!({"kind": "rented", "annual_rent": "18,000"}),
            now(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        record(&hq).record["housing"],
        json!({"kind": "rented", "annual_rent_halalas": 1_800_000})
    );
    for (housing, field) in [
        (json!({"kind": "tent"}), "housing"),
        (json!({"kind": "owned", "annual_rent": "x"}), "annual_rent"),
    ] {
        let refused = hq
            .edit_person(&reviewer(), &id, "housing", &housing, now())
            .unwrap()
            .unwrap_err();
        assert_eq!(refused[0].field, field);
    }
    // The same value again changes nothing.
    assert_eq!(
        hq.edit_person(
            &reviewer(),
            &id,
            "housing",
            &json!({"kind": "rented", "annual_rent": "18000"}),
            now()
        )
        .unwrap()
        .unwrap(),
        v3
    );

    // The branch's laptops receive the record's fields, with who changed which at HQ.
    let other = Laptop::enrol(&hq, "الأفلاج");
    let state = state_in(&hq.pull(&other.device, 0, 100, 0, None).unwrap(), &id);
    assert_eq!(state["data"]["housing"]["kind"], "rented");
    let fields: Vec<&str> = state["hq_edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["fields"][0].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["household", "incomes", "housing"]);

    // The conflict rules hold for these fields like any other: a branch's edit of the
    // household made on the version before HQ's is kept beside HQ's for a person to decide.
    let r = aflaj.correct(&hq, &id, json!({"household": []}));
    assert_eq!(r.results.len(), 1, "{:?}", r.results);
    assert_eq!(r.results[0].reason.as_deref(), Some("field_conflict"));
    assert_eq!(
        record(&hq).record["household"].as_array().unwrap().len(),
        2,
        "HQ's household stands until a person decides"
    );
}

fn staff(laptop: &mut Laptop, hq: &Hq, name: &str, branch: &str) -> StaffId {
    let a = StaffAccount {
        id: StaffId::new_v7(),
        username: format!("u{}", uuid::Uuid::now_v7().simple()),
        display_name: name.into(),
        roles: vec![Role::Representative],
        branch: branch.into(),
        active: true,
    };
    laptop.push(
        hq,
        "staff.create",
        "staff",
        &a.id.to_string(),
        serde_json::to_value(&a).unwrap(),
    );
    a.id
}

/// A complaint (or suggestion) contact and its task, due `due`, answered `done` days after
/// 2026-03-01 (or not).
#[allow(clippy::too_many_arguments)]
fn complaint(
    laptop: &mut Laptop,
    hq: &Hq,
    who: &str,
    by: StaffId,
    kind: TaskKind,
    due: &str,
    answered: Option<&str>,
) -> String {
    let contact = Interaction {
        id: InteractionId::new_v7(),
        beneficiary_id: Some(who.parse().unwrap()),
        case_id: None,
        channel: Channel::Phone,
        direction: Direction::Inbound,
        purpose: if kind == TaskKind::Complaint {
            Purpose::Complaint
        } else {
            Purpose::Suggestion
        },
        summary: "تأخر الرد على الطلب".into(),
        outcome: String::new(),
        follow_up_on: None,
        staff: by,
        at: now() - Duration::days(20),
        contact_name: String::new(),
        contact_phone: None,
        attachments: vec![],
        answers: None,
    };
    laptop.push(
        hq,
        "interaction.add",
        "interaction",
        &contact.id.to_string(),
        serde_json::to_value(&contact).unwrap(),
    );
    let answer = answered.map(|on| {
        let a = Interaction {
            id: InteractionId::new_v7(),
            purpose: Purpose::FollowUp,
            direction: Direction::Outbound,
            summary: "اعتذرنا وأبلغناه بموعد القرار".into(),
            answers: Some(contact.id),
            at: Utc.from_utc_datetime(&format!("{on}T10:00:00").parse().unwrap()),
            ..contact.clone()
        };
        laptop.push(
            hq,
            "interaction.add",
            "interaction",
            &a.id.to_string(),
            serde_json::to_value(&a).unwrap(),
        );
        a
    });
    let t = Task {
        id: TaskId::new_v7(),
        key: format!("complaint:{}", contact.id),
        kind,
        beneficiary_id: Some(who.parse().unwrap()),
        case_id: None,
        role: Role::Representative,
        due_on: due.parse().unwrap(),
        channel: Some(Channel::Phone),
        note: String::new(),
        origin: TaskOrigin::Person { staff: by },
        done_at: answer.as_ref().map(|a| a.at),
        done_by: answer.as_ref().map(|_| by),
        assignee: Some(by),
        snoozed_until: None,
        interaction_id: Some(contact.id),
        answer_id: answer.as_ref().map(|a| a.id),
    };
    laptop.push(
        hq,
        "task.create",
        "task",
        &t.id.to_string(),
        serde_json::to_value(&t).unwrap(),
    );
    t.id.to_string()
}

/// A laptop at Al-Aflaj and one at Marwan, each with a staff member of its branch (Huda at
/// Al-Aflaj, Omar at Marwan).
fn two_branches(hq: &Hq) -> (Laptop, Laptop, StaffId, StaffId) {
    let mut aflaj = Laptop::enrol(hq, "الأفلاج");
    let mut marwan = Laptop::enrol(hq, "مروان");
    let huda = staff(&mut aflaj, hq, "هدى الموظفة", "الأفلاج");
    let omar = staff(&mut marwan, hq, "عمر الموظف", "مروان");
    (aflaj, marwan, huda, omar)
}

#[test]
fn complaints_are_counted_by_their_answers_status_per_branch_and_open_to_the_answer() {
    let (_d, hq, _raw) = open();
    let (mut aflaj, mut marwan, huda, omar) = two_branches(&hq);
    let a = aflaj.person(&hq, "منيرة علي الحربي", |_| {});
    let m = marwan.person(&hq, "فهد سالم العنزي", |_| {});
    // Today is 2026-03-10.
    let open = complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-15",
        None,
    );
    let overdue = complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-05",
        None,
    );
    let on_time = complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-05",
        Some("2026-03-04"),
    );
    let late = complaint(
        &mut marwan,
        &hq,
        &m,
        omar,
        TaskKind::Complaint,
        "2026-03-05",
        Some("2026-03-08"),
    );
    complaint(
        &mut marwan,
        &hq,
        &m,
        omar,
        TaskKind::Suggestion,
        "2026-03-20",
        None,
    );

    let page = hq.voice(&VoiceFilter::default(), today()).unwrap();
    let count = |key: &str, kind: &str| {
        let c = page
            .counts
            .iter()
            .find(|c| c.key == key && c.kind == kind)
            .unwrap();
        (c.open, c.overdue, c.on_time, c.late)
    };
    assert_eq!(count("الأفلاج", "complaint"), (1, 1, 1, 0));
    assert_eq!(count("مروان", "complaint"), (0, 0, 0, 1));
    assert_eq!(count("مروان", "suggestion"), (1, 0, 0, 0));
    assert_eq!(count("", "complaint"), (1, 1, 1, 1));
    // The list: waiting ones first, the most overdue on top.
    assert_eq!(page.total, 5);
    assert_eq!(page.rows[0].task_id, overdue);
    assert_eq!(page.rows[0].owner.as_deref(), Some("هدى الموظفة"));
    assert_eq!(
        page.rows[0].beneficiary_name.as_deref(),
        Some("منيرة علي الحربي")
    );

    let late_only = hq
        .voice(
            &VoiceFilter {
                status: Some("late".into()),
                ..Default::default()
            },
            today(),
        )
        .unwrap();
    assert_eq!(
        late_only
            .rows
            .iter()
            .map(|r| r.task_id.clone())
            .collect::<Vec<_>>(),
        vec![late.clone()]
    );
    let waiting_aflaj = hq
        .voice(
            &VoiceFilter {
                branch: Some("الأفلاج".into()),
                status: Some("waiting".into()),
                kind: Some("complaint".into()),
                ..Default::default()
            },
            today(),
        )
        .unwrap();
    let mut ids: Vec<String> = waiting_aflaj
        .rows
        .iter()
        .map(|r| r.task_id.clone())
        .collect();
    ids.sort();
    let mut want = vec![open.clone(), overdue.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(matches!(
        hq.voice(
            &VoiceFilter {
                status: Some("x".into()),
                ..Default::default()
            },
            today()
        ),
        Err(HqError::Refused(Code::BadFilter))
    ));

    // Opened: the contact and the answer given.
    let item = hq.voice_item(&on_time, today()).unwrap().unwrap();
    assert_eq!(item.row.status, "on_time");
    assert_eq!(item.contact.unwrap()["summary"], "تأخر الرد على الطلب");
    assert_eq!(
        item.answer.unwrap()["summary"],
        "اعتذرنا وأبلغناه بموعد القرار"
    );
    // And in the person's file.
    let file = hq.person_file(&a, today()).unwrap().unwrap();
    assert_eq!(file.voice.len(), 3);
    assert_eq!(file.interactions.len(), 4);
    assert_eq!(
        file.staff.get(&huda.to_string()).map(String::as_str),
        Some("هدى الموظفة")
    );
}

fn survey(
    laptop: &mut Laptop,
    hq: &Hq,
    channel: Channel,
    service: &str,
    employee: StaffId,
    scores: [u8; 4],
) {
    let s = Survey {
        id: SurveyId::new_v7(),
        case_id: None,
        delivery_id: None,
        overall: scores[0],
        speed: scores[1],
        courtesy: scores[2],
        clarity: scores[3],
        comment: String::new(),
        anonymous: false,
        channel,
        answered_on: today(),
        support_type: service.into(),
        employee: Some(employee),
    };
    laptop.push(
        hq,
        "survey.add",
        "survey",
        &s.id.to_string(),
        serde_json::to_value(&s).unwrap(),
    );
}

#[test]
fn survey_scores_count_every_question_per_branch_channel_service_and_employee() {
    let (_d, hq, _raw) = open();
    let (mut aflaj, mut marwan, huda, omar) = two_branches(&hq);
    survey(
        &mut aflaj,
        &hq,
        Channel::Phone,
        "food_basket",
        huda,
        [5, 4, 5, 3],
    );
    survey(
        &mut aflaj,
        &hq,
        Channel::Interview,
        "food_basket",
        huda,
        [3, 2, 5, 3],
    );
    survey(&mut marwan, &hq, Channel::Phone, "rent", omar, [1, 1, 2, 4]);

    let s = hq.survey_scores(&ScoreFilter::default()).unwrap();
    assert_eq!(s.total.n, 3);
    assert_eq!(s.total.overall, Some(3.0));
    assert_eq!(s.total.speed, Some(2.33));
    assert_eq!(s.total.courtesy, Some(4.0));
    assert_eq!(s.total.clarity, Some(3.33));
    assert_eq!(s.distribution["courtesy"], [0, 1, 0, 0, 2]);
    assert_eq!(s.distribution["overall"], [1, 0, 1, 0, 1]);
    let row = |rows: &[sila_hq::store::register::ScoreRow], key: &str| {
        let r = rows.iter().find(|r| r.key == key).unwrap().clone();
        (r.n, r.overall, r.speed, r.courtesy, r.clarity)
    };
    assert_eq!(
        row(&s.by_branch, "الأفلاج"),
        (2, Some(4.0), Some(3.0), Some(5.0), Some(3.0))
    );
    assert_eq!(
        row(&s.by_channel, "phone"),
        (2, Some(3.0), Some(2.5), Some(3.5), Some(3.5))
    );
    assert_eq!(
        row(&s.by_service, "rent"),
        (1, Some(1.0), Some(1.0), Some(2.0), Some(4.0))
    );
    let emp = s
        .by_employee
        .iter()
        .find(|r| r.key == huda.to_string())
        .unwrap();
    assert_eq!((emp.n, emp.label.as_deref()), (2, Some("هدى الموظفة")));
    // Filtered to one branch.
    let m = hq
        .survey_scores(&ScoreFilter {
            branch: Some("مروان".into()),
            channel: None,
        })
        .unwrap();
    assert_eq!((m.total.n, m.by_branch.len()), (1, 1));
}

#[test]
fn the_registers_reads_are_served_by_indexes() {
    let (_d, _hq, raw) = open();
    // Enough varied rows, and the engine's statistics of them, for the planner to choose by
    // selectivity rather than by an empty table's defaults.
    for i in 0..300 {
        let b = uuid::Uuid::now_v7().to_string();
        let kind = [
            "complaint",
            "suggestion",
            "follow_up",
            "survey",
            "announce_decision",
        ][i % 5];
        for (entity, data) in [
            (
                "interaction",
                json!({"beneficiary_id": b, "purpose": "inquiry"}),
            ),
            ("task", json!({"beneficiary_id": b, "kind": kind})),
        ] {
            raw.execute(
                "INSERT INTO records (entity, id, branch, device_id, data) VALUES (?1, ?2, 'x', 'd', ?3)",
                params![entity, uuid::Uuid::now_v7().to_string(), data.to_string()],
            )
            .unwrap();
        }
    }
    raw.execute("ANALYZE", params![]).unwrap();
    let p = raw.plan(
        "SELECT b.id FROM register_terms t JOIN beneficiaries b ON b.rid = t.rid
         WHERE t.term >= 'محم' AND t.term < 'محن'
           AND EXISTS (SELECT 1 FROM register_terms o WHERE o.rid = t.rid AND o.term = 'سعد')
           AND EXISTS (SELECT 1 FROM register_terms o WHERE o.rid = t.rid AND o.term >= 'فه' AND o.term < 'فو')
           AND b.merged_into IS NULL LIMIT 400",
    );
    // The walked token a range of the terms' primary key, each other token one seek by the
    // person's row number, the person by its row number: nothing read whole.
    match raw.dialect() {
        Dialect::Sqlite => {
            assert!(p.contains("USING PRIMARY KEY (term>? AND term<?)"), "{p}");
            assert!(p.contains("PRIMARY KEY (term=? AND rid=?)"), "{p}");
            assert!(
                p.contains("register_terms_rid (rid=? AND term>? AND term<?)"),
                "{p}"
            );
            assert!(!p.contains("SCAN"), "{p}");
        }
        Dialect::Postgres => {
            assert!(p.contains("register_terms_rid"), "{p}");
            assert!(!p.contains("Seq Scan"), "{p}");
        }
    }
    // Complaints and suggestions: a page is the start of an index's order, nothing sorted.
    for sql in [
        "SELECT id, branch FROM voice_facts WHERE 1 = 1 ORDER BY answered, due_on, id LIMIT 50 OFFSET 0",
        "SELECT id, branch FROM voice_facts WHERE 1 = 1 AND branch = 'x' AND answered = 0 AND due_on < '2026-03-10'
         ORDER BY answered, due_on, id LIMIT 50 OFFSET 0",
    ] {
        let p = raw.plan(sql);
        assert!(p.contains("voice_facts_"), "{p}");
        assert!(!p.contains("TEMP B-TREE") && !p.contains("Sort"), "{p}");
    }
    let p =
        raw.plan("SELECT data FROM records WHERE entity = 'interaction' AND r_beneficiary = 'x'");
    assert!(p.contains("records_beneficiary"), "{p}");
    let p = raw.plan(
        "SELECT rid, id FROM beneficiaries WHERE rid > 5 AND merged_into IS NULL AND branch = 'x' ORDER BY rid LIMIT 51",
    );
    assert!(p.contains("beneficiaries_branch"), "{p}");
}

#[test]
fn every_index_on_records_is_one_a_statement_of_hqs_is_served_by() {
    let (_d, _hq, raw) = open();
    for i in 0..300 {
        let (b, c) = (
            uuid::Uuid::now_v7().to_string(),
            uuid::Uuid::now_v7().to_string(),
        );
        for (entity, data) in [
            ("interaction", json!({"beneficiary_id": b, "case_id": c})),
            ("task", json!({"beneficiary_id": b, "kind": "complaint"})),
            ("survey", json!({"case_id": c, "overall": 4})),
            ("staff", json!({"username": format!("u{i}")})),
        ] {
            raw.execute(
                "INSERT INTO records (entity, id, branch, device_id, data) VALUES (?1, ?2, ?3, 'd', ?4)",
                params![
                    entity,
                    uuid::Uuid::now_v7().to_string(),
                    format!("فرع {}", i % 30),
                    data.to_string()
                ],
            )
            .unwrap();
        }
    }
    raw.execute("ANALYZE", params![]).unwrap();
    // The indexes besides the primary key (and, on PostgreSQL, rid's): records_kind went with
    // hq 0017 / hq-postgres 0013, as no statement needed it.
    let indexes = raw.texts(
        match raw.dialect() {
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'
                   AND sql IS NOT NULL ORDER BY name"
            }
            Dialect::Postgres => {
                "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = 'records'::regclass AND NOT i.indisunique ORDER BY 1"
            }
        },
        params![],
    );
    assert_eq!(
        indexes,
        ["records_beneficiary", "records_branch", "records_case"]
    );
    // Each serves a statement HQ runs: a person's complaints (sql/register.rs), a case's
    // surveys (sql/console.rs, sql/register.rs), a page of a branch's re-download (sql/read.rs).
    let rid = raw.dialect().records_rid();
    for (index, sql) in [
        (
            "records_beneficiary",
            "SELECT data FROM records WHERE entity = 'task' AND r_beneficiary = 'x' LIMIT 1000".to_owned(),
        ),
        (
            "records_case",
            "SELECT data FROM records WHERE entity = 'survey' AND r_case = 'x' ORDER BY id".to_owned(),
        ),
        (
            "records_branch",
            format!(
                "SELECT {rid}, id FROM records WHERE entity = 'staff' AND branch = 'فرع 7' AND {rid} > 0
                 ORDER BY {rid} LIMIT 501"
            ),
        ),
    ] {
        let p = raw.plan(&sql);
        assert!(p.contains(index), "{index}: {p}");
    }
}

/// The changes HQ noted for a person, as a state's `hq_edits` lists them: (fields, who).
fn noted(state: &Value) -> Vec<(Vec<String>, String)> {
    state["hq_edits"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        serde_json::from_value(e["fields"].clone()).unwrap(),
                        e["by"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The person's state in a page of the feed or of a re-download.
fn state_in(page: &sila_proto::PullResponse, id: &str) -> Value {
    let entry = page
        .changes
        .iter()
        .rev()
        .find(|c| c.entity_id == id)
        .expect("the person is in the page");
    serde_json::from_str(entry.payload.get()).unwrap()
}

#[test]
fn every_change_hq_makes_to_a_person_is_noted_and_a_redownload_carries_them_all() {
    let (_d, hq, _raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    let id = aflaj.person(&hq, "نورة سعد الشهري", |b| {
        b.city = "الأفلاج".into();
        b.mobile = Some("0501234567".parse().unwrap());
    });
    let other = aflaj.person(&hq, "نوره سعد الشهري", |b| {
        b.city = "ليلى".into()
    });
    let salman = HqActor {
        staff_id: StaffId::new_v7(),
        display_name: "سلمان القرني".into(),
    };

    // A merge giving the survivor the other file's city, and its undoing, are changes at HQ.
    let mut chosen = serde_json::Map::new();
    chosen.insert("city".into(), json!("ليلى"));
    chosen.insert("mobile".into(), json!("+966501234567"));
    let merge = hq
        .merge_duplicates(&id, &other, &chosen, &salman, now())
        .unwrap();
    hq.undo_merge(merge, &salman, now()).unwrap();
    // So is a conflict a person resolves at HQ: the branch's value taken, or HQ's kept.
    let v = hq
        .edit_person(&reviewer(), &id, "mobile", &json!("0559876543"), now())
        .unwrap()
        .unwrap();
    let r = aflaj.correct(&hq, &id, json!({"mobile": "+966501112233"}));
    assert_eq!(r.results[0].reason.as_deref(), Some("field_conflict"));
    let conflict = hq.conflicts(true).unwrap()[0].id;
    hq.resolve_conflict(conflict, sila_hq::store::Resolution::KeepHq, &salman, now())
        .unwrap();

    let laptop = Laptop::enrol(&hq, "الأفلاج");
    let state = state_in(&hq.pull(&laptop.device, 0, 100, 0, None).unwrap(), &id);
    let by = |f: &str, who: &str| (vec![f.to_owned()], who.to_owned());
    assert_eq!(
        noted(&state),
        [
            by("city", "سلمان القرني"),
            by("city", "سلمان القرني"),
            by("mobile", "ريم الحربي"),
            by("mobile", "سلمان القرني"),
        ],
        "{state}"
    );
    let edits = state["hq_edits"].as_array().unwrap();
    assert!(edits[0]["version"].as_i64().unwrap() > 1);
    assert_eq!(edits[2]["version"], v);
    assert_eq!(edits[3]["version"], state["version"]);
    // Names of fields only: no value of the merge, the edit or the conflict.
    for value in ["ليلى", "الأفلاج", "6543", "1112233", "1234567"] {
        assert!(!state["hq_edits"].to_string().contains(value), "{value}");
    }
    assert!(state.get("hq_edits_older").is_none());

    // Edited at HQ more often than the feed carries: the feed brings the last 20, a
    // re-download (a laptop new to the person) all of them up to 200, and how many older.
    for n in 0..20 {
        hq.edit_person(&reviewer(), &id, "city", &json!(format!("حي {n}")), now())
            .unwrap()
            .unwrap();
    }
    let feed = state_in(&hq.pull(&laptop.device, 0, 100, 0, None).unwrap(), &id);
    assert_eq!(noted(&feed).len(), 20);
    assert!(feed.get("hq_edits_older").is_none());
    let redownload = || {
        state_in(
            &hq.snapshot(&laptop.device, sila_proto::phases::BENEFICIARIES, 0, 100)
                .unwrap(),
            &id,
        )
    };
    let whole = redownload();
    assert_eq!(noted(&whole).len(), 24);
    assert_eq!(noted(&whole)[..4], noted(&state)[..]);
    assert!(whole.get("hq_edits_older").is_none());
    for n in 0..180 {
        hq.edit_person(&reviewer(), &id, "city", &json!(format!("شارع {n}")), now())
            .unwrap()
            .unwrap();
    }
    let whole = redownload();
    assert_eq!(noted(&whole).len(), 200);
    assert_eq!(whole["hq_edits_older"], 4);
    assert_eq!(whole["hq_edits"][199]["version"], whole["version"]);
}

// ---- the console's count tables (migrations/hq/0016 and hq-postgres/0011) ----

/// A count table's rows, and the same counts made afresh from the rows they count, as sorted
/// text (the two engines give integers of different widths).
fn count_rows(raw: &Raw, table: &str) -> (Vec<String>, Vec<String>) {
    let waiting = sila_hq::rules::promise::WAITING
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let (kept, fresh) = match table {
        "case_counts" => (
            "SELECT branch, channel, state, month, outcome, on_time, promised, n FROM case_counts"
                .to_owned(),
            format!(
                "SELECT branch, coalesce(channel, ''), state, coalesce(month, ''), coalesce(outcome, ''),
                        CASE WHEN decided IS NULL OR promised IS NULL THEN -1
                             WHEN decided <= promised THEN 1 ELSE 0 END,
                        CASE WHEN state IN ({waiting}) THEN coalesce(promised, '') ELSE '' END, count(*)
                 FROM case_facts GROUP BY 1, 2, 3, 4, 5, 6, 7"
            ),
        ),
        "committee_counts" => (
            "SELECT branch, promised, n FROM committee_counts".to_owned(),
            "SELECT branch, coalesce(c_promised, ''), count(*) FROM cases
             WHERE state = 'in_committee' GROUP BY 1, 2"
                .to_owned(),
        ),
        "record_counts" => (
            "SELECT entity, branch, channel, value, month, n FROM record_counts".to_owned(),
            "SELECT entity, branch, coalesce(channel, ''), coalesce(value, ''), coalesce(month, ''), count(*)
             FROM record_facts GROUP BY 1, 2, 3, 4, 5"
                .to_owned(),
        ),
        "voice_counts" => (
            "SELECT branch, kind, answered, due_on, n FROM voice_counts".to_owned(),
            "SELECT branch, kind, answered, CASE WHEN answered = 0 THEN due_on ELSE '' END, count(*)
             FROM voice_facts GROUP BY 1, 2, 3, 4"
                .to_owned(),
        ),
        "register_counts" => (
            "SELECT branch, n FROM register_counts".to_owned(),
            "SELECT branch, count(*) FROM beneficiaries WHERE merged_into IS NULL GROUP BY 1"
                .to_owned(),
        ),
        _ => unreachable!("{table}"),
    };
    let text = |sql: &str| {
        let mut out: Vec<String> = raw
            .rows(sql, params![])
            .iter()
            .map(|r| {
                r.0.iter()
                    .map(|v| match v {
                        sila_hq::db::Val::Int(i) => i.to_string(),
                        sila_hq::db::Val::Text(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect();
        out.sort();
        out
    };
    (text(&kept), text(&fresh))
}

/// The complaint and suggestion tasks' facts as the domain reads the tasks themselves
/// (`Task::answer_status`'s answer, the due date), against voice_facts.
fn voice_facts_match_the_tasks(raw: &Raw) {
    let mut want: Vec<String> = raw
        .rows(
            "SELECT id, branch, data FROM records WHERE entity = 'task'",
            params![],
        )
        .iter()
        .filter_map(|r| {
            let t: Task = serde_json::from_value(r.json(2).unwrap()).ok()?;
            let answered = match t.done_on_time() {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            };
            matches!(t.kind, TaskKind::Complaint | TaskKind::Suggestion).then(|| {
                let kind = if t.kind == TaskKind::Complaint {
                    "complaint"
                } else {
                    "suggestion"
                };
                format!(
                    "{}|{}|{kind}|{answered}|{}",
                    r.text(0).unwrap(),
                    r.text(1).unwrap(),
                    t.due_on
                )
            })
        })
        .collect();
    want.sort();
    let mut kept: Vec<String> = raw
        .rows(
            "SELECT id, branch, kind, answered, due_on FROM voice_facts",
            params![],
        )
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}|{}|{}",
                r.text(0).unwrap(),
                r.text(1).unwrap(),
                r.text(2).unwrap(),
                r.i64(3).unwrap(),
                r.text(4).unwrap()
            )
        })
        .collect();
    kept.sort();
    assert_eq!(kept, want, "voice_facts against the tasks");
}

/// Pushes of people, staff, complaints (one answered later) and surveys; cases waiting, in
/// committee and decided by HQ; a merge and its undoing; and a transaction that changes cases,
/// people and tasks and then fails. After each, `table` must equal a fresh count of its rows; the
/// failed transaction sees its own change counted, and once it is undone neither is left.
fn count_table_follows_its_rows(table: &str) {
    let (_d, hq, raw) = open();
    let check = |step: &str| {
        let (kept, fresh) = count_rows(&raw, table);
        assert_eq!(kept, fresh, "{table} after {step}");
        if table == "voice_counts" {
            voice_facts_match_the_tasks(&raw);
        }
        kept
    };
    check("the migration");
    let (mut aflaj, mut marwan, huda, omar) = two_branches(&hq);
    let a = aflaj.person(&hq, "نورة سعد الشهري", |_| {});
    let twin = aflaj.person(&hq, "نوره سعد الشهري", |_| {});
    let m = marwan.person(&hq, "فهد سالم العنزي", |_| {});
    check("people pushed");

    let case = |n: usize, branch: &str, state: &str, channel: &str, days: i64| {
        seed::case(
            &raw,
            n,
            &CaseSeed {
                branch,
                state,
                channel,
                submitted: today() - Duration::days(days),
                decided_after_days: None,
                outcome: None,
                name: "x",
            },
        )
    };
    let first = case(1, "الأفلاج", "in_committee", "phone", 20);
    case(2, "الأفلاج", "in_committee", "phone", 20);
    case(3, "مروان", "in_committee", "interview", 3);
    case(4, "مروان", "submitted", "interview", 3);
    check("cases stored");
    let committee = HqActor {
        staff_id: StaffId::new_v7(),
        display_name: "لجنة البحث".into(),
    };
    hq.decide(
        &first,
        sila_domain::case::Transition::Approve,
        "مستحق",
        &committee,
        now(),
    )
    .unwrap();
    check("a decision");

    let open_one = complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-15",
        None,
    );
    complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-05",
        Some("2026-03-04"),
    );
    complaint(
        &mut marwan,
        &hq,
        &m,
        omar,
        TaskKind::Suggestion,
        "2026-03-05",
        Some("2026-03-08"),
    );
    survey(
        &mut aflaj,
        &hq,
        Channel::Phone,
        "food_basket",
        huda,
        [5, 4, 3, 2],
    );
    survey(
        &mut marwan,
        &hq,
        Channel::Interview,
        "food_basket",
        omar,
        [1, 2, 3, 4],
    );
    check("contacts, tasks and surveys pushed");
    aflaj.push(
        &hq,
        "task.done",
        "task",
        &open_one,
        json!({"done_at": now(), "done_by": huda}),
    );
    check("a task answered");

    let salman = reviewer();
    let merge = hq
        .merge_duplicates(&a, &twin, &serde_json::Map::new(), &salman, now())
        .unwrap();
    check("a merge");
    hq.undo_merge(merge, &salman, now()).unwrap();
    let before = check("its undoing");

    // One transaction: every kind of row changes, the count moves with it inside the
    // transaction, and the failure takes both back.
    let failed = sila_hq::db::run(&**hq.engine(), sila_hq::db::Mode::Write, |c| {
        c.exec("UPDATE cases SET state = 'withdrawn'", params![])?;
        c.exec("UPDATE beneficiaries SET merged_into = ?1", params![&m])?;
        c.exec(
            "DELETE FROM records WHERE entity IN ('task', 'survey', 'interaction')",
            params![],
        )?;
        let inside = c.query(&format!("SELECT count(*) FROM {table}"), params![])?[0].i64(0)?;
        let sums = c.query(
            &format!("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM {table} WHERE n <> 0"),
            params![],
        )?[0]
            .i64(0)?;
        assert_ne!(
            (inside as usize, sums),
            (
                before.len(),
                before
                    .iter()
                    .map(|r| r.rsplit('|').next().unwrap().parse::<i64>().unwrap())
                    .sum()
            ),
            "{table} moves in the same transaction as its rows"
        );
        Err::<(), _>(HqError::BadRequest("undone on purpose"))
    });
    assert!(failed.is_err());
    assert_eq!(check("a failed transaction"), before);
}

#[test]
fn case_counts_follow_their_cases() {
    count_table_follows_its_rows("case_counts");
}

#[test]
fn committee_counts_follow_their_cases() {
    count_table_follows_its_rows("committee_counts");
}

#[test]
fn record_counts_follow_their_surveys_and_contacts() {
    count_table_follows_its_rows("record_counts");
}

#[test]
fn voice_counts_follow_their_tasks() {
    count_table_follows_its_rows("voice_counts");
}

#[test]
fn register_counts_follow_their_people() {
    count_table_follows_its_rows("register_counts");
}

#[test]
fn the_migration_counts_the_rows_already_stored() {
    let (_d, hq, raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    let huda = staff(&mut aflaj, &hq, "هدى الموظفة", "الأفلاج");
    let a = aflaj.person(&hq, "نورة سعد الشهري", |_| {});
    complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-15",
        None,
    );
    survey(
        &mut aflaj,
        &hq,
        Channel::Phone,
        "food_basket",
        huda,
        [5, 4, 3, 2],
    );
    for (n, state) in ["in_committee", "submitted", "approved"]
        .into_iter()
        .enumerate()
    {
        seed::case(
            &raw,
            n,
            &CaseSeed {
                branch: "الأفلاج",
                state,
                channel: "phone",
                submitted: today(),
                decided_after_days: (state == "approved").then_some(3),
                outcome: (state == "approved").then_some("approved"),
                name: "x",
            },
        );
    }
    // The migration's last part, run again on a store whose counts were lost.
    let migration = match raw.dialect() {
        Dialect::Sqlite => include_str!("../../../../migrations/hq/0016_console_counts.sql"),
        Dialect::Postgres => {
            include_str!("../../../../migrations/hq-postgres/0011_console_counts.sql")
        }
    };
    let (_, backfill) = migration
        .split_once("-- The counts of the rows already stored.")
        .unwrap();
    let tables = [
        "case_counts",
        "committee_counts",
        "record_counts",
        "voice_counts",
        "register_counts",
    ];
    let kept: Vec<_> = tables.iter().map(|t| count_rows(&raw, t).0).collect();
    for t in tables {
        assert!(!count_rows(&raw, t).0.is_empty(), "{t} counts something");
        raw.execute(&format!("DELETE FROM {t}"), params![]).unwrap();
    }
    for statement in backfill.split(';').filter(|s| !s.trim().is_empty()) {
        raw.execute(statement, params![]).unwrap();
    }
    for (t, before) in tables.iter().zip(kept) {
        let (again, fresh) = count_rows(&raw, t);
        assert_eq!(again, before, "{t} backfilled");
        assert_eq!(again, fresh, "{t} backfilled");
    }
}

#[test]
fn a_whole_name_is_found_when_more_longer_names_match_than_are_ranked() {
    let (_d, hq, _raw) = open();
    let mut aflaj = Laptop::enrol(&hq, "الأفلاج");
    // More people than a search ranks whose names match «محمد سعد» only as prefixes (سعدون),
    // received first, so the walk meets them first; the whole name comes last.
    let ops: Vec<WireOp> = (1..=410)
        .map(|seq| {
            let b = Beneficiary::new(
                BeneficiaryId::new_v7(),
                PersonName::from_full("محمد سعدون الدوسري"),
            );
            WireOp {
                seq,
                op_id: uuid::Uuid::now_v7().to_string(),
                op: "beneficiary.create".into(),
                entity: "beneficiary".into(),
                entity_id: b.id.to_string(),
                base_version: None,
                payload: serde_json::value::RawValue::from_string(
                    serde_json::to_value(&b).unwrap().to_string(),
                )
                .unwrap(),
                created_at: now(),
            }
        })
        .collect();
    let r = hq
        .push(
            &aflaj.device,
            &PushRequest {
                protocol: sila_proto::PROTOCOL,
                device_id: aflaj.device.device_id.clone(),
                ops,
            },
            now(),
        )
        .unwrap();
    assert!(r.results.is_empty(), "{:?}", r.results);
    aflaj.seq = 410;
    let whole = aflaj.person(&hq, "محمد سعد الدوسري", |_| {});
    let found = search(&hq, "محمد سعد", None);
    assert_eq!(found.first(), Some(&whole), "the whole name ranks first");
    // Where no token begins a longer name, one pass finds the whole names' people.
    let page = hq
        .register(&RegisterQuery {
            q: "محمد الدوسري".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((page.total, page.capped), (400, true));
}

/// What a file or a page costs beyond its own work: its round trips to the store. On PostgreSQL
/// one each, however many rows it shows (a case's file was eight, a person's five and one more
/// per case, the complaints page five, a complaint opened five); SQLite answers in this process.
#[test]
fn a_file_or_a_page_is_one_round_trip() {
    use sila_hq::db::{Conn, Mode};
    use sila_hq::sql::{console, register};
    use sila_hq::store::console::CommitteeFilter;
    let (_d, hq, raw) = open();
    let (mut aflaj, _marwan, huda, _omar) = two_branches(&hq);
    let a = aflaj.person(&hq, "منيرة علي الحربي", |_| {});
    let answered = complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-05",
        Some("2026-03-04"),
    );
    complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Suggestion,
        "2026-03-15",
        None,
    );
    let case = seed::case(
        &raw,
        1,
        &CaseSeed::with_the_committee(today() - Duration::days(3)),
    );
    seed::case(
        &raw,
        2,
        &CaseSeed::with_the_committee(today() - Duration::days(20)),
    );
    let trips = |page: &(dyn Fn(&mut dyn Conn) -> sila_hq::Result<usize> + Sync)| {
        sila_hq::db::run(&**hq.engine(), Mode::Read, |c| {
            // The first time prepares the statements on this connection.
            page(c)?;
            let before = c.round_trips();
            let shown = page(c)?;
            Ok((c.round_trips() - before, shown))
        })
        .unwrap()
    };
    let one = match raw.dialect() {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1,
    };
    assert_eq!(
        trips(&|c| Ok(console::case_file(c, &case, today())?.map_or(0, |f| 1 + f.events.len()))),
        (one, 1),
        "a case's file"
    );
    assert_eq!(
        trips(&|c| Ok(register::person_file(c, &a, today())?
            .map_or(0, |f| f.voice.len() + f.interactions.len()))),
        (one, 5),
        "a person's file: two complaints, three contacts"
    );
    assert_eq!(
        trips(
            &|c| Ok(register::voice(c, &VoiceFilter::default(), today())?
                .rows
                .len())
        ),
        (one, 2),
        "complaints and suggestions"
    );
    assert_eq!(
        trips(&|c| Ok(
            register::voice_item(c, &answered, today())?.map_or(0, |i| usize::from(
                i.contact.is_some()
            ) + usize::from(
                i.answer.is_some()
            ))
        )),
        (one, 2),
        "a complaint opened, with its contact and answer"
    );
    assert_eq!(
        trips(&|c| Ok(console::committee_queue(
            c,
            &CommitteeFilter::default(),
            None,
            50,
            today()
        )?
        .rows
        .len())),
        (one, 2),
        "the committee queue"
    );
}

/// Stores `names` as people of `branches` (in turn), in this order, with their register terms,
/// as straight rows (faster than pushing for the thousands a search's large ranges need); their
/// IDs and branches in the order HQ holds them.
fn people_stored_directly(raw: &Raw, names: &[&str], branches: &[&str]) -> Vec<(String, String)> {
    let mut people = Vec::with_capacity(names.len());
    for (chunk_at, chunk) in names.chunks(500).enumerate() {
        let mut sql = String::from(
            "INSERT INTO beneficiaries (id, branch, device_id, data, version, created_at, updated_at) VALUES ",
        );
        let mut args: Vec<sila_hq::db::Val> = Vec::new();
        for (k, name) in chunk.iter().enumerate() {
            let b = Beneficiary::new(BeneficiaryId::new_v7(), PersonName::from_full(name));
            let branch = branches[(chunk_at * 500 + k) % branches.len()];
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(?{}, ?{}, 'd', ?{}, 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                3 * k + 1,
                3 * k + 2,
                3 * k + 3
            ));
            args.push(b.id.to_string().into());
            args.push(branch.into());
            args.push(serde_json::to_value(&b).unwrap().to_string().into());
            people.push((b.id.to_string(), branch.to_owned()));
        }
        raw.execute(&sql, &args).unwrap();
    }
    let mut terms: Vec<(String, i64)> = Vec::new();
    for r in raw.rows("SELECT rid, data FROM beneficiaries", params![]) {
        let data: Value = r.json(1).unwrap();
        let rid = r.i64(0).unwrap();
        terms.extend(
            sila_hq::sql::register::terms(&data)
                .into_iter()
                .map(|t| (t, rid)),
        );
    }
    for chunk in terms.chunks(500) {
        let mut sql = String::from("INSERT INTO register_terms (term, rid) VALUES ");
        let mut args: Vec<sila_hq::db::Val> = Vec::new();
        for (k, (t, rid)) in chunk.iter().enumerate() {
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(?{}, ?{})", 2 * k + 1, 2 * k + 2));
            args.push(t.into());
            args.push((*rid).into());
        }
        raw.execute(&sql, &args).unwrap();
    }
    people
}

#[test]
fn a_full_name_of_common_tokens_finds_the_first_people_received_and_passes_over_the_merged() {
    let (_d, hq, raw) = open();
    // More people than a token's range is sized up to (10,000) share every token of «محمد سعد
    // الدوسري», so the search reads the tokens' lists together (merged on PostgreSQL); one in
    // a hundred is «محمد فهد الدوسري», a rare token, which is walked.
    let names: Vec<&str> = (0..10_200)
        .map(|i| {
            if i % 100 == 7 {
                "محمد فهد الدوسري"
            } else {
                "محمد سعد الدوسري"
            }
        })
        .collect();
    let people = people_stored_directly(&raw, &names, &["الأفلاج", "مروان"]);
    // The first 40 people of Al-Aflaj were merged into others: passed over, so the first page
    // of the lists (400 people) holds fewer than the search ranks, and the next one is read.
    let merged: BTreeSet<&str> = people
        .iter()
        .filter(|(_, b)| b == "الأفلاج")
        .take(40)
        .map(|(id, _)| id.as_str())
        .collect();
    for id in &merged {
        raw.execute(
            "UPDATE beneficiaries SET merged_into = ?1 WHERE id = ?2",
            params![&people[10_199].0, *id],
        )
        .unwrap();
    }
    raw.execute("ANALYZE", params![]).unwrap();
    let expect = |name: &str, branch: Option<&str>| -> BTreeSet<String> {
        people
            .iter()
            .zip(&names)
            .filter(|((id, b), n)| {
                **n == name && !merged.contains(id.as_str()) && branch.is_none_or(|w| w == b)
            })
            .take(400)
            .map(|((id, _), _)| id.clone())
            .collect()
    };
    for (name, branch) in [
        ("محمد سعد الدوسري", None),
        ("محمد سعد الدوسري", Some("الأفلاج")),
        ("محمد سعد الدوسري", Some("مروان")),
        ("محمد فهد الدوسري", None),
        ("محمد فهد الدوسري", Some("الأفلاج")),
    ] {
        let q = RegisterQuery {
            q: name.into(),
            branch: branch.map(str::to_owned),
            ..Default::default()
        };
        let found: BTreeSet<String> = hq
            .register_export(&q, 1000)
            .unwrap()
            .into_iter()
            .map(|(_, b)| b.id.to_string())
            .collect();
        let want = expect(name, branch);
        assert_eq!(found.len(), want.len(), "{name} {branch:?}");
        assert_eq!(found, want, "{name} {branch:?}");
        let page = hq.register(&q).unwrap();
        assert_eq!(
            (page.total as usize, page.capped),
            (want.len(), want.len() >= 400),
            "{name} {branch:?}"
        );
    }
    // A search is planned once. PostgreSQL plans a prepared statement for its values until a
    // plan made without them looks no dearer, which for a rare token's range it never did: each
    // search of one was planned again. After seven more, the connection's statement that walked
    // the rare token (the one the pool hands back: it is the last one used) runs its kept plan.
    if raw.dialect() == Dialect::Postgres {
        let q = RegisterQuery {
            q: "محمد فهد الدوسري".into(),
            ..Default::default()
        };
        for _ in 0..7 {
            hq.register(&q).unwrap();
        }
        let plans: Vec<(i64, i64)> = raw
            .rows(
                "SELECT custom_plans, generic_plans FROM pg_prepared_statements
                 WHERE statement LIKE '%register_terms t JOIN beneficiaries b ON b.rid = t.rid%'
                   AND statement NOT LIKE '%pg_prepared_statements%'",
                params![],
            )
            .iter()
            .map(|r| (r.i64(0).unwrap(), r.i64(1).unwrap()))
            .filter(|(custom, generic)| custom + generic >= 7)
            .collect();
        assert!(!plans.is_empty());
        for (custom, generic) in plans {
            assert!(
                custom <= 5 && generic >= 2,
                "{custom} custom plans, {generic} generic"
            );
        }
    }
}

/// The committee queue's and the complaints' pages run on the plan PostgreSQL keeps for each
/// statement, not planned again at every page (at 1M cases that was 0.15–0.2 ms of a 0.5 ms
/// queue page). SQLite plans a statement once, when it is prepared: nothing to look at there.
#[test]
fn the_queue_and_complaints_pages_are_not_planned_again_at_each_page() {
    use sila_hq::db::Mode;
    use sila_hq::sql::{console, register};
    use sila_hq::store::console::CommitteeFilter;
    let (_d, hq, raw) = open();
    let (mut aflaj, _marwan, huda, _omar) = two_branches(&hq);
    let a = aflaj.person(&hq, "منيرة علي الحربي", |_| {});
    complaint(
        &mut aflaj,
        &hq,
        &a,
        huda,
        TaskKind::Complaint,
        "2026-03-05",
        None,
    );
    seed::case(
        &raw,
        1,
        &CaseSeed::with_the_committee(today() - Duration::days(20)),
    );
    let plans = sila_hq::db::run(&**hq.engine(), Mode::Read, |c| {
        let overdue = CommitteeFilter {
            branch: Some("الأفلاج".into()),
            promise: Some("overdue".into()),
        };
        for _ in 0..3 {
            let page = console::committee_queue(c, &overdue, None, 50, today())?;
            assert_eq!(page.rows.len(), 1);
            let voice = register::voice(c, &VoiceFilter::default(), today())?;
            assert_eq!(voice.rows.len(), 1);
        }
        if c.dialect() == Dialect::Sqlite {
            return Ok(Vec::new());
        }
        c.query(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             WHERE (statement LIKE '%FROM cases c LEFT JOIN beneficiaries%'
                    OR statement LIKE '%FROM voice_facts WHERE%')
               AND statement NOT LIKE '%pg_prepared_statements%'",
            params![],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.i64(1)?, r.i64(2)?)))
        .collect::<sila_hq::Result<Vec<_>>>()
    })
    .unwrap();
    if raw.dialect() == Dialect::Postgres {
        assert_eq!(plans.len(), 2, "{plans:?}");
        for (statement, generic, custom) in plans {
            assert_eq!((generic, custom), (3, 0), "{statement}");
        }
    }
}
