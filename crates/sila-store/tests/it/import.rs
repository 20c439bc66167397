//! Importing beneficiary sheets: idempotent, all-or-nothing, row-level refusals, round trips.

use super::*;
use proptest::prelude::*;
use sila_store::exporting::ExportFormat;
use sila_store::import::ImportProgress;

fn write(dir: &std::path::Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn sheet() -> String {
    let (a, b) = (valid_id("101010101"), valid_id("202020202"));
    format!(
        "الاسم الرباعي,رقم السجل المدني,رقم الجوال,تاريخ الميلاد,الجنس,المدينة,الحي,عدد أفراد الأسرة,الدخل الشهري\n\
         محمد عبد الله سعد الدوسري,{a},0551234567,1410/05/12,ذكر,الأفلاج,الروضة,6,3500\n\
         نورة فهد سالم العتيبي,{b},+966 50 111 2222,12-05-1400هـ,أنثى,مروان,,4,\"2,800.50\"\n\
         سارة علي القحطاني,,٠٥٤٣٢١٠٩٨٧,1995-03-01,أنثى,الأفلاج,الخالدية,3,1200\n\
         ,1111111111,12345,1499/13/40,?,x,y,many,lots\n\
         <script>alert(1)</script> عبدالله,,,,,,,,\n"
    )
}

#[test]
fn a_charity_sheet_imports_once_and_again_changes_nothing() {
    let (dir, mut store, _) = new_store();
    let file = write(dir.path(), "sheet.csv", sheet().as_bytes());
    let mut saw_progress = false;
    let report = store
        .import_file(&file, &mut |p| {
            saw_progress |= matches!(p, ImportProgress::Saving { .. })
        })
        .unwrap();
    assert!(saw_progress);
    assert_eq!(
        (report.imported, report.updated, report.unchanged),
        (4, 0, 0),
        "{report:?}"
    );
    // Row 5 (the header is row 1) fails on every cell, each reported with its column and code.
    let row5: Vec<_> = report
        .rejected
        .iter()
        .filter(|r| r.row == 5)
        .map(|r| r.code.as_str())
        .collect();
    assert!(row5.contains(&"required"), "{row5:?}");
    assert!(
        report
            .rejected
            .iter()
            .all(|r| r.row == 5 && !r.message.is_empty())
    );
    assert!(
        report
            .rejected
            .iter()
            .all(|r| !r.message.contains("1111111111")),
        "no cell values in messages"
    );

    // Markup in a name is a name.
    let hits = store.search("عبدالله", 10).unwrap();
    assert!(
        hits.iter()
            .any(|h| h.full_name == "<script>alert(1)</script> عبدالله")
    );
    // Hijri birth dates are stored Gregorian.
    let nura = store.search(&valid_id("202020202"), 1).unwrap().remove(0);
    let nura = store
        .beneficiary(nura.id.parse().unwrap())
        .unwrap()
        .unwrap()
        .beneficiary;
    assert_eq!(nura.birth_date.unwrap().to_string(), "1980-03-29");
    assert_eq!(nura.monthly_income(), 280_050);

    let pending = store.stats().unwrap().pending_changes;
    let again = store.import_file(&file, &mut |_| {}).unwrap();
    assert_eq!(
        (again.imported, again.updated, again.unchanged),
        (0, 0, 4),
        "{again:?}"
    );
    assert_eq!(
        store.stats().unwrap().pending_changes,
        pending,
        "re-import writes nothing"
    );

    // A changed cell updates just that person.
    let changed = sheet().replace("الروضة", "الهدار");
    let file2 = write(dir.path(), "sheet2.csv", changed.as_bytes());
    let third = store.import_file(&file2, &mut |_| {}).unwrap();
    assert_eq!((third.imported, third.updated, third.unchanged), (0, 1, 3));
}

#[test]
fn an_interrupted_import_leaves_nothing_behind() {
    let (dir, mut store, _) = new_store();
    let mut csv = String::from("name,national_id\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "مستفيد رقم{i} الدوسري,{}\n",
            valid_id(&format!("1{:08}", i))
        ));
    }
    let file = write(dir.path(), "big.csv", csv.as_bytes());
    let before = store.stats().unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.import_file(&file, &mut |p| {
            if let ImportProgress::Saving { done, .. } = p
                && done >= 2000
            {
                panic!("power cut");
            }
        })
    }));
    assert!(result.is_err());
    assert_eq!(store.stats().unwrap(), before);
    let report = store.import_file(&file, &mut |_| {}).unwrap();
    assert_eq!(report.imported, 3000);
}

#[test]
fn bad_files_get_a_clear_error_and_change_nothing() {
    let (dir, mut store, _) = new_store();
    let before = store.stats().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage.xlsx",
            b"PK\x03\x04 this is not a zip at all".to_vec(),
            "",
        ),
        (
            "random.xlsx",
            (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            "",
        ),
        ("empty.csv", Vec::new(), ""),
        (
            "noname.csv",
            "رقم الهوية,الجوال\n1000000008,0551234567\n"
                .as_bytes()
                .to_vec(),
            "no_name_column",
        ),
        (
            "binary.csv",
            vec![0xff, 0xfe, 0x00, 0x41, 0x00, 0x0a, 0xc3, 0x28],
            "",
        ),
    ];
    for (name, bytes, code) in cases {
        let file = write(dir.path(), name, &bytes);
        let e = store.import_file(&file, &mut |_| {}).unwrap_err();
        assert_eq!(e.code(), "invalid_input", "{name}");
        let message = e.arabic_message();
        assert!(
            !message.is_empty() && sila_domain::arabic::contains_arabic(&message),
            "{name}: {message}"
        );
        if !code.is_empty() {
            match &e {
                sila_store::StoreError::Invalid(f) => assert_eq!(f[0].code, code),
                _ => unreachable!(),
            }
        }
    }
    assert_eq!(store.stats().unwrap(), before);
}

#[test]
fn invalid_utf8_rows_and_huge_cells_are_refused_row_by_row() {
    let (dir, mut store, _) = new_store();
    let mut bytes = "الاسم,المدينة\nسعد فهد الشمري,الأفلاج\n".as_bytes().to_vec();
    bytes.extend_from_slice(b"\xc3\x28\xa0\xa1,x\n");
    bytes.extend_from_slice(format!("خالد علي الحربي,{}\n", "م".repeat(100_000)).as_bytes());
    bytes.extend_from_slice("هيا سعد المطيري,مروان\n".as_bytes());
    let file = write(dir.path(), "mixed.csv", &bytes);
    let report = store.import_file(&file, &mut |_| {}).unwrap();
    assert_eq!(report.imported, 2);
    let codes: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.row, r.code.as_str()))
        .collect();
    assert_eq!(codes, [(3, "invalid_encoding"), (4, "cell_too_long")]);
}

#[test]
fn xlsx_sheets_import_like_csv() {
    let (dir, mut store, _) = new_store();
    let path = dir.path().join("sheet.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["الاسم الكامل", "رقم الهوية", "الجوال", "تاريخ الميلاد"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "بدر ماجد سعود الحربي").unwrap();
    // IDs and phones kept as numbers by Excel users.
    ws.write_number(1, 1, valid_id("103030303").parse::<f64>().unwrap())
        .unwrap();
    ws.write_number(1, 2, 551239876.0).unwrap();
    ws.write_string(1, 3, "1412/01/01").unwrap();
    wb.save(&path).unwrap();
    let report = store.import_file(&path, &mut |_| {}).unwrap();
    assert_eq!(report.imported, 1, "{report:?}");
    let hit = store.search("9876", 1).unwrap().remove(0);
    assert_eq!(
        hit.national_id.as_deref(),
        Some(valid_id("103030303").as_str())
    );
    assert_eq!(hit.phone.as_deref(), Some("+966551239876"));
}

fn roundtrip(format: ExportFormat, rows: usize, seed: u64) {
    let (dir, mut store, _) = new_store();
    store.generate_demo(rows, seed, &mut |_, _| {}).unwrap();
    let out = dir.path().join(match format {
        ExportFormat::Csv => "out.csv",
        ExportFormat::Xlsx => "out.xlsx",
    });
    let written = store.export(format, &out).unwrap();
    if format == ExportFormat::Csv {
        assert_eq!(written.len(), 2);
        let bytes = std::fs::read(&written[0]).unwrap();
        assert!(
            bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
            "UTF-8 BOM so Excel shows Arabic"
        );
    }
    // Importing our own export into the same store changes nothing.
    let pending = store.stats().unwrap().pending_changes;
    let report = store.import_file(&out, &mut |_| {}).unwrap();
    assert_eq!(
        report.imported + report.updated,
        0,
        "{format:?}: {report:?}"
    );
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(store.stats().unwrap().pending_changes, pending);

    // And into a new store it gives the same people: a second export is identical row for row
    // in every column a sheet carries.
    let (dir2, mut other, _) = new_store();
    let first = other.import_file(&out, &mut |_| {}).unwrap();
    assert_eq!(first.imported as i64, store.stats().unwrap().beneficiaries);
    let again = other.import_file(&out, &mut |_| {}).unwrap();
    assert_eq!(again.unchanged, first.imported);
    let out2 = dir2.path().join("again.csv");
    other.export(ExportFormat::Csv, &out2).unwrap();
    let out1 = dir.path().join("first.csv");
    store.export(ExportFormat::Csv, &out1).unwrap();
    let carried = |p: &std::path::Path| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(p).unwrap();
        let mut r =
            csv::ReaderBuilder::new().from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        // file number, name, national ID, birth date, mobile, city, district, income: what a
        // sheet carries
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                [1, 2, 7, 9, 10, 11, 12, 14, 16]
                    .iter()
                    .map(|i| rec[*i].to_owned())
                    .collect()
            })
            .collect()
    };
    assert_eq!(carried(&out1), carried(&out2));
}

#[test]
fn export_then_import_changes_nothing_csv() {
    roundtrip(ExportFormat::Csv, 150, 11);
}

#[test]
fn export_then_import_changes_nothing_xlsx() {
    roundtrip(ExportFormat::Xlsx, 150, 12);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]
    /// For any synthetic population: import → export → import changes nothing.
    #[test]
    fn import_export_import_is_stable(seed in 0u64..10_000, rows in 1usize..60) {
        roundtrip(ExportFormat::Csv, rows, seed);
    }
}

/// An import is audited once, with its counts (no names, IDs or phones), not once per row: the
/// rows' outbox operations carry them to HQ, and an audit row per row doubled a large import.
#[test]
fn an_import_writes_one_audit_event_with_its_counts() {
    let (dir, mut store, _) = new_store();
    let audit_rows = |store: &Store| -> i64 {
        store
            .conn()
            .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
            .unwrap()
    };
    let before = audit_rows(&store);
    let file = write(dir.path(), "sheet.csv", sheet().as_bytes());
    store.import_file(&file, &mut |_| {}).unwrap();
    assert_eq!(audit_rows(&store), before + 1);
    let (action, detail): (String, String) = store
        .conn()
        .query_row(
            "SELECT action, detail FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(action, "import");
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(
        detail,
        serde_json::json!({"imported": 4, "updated": 0, "unchanged": 0, "rejected_rows": 1})
    );
    // A single save is still audited as itself.
    store
        .create_beneficiary(&person("هند سعد", None, None))
        .unwrap();
    assert_eq!(audit_rows(&store), before + 2);
}
