//! Backups from the app (issue 10.5): an administrator saves an encrypted backup of the store to a
//! USB stick or a folder, and the first-run screen of a new or wiped laptop restores one and signs
//! in. The store does the work (`Store::backup`: one consistent, encrypted file taken while the
//! app is in use; `Store::restore`: opened by a staff password, nothing left on a wrong one).
//!
//! Where: the app offers the places a person means by "a USB stick" (the removable drives mounted
//! now) and the folder exports go to, instead of a file dialog, so the choice is a short list a
//! person reads and the same list tells the first-run screen where to look for backups. The app
//! writes and reads backups only in those places.

use crate::dto::*;
use crate::present::session_info;
use crate::state::Desk;
use sila_store::Store;
use std::path::{Path, PathBuf};

type R<T> = Result<T, ApiError>;

/// The file name's ending of the backups the app writes and finds.
pub const BACKUP_EXT: &str = "silabackup";

/// Most folder entries looked at in one place when finding backups (a stick full of photos must
/// not make the first-run screen wait).
const SCAN_LIMIT: usize = 5_000;

/// Drives mounted now that are not the system's own disk: a USB stick, an SD card.
fn removable_drives() -> Vec<PathBuf> {
    let mut out = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_default();
        // udisks mounts a stick at /media/USER/LABEL (Debian, Ubuntu) or /run/media/USER/LABEL;
        // macOS at /Volumes/LABEL. Only mount points count: a folder someone made there is not a drive.
        let mut bases = vec![PathBuf::from("/media"), PathBuf::from("/Volumes")];
        if !user.is_empty() {
            bases.insert(0, Path::new("/run/media").join(&user));
            bases.insert(0, Path::new("/media").join(&user));
        }
        let root = std::fs::metadata("/").map(|m| m.dev()).ok();
        for base in bases {
            let Ok(parent) = std::fs::metadata(&base) else {
                continue;
            };
            let Ok(entries) = std::fs::read_dir(&base) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let Ok(m) = std::fs::metadata(&p) else {
                    continue;
                };
                if m.is_dir() && m.dev() != parent.dev() && Some(m.dev()) != root {
                    out.push(p);
                }
            }
        }
    }
    #[cfg(windows)]
    for letter in 'D'..='Z' {
        let p = PathBuf::from(format!("{letter}:\\"));
        if p.is_dir() {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Where a backup can go, and where the first-run screen looks for one: the removable drives,
/// then the folder exports go to (`SILA_EXPORT_DIR`, else Downloads), then Documents.
pub fn places(desk: &Desk) -> Vec<BackupPlaceDto> {
    let mut out: Vec<BackupPlaceDto> = removable_drives()
        .into_iter()
        .map(|p| BackupPlaceDto {
            label: p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.to_string_lossy().into_owned()),
            path: p.to_string_lossy().into_owned(),
            removable: true,
        })
        .collect();
    let folders = [Some(desk.export_dir.clone()), dirs::document_dir()];
    for f in folders.into_iter().flatten() {
        let path = f.to_string_lossy().into_owned();
        if !out.iter().any(|p| p.path == path) {
            out.push(BackupPlaceDto {
                label: f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.clone()),
                path,
                removable: false,
            });
        }
    }
    out
}

pub fn backup_places(desk: &Desk) -> R<Vec<BackupPlaceDto>> {
    Ok(places(desk))
}

/// Save an encrypted backup of the store into one of the offered places (administrators). It runs
/// on a connection of its own, so the desk is not held while a large store is copied.
pub fn save_backup(desk: &Desk, place: String) -> R<BackupDto> {
    let place = places(desk)
        .into_iter()
        .find(|p| p.path == place)
        .ok_or_else(|| {
            ApiError::new(
                "place_gone",
                "لم يعد هذا المكان متاحاً (هل نُزع القرص؟). اختر مكاناً من القائمة.",
            )
        })?;
    let copy = desk.with_store(|s| {
        if !s
            .session()
            .actor
            .has_any(&[sila_domain::staff::Role::Admin])
        {
            return Err(ApiError::new(
                "forbidden",
                "حفظ نسخة احتياطية من صلاحيات مدير النظام.",
            ));
        }
        Ok(s.another_connection()?)
    })?;
    let dir = PathBuf::from(&place.path);
    std::fs::create_dir_all(&dir).map_err(|_| {
        ApiError::new(
            "place_unwritable",
            "تعذرت الكتابة في هذا المكان. اختر مكاناً آخر.",
        )
    })?;
    let stem = format!(
        "sila-{}-{}",
        sila_store::branch_code(&copy.session().branch),
        copy.now().format("%Y-%m-%d-%H%M")
    );
    let mut file = dir.join(format!("{stem}.{BACKUP_EXT}"));
    for n in 2.. {
        if !file.exists() {
            break;
        }
        file = dir.join(format!("{stem}-{n}.{BACKUP_EXT}"));
    }
    let report = copy.backup(&file)?;
    Ok(BackupDto {
        file_name: file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: file.to_string_lossy().into_owned(),
        place: place.label,
        removable: place.removable,
        bytes: report.bytes as i64,
        beneficiaries: report.beneficiaries,
        cases: report.cases,
        pending_changes: report.pending_changes,
    })
}

/// The backups in the offered places (each place and the folders directly in it), newest first.
pub fn find_backups(desk: &Desk) -> R<Vec<BackupFileDto>> {
    let mut found = Vec::new();
    for place in places(desk) {
        let mut seen = 0;
        let mut folders = vec![(PathBuf::from(&place.path), 0)];
        while let Some((dir, depth)) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                seen += 1;
                if seen > SCAN_LIMIT {
                    break;
                }
                let p = e.path();
                let Ok(m) = e.metadata() else { continue };
                if m.is_dir() {
                    if depth == 0 {
                        folders.push((p, 1));
                    }
                } else if p.extension().is_some_and(|x| x == BACKUP_EXT) {
                    found.push((
                        m.modified().ok(),
                        BackupFileDto {
                            name: e.file_name().to_string_lossy().into_owned(),
                            path: p.to_string_lossy().into_owned(),
                            place: place.label.clone(),
                            removable: place.removable,
                            bytes: m.len() as i64,
                            modified: m
                                .modified()
                                .ok()
                                .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
                        },
                    ));
                }
            }
        }
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(found.into_iter().map(|(_, f)| f).collect())
}

/// First run: bring a backup back into this laptop's empty data folder and sign in with a staff
/// password held in it. Only a backup found in the offered places is opened.
pub fn restore_backup(desk: &Desk, input: RestoreInput) -> R<SessionInfo> {
    if input.username.trim().is_empty() {
        return Err(ApiError::invalid(vec![
            sila_domain::error::FieldError::required("username"),
        ]));
    }
    let file = find_backups(desk)?
        .into_iter()
        .find(|f| f.path == input.path)
        .ok_or_else(|| ApiError::bad_input("path"))?;
    let store = Store::restore(
        Path::new(&file.path),
        &desk.dir,
        &input.username,
        &input.password,
    )?;
    let info = session_info(&store);
    desk.begin_session(store)?;
    desk.sync_now();
    Ok(info)
}
