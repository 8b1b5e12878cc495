//! The reads behind the hours report and the audit trail: one pass over
//! the history in a time range, and each VM's last change before it.

use super::{Store, StoreResult};
use crate::hours::Change;
use crate::model::{Millis, PowerState};
use rusqlite::{params, Connection};
use std::collections::HashMap;

/// How much of the database a long scan may map (SQLite caps it at its
/// compile-time maximum).
const MMAP_FOR_SCANS: i64 = 256 * 1024 * 1024;

/// One row of the audit trail: a state change with who caused it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    pub at: Millis,
    pub vm: String,
    pub account: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub raw_state: String,
    pub source: String,
    pub operation_id: Option<i64>,
    /// Who asked for the operation: user, tray, schedule, runbook (none for drift).
    pub initiator: Option<String>,
    /// The batch it belonged to: "Schedule 'nightly-stop'", a runbook step, a bulk action.
    pub batch: Option<String>,
}

impl Store {
    /// Each VM's last change before `t`.
    pub fn changes_before(&self, t: Millis) -> StoreResult<HashMap<i64, Change>> {
        self.read(|c| changes_before(c, t))
    }

    /// A connection of its own for a long read (a report's scan), so the
    /// engine's writes do not wait for it and several scans can run at once;
    /// an in-memory store (tests) lends its one connection instead.
    pub fn with_scan_connection<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        if self.path().as_os_str() == ":memory:" {
            return self.read(f);
        }
        let conn = super::reader(self.path(), self.is_immutable())?;
        // A fresh connection has an empty page cache: its seeks (each VM's
        // state before a part) read through the OS page cache instead. The
        // mapping goes with the connection.
        conn.pragma_update(None, "mmap_size", MMAP_FOR_SCANS)?;
        f(&conn)
    }

    /// One VM's changes, oldest first (its timeline reads them all: a
    /// VM changes at most a few dozen times a day).
    pub fn vm_changes(&self, vm_id: i64) -> StoreResult<Vec<Change>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT at, to_state, operation_id IS NOT NULL FROM history WHERE vm_id = ?1 ORDER BY at, id")?;
            let mut out = Vec::new();
            for row in stmt.query_map([vm_id], |r| Ok((r.get::<_, Millis>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?)))? {
                let (at, state, ours) = row?;
                if let Some(state) = PowerState::from_stored(&state).or_else(|| state.parse().ok()) {
                    out.push(Change { at, state, ours });
                }
            }
            Ok(out)
        })
    }

    /// When each VM's first change at or after `t` was recorded.
    pub fn first_changes_from(&self, t: Millis) -> StoreResult<HashMap<i64, Millis>> {
        self.read(|c| first_changes_from(c, t))
    }

    /// Every change in `[from, to)`, in time order (see [`scan_changes`]).
    pub fn scan_changes(&self, from: Millis, to: Millis, each: impl FnMut(i64, Change)) -> StoreResult<u64> {
        self.read(|c| {
            // A month of history goes through the OS page cache without a
            // copy per page; only for this scan, so the pages it maps do not
            // stay counted in the app's memory afterwards.
            c.pragma_update(None, "mmap_size", MMAP_FOR_SCANS)?;
            let scanned = scan_changes(c, from, to, each);
            c.pragma_update(None, "mmap_size", 0)?;
            scanned
        })
    }

    /// The audit trail in `[from, to)`, oldest first.
    pub fn audit_trail(&self, from: Millis, to: Millis) -> StoreResult<Vec<AuditRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT h.at, v.name, a.name, h.from_state, h.to_state, h.raw_state, h.source, h.operation_id, o.initiator, b.label
                 FROM history h JOIN vms v ON v.id = h.vm_id JOIN accounts a ON a.id = v.account_id
                 LEFT JOIN operations o ON o.id = h.operation_id LEFT JOIN batches b ON b.id = o.batch_id
                 WHERE h.at >= ?1 AND h.at < ?2 ORDER BY h.id",
            )?;
            let rows = stmt.query_map(params![from, to], |r| {
                Ok(AuditRow {
                    at: r.get(0)?,
                    vm: r.get(1)?,
                    account: r.get(2)?,
                    from_state: r.get(3)?,
                    to_state: r.get(4)?,
                    raw_state: r.get(5)?,
                    source: r.get(6)?,
                    operation_id: r.get(7)?,
                    initiator: r.get(8)?,
                    batch: r.get(9)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

/// Each VM's last change before `t`.
pub fn changes_before(c: &Connection, t: Millis) -> StoreResult<HashMap<i64, Change>> {
    let mut stmt = c.prepare_cached(
        "SELECT v.id, h.at, h.to_state, h.operation_id IS NOT NULL FROM vms v
         JOIN history h ON h.id = (SELECT id FROM history WHERE vm_id = v.id AND at < ?1 ORDER BY at DESC, id DESC LIMIT 1)",
    )?;
    let mut out = HashMap::new();
    for row in stmt.query_map([t], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Millis>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?)))? {
        let (vm, at, state, ours) = row?;
        if let Ok(state) = state.parse::<PowerState>() {
            out.insert(vm, Change { at, state, ours });
        }
    }
    Ok(out)
}

/// When each VM's first change at or after `t` was recorded.
pub fn first_changes_from(c: &Connection, t: Millis) -> StoreResult<HashMap<i64, Millis>> {
    let mut stmt = c.prepare_cached(
        "SELECT v.id, (SELECT at FROM history WHERE vm_id = v.id AND at >= ?1 ORDER BY at LIMIT 1) AS first FROM vms v WHERE first IS NOT NULL",
    )?;
    let rows = stmt.query_map([t], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Millis>(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every change in `[from, to)`, in time order, handed to `each`
/// without collecting them: a month of a large fleet is millions of
/// rows, read from the `history_at` index alone. (Two changes of one VM
/// in the same millisecond would come in state-name order; a reconcile
/// writes a VM once, and two reconciles of one VM do not land within a
/// millisecond of each other.) Returns
/// how many rows could not be read (an unknown state name) and were left out.
pub fn scan_changes(c: &Connection, from: Millis, to: Millis, mut each: impl FnMut(i64, Change)) -> StoreResult<u64> {
    let mut stmt =
        c.prepare_cached("SELECT vm_id, at, to_state, operation_id IS NOT NULL FROM history INDEXED BY history_at WHERE at >= ?1 AND at < ?2 ORDER BY at")?;
    let mut rows = stmt.query(params![from, to])?;
    let mut unreadable = 0;
    while let Some(r) = rows.next()? {
        let state = r.get_ref(2)?.as_str().ok().and_then(|s| PowerState::from_stored(s).or_else(|| s.parse().ok()));
        match state {
            Some(state) => each(r.get(0)?, Change { at: r.get(1)?, state, ours: r.get(3)? }),
            None => unreadable += 1,
        }
    }
    Ok(unreadable)
}
