//! Which account kinds exist, and how an account becomes a provider.

use super::ec2::{Ec2Config, Ec2Provider};
use super::sim::{SimConfig, SimProvider};
use super::vsphere::{VsphereConfig, VsphereProvider};
use super::Provider;
use crate::error::CoreError;
use crate::model::Account;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;

/// Account kinds this build can talk to.
pub const KINDS: &[&str] = &["sim", "ec2", "vsphere"];

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
    stored_settings(account, "demo-fleet")
}

/// Settings offered for a new account, as the kind's config type.
fn new_settings<T: DeserializeOwned>(config: &serde_json::Value, label: &str) -> Result<T, CoreError> {
    serde_json::from_value(config.clone()).map_err(|e| CoreError::Invalid(format!("invalid {label} settings: {e}")))
}

/// A stored account's settings (unreadable only if the database was edited by hand).
fn stored_settings<T: DeserializeOwned>(account: &Account, label: &str) -> Result<T, CoreError> {
    serde_json::from_value(account.config.clone()).map_err(|e| CoreError::Invalid(format!("account '{}' has unreadable {label} settings: {e}", account.name)))
}

/// Check an account's settings before it is stored.
pub fn validate_config(kind: &str, config: &serde_json::Value, has_secret: bool) -> Result<(), CoreError> {
    check_kind(kind)?;
    let checked = match kind {
        "sim" => new_settings::<SimConfig>(config, "demo-fleet")?.validate(),
        "ec2" => new_settings::<Ec2Config>(config, "EC2")?.validate(has_secret),
        "vsphere" => new_settings::<VsphereConfig>(config, "vSphere")?.validate(has_secret),
        _ => Ok(()),
    };
    checked.map_err(CoreError::Invalid)
}

/// Build the provider for an account, fetching its secret only now.
pub fn build(account: &Account, data_dir: &Path) -> Result<Arc<dyn Provider>, CoreError> {
    check_kind(&account.kind)?;
    // The demo fleet needs no password, but an account that names a secret
    // source must be able to read it, like any other provider.
    let secret = account.secret.as_ref().map(|s| s.resolve()).transpose()?;
    match account.kind.as_str() {
        "sim" => {
            let cfg = sim_config(account)?;
            let p = SimProvider::open(&sim_world_path(data_dir, account.id), cfg).map_err(|e| CoreError::provider(&account.name, e))?;
            Ok(Arc::new(p))
        }
        "ec2" => {
            let p = Ec2Provider::new(&stored_settings(account, "EC2")?, secret).map_err(|e| CoreError::provider(&account.name, e))?;
            Ok(Arc::new(p))
        }
        "vsphere" => {
            let p = VsphereProvider::new(&stored_settings(account, "vSphere")?, secret).map_err(|e| CoreError::provider(&account.name, e))?;
            Ok(Arc::new(p))
        }
        other => Err(CoreError::UnknownKind { kind: other.into(), known: KINDS.join(", ") }),
    }
}
