//! The app's own preferences (what to be notified about, how operations are
//! asked for), kept in the shared settings table next to the engine's, so
//! they survive restarts.

use powerdeck_core::store::Store;
use serde::{Deserialize, Serialize};

const KEY: &str = "app.notifications";
const OPERATIONS_KEY: &str = "app.operations";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct NotifyPrefs {
    /// Operations that succeeded.
    pub operation_done: bool,
    /// Operations that failed or timed out.
    pub operation_failed: bool,
    /// VMs changed outside Powerdeck.
    pub drift: bool,
    /// A schedule's firing ended, was missed or failed.
    pub schedules: bool,
    /// An account broke (unreachable, credentials refused, certificate
    /// changed…) or recovered, told while the window is hidden.
    pub accounts: bool,
    /// A bulk action is told once, as a summary; with this, each VM that
    /// failed in it is told as well.
    pub each_failure: bool,
    /// Nothing that went well is told (operations, bulk actions, schedule
    /// batches and runbook runs that succeeded): only what needs a person.
    pub failures_only: bool,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        Self { operation_done: true, operation_failed: true, drift: true, schedules: true, accounts: true, each_failure: false, failures_only: false }
    }
}

/// How the window and the tray ask for operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct OperationPrefs {
    /// A start ends when the guest's tools report running, where the
    /// provider reports tools (vSphere), not merely when it powers on.
    pub start_waits_for_tools: bool,
}

fn load_key<T: Default + for<'de> Deserialize<'de>>(store: &Store, key: &str) -> T {
    store.setting(key).ok().flatten().and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default()
}

fn save_key<T: Serialize>(store: &Store, key: &str, value: &T) -> Result<(), String> {
    store.set_setting(key, &serde_json::to_string(value).expect("prefs serialize")).map_err(|e| e.to_string())
}

pub fn load(store: &Store) -> NotifyPrefs {
    load_key(store, KEY)
}

pub fn save(store: &Store, prefs: &NotifyPrefs) -> Result<(), String> {
    save_key(store, KEY, prefs)
}

pub fn load_operations(store: &Store) -> OperationPrefs {
    load_key(store, OPERATIONS_KEY)
}

pub fn save_operations(store: &Store, prefs: &OperationPrefs) -> Result<(), String> {
    save_key(store, OPERATIONS_KEY, prefs)
}
