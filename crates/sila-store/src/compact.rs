//! Compaction: the store rewritten into a new file holding only the pages in use, then put in the
//! old file's place. SQLite never gives freed pages back to the disk by itself, so a store that
//! once held more (an import undone, acknowledged operations pruned) keeps its size until it is
//! rewritten.
//!
//! The new file is written by `VACUUM INTO` on the encrypted connection, which encrypts it with
//! the same key page by page as it is written: no plaintext copy ever exists, not even in part
//! (checked before the swap, refused if it were otherwise). It is synced, and replaces the old
//! file with one rename, so a crash leaves either the old store or the new one. A leftover of an
//! interrupted compaction is an encrypted partial file that the next compaction deletes.

use crate::error::{Result, StoreError};
use crate::{DB_FILE, Store, open_connection};
use rusqlite::Connection;
use sila_domain::staff::Role;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// The new file while it is written, beside the store.
pub const COMPACTING_FILE: &str = "branch.sila.compacting";

/// What compaction did: the store's size before and after (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CompactReport {
    pub before_bytes: u64,
    pub after_bytes: u64,
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Whether a file starts as an unencrypted SQLite database does.
fn is_plaintext_sqlite(path: &Path) -> Result<bool> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path)?;
    let n = f.read(&mut head)?;
    Ok(n == 16 && &head == b"SQLite format 3\0")
}

impl Store {
    /// Rewrite the store without its free pages and swap it in (see the module's comment).
    /// Administrators only. Every other connection to the store must be closed first (the
    /// desktop app stops its sync worker): a connection left open would keep writing to the old
    /// file, so compaction refuses (`store_in_use`) when it finds one. `progress(written, total)`
    /// is called a few times a second with the bytes written so far and about how many there
    /// will be.
    pub fn compact(&mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<CompactReport> {
        self.require(&[Role::Admin])?;
        let db = self.dir.join(DB_FILE);
        let wal = self.dir.join(format!("{DB_FILE}-wal"));
        let tmp = self.dir.join(COMPACTING_FILE);
        if tmp.exists() {
            std::fs::remove_file(&tmp)?;
        }
        // Everything in the log into the database first. Another connection reading or writing
        // keeps the log from emptying: then it is not ours alone to swap.
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::InUse);
        }
        let before_bytes = size(&db);
        let total: u64 = self.conn.query_row(
            "SELECT (page_count - freelist_count) * page_size
             FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64;

        let target = tmp.to_string_lossy().into_owned();
        let conn = &mut self.conn;
        let written = std::thread::scope(|scope| {
            let vacuum = scope.spawn(move || conn.execute("VACUUM INTO ?1", [target]));
            while !vacuum.is_finished() {
                progress(size(&tmp), total);
                std::thread::sleep(Duration::from_millis(200));
            }
            vacuum.join().expect("the VACUUM thread")
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        progress(size(&tmp), total);
        if is_plaintext_sqlite(&tmp)? {
            std::fs::remove_file(&tmp)?;
            return Err(StoreError::Corrupt);
        }
        std::fs::File::open(&tmp)?.sync_all()?;

        // Close this connection. The last one to close removes the log (the checkpoint emptied
        // it): a log still there belongs to a connection still open, which would go on writing
        // to the old file after the swap.
        let conn = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        conn.close().map_err(|(_, e)| e)?;
        if wal.exists() {
            let _ = std::fs::remove_file(&tmp);
            self.conn = open_connection(&db, &self.key)?;
            return Err(StoreError::InUse);
        }
        std::fs::rename(&tmp, &db)?;
        // The rename itself is durable once the folder is synced (a POSIX folder can be opened
        // for that; Windows makes the rename durable itself).
        #[cfg(unix)]
        std::fs::File::open(&self.dir)?.sync_all()?;
        self.conn = open_connection(&db, &self.key)?;
        let report = CompactReport {
            before_bytes,
            after_bytes: size(&db),
        };
        self.write(|w| {
            w.audit_with(
                "store.compact",
                "store",
                &w.session.device.to_string(),
                &serde_json::to_value(report)?,
            )
        })?;
        Ok(report)
    }
}
