//! Full-sync benchmark on the demo fleet.
//!
//!     cargo run --release -p powerdeck-core --example bench_sync -- 10000 100000
//!
//! For each size: the first full sync (every row new), a second one with
//! nothing changed (must write 0 rows), and one reconcile committing a
//! change to every VM. Simulated latency 20 ms per call, page size 1000.
//!
//! The client-side rate limit (default 10 calls/s after a burst of 100) is
//! lifted here so the engine's own cost is measured: with the default, a
//! second 100 000-VM sync right after the first waits for tokens.

use powerdeck_core::model::{Observation, PowerState, Source};
use powerdeck_core::provider::calls::RateLimit;
use powerdeck_core::provider::sim::SimConfig;
use powerdeck_core::reconcile::{reconcile, Input};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig};
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let sizes: Vec<u32> = std::env::args().skip(1).map(|a| a.parse().expect("VM counts")).collect();
    let sizes = if sizes.is_empty() { vec![10_000] } else { sizes };
    println!("| VMs | first sync | list calls | unchanged sync | rows written | commit all changed |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let cfg = EngineConfig { rate_limit: RateLimit { per_second: 100_000.0, burst: 100_000 }, ..EngineConfig::default() };
        let engine = Engine::with_store(store.clone(), dir.path(), cfg).unwrap();
        let fleet = SimConfig { size: n, latency_ms: 20, page_size: 1000, drift_per_hour: 0.0, feed: false, ..SimConfig::default() };
        let account = engine.add_account("bench", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
        // Building the simulated cloud is not part of what is measured.
        engine.runtime(account.id).unwrap();

        let first = engine.full_sync(account.id).await.unwrap();
        let before = store.rows_written();
        let t = Instant::now();
        let second = engine.full_sync(account.id).await.unwrap();
        let unchanged_ms = t.elapsed().as_millis();
        let written = store.rows_written() - before;
        assert_eq!(second.changed, 0);

        let flipped: Vec<Observation> = store
            .vms(&VmFilter { account_id: Some(account.id), state: None })
            .unwrap()
            .into_iter()
            .map(|v| Observation {
                provider_id: v.provider_id,
                name: v.name,
                state: if v.state == PowerState::Running { PowerState::Stopped } else { PowerState::Running },
                raw_state: "FLIPPED".into(),
                tools: v.tools,
                location: v.location,
                facts: v.facts,
            })
            .collect();
        let t = Instant::now();
        let out = reconcile(
            &store,
            engine.bus(),
            Input { account_id: account.id, observations: &flipped, source: Source::Sync, gone: powerdeck_core::reconcile::Gone::Nothing, closing: None },
        )
        .unwrap();
        let commit_ms = t.elapsed().as_millis();
        assert_eq!(out.state_changes, n as usize);
        println!("| {n} | {} ms | {} | {unchanged_ms} ms ({} calls) | {written} | {commit_ms} ms |", first.duration_ms, first.list_calls, second.list_calls);
    }
}
