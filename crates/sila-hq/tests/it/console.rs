//! The HQ console: accounts and sessions, the committee queue, dashboards, branch staff down the
//! feed, and the HTTP layer's sign-in, CSRF, roles, rate limit, exports and audit.

use crate::seed::{self, CaseSeed, Raw};
use crate::support::{self, Client, PW, Server, now, open, today};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sila_hq::Code;
use sila_hq::console::{ConsoleRole, ConsoleStore};
use sila_hq::db::Dialect;
use sila_hq::params;
use sila_hq::store::console::{CommitteeFilter, DashFilter, Promise};
use sila_hq::store::{Audit, HqActor, HqError, HqStore};

#[test]
fn passwords_are_argon2id_and_a_wrong_name_or_password_is_the_same_refusal() {
    let (_d, hq, raw) = open();
    let s = hq
        .add_console_staff(
            "Noura",
            "نورة",
            PW,
            &[ConsoleRole::Admin],
            &sila_hq::HqActor::command_line(),
            now(),
        )
        .unwrap();
    let hash = raw.text("SELECT password_hash FROM console_staff", params![]);
    assert!(hash.starts_with("$argon2id$"), "{}", &hash[..10]);
    assert!(!hash.contains(PW));
    let ttl = chrono::Duration::hours(1);
    assert!(matches!(
        hq.sign_in("noura", "wrong-password!", ttl, now()),
        Err(HqError::Unauthorized)
    ));
    assert!(matches!(
        hq.sign_in("nobody", PW, ttl, now()),
        Err(HqError::Unauthorized)
    ));
    // User names are matched without case.
    let (token, session) = hq.sign_in("noura", PW, ttl, now()).unwrap();
    assert_eq!(session.staff.id, s.id);
    let stored = raw.i64(
        "SELECT count(*) FROM console_sessions WHERE token_hash = ?1",
        params![&token],
    );
    assert_eq!(stored, 0, "only the token's hash is stored");
    assert!(hq.session(&token, now()).unwrap().is_some());
    assert!(
        hq.session(&token, now() + chrono::Duration::hours(2))
            .unwrap()
            .is_none(),
        "expired"
    );
    hq.sign_out(&token, chrono::Utc::now()).unwrap();
    assert!(hq.session(&token, now()).unwrap().is_none());
    assert!(matches!(
        hq.add_console_staff(
            "noura",
            "",
            PW,
            &[ConsoleRole::Admin],
            &sila_hq::HqActor::command_line(),
            now()
        ),
        Err(HqError::Refused(Code::UsernameTaken))
    ));
    assert!(matches!(
        hq.add_console_staff(
            "short",
            "",
            "short",
            &[ConsoleRole::Admin],
            &sila_hq::HqActor::command_line(),
            now()
        ),
        Err(HqError::Refused(Code::PasswordTooShort))
    ));
}

#[test]
fn the_last_administrator_stays_and_disabling_ends_sessions() {
    let (_d, hq, _raw) = open();
    let admin = support::staff(&hq, "admin", ConsoleRole::Admin, now());
    let reviewer = support::staff(&hq, "rev", ConsoleRole::Reviewer, now());
    assert!(matches!(
        hq.set_console_staff(
            &admin.id,
            None,
            Some(false),
            None,
            &sila_hq::HqActor::command_line(),
            now()
        ),
        Err(HqError::Refused(Code::LastAdmin))
    ));
    assert!(matches!(
        hq.set_console_staff(
            &admin.id,
            Some(&[ConsoleRole::Reviewer]),
            None,
            None,
            &sila_hq::HqActor::command_line(),
            now()
        ),
        Err(HqError::Refused(Code::LastAdmin))
    ));
    let (token, _) = hq
        .sign_in("rev", PW, chrono::Duration::hours(1), now())
        .unwrap();
    hq.set_console_staff(
        &reviewer.id,
        None,
        Some(false),
        None,
        &sila_hq::HqActor::command_line(),
        now(),
    )
    .unwrap();
    assert!(hq.session(&token, now()).unwrap().is_none());
    assert!(matches!(
        hq.sign_in("rev", PW, chrono::Duration::hours(1), now()),
        Err(HqError::Unauthorized)
    ));
}

#[test]
fn the_audit_trail_refuses_changes() {
    let (_d, hq, raw) = open();
    let s = support::staff(&hq, "admin", ConsoleRole::Admin, now());
    hq.audit(
        &Audit::new(&s.actor().unwrap(), "case.view", "case", "c1"),
        now(),
    )
    .unwrap();
    let rows = hq.audit_log(None, 10).unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["case.view", "staff.create"]);
    assert_eq!(rows[1].staff_name, "سطر الأوامر");
    assert!(
        raw.execute("UPDATE audit SET action = 'x'", params![])
            .is_err()
    );
    assert!(raw.execute("DELETE FROM audit", params![]).is_err());
}

/// A change and its audit row are one transaction: when the row cannot be written, the change
/// is not made either (the console used to write the row after the change had committed, so a
/// failure or a crash between the two left a change nobody audited), and a change refused
/// after its row was written leaves neither.
#[test]
fn a_change_and_its_audit_row_commit_together() {
    let (_d, hq, raw) = open();
    let by = HqActor {
        staff_id: sila_domain::ids::StaffId::new_v7(),
        display_name: "مدير النظام".into(),
    };
    let audited = |action: &str| {
        raw.i64(
            "SELECT count(*) FROM audit WHERE action = ?1",
            params![action],
        )
    };
    // The audit refuses one action: a stand-in for the row failing to be written.
    match raw.dialect() {
        Dialect::Sqlite => raw.execute(
            "CREATE TRIGGER refuse_kb_audit BEFORE INSERT ON audit WHEN NEW.action = 'kb.publish'
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
            params![],
        ),
        Dialect::Postgres => raw
            .execute(
                "CREATE FUNCTION refuse_kb_audit() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.action = 'kb.publish' THEN RAISE EXCEPTION 'refused'; END IF;
                     RETURN NEW;
                 END $$",
                params![],
            )
            .and_then(|_| {
                raw.execute(
                    "CREATE TRIGGER refuse_kb_audit BEFORE INSERT ON audit
                     FOR EACH ROW EXECUTE FUNCTION refuse_kb_audit()",
                    params![],
                )
            }),
    }
    .unwrap();
    assert!(
        hq.publish_document("دليل الاستقبال", "نص", None, &by, now())
            .is_err()
    );
    assert!(
        hq.kb_documents().unwrap().is_empty(),
        "no audit, no document"
    );
    assert_eq!(audited("kb.publish"), 0);

    // "Not the same person" writes its row first, then finds no such person: neither stays.
    assert!(matches!(
        hq.mark_not_same("no-such-a", "no-such-b", &by, now()),
        Err(HqError::NotFound(_))
    ));
    assert_eq!(audited("duplicates.not_same"), 0);

    // A change that goes through has its row, with who made it and codes only.
    hq.create_enrol_code("الأفلاج", chrono::Duration::hours(24), &by, now())
        .unwrap();
    let rows = hq.audit_log(None, 10).unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (
            row.action.as_str(),
            row.entity.as_str(),
            row.staff_name.as_str()
        ),
        ("enrol_code.create", "branch", "مدير النظام")
    );
    assert_eq!(row.staff_id, by.staff_id.to_string());
    assert_eq!(row.detail, json!({"ttl_hours": 24}));
}

/// Migration hq/0015 (hq-postgres/0009) moves the rows of the two audits HQ had into the one, in
/// the order they were written; a row of the rules' `hq_audit` gets its staff member's name and
/// says where it came from.
#[test]
fn the_two_old_audits_become_one_in_the_order_they_were_written() {
    let (_d, hq, raw) = open();
    let staff = hq
        .add_console_staff(
            "noura",
            "نورة",
            PW,
            &[ConsoleRole::Reviewer],
            &HqActor::command_line(),
            now(),
        )
        .unwrap();
    // Back to the store as it was before the migration: the two old tables, and no `audit`.
    let (undo, migration) = match raw.dialect() {
        Dialect::Sqlite => (
            "DROP TABLE audit;",
            sila_hq::db::sqlite::MIGRATIONS
                .iter()
                .find(|(n, _)| *n == "0015_audit"),
        ),
        Dialect::Postgres => (
            "DROP TABLE audit; DROP FUNCTION audit_append_only();
             CREATE FUNCTION console_audit_append_only() RETURNS trigger LANGUAGE plpgsql
                 AS $$ BEGIN RAISE EXCEPTION 'append-only'; END $$;",
            sila_hq::db::postgres::MIGRATIONS
                .iter()
                .find(|(n, _)| *n == "0009_audit"),
        ),
    };
    let old = format!(
        "{undo}
         CREATE TABLE console_audit (id BIGINT PRIMARY KEY, at TEXT NOT NULL,
             staff_id TEXT NOT NULL, staff_name TEXT NOT NULL, action TEXT NOT NULL,
             entity TEXT NOT NULL, entity_id TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '{{}}');
         CREATE TABLE hq_audit (id BIGINT PRIMARY KEY, at TEXT NOT NULL, staff_id TEXT NOT NULL,
             action TEXT NOT NULL, entity TEXT NOT NULL, entity_id TEXT NOT NULL);
         INSERT INTO console_audit VALUES
             (1, '2026-03-10T08:00:00Z', '{id}', 'نورة', 'sign_in', 'staff', '{id}', '{{}}'),
             (2, '2026-03-10T09:00:00Z', '{id}', 'نورة', 'duplicates.merge', 'beneficiary', 'b1',
              '{{\"merge_id\":1}}');
         INSERT INTO hq_audit VALUES
             (1, '2026-03-10T07:00:00Z', '{id}', 'beneficiary.not_same', 'beneficiary', 'a|b'),
             (2, '2026-03-10T09:00:00Z', '{id}', 'beneficiary.merge', 'merge', '1');",
        id = staff.id
    );
    let migration = migration.expect("the audit's migration").1;
    sila_hq::db::run(&**hq.engine(), sila_hq::db::Mode::Write, |c| {
        c.batch(&old)?;
        c.batch(migration)
    })
    .unwrap();
    let rows = raw.rows(
        "SELECT action, staff_name, detail FROM audit ORDER BY id",
        params![],
    );
    let rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.text(0).unwrap(), r.text(1).unwrap(), r.text(2).unwrap()))
        .collect();
    let from_rules = r#"{"from":"hq_audit"}"#.to_owned();
    let row = |a: &str, d: &str| (a.to_owned(), "نورة".to_owned(), d.to_owned());
    assert_eq!(
        rows,
        [
            row("beneficiary.not_same", &from_rules),
            row("sign_in", "{}"),
            row("duplicates.merge", r#"{"merge_id":1}"#),
            row("beneficiary.merge", &from_rules),
        ]
    );
    assert!(raw.execute("DELETE FROM audit", params![]).is_err());
}

fn committee_seed(raw: &Raw) {
    // Promised = submitted + 14. Today is 2026-03-10: overdue before it, due soon up to 03-13.
    let submitted = |promised: &str| {
        NaiveDate::parse_from_str(promised, "%Y-%m-%d").unwrap() - chrono::Duration::days(14)
    };
    for (i, (branch, promised)) in [
        ("الأفلاج", "2026-03-20"),
        ("مروان", "2026-03-09"),
        ("الأفلاج", "2026-03-13"),
        ("الأفلاج", "2026-03-01"),
        ("مروان", "2026-03-10"),
        ("الأفلاج", "2026-03-14"),
        ("مروان", "2026-03-11"),
    ]
    .into_iter()
    .enumerate()
    {
        seed::case(
            raw,
            i,
            &CaseSeed {
                branch,
                state: "in_committee",
                channel: "phone",
                submitted: submitted(promised),
                decided_after_days: None,
                outcome: None,
                name: "سارة",
            },
        );
    }
    seed::case(
        raw,
        99,
        &CaseSeed {
            state: "submitted",
            ..CaseSeed::with_the_committee(today())
        },
    );
}

#[test]
fn the_committee_queue_is_ordered_by_promise_paged_and_counted() {
    let (_d, hq, raw) = open();
    committee_seed(&raw);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = hq
            .committee_queue(&CommitteeFilter::default(), after.as_deref(), 3, today())
            .unwrap();
        assert_eq!(
            (page.total, page.overdue, page.due_soon, page.on_track),
            (7, 2, 3, 2)
        );
        seen.extend(
            page.rows
                .iter()
                .map(|r| (r.promised_reply_date.clone().unwrap(), r.promise)),
        );
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let dates: Vec<&str> = seen.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        dates,
        [
            "2026-03-01",
            "2026-03-09",
            "2026-03-10",
            "2026-03-11",
            "2026-03-13",
            "2026-03-14",
            "2026-03-20"
        ]
    );
    assert_eq!(seen[0].1, Promise::Overdue);
    assert_eq!(
        seen[2].1,
        Promise::DueSoon,
        "due today is due soon, not overdue"
    );
    assert_eq!(seen[4].1, Promise::DueSoon);
    assert_eq!(seen[5].1, Promise::OnTrack);
    // The download reads the same rows in the same order, whole or cut at its bound, and a
    // filter narrows it as it narrows a page.
    let export = |filter: &CommitteeFilter, max: usize| -> Vec<String> {
        hq.committee_export(filter, today(), max)
            .unwrap()
            .into_iter()
            .map(|r| r.promised_reply_date.unwrap())
            .collect()
    };
    assert_eq!(export(&CommitteeFilter::default(), 1000), dates);
    assert_eq!(export(&CommitteeFilter::default(), 4), dates[..4]);
    let marwan_soon = CommitteeFilter {
        branch: Some("مروان".into()),
        promise: Some("due_soon".into()),
    };
    assert_eq!(export(&marwan_soon, 1000), ["2026-03-10", "2026-03-11"]);
    // An exact multiple of the page size ends without an empty page.
    let six = hq
        .committee_queue(&CommitteeFilter::default(), None, 7, today())
        .unwrap();
    assert_eq!((six.rows.len(), six.next), (7, None));
    let f = |promise: &str, branch: Option<&str>| CommitteeFilter {
        branch: branch.map(str::to_owned),
        promise: Some(promise.to_owned()),
    };
    let count = |filter: CommitteeFilter| {
        hq.committee_queue(&filter, None, 50, today())
            .unwrap()
            .rows
            .len()
    };
    assert_eq!(count(f("overdue", None)), 2);
    assert_eq!(count(f("due_soon", None)), 3);
    assert_eq!(count(f("on_track", None)), 2);
    assert_eq!(count(f("due_soon", Some("مروان"))), 2);
    assert!(
        hq.committee_queue(&f("soon", None), None, 5, today())
            .is_err()
    );
}

/// A case's whole file: its person, its events in order, each document with what HQ holds of
/// its file (all of it, part of it, nothing), the signature, its contacts, deliveries and
/// surveys, and the person's other cases; no file for a case HQ does not hold, no person when
/// theirs is not at HQ. The files the record names are looked up together after the case: two
/// round trips on PostgreSQL for the whole file.
#[test]
fn a_cases_whole_file_holds_its_person_history_files_contacts_and_other_cases() {
    use sila_hq::db::Mode;
    let (_d, hq, raw) = open();
    let case = seed::case(
        &raw,
        1,
        &CaseSeed {
            name: "سارة",
            ..CaseSeed::with_the_committee(today())
        },
    );
    let person = raw.text(
        "SELECT beneficiary_id FROM cases WHERE id = ?1",
        params![&case],
    );
    let other = seed::case(&raw, 2, &CaseSeed::with_the_committee(today()));
    raw.execute(
        "UPDATE cases SET beneficiary_id = ?1 WHERE id = ?2",
        params![&person, &other],
    )
    .unwrap();
    // Someone else's case, and its contact: in neither file.
    let theirs = seed::case(&raw, 3, &CaseSeed::with_the_committee(today()));
    let mut data: Value =
        serde_json::from_str(&raw.text("SELECT data FROM cases WHERE id = ?1", params![&case]))
            .unwrap();
    data["documents"] = json!([
        {"code": "national_id_copy", "required": true, "seen_in_original": true, "attachment": "a1"},
        {"code": "lease", "required": false, "seen_in_original": false, "attachment": "b2"},
        {"code": "salary", "required": false, "seen_in_original": false, "attachment": "c3"},
        {"code": "photo", "required": false, "seen_in_original": false, "attachment": null},
    ]);
    data["declaration"] = json!({"signature": {"kind": "typed", "attachment": "d4"}});
    raw.execute(
        "UPDATE cases SET data = ?2 WHERE id = ?1",
        params![&case, data.to_string()],
    )
    .unwrap();
    for (sha, complete) in [("a1", 1i64), ("b2", 0), ("d4", 1)] {
        raw.execute(
            "INSERT INTO attachments (sha256, mime, size, complete) VALUES (?1, 'image/jpeg', 1000, ?2)",
            params![sha, complete],
        )
        .unwrap();
    }
    for (of, what) in [
        (&case, "submitted"),
        (&theirs, "x"),
        (&case, "in_committee"),
    ] {
        raw.execute(
            "INSERT INTO case_events (case_id, origin, data) VALUES (?1, 'branch', ?2)",
            params![of, json!({"what": what}).to_string()],
        )
        .unwrap();
    }
    for (entity, id, of) in [
        ("interaction", "i2", &case),
        ("interaction", "i1", &case),
        ("delivery", "v1", &case),
        ("survey", "s1", &case),
        ("interaction", "i3", &theirs),
    ] {
        let d = json!({"id": id, "case_id": of, "purpose": "inquiry", "channel": "phone",
            "at": "2026-03-01T08:00:00Z", "overall": 5, "answered_on": "2026-03-01"});
        raw.execute(
            "INSERT INTO records (entity, id, branch, device_id, data) VALUES (?1, ?2, 'الأفلاج', 'd', ?3)",
            params![entity, id, d.to_string()],
        )
        .unwrap();
    }

    let file = hq.case_file(&case, today()).unwrap().unwrap();
    let who = file.beneficiary.as_ref().unwrap();
    assert_eq!(
        (
            &who["name"]["as_written"],
            &who["branch"],
            &who["merged_into"]
        ),
        (&json!("سارة"), &json!("الأفلاج"), &Value::Null)
    );
    let said: Vec<(&str, &str)> = file
        .events
        .iter()
        .map(|e| (e["what"].as_str().unwrap(), e["origin"].as_str().unwrap()))
        .collect();
    assert_eq!(said, [("submitted", "branch"), ("in_committee", "branch")]);
    let docs: Vec<_> = file
        .documents
        .iter()
        .map(|d| (d.code.as_str(), d.mime.as_deref(), d.size, d.at_hq))
        .collect();
    assert_eq!(
        docs,
        [
            ("national_id_copy", Some("image/jpeg"), Some(1000), true),
            ("lease", Some("image/jpeg"), Some(1000), false),
            ("salary", None, None, false),
            ("photo", None, None, false),
        ]
    );
    assert!(file.documents[0].required && file.documents[0].seen_in_original);
    assert_eq!(file.documents[2].sha256.as_deref(), Some("c3"));
    let signature = file.signature.as_ref().unwrap();
    assert_eq!((signature.code.as_str(), signature.at_hq), ("typed", true));
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&file.interactions), ["i1", "i2"]);
    assert_eq!(ids(&file.deliveries), ["v1"]);
    assert_eq!(ids(&file.surveys), ["s1"]);
    assert_eq!(ids(&file.other_cases), [other.as_str()]);
    assert_eq!(file.promise, Some(Promise::OnTrack));
    let trips = sila_hq::db::run(&**hq.engine(), Mode::Read, |c| {
        sila_hq::sql::console::case_file(c, &case, today())?;
        let before = c.round_trips();
        sila_hq::sql::console::case_file(c, &case, today())?;
        Ok(c.round_trips() - before)
    })
    .unwrap();
    let two = match raw.dialect() {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 2,
    };
    assert_eq!(trips, two, "the case, then the files it names");

    assert!(hq.case_file("no-such-case", today()).unwrap().is_none());
    raw.execute("DELETE FROM beneficiaries WHERE id = ?1", params![&person])
        .unwrap();
    let file = hq.case_file(&case, today()).unwrap().unwrap();
    assert!(file.beneficiary.is_none());
    assert_eq!(ids(&file.other_cases), [other]);
}

#[test]
fn dashboards_count_intake_funnel_compliance_satisfaction_and_voice() {
    let (_d, hq, raw) = open();
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let base = |branch, state, channel, submitted, decided: Option<i64>, outcome| CaseSeed {
        branch,
        state,
        channel,
        submitted: d(submitted),
        decided_after_days: decided,
        outcome,
        name: "x",
    };
    seed::case(
        &raw,
        1,
        &base(
            "الأفلاج",
            "approved",
            "phone",
            "2026-01-05",
            Some(10),
            Some("approved"),
        ),
    );
    seed::case(
        &raw,
        2,
        &base(
            "الأفلاج",
            "rejected",
            "website",
            "2026-01-20",
            Some(20),
            Some("rejected"),
        ),
    );
    seed::case(
        &raw,
        3,
        &base("مروان", "in_committee", "phone", "2026-02-01", None, None),
    );
    seed::case(
        &raw,
        4,
        &base("مروان", "submitted", "interview", "2026-03-05", None, None),
    );
    seed::survey(&raw, "الأفلاج", "phone", 5, d("2026-02-01"));
    seed::survey(&raw, "الأفلاج", "phone", 4, d("2026-02-11"));
    seed::survey(&raw, "مروان", "website", 2, d("2026-03-01"));
    seed::interaction(&raw, "مروان", "phone", "complaint", d("2026-03-02"));
    seed::interaction(&raw, "مروان", "phone", "suggestion", d("2026-03-03"));
    seed::interaction(&raw, "مروان", "phone", "inquiry", d("2026-03-03"));

    let all = hq.dashboard(&DashFilter::default(), today()).unwrap();
    let n = |v: &[sila_hq::store::console::Count], k: &str| {
        v.iter().find(|c| c.key == k).map_or(0, |c| c.n)
    };
    assert_eq!(
        (
            n(&all.intake, "2026-01"),
            n(&all.intake, "2026-02"),
            n(&all.intake, "2026-03")
        ),
        (2, 1, 1)
    );
    assert_eq!(
        (
            n(&all.funnel, "approved"),
            n(&all.funnel, "in_committee"),
            n(&all.funnel, "closed")
        ),
        (1, 1, 0)
    );
    let c = &all.compliance;
    assert_eq!(
        (c.decided_on_time, c.decided_late),
        (1, 1),
        "decided on day 10 (in time) and day 20 (late)"
    );
    assert_eq!(
        (c.waiting_overdue, c.waiting_on_track),
        (1, 1),
        "promised 02-15 is overdue; 03-19 on track"
    );
    assert_eq!(
        n(&all.satisfaction, "5") + n(&all.satisfaction, "4") + n(&all.satisfaction, "2"),
        3
    );
    assert_eq!(
        all.satisfaction_trend
            .iter()
            .find(|m| m.month == "2026-02")
            .unwrap()
            .mean,
        4.5
    );
    assert_eq!((all.complaints, all.suggestions), (1, 1));
    let afl = all.by_branch.iter().find(|r| r.key == "الأفلاج").unwrap();
    assert_eq!(
        (
            afl.intake,
            afl.approved,
            afl.rejected,
            afl.surveys,
            afl.satisfaction
        ),
        (2, 1, 1, 2, Some(4.5))
    );
    let phone = all.by_channel.iter().find(|r| r.key == "phone").unwrap();
    assert_eq!((phone.intake, phone.complaints), (2, 1));

    let one = hq
        .dashboard(
            &DashFilter {
                branch: Some("مروان".into()),
                channel: None,
            },
            today(),
        )
        .unwrap();
    assert_eq!(one.by_branch.len(), 1);
    assert_eq!((one.complaints, n(&one.funnel, "approved")), (1, 0));
    let web = hq
        .dashboard(
            &DashFilter {
                branch: None,
                channel: Some("website".into()),
            },
            today(),
        )
        .unwrap();
    assert_eq!(
        (n(&web.funnel, "rejected"), web.compliance.decided_late),
        (1, 1)
    );
}

#[test]
fn the_satisfaction_page_reads_a_covering_index_and_the_queue_pages_read_without_sorting() {
    let (_d, _hq, raw) = open();
    // SQLite names a covering index and a sort (a temporary B-tree); PostgreSQL an index-only
    // scan and a Sort step. The other dashboards read the count tables by their keys (since
    // hq 0016 / hq-postgres 0011; the facts' own indexes went in hq 0018 / hq-postgres 0014).
    let (covering, sort) = match raw.dialect() {
        Dialect::Sqlite => ("COVERING INDEX ", "TEMP B-TREE"),
        Dialect::Postgres => ("Index Only Scan using ", "Sort"),
    };
    let p = raw.plan(
        "SELECT branch, channel, service, employee, overall, speed, courtesy, clarity, count(*)
         FROM survey_facts WHERE 1 = 1 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8",
    );
    assert!(p.contains(&format!("{covering}survey_facts_scores")), "{p}");
    let p = raw.plan(
        "SELECT rid FROM cases WHERE state = 'in_committee' AND (c_promised, rid) > ('2026-01-01', 5) ORDER BY c_promised, rid LIMIT 50",
    );
    assert!(p.contains("cases_promised"), "{p}");
    assert!(!p.contains(sort), "no sort: {p}");
}

#[test]
fn the_facts_follow_every_change_of_a_case_or_a_survey() {
    let (_d, _hq, raw) = open();
    let id = seed::case(&raw, 1, &CaseSeed::with_the_committee(today()));
    let facts = || -> (String, Option<String>, Option<String>) {
        let r = &raw.rows("SELECT state, outcome, decided FROM case_facts", params![])[0];
        (
            r.text(0).unwrap(),
            r.opt_text(1).unwrap(),
            r.opt_text(2).unwrap(),
        )
    };
    assert_eq!(facts(), ("in_committee".into(), None, None));
    let mut data: Value =
        serde_json::from_str(&raw.text("SELECT data FROM cases WHERE id = ?1", params![&id]))
            .unwrap();
    data["state"] = json!("rejected");
    data["decision"] = json!({"outcome": "rejected", "decided_at": "2026-03-11T10:00:00Z"});
    raw.execute(
        "UPDATE cases SET state = 'rejected', data = ?2 WHERE id = ?1",
        params![&id, data.to_string()],
    )
    .unwrap();
    assert_eq!(
        facts(),
        (
            "rejected".into(),
            Some("rejected".into()),
            Some("2026-03-11".into())
        )
    );
    seed::survey(&raw, "الأفلاج", "phone", 4, today());
    let v = raw.text(
        "SELECT value FROM record_facts WHERE entity = 'survey'",
        params![],
    );
    assert_eq!(v, "4");
    raw.execute("DELETE FROM cases", params![]).unwrap();
    assert_eq!(raw.i64("SELECT count(*) FROM case_facts", params![]), 0);
}

#[test]
fn a_branch_account_made_at_hq_goes_down_the_feed_to_that_branch_only() {
    let (_d, hq, _raw) = open();
    let enrol = |branch: &str| support::device(&hq, branch, now()).0;
    let afl = enrol("الأفلاج");
    let other = enrol("مروان");
    let account = sila_domain::staff::StaffAccount {
        id: sila_domain::ids::StaffId::new_v7(),
        username: "huda".into(),
        display_name: "هدى".into(),
        roles: vec![sila_domain::staff::Role::Researcher],
        branch: "الأفلاج".into(),
        active: true,
    };
    hq.upsert_branch_staff(&account, &sila_hq::HqActor::command_line(), now())
        .unwrap();
    let mut disabled = account.clone();
    disabled.active = false;
    hq.upsert_branch_staff(&disabled, &sila_hq::HqActor::command_line(), now())
        .unwrap();
    let pulled = hq.pull(&afl, 0, 100, 0, None).unwrap();
    // The account as it stands now, once (both changes fell in one page).
    let staff: Vec<Value> = pulled
        .changes
        .iter()
        .filter(|c| c.kind == sila_proto::kinds::STAFF)
        .map(|c| serde_json::from_str::<Value>(c.payload.get()).unwrap()["data"].clone())
        .collect();
    assert_eq!(staff.len(), 1);
    assert_eq!(staff[0]["active"], json!(false));
    assert!(
        hq.pull(&other, 0, 100, 0, None)
            .unwrap()
            .changes
            .iter()
            .all(|c| c.kind != sila_proto::kinds::STAFF)
    );
    let rows = hq.branch_staff(Some("الأفلاج")).unwrap();
    assert_eq!((rows.len(), rows[0].active), (1, false));
    let mut elsewhere = account.clone();
    elsewhere.branch = "مروان".into();
    assert!(matches!(
        hq.upsert_branch_staff(&elsewhere, &sila_hq::HqActor::command_line(), now()),
        Err(HqError::Refused(Code::OtherBranch))
    ));
    let mut clash = account.clone();
    clash.id = sila_domain::ids::StaffId::new_v7();
    assert!(matches!(
        hq.upsert_branch_staff(&clash, &sila_hq::HqActor::command_line(), now()),
        Err(HqError::Refused(Code::UsernameTaken))
    ));
}

// ---- HTTP ----

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_changes_need_the_csrf_token() {
    let s = Server::start().await;
    s.hq.add_console_staff(
        "admin",
        "المدير",
        PW,
        &[ConsoleRole::Admin],
        &sila_hq::HqActor::command_line(),
        Utc::now(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/console/api/sign-in", s.url))
        .json(&json!({"username": "admin", "password": PW}))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );

    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    let (st, me) = c.get("/me").await;
    assert_eq!(
        (st.as_u16(), me["staff"]["username"].as_str()),
        (200, Some("admin"))
    );
    let (st, body) = c
        .post("/enrol-codes", json!({"branch": "الأفلاج"}), false)
        .await;
    assert_eq!((st.as_u16(), body["code"].as_str()), (403, Some("csrf")));
    assert_eq!(
        body["message"].as_str().unwrap(),
        "تعذّر التحقق من مصدر الطلب. حدّث الصفحة ثم أعد المحاولة."
    );
    let (st, body) = c
        .post("/enrol-codes", json!({"branch": "الأفلاج"}), true)
        .await;
    assert_eq!(st.as_u16(), 200, "{body}");
    assert_eq!(body["code"].as_str().unwrap().len(), 14);
    // Another site's page cannot post even with a token it could not have read.
    let r = c
        .http
        .post(format!("{}/console/api/enrol-codes", s.url))
        .header("cookie", &c.cookie)
        .header("x-csrf-token", &c.csrf)
        .header("origin", "https://evil.example")
        .json(&json!({"branch": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Behind a TLS proxy that passes the browser's host on as X-Forwarded-Host.
    let r = c
        .http
        .post(format!("{}/console/api/enrol-codes", s.url))
        .header("cookie", &c.cookie)
        .header("x-csrf-token", &c.csrf)
        .header("origin", "https://hq.example.org")
        .header("x-forwarded-host", "hq.example.org")
        .json(&json!({"branch": "مروان"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // No cookie: signed out.
    let r = http
        .get(format!("{}/console/api/me", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let (st, _) = c.post("/sign-out", json!({}), true).await;
    assert_eq!(st.as_u16(), 200);
    assert_eq!(c.get("/me").await.0.as_u16(), 401);
    let actions: Vec<String> = s
        .raw
        .texts("SELECT action FROM audit ORDER BY id", params![]);
    assert_eq!(
        actions,
        [
            // The account the test made (as the command line does).
            "staff.create",
            "sign_in",
            "sign_in",
            "enrol_code.create",
            "enrol_code.create",
            "sign_out"
        ]
    );
}

#[tokio::test]
async fn wrong_passwords_are_rate_limited_per_name_and_roles_are_enforced() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    support::staff(&s.hq, "rev", ConsoleRole::Reviewer, Utc::now());
    for _ in 0..5 {
        let (st, body, _) = Client::sign_in(&s.url, "admin", "wrong-password").await;
        assert_eq!(
            (st.as_u16(), body["code"].as_str()),
            (401, Some("wrong_credentials"))
        );
    }
    let (st, body, _) = Client::sign_in(&s.url, "admin", PW).await;
    assert_eq!(
        (st.as_u16(), body["code"].as_str()),
        (429, Some("too_many_attempts")),
        "even the right password waits"
    );
    let (st, _, rev) = Client::sign_in(&s.url, "rev", PW).await;
    assert_eq!(st.as_u16(), 200, "another name is not locked");
    let rev = rev.unwrap();
    assert_eq!(rev.get("/devices").await.0.as_u16(), 403);
    assert_eq!(rev.get("/committee").await.0.as_u16(), 403);
    let (st, body) = rev
        .post(
            "/cases/x/decide",
            json!({"transition": "approve", "note": ""}),
            true,
        )
        .await;
    assert_eq!(
        (st.as_u16(), body["code"].as_str()),
        (403, Some("not_permitted"))
    );
    assert_eq!(rev.get("/conflicts").await.0.as_u16(), 200);
    assert_eq!(rev.get("/dashboard").await.0.as_u16(), 200);
}

#[tokio::test]
async fn one_address_guessing_many_names_is_rate_limited() {
    let s = Server::start().await;
    support::staff(&s.hq, "rev", ConsoleRole::Reviewer, Utc::now());
    // Four wrong passwords for each of five names: under the per-name limit every time, but all
    // from this test's address.
    for i in 0..20 {
        let (st, body, _) = Client::sign_in(&s.url, &format!("guess{}", i / 4), "wrong").await;
        assert_eq!(
            (st.as_u16(), body["code"].as_str()),
            (401, Some("wrong_credentials")),
            "attempt {i}"
        );
    }
    let (st, body, _) = Client::sign_in(&s.url, "rev", PW).await;
    assert_eq!(
        (st.as_u16(), body["code"].as_str()),
        (429, Some("too_many_attempts")),
        "the address waits, whatever name it tries next"
    );
}

#[tokio::test]
async fn exports_are_csv_with_bom_and_formula_guards_or_xlsx() {
    let s = Server::start().await;
    support::staff(&s.hq, "c", ConsoleRole::Committee, Utc::now());
    let today = Utc::now().date_naive();
    seed::case(
        &s.raw,
        1,
        &CaseSeed {
            name: "=HYPERLINK(\"http://x\")",
            ..CaseSeed::with_the_committee(today)
        },
    );
    let (_, _, c) = Client::sign_in(&s.url, "c", PW).await;
    let c = c.unwrap();
    let r = c.fetch("/export/committee.csv").await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xef\xbb\xbf");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(!text.contains(",=HYPERLINK") && !text.contains("\"=HYPERLINK"));
    let r = c.fetch("/export/dashboard.xlsx").await;
    assert_eq!(&r.bytes().await.unwrap()[..2], b"PK");
    let audited: i64 = s.raw.i64(
        "SELECT count(*) FROM audit WHERE action = 'export'",
        params![],
    );
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn the_console_page_is_served_or_says_it_was_not_built() {
    let s = Server::start().await;
    let r = reqwest::get(format!("{}/console/", s.url)).await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    assert!(body.contains("lang=\"ar\" dir=\"rtl\""), "{body}");
    if sila_hq::console::assets::ASSETS.is_empty() {
        assert_eq!(status, 503);
        assert!(body.contains("npm run build:hq"));
    } else {
        assert_eq!(status, 200);
        let js = sila_hq::console::assets::ASSETS
            .iter()
            .find(|(p, _)| p.ends_with(".js"))
            .unwrap()
            .0;
        let r = reqwest::get(format!("{}/console/{js}", s.url))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
    }
    // The sync API is untouched by the console's layers.
    let r = reqwest::get(format!("{}/healthz", s.url)).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// A request the console cannot read (a body that is not JSON or not sent as JSON, a field of
/// the wrong type, a number in the path or the query that is not one) is refused as any other:
/// `{code, message}` with `bad_request` and the Arabic, at axum's status, quoting nothing of the
/// request.
#[tokio::test]
async fn a_request_the_console_cannot_read_is_refused_with_a_code() {
    let s = Server::start().await;
    support::staff(&s.hq, "rev", ConsoleRole::Reviewer, Utc::now());
    let (_, _, c) = Client::sign_in(&s.url, "rev", PW).await;
    let c = c.unwrap();
    let send = |path: &str, content_type: &str, body: &str| {
        c.http
            .post(format!("{}/console/api{path}", s.url))
            .header("cookie", &c.cookie)
            .header("x-csrf-token", &c.csrf)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
    };
    let json = "application/json";
    let answers = [
        send("/duplicates/not-same", json, "{\"a\": \"05012")
            .await
            .unwrap(),
        send("/duplicates/not-same", "text/plain", "{}")
            .await
            .unwrap(),
        send("/duplicates/not-same", json, r#"{"a": 1050123456, "b": 2}"#)
            .await
            .unwrap(),
        send("/conflicts/x05012/resolve", json, r#"{"take": "hq"}"#)
            .await
            .unwrap(),
        c.fetch("/merges?limit=many").await,
    ];
    let mut statuses = Vec::new();
    for r in answers {
        statuses.push(r.status().as_u16());
        let text = r.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
        assert_eq!(body["code"], "bad_request", "{text}");
        assert_eq!(body["message"], Code::BadRequest.arabic(), "{text}");
        assert!(
            !text.contains("05012") && !text.contains("1050123456"),
            "{text}"
        );
    }
    assert_eq!(statuses, [400, 415, 422, 400, 400]);
}

#[tokio::test]
async fn knowledge_base_documents_are_checked_by_their_bytes_and_go_to_every_branch() {
    use base64::Engine;
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    for branch in ["الأفلاج", "مروان"] {
        support::enrol_code(&s.hq, branch, Utc::now());
    }
    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    let pdf = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.4\n% a tiny document\n");
    let (st, body) = c
        .post(
            "/kb",
            json!({"title": "دليل سياسة الدعم", "body": "", "file_base64": pdf}),
            true,
        )
        .await;
    assert_eq!(st.as_u16(), 200, "{body}");
    let script = base64::engine::general_purpose::STANDARD.encode(b"<script>alert(1)</script>");
    let (st, body) = c
        .post("/kb", json!({"title": "x", "file_base64": script}), true)
        .await;
    assert_eq!(
        (st.as_u16(), body["code"].as_str()),
        (400, Some("bad_file"))
    );
    let (st, body) = c.post("/kb", json!({"title": "  "}), true).await;
    assert_eq!(
        (st.as_u16(), body["code"].as_str()),
        (400, Some("title_required"))
    );
    let (_, list) = c.get("/kb").await;
    let rows = list["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["mime"], json!("application/pdf"));
    let fed: i64 = s
        .raw
        .i64("SELECT count(*) FROM feed WHERE kind = 'kb'", params![]);
    assert_eq!(fed, 2, "an entry in every branch's feed");
}

#[tokio::test]
async fn an_administrator_revokes_a_device_and_its_credential_stops_working() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    let enrolled = support::enrol(&s.hq, "الأفلاج", Utc::now());
    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let c = c.unwrap();
    let (_, list) = c.get("/devices").await;
    assert_eq!(list["devices"][0]["device_id"], json!(enrolled.device_id));
    assert_eq!(list["branches"], json!(["الأفلاج"]));
    let (st, _) = c
        .post(
            &format!("/devices/{}/revoke", enrolled.device_id),
            json!({}),
            true,
        )
        .await;
    assert_eq!(st.as_u16(), 200);
    assert!(matches!(
        s.hq.authenticate(&enrolled.token, Utc::now()),
        Err(HqError::Revoked)
    ));
    let (_, list) = c.get("/devices").await;
    assert!(list["devices"][0]["revoked_at"].is_string());
    let (st, body) = c.post("/devices/nope/revoke", json!({}), true).await;
    assert_eq!(
        (st.as_u16(), body["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn the_devices_page_names_the_work_a_restore_lost_which_device_how_much_since_when() {
    let s = Server::start().await;
    support::staff(&s.hq, "admin", ConsoleRole::Admin, Utc::now());
    let enrol = || support::device(&s.hq, "الأفلاج", Utc::now()).0;
    let (lost, fine) = (enrol(), enrol());
    // A device whose store no longer holds two operations a restored HQ lost says so, one
    // operation each (sila_proto::LOST_OP); its other work is applied as usual.
    let op = |seq: i64, op: &str| sila_proto::WireOp {
        seq,
        op_id: uuid::Uuid::now_v7().to_string(),
        op: op.into(),
        entity: "beneficiary".into(),
        entity_id: uuid::Uuid::now_v7().to_string(),
        base_version: None,
        payload: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
        created_at: now(),
    };
    let at = Utc.with_ymd_and_hms(2026, 3, 11, 7, 30, 0).unwrap();
    let r =
        s.hq.push(
            &lost,
            &sila_proto::PushRequest {
                protocol: sila_proto::PROTOCOL,
                device_id: lost.device_id.clone(),
                ops: vec![op(1, sila_proto::LOST_OP), op(2, sila_proto::LOST_OP)],
            },
            at,
        )
        .unwrap();
    assert_eq!(r.acked_through, 2);
    s.hq.push(
        &lost,
        &sila_proto::PushRequest {
            protocol: sila_proto::PROTOCOL,
            device_id: lost.device_id.clone(),
            ops: vec![op(3, sila_proto::LOST_OP)],
        },
        at + chrono::Duration::hours(2),
    )
    .unwrap();

    let (_, _, c) = Client::sign_in(&s.url, "admin", PW).await;
    let (st, list) = c.unwrap().get("/devices").await;
    assert_eq!(st.as_u16(), 200);
    let row = |id: &str| {
        list["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device_id"] == id)
            .unwrap()
            .clone()
    };
    let l = row(&lost.device_id);
    assert_eq!(l["lost_operations"], 3);
    let since: chrono::DateTime<Utc> = l["lost_since"].as_str().unwrap().parse().unwrap();
    assert_eq!(since, at, "since the first loss HQ heard of");
    let f = row(&fine.device_id);
    assert_eq!(
        (f["lost_operations"].clone(), f["lost_since"].clone()),
        (json!(0), Value::Null)
    );
    assert_eq!(s.hq.stats().unwrap().lost_operations, 3);
}
