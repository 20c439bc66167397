//! The `sila` command line as administrators script it: the real binary, a real store in a temp
//! folder, JSON shapes and exit codes exactly as design.md's "Interfaces" gives them.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const USER: &str = "admin";
const PASSWORD: &str = "kalimat-sirr-2";

fn sila(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sila"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("SILA_USER", USER)
        .env("SILA_PASSWORD", PASSWORD)
        .output()
        .expect("run sila")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn init() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = sila(dir.path(), &["init", "--branch", "الأفلاج"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn check_id_answers_with_exit_code_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let check = |id: &str, valid: bool, kind: Value, reason: Value| {
        let out = sila(dir.path(), &["check-id", id, "--json"]);
        assert_eq!(out.status.code(), Some(if valid { 0 } else { 1 }), "{id}");
        let v = json(&out);
        assert_eq!(v["valid"], Value::Bool(valid), "{id}");
        assert_eq!(v["kind"], kind, "{id}");
        assert_eq!(v["reason"], reason, "{id}");
    };
    check("1000000008", true, "citizen".into(), Value::Null);
    check("2000000006", true, "resident".into(), Value::Null);
    check("١٠٠٠٠٠٠٠٠٨", true, "citizen".into(), Value::Null);
    check("1000000009", false, Value::Null, "id_bad_checksum".into());
    check("3000000004", false, Value::Null, "id_bad_prefix".into());
    check("12345", false, Value::Null, "id_wrong_length".into());
    check("10000000O8", false, Value::Null, "id_not_digits".into());
    // Text that starts with a hyphen is an answer too, not a usage error (exit 2).
    check("-123456789", false, Value::Null, "id_wrong_length".into());
    let out = sila(dir.path(), &["check-id", "--json", "-123456789"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["valid"], Value::Bool(false));
    // Without --json: Arabic words, same exit codes.
    let out = sila(dir.path(), &["check-id", "1000000009"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("غير صالح"));
}

#[test]
fn init_import_search_stats_export() {
    let dir = init();
    let stats = json(&sila(dir.path(), &["stats", "--json"]));
    assert_eq!(
        stats,
        serde_json::json!({"beneficiaries": 0, "cases": 0, "pending_changes": 1})
    );

    let sheet = dir.path().join("sheet.csv");
    std::fs::write(
        &sheet,
        "الاسم,رقم الهوية,الجوال,تاريخ الميلاد\n\
         أحمد عبد الله سعد الدوسري,1000000008,0551234567,1410/05/12\n\
         نورة فهد العتيبي,1000000009,0551234568,1990-01-01\n",
    )
    .unwrap();
    let out = sila(dir.path(), &["import", sheet.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["imported"], 1);
    assert_eq!(report["updated"], 0);
    assert_eq!(report["unchanged"], 0);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["row"], 3);
    assert_eq!(rejected[0]["column"], "رقم الهوية");
    assert_eq!(rejected[0]["code"], "id_bad_checksum");
    assert!(
        rejected[0]["message"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
    );
    let again = json(&sila(
        dir.path(),
        &["import", sheet.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        (again["imported"].clone(), again["unchanged"].clone()),
        (0.into(), 1.into())
    );

    for q in ["احمد عبدالله", "1000000008", "4567", "٠٥٥١٢٣٤٥٦٧"] {
        let hits = json(&sila(dir.path(), &["search", q, "--json", "--limit", "5"]));
        let first = &hits.as_array().unwrap()[0];
        let keys: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["branch", "full_name", "id", "national_id", "phone"],
            "{q}"
        );
        assert_eq!(first["national_id"], "1000000008", "{q}");
        assert_eq!(first["phone"], "+966551234567");
        assert_eq!(first["branch"], "الأفلاج");
    }
    assert_eq!(
        json(&sila(dir.path(), &["search", "لا أحد بهذا الاسم", "--json"])),
        serde_json::json!([])
    );

    let out = sila(dir.path(), &["demo-data", "--beneficiaries", "40"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = json(&sila(dir.path(), &["stats", "--json"]));
    assert_eq!(stats["beneficiaries"], 41);
    assert!(stats["cases"].as_i64().unwrap() >= 33);
    assert!(stats["pending_changes"].as_i64().unwrap() > 41);

    let xlsx = dir.path().join("out.xlsx");
    let out = sila(
        dir.path(),
        &[
            "export",
            "--format",
            "xlsx",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));
    let csv = dir.path().join("out.csv");
    assert!(
        sila(
            dir.path(),
            &["export", "--format", "csv", "--out", csv.to_str().unwrap()]
        )
        .status
        .success()
    );
    assert!(
        std::fs::read(&csv)
            .unwrap()
            .starts_with(&[0xEF, 0xBB, 0xBF])
    );
    assert!(dir.path().join("out.cases.csv").exists());
}

#[test]
fn errors_are_codes_and_arabic_with_exit_2_and_no_personal_data() {
    let dir = init();
    let out = Command::new(env!("CARGO_BIN_EXE_sila"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "stats",
            "--json",
        ])
        .env("SILA_USER", USER)
        .env("SILA_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "wrong_password");

    // No store here yet.
    let empty = tempfile::tempdir().unwrap();
    let out = sila(empty.path(), &["search", "x", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "store_not_initialised");

    // A file that is not a sheet: a clear error, no row of it echoed.
    let bogus = dir.path().join("x.xlsx");
    std::fs::write(&bogus, b"PK\x03\x04 1000000008 not a workbook").unwrap();
    let out = sila(dir.path(), &["import", bogus.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("1000000008"), "{stderr}");

    // Credentials never come from arguments.
    let out = Command::new(env!("CARGO_BIN_EXE_sila"))
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "stats",
            "--json",
        ])
        .env_remove("SILA_USER")
        .env_remove("SILA_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["code"], "credentials_missing");
}

#[test]
fn compact_rewrites_the_store_and_reports_its_sizes() {
    let dir = init();
    assert!(
        sila(dir.path(), &["demo-data", "--beneficiaries", "200"])
            .status
            .success()
    );
    let stats = json(&sila(dir.path(), &["stats", "--json"]));
    let out = sila(dir.path(), &["compact", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let size = std::fs::metadata(dir.path().join("branch.sila"))
        .unwrap()
        .len();
    assert_eq!(v["after_bytes"], Value::from(size));
    assert!(v["before_bytes"].as_u64().unwrap() > 0);
    assert_eq!(json(&sila(dir.path(), &["stats", "--json"])), stats);
}
