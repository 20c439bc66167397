//! [`Hq`]: HQ's store, implemented once over whichever engine it was opened on. Each method is
//! one transaction of the engine, in which the rules ([`crate::rules`]) run over the storage
//! operations ([`crate::sql`]).
//!
//! Nothing that another server needs lives only here: HQ's own identity and the secret device
//! credentials derive from are in the database (`meta`), and the duplicate search is cached under
//! the database's count of changes to its inputs, so a second server reading the same database
//! answers the same.

use crate::db::{self, Conn, Engine, Mode};
use crate::error::Code;
use crate::rules::{self, devices::sha_hex};
use crate::sql::{self, tx::SqlTx};
use crate::store::console::*;
use crate::store::*;
use chrono::{DateTime, NaiveDate, Utc};
use rand::Rng;
use serde_json::{Map, Value};
use sila_domain::case::{CaseEvent, Transition};
use sila_domain::duplicates;
use sila_domain::ids::DeviceId;
use sila_proto::{
    EnrollRequest, EnrollResponse, LookupResponse, PullResponse, PushRequest, PushResponse,
    PushState, Release, ReleaseReport, SnapshotPlan, UploadStatus,
};
use std::sync::{Arc, Mutex};

pub struct Hq {
    engine: Arc<dyn Engine>,
    /// HQ's own device identity, for the events it writes (decisions).
    hq_device: DeviceId,
    /// The secret device credentials are derived from (HMAC of the code and the device), so a
    /// repeated enrolment gets the same credential. Kept in the database, never logged.
    token_key: [u8; 32],
    /// The last duplicate search and the `duplicate_inputs` version it was made at: the queue is
    /// read far more often than beneficiaries change, and at 1M people a search takes seconds.
    duplicates: Mutex<Option<(i64, Arc<Vec<DuplicatePair>>)>>,
    /// The key releases of the desktop app must be signed with (the one the apps carry); without
    /// it nothing can be published.
    update_key: Option<sila_proto::release::UpdateKey>,
    /// The operator archives the database continuously (PostgreSQL WAL archiving): what HQ
    /// acknowledged is as safe as its backups, and devices need not keep payloads to resend.
    continuous_backups: bool,
    /// Where attachments' bytes are kept (`sila-hq --files DIR`).
    files: crate::files::Files,
}

/// The charity's policy HQ applies (the promise, reminders).
fn policy() -> sila_domain::catalog::Policy {
    sila_domain::catalog::Catalog::arabic_defaults().policy
}

fn random_hex() -> String {
    let mut k = [0u8; 32];
    rand::rng().fill(&mut k);
    hex::encode(k)
}

impl Hq {
    /// Open HQ's store: `db` is the path of an SQLite file or a `postgres://` URL.
    pub fn open(db: impl AsRef<std::ffi::OsStr>) -> Result<Hq> {
        let db = db
            .as_ref()
            .to_str()
            .ok_or(HqError::BadRequest("the database path is not UTF-8"))?;
        Hq::on(db::open(db)?)
    }

    /// HQ's store on an engine already open.
    pub fn on(engine: Arc<dyn Engine>) -> Result<Hq> {
        let (hq_device, token_key) = db::run(&*engine, Mode::Write, |c| {
            let device = sql::meta_or_init(c, "hq_device", || DeviceId::new_v7().to_string())?;
            let key = sql::meta_or_init(c, "token_key", random_hex)?;
            // HQ's timeline; a restore from a copy `sila-hq backup` made brings another.
            sql::meta_or_init(c, "epoch", random_hex)?;
            sql::register::index_existing(c)?;
            Ok((device, key))
        })?;
        let hq_device = hq_device
            .parse()
            .map_err(|_| HqError::BadRequest("meta hq_device"))?;
        let token_key = hex::decode(token_key)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or(HqError::BadRequest("meta token_key"))?;
        Ok(Hq {
            engine,
            hq_device,
            token_key,
            duplicates: Mutex::new(None),
            update_key: None,
            continuous_backups: false,
            files: crate::files::Files::Database,
        })
    }

    /// Keep attachments' bytes in a folder instead of the database (`sila-hq --files DIR`).
    pub fn with_files(mut self, files: crate::files::Files) -> Hq {
        self.files = files;
        self
    }

    /// The key releases must be signed with (`sila-hq --update-key`).
    pub fn with_update_key(mut self, key: sila_proto::release::UpdateKey) -> Hq {
        self.update_key = Some(key);
        self
    }

    /// Tell devices that everything HQ acknowledged is backed up (`serve --backups
    /// continuous`): only for a database archived continuously, where no restore goes back past
    /// an acknowledgement.
    pub fn with_continuous_backups(mut self, yes: bool) -> Hq {
        self.continuous_backups = yes;
        self
    }

    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    pub(crate) fn read<R: Send>(
        &self,
        f: impl FnMut(&mut dyn Conn) -> Result<R> + Send,
    ) -> Result<R> {
        db::run(&*self.engine, Mode::Read, f)
    }

    fn write<R: Send>(&self, f: impl FnMut(&mut dyn Conn) -> Result<R> + Send) -> Result<R> {
        db::run(&*self.engine, Mode::Write, f)
    }

    /// The rules over storage operations, in one write transaction.
    pub(crate) fn rules<R: Send>(
        &self,
        mut f: impl FnMut(&mut dyn crate::storage::Tx) -> Result<R> + Send,
    ) -> Result<R> {
        self.write(|c| SqlTx::run(c, &self.files, |tx| f(tx)))
    }

    /// Rows of any query, for tests and tools that look inside (placeholders `?1` …).
    pub fn query(&self, sql: &str, params: &[db::Val]) -> Result<Vec<db::Row>> {
        self.read(|c| c.query(sql, params))
    }

    /// Run statements, for tests that damage or age a store on purpose.
    pub fn execute(&self, sql: &str, params: &[db::Val]) -> Result<u64> {
        self.write(|c| c.exec(sql, params))
    }
}

impl HqStore for Hq {
    fn enroll(&self, req: &EnrollRequest, now: DateTime<Utc>) -> Result<EnrollResponse> {
        self.rules(|tx| rules::devices::enroll(tx, &self.token_key, req, now))
    }

    fn authenticate(&self, token: &str, now: DateTime<Utc>) -> Result<Device> {
        // A read, as every request makes one; only a credential's first use writes.
        let a = self.read(|c| rules::devices::authenticate(&mut SqlTx::reader(c), token))?;
        if a.first_use {
            self.rules(|tx| rules::devices::first_use(tx, token, now))?;
        }
        Ok(a.device)
    }

    fn push(&self, device: &Device, req: &PushRequest, now: DateTime<Utc>) -> Result<PushResponse> {
        if req.device_id != device.device_id {
            return Err(HqError::Forbidden("device_id"));
        }
        let policy = policy();
        let awaiting_branch = self.read(|c| sql::read::awaiting_branch(c, device))?;
        let ctx = rules::Context {
            device_id: &device.device_id,
            branch: &device.branch,
            policy: &policy,
            now,
            awaiting_branch,
        };
        self.rules(|tx| rules::push::push(tx, &ctx, &req.ops))
    }

    fn push_state(&self, device: &Device, after: i64) -> Result<PushState> {
        self.read(|c| sql::read::push_state(c, device, after))
    }

    fn pull(
        &self,
        device: &Device,
        after: i64,
        limit: usize,
        own: i64,
        digest: Option<&str>,
    ) -> Result<PullResponse> {
        let continuous = self.continuous_backups;
        let (resp, seen) =
            self.read(|c| sql::read::pull(c, device, after, limit, own, digest, continuous))?;
        // Once per device on a restored HQ: it has come back, and sends again what HQ lacks in
        // this same pass.
        if let Some(epoch) = seen {
            self.write(|c| sql::read::note_seen(c, device, &epoch))?;
        }
        Ok(resp)
    }

    fn snapshot_plan(&self, device: &Device) -> Result<SnapshotPlan> {
        self.write(|c| {
            SqlTx::run(c, &self.files, |tx| {
                crate::storage::Tx::set_resync(tx, &device.device_id, false)
            })?;
            sql::read::snapshot_plan(c, device)
        })
    }

    fn snapshot(
        &self,
        device: &Device,
        phase: &str,
        after: i64,
        limit: usize,
    ) -> Result<PullResponse> {
        self.read(|c| sql::read::snapshot(c, device, phase, after, limit))
    }

    fn lookup(
        &self,
        device: &Device,
        national_id: &str,
        now: DateTime<Utc>,
    ) -> Result<LookupResponse> {
        self.write(|c| sql::read::lookup(c, device, national_id, now))
    }

    fn upload_status(&self, device: &Device, sha256: &str) -> Result<UploadStatus> {
        self.read(|c| sql::read::upload_status(c, &device.branch, sha256))
    }

    fn upload_chunk(
        &self,
        device: &Device,
        sha256: &str,
        offset: i64,
        bytes: &[u8],
    ) -> Result<UploadStatus> {
        // A failed hash check is committed (the branch's progress goes back to zero) and then
        // reported.
        self.write(|c| {
            sql::read::upload_chunk(c, &self.files, &device.branch, sha256, offset, bytes)
        })?
    }

    fn download(&self, device: &Device, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>> {
        self.read(|c| sql::read::download(c, &self.files, &device.branch, sha256, offset, len))
    }

    fn release_for(&self, device: &Device, version: Option<&str>) -> Result<Option<Release>> {
        // Every pull asks: a read, and a write only when the device's version changed.
        let (changed, newest) = self.read(|c| {
            let changed = match version {
                Some(v) => sql::releases::version_changed(c, device, v)?,
                None => false,
            };
            Ok((changed, sql::releases::newest(c)?))
        })?;
        if let (true, Some(v)) = (changed, version) {
            self.write(|c| sql::releases::set_version(c, device, v))?;
        }
        Ok(newest
            .filter(|r| sila_proto::release::is_newer(&r.version, version.unwrap_or_default())))
    }

    fn release_chunk(
        &self,
        _device: &Device,
        sha256: &str,
        offset: i64,
        len: usize,
    ) -> Result<Vec<u8>> {
        self.read(|c| sql::releases::chunk(c, sha256, offset, len))
    }

    fn report_release(
        &self,
        device: &Device,
        report: &ReleaseReport,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|c| sql::releases::report(c, device, report, now))
    }

    fn publish_release(
        &self,
        version: &str,
        package: &[u8],
        signature: &str,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<Release> {
        let (release, numbers) =
            rules::releases::check(self.update_key.as_ref(), version, package, signature)?;
        let audit = Audit::new(by, "release.publish", "release", release.version.as_str())
            .detail(serde_json::json!({"sha256": release.sha256, "size": release.size}));
        self.write(|c| {
            sql::releases::insert(c, &release, numbers, package, &by.display_name, now)?;
            sql::audit(c, &audit, now)
        })?;
        Ok(release)
    }

    fn releases(&self) -> Result<Vec<ReleaseInfo>> {
        self.read(sql::releases::list)
    }

    fn create_enrol_code(
        &self,
        branch: &str,
        ttl: chrono::Duration,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<String> {
        self.rules(|tx| rules::devices::new_enrol_code(tx, branch, ttl, by, now))
    }

    fn revoke_device(&self, device_id: &str, by: &HqActor, now: DateTime<Utc>) -> Result<()> {
        self.rules(|tx| rules::devices::revoke(tx, device_id, by, now))
    }

    fn order_resync(&self, device_id: &str) -> Result<()> {
        self.rules(|tx| rules::devices::order_resync(tx, device_id))
    }

    fn devices(&self) -> Result<Vec<DeviceInfo>> {
        self.read(sql::admin::devices)
    }

    fn decide(
        &self,
        case_id: &str,
        transition: Transition,
        note: &str,
        actor: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<CaseEvent> {
        let policy = policy();
        self.rules(|tx| {
            rules::hq::decide(
                tx,
                case_id,
                transition,
                note,
                actor,
                self.hq_device,
                &policy,
                now,
            )
        })
    }

    fn edit_beneficiary(
        &self,
        id: &str,
        fields: &Map<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.rules(|tx| rules::hq::edit_beneficiary(tx, id, fields, now))
    }

    fn duplicate_candidates(&self, limit: usize) -> Result<Vec<DuplicatePair>> {
        // Moves only when beneficiaries or "not the same person" answers change (migration
        // hq/0005): audit rows, sessions and case updates leave the cached search standing.
        let stamp = self.read(sql::admin::duplicate_inputs)?;
        let cached = {
            let cache = self.duplicates.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .as_ref()
                .filter(|(s, _)| *s == stamp)
                .map(|(_, p)| p.clone())
        };
        let all = match cached {
            Some(p) => p,
            None => {
                let (stamp, people, answered) = self.read(|c| {
                    let stamp = sql::admin::duplicate_inputs(c)?;
                    let (p, a) = sql::admin::duplicate_search_input(c)?;
                    Ok((stamp, p, a))
                })?;
                let pairs = Arc::new(find_duplicates(&people, &answered));
                *self.duplicates.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((stamp, pairs.clone()));
                pairs
            }
        };
        Ok(all.iter().take(limit).cloned().collect())
    }

    fn beneficiary_file(&self, id: &str) -> Result<Option<Value>> {
        self.read(|c| sql::admin::beneficiary_file(c, id))
    }

    fn merge_duplicates(
        &self,
        survivor: &str,
        merged: &str,
        chosen: &Map<String, Value>,
        actor: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.rules(|tx| rules::hq::merge(tx, survivor, merged, chosen, actor, now))
    }

    fn undo_merge(&self, merge_id: i64, actor: &HqActor, now: DateTime<Utc>) -> Result<()> {
        self.rules(|tx| rules::hq::undo_merge(tx, merge_id, actor, now))
    }

    fn mark_not_same(&self, a: &str, b: &str, actor: &HqActor, now: DateTime<Utc>) -> Result<()> {
        self.rules(|tx| rules::hq::mark_not_same(tx, a, b, actor, now))
    }

    fn merges(&self, limit: usize) -> Result<Vec<MergeRow>> {
        self.read(|c| sql::admin::merges(c, limit))
    }

    fn conflicts(&self, open_only: bool) -> Result<Vec<ConflictRow>> {
        self.read(|c| sql::admin::conflicts(c, open_only))
    }

    fn resolve_conflict(
        &self,
        id: i64,
        how: Resolution,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.rules(|tx| rules::hq::resolve_conflict(tx, id, how, by, now))
    }

    fn publish_document(
        &self,
        title: &str,
        body: &str,
        file: Option<(&[u8], &str)>,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<String> {
        self.rules(|tx| rules::hq::publish_document(tx, title, body, file, by, now))
    }

    fn stats(&self) -> Result<HqStats> {
        self.read(sql::admin::stats)
    }

    fn case_states(&self, branch: &str) -> Result<Vec<(String, String)>> {
        self.read(|c| sql::admin::case_states(c, branch))
    }
}

/// The candidate pairs of `people` a reviewer has not already answered, certain ones first.
fn find_duplicates(
    people: &[duplicates::Person],
    answered: &std::collections::HashSet<(String, String)>,
) -> Vec<DuplicatePair> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let person = |p: &duplicates::Person| DuplicatePerson {
        id: p.id.clone(),
        branch: p.branch.clone(),
        national_id: p.national_id.clone(),
        full_name: p.full_name.clone(),
        birth_date: p.birth_date.map(|d| d.to_string()),
        mobile: p.mobile.clone(),
    };
    duplicates::candidates(people, duplicates::THRESHOLD, threads)
        .into_iter()
        .filter(|c| {
            let (x, y) = (&people[c.a].id, &people[c.b].id);
            let key = if x < y {
                (x.clone(), y.clone())
            } else {
                (y.clone(), x.clone())
            };
            !answered.contains(&key)
        })
        .map(|c| DuplicatePair {
            a: person(&people[c.a]),
            b: person(&people[c.b]),
            score: c.score,
            certain: c.certain,
            reasons: c.reasons.iter().map(|r| r.code().to_owned()).collect(),
        })
        .collect()
}

impl ConsoleStore for Hq {
    fn add_console_staff(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        roles: &[ConsoleRole],
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<ConsoleStaff> {
        let (username, display_name) = rules::staff::new_account(username, display_name, roles)?;
        let hash = rules::staff::hash_password(password)?;
        let roles_json = rules::staff::roles_json(roles)?;
        let id = sila_domain::ids::StaffId::new_v7().to_string();
        self.write(|c| {
            if sql::console::staff_by_name(c, username)?.is_some() {
                return Err(HqError::Refused(Code::UsernameTaken));
            }
            sql::console::insert_staff(c, &id, username, display_name, &roles_json, &hash, now)?;
            let created = sql::console::staff_by_id(c, &id)?.ok_or(HqError::NotFound("staff"))?;
            sql::audit(
                c,
                &Audit::new(by, "staff.create", "staff", id.as_str())
                    .detail(serde_json::json!({"roles": created.roles})),
                now,
            )?;
            Ok(created)
        })
    }

    fn console_staff(&self) -> Result<Vec<ConsoleStaff>> {
        self.read(sql::console::all_staff)
    }

    fn set_console_staff(
        &self,
        id: &str,
        roles: Option<&[ConsoleRole]>,
        active: Option<bool>,
        password: Option<&str>,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<ConsoleStaff> {
        let hash = password.map(rules::staff::hash_password).transpose()?;
        self.write(|c| {
            let current = sql::console::staff_by_id(c, id)?.ok_or(HqError::NotFound("staff"))?;
            let others = sql::console::all_staff(c)?;
            let (roles, active) = rules::staff::change(&current, roles, active, &others)?;
            let roles_json = rules::staff::roles_json(&roles)?;
            sql::console::update_staff(c, id, &roles_json, active, hash.as_deref(), now)?;
            let updated = sql::console::staff_by_id(c, id)?.ok_or(HqError::NotFound("staff"))?;
            sql::audit(
                c,
                &Audit::new(by, "staff.update", "staff", id).detail(serde_json::json!({
                    "roles": updated.roles,
                    "active": updated.active,
                    "password_changed": hash.is_some(),
                })),
                now,
            )?;
            Ok(updated)
        })
    }

    fn sign_in(
        &self,
        username: &str,
        password: &str,
        ttl: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Result<(String, ConsoleSession)> {
        let found = self.read(|c| sql::console::staff_by_name(c, username.trim()))?;
        // The hash is checked outside any transaction: Argon2 takes tens of milliseconds, and
        // sync must not wait for it.
        let ok = rules::staff::verify_password(found.as_ref().map(|(_, h)| h.as_str()), password);
        let staff = match found {
            Some((s, _)) if ok && s.active => s,
            _ => return Err(HqError::Unauthorized),
        };
        let token = random_hex();
        let csrf = random_hex();
        let expires_at = now + ttl;
        let by = staff.actor()?;
        self.write(|c| {
            sql::console::add_session(
                c,
                &sha_hex(token.as_bytes()),
                &staff.id,
                &csrf,
                now,
                expires_at,
            )?;
            sql::audit(
                c,
                &Audit::new(&by, "sign_in", "staff", staff.id.as_str()),
                now,
            )
        })?;
        Ok((
            token,
            ConsoleSession {
                staff,
                csrf,
                expires_at,
            },
        ))
    }

    fn session(&self, token: &str, now: DateTime<Utc>) -> Result<Option<ConsoleSession>> {
        let Some((staff, csrf, expires)) =
            self.read(|c| sql::console::session(c, &sha_hex(token.as_bytes())))?
        else {
            return Ok(None);
        };
        let expires_at = DateTime::parse_from_rfc3339(&expires)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(now);
        if expires_at <= now || !staff.active {
            return Ok(None);
        }
        Ok(Some(ConsoleSession {
            staff,
            csrf,
            expires_at,
        }))
    }

    fn sign_out(&self, token: &str, now: DateTime<Utc>) -> Result<()> {
        let token_hash = sha_hex(token.as_bytes());
        self.write(|c| {
            // Whoever the session was (an unknown token ends nothing, and is not audited).
            if let Some((staff, _, _)) = sql::console::session(c, &token_hash)? {
                let by = staff.actor()?;
                sql::audit(
                    c,
                    &Audit::new(&by, "sign_out", "staff", staff.id.as_str()),
                    now,
                )?;
            }
            sql::console::end_session(c, &token_hash)
        })
    }

    fn signin_begin(&self, name: &str, address: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
        let now = now.timestamp_millis();
        self.write(|c| sql::console::signin_begin(c, name, address, now))
    }

    fn signin_finish(
        &self,
        name: &str,
        address: Option<&str>,
        outcome: rules::signin::Outcome,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let now = now.timestamp_millis();
        self.write(|c| sql::console::signin_finish(c, name, address, outcome, now))
    }

    fn audit(&self, audit: &Audit, now: DateTime<Utc>) -> Result<()> {
        self.write(|c| sql::audit(c, audit, now))
    }

    fn audit_log(&self, before: Option<i64>, limit: usize) -> Result<Vec<AuditRow>> {
        self.read(|c| sql::console::audit_log(c, before, limit))
    }

    fn committee_queue(
        &self,
        filter: &CommitteeFilter,
        after: Option<&str>,
        limit: usize,
        today: NaiveDate,
    ) -> Result<CommitteePage> {
        self.read(|c| sql::console::committee_queue(c, filter, after, limit, today))
    }

    fn committee_export(
        &self,
        filter: &CommitteeFilter,
        today: NaiveDate,
        max: usize,
    ) -> Result<Vec<CommitteeRow>> {
        db::run(&*self.engine, Mode::Snapshot, |c| {
            sql::console::committee_export(c, filter, today, max)
        })
    }

    fn case_file(&self, case_id: &str, today: NaiveDate) -> Result<Option<CaseFile>> {
        self.read(|c| sql::console::case_file(c, case_id, today))
    }

    fn case_by_number(&self, number: &str) -> Result<Option<String>> {
        self.read(|c| sql::console::case_by_number(c, number))
    }

    fn attachment(&self, sha256: &str) -> Result<Option<AttachmentBytes>> {
        self.read(|c| sql::console::attachment(c, &self.files, sha256))
    }

    fn dashboard(&self, filter: &DashFilter, today: NaiveDate) -> Result<Dashboard> {
        self.read(|c| sql::console::dashboard(c, filter, today))
    }

    fn branches(&self) -> Result<Vec<String>> {
        self.read(sql::console::branch_names)
    }

    fn branch_staff(&self, branch: Option<&str>) -> Result<Vec<BranchStaffRow>> {
        self.read(|c| sql::console::branch_staff(c, branch))
    }

    fn upsert_branch_staff(
        &self,
        account: &sila_domain::staff::StaffAccount,
        by: &HqActor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.rules(|tx| rules::hq::upsert_branch_staff(tx, account, by, now))
    }

    fn kb_documents(&self) -> Result<Vec<KbRow>> {
        self.read(sql::console::kb_documents)
    }
}
