//! HQ restored from a backup gets back what branches sent after it (issue 12.8). The backup is
//! taken with the real `sila-hq backup` while HQ serves; HQ is then stopped and served again from
//! the copy (SQLite: the file; PostgreSQL: `pg_restore` into a new database), and the devices,
//! which had all of their work acknowledged, send again what the copy lacks under the same
//! numbers and IDs, and read the restored HQ's feed again from where the copy's timeline began.
//!
//! Runs on the run's engine (`SILA_TEST_DB`).

use crate::harness::*;
use sila_hq::store::HqStore;
use std::path::{Path, PathBuf};

const AFLAJ: &str = "الأفلاج";
const MARWAN: &str = "مروان";

/// `sila-hq backup --out FILE` on `db`, as an operator runs it while HQ serves.
fn backup(db: &str, out: &Path) -> serde_json::Value {
    let o = std::process::Command::new(bin("hq"))
        .arg("--db")
        .arg(db)
        .arg("backup")
        .arg("--out")
        .arg(out)
        .env("SILA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A PostgreSQL server program of the run's installation (PATH, or Debian's newest).
fn pg_program(name: &str) -> PathBuf {
    if let Ok(path) = std::env::var("PATH") {
        for d in std::env::split_paths(&path) {
            if d.join(name).is_file() {
                return d.join(name);
            }
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let p = e.path().join("bin").join(name);
            p.is_file().then_some((v, p))
        })
        .collect();
    found.sort();
    found.pop().expect("PostgreSQL's programs").1
}

/// Bring a backup back as a new database, the way README says: the SQLite copy is served as it
/// is; a PostgreSQL dump is restored into an empty database.
fn restore(copy: &Path, dir: &Path) -> String {
    if sila_hq::testing::TestEngine::from_env() == sila_hq::testing::TestEngine::Sqlite {
        let to = dir.join("restored.db");
        std::fs::copy(copy, &to).unwrap();
        return to.to_string_lossy().into_owned();
    }
    let url = sila_hq::testing::new_database();
    let o = std::process::Command::new(pg_program("pg_restore"))
        .arg("--no-owner")
        .arg(format!("--dbname={url}"))
        .arg(copy)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pg_restore failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    url
}

fn hq_count(hq: &Hq, sql: &str) -> i64 {
    hq.store.query(sql, &[]).unwrap()[0].i64(0).unwrap()
}

fn count(b: &Branch, sql: &str) -> i64 {
    b.store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Each laptop syncs in turn, round after round, until a whole round moves nothing and nothing
/// is pending anywhere (within a deadline). A laptop may be left with pending work for a round:
/// a restored HQ holds back what refers to a colleague's work until that colleague is back.
async fn round(laptops: &mut [&mut Branch]) -> sila_sync::SyncReport {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut all = sila_sync::SyncReport::default();
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the laptops did not settle"
        );
        let mut quiet = true;
        for l in laptops.iter_mut() {
            let r = l.sync().await.unwrap();
            quiet &= r.pushed == 0 && r.pulled == 0 && r.pending == 0 && r.sent_again == 0;
            all.sent_again += r.sent_again;
            all.lost += r.lost;
            all.redownloaded |= r.redownloaded;
        }
        if quiet {
            return all;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_hq_gets_back_what_branches_sent_after_its_backup() {
    let hq = Hq::start().await;
    let mut a1 = Branch::laptop(&hq, AFLAJ, "a1").await;
    let mut a2 = Branch::laptop(&hq, AFLAJ, "a2").await;
    let mut m = Branch::laptop(&hq, MARWAN, "m1").await;
    a1.demo(6, 71);
    a2.demo(4, 72);
    m.demo(5, 73);
    round(&mut [&mut a1, &mut a2, &mut m]).await;

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("hq.backup");
    let taken = backup(&hq.db, &copy);
    assert_eq!(taken["devices"], 3);
    // Written whole, under its own name only.
    assert!(copy.is_file());
    assert!(!dir.path().join("hq.backup.partial").exists());
    let before_backup = hq_count(&hq, "SELECT count(*) FROM applied_ops");

    // More work everywhere after the backup, synced and acknowledged: new people and cases on
    // each laptop, and a2 corrects a person a1 registered before the backup.
    a1.demo(5, 81);
    a2.demo(3, 82);
    m.demo(4, 83);
    let id: sila_domain::ids::BeneficiaryId = a2
        .store
        .conn()
        .query_row(
            "SELECT id FROM beneficiaries ORDER BY rid LIMIT 1",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
        .parse()
        .unwrap();
    let s = a2.store.beneficiary(id).unwrap().unwrap();
    let mut e = s.beneficiary.clone();
    e.district = "حي الورود".into();
    a2.store.update_beneficiary(&e, s.version).unwrap();
    round(&mut [&mut a1, &mut a2, &mut m]).await;
    for l in [&a1, &a2, &m] {
        assert_hq_holds(&hq, l);
    }
    let people = |hq: &Hq, b: &str| {
        hq.store
            .stats()
            .unwrap()
            .branches
            .iter()
            .find(|s| s.name == b)
            .map(|s| (s.beneficiaries, s.cases))
            .unwrap()
    };
    let held = (people(&hq, AFLAJ), people(&hq, MARWAN));
    let ops = hq_count(&hq, "SELECT count(*) FROM applied_ops");
    assert!(ops > before_backup);
    // The devices hold the payloads HQ's backup does not: nothing after it was let go.
    for l in [&a1, &a2, &m] {
        assert_eq!(l.pending(), 0);
        assert!(
            count(l, "SELECT count(*) FROM outbox WHERE payload <> ''") > 0,
            "payloads kept after the backup"
        );
    }

    // HQ is lost and served again from the backup: what came after it is gone there.
    let mut hq = hq;
    hq.stop().await;
    let restored_db = restore(&copy, dir.path());
    drop(hq);
    let hq = Hq::start_on(restored_db).await;
    assert_eq!(
        hq_count(&hq, "SELECT count(*) FROM applied_ops"),
        before_backup
    );
    assert_ne!(people(&hq, AFLAJ), held.0);
    for l in [&a1, &a2, &m] {
        point_at(l, &hq.url);
    }

    // They sync on: each sends again what the restored HQ lacks, once.
    let r = round(&mut [&mut a1, &mut a2, &mut m]).await;
    assert!(r.sent_again > 0);
    assert_eq!(r.lost, 0);
    assert!(!r.redownloaded, "nothing was taken again: only sent again");
    assert_eq!((people(&hq, AFLAJ), people(&hq, MARWAN)), held);
    assert_eq!(hq_count(&hq, "SELECT count(*) FROM applied_ops"), ops);

    // Work after the restore: the restored HQ numbers its feed from the copy's positions, under
    // which a1 had read other entries before; a1 still gets a2's new work.
    a2.demo(3, 91);
    let s = a1.store.beneficiary(id).unwrap().unwrap();
    assert_eq!(s.beneficiary.district, "حي الورود");
    let mut e = s.beneficiary.clone();
    e.centre = "مركز الأفلاج".into();
    a1.store.update_beneficiary(&e, s.version).unwrap();
    round(&mut [&mut a1, &mut a2, &mut m]).await;
    // Every laptop converges with HQ, nothing twice (each outbox operation once at HQ under its
    // own number), and the branch's laptops hold the same people.
    for l in [&a1, &a2, &m] {
        assert_hq_holds(&hq, l);
    }
    assert_eq!(
        count(&a1, "SELECT count(*) FROM beneficiaries"),
        count(&a2, "SELECT count(*) FROM beneficiaries")
    );
    assert_eq!(
        a2.store
            .beneficiary(id)
            .unwrap()
            .unwrap()
            .beneficiary
            .centre,
        "مركز الأفلاج"
    );
    assert_eq!(hq.store.stats().unwrap().lost_operations, 0);
    // Quiet afterwards: a further pass moves nothing and takes nothing again.
    for l in [&mut a1, &mut a2, &mut m] {
        let r = l.sync().await.unwrap();
        assert_eq!((r.pushed, r.pulled, r.redownloaded), (0, 0, false));
    }
}

/// HQ restored from a copy older than its last backup: a laptop had let go of the payloads the
/// last backup held, so it cannot send them again. It says so, and HQ says so (never silently),
/// the rest of the branch goes on, and nobody takes the branch again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_a_restored_hq_lost_and_no_laptop_can_send_again_is_an_alert_on_both_sides() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, AFLAJ, "a").await;
    let mut b = Branch::laptop(&hq, AFLAJ, "b").await;
    a.demo(3, 51);
    round(&mut [&mut a, &mut b]).await;
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.backup");
    backup(&hq.db, &old);
    a.demo(3, 52);
    round(&mut [&mut a, &mut b]).await;
    backup(&hq.db, &dir.path().join("new.backup"));
    // The next feed answers say the newer backup holds everything: the payloads go.
    round(&mut [&mut a, &mut b]).await;
    round(&mut [&mut a, &mut b]).await;
    assert_eq!(
        count(&a, "SELECT count(*) FROM outbox WHERE payload <> ''"),
        0
    );
    // What each laptop made that the older copy lacks.
    let lacks = {
        let copy = sila_hq::Hq::open(restore(&old, dir.path())).unwrap();
        let held = |l: &Branch| {
            copy.query(
                "SELECT last_seq FROM devices WHERE device_id = ?1",
                &[sila_hq::db::Val::Text(l.device())],
            )
            .unwrap()[0]
                .i64(0)
                .unwrap()
        };
        let lacks = |l: &Branch| count(l, "SELECT count(*) FROM outbox") - held(l);
        (lacks(&a), lacks(&b))
    };
    assert!(lacks.0 > 0);

    // Restored from the *older* copy.
    let mut hq = hq;
    hq.stop().await;
    let restored = restore(&old, dir.path());
    drop(hq);
    let hq = Hq::start_on(restored).await;
    for l in [&a, &b] {
        point_at(l, &hq.url);
    }
    let r = round(&mut [&mut a, &mut b]).await;
    assert_eq!(r.lost as i64, lacks.0 + lacks.1);
    // On each laptop: counted, and each listed among the refused changes with its reason.
    for (l, lost) in [(&a, lacks.0), (&b, lacks.1)] {
        assert_eq!(l.store.sync_state().unwrap().lost_at_hq, lost);
        let refused = l.store.refused_ops(1000).unwrap();
        assert_eq!(
            refused
                .iter()
                .filter(|o| o.reason.as_deref() == Some(sila_sync::proto::LOST_AT_DEVICE))
                .count() as i64,
            lost
        );
    }
    // At HQ: counted in the stats, each recorded once under the laptop's own number and ID.
    assert_eq!(hq.store.stats().unwrap().lost_operations, lacks.0 + lacks.1);
    assert_eq!(
        hq_count(&hq, "SELECT count(*) FROM applied_ops"),
        count(&a, "SELECT count(*) FROM outbox") + count(&b, "SELECT count(*) FROM outbox")
    );
    // Nobody takes the branch again and again: a re-download cannot give HQ what it lacks.
    for _ in 0..3 {
        for l in [&mut a, &mut b] {
            let r = l.sync().await.unwrap();
            assert!(!r.redownloaded);
            assert_eq!((r.pushed, r.pending), (0, 0));
        }
    }
}

/// `sila-hq serve --backups continuous` (PostgreSQL archived continuously: no restore goes back
/// past an acknowledgement): devices let go of acknowledged payloads at once, without a backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_continuous_archiving_acknowledged_payloads_go_at_once() {
    let hq = Hq::start_with(|h| h.with_continuous_backups(true)).await;
    let mut a = Branch::laptop(&hq, AFLAJ, "a").await;
    a.demo(4, 61);
    a.sync_until_quiet(&opts()).await;
    assert!(count(&a, "SELECT count(*) FROM outbox") > 0);
    assert_eq!(
        count(&a, "SELECT count(*) FROM outbox WHERE payload <> ''"),
        0
    );
    assert_hq_holds(&hq, &a);
}

/// A laptop enrolled after the backup is unknown to the restored HQ: it is refused, is enrolled
/// again with a new code, and then sends everything it did, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_laptop_enrolled_after_the_backup_is_enrolled_again_and_sends_everything() {
    let hq = Hq::start().await;
    let mut a = Branch::laptop(&hq, AFLAJ, "a").await;
    a.demo(3, 31);
    round(&mut [&mut a]).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("hq.backup");
    backup(&hq.db, &copy);
    let mut c = Branch::laptop(&hq, AFLAJ, "c").await;
    c.demo(2, 32);
    round(&mut [&mut a, &mut c]).await;

    let mut hq = hq;
    hq.stop().await;
    let restored = restore(&copy, dir.path());
    drop(hq);
    let hq = Hq::start_on(restored).await;
    for l in [&a, &c] {
        point_at(l, &hq.url);
    }
    assert_eq!(c.sync().await.unwrap_err().code(), "unauthorized");
    sila_sync::enroll(&mut c.store, &hq.url, &hq.code(AFLAJ), &opts())
        .await
        .unwrap();
    round(&mut [&mut a, &mut c]).await;
    for l in [&a, &c] {
        assert_hq_holds(&hq, l);
    }
}

/// HQ backs itself up by default (issue 13.3): `sila-hq serve` takes its own copies on its
/// period (SQLite: in the `backups` folder beside its file, PostgreSQL: in the folder given),
/// keeps the newest `--backup-keep`, each opens as an HQ database, and a laptop lets go of its
/// acknowledged payloads at its first sync after a copy holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_backs_itself_up_on_its_schedule_and_keeps_the_newest_copies() {
    use std::ffi::OsStr;
    let dir = tempfile::tempdir().unwrap();
    let db = sila_hq::testing::fresh_db(dir.path());
    let sqlite = sila_hq::testing::TestEngine::from_env() == sila_hq::testing::TestEngine::Sqlite;
    let folder = dir.path().join("backups");
    let mut options: Vec<&OsStr> = ["--backup-every", "1s", "--backup-keep", "2"]
        .map(OsStr::new)
        .to_vec();
    if !sqlite {
        options.extend([OsStr::new("--backup-dir"), folder.as_os_str()]);
    }
    let (mut server, addr) = spawn_hq_serving(&db, None, &options).await;
    let hq = sila_hq::Hq::open(&db).unwrap();
    let n = |sql: &str| hq.query(sql, &[]).unwrap()[0].i64(0).unwrap();
    let code = hq
        .create_enrol_code(
            AFLAJ,
            chrono::Duration::hours(1),
            &sila_hq::HqActor::command_line(),
            chrono::Utc::now(),
        )
        .unwrap();
    let mut a = Branch::new(AFLAJ);
    sila_sync::enroll(&mut a.store, &format!("http://{addr}"), &code, &opts())
        .await
        .unwrap();
    a.demo(4, 51);
    a.sync_until_quiet(&opts()).await;

    // No operator runs `sila-hq backup`: a copy HQ took by itself comes to hold all of it.
    let device = a.device();
    eventually("a scheduled backup holding the laptop's work", || {
        n(&format!(
            "SELECT count(*) FROM devices WHERE device_id = '{device}' \
             AND last_seq > 0 AND backed_up_seq >= last_seq"
        )) == 1
    })
    .await;
    a.sync().await.unwrap();
    assert!(count(&a, "SELECT count(*) FROM outbox") > 0);
    assert_eq!(
        count(&a, "SELECT count(*) FROM outbox WHERE payload <> ''"),
        0,
        "acknowledged payloads a backup holds are let go"
    );

    // Copy after copy, only the newest two stay: the oldest are deleted.
    let taken = || -> Vec<PathBuf> {
        hq.query("SELECT file FROM backups ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| PathBuf::from(r.text(0).unwrap()))
            .collect()
    };
    let on_disk = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    eventually("four backups, of which the newest two are kept", || {
        let all = taken();
        all.len() >= 4 && on_disk() == all[all.len() - 2..]
    })
    .await;
    let all = taken();
    assert!(!all[0].exists() && !all[1].exists());
    sigterm(&server);
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), server.wait())
        .await
        .expect("the server stops")
        .unwrap();
    assert!(status.success(), "sila-hq exited with {status:?}");

    // The newest copy is an HQ database holding the laptop's work.
    let newest = on_disk().pop().unwrap();
    let copy = sila_hq::Hq::open(restore(&newest, dir.path())).unwrap();
    assert_eq!(
        copy.stats().unwrap().beneficiaries as i64,
        a.store.stats().unwrap().beneficiaries
    );
    assert!(
        copy.devices()
            .unwrap()
            .iter()
            .any(|d| d.device_id == device)
    );
}

/// Several `sila-hq serve` on one PostgreSQL take one scheduled backup a period between them
/// (issue 12.4: nothing one server needs is held only in its own memory). While one server holds
/// the schedule's lock (it is taking the period's copy), the other takes none; once the copy is
/// recorded, the other finds the period's copy there and takes none either; two servers asking
/// at the same moment leave one copy. On PostgreSQL whatever the run's engine (SQLite has one
/// server per file: nothing to share), as moving_up.rs takes its PostgreSQL side.
#[test]
fn servers_on_one_postgresql_take_one_scheduled_backup_a_period_between_them() {
    use sila_hq::backup::{Schedule, ScheduleLock, backup_if_due};
    use sila_hq::testing::{TestEngine, fresh_db_on};
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_db_on(TestEngine::Postgres, dir.path());
    let (one, two) = (
        sila_hq::Hq::open(&db).unwrap(),
        sila_hq::Hq::open(&db).unwrap(),
    );
    let folder = dir.path().join("backups");
    let plan = Schedule {
        dir: folder.clone(),
        every: std::time::Duration::from_secs(3600),
        keep: 7,
    };
    let copies = || std::fs::read_dir(&folder).map(|d| d.count()).unwrap_or(0);
    let now = chrono::Utc::now();

    let held = ScheduleLock::try_take(&db)
        .unwrap()
        .expect("the lock is free");
    assert!(
        ScheduleLock::try_take(&db).unwrap().is_none(),
        "one holder at a time"
    );
    let taken = backup_if_due(&db, &**two.engine(), &plan, now).unwrap();
    assert!(
        taken.is_none(),
        "the other server is taking this period's copy"
    );
    assert_eq!(copies(), 0);
    drop(held);

    let taken = backup_if_due(&db, &**one.engine(), &plan, now).unwrap();
    assert!(
        taken.is_some(),
        "the lock is free again and no copy is a period old"
    );
    let later = now + chrono::Duration::minutes(5);
    assert!(
        backup_if_due(&db, &**two.engine(), &plan, later)
            .unwrap()
            .is_none()
    );
    assert_eq!(copies(), 1);

    // A period later both servers look at the same moment: one copy between them.
    let next = now + chrono::Duration::hours(1);
    let results: Vec<bool> = std::thread::scope(|s| {
        [&one, &two]
            .map(|hq| {
                let (db, plan) = (&db, &plan);
                s.spawn(move || {
                    backup_if_due(db, &**hq.engine(), plan, next)
                        .unwrap()
                        .is_some()
                })
            })
            .map(|h| h.join().unwrap())
            .to_vec()
    });
    assert_eq!(results.iter().filter(|t| **t).count(), 1, "{results:?}");
    assert_eq!(copies(), 2);
}
