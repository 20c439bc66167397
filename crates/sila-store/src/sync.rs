//! The branch side of sync, as store operations: the device credential (kept inside the encrypted
//! store), acknowledging outbox operations HQ confirmed, carrying unsent operations over when the
//! store turns out to be behind HQ (restored from a backup, copied), the pull cursor, applying
//! what HQ relays (the branch's records as HQ holds them, from every device of the branch and
//! from HQ itself) in one transaction with the cursor, re-downloading the branch, the holding
//! digest, attachment transfer bookkeeping, and the last sync's outcome for the home screen.
//!
//! This module knows no wire format and does no network IO: `sila-sync` calls it. Every function
//! that changes something runs in one transaction, so a crash between any two calls loses nothing
//! and duplicates nothing: an operation is acknowledged only after HQ confirmed that operation,
//! and an applied page and the cursor after it are committed together.

use crate::error::{Result, StoreError};
use crate::outbox::{self, Op};
use crate::{Store, Writer};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sila_domain::beneficiary::Beneficiary;
use sila_domain::case::{Case, CaseEvent};
use sila_domain::ids::DeviceId;

/// The binding of this store to a headquarters server.
#[derive(Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub hq_url: String,
    /// The device credential. Never logged, never printed.
    pub token: String,
    pub branch: String,
    pub device_id: DeviceId,
    pub enrolled_at: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("hq_url", &self.hq_url)
            .field("token", &"<secret>")
            .field("branch", &self.branch)
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// One record HQ relays, as the store sees it: its kind ("beneficiary", "case", "interaction",
/// "delivery", "survey", "task", "staff", "kb", "conflict") and its state at HQ as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct HqChange {
    pub seq: i64,
    pub kind: String,
    pub entity_id: String,
    pub payload: String,
}

/// A record's state at HQ (the wire's `RecordState`, read here without knowing the wire).
#[derive(Deserialize)]
struct HqState {
    version: i64,
    data: Value,
    #[serde(default)]
    merged_into: Option<String>,
    #[serde(default)]
    survivor: Option<Value>,
    #[serde(default)]
    events: Vec<Value>,
    #[serde(default)]
    hq_edits: Vec<HqEdit>,
    #[serde(default)]
    hq_edits_older: i64,
}

/// An edit made by a person at HQ (the wire's `HqEdit`): the version it made, when, who, and
/// the names of the fields it changed.
#[derive(Deserialize)]
struct HqEdit {
    version: i64,
    at: String,
    by: String,
    fields: Vec<String>,
}

/// What HQ said about one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpAck {
    pub seq: i64,
    /// "applied", "conflict" or "rejected".
    pub result: String,
    pub reason: Option<String>,
}

/// The reason HQ gives for a sequence number it holds under another operation.
pub const SEQ_REUSED: &str = "seq_reused";

/// What acknowledging a push did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckReport {
    /// Operations newly marked acknowledged.
    pub acked: usize,
    pub rejected: usize,
    pub conflicts: usize,
    /// HQ holds numbers of this device under other operations: the store is behind HQ and must
    /// carry its unsent operations over ([`Store::carry_over`]).
    pub behind: bool,
}

/// Where HQ stands with this device, as a feed answer says (the wire's `Standing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqStanding {
    pub acked_through: i64,
    pub backed_up_through: i64,
    /// None when the answer did not say (a push answer): the epoch is left as it is.
    pub epoch: Option<String>,
    pub epoch_head: i64,
}

/// What taking HQ's standing into account did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandingReport {
    /// HQ is on another timeline than the last answer's (restored from a copy): the pull cursor
    /// went back to where that timeline began, if it was past it.
    pub epoch_changed: bool,
    /// Acknowledged operations HQ no longer holds, made pending again to be sent again.
    pub resend: usize,
    /// Of those, operations whose payload this device had already let go (HQ's backups held
    /// them, and HQ was restored from an older copy): they go as lost, an alert on both sides.
    pub lost: usize,
    /// Acknowledged payloads let go now that HQ's backups hold them.
    pub emptied: usize,
    /// Acknowledged payloads no backup holds yet, packed (compressed in runs) while they wait.
    pub packed: usize,
}

/// An operation HQ refused, for the screen that lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedOp {
    pub seq: i64,
    pub op: String,
    pub entity: String,
    pub entity_id: String,
    /// "rejected" or "conflict".
    pub result: String,
    pub reason: Option<String>,
    /// When the change was made here, and when HQ's answer came (RFC 3339).
    pub created_at: String,
    pub answered_at: Option<String>,
}

/// A conflict of the branch, both values kept until a person resolves it at HQ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BranchConflict {
    pub id: i64,
    pub entity: String,
    pub entity_id: String,
    pub field: String,
    pub current: Value,
    pub proposed: Value,
    pub proposed_here: bool,
    pub reason: String,
}

/// The last sync's outcome, kept in the store so it survives a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct SyncState {
    pub enrolled: bool,
    pub last_sync_at: Option<String>,
    pub last_error_code: Option<String>,
    pub pending: i64,
    /// Operations of this device HQ lost in a restore and this device could not send again
    /// (an alert: the work must be entered again by hand; the refused list names each).
    pub lost_at_hq: i64,
}

/// A re-download of the branch in progress (resumable: kept in the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redownload {
    /// Where the feed is read from once every phase is in.
    pub feed_head: i64,
    /// The phase being fetched and the row number reached in it.
    pub phase: String,
    pub after: i64,
    /// Records per phase, for the progress bar, and how many came so far.
    pub totals: Vec<(String, i64)>,
    pub done: i64,
}

impl Redownload {
    pub fn total(&self) -> i64 {
        self.totals.iter().map(|(_, n)| n).sum()
    }
}

/// The protocol this store's sync state was made with. A store from before version 3 took only
/// its own records and HQ's decisions; it takes the whole branch once.
const SYNC_PROTOCOL: &str = "3";

fn meta_get(conn: &rusqlite::Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn meta_set(conn: &rusqlite::Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

impl Store {
    // ---- enrolment ----

    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let conn = self.conn();
        let (Some(hq_url), Some(token)) =
            (meta_get(conn, "hq_url")?, meta_get(conn, "device_token")?)
        else {
            return Ok(None);
        };
        Ok(Some(Enrolment {
            hq_url,
            token,
            branch: meta_get(conn, "enrolled_branch")?.unwrap_or_default(),
            device_id: self.session().device,
            enrolled_at: meta_get(conn, "enrolled_at")?.unwrap_or_default(),
        }))
    }

    /// Keep the device credential HQ issued. Only an administrator binds a store to HQ.
    pub fn save_enrolment(&mut self, hq_url: &str, token: &str, branch: &str) -> Result<()> {
        self.require(&[sila_domain::staff::Role::Admin])?;
        let (hq_url, token, branch) = (
            hq_url.trim_end_matches('/').to_owned(),
            token.to_owned(),
            branch.to_owned(),
        );
        self.write(move |w| {
            meta_set(&w.tx, "hq_url", &hq_url)?;
            meta_set(&w.tx, "device_token", &token)?;
            meta_set(&w.tx, "enrolled_branch", &branch)?;
            meta_set(&w.tx, "enrolled_at", &w.now.to_rfc3339())?;
            let device = w.session.device.to_string();
            w.audit("device.enrolled", "device", &device)
        })
    }

    // ---- push ----

    /// The next operations to push: unacknowledged, in sequence.
    pub fn outbox_batch(&self, limit: usize) -> Result<Vec<Op>> {
        outbox::pending(self.conn(), 0, limit)
    }

    /// The highest sequence number this store has ever given an operation.
    pub fn own_seq(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Record HQ's answer to a push stream in one transaction. Only operations the stream
    /// carried (`sent`: sequence and operation ID) are acknowledged, and only those HQ confirmed:
    /// up to the highest sequence it holds, not refused as a reused number.
    pub fn record_push(
        &mut self,
        sent: &[(i64, String)],
        acked_through: i64,
        results: &[OpAck],
    ) -> Result<AckReport> {
        let by_seq: std::collections::HashMap<i64, &OpAck> =
            results.iter().map(|r| (r.seq, r)).collect();
        let stamp = self.now().to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut report = AckReport::default();
        for (seq, op_id) in sent.iter().filter(|(s, _)| *s <= acked_through) {
            let ack = by_seq.get(seq);
            if ack.is_some_and(|a| a.reason.as_deref() == Some(SEQ_REUSED)) {
                report.behind = true;
                continue;
            }
            report.note(&tx, *seq, op_id, ack.copied(), &stamp)?;
        }
        tx.commit()?;
        Ok(report)
    }

    /// Record where HQ stands with this device after a pass that failed: the operations HQ holds
    /// in `(after, acked_through]` are acknowledged only when they are this store's own (the
    /// digest of their identities matches). Otherwise HQ holds other operations under these
    /// numbers: the store is behind HQ, nothing is acknowledged, and it carries its operations
    /// over.
    pub fn record_push_state(
        &mut self,
        after: i64,
        acked_through: i64,
        digest: &str,
        results: &[OpAck],
    ) -> Result<AckReport> {
        let stamp = self.now().to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mine: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(
                "SELECT seq, op_id FROM outbox WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
            )?;
            stmt.query_map(params![after, acked_through], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let mut report = AckReport::default();
        if ops_digest(mine.iter().map(|(s, id)| (*s, id.as_str()))) != digest {
            report.behind = true;
            return Ok(report);
        }
        let by_seq: std::collections::HashMap<i64, &OpAck> =
            results.iter().map(|r| (r.seq, r)).collect();
        for (seq, op_id) in &mine {
            report.note(&tx, *seq, op_id, by_seq.get(seq).copied(), &stamp)?;
        }
        tx.commit()?;
        Ok(report)
    }

    /// The store is behind HQ: HQ holds numbers up to `hq_last` of this device under operations
    /// this store does not have. Every unsent operation is given a new number after them, in the
    /// same order, so nothing is lost and nothing is doubled (HQ recognises an operation it
    /// already applied by its ID). Returns how many moved.
    pub fn carry_over(&mut self, hq_last: i64) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let first: Option<i64> = tx.query_row(
            "SELECT min(seq) FROM outbox WHERE acked_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        let Some(first) = first.filter(|f| *f <= hq_last) else {
            return Ok(0);
        };
        let shift = hq_last + 1 - first;
        // Negate first, so no number is held twice in the middle of the move.
        let moved = tx.execute("UPDATE outbox SET seq = -seq WHERE acked_at IS NULL", [])?;
        tx.execute("UPDATE outbox SET seq = ?1 - seq WHERE seq < 0", [shift])?;
        tx.execute(
            "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM outbox) WHERE name = 'outbox'",
            [],
        )?;
        // What this device did after the copy was taken reached HQ from the other timeline and
        // is not here: the store takes the branch again.
        take_branch_again(&tx)?;
        tx.commit()?;
        Ok(moved)
    }

    /// Take into account where HQ stands with this device, in one transaction:
    ///
    /// - another epoch than the last answer's: HQ was restored from a copy and numbers its feed
    ///   again from the copy's positions, so the cursor goes back to where this epoch began (if
    ///   it was past it) and nothing HQ numbers again is skipped;
    /// - HQ holds fewer of this device's operations than it had acknowledged: those after
    ///   `acked_through` become pending again, to be sent under the same numbers and IDs (HQ
    ///   applies an operation once by its ID), and their files to be uploaded again; one whose
    ///   payload is gone is sent as lost;
    /// - acknowledged payloads HQ's backups hold are let go (they would never be sent again).
    pub fn hq_standing(&mut self, s: &HqStanding) -> Result<StandingReport> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut report = StandingReport::default();
        match (meta_get(&tx, "hq_epoch")?, &s.epoch) {
            (_, None) => {}
            (Some(known), Some(epoch)) if known == *epoch => {}
            (Some(_), Some(epoch)) => {
                report.epoch_changed = true;
                let cursor: i64 = meta_get(&tx, "pull_cursor")?
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if cursor > s.epoch_head {
                    meta_set(&tx, "pull_cursor", &s.epoch_head.to_string())?;
                }
                if let Some(mut r) = meta_get(&tx, "redownload")?
                    .and_then(|v| serde_json::from_str::<Redownload>(&v).ok())
                    && r.feed_head > s.epoch_head
                {
                    r.feed_head = s.epoch_head;
                    meta_set(&tx, "redownload", &serde_json::to_string(&r)?)?;
                }
                meta_set(&tx, "hq_epoch", epoch)?;
            }
            (None, Some(epoch)) => meta_set(&tx, "hq_epoch", epoch)?,
        }
        // Payloads packed while they waited for a backup go back into the rows HQ lacks now.
        outbox::unpack_after(&tx, s.acked_through)?;
        let (resend, lost): (i64, i64) = tx.query_row(
            "SELECT count(*), count(*) FILTER (WHERE payload = '') FROM outbox
             WHERE seq > ?1 AND acked_at IS NOT NULL",
            [s.acked_through],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if resend > 0 {
            // Their files may be gone from HQ too: asked about again once HQ holds the records.
            tx.execute(
                "DELETE FROM attachment_uploads WHERE sha256 IN (SELECT entity_id FROM outbox
                    WHERE op = 'attachment.add' AND seq > ?1 AND acked_at IS NOT NULL)",
                [s.acked_through],
            )?;
            tx.execute(
                "UPDATE outbox SET acked_at = NULL, result = NULL
                 WHERE seq > ?1 AND acked_at IS NOT NULL",
                [s.acked_through],
            )?;
            let before: i64 = meta_get(&tx, "lost_at_hq")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if lost > 0 {
                meta_set(&tx, "lost_at_hq", &(before + lost).to_string())?;
            }
            report.resend = resend as usize;
            report.lost = lost as usize;
        }
        // Let go of payloads only below the first operation HQ has not acknowledged here (one
        // acknowledged later keeps its payload until the next backup's answer covers it).
        let emptied: i64 = meta_get(&tx, "payloads_emptied_through")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            .min(s.acked_through);
        let first_pending: Option<i64> = tx.query_row(
            "SELECT min(seq) FROM outbox WHERE acked_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        let through = s
            .backed_up_through
            .min(s.acked_through)
            .min(first_pending.map_or(i64::MAX, |f| f - 1));
        if through > emptied {
            report.emptied = tx.execute(
                "UPDATE outbox SET payload = '' WHERE seq > ?1 AND seq <= ?2
                 AND acked_at IS NOT NULL AND payload <> ''",
                params![emptied, through],
            )?;
            // A pack goes once a backup holds all of it (one straddling `through` waits).
            let freed: i64 = tx.query_row(
                "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM outbox_packs
                 WHERE last_seq <= ?1",
                [through],
                |r| r.get(0),
            )?;
            tx.execute("DELETE FROM outbox_packs WHERE last_seq <= ?1", [through])?;
            report.emptied += freed as usize;
        }
        // What stays acknowledged but unheld waits packed; the last pack says where to go on.
        let packed_through: i64 = tx
            .query_row(
                "SELECT last_seq FROM outbox_packs ORDER BY first_seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let waiting = s
            .acked_through
            .min(first_pending.map_or(i64::MAX, |f| f - 1));
        report.packed = outbox::pack_acknowledged(&tx, packed_through.max(through), waiting)?;
        meta_set(
            &tx,
            "payloads_emptied_through",
            &through.max(emptied).to_string(),
        )?;
        tx.commit()?;
        Ok(report)
    }

    /// The holding digest this store had right after the last re-download HQ ordered on a
    /// holding check: sending the same again would only order the same re-download (HQ lacks
    /// records this store holds, which taking the branch again does not change).
    pub fn holding_after_reset(&self) -> Result<Option<String>> {
        meta_get(self.conn(), "holding_after_reset")
    }

    pub fn set_holding_after_reset(&mut self, digest: &str) -> Result<()> {
        meta_set(self.conn(), "holding_after_reset", digest)
    }

    /// HQ ordered a re-download: the store takes the branch again on this pass.
    pub fn forget_sync_protocol(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        take_branch_again(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Operations HQ refused or applied with conflicts, newest first.
    pub fn refused_ops(&self, limit: usize) -> Result<Vec<RefusedOp>> {
        let mut stmt = self.conn().prepare(
            "SELECT seq, op, entity, entity_id, result, created_at, acked_at FROM outbox
             WHERE result IS NOT NULL AND result <> 'applied' ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let result: String = r.get(4)?;
            let (result, reason) = match result.split_once(':') {
                Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
                None => (result, None),
            };
            Ok(RefusedOp {
                seq: r.get(0)?,
                op: r.get(1)?,
                entity: r.get(2)?,
                entity_id: r.get(3)?,
                result,
                reason,
                created_at: r.get(5)?,
                answered_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ---- pull ----

    pub fn pull_cursor(&self) -> Result<i64> {
        Ok(meta_get(self.conn(), "pull_cursor")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Apply one page of the branch's feed and store the cursor after it, in one transaction.
    /// Returns how many records changed here.
    pub fn apply_hq_changes(&mut self, changes: &[HqChange], next_cursor: i64) -> Result<usize> {
        self.apply_page(changes, |w| {
            meta_set(&w.tx, "pull_cursor", &next_cursor.to_string())
        })
    }

    fn apply_page(
        &mut self,
        changes: &[HqChange],
        then: impl FnOnce(&Writer<'_>) -> Result<()>,
    ) -> Result<usize> {
        let mut session = self.session().clone();
        // What HQ relays was checked there, by the rules and roles of whoever made it.
        session.actor.roles = sila_domain::staff::Role::ALL.to_vec();
        let now = self.now();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let w = Writer {
            tx,
            session: &session,
            catalog: &self.catalog,
            now,
            audit_each_op: true,
        };
        let mut applied = 0;
        for c in changes {
            if w.apply_hq_state(c)? {
                applied += 1;
            }
        }
        then(&w)?;
        w.commit()?;
        // After the commit: an account the page disabled loses its key on this device.
        self.reconcile_keyring()?;
        Ok(applied)
    }

    /// Does this store need to take the whole branch (never did under protocol 3)?
    pub fn needs_redownload(&self) -> Result<bool> {
        Ok(meta_get(self.conn(), "sync_protocol")?.as_deref() != Some(SYNC_PROTOCOL))
    }

    /// The re-download in progress, if any.
    pub fn redownload(&self) -> Result<Option<Redownload>> {
        Ok(meta_get(self.conn(), "redownload")?.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Begin taking the branch: from `feed_head` on, the feed brings what changes meanwhile.
    pub fn start_redownload(
        &mut self,
        feed_head: i64,
        totals: Vec<(String, i64)>,
    ) -> Result<Redownload> {
        let first = totals.first().map(|(p, _)| p.clone()).unwrap_or_default();
        let r = Redownload {
            feed_head,
            phase: first,
            after: 0,
            totals,
            done: 0,
        };
        meta_set(self.conn(), "redownload", &serde_json::to_string(&r)?)?;
        Ok(r)
    }

    /// Apply one page of a re-download phase and remember how far it got, in one transaction.
    /// `next_phase`: the phase to fetch after this one when this page was its last.
    pub fn apply_redownload_page(
        &mut self,
        changes: &[HqChange],
        after: i64,
        more: bool,
        next_phase: Option<&str>,
    ) -> Result<Redownload> {
        let mut r = self
            .redownload()?
            .ok_or(StoreError::NotFound("redownload"))?;
        r.done += changes.len() as i64;
        if more {
            r.after = after;
        } else {
            r.after = 0;
            r.phase = next_phase.unwrap_or("").to_owned();
        }
        let state = serde_json::to_string(&r)?;
        let finished = !more && next_phase.is_none();
        let feed_head = r.feed_head;
        self.apply_page(changes, |w| {
            if finished {
                // Every phase is in: read the feed from where the re-download began (what
                // changed meanwhile comes again and changes nothing twice).
                w.tx.execute("DELETE FROM meta WHERE key = 'redownload'", [])?;
                meta_set(&w.tx, "pull_cursor", &feed_head.to_string())?;
                meta_set(&w.tx, "sync_protocol", SYNC_PROTOCOL)?;
                Ok(())
            } else {
                meta_set(&w.tx, "redownload", &state)
            }
        })?;
        Ok(r)
    }

    /// A digest of what the store holds of its branch (beneficiaries and their merges, case
    /// states), compared by HQ with its copy to detect divergence.
    pub fn holding_digest(&self) -> Result<String> {
        let mut lines: Vec<String> = Vec::new();
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, coalesce(merged_into, '-') FROM beneficiaries
             WHERE id NOT IN (SELECT id FROM foreign_records WHERE entity = 'beneficiary')",
        )?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, m) = r?;
            lines.push(format!("b {id} {m}"));
        }
        let mut stmt = conn.prepare("SELECT id, state FROM cases")?;
        for r in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, s) = r?;
            lines.push(format!("c {id} {s}"));
        }
        Ok(digest_lines(lines))
    }

    /// Conflicts of the branch still waiting for a person, newest first.
    pub fn open_conflicts(&self, limit: usize) -> Result<Vec<BranchConflict>> {
        let device = self.session().device.to_string();
        let mut stmt = self.conn().prepare(
            "SELECT id, entity, entity_id, field, current, proposed, device_id, reason FROM conflicts
             WHERE resolution IS NULL ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, entity, entity_id, field, current, proposed, by, reason) = row?;
            out.push(BranchConflict {
                id,
                entity,
                entity_id,
                field,
                current: serde_json::from_str(&current).unwrap_or(Value::Null),
                proposed: serde_json::from_str(&proposed).unwrap_or(Value::Null),
                proposed_here: by == device,
                reason,
            });
        }
        Ok(out)
    }

    // ---- attachments ----

    /// Attachments whose record HQ has acknowledged but whose bytes HQ does not hold yet,
    /// smallest first (so one large file never holds up the small ones).
    pub fn attachments_to_upload(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn().prepare(
            "SELECT a.sha256, a.size FROM attachments a
             JOIN outbox o ON o.op = 'attachment.add' AND o.entity_id = a.sha256
                AND o.acked_at IS NOT NULL AND o.result = 'applied'
             LEFT JOIN attachment_uploads u ON u.sha256 = a.sha256
             -- A file whose bytes failed HQ's check is damaged here: resending cannot help.
             WHERE u.uploaded_at IS NULL AND coalesce(u.last_error, '') <> 'hash_mismatch'
             GROUP BY a.sha256 ORDER BY coalesce(u.attempts, 0), a.size",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `len` bytes of an attachment from `offset`.
    pub fn attachment_chunk(&self, sha256: &str, offset: i64, len: usize) -> Result<Vec<u8>> {
        self.conn()
            .query_row(
                "SELECT substr(bytes, ?2, ?3) FROM attachments WHERE sha256 = ?1",
                params![sha256, offset + 1, len as i64],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound("attachment"))
    }

    pub fn mark_attachment_uploaded(&mut self, sha256: &str) -> Result<()> {
        let stamp = self.now().to_rfc3339();
        self.conn().execute(
            "INSERT INTO attachment_uploads (sha256, uploaded_at, attempts) VALUES (?1, ?2, 1)
             ON CONFLICT(sha256) DO UPDATE SET uploaded_at = excluded.uploaded_at, last_error = NULL",
            params![sha256, stamp],
        )?;
        Ok(())
    }

    pub fn mark_attachment_failed(&mut self, sha256: &str, code: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO attachment_uploads (sha256, last_error, attempts) VALUES (?1, ?2, 1)
             ON CONFLICT(sha256) DO UPDATE SET last_error = excluded.last_error, attempts = attempts + 1",
            params![sha256, code],
        )?;
        Ok(())
    }

    /// Files wanted from HQ: knowledge-base documents, and files the branch's records reference
    /// that were made on another laptop. (sha256, bytes held so far), smallest known first.
    pub fn downloads_wanted(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn().prepare(
            "SELECT w.sha256, coalesce((SELECT sum(length(bytes)) FROM download_parts p WHERE p.sha256 = w.sha256), 0)
             FROM (SELECT sha256, size FROM kb_downloads
                   UNION SELECT sha256, 1e18 FROM file_downloads WHERE last_error IS NULL) w
             WHERE w.sha256 NOT IN (SELECT sha256 FROM attachments)
             GROUP BY w.sha256 ORDER BY min(w.size)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A wanted file HQ cannot give (not delivered by the branch yet, damaged): tried again
    /// after the next change of its record, not at every pass.
    pub fn mark_download_failed(&mut self, sha256: &str, code: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE file_downloads SET last_error = ?2 WHERE sha256 = ?1",
            params![sha256, code],
        )?;
        Ok(())
    }

    /// Keep one downloaded chunk; when the file is whole (`size` bytes), check its SHA-256 and
    /// its type and move it into `attachments`. Returns true when the file is complete.
    pub fn save_download_chunk(
        &mut self,
        sha256: &str,
        size: i64,
        offset: i64,
        bytes: &[u8],
    ) -> Result<bool> {
        let stamp = self.now().to_rfc3339();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO download_parts (sha256, offset, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT(sha256, offset) DO NOTHING",
            params![sha256, offset, bytes],
        )?;
        let held: i64 = tx.query_row(
            "SELECT coalesce(sum(length(bytes)), 0) FROM download_parts WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )?;
        let mut complete = false;
        if held >= size {
            let mut whole = Vec::with_capacity(size as usize);
            {
                let mut stmt = tx.prepare(
                    "SELECT bytes FROM download_parts WHERE sha256 = ?1 ORDER BY offset",
                )?;
                for b in stmt.query_map([sha256], |r| r.get::<_, Vec<u8>>(0))? {
                    whole.extend_from_slice(&b?);
                }
            }
            tx.execute("DELETE FROM download_parts WHERE sha256 = ?1", [sha256])?;
            let mime = sila_domain::interaction::sniff_mime(&whole);
            match mime {
                Some(mime) if hex::encode(Sha256::digest(&whole)) == sha256 => {
                    tx.execute(
                        "INSERT INTO attachments (sha256, mime, size, bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(sha256) DO NOTHING",
                        params![sha256, mime, whole.len() as i64, whole, stamp],
                    )?;
                    tx.execute(
                        "INSERT INTO kb_documents (id, title, body, attachment, published_at, source)
                         SELECT id, title, body, sha256, published_at, 'hq' FROM kb_downloads WHERE sha256 = ?1
                         ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body,
                            attachment = excluded.attachment, published_at = excluded.published_at",
                        [sha256],
                    )?;
                    tx.execute("DELETE FROM kb_downloads WHERE sha256 = ?1", [sha256])?;
                    tx.execute("DELETE FROM file_downloads WHERE sha256 = ?1", [sha256])?;
                    // HQ already holds what it sent.
                    tx.execute(
                        "INSERT INTO attachment_uploads (sha256, uploaded_at) VALUES (?1, ?2)
                         ON CONFLICT(sha256) DO NOTHING",
                        params![sha256, stamp],
                    )?;
                    complete = true;
                }
                _ => {
                    tx.execute(
                        "UPDATE file_downloads SET last_error = 'hash_mismatch' WHERE sha256 = ?1",
                        [sha256],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(complete)
    }

    // ---- outcome, for the home screen ----

    pub fn sync_state(&self) -> Result<SyncState> {
        let conn = self.conn();
        Ok(SyncState {
            enrolled: meta_get(conn, "device_token")?.is_some(),
            last_sync_at: meta_get(conn, "last_sync_at")?,
            last_error_code: meta_get(conn, "last_sync_error")?.filter(|s| !s.is_empty()),
            pending: outbox::pending_count(conn)?,
            lost_at_hq: meta_get(conn, "lost_at_hq")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        })
    }

    /// Record how the last sync ended: success stamps the time and clears the error.
    pub fn record_sync_outcome(&mut self, error_code: Option<&str>) -> Result<()> {
        let stamp = self.now().to_rfc3339();
        let conn = self.conn();
        match error_code {
            None => {
                meta_set(conn, "last_sync_at", &stamp)?;
                meta_set(conn, "last_sync_error", "")?;
            }
            Some(code) => meta_set(conn, "last_sync_error", code)?,
        }
        Ok(())
    }
}

/// The next pass re-downloads the branch, and every record HQ sends is taken as HQ holds it
/// (apart from edits made here HQ has not acknowledged), whatever version this store thought
/// it had: what it holds may have drifted from HQ's copy.
fn take_branch_again(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM meta WHERE key IN ('sync_protocol', 'redownload');
         UPDATE beneficiaries SET hq_version = 0 WHERE hq_version <> 0;
         UPDATE cases SET hq_version = 0 WHERE hq_version <> 0;
         UPDATE interactions SET hq_version = 0 WHERE hq_version <> 0;
         UPDATE deliveries SET hq_version = 0 WHERE hq_version <> 0;
         UPDATE surveys SET hq_version = 0 WHERE hq_version <> 0;
         UPDATE tasks SET hq_version = 0 WHERE hq_version <> 0;
         UPDATE staff SET hq_version = 0 WHERE hq_version <> 0;",
    )?;
    Ok(())
}

impl AckReport {
    /// Acknowledge one operation HQ confirmed, with HQ's result for it.
    fn note(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        seq: i64,
        op_id: &str,
        ack: Option<&OpAck>,
        stamp: &str,
    ) -> Result<()> {
        let result = match ack {
            Some(a) if a.result != "applied" => match &a.reason {
                Some(reason) => format!("{}:{}", a.result, reason),
                None => a.result.clone(),
            },
            _ => "applied".to_owned(),
        };
        let n = tx.execute(
            "UPDATE outbox SET acked_at = ?3, result = ?4 WHERE seq = ?1 AND op_id = ?2 AND acked_at IS NULL",
            params![seq, op_id, stamp, result],
        )?;
        if n == 0 {
            return Ok(());
        }
        self.acked += 1;
        match ack.map(|a| a.result.as_str()) {
            Some("rejected") => {
                self.rejected += 1;
                mark_refused_event(tx, seq, ack.and_then(|a| a.reason.as_deref()))?;
            }
            Some("conflict") => self.conflicts += 1,
            _ => {}
        }
        // The payload stays until HQ's backups hold the operation ([`Store::hq_standing`]): if
        // HQ is restored from an older copy, this device sends it again.
        Ok(())
    }
}

/// A transition HQ refused stays in the history (it is append-only) and is shown as refused.
fn mark_refused_event(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    reason: Option<&str>,
) -> Result<()> {
    let row: Option<(String, String, String)> = tx
        .query_row(
            "SELECT op, entity_id, payload FROM outbox WHERE seq = ?1",
            [seq],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((op, case_id, payload)) = row else {
        return Ok(());
    };
    // A lost operation (no payload left) names no event.
    if op != "case.transition" || payload.is_empty() {
        return Ok(());
    }
    let p: Value = serde_json::from_str(&payload)?;
    let event = &p["event"];
    tx.execute(
        "INSERT OR IGNORE INTO case_event_refusals (event_seq, reason)
         SELECT seq, ?5 FROM case_events WHERE case_id = ?1
            AND json_extract(data, '$.at') = ?2 AND json_extract(data, '$.transition') = ?3
            AND json_extract(data, '$.device') = ?4",
        params![
            case_id,
            event["at"].as_str(),
            event["transition"].as_str(),
            event["device"].as_str(),
            reason.unwrap_or("rejected")
        ],
    )?;
    Ok(())
}

/// SHA-256 (hex) of sorted lines, the holding digest both sides compute the same way.
pub fn digest_lines(mut lines: Vec<String>) -> String {
    lines.sort_unstable();
    let mut h = Sha256::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The digest of `(seq, op_id)` pairs in ascending sequence, as HQ computes it.
pub fn ops_digest<'a>(ops: impl IntoIterator<Item = (i64, &'a str)>) -> String {
    let mut h = Sha256::new();
    for (seq, id) in ops {
        h.update(seq.to_be_bytes());
        h.update(id.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Fields of a record with a local edit HQ has not acknowledged: they keep the local value when
/// HQ's state arrives (the edit is on its way, and HQ merges it field by field).
fn pending_fields(
    w: &Writer<'_>,
    entity: &str,
    id: &str,
) -> Result<std::collections::HashSet<String>> {
    let mut out = std::collections::HashSet::new();
    let mut stmt = w.tx.prepare_cached(
        "SELECT payload FROM outbox WHERE entity = ?1 AND entity_id = ?2 AND op LIKE '%.update'
         AND acked_at IS NULL AND payload <> ''",
    )?;
    for p in stmt.query_map(params![entity, id], |r| r.get::<_, String>(0))? {
        let p: Value = serde_json::from_str(&p?)?;
        if let Some(f) = p["fields"].as_object() {
            out.extend(f.keys().cloned());
        }
    }
    Ok(out)
}

/// HQ's record with the fields this device edited (and HQ has not acknowledged) kept as they are
/// here.
fn keep_local(hq: &Value, local: &Value, pending: &std::collections::HashSet<String>) -> Value {
    let mut out = hq.clone();
    if let (Some(o), Some(l)) = (out.as_object_mut(), local.as_object()) {
        for f in pending {
            match l.get(f) {
                Some(v) => o.insert(f.clone(), v.clone()),
                None => o.remove(f),
            };
        }
    }
    out
}

/// The lifecycle's fields of a case: HQ's always win, unless a transition made here is still on
/// its way (then HQ's answer to it decides).
const LIFECYCLE_FIELDS: [&str; 5] = [
    "state",
    "submitted_at",
    "promised_reply_date",
    "decision",
    "registration_number",
];

impl Writer<'_> {
    /// Apply one record HQ relays. Returns true when something changed here. A state this device
    /// already holds (same or older version) changes nothing, so a page applied twice, or the
    /// feed read again after a re-download, changes nothing twice. An entry this build cannot
    /// read is passed over rather than stopping sync for ever.
    fn apply_hq_state(&self, c: &HqChange) -> Result<bool> {
        let Ok(s) = serde_json::from_str::<HqState>(&c.payload) else {
            return Ok(false);
        };
        match c.kind.as_str() {
            "beneficiary" => self.apply_beneficiary(&c.entity_id, s),
            "case" => self.apply_case(&c.entity_id, s),
            "interaction" | "delivery" | "survey" | "task" => {
                self.apply_record(&c.kind, &c.entity_id, s)
            }
            "staff" => self.apply_staff(s),
            "kb" => self.apply_kb(s),
            "conflict" => self.apply_conflict(s),
            // A kind this build does not know yet is skipped, not fatal: newer HQs add kinds.
            _ => Ok(false),
        }
    }

    fn local_version(&self, table: &str, id: &str) -> Result<Option<(i64, i64, String)>> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "SELECT hq_version, version, data FROM {table} WHERE id = ?1"
            ))?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    fn apply_beneficiary(&self, id: &str, s: HqState) -> Result<bool> {
        let Ok(hq) = Beneficiary::deserialize(&s.data) else {
            return Ok(false);
        };
        if hq.id.to_string() != id {
            return Ok(false);
        }
        if let Some(survivor) = &s.survivor
            && let Ok(b) = Beneficiary::deserialize(survivor)
        {
            // The person this one was merged into belongs to another branch: kept as a copy,
            // shown, never pushed.
            self.insert_beneficiary_row(&b, "", s.version, None)?;
            self.tx.execute(
                "INSERT INTO foreign_records (entity, id) VALUES ('beneficiary', ?1) ON CONFLICT DO NOTHING",
                [b.id.to_string()],
            )?;
        }
        let local: Option<(i64, Option<String>, String)> = self
            .tx
            .prepare_cached(
                "SELECT hq_version, merged_into, data FROM beneficiaries WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((hq_version, was_merged_into, data)) = local else {
            self.insert_beneficiary_row(
                &hq,
                &self.session.branch,
                s.version,
                s.merged_into.as_deref(),
            )?;
            self.note_hq_edits("beneficiary", id, &s, None)?;
            return Ok(true);
        };
        if s.version <= hq_version {
            return Ok(false);
        }
        let pending = pending_fields(self, "beneficiary", id)?;
        let local: Value = serde_json::from_str(&data)?;
        let merged = keep_local(&s.data, &local, &pending);
        let Ok(b) = Beneficiary::deserialize(&merged) else {
            return Ok(false);
        };
        self.exec(
            "UPDATE beneficiaries SET full_name = ?2, name_key = ?3, national_id = ?4, phone = ?5, phone_rev = ?6,
                 birth_date = ?7, data = ?8, version = version + 1, hq_version = ?9, merged_into = ?10, updated_at = ?11,
                 file_number = ?12
             WHERE id = ?1",
            params![
                id,
                b.name.full(),
                crate::beneficiaries::name_key_of(&b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                crate::beneficiaries::phone_rev_of(&b),
                b.birth_date.map(|d| d.to_string()),
                serde_json::to_string(&b)?,
                s.version,
                s.merged_into,
                self.now.to_rfc3339(),
                b.file_number
            ],
        )?;
        self.note_hq_edits("beneficiary", id, &s, Some(hq_version))?;
        if was_merged_into != s.merged_into {
            self.audit(
                if s.merged_into.is_some() {
                    "beneficiary.hq_merge"
                } else {
                    "beneficiary.hq_unmerge"
                },
                "beneficiary",
                id,
            )?;
        }
        if let Some(old) = was_merged_into.filter(|_| s.merged_into.is_none()) {
            self.drop_unused_copy(&old)?;
        }
        Ok(true)
    }

    /// Changes made at HQ (who, when, which fields, never the values) join the record's
    /// timeline: those since the version `held` here, or, for a record new here (a laptop joining
    /// its branch, or the record's first arrival), every one HQ sent and a line saying how many
    /// older ones it left out. A page applied again adds nothing: the version held has moved
    /// past them.
    fn note_hq_edits(&self, entity: &str, id: &str, s: &HqState, held: Option<i64>) -> Result<()> {
        let at = |e: &HqEdit| {
            chrono::DateTime::parse_from_rfc3339(&e.at)
                .map(|t| t.to_utc().to_rfc3339())
                .unwrap_or_else(|_| self.now.to_rfc3339())
        };
        let action = format!("{entity}.hq_edit");
        let note = |at: String, detail: Value| {
            self.exec(
                "INSERT INTO audit_events (at, staff_id, action, entity, entity_id, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![at, crate::HQ_STAFF, action, entity, id, detail.to_string()],
            )
        };
        if held.is_none()
            && s.hq_edits_older > 0
            && let Some(first) = s.hq_edits.first()
        {
            note(
                at(first),
                serde_json::json!({"fields": [], "by": "", "older": s.hq_edits_older}),
            )?;
        }
        for e in s.hq_edits.iter().filter(|e| e.version > held.unwrap_or(0)) {
            note(at(e), serde_json::json!({"fields": e.fields, "by": e.by}))?;
        }
        Ok(())
    }

    /// A copy of another branch's person kept only because of a merge goes when the merge is
    /// undone, unless a case or contact here points at it.
    fn drop_unused_copy(&self, id: &str) -> Result<()> {
        let unused: bool = self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM foreign_records WHERE entity = 'beneficiary' AND id = ?1)
                AND NOT EXISTS (SELECT 1 FROM cases WHERE beneficiary_id = ?1)
                AND NOT EXISTS (SELECT 1 FROM interactions WHERE beneficiary_id = ?1)
                AND NOT EXISTS (SELECT 1 FROM beneficiaries WHERE merged_into = ?1)",
            [id],
            |r| r.get(0),
        )?;
        if unused {
            self.tx
                .execute("DELETE FROM beneficiaries WHERE id = ?1", [id])?;
            self.tx.execute(
                "DELETE FROM foreign_records WHERE entity = 'beneficiary' AND id = ?1",
                [id],
            )?;
        }
        Ok(())
    }

    /// Insert a beneficiary row HQ sent, without an outbox operation (HQ has it already).
    fn insert_beneficiary_row(
        &self,
        b: &Beneficiary,
        branch: &str,
        hq_version: i64,
        merged_into: Option<&str>,
    ) -> Result<()> {
        let stamp = self.now.to_rfc3339();
        self.exec(
            "INSERT INTO beneficiaries (id, branch, full_name, name_key, national_id, phone, phone_rev,
                 birth_date, data, version, hq_version, merged_into, created_at, updated_at, file_number)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?12, ?12, ?13)
             ON CONFLICT(id) DO NOTHING",
            params![
                b.id.to_string(),
                branch,
                b.name.full(),
                crate::beneficiaries::name_key_of(b),
                b.national_id.as_ref().map(|n| n.as_str().to_owned()),
                b.mobile.as_ref().map(|m| m.as_str().to_owned()),
                crate::beneficiaries::phone_rev_of(b),
                b.birth_date.map(|d| d.to_string()),
                serde_json::to_string(b)?,
                hq_version,
                merged_into,
                stamp,
                b.file_number
            ],
        )?;
        Ok(())
    }

    fn apply_case(&self, id: &str, s: HqState) -> Result<bool> {
        let Ok(hq) = Case::deserialize(&s.data) else {
            return Ok(false);
        };
        if hq.id.to_string() != id {
            return Ok(false);
        }
        let local = self.local_version("cases", id)?;
        // Rule tasks follow the lifecycle: only a case that is new here or moved needs them.
        let mut moved = true;
        let case = match local {
            None => {
                let stamp = self.now.to_rfc3339();
                // Two cases with one number exist only when a store restored from an old copy
                // numbered new work before it learned what its other timeline had numbered: both
                // are kept, the arriving one findable by its number with a mark.
                let taken: bool = self.tx.query_row(
                    "SELECT count(*) > 0 FROM cases WHERE number = ?1",
                    [&hq.number],
                    |r| r.get(0),
                )?;
                let number = if taken {
                    format!("{}~{}", hq.number, &id[..8.min(id.len())])
                } else {
                    hq.number.clone()
                };
                let n = self.exec(
                    "INSERT INTO cases (id, number, beneficiary_id, branch, state, support_type, channel,
                         promised_reply_date, data, version, hq_version, created_at, updated_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?11
                     WHERE EXISTS (SELECT 1 FROM beneficiaries WHERE id = ?3)",
                    params![
                        id,
                        number,
                        hq.beneficiary_id.to_string(),
                        self.session.branch,
                        hq.state.code(),
                        hq.support_type,
                        hq.channel.code(),
                        hq.promised_reply_date.map(|d| d.to_string()),
                        serde_json::to_string(&hq)?,
                        s.version,
                        stamp
                    ],
                )?;
                if n == 0 {
                    return Ok(false);
                }
                self.note_hq_edits("case", id, &s, None)?;
                hq
            }
            Some((hq_version, _, _)) if s.version <= hq_version => return Ok(false),
            Some((hq_version, _, data)) => {
                self.note_hq_edits("case", id, &s, Some(hq_version))?;
                let local: Value = serde_json::from_str(&data)?;
                let mut pending = pending_fields(self, "case", id)?;
                let transition_pending: bool = self
                    .tx
                    .prepare_cached(
                        "SELECT count(*) > 0 FROM outbox WHERE entity = 'case' AND entity_id = ?1
                         AND op = 'case.transition' AND acked_at IS NULL",
                    )?
                    .query_row([id], |r| r.get(0))?;
                if transition_pending {
                    pending.extend(LIFECYCLE_FIELDS.iter().map(|f| (*f).to_owned()));
                } else {
                    for f in LIFECYCLE_FIELDS {
                        pending.remove(f);
                    }
                }
                let merged = keep_local(&s.data, &local, &pending);
                let Ok(c) = Case::deserialize(&merged) else {
                    return Ok(false);
                };
                moved = local.get("state") != merged.get("state");
                self.exec(
                    "UPDATE cases SET state = ?2, support_type = ?3, channel = ?4, promised_reply_date = ?5, data = ?6,
                         version = version + 1, hq_version = ?7, updated_at = ?8 WHERE id = ?1",
                    params![
                        id,
                        c.state.code(),
                        c.support_type,
                        c.channel.code(),
                        c.promised_reply_date.map(|d| d.to_string()),
                        serde_json::to_string(&c)?,
                        s.version,
                        self.now.to_rfc3339()
                    ],
                )?;
                c
            }
        };
        for e in &s.events {
            let Ok(ev) = CaseEvent::deserialize(e) else {
                continue;
            };
            // The history entry made here already is the same entry (by when, what and where).
            self.exec(
                "INSERT INTO case_events (case_id, at, data)
                 SELECT ?1, ?2, ?3 WHERE NOT EXISTS (
                    SELECT 1 FROM case_events WHERE case_id = ?1 AND json_extract(data, '$.at') = ?4
                      AND json_extract(data, '$.transition') = ?5 AND json_extract(data, '$.device') = ?6)",
                params![
                    id,
                    ev.at.to_rfc3339(),
                    serde_json::to_string(&ev)?,
                    serde_json::to_value(ev.at)?.as_str(),
                    ev.transition.code(),
                    ev.device.to_string()
                ],
            )?;
        }
        self.want_files(&case)?;
        self.note_number("case", &case.number)?;
        if let Some(n) = &case.registration_number {
            self.note_number("file", n)?;
        }
        if moved {
            self.refresh_rule_tasks_for(&case)?;
        }
        Ok(true)
    }

    /// A number this device gave (its prefix) and HQ holds, or an imported sheet brings back: the
    /// counter goes past it, so a store restored from an old copy never gives it again.
    pub(crate) fn note_number(&self, counter: &str, number: &str) -> Result<()> {
        let prefix = format!("{}-", self.session.number_prefix);
        let Some(rest) = number.strip_prefix(&prefix) else {
            return Ok(());
        };
        let digits = rest.trim_start_matches('F');
        let Ok(n) = digits.parse::<i64>() else {
            return Ok(());
        };
        self.exec(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
            params![counter, n],
        )?;
        Ok(())
    }

    /// The files a case refers to that this device does not hold (attached on another laptop):
    /// fetched in the background after the records.
    fn want_files(&self, c: &Case) -> Result<()> {
        let mut shas: Vec<&str> = c
            .documents
            .iter()
            .filter_map(|d| d.attachment.as_deref())
            .collect();
        if let Some(d) = &c.declaration {
            shas.push(match &d.signature {
                sila_domain::case::Signature::Drawn { attachment }
                | sila_domain::case::Signature::OnPaper { attachment } => attachment,
            });
        }
        for sha in shas {
            self.exec(
                "INSERT INTO file_downloads (sha256, wanted_at) SELECT ?1, ?2
                 WHERE NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = ?1)
                 ON CONFLICT(sha256) DO UPDATE SET last_error = NULL",
                params![sha, self.now.to_rfc3339()],
            )?;
        }
        Ok(())
    }

    /// Interactions, deliveries, surveys and tasks: an upsert guarded by HQ's version, fields
    /// edited here and not yet acknowledged kept.
    fn apply_record(&self, kind: &str, id: &str, s: HqState) -> Result<bool> {
        let table = match kind {
            "interaction" => "interactions",
            "delivery" => "deliveries",
            "survey" => "surveys",
            _ => "tasks",
        };
        let local: Option<(i64, String)> = self
            .tx
            .prepare_cached(&format!(
                "SELECT hq_version, data FROM {table} WHERE id = ?1"
            ))?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let data = match &local {
            Some((v, _)) if s.version <= *v => return Ok(false),
            Some((_, data)) => {
                let local: Value = serde_json::from_str(data)?;
                keep_local(&s.data, &local, &pending_fields(self, kind, id)?)
            }
            None => s.data.clone(),
        };
        let text = serde_json::to_string(&data)?;
        let r = match kind {
            "interaction" => {
                let Ok(i) = sila_domain::interaction::Interaction::deserialize(&data) else {
                    return Ok(false);
                };
                self.exec(
                    "INSERT INTO interactions (id, beneficiary_id, case_id, at, data, hq_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO UPDATE SET data = excluded.data, case_id = excluded.case_id, hq_version = excluded.hq_version",
                    params![id, i.beneficiary_id.map(|b| b.to_string()), i.case_id.map(|c| c.to_string()), i.at.to_rfc3339(), text, s.version],
                )
            }
            "delivery" => {
                let Ok(d) = sila_domain::interaction::Delivery::deserialize(&data) else {
                    return Ok(false);
                };
                self.exec(
                    "INSERT INTO deliveries (id, case_id, delivered_on, data, hq_version) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(id) DO UPDATE SET data = excluded.data, hq_version = excluded.hq_version",
                    params![id, d.case_id.to_string(), d.delivered_on.to_string(), text, s.version],
                )
            }
            "survey" => {
                let Ok(sv) = sila_domain::interaction::Survey::deserialize(&data) else {
                    return Ok(false);
                };
                self.exec(
                    "INSERT INTO surveys (id, case_id, data, hq_version) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(id) DO UPDATE SET data = excluded.data, hq_version = excluded.hq_version",
                    params![id, sv.case_id.map(|c| c.to_string()), text, s.version],
                )
            }
            _ => {
                let Ok(t) = sila_domain::task::Task::deserialize(&data) else {
                    return Ok(false);
                };
                // due_on is the day it is due now (a snoozed task's later day); assignee and
                // case_id are the columns a person's list and a case file read.
                self.exec(
                    "INSERT INTO tasks (id, key, kind, role, due_on, done_at, data, hq_version, assignee, case_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT(id) DO UPDATE SET data = excluded.data, role = excluded.role, due_on = excluded.due_on,
                        done_at = excluded.done_at, hq_version = excluded.hq_version, assignee = excluded.assignee,
                        case_id = excluded.case_id",
                    params![
                        id,
                        t.key,
                        serde_json::to_value(t.kind)?.as_str().unwrap_or_default(),
                        t.role.code(),
                        t.due().to_string(),
                        t.done_at.map(|d| d.to_rfc3339()),
                        text,
                        s.version,
                        t.assignee.map(|a| a.to_string()),
                        t.case_id.map(|c| c.to_string())
                    ],
                )
            }
        };
        match r {
            Ok(n) => Ok(n > 0),
            // What it points at is not here (another task already holds its rule's key, or its
            // case is still on its way in a re-download): passed over, it comes again.
            Err(StoreError::Sqlite(e))
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn apply_staff(&self, s: HqState) -> Result<bool> {
        let Ok(a) = sila_domain::staff::StaffAccount::deserialize(&s.data) else {
            return Ok(false);
        };
        let roles: Vec<&str> = a.roles.iter().map(|r| r.code()).collect();
        let taken: Option<String> = self
            .tx
            .query_row(
                "SELECT id FROM staff WHERE username = ?1 AND id <> ?2",
                params![a.username, a.id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            // The same user name for a different person (made on two laptops): the local one is
            // kept; HQ shows both.
            return Ok(false);
        }
        let stamp = self.now.to_rfc3339();
        let n = self.exec(
            "INSERT INTO staff (id, username, display_name, roles, branch, active, hq_version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT(id) DO UPDATE SET display_name = excluded.display_name, roles = excluded.roles,
                active = excluded.active, hq_version = excluded.hq_version, updated_at = excluded.updated_at
             WHERE staff.hq_version < excluded.hq_version",
            params![a.id.to_string(), a.username, a.display_name, serde_json::to_string(&roles)?, a.branch, a.active, s.version, stamp],
        )?;
        Ok(n > 0)
    }

    fn apply_kb(&self, s: HqState) -> Result<bool> {
        #[derive(Deserialize)]
        struct KbDoc {
            id: String,
            title: String,
            #[serde(default)]
            body: String,
            #[serde(default)]
            sha256: Option<String>,
            #[serde(default)]
            mime: String,
            #[serde(default)]
            size: i64,
            published_at: String,
        }
        let Ok(doc) = KbDoc::deserialize(&s.data) else {
            return Ok(false);
        };
        let have_file: bool = match &doc.sha256 {
            None => true,
            Some(sha) => self.tx.query_row(
                "SELECT count(*) > 0 FROM attachments WHERE sha256 = ?1",
                [sha],
                |r| r.get(0),
            )?,
        };
        if have_file {
            self.exec(
                "INSERT INTO kb_documents (id, title, body, attachment, published_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'hq')
                 ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body,
                    attachment = excluded.attachment, published_at = excluded.published_at",
                params![doc.id, doc.title, doc.body, doc.sha256, doc.published_at],
            )?;
        } else {
            self.exec(
                "INSERT INTO kb_downloads (id, title, body, sha256, mime, size, published_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET title = excluded.title, body = excluded.body,
                    sha256 = excluded.sha256, mime = excluded.mime, size = excluded.size,
                    published_at = excluded.published_at",
                params![
                    doc.id,
                    doc.title,
                    doc.body,
                    doc.sha256,
                    doc.mime,
                    doc.size,
                    doc.published_at
                ],
            )?;
        }
        Ok(true)
    }

    fn apply_conflict(&self, s: HqState) -> Result<bool> {
        #[derive(Deserialize)]
        struct C {
            id: i64,
            entity: String,
            entity_id: String,
            field: String,
            current: Value,
            proposed: Value,
            device_id: String,
            reason: String,
            #[serde(default)]
            resolution: Option<String>,
        }
        let Ok(c) = C::deserialize(&s.data) else {
            return Ok(false);
        };
        let n = self.exec(
            "INSERT INTO conflicts (id, entity, entity_id, field, current, proposed, device_id, reason, resolution, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET resolution = excluded.resolution WHERE conflicts.resolution IS NOT excluded.resolution",
            params![
                c.id,
                c.entity,
                c.entity_id,
                c.field,
                serde_json::to_string(&c.current)?,
                serde_json::to_string(&c.proposed)?,
                c.device_id,
                c.reason,
                c.resolution,
                self.now.to_rfc3339()
            ],
        )?;
        Ok(n > 0)
    }
}
