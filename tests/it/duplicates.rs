//! Duplicates across branches, end to end: two branches register one person two ways, HQ proposes
//! the pair, a reviewer merges choosing a field from the other file, both branches see the merge
//! after a real sync, the merge is undone and that reaches them too, and "not the same person"
//! is remembered.

use crate::harness::*;
use chrono::Utc;
use serde_json::json;
use sila_domain::beneficiary::{Beneficiary, PersonName};
use sila_domain::ids::BeneficiaryId;
use sila_hq::store::{HqActor, HqStore};

fn reviewer() -> HqActor {
    HqActor {
        staff_id: sila_domain::ids::StaffId::new_v7(),
        display_name: "مراجع المقر".into(),
    }
}

fn valid_id(first9: &str) -> sila_domain::national_id::NationalId {
    let check = sila_domain::national_id::checksum_digit(first9).unwrap();
    sila_domain::national_id::NationalId::parse(&format!("{first9}{check}")).unwrap()
}

fn register(branch: &mut Branch, name: &str, nid: Option<&str>, city: &str) -> String {
    let mut b = Beneficiary::new(BeneficiaryId::new_v7(), PersonName::from_full(name));
    b.national_id = nid.map(valid_id);
    b.birth_date = Some("1988-04-17".parse().unwrap());
    b.mobile = Some(sila_domain::phone::Mobile::parse("0551234567").unwrap());
    b.city = city.into();
    branch.store.create_beneficiary(&b).unwrap();
    b.id.to_string()
}

fn pair_open(hq: &Hq, x: &str, y: &str) -> bool {
    hq.store
        .duplicate_candidates(100)
        .unwrap()
        .iter()
        .any(|d| (d.a.id == x && d.b.id == y) || (d.a.id == y && d.b.id == x))
}

/// One person registered two ways, at two branches (with the ID at one, without it at the
/// other), both synced: HQ's duplicate search has them to propose.
async fn one_person_at_two_branches() -> (Hq, Branch, Branch, String, String) {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let mut b = Branch::enrolled(&hq, "مروان", &hq.url).await;
    let at_a = register(
        &mut a,
        "أحمد عبد الله بن سعد آل دوسري",
        Some("100200300"),
        "الأفلاج",
    );
    let at_b = register(&mut b, "احمد عبدالله سعد الدوسري", None, "ليلى");
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    (hq, a, b, at_a, at_b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_reaches_both_branches_and_its_undo_too() {
    let (hq, mut a, mut b, at_a, at_b) = one_person_at_two_branches().await;

    let pairs = hq.store.duplicate_candidates(100).unwrap();
    let d = pairs
        .iter()
        .find(|d| [&d.a.id, &d.b.id].contains(&&at_a) && [&d.a.id, &d.b.id].contains(&&at_b))
        .expect("the pair is proposed");
    assert!(!d.certain);
    assert!(d.score >= sila_domain::duplicates::THRESHOLD, "{d:?}");
    assert!(d.reasons.contains(&"same_birth_date".to_owned()), "{d:?}");

    // A chosen value must come from one of the two files; a refused merge changes nothing.
    let bad = hq.store.merge_duplicates(
        &at_a,
        &at_b,
        json!({"city": "الرياض"}).as_object().unwrap(),
        &reviewer(),
        Utc::now(),
    );
    assert!(bad.is_err());
    assert!(pair_open(&hq, &at_a, &at_b));

    let merge = hq
        .store
        .merge_duplicates(
            &at_a,
            &at_b,
            json!({"city": "ليلى"}).as_object().unwrap(),
            &reviewer(),
            Utc::now(),
        )
        .unwrap();
    assert!(
        !pair_open(&hq, &at_a, &at_b),
        "a merged pair leaves the queue"
    );
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    let merged_at_b = b.store.beneficiary(at_b.parse().unwrap()).unwrap().unwrap();
    assert_eq!(merged_at_b.merged_into.as_deref(), Some(at_a.as_str()));
    // The merged ID redirects to the survivor, which carries the value chosen from the other file.
    let opened = b.store.open_beneficiary(at_b.parse().unwrap()).unwrap();
    assert_eq!(opened.beneficiary.id.to_string(), at_a);
    let survivor_at_a = a.store.beneficiary(at_a.parse().unwrap()).unwrap().unwrap();
    assert_eq!(survivor_at_a.beneficiary.city, "ليلى");
    assert_eq!(
        hq.store.merges(10).unwrap()[0].chosen["city"]["from"],
        "merged"
    );

    hq.store.undo_merge(merge, &reviewer(), Utc::now()).unwrap();
    assert!(
        hq.store.undo_merge(merge, &reviewer(), Utc::now()).is_err(),
        "undone once"
    );
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    let back_at_b = b.store.beneficiary(at_b.parse().unwrap()).unwrap().unwrap();
    assert_eq!(back_at_b.merged_into, None);
    let back_at_a = a.store.beneficiary(at_a.parse().unwrap()).unwrap().unwrap();
    assert_eq!(
        back_at_a.beneficiary.city, "الأفلاج",
        "the survivor's own value is back"
    );
    assert!(
        pair_open(&hq, &at_a, &at_b),
        "an undone merge is proposed again"
    );

    // Merged again after the undo: a new merge, applied again at the branch.
    let again = hq
        .store
        .merge_duplicates(&at_a, &at_b, &Default::default(), &reviewer(), Utc::now())
        .unwrap();
    assert_ne!(again, merge);
    b.sync().await.unwrap();
    let merged_again = b.store.beneficiary(at_b.parse().unwrap()).unwrap().unwrap();
    assert_eq!(merged_again.merged_into.as_deref(), Some(at_a.as_str()));
    hq.store.undo_merge(again, &reviewer(), Utc::now()).unwrap();

    // "Not the same person" is remembered.
    hq.store
        .mark_not_same(&at_b, &at_a, &reviewer(), Utc::now())
        .unwrap();
    assert!(!pair_open(&hq, &at_a, &at_b));
    let audited: i64 = hq
        .read()
        .query_row(
            "SELECT count(*) FROM audit WHERE action IN ('duplicates.merge', 'duplicates.undo_merge', 'duplicates.not_same')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 5);
    // Everything a branch holds still matches HQ.
    a.sync_until_quiet(&opts()).await;
    b.sync_until_quiet(&opts()).await;
    assert_hq_holds(&hq, &a);
    assert_hq_holds(&hq, &b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_at_two_branches_is_certain_and_the_cli_prints_it() {
    let hq = Hq::start().await;
    let mut a = Branch::enrolled(&hq, "الأفلاج", &hq.url).await;
    let mut b = Branch::enrolled(&hq, "مروان", &hq.url).await;
    let x = register(&mut a, "نورة فهد سالم العتيبي", Some("100300400"), "الأفلاج");
    let y = register(&mut b, "سارة علي القحطاني", Some("100300400"), "مروان");
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    let pairs = hq.store.duplicate_candidates(100).unwrap();
    assert!(pairs[0].certain, "certain pairs come first: {pairs:?}");
    let ids = [pairs[0].a.id.clone(), pairs[0].b.id.clone()];
    assert!(ids.contains(&x) && ids.contains(&y));

    let out = std::process::Command::new(bin("hq"))
        .args(["--db", hq.db.as_str(), "duplicates", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &v[0];
    assert_eq!(first["certain"], true);
    assert_eq!(first["score"], 1.0);
    for side in ["a", "b"] {
        let keys: Vec<&str> = first[side]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["branch", "full_name", "id", "national_id"],
            "design.md's shape"
        );
    }
    assert!(
        first["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("same_national_id"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cached_search_follows_its_inputs_and_nothing_else() {
    use sila_hq::console::{ConsoleRole, ConsoleStore};
    let (hq, _a, mut b, x, y) = one_person_at_two_branches().await;
    assert!(pair_open(&hq, &x, &y));
    let inputs = || {
        hq.read()
            .query_row("SELECT version FROM duplicate_inputs", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
    };
    let before = inputs();

    // Console work (a staff account, a sign-in, audit rows) is not an input: the search stands.
    let staff = hq
        .store
        .add_console_staff(
            "rev",
            "مراجع",
            "reviewer-pass-1234",
            &[ConsoleRole::Reviewer],
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    hq.store
        .sign_in(
            "rev",
            "reviewer-pass-1234",
            chrono::Duration::hours(1),
            Utc::now(),
        )
        .unwrap();
    for _ in 0..3 {
        hq.store
            .audit(
                &sila_hq::store::Audit::new(
                    &staff.actor().unwrap(),
                    "beneficiary.view",
                    "beneficiary",
                    x.as_str(),
                ),
                Utc::now(),
            )
            .unwrap();
    }
    assert_eq!(
        inputs(),
        before,
        "audit rows and sessions leave the cached search standing"
    );

    // A new person at a branch is an input: the next search sees them.
    let z = register(&mut b, "أحمد عبدالله سعد آل الدوسري", None, "ليلى");
    b.sync().await.unwrap();
    assert!(inputs() > before);
    assert!(pair_open(&hq, &x, &z), "the new registration is proposed");

    // So is an edit: the branch corrects y's name to another person's, and the pair goes.
    let mut stored = b.store.beneficiary(y.parse().unwrap()).unwrap().unwrap();
    stored.beneficiary.name = PersonName::from_full("فهد ناصر علي المطيري");
    b.store
        .update_beneficiary(&stored.beneficiary, stored.version)
        .unwrap();
    b.sync().await.unwrap();
    assert!(
        !pair_open(&hq, &x, &y),
        "the corrected name is no longer proposed"
    );
}

/// The changes HQ made to a person, as a laptop's timeline shows them: (who, fields, when).
fn hq_changes(b: &Branch, id: &str) -> Vec<(String, Vec<String>, String)> {
    b.store
        .edits_of(&[id.to_owned()])
        .unwrap()
        .into_iter()
        .filter(|e| e.at_hq)
        .map(|e| (e.by, e.fields, e.at))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_and_its_undo_show_in_the_survivors_timeline_and_a_new_laptop_sees_them_too() {
    let (hq, mut a, _b, at_a, at_b) = one_person_at_two_branches().await;
    hq.store
        .merge_duplicates(
            &at_a,
            &at_b,
            json!({"city": "ليلى"}).as_object().unwrap(),
            &reviewer(),
            Utc::now(),
        )
        .unwrap();
    a.sync().await.unwrap();
    let city = vec!["city".to_owned()];
    let merged = hq_changes(&a, &at_a);
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!((merged[0].0.as_str(), &merged[0].1), ("مراجع المقر", &city));
    let merge = hq.store.merges(10).unwrap()[0].id;
    hq.store.undo_merge(merge, &reviewer(), Utc::now()).unwrap();
    a.sync().await.unwrap();
    let both = hq_changes(&a, &at_a);
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(both[1].1, city);

    // A laptop joining the branch afterwards takes the person with the changes HQ made before
    // it existed, as the laptop that lived through them shows them.
    let mut new = Branch::laptop(&hq, "الأفلاج", "salma").await;
    assert!(new.sync_until_quiet(&opts()).await.redownloaded);
    assert_eq!(hq_changes(&new, &at_a), both);
}
