//! A batch of operations from one device, applied in its sequence order inside one transaction.
//!
//! - A number HQ holds under the same operation is a repeat: answered from what HQ recorded, never
//!   applied twice.
//! - A number HQ holds under *another* operation, or a number below the device's highest that HQ
//!   never saw, is answered [`SEQ_REUSED`](sila_proto::SEQ_REUSED) and not recorded: the device's
//!   store is behind HQ (restored from a backup, copied to another laptop) and carries the
//!   operation over under a new number.
//! - An operation HQ holds under another number of the same device (it was carried over after its
//!   first answer was lost) is a repeat too, recorded under its new number as well so both sides
//!   agree on which operation each number is.
//! - A number past the next one HQ expects is answered [`SEQ_GAP`] with what HQ holds, and
//!   nothing from it on is applied: HQ was restored from a copy older than what it had
//!   acknowledged, and the device sends the missing operations again (same numbers, same IDs).
//!   A hole is never applied over.
//! - On a restored HQ, while a device of the branch has not come back, an operation refused for
//!   a reference to a record HQ does not hold is answered [`HELD`] and not recorded, and the
//!   batch stops there: the record may be that device's work, which it will send again (the
//!   old HQ applied them in that order). The device sends it again at its next pass.
//! - A [`LOST_OP`] (an operation the device can no longer send) is recorded refused with
//!   [`LOST_AT_DEVICE`], which is an alert for a person at HQ.
//! - Anything else is applied by [`super::ops::apply`]; a refusal undoes everything the
//!   operation wrote, is recorded with its code, and the batch goes on. Only a storage failure
//!   fails the batch.

use super::{Context, Outcome};
use crate::storage::{AppliedOp, Kind, OpMeta, Tx};
use crate::{HqError, Result};
use sila_proto::{
    HELD, LOST_AT_DEVICE, LOST_OP, OpOutcome, OpResult, PushResponse, SEQ_GAP, SEQ_REUSED, WireOp,
};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The records an operation's payload may name besides its own (a case's person; a task's,
/// an interaction's, a delivery's or a survey's case or person), read with the batch's own
/// records so that checking them costs no read of its own (on PostgreSQL, a round trip each:
/// 10,000 new cases of known people waited for 10,000). A guess, not a check: whatever the
/// payload holds under these names, read or not; the rules check each reference as they apply.
#[derive(serde::Deserialize, Default)]
struct Named {
    beneficiary_id: Option<String>,
    case_id: Option<String>,
}

pub fn push(tx: &mut dyn Tx, ctx: &Context<'_>, ops: &[WireOp]) -> Result<PushResponse> {
    if ops.windows(2).any(|w| w[0].seq >= w[1].seq) {
        return Err(HqError::BadRequest("ops out of order"));
    }
    if ops.iter().any(|o| o.seq <= 0) {
        return Err(HqError::BadRequest("seq"));
    }
    let state = tx
        .device_state(ctx.device_id)?
        .ok_or(HqError::Unauthorized)?;
    if state.revoked {
        return Err(HqError::Revoked);
    }
    let mut last = state.last_seq;
    let mut results = Vec::new();
    // What HQ holds of these numbers and these operations, and the records the operations
    // name, each read once for the whole batch.
    let mut at = HashMap::new();
    let mut by_id: HashMap<String, AppliedOp> = HashMap::new();
    if let (Some(first), Some(end)) = (ops.first(), ops.last()) {
        for seen in tx.applied_between(ctx.device_id, first.seq, end.seq)? {
            at.insert(seen.seq, seen);
        }
        let ids: Vec<&str> = ops.iter().map(|o| o.op_id.as_str()).collect();
        for seen in tx.applied_with_ids(ctx.device_id, &ids)? {
            // An operation carried over is held under several numbers: its first one counts.
            match by_id.entry(seen.op_id.clone()) {
                Entry::Occupied(mut o) if o.get().seq > seen.seq => {
                    o.insert(seen);
                }
                Entry::Occupied(_) => {}
                Entry::Vacant(v) => {
                    v.insert(seen);
                }
            }
        }
        let refs: Vec<Named> = ops
            .iter()
            .map(|o| serde_json::from_str(o.payload.get()).unwrap_or_default())
            .collect();
        let mut named: Vec<(Kind, &str)> = ops
            .iter()
            .filter_map(|o| Some((Kind::from_code(&o.entity)?, o.entity_id.as_str())))
            .collect();
        for r in &refs {
            named.extend(
                r.beneficiary_id
                    .as_deref()
                    .map(|id| (Kind::Beneficiary, id)),
            );
            named.extend(r.case_id.as_deref().map(|id| (Kind::Case, id)));
        }
        tx.prefetch(&named)?;
    }
    for op in ops {
        let meta = OpMeta {
            device_id: ctx.device_id,
            seq: op.seq,
            op_id: &op.op_id,
            op: &op.op,
            entity: &op.entity,
            entity_id: &op.entity_id,
            created_at: op.created_at,
        };
        if let Some(seen) = at.remove(&op.seq) {
            results.push(if seen.op_id == op.op_id {
                OpOutcome {
                    seq: op.seq,
                    result: OpResult::from_code(&seen.result).unwrap_or(OpResult::Applied),
                    reason: seen.reason,
                    repeat: true,
                }
            } else {
                reused(op.seq)
            });
            continue;
        }
        if op.seq <= last {
            results.push(reused(op.seq));
            continue;
        }
        if op.seq > last + 1 {
            results.push(OpOutcome {
                seq: op.seq,
                result: OpResult::Rejected,
                reason: Some(SEQ_GAP.to_owned()),
                repeat: false,
            });
            break;
        }
        if let Some(seen) = by_id.get(&op.op_id).cloned() {
            // Carried over under a new number after its first answer was lost: the same
            // operation, applied once; the new number is recorded as pointing at it.
            tx.record_applied(&meta, &seen.result, seen.reason.as_deref(), ctx.now)?;
            last = op.seq;
            results.push(OpOutcome {
                seq: op.seq,
                result: OpResult::from_code(&seen.result).unwrap_or(OpResult::Applied),
                reason: seen.reason,
                repeat: true,
            });
            continue;
        }
        if op.op == LOST_OP {
            tracing::error!(device = %ctx.device_id, seq = op.seq, entity = %op.entity,
                "a device cannot send again an operation HQ lost in a restore");
            tx.record_applied(
                &meta,
                OpResult::Rejected.code(),
                Some(LOST_AT_DEVICE),
                ctx.now,
            )?;
            held(&mut by_id, op, OpResult::Rejected, Some(LOST_AT_DEVICE));
            last = op.seq;
            results.push(OpOutcome {
                seq: op.seq,
                result: OpResult::Rejected,
                reason: Some(LOST_AT_DEVICE.to_owned()),
                repeat: false,
            });
            continue;
        }
        tx.begin_op()?;
        let outcome = if op.payload.get().len() > sila_proto::MAX_OP_PAYLOAD {
            Outcome::Rejected("too_large")
        } else {
            super::ops::apply(tx, ctx, op)?
        };
        let (result, reason) = match outcome {
            Outcome::Applied => {
                tx.end_op()?;
                (OpResult::Applied, None)
            }
            Outcome::Conflict(_) => {
                tx.end_op()?;
                (OpResult::Conflict, Some("field_conflict"))
            }
            Outcome::Rejected(code) if ctx.awaiting_branch && MISSING.contains(&code) => {
                // Not recorded: the device sends it again at its next pass, and the operations
                // after it wait with it (the device's order is kept).
                tx.undo_op()?;
                results.push(OpOutcome {
                    seq: op.seq,
                    result: OpResult::Rejected,
                    reason: Some(HELD.to_owned()),
                    repeat: false,
                });
                break;
            }
            Outcome::Rejected(code) => {
                tx.undo_op()?;
                // The device changed its own copy before HQ refused the change: it is sent HQ's
                // copy again, so it does not keep what HQ refused (a transition from a state the
                // case had left on another laptop).
                if let Some(kind) = crate::storage::Kind::from_code(&op.entity)
                    && let Some(rec) = tx.load(kind, &op.entity_id)?
                    && rec.branch == ctx.branch
                {
                    super::ops::resend(tx, ctx, &rec)?;
                }
                (OpResult::Rejected, Some(code))
            }
        };
        tx.record_applied(&meta, result.code(), reason, ctx.now)?;
        held(&mut by_id, op, result, reason);
        last = op.seq;
        // A plain success is implied for every operation the stream carried: listing it would
        // cost ~35 bytes per operation on the way down, seconds per thousand cases on 2G.
        if result != OpResult::Applied {
            results.push(OpOutcome {
                seq: op.seq,
                result,
                reason: reason.map(str::to_owned),
                repeat: false,
            });
        }
    }
    tx.set_device_seen(ctx.device_id, last, ctx.now)?;
    Ok(PushResponse {
        acked_through: last,
        results,
    })
}

/// Refusals for a reference to a record HQ does not hold.
const MISSING: [&str; 5] = [
    "unknown_beneficiary",
    "unknown_case",
    "unknown_staff",
    "unknown_attachment",
    "unknown_record",
];

/// An operation now recorded, for the same operation found again later in the batch under
/// another number.
fn held(
    by_id: &mut HashMap<String, AppliedOp>,
    op: &WireOp,
    result: OpResult,
    reason: Option<&str>,
) {
    by_id.entry(op.op_id.clone()).or_insert_with(|| AppliedOp {
        seq: op.seq,
        op_id: op.op_id.clone(),
        result: result.code().to_owned(),
        reason: reason.map(str::to_owned),
    });
}

fn reused(seq: i64) -> OpOutcome {
    OpOutcome {
        seq,
        result: OpResult::Rejected,
        reason: Some(SEQ_REUSED.to_owned()),
        repeat: false,
    }
}
