//! Which account kinds exist, and how an account becomes a provider.

use super::sim::{SimConfig, SimProvider};
use super::Provider;
use crate::error::CoreError;
use crate::model::Account;
use std::path::Path;
use std::sync::Arc;

/// Account kinds this build can talk to.
pub const KINDS: &[&str] = &["sim"];

pub fn check_kind(kind: &str) -> Result<(), CoreError> {
    if KINDS.contains(&kind) {
        Ok(())
    } else {
        Err(CoreError::UnknownKind { kind: kind.into(), known: KINDS.join(", ") })
    }
}

/// Where a demo account's simulated cloud keeps its state.
pub fn sim_world_path(data_dir: &Path, account_id: i64) -> std::path::PathBuf {
    data_dir.join("sim").join(format!("account-{account_id}.sqlite"))
}

pub fn sim_config(account: &Account) -> Result<SimConfig, CoreError> {
    serde_json::from_value(account.config.clone()).map_err(|e| CoreError::Invalid(format!("account '{}' has an unreadable demo-fleet config: {e}", account.name)))
}

/// Build the provider for an account, fetching its secret only now.
pub fn build(account: &Account, data_dir: &Path) -> Result<Arc<dyn Provider>, CoreError> {
    check_kind(&account.kind)?;
    if let Some(secret) = &account.secret {
        // The demo fleet needs no password, but an account that names a
        // secret source must be able to read it, like any other provider.
        secret.resolve()?;
    }
    match account.kind.as_str() {
        "sim" => {
            let cfg = sim_config(account)?;
            let p = SimProvider::open(&sim_world_path(data_dir, account.id), cfg).map_err(|e| CoreError::provider(&account.name, e))?;
            Ok(Arc::new(p))
        }
        other => Err(CoreError::UnknownKind { kind: other.into(), known: KINDS.join(", ") }),
    }
}
