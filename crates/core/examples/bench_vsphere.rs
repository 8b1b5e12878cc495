//! vSphere benchmark against vcsim: initial inventory of a large model, and
//! the latency from an out-of-band power change (another SOAP session) to
//! the event on Powerdeck's bus, through the WaitForUpdatesEx feed.
//!
//!     target/vcsim -vm 500 &      # 2000 VMs; prints its URL
//!     cargo run --release -p powerdeck-core --example bench_vsphere -- http://127.0.0.1:PORT/sdk

use powerdeck_core::model::PowerState;
use powerdeck_core::provider::vsphere::{VsphereConfig, VsphereProvider};
use powerdeck_core::provider::{PowerAction, Provider};
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, Event, Workers};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let endpoint = std::env::args().nth(1).expect("usage: bench_vsphere URL");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let engine = Engine::with_store(store.clone(), dir.path(), EngineConfig::default()).unwrap();
    let config = VsphereConfig { endpoint: endpoint.clone(), username: "bench".into(), ..Default::default() };
    let account = engine.add_account("vc", "vsphere", serde_json::to_value(&config).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
    engine.set_provider(account.id, Arc::new(VsphereProvider::new(&config, Some(Secret::new("pass")), engine.calls(account.id)).unwrap()));

    let t = Instant::now();
    let s = engine.full_sync(account.id).await.unwrap();
    let stats = engine.runtime(account.id).unwrap().stats().snapshot();
    // Plus RetrieveServiceContent, Login, CreateContainerView and one host-name lookup.
    println!("initial inventory: {} VMs in {} ms, {} list call(s); SOAP calls incl. login: {}", s.vms, t.elapsed().as_millis(), s.list_calls, stats.list + 4);

    let mut rx = engine.bus().subscribe();
    engine.start(Workers { feed: true, ..Workers::NONE }, Some(&[account.id])).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await; // the feed's first (inventory) answer
    while rx.try_recv().is_ok() {}
    let other = VsphereProvider::new(
        &VsphereConfig { endpoint, username: "other".into(), ..Default::default() },
        Some(Secret::new("pass")),
        powerdeck_core::provider::calls::Calls::direct(),
    )
    .unwrap();
    let vms = store.vms(&VmFilter { account_id: Some(account.id), state: None }).unwrap();
    let mut latencies = Vec::new();
    for vm in vms.iter().take(20) {
        let t = Instant::now();
        // Toggle, so the benchmark can be run again against the same simulator.
        let action = if vm.state == PowerState::Running { PowerAction::PowerOff } else { PowerAction::Start };
        other.submit(&vm.provider_id, action).await.unwrap();
        loop {
            if let Ok(Event::VmsChanged { changes, .. }) = rx.recv().await {
                if changes.iter().any(|c| c.vm.id == vm.id) {
                    break;
                }
            }
        }
        latencies.push(t.elapsed().as_millis());
    }
    latencies.sort_unstable();
    println!(
        "out-of-band change → event on the bus (n = {}): median {} ms, p95 {} ms, max {} ms",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[(latencies.len() * 95) / 100 - 1],
        latencies[latencies.len() - 1]
    );
}
