//! Updates from headquarters: a release HQ offers in the pull answer ([`crate::SyncReport::release`])
//! is fetched over the sync link in chunks into a file in the app's data folder, resumed where it
//! stopped after a cut (the partial file is kept: a 2G line never starts over), and checked
//! before it is kept: its size, its SHA-256 and its minisign signature against the key built into
//! the app. A package that fails is deleted and reported to HQ; it is never kept, so never
//! installed. Memory stays bounded by one chunk whatever the package's size.

use crate::client::{HqClient, SyncError};
use crate::proto::release::{self, ReleaseError, UpdateKey};
use crate::proto::{Release, ReleaseReport};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// HQ could not be reached or refused a request: the partial file stays, the next pass
    /// resumes it.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The package failed its check: deleted, reported to HQ, never installed.
    #[error("the package was refused ({0})")]
    Refused(ReleaseError),
    /// The update folder could not be written.
    #[error("the update folder cannot be written")]
    Io(#[source] std::io::Error),
}

impl UpdateError {
    pub fn code(&self) -> String {
        match self {
            UpdateError::Sync(e) => e.code(),
            UpdateError::Refused(e) => e.code().to_owned(),
            UpdateError::Io(_) => "update_io".to_owned(),
        }
    }
}

/// The Arabic wording of an update problem, for the app.
pub fn arabic_message(code: &str) -> &'static str {
    match code {
        "update_bad_signature" | "update_bad_signature_format" | "update_bad_key" => {
            "رُفض تحديث وصل من المقر لأن توقيعه غير صحيح، وحُذف ولم يُثبَّت. أُبلغ المقر بذلك."
        }
        "update_size_mismatch" | "update_hash_mismatch" => {
            "رُفض تحديث وصل من المقر لأن الملف تالف أو ناقص، وحُذف ولم يُثبَّت. أُبلغ المقر بذلك."
        }
        "update_no_key" => "هذه النسخة من صلة بُنيت دون مفتاح التحديثات، فلا تقبل تحديثاً من المقر.",
        "update_busy" => {
            "لا يمكن التحديث الآن: توجد استمارة مفتوحة أو بيانات غير محفوظة. أكمل الاستمارة أو احفظها ثم حدّث."
        }
        "update_install_failed" => {
            "تعذر تثبيت التحديث. بقيت النسخة الحالية كما هي؛ راجع مدير النظام."
        }
        "update_cancelled" => "أُلغي التثبيت. بقيت النسخة الحالية كما هي.",
        "update_io" => "تعذر حفظ ملف التحديث على هذا الجهاز.",
        _ => crate::client::arabic_message(code),
    }
}

/// The package file of a release once checked. The name holds only the parsed version and the
/// SHA-256's hex, never text from HQ as is.
pub fn package_path(dir: &Path, r: &Release) -> Result<PathBuf, ReleaseError> {
    let (a, b, c) = release::parse_version(&r.version)?;
    if r.sha256.len() != 64 || !r.sha256.bytes().all(|x| x.is_ascii_hexdigit()) || r.size < 0 {
        return Err(ReleaseError::HashMismatch);
    }
    Ok(dir.join(format!(
        "sila-{a}.{b}.{c}-{}.{}",
        &r.sha256[..16],
        PACKAGE_EXTENSION
    )))
}

/// What the installer of this platform takes.
#[cfg(target_os = "windows")]
const PACKAGE_EXTENSION: &str = "exe";
#[cfg(not(target_os = "windows"))]
const PACKAGE_EXTENSION: &str = "deb";

fn partial(path: &Path) -> PathBuf {
    path.with_extension("part")
}

/// Check a package file against its release (size, SHA-256, signature), reading it once.
pub fn check_file(key: &UpdateKey, r: &Release, path: &Path) -> Result<(), ReleaseError> {
    let f = std::fs::File::open(path).map_err(|_| ReleaseError::Io)?;
    release::check_release(key, r, std::io::BufReader::new(f))
}

/// How far a fetch has come, for the app's progress line.
pub type FetchProgress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

/// Fetch a release into `dir` (resuming a partial file), check it, and return the checked
/// package's path. A package that fails its check is deleted and reported to HQ. Packages of
/// other releases left in `dir` are deleted once this one is in.
pub async fn fetch_release(
    client: &HqClient,
    r: &Release,
    dir: &Path,
    key: Option<&UpdateKey>,
    chunk: usize,
    progress: FetchProgress<'_>,
) -> Result<PathBuf, UpdateError> {
    let refuse = |e: ReleaseError| async move {
        // Best effort: a report that does not get through is no reason to keep the package.
        let report = ReleaseReport {
            version: r.version.clone(),
            sha256: r.sha256.clone(),
            outcome: e.code().to_owned(),
        };
        if let Err(err) = client.report_release(&report).await {
            tracing::warn!(code = %err.code(), "the refused release could not be reported");
        }
        tracing::warn!(code = e.code(), "release refused");
        UpdateError::Refused(e)
    };
    let path = match package_path(dir, r) {
        Ok(p) => p,
        Err(e) => return Err(refuse(e).await),
    };
    let Some(key) = key else {
        return Err(UpdateError::Refused(ReleaseError::BadKey));
    };
    if let Err(e) = release::signed_by(key, &r.signature) {
        return Err(refuse(e).await);
    }
    if path.exists() {
        if check_file(key, r, &path).is_ok() {
            return Ok(path);
        }
        let _ = std::fs::remove_file(&path);
    }
    std::fs::create_dir_all(dir).map_err(UpdateError::Io)?;
    let part = partial(&path);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&part)
        .map_err(UpdateError::Io)?;
    let size = r.size as u64;
    let mut offset = file.metadata().map_err(UpdateError::Io)?.len();
    if offset > size {
        file.set_len(0).map_err(UpdateError::Io)?;
        offset = 0;
    }
    progress(offset, size);
    while offset < size {
        let bytes = client.release_chunk(&r.sha256, offset, chunk).await?;
        if bytes.is_empty() || offset + bytes.len() as u64 > size {
            drop(file);
            let _ = std::fs::remove_file(&part);
            return Err(refuse(ReleaseError::SizeMismatch).await);
        }
        file.write_all(&bytes).map_err(UpdateError::Io)?;
        // On disk before the next request: a cut or a crash keeps every chunk that arrived.
        file.sync_data().map_err(UpdateError::Io)?;
        offset += bytes.len() as u64;
        progress(offset, size);
    }
    drop(file);
    if let Err(e) = check_file(key, r, &part) {
        let _ = std::fs::remove_file(&part);
        return Err(refuse(e).await);
    }
    std::fs::rename(&part, &path).map_err(UpdateError::Io)?;
    // Older packages are not needed any more.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            let ours = name.to_str().is_some_and(|n| n.starts_with("sila-"));
            if ours && p != path {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    Ok(path)
}
