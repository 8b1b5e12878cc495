//! The operation driver's own cost with many operations in flight.
//!
//!     cargo run --release -p powerdeck-core --example bench_driver -- 1000 20
//!
//! Starts N stops on a demo fleet whose stops take far longer than the
//! measurement, so every operation stays in flight, then measures for S
//! seconds: the process's CPU time per second and the store's rows written
//! per second (SQLite's change counter). Latency 0, no rate limit, so what
//! is measured is the driver's work, not the simulated network.

use powerdeck_core::model::{OpKind, PowerState};
use powerdeck_core::provider::sim::SimConfig;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, OpOptions, Workers};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().map(|a| a.parse().unwrap()).unwrap_or(1000);
    let secs: u64 = args.next().map(|a| a.parse().unwrap()).unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let mut cfg = EngineConfig::default();
    cfg.rate_limit.per_second = 1e6;
    cfg.rate_limit.burst = 1_000_000;
    cfg.timeouts.stop_s = 3600;
    let engine = Engine::with_store(store.clone(), dir.path(), cfg).unwrap();
    let fleet = SimConfig {
        size: n * 2,
        latency_ms: 0,
        page_size: 100_000,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        feed: false,
        stop_delay_ms: 3_600_000,
        ..SimConfig::default()
    };
    let account = engine.add_account("bench", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
    engine.full_sync(account.id).await.unwrap();
    let running: Vec<i64> =
        store.vms(&VmFilter { account_id: Some(account.id), state: Some(PowerState::Running) }).unwrap().into_iter().take(n as usize).map(|v| v.id).collect();
    assert_eq!(running.len(), n as usize, "the fleet has {n} running VMs");
    for id in &running {
        engine.request(*id, OpKind::Stop, OpOptions::default()).await.unwrap();
    }
    engine.start(Workers::DRIVER, Some(&[account.id])).unwrap();
    // Let the driver settle into its rhythm before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (cpu0, rows0, t0) = (cpu_seconds(), store.rows_written(), Instant::now());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds() - cpu0) / wall;
    let rows = (store.rows_written() - rows0) as f64 / wall;
    let in_flight = store.in_flight_operations().unwrap().len();
    println!("| {n} in flight ({in_flight} still at the end) | {:.1} % of one core | {rows:.0} rows/s |", cpu * 100.0);
}
