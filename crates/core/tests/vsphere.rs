//! The vSphere provider against VMware's own simulator (vcsim).

use powerdeck_testkit::fast;
use powerdeck_testkit::vcsim;

use powerdeck_core::model::{Account, OpKind, OpPhase, PowerState, ShutdownMethod, ToolsStatus};
use powerdeck_core::provider::vsphere::{VsphereConfig, VsphereProvider};
use powerdeck_core::provider::Provider;
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
    provider: Arc<VsphereProvider>,
}

impl Lab {
    fn new(endpoint: &str) -> Self {
        Self::with(VsphereConfig { endpoint: endpoint.into(), username: "admin".into(), ..Default::default() })
    }

    fn with(config: VsphereConfig) -> Self {
        Self::with_password(config, "pass")
    }

    fn with_password(config: VsphereConfig, password: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
        // The account row needs a secret source to be valid; any set variable
        // will do because the provider below is built with the password in
        // hand, as the registry builds it after reading the keychain.
        let account = engine
            .add_account("vc", "vsphere", serde_json::to_value(&config).unwrap(), Some((powerdeck_core::secrets::SecretRef::env("PATH").unwrap(), None)))
            .unwrap();
        let provider = Arc::new(VsphereProvider::new(&config, Some(Secret::new(password)), engine.calls(account.id)).unwrap());
        engine.set_provider(account.id, provider.clone());
        Self { _dir: dir, engine, account, provider }
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

fn pyvmomi(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(powerdeck_testkit::venv().join("bin/python"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vsphere/witness.py"))
        .args(args)
        .output()
        .expect("pyvmomi witness runs");
    assert!(out.status.success(), "witness failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// What pyvmomi (VMware's own Python SDK) sees, by VM id: name, power, host,
/// tools, uuid, os.
fn witness(endpoint: &str) -> std::collections::HashMap<String, serde_json::Value> {
    let vms: Vec<serde_json::Value> = serde_json::from_slice(&pyvmomi(&[endpoint])).unwrap();
    vms.into_iter().map(|v| (v["id"].as_str().unwrap().to_string(), v)).collect()
}

/// Wait for a condition on what the engine publishes; fail after PATIENCE.
async fn until(lab: &Lab, what: &str, mut done: impl FnMut(&powerdeck_core::model::Vm) -> bool, vm_id: i64) -> powerdeck_core::model::Vm {
    let started = std::time::Instant::now();
    loop {
        let vm = lab.engine.store().vm(vm_id).unwrap().unwrap();
        if done(&vm) {
            return vm;
        }
        assert!(started.elapsed() < PATIENCE, "{what}: still {vm:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_attached_with_vmwares_client_become_facts_by_category_and_survive_a_refresh() {
    let sim = Vcsim::start(&["-vm", "2"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let mut ids: Vec<String> = lab.vms().into_iter().map(|v| v.provider_id).collect();
    ids.sort();
    let (a, b) = (ids[0].clone(), ids[1].clone());
    sim.tags(&["attach", "env", "prod", &a, &b]);
    sim.tags(&["attach", "team", "a", &a]);
    sim.tags(&["attach", "team", "b", &a]);
    lab.engine.full_sync(lab.account.id).await.unwrap();

    // Each VM's facts are the tags VMware's client reads, by category.
    let seen = sim.tags(&["list", "--all"]);
    let tag_facts = |vm: &powerdeck_core::model::Vm| -> std::collections::BTreeMap<String, String> {
        vm.facts.iter().filter(|(k, _)| k.starts_with("tag:")).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    for vm in lab.vms() {
        let expected: std::collections::BTreeMap<String, String> = seen[&vm.provider_id]
            .as_object()
            .unwrap_or_else(|| panic!("{} is not in the witness's list: {seen}", vm.provider_id))
            .iter()
            .map(|(category, names)| (format!("tag:{category}"), names.as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join(", ")))
            .collect();
        assert_eq!(tag_facts(&vm), expected, "{}", vm.provider_id);
    }
    // A refresh carries them (the store replaces facts whole); a detached
    // tag goes at the next full inventory.
    let fresh = lab.provider.refresh(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(fresh[0].facts.get("tag:team").map(String::as_str), Some("a, b"));
    // So does the first refresh of a process that never listed (a `pdk vm …`).
    let config = VsphereConfig { endpoint: sim.endpoint.clone(), username: "admin".into(), ..Default::default() };
    let new_process = VsphereProvider::new(&config, Some(Secret::new("pass")), powerdeck_core::provider::calls::Calls::direct()).unwrap();
    let first = new_process.refresh(std::slice::from_ref(&a)).await.unwrap();
    assert_eq!(first[0].facts.get("tag:team").map(String::as_str), Some("a, b"), "{:?}", first[0].facts);
    sim.tags(&["detach", "team", "a", &a]);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let after = lab.vms().into_iter().find(|v| v.provider_id == a).unwrap();
    assert_eq!((after.facts.get("tag:team").map(String::as_str), after.facts.get("tag:env").map(String::as_str)), (Some("b"), Some("prod")));
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
            let t = truth.get(&vm.provider_id).unwrap_or_else(|| panic!("{} is not in vcsim", vm.provider_id));
            let seen = serde_json::json!({
                "name": vm.name, "power": vm.raw_state, "host": vm.location,
                "uuid": vm.facts.get("instance_uuid"), "os": vm.facts.get("guest_os"),
            });
            assert!(t["uuid"].as_str().is_some_and(|u| u.len() == 36), "vcsim gives every VM an instance UUID: {t}");
            let want = serde_json::json!({ "name": t["name"], "power": t["power"], "host": t["host"], "uuid": t["uuid"], "os": t["os"] });
            assert_eq!(seen, want, "{args:?}");
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
    assert!(
        vms.iter().all(|v| v.state == PowerState::Running
            && v.raw_state == "poweredOn"
            && v.tools == Some(ToolsStatus::NotRunning)
            && v.provider_id.starts_with("vm-")),
        "{vms:?}"
    );
    // Hosts by name, as admins know them, not by managed object id.
    assert!(vms.iter().all(|v| v.location.as_deref().is_some_and(|h| h.starts_with("DC0_"))), "{vms:?}");
    // One more call resolves the hosts; a second sync needs none.
    assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().list_calls, 1);
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
    // Without tools a reboot can only be a reset (ResetVM_Task), and only when force is allowed.
    let reset = lab.run(vm.id, OpKind::Reboot, OpOptions { allow_force: true, ..Default::default() }).await;
    assert_eq!(
        (reset.phase, reset.new_state, reset.shutdown_method),
        (OpPhase::Succeeded, Some(PowerState::Running), Some(ShutdownMethod::Forced)),
        "{reset:?}"
    );
    assert!(reset.job_id.as_deref().is_some_and(|j| j.starts_with("task-")), "{reset:?}");
    let suspend = lab.run(vm.id, OpKind::Suspend, OpOptions::default()).await;
    assert_eq!((suspend.phase, suspend.new_state), (OpPhase::Succeeded, Some(PowerState::Suspended)), "{suspend:?}");
    let history = lab.engine.store().history(vm.id, 50).unwrap();
    // Every change after discovery came from the operations.
    assert!(history.iter().filter(|h| h.from_state.is_some()).all(|h| h.source == powerdeck_core::model::Source::Operation), "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_with_running_tools_is_shut_down_gracefully() {
    // The launcher gives the first VM by name VMware Tools.
    let sim = Vcsim::start(&["-vm", "1", "-tools", "1"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let mut vms = lab.vms();
    vms.sort_by(|a, b| a.name.cmp(&b.name));
    let vm = vms.remove(0);
    assert_eq!(vm.tools, Some(ToolsStatus::Running), "{vm:?}");

    let stop = lab.run(vm.id, OpKind::Stop, OpOptions::default()).await;
    assert_eq!((stop.phase, stop.shutdown_method, stop.new_state), (OpPhase::Succeeded, Some(ShutdownMethod::Graceful), Some(PowerState::Stopped)), "{stop:?}");
    assert_eq!(stop.forced_at, None);
    assert_eq!(stop.job_id, None, "ShutdownGuest is not a task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_can_wait_until_the_guest_tools_report_running() {
    let sim = Vcsim::start(&["-vm", "1", "-tools", "1", "-tools-boot", "1500ms"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let mut vms = lab.vms();
    vms.sort_by(|a, b| a.name.cmp(&b.name));
    let (with_tools, without) = (vms[0].clone(), vms[1].clone());
    assert_eq!(lab.run(with_tools.id, OpKind::ForceStop, OpOptions::default()).await.phase, OpPhase::Succeeded);

    let mut events = lab.engine.bus().subscribe();
    let start = lab.run(with_tools.id, OpKind::Start, OpOptions { wait_for_tools: true, ..Default::default() }).await;
    assert_eq!((start.phase, start.new_state, start.wait_for_tools), (OpPhase::Succeeded, Some(PowerState::Running), true), "{start:?}");
    assert_eq!(lab.engine.store().vm(with_tools.id).unwrap().unwrap().tools, Some(ToolsStatus::Running));
    // It was seen powered on with tools not yet running, and went on waiting.
    let mut seen_booting = false;
    while let Ok(ev) = events.try_recv() {
        if let powerdeck_core::events::Event::VmsChanged { changes, .. } = ev {
            seen_booting |=
                changes.iter().any(|c| c.vm.id == with_tools.id && c.vm.state == PowerState::Running && c.vm.tools == Some(ToolsStatus::NotRunning));
        }
    }
    assert!(seen_booting, "the start ended before the tools came up");

    // Asking a VM that is already on: nothing to send, only to wait for.
    let again = lab.run(with_tools.id, OpKind::Start, OpOptions { wait_for_tools: true, ..Default::default() }).await;
    assert_eq!((again.phase, again.job_id.as_deref()), (OpPhase::Succeeded, None), "{again:?}");
    // Waiting is only for starts.
    let err = lab.engine.request(without.id, OpKind::Stop, OpOptions { wait_for_tools: true, ..Default::default() }).await.unwrap_err();
    assert!(err.to_string().contains("only a start can wait for guest tools"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_deleted_elsewhere_leaves_through_the_push_feed() {
    let sim = Vcsim::start(&["-vm", "2"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers { feed: true, ..Workers::NONE }, Some(&[lab.account.id])).unwrap();
    let vm = lab.vms().remove(0);

    pyvmomi(&[&sim.endpoint, "destroy", &vm.provider_id]);
    until(&lab, "the feed never reported the deletion", |v| v.state == PowerState::Missing, vm.id).await;
    let h = lab.engine.store().history(vm.id, 1).unwrap();
    assert_eq!((h[0].to_state, h[0].source), (PowerState::Missing, powerdeck_core::model::Source::Feed), "{h:?}");
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
    let forced = lab.run(vm.id, OpKind::Stop, OpOptions { allow_force: true, ..Default::default() }).await;
    assert_eq!(
        (forced.phase, forced.shutdown_method, forced.new_state),
        (OpPhase::Succeeded, Some(ShutdownMethod::Forced), Some(PowerState::Stopped)),
        "{forced:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_renewed_without_the_caller_noticing() {
    let sim = Vcsim::start(&["-vm", "1", "-idle", "1s"]);
    let lab = Lab::new(&sim.endpoint);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.provider.logins().await, 1);
    // vcsim drops sessions idle for a second; wait well past that.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let again = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert!(again.vms >= 1);
    assert_eq!(lab.provider.logins().await, 2, "the expired session was replaced by a new login");

    // Several calls find the session expired at once (the feed, a poll, an
    // operation): one new login serves them all, none fails.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ids: Vec<String> = lab.vms().into_iter().map(|v| v.provider_id).collect();
    use powerdeck_core::provider::Provider;
    let p = &lab.provider;
    let (a, b, c, d) = tokio::join!(p.refresh(&ids), p.refresh(&ids), p.refresh(&ids[..1]), p.list_page(None));
    for obs in [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap().vms] {
        assert!(!obs.is_empty());
        // Read in full, not empty objects from a session the server forgot.
        assert!(obs.iter().all(|o| !o.name.is_empty() && o.state == PowerState::Running), "{obs:?}");
    }
    assert_eq!(lab.provider.logins().await, 3, "one login for all four callers");
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
    lab.engine.start(Workers { feed: true, ..Workers::NONE }, Some(&[lab.account.id])).unwrap();
    let vm = lab.vms().remove(0);

    // Another admin, another SOAP session.
    let config = VsphereConfig { endpoint: sim.endpoint.clone(), username: "other-admin".into(), ..Default::default() };
    let other = VsphereProvider::new(&config, Some(Secret::new("pass")), powerdeck_core::provider::calls::Calls::direct()).unwrap();
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

/// The thumbprint an untrusted server presented, as the error carries it.
fn presented(e: &powerdeck_core::CoreError) -> Option<String> {
    match e {
        powerdeck_core::CoreError::Provider { source: powerdeck_core::provider::ProviderError::Untrusted { presented, .. }, .. } => presented.clone(),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_host_is_refused_until_its_thumbprint_is_pinned() {
    let sim = Vcsim::start(&["-vm", "1", "-tls"]);
    assert!(sim.endpoint.starts_with("https://"), "{}", sim.endpoint);

    // Verified by default: refused, with the thumbprint to compare.
    let lab = Lab::new(&sim.endpoint);
    let refused = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    let err = refused.to_string();
    let seen = err.split("thumbprint ").nth(1).and_then(|rest| rest.split(';').next()).unwrap_or_else(|| panic!("no thumbprint in: {err}")).to_string();
    assert_eq!(seen.len(), 95, "AA:BB:… ({seen})");
    // The front ends get it as data, to offer "compare and trust" in their own words.
    assert_eq!(presented(&refused), Some(seen.clone()), "{err}");
    assert_eq!(refused.kind(), "untrusted");
    // The app's "accept this certificate" step sees the same, before any account exists.
    use powerdeck_core::provider::http::{check_certificate, CertificateCheck};
    match check_certificate(&sim.endpoint).await.unwrap() {
        CertificateCheck::Untrusted { thumbprint, .. } => assert_eq!(thumbprint, seen),
        other => panic!("a self-signed host must not be trusted: {other:?}"),
    }
    assert_eq!(check_certificate(&sim.endpoint.replace("https://", "http://")).await.unwrap_or(CertificateCheck::NotTls), CertificateCheck::NotTls);

    // Pinned: trusted.
    let pinned = Lab::with(VsphereConfig {
        endpoint: sim.endpoint.clone(),
        username: "admin".into(),
        thumbprint: Some(seen.to_lowercase().replace(':', "")),
        insecure: false,
    });
    assert_eq!(pinned.engine.full_sync(pinned.account.id).await.unwrap().vms, 4);

    // A different pin: a hard error naming both.
    let wrong = "00".repeat(32);
    let other = Lab::with(VsphereConfig { endpoint: sim.endpoint.clone(), username: "admin".into(), thumbprint: Some(wrong), insecure: false });
    let changed = other.engine.full_sync(other.account.id).await.unwrap_err();
    let err = changed.to_string();
    assert!(err.contains("certificate changed") && err.contains(&seen) && err.contains("00:00:00"), "{err}");
    assert!(err.contains("pin the new one"), "the error says how to re-pin: {err}");
    assert_eq!(presented(&changed), Some(seen.clone()));

    // --insecure: anything goes (and the log says so).
    let insecure = Lab::with(VsphereConfig { endpoint: sim.endpoint.clone(), username: "admin".into(), thumbprint: None, insecure: true });
    assert_eq!(insecure.engine.full_sync(insecure.account.id).await.unwrap().vms, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_an_authentication_error_that_never_echoes_it() {
    let sim = Vcsim::start(&["-vm", "1", "-login", "administrator@vsphere.local:Right-Pass-1"]);
    let config = VsphereConfig { endpoint: sim.endpoint.clone(), username: "administrator@vsphere.local".into(), ..Default::default() };

    let wrong = Lab::with_password(config.clone(), "Wrong-Pass-2");
    let err = wrong.engine.full_sync(wrong.account.id).await.unwrap_err().to_string();
    assert!(err.contains("rejected the credentials") && err.contains("InvalidLogin"), "{err}");
    assert!(!err.contains("Wrong-Pass-2") && !err.contains("Right-Pass-1"), "{err}");
    assert_eq!(wrong.provider.logins().await, 0);

    let right = Lab::with_password(config, "Right-Pass-1");
    assert_eq!(right.engine.full_sync(right.account.id).await.unwrap().vms, 4);
}

/// The connection breaks after vCenter received a power request but before
/// its answer arrived. Powerdeck must never send it again blindly: it reads
/// the VM and decides from what it sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_request_whose_answer_is_lost_is_never_sent_twice() {
    use powerdeck_core::model::Failure;
    use powerdeck_testkit::proxy::CuttingProxy;
    let sim = Vcsim::start(&["-vm", "2"]);
    let url = reqwest::Url::parse(&sim.endpoint).unwrap();
    let upstream: std::net::SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap();

    // A reset cannot be seen happening (the VM stays powered on): ended
    // honestly, and vCenter got exactly one.
    let resets = CuttingProxy::start(upstream, "ResetVM_Task").await;
    let lab = Lab::new(&resets.url("/sdk"));
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let vm = lab.vms().into_iter().find(|v| v.state == PowerState::Running).unwrap();
    let reset = lab.run(vm.id, OpKind::Reboot, OpOptions { allow_force: true, ..Default::default() }).await;
    assert_eq!(resets.forwarded(), 1, "the reset reached vCenter once: {reset:?}");
    assert_eq!((reset.phase, reset.failure), (OpPhase::Failed, Some(Failure::Unconfirmed)), "{reset:?}");
    assert!(reset.error.as_deref().unwrap().contains("nothing was sent again"), "{reset:?}");

    // A power-off shows its effect: confirmed by the VM's state, verified,
    // and still sent only once.
    let offs = CuttingProxy::start(upstream, "PowerOffVM_Task").await;
    let lab = Lab::new(&offs.url("/sdk"));
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let vm = lab.vms().into_iter().find(|v| v.state == PowerState::Running).unwrap();
    let off = lab.run(vm.id, OpKind::ForceStop, OpOptions::default()).await;
    assert_eq!(offs.forwarded(), 1, "{off:?}");
    assert_eq!((off.phase, off.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{off:?}");
}
