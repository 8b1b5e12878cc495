//! The Azure Resource Manager fake (`tests/fakes/azure`), with the service
//! principal it accepts, and an account's settings pointing at it: the fake
//! serves both sign-in and ARM over HTTPS, trusted through its test CA.

use crate::fake::Fake;
use powerdeck_core::provider::azure::AzureConfig;
use serde_json::Value;

/// The fake's defaults (tests/fakes/azure/auth.py).
pub const TENANT: &str = "c0ffee00-0000-4000-8000-00000000a2e1";
pub const CLIENT_ID: &str = "c11e4700-0000-4000-8000-00000000a2e1";
pub const SECRET: &str = "fake-azure-client-secret";

pub struct AzureFake {
    pub fake: Fake,
}

impl AzureFake {
    /// `server.py` with these options (`--vms`, `--page-size`, `--transition-ms`…).
    pub fn start(args: &[&str]) -> Self {
        Self { fake: Fake::start("azure", args) }
    }

    /// A service principal's settings on this fake, trusting its CA.
    pub fn config(&self) -> AzureConfig {
        AzureConfig {
            tenant_id: Some(TENANT.into()),
            client_id: Some(CLIENT_ID.into()),
            authority_host: Some(self.fake.url.clone()),
            arm_endpoint: Some(self.fake.url.clone()),
            ca_file: self.fake.ca.as_ref().map(|p| p.display().to_string()),
            ..AzureConfig::default()
        }
    }

    /// The subscription ids, as the fake holds them.
    pub async fn subscriptions(&self) -> Vec<String> {
        let subs = self.fake.control("subscriptions", None).await;
        subs.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    }

    /// The VMs as azure-mgmt-compute lists them (`witness.py list`), ids
    /// lower-cased as Powerdeck keeps them: `(id, name, PowerState/…)`.
    pub fn witness_list(&self) -> Vec<(String, String, String)> {
        let listed = self.fake.witness("azure", &["list"]);
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|v: &Value| {
                (v["id"].as_str().unwrap().to_lowercase(), v["name"].as_str().unwrap().to_string(), v["state"].as_str().unwrap_or_default().to_string())
            })
            .collect()
    }

    /// Change a VM at the "portal": its power state (`running`, `stopped`, `deallocated`…).
    pub async fn set_state(&self, id: &str, state: &str) {
        self.fake.control(&format!("vms/{id}/state"), Some(serde_json::json!({ "state": state }))).await;
    }

    /// The fake's call counters, by name (0 when it never counted one).
    pub async fn count(&self, name: &str) -> u64 {
        self.fake.calls().await[name].as_u64().unwrap_or(0)
    }
}
