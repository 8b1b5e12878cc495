//! What a failed sync must leave behind (README "When things go wrong"):
//! each VM as it was and, after a server error that outlasted the retries,
//! every VM flagged stale and the account's health "failing".

use powerdeck_core::model::{PowerState, Vm};
use powerdeck_core::Engine;

/// What a failed call must never change: each VM's id, name and state.
pub fn states(vms: Vec<Vm>) -> Vec<(String, String, PowerState, String)> {
    vms.into_iter().map(|v| (v.provider_id, v.name, v.state, v.raw_state)).collect()
}

/// After a lasting server error: every VM stale, as in an outage, and the
/// account's health says the provider is failing.
pub fn assert_stale_and_failing(engine: &Engine, account_id: i64, vms: &[Vm]) {
    assert!(vms.iter().all(|v| v.stale), "its VMs go stale, as in an outage");
    assert_eq!(engine.account_health(account_id).status, "failing");
}
