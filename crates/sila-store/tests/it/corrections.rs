//! Correcting records after submission: a person's file and a request's need, support type and
//! documents, each edit validated, per field, audited and named in the timeline; two
//! registrations of one person merged at the branch, and the merge undone.

use super::*;
use crate::tasks::submitted_case;
use sila_domain::case::{CaseState, Transition};
use sila_domain::staff::Role;
use sila_store::StoreError;
use sila_store::demo::PNG_1X1;

fn ops(store: &Store) -> Vec<sila_store::outbox::Op> {
    sila_store::outbox::pending(store.conn(), 0, 100_000).unwrap()
}

#[test]
fn a_persons_file_is_corrected_field_by_field_and_the_timeline_says_so() {
    let (_dir, mut store, clock) = new_store();
    let c = submitted_case(&mut store, "منيرة سعد السبيعي", "100000011");
    let stored = store.beneficiary(c.beneficiary_id).unwrap().unwrap();
    let mut b = stored.beneficiary.clone();
    b.city = "مروان".into();
    b.mobile = Some(sila_domain::phone::Mobile::parse("0559998877").unwrap());
    clock.advance_days(1);
    let v = store.update_beneficiary(&b, stored.version).unwrap();
    assert_eq!(v, stored.version + 1);
    let edits = store.edits_of(&[c.beneficiary_id.to_string()]).unwrap();
    assert_eq!(edits.len(), 1);
    let mut fields = edits[0].fields.clone();
    fields.sort();
    assert_eq!(fields, ["city", "mobile"]);
    assert_eq!(edits[0].by, "مدير الفرع");
    assert_eq!(edits[0].action, "beneficiary.update");
    // A correction that the domain refuses writes nothing.
    let mut bad = b.clone();
    bad.birth_date = Some(clock.clock()().date_naive() + chrono::Days::new(3));
    assert_eq!(
        store.update_beneficiary(&bad, v).unwrap_err().code(),
        "invalid_input"
    );
    assert_eq!(
        store
            .edits_of(&[c.beneficiary_id.to_string()])
            .unwrap()
            .len(),
        1
    );
    // Someone else's edit since the form was read is not overwritten.
    assert!(matches!(
        store.update_beneficiary(&b, stored.version),
        Err(StoreError::VersionConflict { .. })
    ));
}

/// HQ's state of a person after edits in its register, as the branch's feed brings it.
fn hq_state(b: &Beneficiary, version: i64, edits: serde_json::Value) -> sila_store::sync::HqChange {
    sila_store::sync::HqChange {
        seq: version,
        kind: "beneficiary".into(),
        entity_id: b.id.to_string(),
        payload: serde_json::json!({"version": version, "data": b, "hq_edits": edits}).to_string(),
    }
}

#[test]
fn an_edit_made_at_hq_arrives_by_sync_and_the_timeline_names_who_and_which_fields() {
    let (_dir, mut store, _clock) = new_store();
    let c = submitted_case(&mut store, "هيا عبدالله الدوسري", "100000013");
    let mut b = store
        .beneficiary(c.beneficiary_id)
        .unwrap()
        .unwrap()
        .beneficiary;
    let before = store.edits_of(&[b.id.to_string()]).unwrap().len();
    b.mobile = Some(sila_domain::phone::Mobile::parse("0551112233").unwrap());
    let first = serde_json::json!([
        {"version": 5, "at": "2026-03-11T08:30:00Z", "by": "ريم الحربي", "fields": ["mobile"]}
    ]);
    assert_eq!(
        store
            .apply_hq_changes(&[hq_state(&b, 5, first.clone())], 5)
            .unwrap(),
        1
    );
    let edits = store.edits_of(&[b.id.to_string()]).unwrap();
    assert_eq!(edits.len(), before + 1);
    let e = edits.last().unwrap();
    assert!(e.at_hq);
    assert_eq!(
        (e.by.as_str(), e.action.as_str(), e.fields.as_slice()),
        (
            "ريم الحربي",
            "beneficiary.hq_edit",
            ["mobile".to_owned()].as_slice()
        )
    );
    assert_eq!(e.at, "2026-03-11T08:30:00+00:00");
    // The value is the record's, never the audit's.
    let details: Vec<String> = store
        .conn()
        .prepare("SELECT detail FROM audit_events WHERE detail IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        details.iter().all(|d| !d.contains("1112233")),
        "{details:?}"
    );
    assert_eq!(
        store.beneficiary(b.id).unwrap().unwrap().beneficiary.mobile,
        b.mobile
    );
    // The same page again (a pass cut before its cursor was kept) shows nothing twice; the next
    // state lists the earlier edit too, and only the new one joins the timeline.
    store
        .apply_hq_changes(&[hq_state(&b, 5, first)], 5)
        .unwrap();
    assert_eq!(
        store.edits_of(&[b.id.to_string()]).unwrap().len(),
        before + 1
    );
    b.city = "الأفلاج".into();
    let both = serde_json::json!([
        {"version": 5, "at": "2026-03-11T08:30:00Z", "by": "ريم الحربي", "fields": ["mobile"]},
        {"version": 6, "at": "2026-03-11T09:00:00Z", "by": "سلمان القرني", "fields": ["city"]}
    ]);
    store.apply_hq_changes(&[hq_state(&b, 6, both)], 6).unwrap();
    let edits = store.edits_of(&[b.id.to_string()]).unwrap();
    assert_eq!(edits.len(), before + 2);
    assert_eq!(edits.last().unwrap().by, "سلمان القرني");
    assert_eq!(edits.last().unwrap().fields, ["city"]);
    // The branch's own corrections still name the branch's staff member.
    assert!(
        edits
            .iter()
            .filter(|e| !e.at_hq)
            .all(|e| e.by != "ريم الحربي")
    );
}

#[test]
fn a_person_new_to_this_laptop_arrives_with_every_change_hq_sent_and_the_count_of_older_ones() {
    let (_dir, mut store, _clock) = new_store();
    let mut b = Beneficiary::new(
        sila_domain::ids::BeneficiaryId::new_v7(),
        sila_domain::beneficiary::PersonName::from_full("سارة علي الغامدي"),
    );
    b.city = "الأفلاج".into();
    let edits: Vec<serde_json::Value> = ["city", "mobile", "name"]
        .iter()
        .zip(0..)
        .map(|(field, n)| {
            serde_json::json!({"version": 30 + n, "at": format!("2026-03-1{n}T08:00:00Z"),
                "by": "سلمان القرني", "fields": [field]})
        })
        .collect();
    let mut change = hq_state(&b, 32, serde_json::Value::Array(edits.clone()));
    let mut payload: serde_json::Value = serde_json::from_str(&change.payload).unwrap();
    payload["hq_edits_older"] = serde_json::json!(27);
    change.payload = payload.to_string();
    assert_eq!(store.apply_hq_changes(&[change.clone()], 32).unwrap(), 1);
    let timeline = store.edits_of(&[b.id.to_string()]).unwrap();
    let shown: Vec<(i64, &str, Vec<String>)> = timeline
        .iter()
        .map(|e| (e.older, e.by.as_str(), e.fields.clone()))
        .collect();
    assert_eq!(
        shown,
        [
            (27, "", vec![]),
            (0, "سلمان القرني", vec!["city".to_owned()]),
            (0, "سلمان القرني", vec!["mobile".to_owned()]),
            (0, "سلمان القرني", vec!["name".to_owned()]),
        ]
    );
    assert!(timeline.iter().all(|e| e.at_hq));
    // The same state again (a re-download cut short and taken again) adds nothing.
    store.apply_hq_changes(&[change], 32).unwrap();
    assert_eq!(store.edits_of(&[b.id.to_string()]).unwrap().len(), 4);
}

#[test]
fn a_request_is_corrected_while_the_branch_holds_it_and_resubmitted_with_its_documents() {
    let (_dir, mut store, _clock) = new_store();
    let c = submitted_case(&mut store, "خالد محمد القحطاني", "100000012");
    let version = store.case(c.id).unwrap().unwrap().version;
    // Wrong support type: rent needs a lease and proof of income, and keeps what is attached.
    let e = store
        .correct_case(c.id, version, " ", "nonsense")
        .unwrap_err();
    match e {
        StoreError::Invalid(f) => {
            let names: Vec<&str> = f.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["need", "support_type"]);
        }
        other => panic!("{other:?}"),
    }
    let fixed = store
        .correct_case(c.id, version, "إيجار متأخر ثلاثة أشهر", "rent")
        .unwrap();
    assert_eq!(fixed.support_type, "rent");
    let codes: Vec<(&str, bool, bool)> = fixed
        .documents
        .iter()
        .map(|d| (d.code.as_str(), d.required, d.attachment.is_some()))
        .collect();
    assert_eq!(
        codes,
        [
            ("national_id", true, true),
            ("family_card", true, true),
            ("lease", true, false),
            ("income_proof", true, false)
        ]
    );
    let op = ops(&store).pop().unwrap();
    assert_eq!(op.op, "case.update");
    let mut changed: Vec<&String> = op.payload["fields"].as_object().unwrap().keys().collect();
    changed.sort();
    assert_eq!(changed, ["documents", "need", "support_type"]);
    assert!(
        store.correct_case(c.id, version, "x", "rent").is_err(),
        "based on an old version"
    );

    // Returned as incomplete: the missing documents come, then it is resubmitted from its file.
    store
        .transition(c.id, Transition::ReturnIncomplete, "عقد الإيجار ناقص")
        .unwrap();
    assert_eq!(
        store
            .transition(c.id, Transition::Resubmit, "")
            .unwrap_err()
            .code(),
        "documents_missing"
    );
    for code in ["lease", "income_proof"] {
        store.attach_document(c.id, code, PNG_1X1).unwrap();
        store.mark_seen_in_original(c.id, code, true).unwrap();
    }
    // A document the checklist does not list (one the committee asked for) joins it, not
    // required; a kind the catalog does not know is refused.
    let with_iban = store.attach_document(c.id, "bank_iban", PNG_1X1).unwrap();
    let iban = with_iban
        .documents
        .iter()
        .find(|d| d.code == "bank_iban")
        .unwrap();
    assert!(!iban.required && iban.attachment.is_some());
    assert_eq!(
        store
            .attach_document(c.id, "selfie", PNG_1X1)
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    let c2 = store.transition(c.id, Transition::Resubmit, "").unwrap();
    assert_eq!(c2.state, CaseState::Submitted);
    assert!(c2.documents.iter().any(|d| d.code == "bank_iban"));
    assert_eq!(
        c2.promised_reply_date, c.promised_reply_date,
        "the promise never moves"
    );

    // With the committee, the branch no longer corrects it.
    let c3 = store
        .transition(c.id, Transition::SendToCommittee, "")
        .unwrap();
    let v = store.case(c.id).unwrap().unwrap().version;
    assert!(!c3.correctable());
    assert_eq!(
        store
            .correct_case(c.id, v, "غير ذلك", "rent")
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

#[test]
fn two_registrations_of_one_person_merge_here_and_the_merge_is_undone() {
    let (_dir, mut store, clock) = new_store();
    store
        .add_staff("research", "الباحثة", &[Role::Researcher], "pass-word-1234")
        .unwrap();
    let first = person("منيرة سعد السبيعي", None, Some("0551234567"));
    store.create_beneficiary(&first).unwrap();
    let mut second = person("منيره سعد السبيعى", Some(&valid_id("100000013")), None);
    second.city = "مروان".into();
    store.create_beneficiary(&second).unwrap();
    let c = store
        .create_case(
            second.id,
            "food_basket",
            sila_domain::catalog::Channel::Phone,
        )
        .unwrap();

    // Each chosen value must be one of the two records'.
    let mut chosen = serde_json::Map::new();
    chosen.insert("city".into(), serde_json::json!("الرياض"));
    assert_eq!(
        store
            .merge_beneficiaries(first.id, second.id, &chosen)
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    let mut chosen = serde_json::Map::new();
    chosen.insert("national_id".into(), serde_json::json!(second.national_id));
    chosen.insert("city".into(), serde_json::json!("مروان"));
    chosen.insert("name".into(), serde_json::to_value(&first.name).unwrap());
    clock.advance_days(1);
    let merge_id = store
        .merge_beneficiaries(first.id, second.id, &chosen)
        .unwrap();
    let kept = store.beneficiary(first.id).unwrap().unwrap();
    assert_eq!(kept.beneficiary.national_id, second.national_id);
    assert_eq!(kept.beneficiary.city, "مروان");
    assert_eq!(kept.beneficiary.mobile, first.mobile);
    assert_eq!(kept.beneficiary.name, first.name);
    let gone = store.beneficiary(second.id).unwrap().unwrap();
    assert_eq!(
        gone.merged_into.as_deref(),
        Some(first.id.to_string().as_str())
    );
    assert_eq!(store.stats().unwrap().beneficiaries, 1);
    assert_eq!(store.merged_into(first.id).unwrap(), [second.id]);
    // The merged registration's file opens as the survivor's, with its request.
    assert_eq!(
        store.open_beneficiary(second.id).unwrap().beneficiary.id,
        first.id
    );
    assert_eq!(
        store.case(c.id).unwrap().unwrap().case.beneficiary_id,
        second.id
    );
    let op = ops(&store).pop().unwrap();
    assert_eq!(op.op, "beneficiary.merge");
    assert_eq!(op.payload["merge_id"], merge_id.as_str());
    assert_eq!(op.payload["survivor_id"], first.id.to_string().as_str());
    assert_eq!(op.payload["merged_id"], second.id.to_string().as_str());
    assert_eq!(op.payload["chosen"]["city"], "مروان");
    // Merged records are not merged again, nor into themselves.
    assert!(
        store
            .merge_beneficiaries(first.id, second.id, &serde_json::Map::new())
            .is_err()
    );
    assert!(
        store
            .merge_beneficiaries(first.id, first.id, &serde_json::Map::new())
            .is_err()
    );
    // Someone without the right may not.
    drop(store);

    let mut store = Store::open_with(_dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    // The city is corrected after the merge; undo keeps that correction and says so.
    let now = store.beneficiary(first.id).unwrap().unwrap();
    let mut b = now.beneficiary.clone();
    b.city = "الأفلاج".into();
    store.update_beneficiary(&b, now.version).unwrap();
    let kept_fields = store.unmerge_beneficiaries(&merge_id).unwrap();
    assert_eq!(kept_fields, ["city"]);
    let back = store.beneficiary(first.id).unwrap().unwrap().beneficiary;
    assert_eq!(back.national_id, None, "the ID it took goes back");
    assert_eq!(back.city, "الأفلاج");
    assert_eq!(
        store.beneficiary(second.id).unwrap().unwrap().merged_into,
        None
    );
    assert_eq!(store.stats().unwrap().beneficiaries, 2);
    let op = ops(&store).pop().unwrap();
    assert_eq!(op.op, "beneficiary.unmerge");
    assert_eq!(op.payload["merge_id"], merge_id.as_str());
    assert!(
        store.unmerge_beneficiaries(&merge_id).is_err(),
        "undone once"
    );
    let merges = store.branch_merges(first.id).unwrap();
    assert_eq!(merges.len(), 1);
    assert!(merges[0].undone_at.is_some());
}
