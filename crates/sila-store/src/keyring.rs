//! The keyring: the store's random encryption key, wrapped once per staff account by a key derived
//! from that account's password (Argon2id), kept in a small file beside the encrypted database.
//!
//! Any active staff member of the branch can unwrap the key with their own password; nobody else
//! can. A wrong password fails the AEAD tag check, so it opens nothing. The file holds no personal
//! data of beneficiaries. It is written atomically (temp file, fsync, rename) so a power cut leaves
//! the old or the new keyring, never half of one.

use crate::error::{Result, StoreError};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The 32-byte SQLCipher key. Never written anywhere unwrapped.
#[derive(Clone)]
pub struct StoreKey(pub(crate) [u8; 32]);

impl StoreKey {
    pub fn random() -> StoreKey {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        StoreKey(k)
    }
    /// The raw-key form SQLCipher accepts; it skips SQLCipher's own key derivation on open.
    pub(crate) fn pragma_value(&self) -> String {
        format!("\"x'{}'\"", hex::encode(self.0))
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.0 = [0; 32];
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// OWASP's minimum for Argon2id (19 MiB, 2 passes): about a tenth of a second on a branch laptop.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 19 * 1024,
            t_cost: 2,
            p_cost: 1,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WrappedKey {
    username: String,
    kdf: KdfParams,
    salt: String,
    nonce: String,
    wrapped: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    accounts: Vec<WrappedKey>,
}

pub struct Keyring {
    path: PathBuf,
    file: KeyringFile,
}

/// Changing a keyring is read, modify, write. The desktop changes it from two connections (the
/// window's, and its sync worker's when a pulled change disables an account), so changes take
/// turns here; whoever also changes the staff table keeps the turn until that has committed, so
/// nobody ever sees a key and an account row that disagree half-way. (Two processes on one
/// store are kept apart by the desktop's single-instance lock.)
static EDITS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A turn to change a keyring; see [`EDITS`].
pub(crate) fn edit_turn() -> std::sync::MutexGuard<'static, ()> {
    EDITS.lock().unwrap_or_else(|e| e.into_inner())
}

fn derive(password: &str, salt: &[u8], kdf: KdfParams) -> Result<[u8; 32]> {
    let params = Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32))
        .map_err(|_| StoreError::Keyring("bad kdf parameters".into()))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, &mut out)
        .map_err(|_| StoreError::Keyring("key derivation failed".into()))?;
    Ok(out)
}

/// Usernames are compared case-insensitively and without surrounding spaces.
fn canonical(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Keyring {
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join("keyring.json")
    }

    pub fn new(dir: &Path) -> Keyring {
        Keyring {
            path: Self::path_in(dir),
            file: KeyringFile {
                format: 1,
                accounts: Vec::new(),
            },
        }
    }

    pub fn load(dir: &Path) -> Result<Keyring> {
        let path = Self::path_in(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotInitialised);
            }
            Err(e) => return Err(e.into()),
        };
        let file: KeyringFile = serde_json::from_slice(&bytes)
            .map_err(|_| StoreError::Keyring("unreadable keyring".into()))?;
        if file.format != 1 {
            return Err(StoreError::Keyring("unknown keyring format".into()));
        }
        Ok(Keyring { path, file })
    }

    /// The accounts that hold a wrapped key here.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.file.accounts.iter().map(|a| a.username.as_str())
    }

    pub fn has(&self, username: &str) -> bool {
        let u = canonical(username);
        self.file.accounts.iter().any(|a| a.username == u)
    }

    /// Unwrap the store key with an account's password.
    pub fn unwrap(&self, username: &str, password: &str) -> Result<StoreKey> {
        let u = canonical(username);
        // An unknown user costs the same work as a wrong password, so the answer does not tell
        // which usernames exist.
        let Some(entry) = self.file.accounts.iter().find(|a| a.username == u) else {
            let _ = derive(password, b"sila-unknown-user-salt", KdfParams::default());
            return Err(StoreError::WrongPassword);
        };
        let bad = || StoreError::Keyring("damaged entry".into());
        let salt = hex::decode(&entry.salt).map_err(|_| bad())?;
        let nonce = hex::decode(&entry.nonce).map_err(|_| bad())?;
        let wrapped = hex::decode(&entry.wrapped).map_err(|_| bad())?;
        if nonce.len() != 24 {
            return Err(bad());
        }
        let kek = derive(password, &salt, entry.kdf)?;
        let cipher = XChaCha20Poly1305::new((&kek).into());
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &wrapped,
                    aad: u.as_bytes(),
                },
            )
            .map_err(|_| StoreError::WrongPassword)?;
        let key: [u8; 32] = plain.try_into().map_err(|_| bad())?;
        Ok(StoreKey(key))
    }

    /// Wrap the store key for an account (new account or new password). Replaces any earlier entry.
    pub fn wrap(
        &mut self,
        username: &str,
        password: &str,
        key: &StoreKey,
        kdf: KdfParams,
    ) -> Result<()> {
        let u = canonical(username);
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut salt);
        rand::rng().fill_bytes(&mut nonce);
        let kek = derive(password, &salt, kdf)?;
        let cipher = XChaCha20Poly1305::new((&kek).into());
        let wrapped = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &key.0,
                    aad: u.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Keyring("wrap failed".into()))?;
        self.file.accounts.retain(|a| a.username != u);
        self.file.accounts.push(WrappedKey {
            username: u,
            kdf,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            wrapped: hex::encode(wrapped),
        });
        Ok(())
    }

    /// Remove an account's access (disabled account). Was there any?
    pub fn remove(&mut self, username: &str) -> bool {
        let u = canonical(username);
        let before = self.file.accounts.len();
        self.file.accounts.retain(|a| a.username != u);
        self.file.accounts.len() < before
    }

    /// Write atomically: temp file, fsync, rename, fsync the folder.
    pub fn save(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(".keyring.json.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(&self.file)?)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> KdfParams {
        KdfParams {
            m_cost_kib: 1024,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[test]
    fn right_password_unwraps_wrong_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::random();
        let mut ring = Keyring::new(dir.path());
        ring.wrap("Admin", "correct horse", &key, fast()).unwrap();
        ring.save().unwrap();
        let ring = Keyring::load(dir.path()).unwrap();
        assert_eq!(ring.unwrap(" admin ", "correct horse").unwrap().0, key.0);
        assert!(matches!(
            ring.unwrap("admin", "wrong"),
            Err(StoreError::WrongPassword)
        ));
        assert!(matches!(
            ring.unwrap("nobody", "correct horse"),
            Err(StoreError::WrongPassword)
        ));
    }

    #[test]
    fn an_entry_cannot_be_moved_to_another_username() {
        // The username is bound into the AEAD, so copying one account's entry under another name fails.
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::random();
        let mut ring = Keyring::new(dir.path());
        ring.wrap("a", "pw", &key, fast()).unwrap();
        let mut entry = ring.file.accounts[0].clone();
        entry.username = "b".into();
        ring.file.accounts.push(entry);
        assert!(matches!(
            ring.unwrap("b", "pw"),
            Err(StoreError::WrongPassword)
        ));
    }
}
