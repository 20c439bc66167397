//! The branch as a whole from the app's commands, against the real HQ server on port 0: a laptop
//! joining its branch from the first-run screen, HQ asked about other branches, and what sync
//! leaves for a person (a conflict with both values, a move HQ refused).

use crate::api;
use crate::api_tests::sync_with_hq::{Hq, eventually, quick, signed_in_desk};
use crate::api_tests::{full_draft, sign_in};
use crate::dto::*;
use crate::state::Desk;
use sila_hq::HqStore;
use sila_store::Store;
use std::time::Duration;

const BRANCH: &str = "الأفلاج";

fn code(hq: &Hq, branch: &str) -> String {
    hq.store
        .create_enrol_code(
            branch,
            chrono::Duration::hours(1),
            &sila_hq::HqActor::command_line(),
            chrono::Utc::now(),
        )
        .unwrap()
}

/// A laptop of `branch`, its administrator signed in, enrolled from the app, nothing waiting.
fn enrolled(hq: &Hq, branch: &str) -> (tempfile::TempDir, Desk) {
    let (dir, desk) = new_laptop();
    api::first_run(
        &desk,
        FirstRunInput {
            branch: branch.into(),
            username: "admin".into(),
            display_name: "نورة العتيبي".into(),
            password: "sila-pass-1234".into(),
        },
    )
    .unwrap();
    api::enroll(
        &desk,
        EnrollInput {
            hq_url: hq.url(),
            code: code(hq, branch),
        },
    )
    .unwrap();
    quiet(&desk);
    (dir, desk)
}

fn quiet(desk: &Desk) {
    eventually("nothing waiting", || {
        let s = api::sync_status(desk).unwrap();
        s.state == "online" && s.pending_changes == 0 && s.redownload.is_none()
    });
}

fn join_input(hq_url: &str, code: &str, password: &str) -> JoinInput {
    JoinInput {
        hq_url: hq_url.into(),
        code: code.into(),
        username: "huda".into(),
        display_name: "هدى القحطاني".into(),
        password: password.into(),
    }
}

fn new_laptop() -> (tempfile::TempDir, Desk) {
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::new(dir.path().join("store"), Duration::from_secs(600), None)
        .with_sync_config(quick());
    (dir, desk)
}

#[test]
fn a_laptop_joins_its_branch_from_the_first_run_screen_and_takes_the_whole_branch() {
    let hq = Hq::start();
    let (_a_dir, a) = enrolled(&hq, BRANCH);
    let id = api::save_intake_draft(&a, None, full_draft(&a)).unwrap();
    let receipt = api::submit_intake(&a, id).unwrap();
    quiet(&a);

    let (_b_dir, b) = new_laptop();
    let code = code(&hq, BRANCH);
    // Each refusal is beside its field, and leaves no store behind.
    let e = api::join_branch(&b, join_input("hq", "", "huda-pass-1234")).unwrap_err();
    let fields: Vec<&str> = e.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["hq_url", "code"]);
    let e = api::join_branch(&b, join_input(&hq.url(), &code, "short")).unwrap_err();
    assert_eq!(e.fields[0].field, "password");
    // Nobody answers at that address: said beside it, as something to check and try again (not
    // the sync worker's "sent when the connection returns": nothing waits to be sent).
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", nobody.local_addr().unwrap());
    drop(nobody);
    let e = api::join_branch(&b, join_input(&nowhere, &code, "huda-pass-1234")).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.fields[0].field.as_str()),
        ("network", "hq_url")
    );
    assert!(
        e.fields[0].message.contains("حاول مرة أخرى"),
        "{}",
        e.message
    );
    let e = api::join_branch(
        &b,
        join_input(&hq.url(), "AAAA-BBBB-CCCC", "huda-pass-1234"),
    )
    .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.fields[0].field.as_str()),
        ("code_invalid", "code")
    );
    assert!(!Store::exists(&b.dir));
    assert!(!api::app_status(&b).unwrap().initialised);

    // The code as typed (small letters); the branch's name comes from HQ.
    let me = api::join_branch(
        &b,
        join_input(&hq.url(), &code.to_lowercase(), "huda-pass-1234"),
    )
    .unwrap();
    assert_eq!(me.branch, BRANCH);
    assert_eq!(me.roles, ["admin", "representative"]);
    let st = api::sync_status(&b).unwrap();
    assert!(st.enrolled);
    // Until HQ's plan has come, the branch is said to be on its way and not yet usable.
    if let Some(r) = &st.redownload {
        assert!(!r.usable || r.phase.is_empty() || r.done > 0);
    }
    quiet(&b);
    let home = api::home(&b).unwrap();
    assert_eq!((home.beneficiaries, home.cases), (1, 1));
    let found = api::search(&b, "محمد عبد الله الدوسرى".into(), 5).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        api::case_file(&b, receipt.case_id).unwrap().case.state,
        "submitted"
    );
    // A's account arrived, not set up on this laptop; B's own account opens it.
    let staff = api::staff(&b).unwrap();
    let admin = staff.iter().find(|s| s.username == "admin").unwrap();
    assert!(!admin.can_sign_in_here);
    api::sign_out(&b).unwrap();
    assert_eq!(
        sign_in(&b, "admin", "sila-pass-1234").unwrap_err().code,
        "wrong_password"
    );
    sign_in(&b, "huda", "huda-pass-1234").unwrap();
}

#[test]
fn the_wizard_asks_hq_about_other_branches_and_says_when_it_cannot() {
    let mut hq = Hq::start();
    let (_m_dir, marwan) = enrolled(&hq, "مروان");
    let id = api::save_intake_draft(&marwan, None, full_draft(&marwan)).unwrap();
    api::submit_intake(&marwan, id).unwrap();
    quiet(&marwan);
    let (_a_dir, a) = enrolled(&hq, BRANCH);

    let r = api::lookup_national_id(&a, "1000000008".into()).unwrap();
    assert_eq!(r.state, "found");
    assert_eq!(r.registered.len(), 1);
    assert_eq!(r.registered[0].branch, "مروان");
    assert_eq!(
        r.registered[0].since,
        chrono::Utc::now().date_naive().to_string()
    );
    let r = api::lookup_national_id(&a, "1000000016".into()).unwrap();
    assert_eq!((r.state.as_str(), r.registered.len()), ("none", 0));
    // Its own branch is not "another branch".
    let r = api::lookup_national_id(&marwan, "1000000008".into()).unwrap();
    assert_eq!(r.state, "none");
    // A malformed ID is never sent.
    assert_eq!(
        api::lookup_national_id(&a, "1000000009".into())
            .unwrap_err()
            .fields[0]
            .field,
        "national_id"
    );
    // HQ away: said plainly.
    hq.down();
    let r = api::lookup_national_id(&a, "1000000008".into()).unwrap();
    assert_eq!(
        (r.state.as_str(), r.code.as_deref()),
        ("offline", Some("network"))
    );
    // A laptop not bound to HQ cannot ask.
    let (_d, alone) = signed_in_desk();
    let r = api::lookup_national_id(&alone, "1000000008".into()).unwrap();
    assert_eq!(r.state, "not_enrolled");
}

#[test]
fn a_conflict_keeps_both_values_and_a_move_hq_refused_is_listed_with_its_reason() {
    let hq = Hq::start();
    let (_a_dir, a) = enrolled(&hq, BRANCH);
    let id = api::save_intake_draft(&a, None, full_draft(&a)).unwrap();
    let receipt = api::submit_intake(&a, id).unwrap();
    quiet(&a);
    let (_b_dir, b) = new_laptop();
    api::join_branch(
        &b,
        join_input(&hq.url(), &code(&hq, BRANCH), "huda-pass-1234"),
    )
    .unwrap();
    quiet(&b);
    let person = api::search(&b, "1000000008".into(), 1).unwrap()[0]
        .id
        .clone();
    let st = api::sync_status(&b).unwrap();
    assert_eq!((st.open_conflicts, st.refused_recently), (0, 0));

    // Both laptops change the mobile, B from the version it held before A's change.
    let mut on_b = api::beneficiary_form(&b, person.clone()).unwrap();
    let mut on_a = api::beneficiary_form(&a, person.clone()).unwrap();
    on_a.identity.mobile = "0551110000".into();
    api::save_beneficiary(&a, on_a).unwrap();
    quiet(&a);
    on_b.identity.mobile = "0552220000".into();
    api::save_beneficiary(&b, on_b).unwrap();
    eventually("the conflict on laptop B", || {
        api::sync_status(&b).unwrap().open_conflicts == 1
    });
    let issues = api::sync_issues(&b).unwrap();
    let c = &issues.conflicts[0];
    assert_eq!(
        (c.entity.as_str(), c.field.as_str()),
        ("beneficiary", "mobile")
    );
    assert_eq!(c.beneficiary_id.as_deref(), Some(person.as_str()));
    assert_eq!(c.subject.as_deref(), Some("محمد عبدالله سعد الدوسري"));
    assert_eq!(
        (c.at_hq.as_str(), c.proposed.as_str()),
        ("0551110000", "0552220000")
    );
    assert!(c.proposed_here);

    // A moves the case; B, not knowing, moves it from where it was: HQ refuses B's move.
    api::transition(
        &a,
        TransitionInput {
            case_id: receipt.case_id.clone(),
            transition: "refer_to_research".into(),
            note: "الدخل غير موثق".into(),
        },
    )
    .unwrap();
    quiet(&a);
    api::transition(
        &b,
        TransitionInput {
            case_id: receipt.case_id.clone(),
            transition: "send_to_committee".into(),
            note: String::new(),
        },
    )
    .unwrap();
    eventually("the refusal on laptop B", || {
        api::sync_status(&b).unwrap().refused_recently == 1
    });
    let refused = api::sync_issues(&b).unwrap().refused;
    assert_eq!(refused.len(), 1);
    let r = &refused[0];
    assert_eq!(
        (r.op.as_str(), r.reason.as_str()),
        ("case.transition", "wrong_state")
    );
    assert_eq!(r.case_id.as_deref(), Some(receipt.case_id.as_str()));
    assert!(
        r.subject
            .as_deref()
            .unwrap()
            .starts_with(&receipt.case_number)
    );
    // B shows the case as HQ holds it.
    eventually("HQ's state on laptop B", || {
        api::case_file(&b, receipt.case_id.clone())
            .unwrap()
            .case
            .state
            == "in_research"
    });
}

/// A laptop whose backups go to (and are looked for in) `folder` instead of the user's Downloads.
fn laptop_with_folder(folder: &std::path::Path) -> (tempfile::TempDir, Desk) {
    let (dir, mut desk) = new_laptop();
    desk.export_dir = folder.to_owned();
    (dir, desk)
}

#[test]
fn an_administrator_saves_a_backup_and_a_new_laptop_restores_it_on_first_run() {
    let folder = tempfile::tempdir().unwrap();
    let (_a_dir, a) = laptop_with_folder(folder.path());
    api::first_run(
        &a,
        FirstRunInput {
            branch: BRANCH.into(),
            username: "admin".into(),
            display_name: "نورة العتيبي".into(),
            password: "sila-pass-1234".into(),
        },
    )
    .unwrap();
    let id = api::save_intake_draft(&a, None, full_draft(&a)).unwrap();
    let receipt = api::submit_intake(&a, id).unwrap();
    api::add_staff(
        &a,
        StaffInput {
            username: "rep".into(),
            display_name: "ريم".into(),
            password: "rep-pass-12345".into(),
            roles: vec!["representative".into()],
        },
    )
    .unwrap();

    let places = api::backup_places(&a).unwrap();
    let here = places
        .iter()
        .find(|p| std::path::Path::new(&p.path) == folder.path())
        .expect("the export folder is offered");
    assert!(!here.removable);
    // Only an offered place is written to.
    let elsewhere = tempfile::tempdir().unwrap();
    let e = api::save_backup(&a, elsewhere.path().to_string_lossy().into_owned()).unwrap_err();
    assert_eq!(e.code, "place_gone");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    let saved = api::save_backup(&a, here.path.clone()).unwrap();
    assert!(
        saved.file_name.ends_with(".silabackup"),
        "{}",
        saved.file_name
    );
    assert_eq!((saved.beneficiaries, saved.cases), (1, 1));
    assert_eq!(
        saved.pending_changes,
        api::sync_status(&a).unwrap().pending_changes
    );
    // A second backup in the same minute does not overwrite the first.
    let again = api::save_backup(&a, here.path.clone()).unwrap();
    assert_ne!(again.path, saved.path);
    // A colleague who is not an administrator may not.
    api::sign_out(&a).unwrap();
    sign_in(&a, "rep", "rep-pass-12345").unwrap();
    assert_eq!(
        api::save_backup(&a, here.path.clone()).unwrap_err().code,
        "forbidden"
    );

    // A new laptop finds both backups in the same place, newest first.
    let (_b_dir, b) = laptop_with_folder(folder.path());
    let found = api::find_backups(&b).unwrap();
    let paths: Vec<&str> = found.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&saved.path.as_str()) && paths.contains(&again.path.as_str()));
    // A wrong password restores nothing; a file outside the places is not opened.
    let restore = |path: &str, password: &str| {
        api::restore_backup(
            &b,
            RestoreInput {
                path: path.into(),
                username: "admin".into(),
                password: password.into(),
            },
        )
    };
    assert_eq!(
        restore(&saved.path, "wrong-pass-000").unwrap_err().code,
        "wrong_password"
    );
    assert!(!Store::exists(&b.dir));
    let copy = elsewhere.path().join("copy.silabackup");
    std::fs::copy(&saved.path, &copy).unwrap();
    assert_eq!(
        restore(&copy.to_string_lossy(), "sila-pass-1234")
            .unwrap_err()
            .fields[0]
            .field,
        "path"
    );
    assert!(!Store::exists(&b.dir));
    let me = restore(&saved.path, "sila-pass-1234").unwrap();
    assert_eq!(
        (me.username.as_str(), me.branch.as_str()),
        ("admin", BRANCH)
    );
    let home = api::home(&b).unwrap();
    assert_eq!((home.beneficiaries, home.cases), (1, 1));
    assert_eq!(
        api::case_file(&b, receipt.case_id).unwrap().case.state,
        "submitted"
    );
    // The colleague's account came with it, and the first run is over.
    api::sign_out(&b).unwrap();
    sign_in(&b, "rep", "rep-pass-12345").unwrap();
    assert!(api::app_status(&b).unwrap().initialised);
    assert_eq!(
        restore(&saved.path, "sila-pass-1234").unwrap_err().code,
        "store_exists"
    );
}
