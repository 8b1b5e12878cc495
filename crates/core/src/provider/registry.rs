//! Which account kinds exist, and how an account becomes a provider.

use super::ec2::{Ec2Config, Ec2Provider};
use super::sim::{SimConfig, SimProvider};
use super::vsphere::{VsphereConfig, VsphereProvider};
use super::Provider;
use crate::error::CoreError;
use crate::model::Account;
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
    serde_json::from_value(account.config.clone()).map_err(|e| CoreError::Invalid(format!("account '{}' has an unreadable demo-fleet config: {e}", account.name)))
}

/// Check an account's settings before it is stored.
pub fn validate_config(kind: &str, config: &serde_json::Value, has_secret: bool) -> Result<(), CoreError> {
    check_kind(kind)?;
    match kind {
        "sim" => {
            let cfg: SimConfig = serde_json::from_value(config.clone()).map_err(|e| CoreError::Invalid(format!("invalid demo-fleet settings: {e}")))?;
            cfg.validate().map_err(CoreError::Invalid)
        }
        "ec2" => {
            let cfg: Ec2Config = serde_json::from_value(config.clone()).map_err(|e| CoreError::Invalid(format!("invalid EC2 settings: {e}")))?;
            cfg.validate(has_secret).map_err(CoreError::Invalid)
        }
        "vsphere" => {
            let cfg: VsphereConfig = serde_json::from_value(config.clone()).map_err(|e| CoreError::Invalid(format!("invalid vSphere settings: {e}")))?;
            cfg.validate(has_secret).map_err(CoreError::Invalid)
        }
        _ => Ok(()),
    }
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
            let cfg: Ec2Config = serde_json::from_value(account.config.clone()).map_err(|e| CoreError::Invalid(format!("account '{}' has unreadable EC2 settings: {e}", account.name)))?;
            let p = Ec2Provider::new(&cfg, secret).map_err(|e| CoreError::provider(&account.name, e))?;
            Ok(Arc::new(p))
        }
        "vsphere" => {
            let cfg: VsphereConfig = serde_json::from_value(account.config.clone()).map_err(|e| CoreError::Invalid(format!("account '{}' has unreadable vSphere settings: {e}", account.name)))?;
            let p = VsphereProvider::new(&cfg, secret).map_err(|e| CoreError::provider(&account.name, e))?;
            Ok(Arc::new(p))
        }
        other => Err(CoreError::UnknownKind { kind: other.into(), known: KINDS.join(", ") }),
    }
}
