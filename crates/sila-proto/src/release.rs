//! Releases of the desktop app that HQ serves to its devices, and the one check both sides make
//! of a package: its size, its SHA-256 and its minisign signature by the charity's update key.
//!
//! Keys and signatures are in the format `tauri signer generate` and `tauri signer sign` write
//! (the format tauri-plugin-updater reads): a `.pub` file holding minisign's two-line public key
//! as base64 text, and a `.sig` file holding minisign's four-line signature as base64 text. The
//! package is read once, in bounded memory, for the hash and the signature together (minisign's
//! pre-hashed signatures, the kind `tauri signer sign` makes); a legacy signature over the whole
//! file in memory is refused.

use base64::Engine;
use sha2::{Digest, Sha256};
use std::io::Read;

/// Why a package or a key is refused. Codes are stable: devices report them to HQ, and the app
/// words them in Arabic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseError {
    /// The public key is not a minisign key in `tauri signer` format.
    BadKey,
    /// The signature is not a minisign signature in `tauri signer` format.
    BadSignatureFormat,
    /// The signature does not verify against the key (tampered, or signed by another key).
    BadSignature,
    /// The package is not the size the release names.
    SizeMismatch,
    /// The package's SHA-256 is not the one the release names.
    HashMismatch,
    /// The version is not `MAJOR.MINOR.PATCH`.
    BadVersion,
    /// Reading the package failed.
    Io,
}

impl ReleaseError {
    pub fn code(self) -> &'static str {
        match self {
            ReleaseError::BadKey => "update_bad_key",
            ReleaseError::BadSignatureFormat => "update_bad_signature_format",
            ReleaseError::BadSignature => "update_bad_signature",
            ReleaseError::SizeMismatch => "update_size_mismatch",
            ReleaseError::HashMismatch => "update_hash_mismatch",
            ReleaseError::BadVersion => "update_bad_version",
            ReleaseError::Io => "update_io",
        }
    }
}

impl std::fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for ReleaseError {}

/// Text that may be base64 of minisign's lines (`tauri signer`'s files) or those lines already.
fn unwrap_text(text: &str) -> Option<String> {
    let t = text.trim();
    if t.starts_with("untrusted comment:") {
        return Some(t.to_owned());
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(t).ok()?;
    String::from_utf8(bytes).ok()
}

/// The public key updates are signed with.
#[derive(Debug, Clone)]
pub struct UpdateKey(minisign_verify::PublicKey);

impl UpdateKey {
    /// A key as `tauri signer generate` writes it to its `.pub` file (minisign's key file as
    /// base64), or minisign's own key file, or its one base64 line.
    pub fn decode(text: &str) -> Result<UpdateKey, ReleaseError> {
        let t = text.trim();
        let key = match unwrap_text(t) {
            Some(lines) if lines.starts_with("untrusted comment:") => {
                minisign_verify::PublicKey::decode(&lines)
            }
            _ => minisign_verify::PublicKey::from_base64(t),
        };
        key.map(UpdateKey).map_err(|_| ReleaseError::BadKey)
    }
}

/// What a check found: the package's SHA-256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub sha256: String,
    pub size: u64,
}

/// Is `signature` by `key` at all (its key ID)? Checked before a package is fetched, so a
/// device does not spend a slow link on a package signed by another key.
pub fn signed_by(key: &UpdateKey, signature: &str) -> Result<(), ReleaseError> {
    let lines = unwrap_text(signature).ok_or(ReleaseError::BadSignatureFormat)?;
    let sig =
        minisign_verify::Signature::decode(&lines).map_err(|_| ReleaseError::BadSignatureFormat)?;
    key.0
        .verify_stream(&sig)
        .map(|_| ())
        .map_err(|_| ReleaseError::BadSignature)
}

/// Read a package once and check its signature (`tauri signer sign`'s `.sig` text) against
/// `key`; returns its SHA-256 and size for the caller to compare with what it expected.
pub fn check(
    key: &UpdateKey,
    signature: &str,
    mut package: impl Read,
) -> Result<Checked, ReleaseError> {
    let lines = unwrap_text(signature).ok_or(ReleaseError::BadSignatureFormat)?;
    let sig =
        minisign_verify::Signature::decode(&lines).map_err(|_| ReleaseError::BadSignatureFormat)?;
    // Refused here: a signature by another key (its key ID differs), or a legacy one.
    let mut verifier = key
        .0
        .verify_stream(&sig)
        .map_err(|_| ReleaseError::BadSignature)?;
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match package.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReleaseError::Io),
        };
        verifier.update(&buf[..n]);
        sha.update(&buf[..n]);
        size += n as u64;
    }
    verifier
        .finalize()
        .map_err(|_| ReleaseError::BadSignature)?;
    Ok(Checked {
        sha256: hex::encode(sha.finalize()),
        size,
    })
}

/// Check a package against the release that names it: signature, then size and hash.
pub fn check_release(
    key: &UpdateKey,
    release: &crate::Release,
    package: impl Read,
) -> Result<(), ReleaseError> {
    let c = check(key, &release.signature, package)?;
    if c.size != release.size as u64 {
        return Err(ReleaseError::SizeMismatch);
    }
    if c.sha256 != release.sha256 {
        return Err(ReleaseError::HashMismatch);
    }
    Ok(())
}

/// A version as `MAJOR.MINOR.PATCH` numbers (Cargo's and the bundler's), for ordering; a
/// pre-release or build suffix is not accepted.
pub fn parse_version(v: &str) -> Result<(u64, u64, u64), ReleaseError> {
    let mut parts = v.trim().split('.').map(|p| {
        if !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse::<u64>().ok()
        } else {
            None
        }
    });
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) => Ok((a, b, c)),
        _ => Err(ReleaseError::BadVersion),
    }
}

/// Is `candidate` a newer version than `current`? An unreadable `current` (a device that did
/// not say) is older than any release.
pub fn is_newer(candidate: &str, current: &str) -> bool {
    match (parse_version(candidate), parse_version(current)) {
        (Ok(a), Ok(b)) => a > b,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../tests/fixtures/update/test-key.pub");
    const OTHER: &str = include_str!("../../../tests/fixtures/update/other-key.pub");
    const SIG: &str = include_str!("../../../tests/fixtures/update/release-300k.sig");

    /// The fixture package: 300,000 bytes anyone can remake, signed once with the throw-away
    /// test key (`tauri signer sign`).
    fn package() -> Vec<u8> {
        (0..300_000u64).map(|i| ((i * 7919) % 251) as u8).collect()
    }

    #[test]
    fn a_package_signed_with_the_key_checks() {
        let key = UpdateKey::decode(KEY).unwrap();
        let c = check(&key, SIG, &package()[..]).unwrap();
        assert_eq!(c.size, 300_000);
        assert_eq!(c.sha256, hex::encode(Sha256::digest(package())));
    }

    #[test]
    fn a_tampered_package_or_another_key_is_refused() {
        let key = UpdateKey::decode(KEY).unwrap();
        let mut p = package();
        p[123_456] ^= 1;
        assert_eq!(check(&key, SIG, &p[..]), Err(ReleaseError::BadSignature));
        assert_eq!(
            check(&key, SIG, &package()[..299_999]),
            Err(ReleaseError::BadSignature)
        );
        let other = UpdateKey::decode(OTHER).unwrap();
        assert_eq!(
            check(&other, SIG, &package()[..]),
            Err(ReleaseError::BadSignature)
        );
        assert_eq!(
            check(&key, "not a signature", &package()[..]),
            Err(ReleaseError::BadSignatureFormat)
        );
        assert_eq!(
            UpdateKey::decode("nonsense").err(),
            Some(ReleaseError::BadKey)
        );
    }

    #[test]
    fn versions_order_by_their_numbers() {
        assert!(is_newer("0.1.1", "0.1.0"));
        assert!(is_newer("0.10.0", "0.9.9"));
        assert!(!is_newer("0.1.0", "0.1.0"));
        assert!(!is_newer("0.1.0", "0.2.0"));
        assert!(is_newer("0.1.0", ""));
        assert!(!is_newer("0.1.0-rc1", "0.0.1"));
        assert_eq!(parse_version("1.2"), Err(ReleaseError::BadVersion));
    }
}
