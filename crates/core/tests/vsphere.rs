//! The vSphere provider against VMware's own simulator (vcsim).

#[path = "support/fast.rs"]
mod fast;
#[path = "support/vcsim.rs"]
mod vcsim;
#[path = "support/moto.rs"]
mod venv;

use powerdeck_core::model::{Account, OpKind, OpPhase, PowerState, ShutdownMethod, ToolsStatus};
use powerdeck_core::provider::vsphere::{VsphereConfig, VsphereProvider};
use powerdeck_core::secrets::Secret;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, OpOptions, Workers};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use vcsim::Vcsim;

const PATIENCE: Duration = Duration::from_secs(30);

struct Lab {
    _dir: TempDir,
    engine: Arc<Engine>,
    account: Account,
}

impl Lab {
    fn new(endpoint: &str) -> Self {
        Self::with(VsphereConfig { endpoint: endpoint.into(), username: "admin".into(), ..Default::default() })
    }

    fn with(config: VsphereConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
        // The account row needs a secret source to be valid; any set variable
        // will do because the provider below is built with the password in
        // hand, as the registry builds it after reading the keychain.
        let account = engine.add_account("vc", "vsphere", serde_json::to_value(&config).unwrap(), Some((powerdeck_core::secrets::SecretRef::env("PATH").unwrap(), None))).unwrap();
        engine.set_provider(account.id, Arc::new(VsphereProvider::new(&config, Some(Secret::new("pass"))).unwrap()));
        Self { _dir: dir, engine, account }
    }

    fn vms(&self) -> Vec<powerdeck_core::model::Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    async fn run(&self, vm_id: i64, kind: OpKind, opts: OpOptions) -> powerdeck_core::model::Operation {
        self.engine.start(Workers::DRIVER, Some(&[self.account.id])).unwrap();
        let op = self.engine.request(vm_id, kind, opts).await.unwrap();
        tokio::time::timeout(PATIENCE, self.engine.wait(op.id, |_| {})).await.expect("operation never ended").unwrap()
    }
}

/// What pyvmomi (VMware's own Python SDK) sees: id → (name, power state).
fn witness(endpoint: &str) -> std::collections::HashMap<String, (String, String)> {
    let out = std::process::Command::new(venv::venv().join("bin/python"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vsphere/witness.py"))
        .arg(endpoint)
        .output()
        .expect("pyvmomi witness runs");
    assert!(out.status.success(), "witness failed: {}", String::from_utf8_lossy(&out.stderr));
    let vms: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    vms.into_iter().map(|v| (v["id"].as_str().unwrap().to_string(), (v["name"].as_str().unwrap().to_string(), v["power"].as_str().unwrap().to_string()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vcenter_esxi_and_a_520_vm_model_match_what_pyvmomi_sees() {
    for (args, expected) in [(&["-vm", "2"][..], 8), (&["-esx", "-vm", "2"][..], 2), (&["-vm", "130"][..], 520)] {
        let sim = Vcsim::start(args);
        let lab = Lab::new(&sim.endpoint);
        let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
        let truth = witness(&sim.endpoint);
        assert_eq!((truth.len(), sync.vms), (expected, expected), "{args:?}");
        for vm in lab.vms() {
            let (name, power) = truth.get(&vm.provider_id).unwrap_or_else(|| panic!("{} is not in vcsim", vm.provider_id));
            assert_eq!((&vm.name, &vm.raw_state), (name, power), "{args:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vcenter_model_is_inventoried_with_names_states_and_tools() {
    let sim = Vcsim::start(&["-vm", "3"]);
    let lab = Lab::new(&sim.endpoint);
    let s = lab.engine.full_sync(lab.account.id).await.unwrap();
    let vms = lab.vms();
    assert!(vms.len() >= 3, "{s:?}");
    assert_eq!(s.list_calls, 1);
    assert!(vms.iter().all(|v| v.state == PowerState::Running && v.raw_state == "poweredOn" && v.tools == Some(ToolsStatus::NotRunning) && v.provider_id.starts_with("vm-")), "{vms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_tasks_are_tracked_and_verified() {
    let sim = Vcsim::start(&["-vm", "1"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let vm = lab.vms().remove(0);

    let off = lab.run(vm.id, OpKind::ForceStop, OpOptions::default()).await;
    assert_eq!((off.phase, off.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{off:?}");
    assert!(off.job_id.as_deref().is_some_and(|j| j.starts_with("task-")), "{off:?}");
    let on = lab.run(vm.id, OpKind::Start, OpOptions::default()).await;
    assert_eq!((on.phase, on.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{on:?}");
    let suspend = lab.run(vm.id, OpKind::Suspend, OpOptions::default()).await;
    assert_eq!((suspend.phase, suspend.new_state), (OpPhase::Succeeded, Some(PowerState::Suspended)), "{suspend:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_running_tools_a_graceful_stop_is_refused_unless_force_is_allowed() {
    let sim = Vcsim::start(&["-vm", "1"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let vm = lab.vms().remove(0);

    let refused = lab.run(vm.id, OpKind::Stop, OpOptions::default()).await;
    assert_eq!(refused.phase, OpPhase::Failed);
    assert!(refused.error.as_deref().unwrap_or_default().contains("guest tools are not running"), "{refused:?}");
    let forced = lab.run(vm.id, OpKind::Stop, OpOptions { allow_force: true, graceful_timeout: None }).await;
    assert_eq!((forced.phase, forced.shutdown_method, forced.new_state), (OpPhase::Succeeded, Some(ShutdownMethod::Forced), Some(PowerState::Stopped)), "{forced:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_renewed_without_the_caller_noticing() {
    let sim = Vcsim::start(&["-vm", "1", "-idle", "1s"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    // vcsim drops sessions idle for a second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert!(again.vms >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_simulator_marks_vms_stale_and_recovery_clears_it() {
    let mut sim = Vcsim::start(&["-vm", "1"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    sim.stop();
    assert!(lab.engine.full_sync(lab.account.id).await.is_err());
    assert!(lab.vms().iter().all(|v| v.stale), "unreachable → stale");

    // The same server comes back on the same address (a fresh model, same ids).
    let addr = reqwest::Url::parse(&sim.endpoint).unwrap();
    let listen = format!("127.0.0.1:{}", addr.port().unwrap());
    let _back = Vcsim::start(&["-vm", "1", "-l", &listen]);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert!(lab.vms().iter().all(|v| !v.stale), "answering again → fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_power_off_arrives_through_the_push_feed() {
    let sim = Vcsim::start(&["-vm", "2"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    // Only the feed runs: no polling tier could explain the change.
    lab.engine.start(Workers { driver: false, tiers: false, feed: true }, Some(&[lab.account.id])).unwrap();
    let vm = lab.vms().remove(0);

    // Another admin, another SOAP session.
    let config = VsphereConfig { endpoint: sim.endpoint.clone(), username: "other-admin".into(), ..Default::default() };
    let other = VsphereProvider::new(&config, Some(Secret::new("pass"))).unwrap();
    use powerdeck_core::provider::{PowerAction, Provider};
    other.submit(&vm.provider_id, PowerAction::PowerOff).await.unwrap();

    let started = std::time::Instant::now();
    loop {
        let h = lab.engine.store().history(vm.id, 1).unwrap();
        if h[0].to_state == PowerState::Stopped {
            assert_eq!(h[0].source, powerdeck_core::model::Source::Feed, "{h:?}");
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the feed never reported the power-off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_host_is_refused_until_its_thumbprint_is_pinned() {
    let sim = Vcsim::start(&["-vm", "1", "-tls"]);
    assert!(sim.endpoint.starts_with("https://"), "{}", sim.endpoint);

    // Verified by default: refused, with the thumbprint to compare.
    let lab = Lab::new(&sim.endpoint);
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    let seen = err.split("thumbprint ").nth(1).and_then(|rest| rest.split(';').next()).unwrap_or_else(|| panic!("no thumbprint in: {err}")).to_string();
    assert_eq!(seen.len(), 95, "AA:BB:… ({seen})");
    assert!(err.contains("--thumbprint"), "{err}");

    // Pinned: trusted.
    let pinned = Lab::with(VsphereConfig { endpoint: sim.endpoint.clone(), username: "admin".into(), thumbprint: Some(seen.to_lowercase().replace(':', "")), insecure: false });
    assert_eq!(pinned.engine.full_sync(pinned.account.id).await.unwrap().vms, 4);

    // A different pin: a hard error naming both.
    let wrong = "00".repeat(32);
    let other = Lab::with(VsphereConfig { endpoint: sim.endpoint.clone(), username: "admin".into(), thumbprint: Some(wrong), insecure: false });
    let err = other.engine.full_sync(other.account.id).await.unwrap_err().to_string();
    assert!(err.contains("certificate changed") && err.contains(&seen) && err.contains("00:00:00"), "{err}");

    // --insecure: anything goes (and the log says so).
    let insecure = Lab::with(VsphereConfig { endpoint: sim.endpoint.clone(), username: "admin".into(), thumbprint: None, insecure: true });
    assert_eq!(insecure.engine.full_sync(insecure.account.id).await.unwrap().vms, 4);
}
