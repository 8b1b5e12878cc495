//! CloudStack benchmark against the management-server fake (HTTPS, pinned):
//!
//! 1. 5000 VMs (every fifth in a project): list calls against the goal
//!    ceil(N/500), wall time of a full sync, and `cs` fetching the same
//!    list from the same fake;
//! 2. the change feed: an out-of-band power change to the event on the
//!    bus, through listEvents;
//! 3. 100 VMs stopped at once: job statuses read per second, batched
//!    (`listAsyncJobs`) against one `queryAsyncJobResult` per job, and the
//!    time from the first request to the last stop verified, through the
//!    engine with its default settings.
//!
//!     POWERDECK_VENV=/work/main/.venv cargo run --release -p powerdeck-core --example bench_cloudstack

use powerdeck_core::model::{OpKind, OpPhase, PowerState};
use powerdeck_core::provider::calls::{Calls, RateLimit};
use powerdeck_core::provider::cloudstack::{CloudStackConfig, CloudStackProvider, JobPolling};
use powerdeck_core::provider::{JobStatus, PowerAction, Provider};
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, OpOptions, Workers};
use powerdeck_testkit::fake::Fake;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Cloud {
    fake: Fake,
    config: CloudStackConfig,
    secret: String,
}

impl Cloud {
    async fn start(args: &[&str]) -> Self {
        let mut all = vec!["--tls", "--seed", "5"];
        all.extend(args);
        let fake = Fake::start("cloudstack", &all);
        let info = fake.control("info", None).await;
        let thumbprint = powerdeck_core::provider::http::probe_thumbprint(&fake.url).await.unwrap();
        let config = CloudStackConfig {
            endpoint: format!("{}/client/api", fake.url),
            api_key: info["api_key"].as_str().unwrap().into(),
            thumbprint: Some(thumbprint),
            ..Default::default()
        };
        Self { secret: info["secret_key"].as_str().unwrap().into(), fake, config }
    }

    fn provider(&self, calls: Arc<Calls>, polling: JobPolling) -> CloudStackProvider {
        CloudStackProvider::new(&self.config, Some(Secret::new(&self.secret)), calls).unwrap().with_job_polling(polling)
    }

    async fn calls(&self, command: &str) -> u64 {
        self.fake.calls().await[command].as_u64().unwrap_or(0)
    }

    fn engine(&self, polling: JobPolling, cfg: EngineConfig) -> (tempfile::TempDir, Arc<Engine>, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), cfg).unwrap();
        let account =
            engine.add_account("cloud", "cloudstack", serde_json::to_value(&self.config).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
        engine.set_provider(account.id, Arc::new(self.provider(engine.calls(account.id), polling)));
        (dir, engine, account.id)
    }
}

/// `cs` listing every VM of the fake, timed inside Python (start-up excluded).
fn cs_list(cloud: &Cloud) -> (usize, f64) {
    let script = r#"
import sys, time, cs
url, ca, key, secret = sys.argv[1:5]
client = cs.CloudStack(endpoint=url, key=key, secret=secret, verify=ca)
t = time.perf_counter()
vms = client.listVirtualMachines(listall=True, projectid=-1, fetch_list=True)
print(len(vms), time.perf_counter() - t)
"#;
    let out = std::process::Command::new(powerdeck_testkit::venv().join("bin/python"))
        .args(["-c", script, &cloud.config.endpoint, cloud.fake.ca.as_ref().unwrap().to_str().unwrap(), &cloud.config.api_key, &cloud.secret])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut parts = text.split_whitespace();
    (parts.next().unwrap().parse().unwrap(), parts.next().unwrap().parse().unwrap())
}

async fn inventory() {
    let cloud = Cloud::start(&["--vms", "5000", "--projects", "4"]).await;
    let (_dir, engine, account) = cloud.engine(JobPolling::Batched, EngineConfig::default());
    println!("## 5000 VMs: full sync (goal: ceil(5000/500) = 10 list calls)");
    for run in ["first", "unchanged", "unchanged"] {
        let before = cloud.calls("listVirtualMachines").await;
        let t = Instant::now();
        let s = engine.full_sync(account).await.unwrap();
        let wall = t.elapsed();
        let calls = cloud.calls("listVirtualMachines").await - before;
        println!("powerdeck {run}: {} VMs, {} list calls (server saw {calls}), {} ms, {} rows written", s.vms, s.list_calls, wall.as_millis(), s.changed);
    }
    for _ in 0..3 {
        let before = cloud.calls("listVirtualMachines").await;
        let (n, secs) = cs_list(&cloud);
        let calls = cloud.calls("listVirtualMachines").await - before;
        println!("cs 5.2.0: {n} VMs, {calls} list calls, {} ms", (secs * 1000.0) as u64);
    }
}

/// Ids of 100 running VMs added to a fake without any.
async fn hundred_running(cloud: &Cloud) -> Vec<String> {
    let added = cloud.fake.control("vms", Some(json!({"count": 100, "state": "Running", "name": "bench"}))).await;
    added.as_array().unwrap().iter().map(|v: &Value| v["id"].as_str().unwrap().to_string()).collect()
}

/// One round of reading 100 pending jobs' statuses: calls and jobs per second.
async fn poll_rate(polling: JobPolling) {
    // Slow transitions, so every job stays pending while it is measured.
    let cloud = Cloud::start(&["--vms", "0", "--stubborn-vms", "0", "--transition-ms", "60000"]).await;
    let ids = hundred_running(&cloud).await;
    let provider = cloud.provider(Calls::direct(), polling);
    let mut jobs = Vec::new();
    for id in &ids {
        jobs.push(provider.submit(id, PowerAction::ShutdownGuest).await.unwrap().job.unwrap());
    }
    let (mut rounds, mut took) = (0u32, Duration::ZERO);
    let (before_list, before_query) = (cloud.calls("listAsyncJobs").await, cloud.calls("queryAsyncJobResult").await);
    for _ in 0..5 {
        let t = Instant::now();
        let statuses = provider.poll_jobs(&jobs).await;
        took += t.elapsed();
        rounds += 1;
        assert!(statuses.iter().all(|(_, s)| matches!(s, Ok(JobStatus::Running { .. }))));
    }
    let list = cloud.calls("listAsyncJobs").await - before_list;
    let query = cloud.calls("queryAsyncJobResult").await - before_query;
    let per_round = took / rounds;
    println!(
        "{polling:?}: one round reads 100 jobs in {} ms with {} request(s) ({} listAsyncJobs, {} queryAsyncJobResult over {rounds} rounds): {:.0} jobs/s",
        per_round.as_millis(),
        (list + query) / u64::from(rounds),
        list,
        query,
        100.0 / per_round.as_secs_f64()
    );
}

/// 100 stops through the engine, from the first request to the last
/// verified, with the account's rate limit at `rate` calls per second.
async fn hundred_stops(polling: JobPolling, rate: RateLimit) {
    let cloud = Cloud::start(&["--vms", "0", "--stubborn-vms", "0"]).await;
    hundred_running(&cloud).await;
    let (_dir, engine, account) = cloud.engine(polling, EngineConfig { rate_limit: rate.clone(), ..EngineConfig::default() });
    engine.full_sync(account).await.unwrap();
    engine.start(Workers::DRIVER, Some(&[account])).unwrap();
    let vms = engine.store().vms(&VmFilter { account_id: Some(account), state: Some(PowerState::Running) }).unwrap();
    assert_eq!(vms.len(), 100);
    let before = engine.runtime(account).unwrap().stats().snapshot();
    let t = Instant::now();
    let handles: Vec<_> = vms
        .iter()
        .map(|vm| {
            let (engine, id) = (engine.clone(), vm.id);
            tokio::spawn(async move {
                let op = engine.request(id, OpKind::Stop, OpOptions::default()).await.unwrap();
                engine.wait(op.id, |_| {}).await.unwrap()
            })
        })
        .collect();
    let (mut ok, mut first_request, mut last_accepted) = (0, i64::MAX, 0);
    for h in handles {
        let op = h.await.unwrap();
        ok += usize::from(op.phase == OpPhase::Succeeded);
        first_request = first_request.min(op.requested_at);
        last_accepted = last_accepted.max(op.submitted_at.unwrap_or(0));
    }
    let wall = t.elapsed();
    let after = engine.runtime(account).unwrap().stats().snapshot();
    println!(
        "{polling:?}, {} calls/s (burst {}): {ok}/100 stops verified {:.1} s after the first request (the last accepted after {:.1} s); {} poll requests, {} state reads, {} submits, {} throttled answers",
        rate.per_second,
        rate.burst,
        wall.as_secs_f64(),
        (last_accepted - first_request) as f64 / 1000.0,
        after.poll - before.poll,
        after.refresh - before.refresh,
        after.submit - before.submit,
        after.throttled - before.throttled,
    );
}

/// Out-of-band power changes (a host's power report: a `system` VM.STOP /
/// VM.START event) to the event on Powerdeck's bus, through the listEvents
/// feed at the default change poll interval (2 s).
async fn feed_latency() {
    let cloud = Cloud::start(&["--vms", "60", "--stubborn-vms", "0"]).await;
    let (_dir, engine, account) = cloud.engine(JobPolling::Batched, EngineConfig::default());
    engine.full_sync(account).await.unwrap();
    let mut rx = engine.bus().subscribe();
    engine.start(Workers { feed: true, ..Workers::NONE }, Some(&[account])).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // the feed's starting point
    while rx.try_recv().is_ok() {}
    let vms = engine.store().vms(&VmFilter { account_id: Some(account), state: None }).unwrap();
    let mut latencies = Vec::new();
    for vm in vms.iter().filter(|v| matches!(v.state, PowerState::Running | PowerState::Stopped)).take(20) {
        let to = if vm.state == PowerState::Running { "Stopped" } else { "Running" };
        // Unaligned with the poll, as real changes are.
        tokio::time::sleep(Duration::from_millis((latencies.len() as u64 * 731) % 2000)).await;
        let t = Instant::now();
        cloud.fake.control(&format!("vms/{}/state", vm.provider_id), Some(json!({ "state": to }))).await;
        loop {
            if let Ok(powerdeck_core::Event::VmsChanged { changes, .. }) = rx.recv().await {
                if changes.iter().any(|c| c.vm.id == vm.id) {
                    break;
                }
            }
        }
        latencies.push(t.elapsed().as_millis());
    }
    latencies.sort_unstable();
    let calls = cloud.fake.calls().await;
    println!(
        "out-of-band change → event on the bus (n = {}): median {} ms, p95 {} ms, max {} ms; listEvents calls so far {}, VM reads {}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[(latencies.len() * 95) / 100 - 1],
        latencies[latencies.len() - 1],
        calls["listEvents"],
        calls["listVirtualMachines"]
    );
}

#[tokio::main]
async fn main() {
    inventory().await;
    println!("## Change feed: listEvents every 2 s");
    feed_latency().await;
    println!("## 100 pending jobs: statuses read per second");
    poll_rate(JobPolling::Batched).await;
    poll_rate(JobPolling::PerJob).await;
    println!("## 100 VMs stopped at once (1.5 s per transition on the fake)");
    // The engine's default limit (client-go's 10/s, burst 100), then
    // CloudStack's own api.throttling.max default (25 per second).
    for rate in [RateLimit::default(), RateLimit { per_second: 25.0, burst: 25 }] {
        hundred_stops(JobPolling::Batched, rate.clone()).await;
        hundred_stops(JobPolling::PerJob, rate).await;
    }
}
