//! Where HQ keeps the bytes of attachments and knowledge-base files (issue 12.6), chosen by
//! configuration (`sila-hq --files DIR`, `SILA_HQ_FILES`):
//!
//! - **In the database** (the default): `attachments.bytes`, so one backup of the database
//!   (`sila-hq backup`) holds everything.
//! - **In a folder**: one file per attachment, named by its SHA-256 under a two-letter folder
//!   (`DIR/ab/ab12…`), written whole under a temporary name, synced and renamed, only once the
//!   upload's hash is verified (the chunks in flight stay in the database, as today). Keeps a
//!   PostgreSQL database small when branches send many scans. Several servers must see the same
//!   folder. Back it up beside the database: files are never changed or deleted once written, so
//!   a copy taken after the database's backup holds every file that backup names (`rsync -a`).
//!
//! Either way the database says which files exist and which are complete; a file is read from
//! the database when its bytes are there (written before the folder was configured), else from
//! the folder.

use crate::error::{HqError, Result, StorageError};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Files {
    #[default]
    Database,
    Folder(PathBuf),
}

fn io(what: &str, e: std::io::Error) -> HqError {
    HqError::Storage(StorageError::new(format!("{what}: {e}")))
}

impl Files {
    /// The folder to keep files in, made if missing.
    pub fn folder(dir: &Path) -> Result<Files> {
        std::fs::create_dir_all(dir).map_err(|e| io("the files folder", e))?;
        Ok(Files::Folder(dir.to_owned()))
    }

    /// Where a file of this SHA-256 (64 hex digits, checked) lives in the folder.
    fn path(dir: &Path, sha256: &str) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HqError::BadRequest("sha256"));
        }
        let sha = sha256.to_ascii_lowercase();
        Ok(dir.join(&sha[..2]).join(sha))
    }

    /// Keep verified bytes. In the database mode they go with the row (the caller's SQL);
    /// returns whether the database should hold them.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<bool> {
        let Files::Folder(dir) = self else {
            return Ok(true);
        };
        let path = Files::path(dir, sha256)?;
        if path.is_file() {
            // Content-addressed: the same name holds the same bytes.
            return Ok(false);
        }
        let parent = path.parent().expect("two levels");
        std::fs::create_dir_all(parent).map_err(|e| io("the files folder", e))?;
        let tmp = parent.join(format!(".{}.partial", uuid::Uuid::now_v7().simple()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(parent)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("writing a file", e));
        }
        Ok(false)
    }

    /// `len` bytes of a file from `offset` (fewer at its end), read from the folder.
    pub fn read(&self, sha256: &str, offset: u64, len: usize) -> Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let Files::Folder(dir) = self else {
            return Err(HqError::NotFound("attachment"));
        };
        let mut f = match std::fs::File::open(Files::path(dir, sha256)?) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HqError::NotFound("attachment"));
            }
            Err(e) => return Err(io("reading a file", e)),
        };
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io("reading a file", e))?;
        let mut out = Vec::with_capacity(len.min(sila_proto::MAX_CHUNK));
        f.take(len as u64)
            .read_to_end(&mut out)
            .map_err(|e| io("reading a file", e))?;
        Ok(out)
    }
}
