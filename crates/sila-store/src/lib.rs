//! The branch store: one encrypted SQLite file (SQLCipher) per branch device, its migrations, the
//! outbox every change writes to, Arabic search, spreadsheet import and export, and demo data.
//!
//! The store owns all SQL. Every change goes through [`Store::write`], which runs it in one
//! IMMEDIATE transaction together with its outbox operation and audit event, so a change and the
//! record that it must be synced are never separated. User-visible saves commit with
//! `synchronous=FULL`. The store never reads the wall clock except through [`Clock`], which tests
//! replace. It never logs personal data; it does not log at all.

pub mod backup;
pub mod beneficiaries;
pub mod cases;
pub mod compact;
pub mod demo;
pub mod desk;
pub mod drafts;
pub mod error;
pub mod exporting;
pub mod import;
pub mod keyring;
pub mod merges;
pub mod migrate;
pub mod outbox;
pub mod records;
pub mod search;
pub mod sheet;
pub mod sync;
pub mod tasks;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sila_domain::arabic;
use sila_domain::catalog::Catalog;
use sila_domain::ids::{DeviceId, StaffId};
use sila_domain::staff::{Actor, Role, StaffAccount};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Result, StoreError};
pub use keyring::KdfParams;

/// Where "now" comes from. Production uses the system clock; tests pass a fixed or stepping one.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// The file name of the encrypted database inside the data folder.
pub const DB_FILE: &str = "branch.sila";

/// Who is signed in, on which device, at which branch.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub username: String,
    pub device: DeviceId,
    pub branch: String,
    /// Prefix of human-facing numbers: branch code and device tag, e.g. "AFL-K3F".
    pub number_prefix: String,
}

pub struct Store {
    conn: Connection,
    dir: PathBuf,
    key: keyring::StoreKey,
    session: Session,
    catalog: Catalog,
    clock: Clock,
    kdf: KdfParams,
}

/// Options for creating a store; the defaults are production's.
pub struct InitOptions {
    pub kdf: KdfParams,
    pub clock: Clock,
    /// The device ID, when HQ enrolled it before the store existed (a laptop joining its branch
    /// learns the branch's name from HQ's answer); otherwise a new one.
    pub device: Option<DeviceId>,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            kdf: KdfParams::default(),
            clock: system_clock(),
            device: None,
        }
    }
}

fn open_connection(path: &Path, key: &keyring::StoreKey) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(&format!("PRAGMA key = {};", key.pragma_value()))?;
    // The first read is where SQLCipher finds out whether the key fits.
    if conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .is_err()
    {
        return Err(StoreError::Corrupt);
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;",
    )?;
    set_cache(&conn, CACHE_KIB)?;
    Ok(conn)
}

/// Page cache for everyday work (KiB). SQLCipher keeps decrypted pages here; every miss costs a
/// read, an HMAC check and a decryption, so the indexes a desk touches should fit.
pub(crate) const CACHE_KIB: i64 = 16 * 1024;
/// The log size (pages) at which a connection whose checkpoints are left to another one
/// checkpoints anyway (about 40 MB).
pub const SAFETY_CHECKPOINT_PAGES: i64 = 10_000;
/// How many saves the background connection lets pass between checkpoints: a full intake writes
/// a few dozen pages, so this is about as often as SQLite's own 1000-page default, without a
/// checkpoint's syncs competing with every save.
pub const SAVES_PER_CHECKPOINT: u32 = 16;
/// Page cache of a background connection (the desktop's sync worker).
pub(crate) const BACKGROUND_CACHE_KIB: i64 = 2 * 1024;
/// Page cache while a sheet is imported: the national-ID, name and phone indexes are written in
/// random order, and with them out of cache a 100k-row import spent most of its time evicting
/// and re-decrypting index pages. Set back to CACHE_KIB afterwards, which frees the extra pages.
pub(crate) const BULK_CACHE_KIB: i64 = 128 * 1024;

pub(crate) fn set_cache(conn: &Connection, kib: i64) -> Result<()> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{kib};"))?;
    Ok(())
}

/// The Latin branch code a human-facing number starts with: the first three letters of the branch
/// name without its article, transliterated ("الأفلاج" → "AFL", "مروان" → "MRW").
pub fn branch_code(name: &str) -> String {
    let n = arabic::normalize(name);
    let word = n.split_whitespace().map(|w| {
        w.strip_prefix("ال")
            .filter(|r| r.chars().count() >= 2)
            .unwrap_or(w)
    });
    let mut code = String::new();
    for w in word {
        for c in w.chars() {
            let latin = match c {
                'ا' | 'ع' | 'ء' => "A",
                'ب' => "B",
                'ت' | 'ط' | 'ة' => "T",
                'ث' | 'س' | 'ش' | 'ص' => "S",
                'ج' => "J",
                'ح' | 'ه' => "H",
                'خ' | 'ك' => "K",
                'د' | 'ض' => "D",
                'ذ' | 'ز' | 'ظ' => "Z",
                'ر' => "R",
                'غ' => "G",
                'ف' => "F",
                'ق' => "Q",
                'ل' => "L",
                'م' => "M",
                'ن' => "N",
                'و' => "W",
                'ي' => "Y",
                c if c.is_ascii_alphanumeric() => {
                    code.push(c.to_ascii_uppercase());
                    ""
                }
                _ => "",
            };
            code.push_str(latin);
            if code.len() >= 3 {
                return code[..3].to_owned();
            }
        }
    }
    if code.is_empty() { "BR".into() } else { code }
}

/// Three random letters or digits (no look-alikes) that tell a device's numbers apart.
pub(crate) fn random_tag() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..3)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// What is wrong with a store's first account, field by field (`Store::init` refuses it).
fn first_account_problems(username: &str, password: &str) -> Vec<sila_domain::error::FieldError> {
    let mut problems = Vec::new();
    if username.trim().is_empty() {
        problems.push(sila_domain::error::FieldError::required("username"));
    }
    if password.chars().count() < 8 {
        problems.push(sila_domain::error::FieldError::new(
            "password",
            "password_too_short",
            "كلمة المرور يجب ألا تقل عن 8 أحرف",
        ));
    }
    problems
}

impl Store {
    pub fn exists(dir: &Path) -> bool {
        dir.join(DB_FILE).exists()
    }

    /// Would `init` take this first account? Checked before a joining laptop spends its
    /// enrolment code at HQ, so a short password is said before anything happens.
    pub fn check_first_account(username: &str, password: &str) -> Result<()> {
        let problems = first_account_problems(username, password);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(problems))
        }
    }

    /// Create the branch store and its first administrator.
    pub fn init(
        dir: &Path,
        branch: &str,
        admin_username: &str,
        admin_display_name: &str,
        password: &str,
        opts: InitOptions,
    ) -> Result<Store> {
        let branch = branch.trim();
        let username = admin_username.trim();
        let mut problems = Vec::new();
        if branch.is_empty() {
            problems.push(sila_domain::error::FieldError::required("branch"));
        }
        problems.extend(first_account_problems(username, password));
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems));
        }
        std::fs::create_dir_all(dir)?;
        let db_path = dir.join(DB_FILE);
        if db_path.exists() || keyring::Keyring::path_in(dir).exists() {
            return Err(StoreError::AlreadyInitialised);
        }
        let key = keyring::StoreKey::random();
        let now = (opts.clock)();
        let stamp = now.to_rfc3339();
        let mut conn = open_connection(&db_path, &key)?;
        let created = (|| -> Result<Session> {
            migrate::migrate(&mut conn, &stamp)?;
            let device = opts.device.unwrap_or_else(DeviceId::new_v7);
            let staff_id = StaffId::new_v7();
            // The device tag is random, so two laptops of one branch number their cases apart
            // without asking anyone.
            let prefix = format!("{}-{}", branch_code(branch), random_tag());
            let tx = conn.transaction()?;
            for (k, v) in [
                ("branch", branch.to_owned()),
                ("device_id", device.to_string()),
                ("number_prefix", prefix.clone()),
                (
                    "catalog",
                    serde_json::to_string(&Catalog::arabic_defaults())?,
                ),
                ("created_at", stamp.clone()),
            ] {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    params![k, v],
                )?;
            }
            let account = StaffAccount {
                id: staff_id,
                username: username.to_lowercase(),
                display_name: admin_display_name.trim().to_owned(),
                roles: vec![Role::Admin, Role::Representative],
                branch: branch.to_owned(),
                active: true,
            };
            insert_staff(&tx, &account, &stamp)?;
            tx.commit()?;
            Ok(Session {
                actor: Actor::from(&account),
                username: account.username.clone(),
                device,
                branch: branch.to_owned(),
                number_prefix: prefix,
            })
        })();
        let session = match created {
            Ok(s) => s,
            Err(e) => {
                drop(conn);
                let _ = std::fs::remove_file(&db_path);
                return Err(e);
            }
        };
        let mut ring = keyring::Keyring::new(dir);
        ring.wrap(username, password, &key, opts.kdf)?;
        ring.save()?;
        let catalog = Catalog::arabic_defaults();
        let mut store = Store {
            conn,
            dir: dir.to_owned(),
            key,
            session,
            catalog,
            clock: opts.clock,
            kdf: opts.kdf,
        };
        store.write(|w| {
            let id = w.session.actor.staff_id.to_string();
            let account = staff_by_username(&w.tx, &w.session.username)?
                .ok_or(StoreError::NotFound("staff"))?;
            w.op(
                "staff.create",
                "staff",
                &id,
                None,
                &serde_json::to_value(&account)?,
            )?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Sign in: unwrap the store key with this account's password and open the store.
    pub fn open(dir: &Path, username: &str, password: &str) -> Result<Store> {
        Self::open_with(dir, username, password, system_clock())
    }

    pub fn open_with(dir: &Path, username: &str, password: &str, clock: Clock) -> Result<Store> {
        let db_path = dir.join(DB_FILE);
        if !db_path.exists() {
            return Err(StoreError::NotInitialised);
        }
        let ring = keyring::Keyring::load(dir)?;
        let key = ring.unwrap(username, password)?;
        let mut conn = open_connection(&db_path, &key)?;
        let stamp = clock().to_rfc3339();
        migrate::migrate(&mut conn, &stamp)?;
        let meta = |k: &str| -> Result<String> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::Corrupt)
        };
        let branch = meta("branch")?;
        let device: DeviceId = meta("device_id")?
            .parse()
            .map_err(|_| StoreError::Corrupt)?;
        let number_prefix = meta("number_prefix")?;
        let catalog: Catalog = serde_json::from_str(&meta("catalog")?)?;
        let account = staff_by_username(&conn, &username.trim().to_lowercase())?
            .ok_or(StoreError::WrongPassword)?;
        if !account.active {
            return Err(StoreError::AccountDisabled);
        }
        let session = Session {
            actor: Actor::from(&account),
            username: account.username.clone(),
            device,
            branch,
            number_prefix,
        };
        let kdf = KdfParams::default();
        Ok(Store {
            conn,
            dir: dir.to_owned(),
            key,
            session,
            catalog,
            clock,
            kdf,
        })
    }

    /// A second connection to this store for the same signed-in account, with the key already
    /// in memory: the desktop's sync worker gets its own connection without a second Argon2id
    /// derivation (which, at sign-in, would compete with the home screen for the CPU).
    /// Its page cache is small: it works in the background, in passes, and every cached page
    /// is memory the desktop app keeps resident all day.
    pub fn another_connection(&self) -> Result<Store> {
        let conn = open_connection(&self.dir.join(DB_FILE), &self.key)?;
        set_cache(&conn, BACKGROUND_CACHE_KIB)?;
        Ok(Store {
            conn,
            dir: self.dir.clone(),
            key: self.key.clone(),
            session: self.session.clone(),
            catalog: self.catalog.clone(),
            clock: Arc::clone(&self.clock),
            kdf: self.kdf,
        })
    }

    /// Leave WAL checkpoints to another connection that calls [`Store::checkpoint`] every few
    /// saves (the desktop's sync worker, [`SAVES_PER_CHECKPOINT`]), so a save does not wait for
    /// one: copying the log into the database and syncing it is a save's worst case otherwise.
    /// If nobody checkpoints, this connection still does once the log passes
    /// [`SAFETY_CHECKPOINT_PAGES`].
    pub fn checkpoints_in_background(&self) -> Result<()> {
        self.conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {SAFETY_CHECKPOINT_PAGES};"
        ))?;
        Ok(())
    }

    /// Copy what the log holds into the database as far as readers allow, without waiting for
    /// anyone (SQLite's PASSIVE checkpoint).
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn session(&self) -> &Session {
        &self.session
    }
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }
    /// Read-only access for queries in sibling modules and the sync layer.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Run a change in one IMMEDIATE transaction with its outbox operations and audit events.
    /// Nothing of it is visible unless all of it committed.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        let now = (self.clock)();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut w = Writer {
            tx,
            session: &self.session,
            catalog: &self.catalog,
            now,
            audit_each_op: true,
        };
        let out = f(&mut w)?;
        w.commit()?;
        Ok(out)
    }

    fn require(&self, roles: &[Role]) -> Result<()> {
        if self.session.actor.has_any(roles) {
            Ok(())
        } else {
            Err(StoreError::NotPermitted)
        }
    }

    // ---- staff accounts (administrators) ----

    pub fn staff(&self) -> Result<Vec<StaffAccount>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, username, display_name, roles, branch, active FROM staff ORDER BY display_name",
        )?;
        let rows = stmt
            .query_map([], staff_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The accounts that can open this store on this device (their key is wrapped here). An
    /// account HQ made for this branch arrives by sync without one: it can sign in here once an
    /// administrator has set a password for it on this device (`set_password`).
    pub fn usernames_with_access(&self) -> Result<std::collections::HashSet<String>> {
        let ring = keyring::Keyring::load(&self.dir)?;
        Ok(ring.usernames().map(str::to_owned).collect())
    }

    /// Add a staff account of this branch and give it access to the store.
    pub fn add_staff(
        &mut self,
        username: &str,
        display_name: &str,
        roles: &[Role],
        password: &str,
    ) -> Result<StaffAccount> {
        self.require(&[Role::Admin])?;
        let username = username.trim().to_lowercase();
        if username.is_empty() || display_name.trim().is_empty() || roles.is_empty() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::required(if username.is_empty() {
                    "username"
                } else if roles.is_empty() {
                    "roles"
                } else {
                    "display_name"
                }),
            ]));
        }
        check_branch_roles(roles)?;
        if password.chars().count() < 8 {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "password",
                    "password_too_short",
                    "كلمة المرور يجب ألا تقل عن 8 أحرف",
                ),
            ]));
        }
        if staff_by_username(&self.conn, &username)?.is_some() {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "username",
                    "username_taken",
                    "اسم المستخدم مستخدم من قبل",
                ),
            ]));
        }
        let account = StaffAccount {
            id: StaffId::new_v7(),
            username: username.clone(),
            display_name: display_name.trim().to_owned(),
            roles: roles.to_vec(),
            branch: self.session.branch.clone(),
            active: true,
        };
        // Keyring first: if the database write then fails, an orphan keyring entry opens nothing
        // (there is no account row), whereas the reverse order could leave an account that cannot sign in.
        let _turn = keyring::edit_turn();
        let mut ring = keyring::Keyring::load(&self.dir)?;
        ring.wrap(&username, password, &self.key, self.kdf)?;
        ring.save()?;
        let acc = account.clone();
        self.write(move |w| {
            insert_staff(&w.tx, &acc, &w.now.to_rfc3339())?;
            w.op(
                "staff.create",
                "staff",
                &acc.id.to_string(),
                None,
                &serde_json::to_value(&acc)?,
            )?;
            Ok(())
        })?;
        Ok(account)
    }

    /// Give an account a new password (an administrator resetting it, or the person changing it).
    pub fn set_password(&mut self, username: &str, new_password: &str) -> Result<()> {
        let username = username.trim().to_lowercase();
        if username != self.session.username {
            self.require(&[Role::Admin])?;
        }
        if new_password.chars().count() < 8 {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "password",
                    "password_too_short",
                    "كلمة المرور يجب ألا تقل عن 8 أحرف",
                ),
            ]));
        }
        let account =
            staff_by_username(&self.conn, &username)?.ok_or(StoreError::NotFound("staff"))?;
        if !account.active {
            return Err(StoreError::AccountDisabled);
        }
        let _turn = keyring::edit_turn();
        let mut ring = keyring::Keyring::load(&self.dir)?;
        ring.wrap(&username, new_password, &self.key, self.kdf)?;
        ring.save()?;
        self.write(|w| w.audit("staff.password_reset", "staff", &account.id.to_string()))
    }

    /// Disable or re-enable an account. A disabled account loses its key: it opens nothing.
    pub fn set_staff_active(
        &mut self,
        username: &str,
        active: bool,
        password_if_enabling: Option<&str>,
    ) -> Result<()> {
        self.require(&[Role::Admin])?;
        let username = username.trim().to_lowercase();
        if username == self.session.username && !active {
            return Err(StoreError::Invalid(vec![
                sila_domain::error::FieldError::new(
                    "username",
                    "cannot_disable_self",
                    "لا يمكنك إيقاف حسابك وأنت تستخدمه",
                ),
            ]));
        }
        let account =
            staff_by_username(&self.conn, &username)?.ok_or(StoreError::NotFound("staff"))?;
        let _turn = keyring::edit_turn();
        let mut ring = keyring::Keyring::load(&self.dir)?;
        if active {
            let pw = password_if_enabling.ok_or_else(|| {
                StoreError::Invalid(vec![sila_domain::error::FieldError::required("password")])
            })?;
            ring.wrap(&username, pw, &self.key, self.kdf)?;
        } else {
            ring.remove(&username);
        }
        ring.save()?;
        let id = account.id.to_string();
        self.write(move |w| {
            w.exec(
                "UPDATE staff SET active = ?1, version = version + 1, updated_at = ?2 WHERE id = ?3",
                params![active, w.now.to_rfc3339(), id],
            )?;
            w.op("staff.set_active", "staff", &id, None, &serde_json::json!({"active": active}))?;
            Ok(())
        })
    }

    /// Write the whole log into the database file, so the file alone is the store (before a copy
    /// of the folder is taken by hand).
    pub fn checkpoint_for_copy(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// The edits made to these records (beneficiary and case IDs), oldest first: when, by whom
    /// (display name; for an edit made at HQ, the name HQ sent), the operation, the record and
    /// the names of the fields it changed.
    pub fn edits_of(&self, ids: &[String]) -> Result<Vec<Edit>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.at, coalesce(s.display_name, ''), a.action, a.entity, a.entity_id, a.detail
             FROM audit_events a LEFT JOIN staff s ON s.id = a.staff_id
             WHERE a.entity_id = ?1 AND a.detail IS NOT NULL ORDER BY a.seq",
        )?;
        let mut out = Vec::new();
        for id in ids {
            let rows = stmt.query_map([id], |r| {
                let detail: String = r.get(5)?;
                // A branch's edit names its fields; one made at HQ also says who made it.
                let (fields, hq_by, older) = match serde_json::from_str(&detail) {
                    Ok(EditDetail::Fields(f)) => (f, None, 0),
                    Ok(EditDetail::AtHq { fields, by, older }) => (fields, Some(by), older),
                    Err(_) => (Vec::new(), None, 0),
                };
                Ok(Edit {
                    at: r.get(0)?,
                    at_hq: hq_by.is_some(),
                    by: hq_by.map_or_else(|| r.get(1), Ok)?,
                    action: r.get(2)?,
                    entity: r.get(3)?,
                    entity_id: r.get(4)?,
                    fields,
                    older,
                })
            })?;
            for e in rows {
                out.push(e?);
            }
        }
        out.sort_by(|a, b| a.at.cmp(&b.at));
        Ok(out)
    }

    /// Remove the wrapped key of every account that is not active, so a person disabled on
    /// another device of the branch (or at HQ) can no longer open this device's store. Call it
    /// after the transaction that applied the change has committed (sync does, after every page
    /// it applies). The keyring is replaced whole (temp file, rename) or not at all. Returns how
    /// many keys were removed.
    pub fn reconcile_keyring(&self) -> Result<usize> {
        let _turn = keyring::edit_turn();
        let inactive: Vec<String> = self
            .conn
            .prepare("SELECT username FROM staff WHERE active = 0")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut ring = keyring::Keyring::load(&self.dir)?;
        let removed = inactive.iter().filter(|u| ring.remove(u)).count();
        if removed > 0 {
            ring.save()?;
        }
        Ok(removed)
    }

    /// Counts for `sila stats` and the home screen, read from the tallies that triggers keep as
    /// the data changes (migrations/branch/0011_tallies.sql), never by scanning.
    pub fn stats(&self) -> Result<Stats> {
        let tally = |name: &str| -> Result<i64> {
            Ok(self
                .conn
                .prepare_cached("SELECT value FROM tallies WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        };
        let cases: i64 = self
            .conn
            .prepare_cached(
                "SELECT coalesce(sum(value), 0) FROM tallies WHERE name LIKE 'cases:%'",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(Stats {
            beneficiaries: tally("beneficiaries")?,
            cases,
            pending_changes: outbox::pending_count(&self.conn)?,
        })
    }
}

/// The staff ID of the audit rows that record edits made at HQ (HQ's staff are not the branch's).
pub const HQ_STAFF: &str = "hq";

/// The detail of an edit's audit row.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum EditDetail {
    Fields(Vec<String>),
    AtHq {
        fields: Vec<String>,
        by: String,
        /// The line standing for changes at HQ too old to have come with the record.
        #[serde(default)]
        older: i64,
    },
}

/// One edit of a record, as a timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edit {
    pub at: String,
    /// Made by a person at HQ (in its register), who is `by`.
    pub at_hq: bool,
    pub by: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub fields: Vec<String>,
    /// Not an edit but the count of older changes at HQ the record came without (a laptop new
    /// to a record changed at HQ more often than a re-download carries).
    pub older: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub beneficiaries: i64,
    pub cases: i64,
    pub pending_changes: i64,
}

/// A change in progress: the open transaction, who makes it and when.
pub struct Writer<'a> {
    pub tx: Transaction<'a>,
    pub session: &'a Session,
    pub catalog: &'a Catalog,
    pub now: DateTime<Utc>,
    /// Whether each outbox operation also writes its own audit event. A change of many records
    /// at once (an import) turns this off and records one event with its counts instead
    /// ([`Writer::audit_with`]): one audit row per imported row was a store's worth of rows.
    pub audit_each_op: bool,
}

impl Writer<'_> {
    /// Index the names written in this transaction (see migrations/branch/0004_fts_batched.sql:
    /// one statement here instead of one index segment per row), then commit.
    pub fn commit(self) -> Result<()> {
        let pending: bool = self
            .tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM beneficiary_fts_pending)")?
            .query_row([], |r| r.get(0))?;
        if pending {
            self.tx.execute_batch(
                "INSERT INTO beneficiary_fts (rowid, name_key)
                     SELECT b.rid, b.name_key FROM beneficiary_fts_pending p JOIN beneficiaries b ON b.rid = p.rid;
                 DELETE FROM beneficiary_fts_pending;",
            )?;
        }
        self.tx.commit()?;
        Ok(())
    }

    /// Record a named operation in the outbox (and an audit event) inside this transaction.
    pub fn op(
        &self,
        op: &str,
        entity: &str,
        entity_id: &str,
        base_version: Option<i64>,
        payload: &serde_json::Value,
    ) -> Result<i64> {
        let seq = outbox::append(
            &self.tx,
            &self.session.device,
            op,
            entity,
            entity_id,
            base_version,
            payload,
            self.now,
        )?;
        // An edit's audit row names the fields it changed (their names only), for the timeline.
        // A bulk change (an import) audits itself once instead (`audit_each_op`).
        if self.audit_each_op {
            let fields = payload
                .get("fields")
                .and_then(|f| f.as_object())
                .map(|f| f.keys().cloned().collect::<Vec<_>>());
            match fields {
                Some(names) => self.exec(
                    "INSERT INTO audit_events (at, staff_id, action, entity, entity_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![self.now.to_rfc3339(), self.session.actor.staff_id.to_string(), op, entity, entity_id, serde_json::to_string(&names)?],
                )?,
                None => {
                    self.audit(op, entity, entity_id)?;
                    0
                }
            };
        }
        Ok(seq)
    }

    /// Execute a statement through the connection's statement cache: imports and demo data run the
    /// same few statements hundreds of thousands of times, and preparing each one again costs more
    /// than running it.
    pub fn exec(&self, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
        Ok(self.tx.prepare_cached(sql)?.execute(params)?)
    }

    pub fn audit(&self, action: &str, entity: &str, entity_id: &str) -> Result<()> {
        self.exec(
            "INSERT INTO audit_events (at, staff_id, action, entity, entity_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![self.now.to_rfc3339(), self.session.actor.staff_id.to_string(), action, entity, entity_id],
        )?;
        Ok(())
    }

    /// An audit event with details (counts, codes: never personal data).
    pub fn audit_with(
        &self,
        action: &str,
        entity: &str,
        entity_id: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO audit_events (at, staff_id, action, entity, entity_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![self.now.to_rfc3339(), self.session.actor.staff_id.to_string(), action, entity, entity_id, detail.to_string()],
        )?;
        Ok(())
    }

    /// The next human-facing number of a kind ("case", "file"), never reused.
    pub fn next_number(&self, counter: &str) -> Result<i64> {
        self.exec(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT(name) DO UPDATE SET value = value + 1",
            [counter],
        )?;
        Ok(self.tx.query_row(
            "SELECT value FROM counters WHERE name = ?1",
            [counter],
            |r| r.get(0),
        )?)
    }
}

fn insert_staff(tx: &Connection, a: &StaffAccount, stamp: &str) -> Result<()> {
    let roles: Vec<&str> = a.roles.iter().map(|r| r.code()).collect();
    tx.execute(
        "INSERT INTO staff (id, username, display_name, roles, branch, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![a.id.to_string(), a.username, a.display_name, serde_json::to_string(&roles)?, a.branch, a.active, stamp],
    )?;
    Ok(())
}

fn staff_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaffAccount> {
    let id: String = r.get(0)?;
    let roles: String = r.get(3)?;
    let roles: Vec<String> = serde_json::from_str(&roles).unwrap_or_default();
    Ok(StaffAccount {
        id: id.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        // A branch account never holds a headquarters role, whatever its row says (a store from
        // before the rule, or an account that came down the feed with one).
        roles: roles
            .iter()
            .filter_map(|c| Role::from_code(c))
            .filter(|r| !r.is_hq())
            .collect(),
        branch: r.get(4)?,
        active: r.get(5)?,
    })
}

/// Roles a branch account may be given: never the committee's or HQ staff's (`Role::BRANCH`).
pub(crate) fn check_branch_roles(roles: &[Role]) -> Result<()> {
    if roles.iter().any(|r| r.is_hq()) {
        return Err(StoreError::Invalid(vec![
            sila_domain::error::FieldError::new(
                "roles",
                "hq_role",
                "أدوار المقر (لجنة البحث، موظف المقر) لا تُمنح لحساب فرع",
            ),
        ]));
    }
    Ok(())
}

fn staff_by_username(conn: &Connection, username: &str) -> Result<Option<StaffAccount>> {
    Ok(conn
        .query_row(
            "SELECT id, username, display_name, roles, branch, active FROM staff WHERE username = ?1",
            [username],
            staff_from_row,
        )
        .optional()?)
}
