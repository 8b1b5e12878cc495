//! Azure benchmark on the ARM fake (tests/fakes/azure): 5000 VMs over 5
//! subscriptions, 1000 per page.
//!
//!     POWERDECK_VENV=/path/to/.venv cargo run --release -p powerdeck-core --example bench_azure [-- IDLE_SECONDS]
//!
//! Reports the first and an unchanged full sync (wall time, list calls, rows
//! written), azure-mgmt-compute listing the same VMs on the same fake
//! (`witness.py bench`), and the ARM calls an idle account makes at the
//! default polling tiers over IDLE_SECONDS (default 120), against ARM's
//! 12 000 reads per hour per subscription.

use powerdeck_core::provider::azure::AzureProvider;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::Store;
use powerdeck_core::{Engine, EngineConfig, Event, Workers};
use powerdeck_testkit::azure::{AzureFake, SECRET};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SUBSCRIPTIONS: usize = 5;
const PER_SUBSCRIPTION: usize = 1000;

#[tokio::main]
async fn main() {
    let idle_s: u64 = std::env::args().nth(1).map(|s| s.parse().expect("IDLE_SECONDS is a number")).unwrap_or(120);
    let arm = AzureFake::start(&["--subscriptions", &SUBSCRIPTIONS.to_string(), "--vms", &PER_SUBSCRIPTION.to_string(), "--page-size", "1000"]);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let engine = Engine::with_store(store.clone(), dir.path(), EngineConfig::default()).unwrap();
    let cfg = arm.config();
    let account = engine.add_account("bench", "azure", serde_json::to_value(&cfg).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
    engine.set_provider(account.id, Arc::new(AzureProvider::new(&cfg, Some(Secret::new(SECRET)), engine.calls(account.id)).unwrap()));

    println!("| sync | VMs | wall | list calls (statusOnly + full) | other ARM calls | rows written |");
    println!("|---|---:|---:|---:|---:|---:|");
    for label in ["first", "unchanged"] {
        reset(&arm).await;
        let before = store.rows_written();
        let t = Instant::now();
        let s = engine.full_sync(account.id).await.unwrap();
        let wall = t.elapsed().as_millis();
        let c = arm.fake.calls().await;
        println!(
            "| {label} | {} | {wall} ms | {} ({} + {}) | {} (subscriptions {}, sign-in {}) | {} |",
            s.vms,
            s.list_calls,
            n(&c, "list_status_only"),
            n(&c, "list") - n(&c, "list_status_only"),
            n(&c, "subscriptions") + n(&c, "get_vm"),
            n(&c, "subscriptions"),
            n(&c, "token"),
            store.rows_written() - before
        );
    }

    reset(&arm).await;
    let sdk = arm.fake.witness("azure", &["bench"]);
    let c = arm.fake.calls().await;
    println!(
        "\nazure-mgmt-compute on the same fake: {} VMs statusOnly in {:.0} ms, {} in full in {:.0} ms ({} statusOnly + {} full list calls); sign-in {:.0} ms, subscriptions {:.0} ms",
        sdk["vms_status_only"],
        secs(&sdk, "status_only_s"),
        sdk["vms_full"],
        secs(&sdk, "full_s"),
        n(&c, "list_status_only"),
        n(&c, "list") - n(&c, "list_status_only"),
        secs(&sdk, "sign_in_s"),
        secs(&sdk, "subscriptions_s"),
    );

    // Idle at the default tiers: the polling loop's first sync, then a window of nothing happening.
    let mut events = engine.bus().subscribe();
    engine.start(Workers { driver: true, tiers: true, feed: false, ..Workers::NONE }, Some(&[account.id])).unwrap();
    while !matches!(events.recv().await, Ok(Event::SyncFinished { .. })) {}
    reset(&arm).await;
    let rows = store.rows_written();
    let t = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(idle_s);
    // When each full sync of the window ended (the previous one ended at 0).
    let (mut syncs, mut vm_rows) = (vec![Duration::ZERO], 0);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::SyncFinished { changed, .. })) => {
                syncs.push(t.elapsed());
                vm_rows += changed;
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let minutes = t.elapsed().as_secs_f64() / 60.0;
    let c = arm.fake.calls().await;
    // Every ARM request the fake counts (`list_status_only` is a part of `list`; sign-in is not ARM).
    let arm_calls: u64 = ["subscriptions", "get_subscription", "list", "list_by_rg", "get_vm", "instance_view", "operation_status", "operation_result"]
        .iter()
        .map(|k| n(&c, k))
        .sum();
    let full_syncs = (syncs.len() - 1).max(1) as f64;
    let every = syncs.last().unwrap().as_secs_f64() / full_syncs;
    let per_minute = arm_calls as f64 / full_syncs / every * 60.0;
    let reads_per_sub_hour = (n(&c, "list") + n(&c, "get_vm") + n(&c, "instance_view")) as f64 / full_syncs / every * 3600.0 / SUBSCRIPTIONS as f64;
    println!(
        "\nidle for {idle_s} s at the default tiers: {} full syncs, one every {every:.1} s; {arm_calls} ARM calls (list {}, subscriptions {}, VM reads {}) in {:.1} min, sign-ins {}, VM rows written {vm_rows} (rows in all: {}, the account's last-contact time)",
        syncs.len() - 1,
        n(&c, "list"),
        n(&c, "subscriptions"),
        n(&c, "get_vm") + n(&c, "instance_view"),
        minutes,
        n(&c, "token"),
        store.rows_written() - rows
    );
    println!(
        "steady state: {per_minute:.1} ARM calls/min; per subscription {reads_per_sub_hour:.0} reads/hour = {:.1} % of ARM's 12 000; subscription lists (tenant reads): {:.0}/hour",
        reads_per_sub_hour / 120.0,
        n(&c, "subscriptions") as f64 / full_syncs / every * 3600.0
    );
    engine.shutdown();
}

async fn reset(arm: &AzureFake) {
    arm.fake.control("calls/reset", Some(serde_json::json!({}))).await;
}

fn n(calls: &Value, key: &str) -> u64 {
    calls[key].as_u64().unwrap_or(0)
}

fn secs(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or(0.0) * 1000.0
}
