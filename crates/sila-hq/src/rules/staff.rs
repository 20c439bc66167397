//! HQ's own staff in the console: the password policy (ten characters at least, Argon2id, the
//! password never stored), what makes an account valid, and the rule that the console always
//! keeps one active administrator.

use crate::error::Code;
use crate::store::console::{ConsoleRole, ConsoleStaff};
use crate::{HqError, Result};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

/// Shortest password HQ accepts.
pub const MIN_PASSWORD: usize = 10;

/// The longest user name a console account may have; sign-in refuses a longer one unread.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest password HQ accepts or checks (Argon2 reads all of it).
pub const MAX_PASSWORD_BYTES: usize = 1024;

thread_local! {
    /// Argon2's working memory (19 MiB), allocated once by each thread that hashes passwords and
    /// reused. Allocated afresh for every check, glibc's heap grew by about 15 MiB per check and
    /// kept it (twenty wrong passwords in a row: 320 MB resident). In the server only the
    /// console's two password-check threads (`console::limiter::Gate`) hash passwords, so this
    /// is the whole of Argon2's memory there.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `argon` of `password` with `salt` into `out`, in this thread's reused memory.
fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> bool {
    ARGON2_MEMORY.with_borrow_mut(|memory| {
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
            .is_ok()
    })
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with `salt`, with
/// Argon2's default parameters.
fn phc(password: &str, salt: &[u8]) -> Result<String> {
    let bad = |_| HqError::BadRequest("password");
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    if !argon2_into(&argon, &params, password, salt, &mut out) {
        return Err(HqError::BadRequest("password"));
    }
    let salt = SaltString::encode_b64(salt).map_err(bad)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(bad)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(bad)?),
    };
    Ok(hash.to_string())
}

/// Hash a new password, refusing one too short, or too long for anyone to sign in with.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(HqError::Refused(Code::PasswordTooShort));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(HqError::Refused(Code::PasswordTooLong));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    phc(password, &salt)
}

/// A hash of a password nobody has, checked when the user name is unknown so that a wrong name
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static H: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    H.get_or_init(|| phc("no such account, no such password", &[7u8; 16]).expect("hash"))
}

/// Does `password` match the PHC string `hash`? With the hash's own parameters, in this thread's
/// reused memory; the comparison takes the same time wherever the outputs differ.
fn phc_matches(hash: &str, password: &str) -> bool {
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(h.algorithm),
        Params::try_from(&h),
        h.salt,
        h.hash,
    ) else {
        return false;
    };
    let Ok(version) = h.version.map(Version::try_from).transpose() else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, &params, password, salt, &mut out)
        && Output::new(&out).is_ok_and(|o| o == expected)
}

/// Does `password` match `hash`? With no account (None), the same work is done and the answer
/// is no.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    let ok = phc_matches(hash.unwrap_or(dummy_hash()), password);
    ok && hash.is_some()
}

/// A new account's name and roles, checked; the name shown defaults to the user name.
pub fn new_account<'a>(
    username: &'a str,
    display_name: &'a str,
    roles: &[ConsoleRole],
) -> Result<(&'a str, &'a str)> {
    let username = username.trim();
    if username.is_empty() || username.chars().count() > MAX_NAME_CHARS {
        return Err(HqError::Refused(Code::UsernameRequired));
    }
    if roles.is_empty() {
        return Err(HqError::Refused(Code::RolesRequired));
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
        return Err(HqError::Refused(Code::RolesRequired));
    }
    let active = active.unwrap_or(current.active);
    if !(active && roles.contains(&ConsoleRole::Admin))
        && current.has(ConsoleRole::Admin)
        && !others
            .iter()
            .any(|s| s.id != current.id && s.active && s.has(ConsoleRole::Admin))
    {
        return Err(HqError::Refused(Code::LastAdmin));
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
            Err(HqError::Refused(Code::PasswordTooShort))
        ));
        let h = hash_password("0123456789").unwrap();
        assert!(verify_password(Some(&h), "0123456789"));
        assert!(!verify_password(Some(&h), "0123456788"));
        assert!(!verify_password(None, "0123456789"));
        assert!(matches!(
            hash_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(HqError::Refused(Code::PasswordTooLong))
        ));
    }

    #[test]
    fn passwords_verify_against_their_hash_and_hashes_made_before_the_reused_memory() {
        use argon2::password_hash::PasswordHasher;
        let h = hash_password("long-enough-password").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(Some(&h), "long-enough-password"));
        assert!(!verify_password(Some(&h), "long-enough-passworD"));
        // A hash the argon2 crate made itself (every account made before this code) still works.
        let salt = SaltString::encode_b64(&[3u8; 16]).unwrap();
        let old = Argon2::default()
            .hash_password(b"an older password", &salt)
            .unwrap()
            .to_string();
        assert_eq!(old, phc("an older password", &[3u8; 16]).unwrap());
        assert!(verify_password(Some(&old), "an older password"));
        assert!(!verify_password(Some(&old), "an older passwore"));
        assert!(!verify_password(Some("$argon2id$garbage"), "x"));
        assert!(!phc_matches(
            dummy_hash(),
            "no such account, no such passwore"
        ));
        assert!(phc_matches(
            dummy_hash(),
            "no such account, no such password"
        ));
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
