//! oVirt benchmark against the engine fake (`tests/fakes/ovirt`): the
//! initial inventory of 2000 VMs (calls and wall time), side by side with
//! the official SDK (ovirtsdk4) listing the same VMs from the same fake, and
//! the latency from an out-of-band power change to the store through the
//! events feed at the default interval.
//!
//!     POWERDECK_VENV=.venv cargo run --release -p powerdeck-core --example bench_ovirt [-- VMS [EVENTS_INTERVAL_S]]

use powerdeck_core::model::PowerState;
use powerdeck_core::provider::ovirt::{OvirtConfig, OvirtProvider};
use powerdeck_core::provider::Provider;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, Event, Workers};
use powerdeck_testkit::fake::Fake;
use rand::Rng;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "s3cret+p@ss&=";

fn config(fake: &Fake, page_size: u32) -> OvirtConfig {
    let events_interval_s = std::env::args().nth(2).map(|n| n.parse().expect("an interval in seconds")).unwrap_or(OvirtConfig::default().events_interval_s);
    OvirtConfig {
        events_interval_s,
        endpoint: format!("{}/ovirt-engine/api", fake.url),
        username: "admin@internal".into(),
        ca_file: Some(fake.ca.as_ref().unwrap().to_string_lossy().into_owned()),
        page_size,
        ..OvirtConfig::default()
    }
}

/// An engine with one account on the fake, on a store of its own.
fn lab(fake: &Fake, page_size: u32) -> (tempfile::TempDir, Arc<Engine>, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let engine = Engine::with_store(store, dir.path(), EngineConfig::default()).unwrap();
    let cfg = config(fake, page_size);
    let account = engine.add_account("olvm", "ovirt", serde_json::to_value(&cfg).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
    engine.set_provider(account.id, Arc::new(OvirtProvider::new(&cfg, Some(Secret::new(PASSWORD)), engine.calls(account.id)).unwrap()));
    (dir, engine, account.id)
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// The SDK lists every VM, page by page until an empty page, as the
/// witness does; timed inside Python, after the SDK is imported.
fn sdk_listing(fake: &Fake, page_size: u32) -> serde_json::Value {
    let root = powerdeck_testkit::repo_root();
    let code = format!(
        r#"
import json, sys, time
sys.path.insert(0, {root:?})
from tests.fakes.ovirt import witness
import ovirtsdk4 as sdk
t0 = time.perf_counter()
conn = sdk.Connection(url={url:?} + "/ovirt-engine/api", username="admin@internal", password={pw:?}, ca_file={ca:?})
vms = witness.list_vms(conn, page_size={page_size})
t1 = time.perf_counter()
conn.close()
print(json.dumps({{"vms": len(vms), "ms": round((t1 - t0) * 1000)}}))
"#,
        root = root.to_string_lossy(),
        url = fake.url,
        pw = PASSWORD,
        ca = fake.ca.as_ref().unwrap().to_string_lossy(),
    );
    let out = std::process::Command::new(powerdeck_testkit::venv().join("bin/python")).arg("-c").arg(code).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn counted(fake: &Fake) -> serde_json::Value {
    let c = fake.calls().await;
    fake.control("calls/reset", Some(json!({}))).await;
    c
}

#[tokio::main]
async fn main() {
    let vms: usize = std::env::args().nth(1).map(|n| n.parse().expect("a number of VMs")).unwrap_or(2000);
    let fake = Fake::start("ovirt", &["--vms", &vms.to_string(), "--transition-ms", "1500"]);
    println!("engine fake with {vms} VMs at {}", fake.url);

    println!("\ninitial inventory (a fresh account each run: login, pages, hosts and clusters named):");
    for page_size in [500, 1000, 5000] {
        for run in 1..=3 {
            let (_dir, engine, id) = lab(&fake, page_size);
            counted(&fake).await;
            let t = Instant::now();
            let s = engine.full_sync(id).await.unwrap();
            let took = t.elapsed();
            let c = counted(&fake).await;
            let total: u64 = ["token", "list_vms", "list_hosts", "list_clusters"].iter().map(|k| c[*k].as_u64().unwrap_or(0)).sum();
            assert_eq!(s.vms, vms);
            println!(
                "  powerdeck page size {page_size:>4}, run {run}: {} VMs in {:>5} ms; {} list calls, {total} HTTP requests in all (token {}, hosts {}, clusters {})",
                s.vms,
                ms(took),
                s.list_calls,
                c["token"],
                c["list_hosts"],
                c["list_clusters"]
            );
        }
    }
    // The same listing without the store (what the SDK runs compare with).
    for run in 1..=3 {
        let provider = OvirtProvider::new(&config(&fake, 500), Some(Secret::new(PASSWORD)), powerdeck_core::provider::calls::Calls::direct()).unwrap();
        counted(&fake).await;
        let t = Instant::now();
        let (mut token, mut listed) = (None::<String>, 0);
        loop {
            let page = provider.list_page(token.as_deref()).await.unwrap();
            listed += page.vms.len();
            match page.next {
                Some(n) => token = Some(n),
                None => break,
            }
        }
        let took = t.elapsed();
        let c = counted(&fake).await;
        println!("  powerdeck listing only (no store), page size 500, run {run}: {listed} VMs in {:>5} ms; {} list calls", ms(took), c["list_vms"]);
    }
    for page_size in [100, 500] {
        for run in 1..=3 {
            counted(&fake).await;
            let r = sdk_listing(&fake, page_size);
            let c = counted(&fake).await;
            println!(
                "  ovirtsdk4 page size {page_size:>4}, run {run}: {} VMs in {:>5} ms; {} list calls, token {}",
                r["vms"], r["ms"], c["list_vms"], c["token"]
            );
        }
    }

    let (_dir, engine, id) = lab(&fake, 500);
    let interval_s = config(&fake, 500).events_interval_s;
    println!("\nout-of-band change -> store, through the events feed every {interval_s} s:");
    engine.full_sync(id).await.unwrap();
    let mut rx = engine.bus().subscribe();
    engine.start(Workers { driver: false, tiers: false, feed: true, ..Workers::NONE }, Some(&[id])).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stored = engine.store().vms(&VmFilter { account_id: Some(id), state: None }).unwrap();
    let interval = Duration::from_secs(u64::from(interval_s));
    let mut latencies = Vec::new();
    counted(&fake).await;
    for vm in stored.iter().filter(|v| matches!(v.state, PowerState::Running | PowerState::Stopped)).take(30) {
        // Changes come at any moment of the feed's cycle, not just after a read.
        let pause = rand::rng().random_range(0..interval.as_millis() as u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        while rx.try_recv().is_ok() {}
        let to = if vm.state == PowerState::Running { "down" } else { "up" };
        let t = Instant::now();
        fake.control(&format!("vms/{}/state", vm.provider_id), Some(json!({ "state": to }))).await;
        loop {
            if let Ok(Event::VmsChanged { changes, .. }) = rx.recv().await {
                if changes.iter().any(|c| c.vm.id == vm.id) {
                    break;
                }
            }
        }
        latencies.push(ms(t.elapsed()));
    }
    let c = counted(&fake).await;
    latencies.sort_unstable();
    let n = latencies.len();
    println!(
        "  n = {n}: median {} ms, p95 {} ms, max {} ms, min {} ms; requests meanwhile: events {}, VM reads {}, lists {}",
        latencies[n / 2],
        latencies[(n * 95).div_ceil(100) - 1],
        latencies[n - 1],
        latencies[0],
        c["list_events"],
        c["get_vm"],
        c["list_vms"].as_u64().unwrap_or(0)
    );
}
