//! File numbers survive an export and an import: the export's "رقم الملف" is read back, checked
//! against the branch's form, stored as the person's file number and found by search; a number that
//! would name two people is refused row by row, never written over another.

use super::*;
use sila_store::exporting::ExportFormat;
use sila_store::import::ImportReport;

fn import(store: &mut Store, dir: &std::path::Path, csv: &str) -> ImportReport {
    let path = dir.join("sheet.csv");
    std::fs::write(&path, csv).unwrap();
    store.import_file(&path, &mut |_| {}).unwrap()
}

/// (file number, national ID, name) of everyone holding a file number.
fn numbered(store: &Store) -> Vec<(String, Option<String>, String)> {
    let mut out = Vec::new();
    store
        .all_beneficiaries(|b| {
            if let Some(f) = b.file_number {
                out.push((
                    f,
                    b.national_id.map(|n| n.as_str().to_owned()),
                    b.name.full(),
                ));
            }
            Ok(())
        })
        .unwrap();
    out
}

fn refusals(report: &ImportReport) -> Vec<(usize, &str)> {
    report
        .rejected
        .iter()
        .map(|r| (r.row, r.code.as_str()))
        .collect()
}

fn round_trip(format: ExportFormat, seed: u64) {
    let (dir, mut store, _) = new_store();
    store.generate_demo(80, seed, &mut |_, _| {}).unwrap();
    let expected = numbered(&store);
    assert!(
        expected.len() >= 30,
        "the demo gives half its people a file: {}",
        expected.len()
    );
    let out = dir.path().join(match format {
        ExportFormat::Csv => "out.csv",
        ExportFormat::Xlsx => "out.xlsx",
    });
    store.export(format, &out).unwrap();

    let (_dir2, mut fresh, _) = new_store();
    let report = fresh.import_file(&out, &mut |_| {}).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(numbered(&fresh).len(), expected.len());
    for (file_number, national_id, name) in &expected {
        // As written on the paper file, and as someone types it in small letters.
        for query in [file_number.clone(), file_number.to_lowercase()] {
            let hits = fresh.search(&query, 5).unwrap();
            assert_eq!(hits.len(), 1, "{format:?}: one person per file number");
            assert_eq!(&hits[0].national_id, national_id, "{format:?}");
            assert_eq!(&hits[0].full_name, name, "{format:?}");
        }
    }
    // The numbers are another laptop's: this store's own counter is untouched.
    let counter: Option<i64> = fresh
        .conn()
        .query_row("SELECT value FROM counters WHERE name = 'file'", [], |r| {
            r.get(0)
        })
        .ok();
    assert_eq!(counter, None);
}

#[test]
fn an_export_imported_into_a_fresh_store_finds_everyone_by_file_number_csv() {
    round_trip(ExportFormat::Csv, 21);
}

#[test]
fn an_export_imported_into_a_fresh_store_finds_everyone_by_file_number_xlsx() {
    round_trip(ExportFormat::Xlsx, 22);
}

#[test]
fn a_file_number_that_would_name_two_people_is_refused_row_by_row() {
    let (dir, mut store, _) = new_store();
    let ids: Vec<String> = (1..=6)
        .map(|i| valid_id(&format!("10{i}0{i}0{i}0{i}")))
        .collect();
    let header = "الاسم الكامل,رقم الهوية,الجوال,رقم الملف";
    let first = import(
        &mut store,
        dir.path(),
        &format!(
            "{header}\n\
             محمد عبد الله سعد الدوسري,{},,AFL-X2Z-F00001\n\
             نورة فهد سالم العتيبي,{},,AFL-X2Z-F00002\n\
             سارة علي محمد القحطاني,{},,afl-x2z-f00002\n\
             فهد ناصر علي الشهري,{},,AFL-X2Z-F0002\n\
             خالد سعد فهد المري,,0551239876,AFL-X2Z-F00005\n",
            ids[0], ids[1], ids[2], ids[3]
        ),
    );
    assert_eq!(first.imported, 2, "{:?}", first.rejected);
    assert_eq!(
        refusals(&first),
        [
            (3, "file_number_repeated"),
            (4, "file_number_repeated"),
            (5, "bad_file_number")
        ]
    );
    for r in &first.rejected {
        assert_eq!(r.column, "رقم الملف");
        assert!(
            r.message
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
            "an Arabic reason"
        );
        assert!(!r.message.contains("X2Z"), "the reason quotes the cell");
    }
    assert!(first.rejected[0].message.contains('4'), "row 3 names row 4");
    // Nothing of the refused rows was stored.
    assert!(store.search("AFL-X2Z-F00002", 5).unwrap().is_empty());
    assert_eq!(store.stats().unwrap().beneficiaries, 2);

    let second = import(
        &mut store,
        dir.path(),
        &format!(
            "{header}\n\
             عبدالعزيز محمد سعد الغامدي,{},,AFL-X2Z-F00001\n\
             محمد عبد الله سعد الدوسري,{},,AFL-X2Z-F00009\n",
            ids[4], ids[0]
        ),
    );
    assert_eq!(
        refusals(&second),
        [(2, "duplicate_file_number"), (3, "file_number_differs")]
    );
    assert_eq!(
        (second.imported, second.updated, second.unchanged),
        (0, 0, 0)
    );
    let hits = store.search("AFL-X2Z-F00001", 5).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].national_id.as_deref(), Some(ids[0].as_str()));

    // The same number for the same person changes nothing; someone without a national ID is
    // known by their file number: a new mobile updates them, it does not register them twice.
    let third = import(
        &mut store,
        dir.path(),
        &format!(
            "{header}\n\
             محمد عبد الله سعد الدوسري,{},,AFL-X2Z-F00001\n\
             خالد سعد فهد المري,,0501112222,AFL-X2Z-F00005\n",
            ids[0]
        ),
    );
    assert_eq!(
        (third.imported, third.updated, third.unchanged),
        (0, 1, 1),
        "{third:?}"
    );
    let hits = store.search("AFL-X2Z-F00005", 5).unwrap();
    assert_eq!(hits[0].phone.as_deref(), Some("+966501112222"));
    assert_eq!(store.stats().unwrap().beneficiaries, 2);
}

#[test]
fn a_file_number_of_this_laptop_brought_back_is_never_given_again() {
    let (dir, mut store, _) = new_store();
    let prefix = store.session().number_prefix.clone();
    let own = sila_domain::beneficiary::file_number(&prefix, 41);
    let report = import(
        &mut store,
        dir.path(),
        &format!(
            "الاسم الكامل,رقم الهوية,رقم الملف\nمحمد عبد الله سعد الدوسري,{},{own}\n",
            valid_id("101010101")
        ),
    );
    assert_eq!(report.imported, 1, "{:?}", report.rejected);
    let counter: i64 = store
        .conn()
        .query_row("SELECT value FROM counters WHERE name = 'file'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(counter, 41, "the next file this laptop opens is 42");
}

/// A store from before file numbers had a column of their own finds its people by them once
/// opened: the migration fills the column from the records.
#[test]
fn a_store_from_before_finds_its_people_by_file_number() {
    let (dir, mut store, clock) = new_store();
    store.generate_demo(20, 4, &mut |_, _| {}).unwrap();
    let expected = numbered(&store);
    assert!(!expected.is_empty());
    store
        .conn()
        .execute_batch(
            "DROP INDEX beneficiaries_file_number;
             ALTER TABLE beneficiaries DROP COLUMN file_number;",
        )
        .unwrap();
    rewind_to_before(&store, "0013_file_numbers");
    drop(store);
    let store = Store::open_with(dir.path(), "admin", PASSWORD, clock.clock()).unwrap();
    for (file_number, national_id, _) in &expected {
        let hits = store.search(file_number, 5).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(&hits[0].national_id, national_id);
    }
}
