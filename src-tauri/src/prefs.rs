//! The app's own preferences (what to be notified about), kept in the shared
//! settings table next to the engine's, so they survive restarts.

use powerdeck_core::store::Store;
use serde::{Deserialize, Serialize};

const KEY: &str = "app.notifications";

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPrefs {
    /// Operations that succeeded.
    pub operation_done: bool,
    /// Operations that failed or timed out.
    pub operation_failed: bool,
    /// VMs changed outside Powerdeck.
    pub drift: bool,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        Self { operation_done: true, operation_failed: true, drift: true }
    }
}

pub fn load(store: &Store) -> NotifyPrefs {
    store.setting(KEY).ok().flatten().and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default()
}

pub fn save(store: &Store, prefs: &NotifyPrefs) -> Result<(), String> {
    store.set_setting(KEY, &serde_json::to_string(prefs).expect("prefs serialize")).map_err(|e| e.to_string())
}
