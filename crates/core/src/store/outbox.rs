//! The exact change log between processes. Every reconcile that changed
//! something and every operation that moved appends one row, in the same
//! transaction as the change, naming the process (store) that wrote it.
//! Each process reads the log by cursor and publishes what others wrote:
//! nothing lost however slow the reader, nothing repeated. Old rows are
//! pruned after a while (a reader that far behind resyncs from the store).

use super::{Store, StoreResult};
use crate::model::{Millis, PowerState, Source};
use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};

/// What one outbox row says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// A reconcile changed these VMs.
    Vms { source: Source, vms: Vec<VmMoved> },
    /// An operation was created, moved or was asked to cancel or force.
    Operation { id: i64 },
    /// An account's VMs turned stale.
    Stale { account_id: i64, count: usize, last_seen_at: Option<Millis>, reason: String },
    /// A batch of operations ended (its summary is due).
    Batch { id: i64 },
    /// A runbook run moved.
    Run { id: i64 },
    /// Schedules were added, edited, removed, paused or resumed.
    Schedules,
    /// A schedule fired (or a firing moved).
    Firing { id: i64 },
}

/// One VM of a [`Change::Vms`]: enough to tell drift and history apart; the
/// reader takes the VM itself from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmMoved {
    pub id: i64,
    pub from: Option<PowerState>,
    pub drift: bool,
    pub op: Option<i64>,
}

/// A row of the outbox, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub origin: String,
    pub change: Change,
}

/// Append to the outbox inside the writer's transaction.
pub(crate) fn append(tx: &Transaction, origin: &str, change: &Change, now: Millis) -> rusqlite::Result<()> {
    let payload = serde_json::to_string(change).expect("outbox rows serialize");
    tx.prepare_cached("INSERT INTO outbox (at, origin, payload) VALUES (?1, ?2, ?3)")?.execute(params![now, origin, payload])?;
    Ok(())
}

impl Store {
    /// Rows after `after`, oldest first. A row this build cannot read is skipped.
    pub fn outbox_since(&self, after: i64, limit: u32) -> StoreResult<Vec<Entry>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, origin, payload FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            let rows = stmt.query_map(params![after, limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, origin, payload) = row?;
                match serde_json::from_str(&payload) {
                    Ok(change) => out.push(Entry { id, origin, change }),
                    Err(e) => tracing::warn!(id, error = %e, "skipped an unreadable outbox row"),
                }
            }
            Ok(out)
        })
    }

    /// The newest row's id (0 when empty): where a new reader starts.
    pub fn last_outbox_id(&self) -> StoreResult<i64> {
        self.read(|c| Ok(c.query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0))?))
    }

    /// Forget rows written before `before`.
    pub fn prune_outbox(&self, before: Millis) -> StoreResult<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM outbox WHERE at < ?1", [before])?))
    }
}
