//! Attachments at HQ kept in a folder (issue 12.6, `sila-hq --files DIR`), on the run's engine:
//! uploaded in chunks and verified as when they are kept in the database, written to the folder
//! only once whole and verified, read back from it by the console and by devices.

use crate::harness::*;
use crate::sync_faults::png;
use chrono::Utc;
use sila_hq::ConsoleStore;
use sila_hq::store::HqStore;

fn in_folder(dir: &std::path::Path, sha: &str) -> std::path::PathBuf {
    dir.join(&sha[..2]).join(sha)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_kept_in_a_folder_arrive_in_verified_chunks_and_go_back_down() {
    let files = tempfile::tempdir().unwrap();
    let hq = Hq::start_with_files(files.path()).await;
    let mut a = Branch::laptop(&hq, "الأفلاج", "a").await;
    let big = png(300 * 1024, 7);
    let broken = png(90 * 1024, 8);
    let big_sha = a.store.put_attachment(&big).unwrap();
    let broken_sha = a.store.put_attachment(&broken).unwrap();
    // The broken file's bytes rot on this laptop after it was recorded: HQ's check refuses it.
    a.store
        .conn()
        .execute(
            "UPDATE attachments SET bytes = ?2 WHERE sha256 = ?1",
            rusqlite::params![broken_sha, png(90 * 1024, 12)],
        )
        .unwrap();
    a.demo(3, 10);
    let mut o = opts();
    o.chunk = 64 * 1024;
    a.sync_until_quiet(&o).await;
    assert_hq_holds(&hq, &a);

    // In the folder, whole, under its hash; not in the database.
    let (complete, in_db): (bool, bool) = hq
        .read()
        .query_row(
            "SELECT complete, bytes IS NOT NULL FROM attachments WHERE sha256 = ?1",
            [&big_sha],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((complete, in_db), (true, false));
    assert_eq!(
        std::fs::read(in_folder(files.path(), &big_sha)).unwrap(),
        big
    );
    // A file failing its SHA-256 never reaches the folder, and nothing half-written is left.
    assert!(!in_folder(files.path(), &broken_sha).exists());
    let left: Vec<_> = walk(files.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let err: Option<String> = a
        .store
        .conn()
        .query_row(
            "SELECT last_error FROM attachment_uploads WHERE sha256 = ?1",
            [&broken_sha],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(err.as_deref(), Some("hash_mismatch"));
    // The console reads it from the folder.
    assert_eq!(hq.store.attachment(&big_sha).unwrap().unwrap().bytes, big);

    // A knowledge-base file published at HQ goes to the folder too, and comes down in chunks to
    // a laptop that joins later, checked there.
    let doc = png(150 * 1024, 5);
    hq.store
        .publish_document(
            "دليل البحث الاجتماعي",
            "",
            Some((&doc, "image/png")),
            &sila_hq::HqActor::command_line(),
            Utc::now(),
        )
        .unwrap();
    let doc_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&doc));
    assert_eq!(
        std::fs::read(in_folder(files.path(), &doc_sha)).unwrap(),
        doc
    );
    let mut b = Branch::laptop(&hq, "الأفلاج", "b").await;
    b.sync_until_quiet(&o).await;
    let got: Vec<u8> = b
        .store
        .conn()
        .query_row(
            "SELECT a.bytes FROM kb_documents k JOIN attachments a ON a.sha256 = k.attachment",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(got, doc);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
