//! Following changes another process made to the same data directory.
//!
//! The desktop app and `pdk` share one SQLite file. When `pdk vm stop` runs
//! in a terminal, its reconcile publishes on *its* bus; the app learns of it
//! here, from the outbox: every change is logged in the transaction that
//! made it, with the process that made it, and read here by cursor. What
//! this process wrote itself is already on its bus and is skipped. Nothing
//! is lost however slow this reader is, and nothing is published twice.

use super::Engine;
use crate::error::CoreError;
use crate::events::{Event, VmChange};
use crate::model::now_ms;
use crate::store::outbox::Change;
use std::sync::Arc;
use std::time::Duration;

const BATCH: u32 = 2_000;
/// Outbox rows older than this are pruned (a reader that far behind has
/// long since resynced from the store).
const KEEP_MS: i64 = 10 * 60_000;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub(super) async fn follow_loop(engine: Arc<Engine>, every: Duration) {
    let mut after = engine.store.last_outbox_id().unwrap_or(0);
    let mut last_prune = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        match follow_once(&engine, after) {
            Ok(cursor) => after = cursor,
            Err(e) => tracing::warn!(error = %e, "could not read changes made by other processes"),
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            if let Err(e) = engine.store.prune_outbox(now_ms() - KEEP_MS) {
                tracing::debug!(error = %e, "could not prune the outbox");
            }
        }
    }
}

/// Publish what other processes changed after `after`; the new cursor.
fn follow_once(engine: &Engine, mut after: i64) -> Result<i64, CoreError> {
    loop {
        let entries = engine.store.outbox_since(after, BATCH)?;
        let Some(last) = entries.last() else { return Ok(after) };
        after = last.id;
        let full = entries.len() as u32 == BATCH;
        // An operation read from the store is as it is now: publish it once
        // per batch however often it moved within it.
        // So is a run.
        let last_of = |c: &Change| entries.iter().rposition(|e| &e.change == c);
        let entries: Vec<_> = entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                e.origin != engine.store.origin() && (!matches!(e.change, Change::Operation { .. } | Change::Run { .. }) || last_of(&e.change) == Some(*i))
            })
            .map(|(_, e)| e.clone())
            .collect();
        for entry in entries {
            if let Some(event) = to_event(engine, entry.change)? {
                engine.bus.publish(event);
            }
        }
        if !full {
            return Ok(after);
        }
    }
}

/// The event another process published for this change, rebuilt from the store.
fn to_event(engine: &Engine, change: Change) -> Result<Option<Event>, CoreError> {
    Ok(match change {
        Change::Vms { source, vms } => {
            let ids: Vec<i64> = vms.iter().map(|m| m.id).collect();
            let found = engine.store.vms_by_ids(&ids)?;
            let changes: Vec<VmChange> = vms
                .into_iter()
                .filter_map(|m| found.iter().find(|v| v.id == m.id).map(|vm| VmChange { vm: vm.clone(), from: m.from, drift: m.drift, operation_id: m.op }))
                .collect();
            (!changes.is_empty()).then_some(Event::VmsChanged { source, changes })
        }
        Change::Operation { id } => engine.store.operation(id)?.map(|op| Event::Operation { op }),
        Change::Stale { account_id, count, last_seen_at, reason } => {
            let account = engine.store.account(account_id)?.map(|a| a.name).unwrap_or_default();
            Some(Event::VmsStale { account_id, account, count, last_seen_at, reason })
        }
        Change::Batch { id } => engine.store.batch_outcome(id)?.map(|outcome| Event::BatchFinished { outcome }),
        Change::Run { id } => engine.store.run(id)?.map(|r| Event::RunChanged { run: r.run }),
        Change::Schedules => Some(Event::SchedulesChanged),
        Change::Firing { id } => engine.store.firing(id)?.map(|f| Event::Fired { firing: f.firing }),
    })
}
