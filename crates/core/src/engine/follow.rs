//! Following changes another process made to the same data directory.
//!
//! The desktop app and `pdk` share one SQLite file. When `pdk vm stop` runs
//! in a terminal, its reconcile publishes on *its* bus; the app learns of it
//! here. The history table is append-only, so its ids are a cursor. The
//! operation journal is read for anything that moved recently. Changes this
//! process published itself are recognised and not repeated.

use super::Engine;
use crate::events::{Event, VmChange};
use crate::model::{now_ms, Millis, OpPhase, Source};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::TryRecvError;

/// How far back an operation's last move is looked for on each pass.
const OPS_LOOKBACK_MS: Millis = 10_000;
const HISTORY_BATCH: u32 = 2_000;

pub(super) async fn follow_loop(engine: Arc<Engine>, every: Duration) {
    let mut local = engine.bus.subscribe();
    let mut after = engine.store.last_history_id().unwrap_or(0);
    // (vm id, time of change) of state changes this process published.
    let mut ours: HashSet<(i64, Millis)> = HashSet::new();
    // Operation id → (last phase published here, when).
    let mut phases: HashMap<i64, (OpPhase, Millis)> = HashMap::new();
    if let Ok(ops) = engine.store.operations_touched_since(now_ms() - OPS_LOOKBACK_MS) {
        phases.extend(ops.into_iter().map(|o| (o.id, (o.phase, now_ms()))));
    }
    loop {
        tokio::time::sleep(every).await;
        loop {
            match local.try_recv() {
                Ok(Event::VmsChanged { changes, .. }) => {
                    ours.extend(changes.iter().filter(|c| c.from != Some(c.vm.state)).map(|c| (c.vm.id, c.vm.last_state_change_at)))
                }
                Ok(Event::Operation { op }) => {
                    phases.insert(op.id, (op.phase, now_ms()));
                }
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if let Err(e) = follow_once(&engine, &mut after, &mut ours, &mut phases) {
            tracing::warn!(error = %e, "could not read changes made by other processes");
        }
    }
}

fn follow_once(
    engine: &Engine,
    after: &mut i64,
    ours: &mut HashSet<(i64, Millis)>,
    phases: &mut HashMap<i64, (OpPhase, Millis)>,
) -> Result<(), crate::CoreError> {
    // Operations first, so a finished operation arrives before the state it explains.
    let now = now_ms();
    for op in engine.store.operations_touched_since(now - OPS_LOOKBACK_MS)? {
        if phases.get(&op.id).map(|p| p.0) != Some(op.phase) {
            phases.insert(op.id, (op.phase, now));
            engine.bus.publish(Event::Operation { op });
        }
    }
    // A finished operation stays in the look-back window for a while: keep
    // remembering it until it has left, or it would be published again.
    phases.retain(|_, (phase, seen)| !phase.is_terminal() || *seen > now - 2 * OPS_LOOKBACK_MS);

    let entries = engine.store.history_since(*after, HISTORY_BATCH)?;
    let Some(last) = entries.last() else { return Ok(()) };
    *after = last.id;
    // Per VM, the first entry's "from" and the last entry's source.
    let mut per_vm: HashMap<i64, (Option<crate::model::PowerState>, Source, Option<i64>)> = HashMap::new();
    for h in entries.iter().filter(|h| !ours.remove(&(h.vm_id, h.at))) {
        per_vm.entry(h.vm_id).and_modify(|e| (e.1, e.2) = (h.source, h.operation_id)).or_insert((h.from_state, h.source, h.operation_id));
    }
    let mut by_source: HashMap<Source, Vec<VmChange>> = HashMap::new();
    for (vm_id, (from, source, operation_id)) in per_vm {
        let Some(vm) = engine.store.vm(vm_id)? else { continue };
        let drift = from.is_some() && matches!(source, Source::Sync | Source::Feed);
        by_source.entry(source).or_default().push(VmChange { vm, from, drift, operation_id });
    }
    for (source, changes) in by_source {
        engine.bus.publish(Event::VmsChanged { source, changes });
    }
    // Keys of our own changes that never showed up are old news.
    let horizon = now_ms() - 60_000;
    ours.retain(|(_, at)| *at > horizon);
    Ok(())
}
