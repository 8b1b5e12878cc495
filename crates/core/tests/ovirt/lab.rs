//! The oVirt engine fake (`tests/fakes/ovirt`) and an engine with one
//! account on it, shared by the oVirt test files.

#![allow(dead_code)]

use powerdeck_core::model::{Account, OpKind, Operation, Vm};
use powerdeck_core::provider::ovirt::{OvirtConfig, OvirtProvider};
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, OpOptions, Workers};
use powerdeck_testkit::fake::Fake;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const USER: &str = "admin@internal";
/// The fake's default password: `+ @ & =` on purpose (form encoding).
pub const PASSWORD: &str = "s3cret+p@ss&=";
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The fake with `vms` VMs and 300 ms transitions (a stubborn guest holds
/// out for 1.2 s), plus `extra` options.
pub fn fake(vms: usize, extra: &[&str]) -> Fake {
    let n = vms.to_string();
    let mut args = vec!["--vms", n.as_str(), "--transition-ms", "300"];
    args.extend_from_slice(extra);
    Fake::start("ovirt", &args)
}

/// Settings for the fake, trusting its CA through the account's CA file.
pub fn config(fake: &Fake) -> OvirtConfig {
    OvirtConfig {
        endpoint: format!("{}/ovirt-engine/api", fake.url),
        username: USER.into(),
        ca_file: Some(fake.ca.as_ref().expect("the fake serves HTTPS").to_string_lossy().into_owned()),
        events_interval_s: 1,
        ..OvirtConfig::default()
    }
}

pub struct Lab {
    _dir: TempDir,
    pub engine: Arc<Engine>,
    pub account: Account,
    pub provider: Arc<OvirtProvider>,
}

impl Lab {
    pub fn new(fake: &Fake) -> Self {
        Self::with(config(fake), PASSWORD, powerdeck_testkit::fast::fast_engine_config())
    }

    pub fn with(cfg: OvirtConfig, password: &str, engine_cfg: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), engine_cfg).unwrap();
        // The row needs a secret source that resolves; the provider below
        // is built with the password in hand, as the registry builds it.
        let account = engine.add_account("olvm", "ovirt", serde_json::to_value(&cfg).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
        let provider = Arc::new(OvirtProvider::new(&cfg, Some(Secret::new(password)), engine.calls(account.id)).unwrap());
        engine.set_provider(account.id, provider.clone());
        Self { _dir: dir, engine, account, provider }
    }

    pub fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    /// The stored VM with this provider id.
    pub fn vm(&self, provider_id: &str) -> Vm {
        self.vms().into_iter().find(|v| v.provider_id == provider_id).unwrap_or_else(|| panic!("no VM {provider_id}"))
    }

    pub fn vm_named(&self, name: &str) -> Vm {
        self.vms().into_iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no VM named {name}"))
    }

    /// Run one operation to its end with the driver.
    pub async fn run(&self, vm_id: i64, kind: OpKind, opts: OpOptions) -> Operation {
        self.engine.start(Workers::DRIVER, Some(&[self.account.id])).unwrap();
        let op = self.engine.request(vm_id, kind, opts).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        tokio::time::timeout(PATIENCE, self.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap()
    }

    /// Wait until the stored VM satisfies `done`.
    pub async fn until(&self, what: &str, vm_id: i64, done: impl Fn(&Vm) -> bool) -> Vm {
        let started = Instant::now();
        loop {
            let vm = self.engine.store().vm(vm_id).unwrap().unwrap();
            if done(&vm) {
                return vm;
            }
            assert!(started.elapsed() < PATIENCE, "{what}: still {vm:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The fake's truth for one VM (by id or name).
pub async fn truth(fake: &Fake, key: &str) -> serde_json::Value {
    fake.vms().await.into_iter().find(|v| v["id"] == key || v["name"] == key).unwrap_or_else(|| panic!("the fake has no VM {key}"))
}

/// A VM of the fake in `state` that no test has used, by name.
pub async fn fake_vm_in(fake: &Fake, state: &str, not: &[&str]) -> serde_json::Value {
    fake.vms()
        .await
        .into_iter()
        .find(|v| v["state"] == state && !not.contains(&v["name"].as_str().unwrap_or_default()))
        .unwrap_or_else(|| panic!("no VM in {state}"))
}

/// Change a VM out of band (as someone in the Administration Portal would).
pub async fn set_state(fake: &Fake, key: &str, state: &str) {
    fake.control(&format!("vms/{key}/state"), Some(serde_json::json!({ "state": state }))).await;
}

/// How many requests of this operation the fake received.
pub async fn calls(fake: &Fake, op: &str) -> u64 {
    fake.calls().await[op].as_u64().unwrap_or(0)
}
