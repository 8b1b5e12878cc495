//! The typed event bus. Every front end (CLI `watch`, the desktop bridge,
//! notifications, tray) learns about changes here, never by polling the store.

use crate::model::{Millis, Operation, PowerState, Source, Vm};
use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct VmChange {
    pub vm: Vm,
    /// `None` for a VM seen for the first time.
    pub from: Option<PowerState>,
    /// Someone outside Powerdeck changed the power state.
    pub drift: bool,
    pub operation_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export, rename = "EngineEvent"))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// One reconcile's worth of changes (a burst is one event, not hundreds).
    VmsChanged { source: Source, changes: Vec<VmChange> },
    /// The provider could not be reached; these VMs now show their last-seen time.
    VmsStale { account_id: i64, account: String, count: usize, last_seen_at: Option<Millis>, reason: String },
    /// An operation was created or moved to another phase.
    Operation { op: Operation },
    /// A full inventory pass finished.
    SyncFinished { account_id: i64, account: String, vms: usize, changed: usize, calls: u64, duration_ms: u64 },
    /// Something went wrong with an account that an admin should see.
    AccountError { account_id: i64, account: String, message: String },
    /// An account's health changed status (broke, recovered, or another
    /// problem took over): see `engine/health.rs`.
    AccountHealth { account_id: i64, account: String, health: crate::engine::health::Health },
    /// Every operation of a batch (a bulk action, a runbook step) ended:
    /// one summary for all of them.
    BatchFinished { outcome: crate::model::BatchOutcome },
    /// A runbook run moved (a step began or ended, it finished).
    RunChanged { run: crate::runbook::Run },
    /// Schedules were added, edited, removed, paused or resumed.
    SchedulesChanged,
    /// A schedule fired, or a firing moved; `note` (when set) is what a
    /// person should be told: a missed run, a target gone, a drift corrected.
    Fired { firing: crate::schedule::Firing },
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self { tx: broadcast::channel(capacity).0 }
    }

    pub fn publish(&self, event: Event) {
        // No subscriber is fine: the store already holds the truth.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
