//! HQ's own staff in the console: the password policy (ten characters at least, Argon2id, the
//! password never stored), what makes an account valid, and the rule that the console always
//! keeps one active administrator.

use crate::store::console::{ConsoleRole, ConsoleStaff};
use crate::{HqError, Result};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;

/// Shortest password HQ accepts.
pub const MIN_PASSWORD: usize = 10;

/// Hash a new password, refusing one too short.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(HqError::BadRequest("password_too_short"));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| HqError::BadRequest("salt"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HqError::BadRequest("password"))
}

/// A hash of a password nobody has, checked when the user name is unknown so that a wrong name
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| {
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("salt");
        Argon2::default()
            .hash_password(b"no such account, no such password", &salt)
            .expect("hash")
            .to_string()
    })
}

/// Does `password` match `hash`? With no account (None), the same work is done and the answer
/// is no.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    let ok = PasswordHash::new(hash.unwrap_or(dummy_hash()))
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && hash.is_some()
}

/// A new account's name and roles, checked; the name shown defaults to the user name.
pub fn new_account<'a>(
    username: &'a str,
    display_name: &'a str,
    roles: &[ConsoleRole],
) -> Result<(&'a str, &'a str)> {
    let username = username.trim();
    if username.is_empty() || username.chars().count() > 64 {
        return Err(HqError::BadRequest("username"));
    }
    if roles.is_empty() {
        return Err(HqError::BadRequest("roles"));
    }
    let display_name = match display_name.trim() {
        "" => username,
        d => d,
    };
    Ok((username, display_name))
}

/// Roles sorted, each once, as they are kept.
pub fn roles_json(roles: &[ConsoleRole]) -> Result<String> {
    let mut r: Vec<ConsoleRole> = roles.to_vec();
    r.sort();
    r.dedup();
    Ok(serde_json::to_string(&r)?)
}

/// A change of an account: its roles and whether it stays active. The last active administrator
/// can be neither disabled nor lose the role (`others`: every other account).
pub fn change(
    current: &ConsoleStaff,
    roles: Option<&[ConsoleRole]>,
    active: Option<bool>,
    others: &[ConsoleStaff],
) -> Result<(Vec<ConsoleRole>, bool)> {
    let roles = roles.unwrap_or(&current.roles).to_vec();
    if roles.is_empty() {
        return Err(HqError::BadRequest("roles"));
    }
    let active = active.unwrap_or(current.active);
    if !(active && roles.contains(&ConsoleRole::Admin))
        && current.has(ConsoleRole::Admin)
        && !others
            .iter()
            .any(|s| s.id != current.id && s.active && s.has(ConsoleRole::Admin))
    {
        return Err(HqError::BadRequest("last_admin"));
    }
    Ok((roles, active))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(id: &str, roles: &[ConsoleRole], active: bool) -> ConsoleStaff {
        ConsoleStaff {
            id: id.into(),
            username: id.into(),
            display_name: id.into(),
            roles: roles.to_vec(),
            active,
        }
    }

    #[test]
    fn a_short_password_is_refused_and_a_long_one_verifies() {
        assert!(matches!(
            hash_password("123456789"),
            Err(HqError::BadRequest("password_too_short"))
        ));
        let h = hash_password("0123456789").unwrap();
        assert!(verify_password(Some(&h), "0123456789"));
        assert!(!verify_password(Some(&h), "0123456788"));
        assert!(!verify_password(None, "0123456789"));
    }

    #[test]
    fn the_last_active_administrator_stays() {
        let admin = staff("a", &[ConsoleRole::Admin], true);
        let reviewer = staff("r", &[ConsoleRole::Reviewer], true);
        let alone = [admin.clone(), reviewer.clone()];
        assert!(change(&admin, None, Some(false), &alone).is_err());
        assert!(change(&admin, Some(&[ConsoleRole::Reviewer]), None, &alone).is_err());
        assert!(change(&admin, Some(&[]), None, &alone).is_err());
        let two = [admin.clone(), staff("b", &[ConsoleRole::Admin], true)];
        assert!(change(&admin, None, Some(false), &two).is_ok());
        let disabled_other = [admin.clone(), staff("b", &[ConsoleRole::Admin], false)];
        assert!(change(&admin, None, Some(false), &disabled_other).is_err());
        assert_eq!(
            change(&reviewer, None, Some(false), &alone).unwrap(),
            (vec![ConsoleRole::Reviewer], false)
        );
    }
}
