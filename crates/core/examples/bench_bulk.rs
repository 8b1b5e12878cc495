//! Bulk operations and runbooks at scale, on the demo fleet.
//!
//!     cargo run --release -p powerdeck-core --example bench_bulk [-- VMS]
//!
//! 1. A bulk stop of 1000 running VMs through the core's one entry point:
//!    (graceful, forced where a guest has no tools to ask), provider calls
//!    before the first submit (goal: one batched read per
//!    account), time from the request to the last submit, and to all
//!    verified beyond the fleet's own transition time. Engine defaults,
//!    including the account's rate limit (10 calls/s after a burst of 100).
//! 2. A 3-step runbook over 300 other running VMs (100 per step): the gap
//!    between one step's last verification and the next step's first submit
//!    (goal: at most the in-flight polling interval).

use powerdeck_core::model::{now_ms, Initiator, Millis, OpKind, PowerState};
use powerdeck_core::provider::sim::SimConfig;
use powerdeck_core::runbook::Runbook;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, Event, OpOptions, Workers};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TRANSITION_MS: u64 = 2_000;

#[tokio::main]
async fn main() {
    let bulk: usize = std::env::args().nth(1).map(|a| a.parse().expect("a VM count")).unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("powerdeck.sqlite");
    let store = Arc::new(Store::open(&db).unwrap());
    let cfg = EngineConfig::default();
    let inflight_ms = cfg.inflight_interval_ms;
    let engine = Engine::with_store(store.clone(), dir.path(), cfg).unwrap();
    let fleet = SimConfig {
        size: (bulk as u32 + 300) * 2,
        latency_ms: 20,
        page_size: 1000,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        failure_rate: 0.0,
        feed: false,
        stop_delay_ms: TRANSITION_MS,
        start_delay_ms: TRANSITION_MS,
        ..SimConfig::default()
    };
    let account = engine.add_account("bench", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
    engine.full_sync(account.id).await.unwrap();
    engine.start(Workers { runbooks: true, ..Workers::DRIVER }, None).unwrap();
    let running: Vec<_> = store.vms(&VmFilter { account_id: Some(account.id), state: Some(PowerState::Running) }).unwrap();
    assert!(running.len() >= bulk + 300, "the fleet has {} running VMs", running.len());
    let (targets, rest) = running.split_at(bulk);
    let stats = engine.runtime(account.id).unwrap().stats();

    // 1. Bulk stop.
    let before = stats.snapshot();
    let at_first_submit = Arc::new(Mutex::new(None));
    let mut events = engine.bus().subscribe();
    let watcher = {
        let (stats, seen) = (stats.clone(), at_first_submit.clone());
        tokio::spawn(async move {
            while let Ok(ev) = events.recv().await {
                if let Event::Operation { op } = ev {
                    if op.submitted_at.is_some() {
                        seen.lock().unwrap().get_or_insert(stats.snapshot());
                        return;
                    }
                }
            }
        })
    };
    let t0 = now_ms();
    let ids: Vec<i64> = targets.iter().map(|v| v.id).collect();
    let result = engine.request_many(&ids, OpKind::Stop, OpOptions { allow_force: true, ..OpOptions::default() }, None).await.unwrap();
    let batch = result.batch_id.expect("a batch");
    let _ = watcher.await;
    let first = at_first_submit.lock().unwrap().expect("a submit was seen");
    let reads_before_submit = (first.refresh - before.refresh, first.list - before.list);
    let (last_submit, last_verified) = wait_batch(&db, batch, bulk).await;
    let after = stats.snapshot();
    let outcome = store.batch_outcome(batch).unwrap().expect("the batch ended");

    // 2. A three-step runbook.
    let names: Vec<Vec<String>> = rest[..300].chunks(100).map(|c| c.iter().map(|v| v.name.clone()).collect()).collect();
    let mut toml = String::from("name = \"bench\"\non_failure = \"stop\"\n");
    for step in &names {
        toml.push_str(&format!("[[steps]]\naction = \"stop\"\nforce = true\nvms = {:?}\n", step));
    }
    let rb = Runbook::from_toml(&toml).unwrap();
    store.save_runbook(&rb, true).unwrap();
    let plan = engine.plan_runbook(&rb).unwrap();
    let r0 = now_ms();
    let run = engine.start_run(&rb, plan, Initiator::Cli).unwrap();
    let run = tokio::time::timeout(Duration::from_secs(600), engine.wait_run(run.id, |_| {})).await.expect("the run ends").unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let span = |batch: i64| -> (Millis, Millis) {
        conn.query_row("SELECT MIN(submitted_at), MAX(finished_at) FROM operations WHERE batch_id = ?1", [batch], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
    };
    let steps: Vec<(Millis, Millis)> = run.steps.iter().filter(|s| !s.rollback).filter_map(|s| s.batch_id).map(span).collect();
    let gaps: Vec<Millis> = steps.windows(2).map(|w| w[1].0 - w[0].1).collect();

    println!("Bulk stop ({bulk} VMs, one account, engine defaults; each stop takes the fleet {TRANSITION_MS} ms):");
    println!("| state reads before the first submit | list calls before it | request → last submit | request → all verified | beyond the transition time | calls in all (read/submit/poll) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {:.1} s | {:.1} s | {:.1} s | {}/{}/{} |",
        reads_before_submit.0,
        reads_before_submit.1,
        (last_submit - t0) as f64 / 1000.0,
        (last_verified - t0) as f64 / 1000.0,
        (last_verified - t0 - TRANSITION_MS as i64) as f64 / 1000.0,
        after.refresh - before.refresh,
        after.submit - before.submit,
        after.poll - before.poll
    );
    println!(
        "Outcome: {} succeeded, {} failed{}",
        outcome.succeeded,
        outcome.failed,
        outcome.failures.first().map(|(vm, why)| format!(" (first: {vm}: {why})")).unwrap_or_default()
    );
    println!();
    println!(
        "Runbook: 3 steps × 100 VMs (stop), ended {:?} in {:.1} s; in-flight polling interval {inflight_ms} ms:",
        run.phase,
        (now_ms() - r0) as f64 / 1000.0
    );
    println!("| gap: step 1 verified → step 2 first submit | step 2 → step 3 |");
    println!("|---:|---:|");
    println!("| {} ms | {} ms |", gaps.first().copied().unwrap_or(-1), gaps.get(1).copied().unwrap_or(-1));
    if let Some(summary) = &run.summary {
        println!("Run summary: {summary}");
    }
}

/// Wait until every operation of the batch has ended; the last submit and
/// the last verification.
async fn wait_batch(db: &std::path::Path, batch: i64, n: usize) -> (Millis, Millis) {
    let conn = rusqlite::Connection::open(db).unwrap();
    loop {
        let (done, last_submit, last_end): (i64, Option<Millis>, Option<Millis>) = conn
            .query_row("SELECT COUNT(finished_at), MAX(submitted_at), MAX(finished_at) FROM operations WHERE batch_id = ?1", [batch], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        if done as usize >= n {
            return (last_submit.unwrap(), last_end.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
