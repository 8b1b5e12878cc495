//! The operation journal. A row is written before the provider is called and
//! every phase change is persisted, so a crash loses nothing: whoever starts
//! next adopts the unfinished rows and tracks them to an honest end.

use super::outbox::{self, Change};
use super::{parse_col, Store, StoreResult};
use crate::model::{Failure, Initiator, Millis, OpKind, OpPhase, Operation, ShutdownMethod};
use rusqlite::{params, Row};

const ACTIVE: &str = "('submitted', 'tracking', 'verifying')";
const SELECT: &str = "SELECT o.id, o.vm_id, v.name, a.name, o.kind, o.phase, o.allow_force, o.graceful_timeout_ms, o.timeout_ms, o.requested_at, o.deadline_at, o.forced_at, o.finished_at, o.previous_state, o.new_state, o.shutdown_method, o.job_id, o.error, o.job_done, o.saw_transition, o.owner, o.owner_pid, o.heartbeat_at, v.account_id, v.provider_id, o.wait_tools, o.submitted_at, o.failure, o.mismatches, o.cancel_requested, o.force_requested, COALESCE(l.heartbeat_at, o.heartbeat_at), o.initiator, o.batch_id FROM operations o JOIN vms v ON v.id = o.vm_id JOIN accounts a ON a.id = v.account_id LEFT JOIN leases l ON l.owner = o.owner";

/// The operations in flight, read through the partial index that holds only
/// them: the driver and the tiers ask for these every few seconds, and
/// going through the account's VMs instead would read every one of them.
fn select_active() -> String {
    format!("{} WHERE o.phase IN {ACTIVE}", SELECT.replacen("FROM operations o ", "FROM operations o INDEXED BY operations_one_in_flight ", 1))
}

/// An operation plus the bookkeeping only the engine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OpRecord {
    pub op: Operation,
    pub account_id: i64,
    pub provider_id: String,
    pub job_done: bool,
    pub saw_transition: bool,
    /// Consecutive readings that disagreed after the job said done.
    pub mismatches: u32,
    pub owner: Option<String>,
    pub owner_pid: Option<i64>,
    pub heartbeat_at: Option<Millis>,
}

pub struct NewOperation {
    pub vm_id: i64,
    pub kind: OpKind,
    pub allow_force: bool,
    pub graceful_timeout_ms: i64,
    pub timeout_ms: i64,
    pub previous_state: Option<crate::model::PowerState>,
    pub wait_for_tools: bool,
    pub owner: String,
    pub owner_pid: i64,
    pub initiator: Initiator,
    pub batch_id: Option<i64>,
}

fn row(r: &Row) -> rusqlite::Result<(OpRecord, [Option<String>; 6])> {
    let op = Operation {
        id: r.get(0)?,
        vm_id: r.get(1)?,
        vm_name: r.get(2)?,
        account: r.get(3)?,
        kind: OpKind::Start,
        phase: OpPhase::Submitted,
        allow_force: r.get(6)?,
        graceful_timeout_ms: r.get(7)?,
        timeout_ms: r.get(8)?,
        requested_at: r.get(9)?,
        deadline_at: r.get(10)?,
        forced_at: r.get(11)?,
        finished_at: r.get(12)?,
        previous_state: None,
        new_state: None,
        shutdown_method: None,
        job_id: r.get(16)?,
        error: r.get(17)?,
        wait_for_tools: r.get(25)?,
        submitted_at: r.get(26)?,
        failure: None,
        cancel_requested: r.get(29)?,
        force_requested: r.get(30)?,
        initiator: r.get::<_, Option<String>>(32)?.as_deref().and_then(Initiator::parse).unwrap_or_default(),
        batch_id: r.get(33)?,
    };
    Ok((
        OpRecord {
            op,
            job_done: r.get(18)?,
            saw_transition: r.get(19)?,
            owner: r.get(20)?,
            owner_pid: r.get(21)?,
            // The owner's lease, or (rows older than leases) the row's own heartbeat.
            heartbeat_at: r.get(31)?,
            mismatches: r.get(28)?,
            account_id: r.get(23)?,
            provider_id: r.get(24)?,
        },
        [r.get(4)?, r.get(5)?, r.get(13)?, r.get(14)?, r.get(15)?, r.get(27)?],
    ))
}

fn finish((mut rec, [kind, phase, prev, new, method, failure]): (OpRecord, [Option<String>; 6])) -> StoreResult<OpRecord> {
    let state = |s: Option<String>| s.map(|s| parse_col(&s, "power state", |x| x.parse().ok())).transpose();
    rec.op.kind = parse_col(kind.as_deref().unwrap_or(""), "operation kind", OpKind::parse)?;
    rec.op.phase = parse_col(phase.as_deref().unwrap_or(""), "operation phase", OpPhase::parse)?;
    rec.op.previous_state = state(prev)?;
    rec.op.new_state = state(new)?;
    rec.op.shutdown_method = method.map(|m| parse_col(&m, "shutdown method", ShutdownMethod::parse)).transpose()?;
    rec.op.failure = failure.map(|f| parse_col(&f, "failure", Failure::parse)).transpose()?;
    Ok(rec)
}

/// A journal row as read: whole, or unreadable (a value of the wrong type,
/// an unknown kind…) with its id, so that one bad row cannot hide the others.
enum Read {
    Good(Box<OpRecord>),
    Bad(i64, String),
}

fn read_row(r: &Row) -> rusqlite::Result<Read> {
    let id: i64 = r.get(0)?;
    Ok(match row(r).map_err(|e| e.to_string()).and_then(|x| finish(x).map_err(|e| e.to_string())) {
        Ok(rec) => Read::Good(Box::new(rec)),
        Err(why) => Read::Bad(id, why),
    })
}

impl Store {
    /// Run a journal query, skipping rows that cannot be read. An unfinished
    /// one is ended as failed (quarantined), so it no longer blocks its VM
    /// or the engine's passes; it stays in the journal for whoever looks.
    fn query_ops(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<Vec<OpRecord>> {
        let (good, bad) = self.read(|c| {
            let mut stmt = c.prepare_cached(sql)?;
            let mut good = Vec::new();
            let mut bad = Vec::new();
            for read in stmt.query_map(params, read_row)? {
                match read? {
                    Read::Good(rec) => good.push(*rec),
                    Read::Bad(id, why) => bad.push((id, why)),
                }
            }
            Ok((good, bad))
        })?;
        for (id, why) in bad {
            if self.quarantine_operation(id, &why)? {
                tracing::warn!(op = id, error = %why, "an unreadable operation was ended as failed");
            } else {
                tracing::debug!(op = id, error = %why, "skipped an unreadable operation");
            }
        }
        Ok(good)
    }

    /// End an unreadable unfinished operation; whether it was unfinished.
    fn quarantine_operation(&self, id: i64, why: &str) -> StoreResult<bool> {
        let now = crate::model::now_ms();
        let error = format!("this journal entry could not be read ({why}); Powerdeck stopped tracking it. Check the VM's state before acting on it again.");
        self.write(|tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE operations SET phase = 'failed', finished_at = ?2, error = ?3,
                            deadline_at = CASE WHEN typeof(deadline_at) = 'integer' THEN deadline_at ELSE ?2 END,
                            requested_at = CASE WHEN typeof(requested_at) = 'integer' THEN requested_at ELSE ?2 END
                     WHERE id = ?1 AND phase IN {ACTIVE}"
                ),
                params![id, now, error],
            )?;
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Operation { id }, now)?;
            }
            Ok(n == 1)
        })
    }

    /// Journal a new operation. `Err(existing)` when the VM already has one in
    /// flight — enforced by a unique index, so it holds across processes.
    pub fn insert_operation(&self, new: &NewOperation, now: Millis) -> StoreResult<Result<OpRecord, OpRecord>> {
        let inserted = self.write(|tx| {
            let n = tx.execute(
                &format!(
                    "INSERT INTO operations (vm_id, kind, phase, allow_force, graceful_timeout_ms, timeout_ms, requested_at, deadline_at, previous_state, owner, owner_pid, heartbeat_at, wait_tools, initiator, batch_id)
                     SELECT ?1, ?2, 'submitted', ?3, ?4, ?5, ?6, ?11, ?7, ?8, ?9, ?6, ?10, ?12, ?13
                     WHERE NOT EXISTS (SELECT 1 FROM operations WHERE vm_id = ?1 AND phase IN {ACTIVE})"
                ),
                // The deadline is computed here, saturating: in SQL an integer
                // overflow silently becomes a REAL that no later read accepts.
                params![new.vm_id, new.kind.as_str(), new.allow_force, new.graceful_timeout_ms, new.timeout_ms, now, new.previous_state.map(|s| s.as_str()), new.owner, new.owner_pid, new.wait_for_tools, now.saturating_add(new.timeout_ms), new.initiator.as_str(), new.batch_id],
            )?;
            let id = (n == 1).then(|| tx.last_insert_rowid());
            if let Some(id) = id {
                outbox::append(tx, &self.origin, &Change::Operation { id }, now)?;
            }
            Ok(id)
        })?;
        match inserted {
            Some(id) => Ok(Ok(self.operation_record(id)?.expect("just inserted"))),
            None => {
                let existing = self.query_ops(&format!("{SELECT} WHERE o.vm_id = ?1 AND o.phase IN {ACTIVE}"), [new.vm_id])?.pop();
                match existing {
                    Some(e) => Ok(Err(e)),
                    // It finished between our two statements: try once more.
                    None => self.insert_operation(new, now),
                }
            }
        }
    }

    /// Journal a request refused before anything was sent (unsupported, a
    /// VM busy with another operation…), so a batch accounts for every VM
    /// it was asked for.
    pub fn journal_refusal(&self, new: &NewOperation, failure: Failure, message: &str, now: Millis) -> StoreResult<Operation> {
        let id = self.write(|tx| {
            tx.execute(
                "INSERT INTO operations (vm_id, kind, phase, allow_force, graceful_timeout_ms, timeout_ms, requested_at, deadline_at, finished_at, previous_state, owner, owner_pid, wait_tools, initiator, batch_id, failure, error)
                 VALUES (?1, ?2, 'failed', ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![new.vm_id, new.kind.as_str(), new.allow_force, new.graceful_timeout_ms, new.timeout_ms, now, new.previous_state.map(|s| s.as_str()), new.owner, new.owner_pid, new.wait_for_tools, new.initiator.as_str(), new.batch_id, failure.as_str(), message],
            )?;
            let id = tx.last_insert_rowid();
            outbox::append(tx, &self.origin, &Change::Operation { id }, now)?;
            Ok(id)
        })?;
        Ok(self.operation(id)?.expect("just inserted"))
    }

    /// The operations of a batch, oldest first.
    pub fn batch_operations(&self, batch_id: i64) -> StoreResult<Vec<Operation>> {
        Ok(self.query_ops(&format!("{SELECT} WHERE o.batch_id = ?1 ORDER BY o.id"), [batch_id])?.into_iter().map(|r| r.op).collect())
    }

    pub fn operation_record(&self, id: i64) -> StoreResult<Option<OpRecord>> {
        Ok(self.query_ops(&format!("{SELECT} WHERE o.id = ?1"), [id])?.pop())
    }

    pub fn operation(&self, id: i64) -> StoreResult<Option<Operation>> {
        Ok(self.operation_record(id)?.map(|r| r.op))
    }

    /// Unfinished operations of an account (all owners).
    pub fn active_operations(&self, account_id: i64) -> StoreResult<Vec<OpRecord>> {
        self.query_ops(&format!("{} AND +v.account_id = ?1 ORDER BY o.id", select_active()), [account_id])
    }

    /// Unfinished operations of every account, oldest first.
    pub fn in_flight_operations(&self) -> StoreResult<Vec<Operation>> {
        Ok(self.query_ops(&format!("{} ORDER BY o.id", select_active()), [])?.into_iter().map(|r| r.op).collect())
    }

    /// When each VM's latest operation was asked for (any initiator).
    pub fn last_operation_times(&self) -> StoreResult<std::collections::HashMap<i64, Millis>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT vm_id, MAX(requested_at) FROM operations GROUP BY vm_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Millis>(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Most recent operations first; `vm_id` narrows to one VM.
    pub fn recent_operations(&self, vm_id: Option<i64>, limit: u32) -> StoreResult<Vec<Operation>> {
        let sql = format!("{SELECT} WHERE (?1 IS NULL OR o.vm_id = ?1) ORDER BY o.id DESC LIMIT ?2");
        Ok(self.query_ops(&sql, params![vm_id, limit])?.into_iter().map(|r| r.op).collect())
    }

    /// Persist everything the engine may have changed on an operation.
    /// A finished operation is never changed again (a late writer holding
    /// an older copy must not bring it back to life): returns whether the
    /// row was still unfinished and so was written.
    pub fn save_operation(&self, rec: &OpRecord) -> StoreResult<bool> {
        let o = &rec.op;
        self.write(|tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE operations SET phase = ?2, deadline_at = ?3, forced_at = ?4, finished_at = ?5, new_state = ?6, shutdown_method = ?7,
                        job_id = ?8, error = ?9, job_done = ?10, saw_transition = ?11, owner = ?12, owner_pid = ?13, submitted_at = ?14,
                        failure = ?15, mismatches = ?16
                 WHERE id = ?1 AND phase IN {ACTIVE}"
                ),
                params![
                    o.id,
                    o.phase.as_str(),
                    o.deadline_at,
                    o.forced_at,
                    o.finished_at,
                    o.new_state.map(|s| s.as_str()),
                    o.shutdown_method.map(|m| m.as_str()),
                    o.job_id,
                    o.error,
                    rec.job_done,
                    rec.saw_transition,
                    rec.owner,
                    rec.owner_pid,
                    o.submitted_at,
                    o.failure.map(|f| f.as_str()),
                    rec.mismatches
                ],
            )?;
            if n == 1 {
                outbox::append(tx, &self.origin, &Change::Operation { id: o.id }, crate::model::now_ms())?;
            }
            Ok(n == 1)
        })
    }

    /// Take over an unfinished operation whose owner is gone, if it is still
    /// owned by `previous` (compare-and-set, so two processes never both adopt).
    pub fn adopt_operation(&self, id: i64, previous: Option<&str>, owner: &str, pid: i64, now: Millis) -> StoreResult<bool> {
        self.write(|tx| {
            let n = tx.execute(
                &format!("UPDATE operations SET owner = ?3, owner_pid = ?4, heartbeat_at = ?5 WHERE id = ?1 AND owner IS ?2 AND phase IN {ACTIVE}"),
                params![id, previous, owner, pid, now],
            )?;
            Ok(n == 1)
        })
    }

    /// Renew this process's lease on every operation it tracks: one row,
    /// however many operations.
    pub fn renew_lease(&self, owner: &str, pid: i64, now: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO leases (owner, pid, heartbeat_at) VALUES (?1, ?2, ?3) ON CONFLICT(owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                params![owner, pid, now],
            )?;
            Ok(())
        })
    }

    /// Forget leases of processes long gone that track nothing any more.
    pub fn prune_leases(&self, older_than: Millis) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                &format!(
                    "DELETE FROM leases WHERE heartbeat_at < ?1 AND owner NOT IN (SELECT owner FROM operations WHERE owner IS NOT NULL AND phase IN {ACTIVE})"
                ),
                [older_than],
            )?;
            Ok(())
        })
    }

    /// Ask for an unfinished operation to be cancelled (nothing more sent) or
    /// forced now. Whoever tracks it acts on it at its next look. Whether the
    /// operation was still unfinished.
    pub fn request_on_operation(&self, id: i64, request: OpRequest) -> StoreResult<bool> {
        let column = match request {
            OpRequest::Cancel => "cancel_requested",
            OpRequest::ForceNow => "force_requested",
        };
        self.write(|tx| {
            let asked = tx.execute(&format!("UPDATE operations SET {column} = 1 WHERE id = ?1 AND phase IN {ACTIVE}"), [id])? == 1;
            if asked {
                outbox::append(tx, &self.origin, &Change::Operation { id }, crate::model::now_ms())?;
            }
            Ok(asked)
        })
    }

    /// Unfinished operations of `owner` someone asked to cancel or force:
    /// `(id, cancel, force)`.
    pub fn requested_operations(&self, owner: &str) -> StoreResult<Vec<(i64, bool, bool)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, cancel_requested, force_requested FROM operations WHERE owner = ?1 AND phase IN {ACTIVE} AND (cancel_requested = 1 OR force_requested = 1)"
            ))?;
            let rows = stmt.query_map([owner], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

/// What a user can ask of an operation in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpRequest {
    Cancel,
    ForceNow,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OpKind, OpPhase};

    #[test]
    fn a_finished_operation_is_never_brought_back_by_a_late_writer() {
        let store = Store::in_memory().unwrap();
        store
            .write(|tx| {
                tx.execute_batch("INSERT INTO accounts (id, name, kind, config, created_at) VALUES (1, 'a', 'sim', '{}', 0); INSERT INTO vms (id, account_id, provider_id, name, state, raw_state, last_seen_at, last_state_change_at) VALUES (1, 1, 'p', 'vm', 'running', 'on', 0, 0);")?;
                Ok(())
            })
            .unwrap();
        let new = NewOperation {
            vm_id: 1,
            kind: OpKind::Stop,
            allow_force: false,
            graceful_timeout_ms: 1000,
            timeout_ms: 1000,
            previous_state: None,
            wait_for_tools: false,
            owner: "me".into(),
            owner_pid: 1,
            initiator: Default::default(),
            batch_id: None,
        };
        let rec = store.insert_operation(&new, 10).unwrap().unwrap();
        // Two trackers hold a copy; the first ends it.
        let (mut first, mut late) = (rec.clone(), rec);
        first.op.phase = OpPhase::Succeeded;
        assert!(store.save_operation(&first).unwrap());
        late.op.phase = OpPhase::Verifying;
        assert!(!store.save_operation(&late).unwrap(), "the late copy is refused");
        assert_eq!(store.operation(first.op.id).unwrap().unwrap().phase, OpPhase::Succeeded);
    }

    #[test]
    fn operations_in_flight_are_found_without_reading_the_accounts_vms() {
        let store = Store::in_memory().unwrap();
        for sql in [format!("{} AND +v.account_id = 1 ORDER BY o.id", select_active()), format!("{} ORDER BY o.id", select_active())] {
            let plan: Vec<String> = store
                .read(|c| {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let rows = stmt.query_map([], |r| r.get::<_, String>(3))?.collect::<Result<Vec<_>, _>>()?;
                    Ok(rows)
                })
                .unwrap();
            assert!(plan.iter().any(|p| p.contains("operations_one_in_flight")), "{plan:?}");
            assert!(!plan.iter().any(|p| p.contains("vms_state") || p == "SCAN v" || p == "SCAN o"), "{plan:?}");
        }
    }
}
