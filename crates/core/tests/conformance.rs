//! Every provider against its test peer, through one suite
//! (`powerdeck_testkit::conformance`): the demo fleet, EC2 on moto, vSphere
//! on vcsim, Azure on its ARM fake, CloudStack on its fake, oVirt on its
//! engine fake. A new provider adds its peer here.

#[path = "ovirt/lab.rs"]
mod ovirt_lab;

use async_trait::async_trait;
use powerdeck_core::model::{now_ms, OpKind, PowerState};
use powerdeck_core::provider::azure::AzureProvider;
use powerdeck_core::provider::calls::Calls;
use powerdeck_core::provider::ec2::{Ec2Config, Ec2Provider};
use powerdeck_core::provider::sim::{SimConfig, SimProvider, World};
use powerdeck_core::provider::vsphere::{VsphereConfig, VsphereProvider};
use powerdeck_core::provider::Provider;
use powerdeck_core::secrets::Secret;
use powerdeck_core::OpOptions;
use powerdeck_testkit::azure::{self as azure_fake, AzureFake};
use powerdeck_testkit::conformance::{self, Peer};
use powerdeck_testkit::gate::Gate;
use powerdeck_testkit::moto::Moto;
use powerdeck_testkit::vcsim::Vcsim;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

fn force() -> OpOptions {
    OpOptions { allow_force: true, ..OpOptions::default() }
}

/// The demo fleet, in a world file of its own.
struct Sim {
    dir: tempfile::TempDir,
    cfg: SimConfig,
}

impl Sim {
    fn world(&self) -> World {
        World::open(&self.dir.path().join("world.sqlite"), &self.cfg).unwrap()
    }
}

#[async_trait]
impl Peer for Sim {
    fn account(&self) -> (&'static str, serde_json::Value) {
        ("sim", serde_json::to_value(&self.cfg).unwrap())
    }
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider> {
        Arc::new(SimProvider::open(&self.dir.path().join("world.sqlite"), self.cfg.clone(), calls).unwrap())
    }
    async fn provider_with_wrong_secret(&self, _: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)> {
        None
    }
    async fn truth(&self) -> Vec<String> {
        self.world().truth().unwrap().into_iter().map(|(id, _)| id).collect()
    }
    fn unknown_id(&self) -> String {
        "sim-no-such-vm".into()
    }
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)> {
        vec![
            (OpKind::Stop, PowerState::Running, force()),
            (OpKind::Start, PowerState::Stopped, OpOptions::default()),
            (OpKind::ForceStop, PowerState::Running, OpOptions::default()),
            (OpKind::Reboot, PowerState::Running, force()),
            (OpKind::Suspend, PowerState::Running, OpOptions::default()),
        ]
    }
    fn unsupported(&self) -> Vec<OpKind> {
        vec![OpKind::Hibernate, OpKind::Deallocate]
    }
    async fn set_reachable(&self, up: bool) {
        self.world().set_outage_until(if up { 0 } else { now_ms() + 3_600_000 }).unwrap();
    }
    async fn change_out_of_band(&self, id: &str, to: PowerState) {
        self.world().set_raw(id, if to == PowerState::Running { "RUNNING" } else { "STOPPED" }).unwrap();
    }
    fn lost_cursor(&self) -> Option<String> {
        Some("999999999".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fleet_conforms() {
    let cfg = SimConfig {
        size: 12,
        latency_ms: 1,
        page_size: 5,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        start_delay_ms: 200,
        stop_delay_ms: 200,
        force_stop_delay_ms: 100,
        reboot_delay_ms: 200,
        suspend_delay_ms: 200,
        ..SimConfig::default()
    };
    conformance::run(&Sim { dir: tempfile::tempdir().unwrap(), cfg }).await;
}

/// The demo fleet reads every job in flight in one call, as vSphere reads
/// many tasks: what it costs to follow a bulk action is what a batching
/// provider costs, not one call per operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fleet_reads_every_job_in_flight_in_one_call() {
    use powerdeck_core::provider::{JobStatus, PowerAction, ProviderError};
    let cfg = SimConfig {
        size: 12,
        latency_ms: 1,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        failure_rate: 0.0,
        force_stop_delay_ms: 60_000,
        start_delay_ms: 60_000,
        ..SimConfig::default()
    };
    let sim = Sim { dir: tempfile::tempdir().unwrap(), cfg };
    let calls = Calls::direct();
    let provider = sim.provider(calls.clone());
    let truth = sim.world().truth().unwrap();
    let mut jobs = Vec::new();
    for (id, raw) in truth.iter().filter(|(_, raw)| raw == "RUNNING" || raw == "STOPPED").take(4) {
        // The requests the demo fleet answers with a job.
        let action = if raw == "RUNNING" { PowerAction::PowerOff } else { PowerAction::Start };
        jobs.push(provider.submit(id, action).await.unwrap().job.expect("the demo fleet answers with a job"));
    }
    jobs.push("job-no-such".into());
    let before = calls.stats().snapshot().poll;
    let answers = provider.poll_jobs(&jobs).await;
    assert_eq!(calls.stats().snapshot().poll - before, 1, "one call for five jobs");
    assert_eq!(answers.iter().map(|(j, _)| j.as_str()).collect::<Vec<_>>(), jobs.iter().map(String::as_str).collect::<Vec<_>>(), "one answer per job asked");
    for (job, answer) in &answers[..4] {
        assert_eq!(answer, &Ok(JobStatus::Running { poll_after: None }), "{job}: each job's own status");
        assert_eq!(&provider.poll_job(job).await, answer, "{job}: as one job's read says");
    }
    assert!(matches!(answers[4].1, Err(ProviderError::NotFound { .. })), "{:?}", answers[4]);

    // Unreachable: every job has the error, and nothing is made up.
    sim.set_reachable(false).await;
    let answers = provider.poll_jobs(&jobs).await;
    assert!(answers.iter().all(|(_, a)| a.is_err()), "{answers:?}");
}

/// EC2 on moto's server, behind a gate that can take it down; boto3 is the witness.
struct Ec2 {
    moto: Moto,
    gate: Gate,
    region: &'static str,
}

impl Ec2 {
    fn config(&self) -> Ec2Config {
        Ec2Config {
            regions: vec![self.region.into()],
            endpoint: Some(self.gate.url("/")),
            access_key_id: Some("AKIDCONFORMANCE".into()),
            ..Ec2Config::default()
        }
    }
    fn short(id: &str) -> &str {
        id.split_once(':').map(|(_, i)| i).unwrap_or(id)
    }
}

#[async_trait]
impl Peer for Ec2 {
    fn account(&self) -> (&'static str, serde_json::Value) {
        ("ec2", serde_json::to_value(Ec2Config { profile: None, ..self.config() }).unwrap())
    }
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider> {
        Arc::new(Ec2Provider::new(&self.config(), Some(Secret::new("testing")), calls).unwrap())
    }
    async fn provider_with_wrong_secret(&self, calls: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)> {
        // Switch moto's signature checks on, with a user allowed to use EC2.
        let user = self.moto.tool("iam-user", &["--user", "conformance", "--allow-ec2", "--enable-auth"]);
        let cfg = Ec2Config { access_key_id: Some(user["access_key_id"].as_str().unwrap().into()), ..self.config() };
        let wrong = "wrong-secret-for-conformance";
        Some((Arc::new(Ec2Provider::new(&cfg, Some(Secret::new(wrong)), calls).unwrap()), wrong.into()))
    }
    async fn truth(&self) -> Vec<String> {
        let all = self.moto.tool("describe", &["--region", self.region]);
        all.as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
    }
    fn unknown_id(&self) -> String {
        format!("{}:i-0123456789abcdef0", self.region)
    }
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)> {
        vec![
            (OpKind::Stop, PowerState::Running, OpOptions::default()),
            (OpKind::Start, PowerState::Stopped, OpOptions::default()),
            (OpKind::ForceStop, PowerState::Running, OpOptions::default()),
            (OpKind::Reboot, PowerState::Running, OpOptions::default()),
        ]
    }
    fn unsupported(&self) -> Vec<OpKind> {
        vec![OpKind::Suspend, OpKind::Deallocate]
    }
    async fn set_reachable(&self, up: bool) {
        if up {
            self.gate.open().await
        } else {
            self.gate.close()
        }
    }
    async fn change_out_of_band(&self, id: &str, to: PowerState) {
        let cmd = if to == PowerState::Running { "start" } else { "stop" };
        self.moto.tool(cmd, &["--region", self.region, Self::short(id)]);
    }
    fn lost_cursor(&self) -> Option<String> {
        None
    }
}

fn addr_of(url: &str) -> SocketAddr {
    let u = reqwest::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port_or_known_default().unwrap()).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_conforms_on_moto() {
    let moto = Moto::start();
    moto.seed("us-east-1", 6, 3);
    let gate = Gate::start(addr_of(&moto.url)).await;
    conformance::run(&Ec2 { moto, gate, region: "us-east-1" }).await;
}

/// vSphere on vcsim (which accepts one login only), behind a gate; pyvmomi is the witness.
struct Vsphere {
    sim: Vcsim,
    gate: Gate,
}

const LOGIN: (&str, &str) = ("conformance", "s3cret-conformance");

impl Vsphere {
    fn config(&self) -> VsphereConfig {
        VsphereConfig { endpoint: self.gate.url("/sdk"), username: LOGIN.0.into(), thumbprint: None, insecure: false }
    }
    fn witness(&self, args: &[&str]) -> serde_json::Value {
        let out = std::process::Command::new(powerdeck_testkit::venv().join("bin/python"))
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vsphere/witness.py"))
            .arg(&self.sim.endpoint)
            .args(args)
            .env("VCSIM_USER", LOGIN.0)
            .env("VCSIM_PASSWORD", LOGIN.1)
            .output()
            .unwrap();
        assert!(out.status.success(), "witness: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }
}

#[async_trait]
impl Peer for Vsphere {
    fn account(&self) -> (&'static str, serde_json::Value) {
        ("vsphere", serde_json::to_value(self.config()).unwrap())
    }
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider> {
        Arc::new(VsphereProvider::new(&self.config(), Some(Secret::new(LOGIN.1)), calls).unwrap())
    }
    async fn provider_with_wrong_secret(&self, calls: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)> {
        let wrong = "wrong-vsphere-password";
        Some((Arc::new(VsphereProvider::new(&self.config(), Some(Secret::new(wrong)), calls).unwrap()), wrong.into()))
    }
    async fn truth(&self) -> Vec<String> {
        self.witness(&[]).as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
    }
    fn unknown_id(&self) -> String {
        "vm-999999".into()
    }
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)> {
        vec![
            (OpKind::ForceStop, PowerState::Running, OpOptions::default()),
            (OpKind::Start, PowerState::Stopped, OpOptions::default()),
            // The first VMs have tools: a graceful stop and a guest reboot.
            (OpKind::Stop, PowerState::Running, force()),
            (OpKind::Reboot, PowerState::Running, force()),
            (OpKind::Suspend, PowerState::Running, OpOptions::default()),
        ]
    }
    fn unsupported(&self) -> Vec<OpKind> {
        vec![OpKind::Hibernate, OpKind::Deallocate]
    }
    async fn set_reachable(&self, up: bool) {
        if up {
            self.gate.open().await
        } else {
            self.gate.close()
        }
    }
    async fn change_out_of_band(&self, id: &str, to: PowerState) {
        self.witness(&[if to == PowerState::Running { "power-on" } else { "power-off" }, id]);
    }
    fn lost_cursor(&self) -> Option<String> {
        // A version from a login this session never had.
        Some("999:1".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsphere_conforms_on_vcsim() {
    let login = format!("{}:{}", LOGIN.0, LOGIN.1);
    let sim = Vcsim::start(&["-vm", "2", "-tools", "8", "-tools-boot", "300ms", "-login", &login]);
    let gate = Gate::start(addr_of(&sim.endpoint)).await;
    let _ = Duration::ZERO;
    conformance::run(&Vsphere { sim, gate }).await;
}

/// Azure on the ARM fake (over HTTPS, trusted through the account's CA
/// file); azure-mgmt-compute is the witness. Resource groups come back in
/// other casings (`--mixed-case-rg`), so one VM must still be one id.
struct Azure {
    arm: AzureFake,
    subscription: String,
}

#[async_trait]
impl Peer for Azure {
    fn account(&self) -> (&'static str, serde_json::Value) {
        ("azure", serde_json::to_value(self.arm.config()).unwrap())
    }
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider> {
        Arc::new(AzureProvider::new(&self.arm.config(), Some(Secret::new(azure_fake::SECRET)), calls).unwrap())
    }
    async fn provider_with_wrong_secret(&self, calls: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)> {
        let wrong = "wrong-azure-client-secret";
        Some((Arc::new(AzureProvider::new(&self.arm.config(), Some(Secret::new(wrong)), calls).unwrap()), wrong.into()))
    }
    async fn truth(&self) -> Vec<String> {
        self.arm.witness_list().into_iter().map(|(id, _, _)| id).collect()
    }
    fn unknown_id(&self) -> String {
        format!("/subscriptions/{}/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/no-such-vm", self.subscription)
    }
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)> {
        vec![
            (OpKind::Stop, PowerState::Running, OpOptions::default()),
            (OpKind::ForceStop, PowerState::Running, OpOptions::default()),
            (OpKind::Start, PowerState::Stopped, OpOptions::default()),
            (OpKind::Deallocate, PowerState::Running, OpOptions::default()),
            (OpKind::Start, PowerState::Deallocated, OpOptions::default()),
            (OpKind::Reboot, PowerState::Running, OpOptions::default()),
        ]
    }
    fn unsupported(&self) -> Vec<OpKind> {
        vec![OpKind::Suspend]
    }
    async fn set_reachable(&self, up: bool) {
        self.arm.fake.control("outage", Some(serde_json::json!({ "on": !up }))).await;
    }
    async fn change_out_of_band(&self, id: &str, to: PowerState) {
        self.arm.set_state(id, to.as_str()).await;
    }
    fn lost_cursor(&self) -> Option<String> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_conforms_on_its_arm_fake() {
    let arm = AzureFake::start(&["--subscriptions", "2", "--vms", "8", "--page-size", "3", "--transition-ms", "200", "--mixed-case-rg"]);
    let subscription = arm.subscriptions().await.remove(0);
    conformance::run(&Azure { arm, subscription }).await;
}

#[path = "cloudstack/support.rs"]
mod cloudstack_support;

/// CloudStack on its management-server fake (HTTPS, pinned); `cs` is the witness.
struct CloudStack {
    cs: cloudstack_support::CsFake,
}

#[async_trait]
impl Peer for CloudStack {
    fn account(&self) -> (&'static str, serde_json::Value) {
        ("cloudstack", serde_json::to_value(self.cs.config()).unwrap())
    }
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider> {
        Arc::new(self.cs.provider(calls))
    }
    async fn provider_with_wrong_secret(&self, calls: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)> {
        let wrong = "wrong-cloudstack-secret-key-for-conformance";
        Some((Arc::new(self.cs.provider_with(&self.cs.config(), wrong, calls)), wrong.into()))
    }
    async fn truth(&self) -> Vec<String> {
        self.cs.witness_list().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
    }
    fn unknown_id(&self) -> String {
        "0f0e0d0c-0b0a-4909-8807-060504030201".into()
    }
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)> {
        vec![
            (OpKind::Stop, PowerState::Running, force()),
            (OpKind::Start, PowerState::Stopped, OpOptions::default()),
            (OpKind::ForceStop, PowerState::Running, OpOptions::default()),
            (OpKind::Reboot, PowerState::Running, force()),
            // rebootVirtualMachine forced=true straight away.
            (OpKind::Reboot, PowerState::Running, OpOptions { allow_force: true, graceful_timeout: Some(Duration::ZERO), ..OpOptions::default() }),
        ]
    }
    fn unsupported(&self) -> Vec<OpKind> {
        vec![OpKind::Suspend, OpKind::Hibernate, OpKind::Deallocate]
    }
    async fn set_reachable(&self, up: bool) {
        self.cs.fake.control("outage", Some(json!({ "on": !up }))).await;
    }
    async fn change_out_of_band(&self, id: &str, to: PowerState) {
        self.cs.set_state(id, if to == PowerState::Running { "Running" } else { "Stopped" }).await;
    }
    fn lost_cursor(&self) -> Option<String> {
        // Events from a day no event is left from.
        Some("v1|2000-01-01 00:00:00|0f0e0d0c-0b0a-4909-8807-0605040302ff".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudstack_conforms_on_its_fake() {
    let cs = cloudstack_support::CsFake::start(&["--vms", "24", "--projects", "2", "--stubborn-vms", "0", "--transition-ms", "200"]).await;
    conformance::run(&CloudStack { cs }).await;
}

/// oVirt on the engine fake; ovirtsdk4 is the witness.
struct Ovirt {
    fake: powerdeck_testkit::fake::Fake,
}

impl Ovirt {
    fn config(&self) -> powerdeck_core::provider::ovirt::OvirtConfig {
        ovirt_lab::config(&self.fake)
    }
}

#[async_trait]
impl Peer for Ovirt {
    fn account(&self) -> (&'static str, serde_json::Value) {
        ("ovirt", serde_json::to_value(self.config()).unwrap())
    }
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider> {
        Arc::new(powerdeck_core::provider::ovirt::OvirtProvider::new(&self.config(), Some(Secret::new(ovirt_lab::PASSWORD)), calls).unwrap())
    }
    async fn provider_with_wrong_secret(&self, calls: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)> {
        let wrong = "wrong+ovirt@password&=";
        Some((Arc::new(powerdeck_core::provider::ovirt::OvirtProvider::new(&self.config(), Some(Secret::new(wrong)), calls).unwrap()), wrong.into()))
    }
    async fn truth(&self) -> Vec<String> {
        self.fake.witness("ovirt", &["list"]).as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect()
    }
    fn unknown_id(&self) -> String {
        "00000000-0000-0000-0000-00000000dead".into()
    }
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)> {
        vec![
            (OpKind::Stop, PowerState::Running, force()),
            (OpKind::Start, PowerState::Stopped, OpOptions::default()),
            (OpKind::ForceStop, PowerState::Running, OpOptions::default()),
            (OpKind::Reboot, PowerState::Running, force()),
            (OpKind::Suspend, PowerState::Running, OpOptions::default()),
        ]
    }
    fn unsupported(&self) -> Vec<OpKind> {
        vec![OpKind::Hibernate, OpKind::Deallocate]
    }
    async fn set_reachable(&self, up: bool) {
        self.fake.control("outage", Some(serde_json::json!({ "on": !up }))).await;
    }
    async fn change_out_of_band(&self, id: &str, to: PowerState) {
        ovirt_lab::set_state(&self.fake, id, if to == PowerState::Running { "up" } else { "down" }).await;
    }
    fn lost_cursor(&self) -> Option<String> {
        // Event ids start at 1001: the log holds no event 1.
        Some("1".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovirt_conforms_on_the_engine_fake() {
    conformance::run(&Ovirt { fake: ovirt_lab::fake(12, &[]) }).await;
}
