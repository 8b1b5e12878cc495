//! The CloudStack fake (`tests/fakes/cloudstack/`) over HTTPS with its own
//! test CA, a provider pinned to its certificate, and the `cs` witness.
//! Shared by the CloudStack tests (`#[path]`-included, one copy each).

#![allow(dead_code)]

use powerdeck_core::model::{Account, Vm};
use powerdeck_core::provider::calls::Calls;
use powerdeck_core::provider::cloudstack::{CloudStackConfig, CloudStackProvider};
use powerdeck_core::provider::http::HttpOptions;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig};
use powerdeck_testkit::fake::Fake;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub struct CsFake {
    pub fake: Fake,
    pub key: String,
    pub secret: String,
    /// SHA-256 of the fake's server certificate: what an admin pins.
    pub thumbprint: String,
}

impl CsFake {
    /// The fake with `args` (plus `--tls`), seeded with `--seed 3` unless given.
    pub async fn start(args: &[&str]) -> Self {
        let mut all = vec!["--tls"];
        if !args.contains(&"--seed") {
            all.extend(["--seed", "3"]);
        }
        all.extend(args);
        let fake = Fake::start("cloudstack", &all);
        let info = fake.control("info", None).await;
        let thumbprint = powerdeck_core::provider::http::probe_thumbprint(&fake.url).await.expect("the fake presents a certificate");
        Self { key: info["api_key"].as_str().unwrap().into(), secret: info["secret_key"].as_str().unwrap().into(), thumbprint, fake }
    }

    pub fn endpoint(&self) -> String {
        format!("{}/client/api", self.fake.url)
    }

    pub fn config(&self) -> CloudStackConfig {
        CloudStackConfig {
            endpoint: self.endpoint(),
            api_key: self.key.clone(),
            thumbprint: Some(self.thumbprint.clone()),
            events_poll_s: Some(1),
            ..Default::default()
        }
    }

    pub fn provider(&self, calls: Arc<Calls>) -> CloudStackProvider {
        self.provider_with(&self.config(), &self.secret, calls)
    }

    pub fn provider_with(&self, cfg: &CloudStackConfig, secret: &str, calls: Arc<Calls>) -> CloudStackProvider {
        // Short HTTP timeouts: a hostile slow answer must not hold a test for 30 s.
        let opts = HttpOptions { timeout: Duration::from_secs(5), connect_timeout: Duration::from_secs(2), ..HttpOptions::default() };
        CloudStackProvider::with_http(cfg, Some(Secret::new(secret)), calls, opts).unwrap()
    }

    /// The fake's truth (`/_fake/vms`).
    pub async fn truth(&self) -> Vec<Value> {
        self.fake.vms().await
    }

    pub async fn set_state(&self, id: &str, state: &str) {
        self.fake.control(&format!("vms/{id}/state"), Some(json!({ "state": state }))).await;
    }

    pub async fn calls(&self) -> Value {
        self.fake.calls().await
    }

    pub async fn reset_calls(&self) {
        self.fake.control("calls/reset", Some(json!({}))).await;
    }

    /// `cs` listing every VM (`listall=true&projectid=-1`, its own paging).
    pub fn witness_list(&self) -> Vec<Value> {
        self.fake.witness("cloudstack", &["list"]).as_array().cloned().unwrap_or_default()
    }
}

/// An engine with one CloudStack account whose provider is `provider`.
pub struct Lab {
    _dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
    pub account: Account,
}

impl Lab {
    pub fn new(cs: &CsFake, cfg: EngineConfig) -> Self {
        Self::with(cs, cfg, |cs, calls| cs.provider(calls))
    }

    pub fn with(cs: &CsFake, cfg: EngineConfig, provider: impl FnOnce(&CsFake, Arc<Calls>) -> CloudStackProvider) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), cfg).unwrap();
        // The provider below holds the secret; the row only needs a source that resolves.
        let account =
            engine.add_account("cloud", "cloudstack", serde_json::to_value(cs.config()).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
        engine.set_provider(account.id, Arc::new(provider(cs, engine.calls(account.id))));
        Self { _dir: dir, engine, account }
    }

    pub fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    pub fn vm(&self, provider_id: &str) -> Vm {
        self.vms().into_iter().find(|v| v.provider_id == provider_id).unwrap_or_else(|| panic!("{provider_id} is not stored"))
    }
}
