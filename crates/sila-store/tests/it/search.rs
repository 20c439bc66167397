//! Search by any spelling a desk types.

use super::*;

fn names(store: &Store, q: &str) -> Vec<String> {
    store
        .search(q, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.full_name)
        .collect()
}

fn fixture() -> (tempfile::TempDir, Store) {
    let (dir, mut store, _) = new_store();
    for (name, id, phone) in [
        (
            "أحمد عبد الله سعد الدوسري",
            Some(valid_id("100200300")),
            Some("0551234567"),
        ),
        (
            "فاطمة محمد علي الزهراني",
            Some(valid_id("100200301")),
            Some("0509876543"),
        ),
        ("مُنِيرة ناصر فهد آل سعود", None, Some("0531112222")),
        (
            "ليلى إبراهيم موسى العنزي",
            Some(valid_id("200200302")),
            None,
        ),
        ("عبدالرحمن خالد بن سالم القحطانى", None, Some("0567778888")),
        ("أحمدي سالم العتيبي", None, None),
    ] {
        store
            .create_beneficiary(&person(name, id.as_deref(), phone))
            .unwrap();
    }
    // Filler so ranking and indexes are exercised beyond a handful of rows.
    store.generate_demo(500, 3, &mut |_, _| {}).unwrap();
    (dir, store)
}

#[test]
fn names_match_under_every_spelling_a_desk_types() {
    let (_dir, store) = fixture();
    let check = |query: &str, expected: &str| {
        let got = names(&store, query);
        assert_eq!(
            got.first().map(String::as_str),
            Some(expected),
            "query {query:?} gave {got:?}"
        );
    };
    // hamza forms of alef
    check("احمد عبدالله الدوسري", "أحمد عبد الله سعد الدوسري");
    check("إبراهيم ليلى", "ليلى إبراهيم موسى العنزي");
    check("ليلي ابراهيم", "ليلى إبراهيم موسى العنزي");
    // ta marbuta / ha and diacritics
    check("فاطمه الزهراني", "فاطمة محمد علي الزهراني");
    check("منيرة آل سعود", "مُنِيرة ناصر فهد آل سعود");
    check("منيره ال سعود", "مُنِيرة ناصر فهد آل سعود");
    check("منيرة السعود", "مُنِيرة ناصر فهد آل سعود");
    // tatweel and alef maqsura / ya
    check("فاطـــمة الزهرانى", "فاطمة محمد علي الزهراني");
    check("عبد الرحمن القحطاني", "عبدالرحمن خالد بن سالم القحطانى");
    // "عبد الله" / "عبدالله" both ways
    check("أحمد عبد الله", "أحمد عبد الله سعد الدوسري");
    check("احمد عبدالله", "أحمد عبد الله سعد الدوسري");
    // a prefix as it is being typed
    check("فاطم الزهر", "فاطمة محمد علي الزهراني");
}

#[test]
fn whole_words_rank_above_prefixes() {
    let (_dir, store) = fixture();
    let got = names(&store, "أحمد");
    let exact = got
        .iter()
        .position(|n| n == "أحمد عبد الله سعد الدوسري")
        .unwrap();
    let prefix = got.iter().position(|n| n == "أحمدي سالم العتيبي");
    assert!(prefix.is_none_or(|p| exact < p), "{got:?}");
}

#[test]
fn ids_and_mobiles_in_any_form_or_their_last_digits() {
    let (_dir, store) = fixture();
    let id = valid_id("100200300");
    let arabic_digits: String = id
        .chars()
        .map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    for q in [
        id.as_str(),
        &arabic_digits,
        "0551234567",
        "+966551234567",
        "966 55 123 4567",
        "4567",
        "٤٥٦٧",
        "1234567",
    ] {
        let got = names(&store, q);
        assert_eq!(
            got.first().map(String::as_str),
            Some("أحمد عبد الله سعد الدوسري"),
            "query {q:?} gave {got:?}"
        );
    }
    // the beginning of an ID finds it too
    assert!(names(&store, &id[..6]).contains(&"أحمد عبد الله سعد الدوسري".to_owned()));
    // a name narrowed by a phone tail
    assert_eq!(names(&store, "أحمد 4567"), ["أحمد عبد الله سعد الدوسري"]);
}

#[test]
fn queries_are_never_syntax_and_never_fail() {
    let (_dir, store) = fixture();
    for q in [
        "\"",
        "*",
        "NEAR(a b)",
        "a OR b",
        "' OR 1=1 --",
        "",
        "   ",
        "ـــ",
        "^",
        "(",
        "عبد",
        "ال",
    ] {
        store
            .search(q, 10)
            .unwrap_or_else(|e| panic!("query {q:?} failed: {e}"));
    }
}

#[test]
fn merged_records_are_not_found() {
    let (_dir, store) = fixture();
    let hit = store.search("فاطمة الزهراني", 1).unwrap().remove(0);
    store
        .conn()
        .execute(
            "UPDATE beneficiaries SET merged_into = 'x' WHERE id = ?1",
            [&hit.id],
        )
        .unwrap();
    assert!(!names(&store, "فاطمة الزهراني").contains(&"فاطمة محمد علي الزهراني".to_owned()));
}

/// Names are indexed once per transaction (migrations/branch/0004_fts_batched.sql): a person is
/// found right after the write that created them, and after a rename only under the new name.
#[test]
fn the_name_index_follows_creations_and_renames() {
    let (_dir, mut store) = fixture();
    let ids = |store: &Store, q: &str| -> Vec<String> {
        store
            .search(q, 50)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    };
    let before = ids(&store, "فاطمة محمد علي الزهراني");
    let id = before[0].clone();
    let stored = store.beneficiary(id.parse().unwrap()).unwrap().unwrap();
    assert_eq!(stored.beneficiary.name.full(), "فاطمة محمد علي الزهراني");
    let mut renamed = stored.beneficiary.clone();
    renamed.name = sila_domain::beneficiary::PersonName::from_full("فاطمة محمد علي القرشاوي");
    store.update_beneficiary(&renamed, stored.version).unwrap();
    assert!(
        !ids(&store, "الزهراني").contains(&id),
        "the old name left the index"
    );
    assert_eq!(ids(&store, "القرشاوي"), vec![id.clone()]);
    // Rows created in batches of thousands are all found, and the renamed person still is.
    let report = store.generate_demo(6000, 9, &mut |_, _| {}).unwrap();
    assert!(report.beneficiaries > 5000);
    assert_eq!(ids(&store, "فاطمه القرشاوي"), vec![id]);
}
