//! Enrolment and revocation: who may sync, as which branch.
//!
//! - A code is one-time, for one branch, until it expires; only its SHA-256 is kept.
//! - The device credential is HMAC-SHA-256(HQ's secret, code hash / device ID), so a device that
//!   repeats its enrolment with the same code (its first answer was lost) gets the same
//!   credential again and the one it may already hold keeps working; another device using the
//!   code is `code_used`. HQ keeps only the credential's SHA-256.
//! - Once the device has used that credential, the code is spent: it yields nothing, to that
//!   device too (`code_used`), so a code read later off a note cannot fetch a live credential.
//! - A revoked device is refused everything, enrolment again included; a device enrolled for one
//!   branch never enrols for another.

use crate::error::Code;
use crate::storage::Tx;
use crate::store::{Audit, HqActor};
use crate::{HqError, Result};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use sila_domain::ids::DeviceId;
use sila_proto::{EnrollRequest, EnrollResponse};

/// An authenticated branch device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Device {
    pub device_id: String,
    pub branch: String,
}

pub fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A code as typed: letters and digits only, in capitals ("abcd-efgh" is "ABCDEFGH").
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The credential of a device enrolled with a code.
pub fn credential(secret: &[u8; 32], code_hash: &str, device_id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("{code_hash}/{device_id}").as_bytes());
    format!("sila1_{}", hex::encode(mac.finalize().into_bytes()))
}

/// Exchange a one-time code for a credential (see the module comment).
pub fn enroll(
    tx: &mut dyn Tx,
    secret: &[u8; 32],
    req: &EnrollRequest,
    now: DateTime<Utc>,
) -> Result<EnrollResponse> {
    let device_id: DeviceId = req
        .device_id
        .parse()
        .map_err(|_| HqError::BadRequest("device_id"))?;
    let device_id = device_id.to_string();
    let code_hash = sha_hex(normalise_code(&req.code).as_bytes());
    let code = tx.enrol_code(&code_hash)?.ok_or(HqError::CodeInvalid)?;
    if DateTime::parse_from_rfc3339(&code.expires_at).map_or(true, |e| now > e) {
        return Err(HqError::CodeExpired);
    }
    // A laptop joining its branch has no store yet and names no branch: the answer names it.
    let asked = req.branch.trim();
    if !asked.is_empty() && code.branch != asked {
        return Err(HqError::BranchMismatch);
    }
    let existing = tx.device(&device_id)?;
    let credential_used = existing.as_ref().is_some_and(|d| d.credential_used);
    match &code.used_by {
        None => {}
        // The same device again with the same code, before it ever used the credential: its
        // first answer was lost (or the request was repeated). It gets the same credential
        // again, so a repeat never invalidates the one already delivered.
        Some(d) if *d == device_id && !credential_used => {}
        Some(_) => return Err(HqError::CodeUsed),
    }
    if let Some(existing) = existing {
        if existing.revoked {
            return Err(HqError::Revoked);
        }
        if existing.branch != code.branch {
            return Err(HqError::BranchMismatch);
        }
    }
    let token = credential(secret, &code_hash, &device_id);
    tx.save_device(&device_id, &code.branch, &sha_hex(token.as_bytes()), now)?;
    tx.use_enrol_code(&code_hash, &device_id, now)?;
    Ok(EnrollResponse {
        device_id,
        branch: code.branch,
        token,
    })
}

/// A credential checked: its device, and whether this is the credential's first use (the caller
/// then records it with [`first_use`], in a write of its own: every other call only reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub device: Device,
    pub first_use: bool,
}

/// The device a credential belongs to; a revoked one is refused.
pub fn authenticate(tx: &mut dyn Tx, token: &str) -> Result<Authenticated> {
    match tx.device_by_token(&sha_hex(token.as_bytes()))? {
        None => Err(HqError::Unauthorized),
        Some(d) if d.revoked => Err(HqError::Revoked),
        Some(d) => Ok(Authenticated {
            first_use: !d.credential_used,
            device: Device {
                device_id: d.device_id,
                branch: d.branch,
            },
        }),
    }
}

/// A credential's first use: from now on the code it came from yields nothing.
pub fn first_use(tx: &mut dyn Tx, token: &str, now: DateTime<Utc>) -> Result<()> {
    tx.credential_used(&sha_hex(token.as_bytes()), now)
}

/// A new one-time code for a branch: twelve characters from an alphabet without look-alikes
/// (no I, L, O, U, 0, 1), printed in three groups.
pub fn new_enrol_code(
    tx: &mut dyn Tx,
    branch: &str,
    ttl: chrono::Duration,
    by: &HqActor,
    now: DateTime<Utc>,
) -> Result<String> {
    let branch = branch.trim();
    if branch.is_empty() {
        return Err(HqError::Refused(Code::BranchRequired));
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
    let mut rng = rand::rng();
    let raw: String = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    let code = format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12]);
    tx.add_enrol_code(
        &sha_hex(normalise_code(&code).as_bytes()),
        branch,
        now,
        now + ttl,
    )?;
    tx.audit(
        &Audit::new(by, "enrol_code.create", "branch", branch)
            .detail(serde_json::json!({"ttl_hours": ttl.num_hours()})),
        now,
    )?;
    Ok(code)
}

pub fn revoke(tx: &mut dyn Tx, device_id: &str, by: &HqActor, now: DateTime<Utc>) -> Result<()> {
    if tx.revoke_device(device_id, now)? {
        tx.audit(&Audit::new(by, "device.revoke", "device", device_id), now)
    } else {
        Err(HqError::NotFound("device"))
    }
}

pub fn order_resync(tx: &mut dyn Tx, device_id: &str) -> Result<()> {
    if tx.set_resync(device_id, true)? {
        Ok(())
    } else {
        Err(HqError::NotFound("device"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2 ("Jefe"), through the same Hmac type, so the credential is the
    /// standard construction.
    #[test]
    fn hmac_is_the_standard_one() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_credential_depends_on_code_and_device_and_codes_ignore_dashes_and_case() {
        let k = [7u8; 32];
        assert_eq!(credential(&k, "c", "d"), credential(&k, "c", "d"));
        assert_ne!(credential(&k, "c", "d"), credential(&k, "c", "e"));
        assert_ne!(credential(&k, "c", "d"), credential(&[8u8; 32], "c", "d"));
        assert_eq!(normalise_code("abcd-efgh 2345"), "ABCDEFGH2345");
    }
}
