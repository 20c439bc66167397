//! Publishing a release of the desktop app: HQ stores only a package whose signature verifies
//! against its update key (the key the apps carry), under a version it does not hold yet, so a
//! device is never offered a package it would refuse.

use crate::{HqError, Result};
use sila_proto::Release;
use sila_proto::release::{self, UpdateKey};

/// Check a package before it is published; the release as devices will be told of it, and its
/// version's numbers.
pub fn check(
    key: Option<&UpdateKey>,
    version: &str,
    package: &[u8],
    signature: &str,
) -> Result<(Release, (u64, u64, u64))> {
    let key = key.ok_or(HqError::NoUpdateKey)?;
    let numbers = release::parse_version(version).map_err(HqError::Release)?;
    if package.is_empty() {
        return Err(HqError::BadRequest("empty package"));
    }
    let checked = release::check(key, signature, package).map_err(HqError::Release)?;
    Ok((
        Release {
            version: version.trim().to_owned(),
            sha256: checked.sha256,
            size: checked.size as i64,
            signature: signature.trim().to_owned(),
        },
        numbers,
    ))
}
