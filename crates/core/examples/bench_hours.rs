//! The hours report over a month of heavy history.
//!
//!     cargo run --release -p powerdeck-core --example bench_hours [-- VMS CHANGES_PER_DAY]
//!
//! 10 000 demo VMs, each changing state 20 times a day for 30 days (6
//! million history rows, written straight into the store), the account
//! watched throughout. Measures the monthly report by account and by VM,
//! and the store's size on disk.

use chrono::{Datelike, TimeZone, Utc};
use powerdeck_core::engine::report::{Rates, ReportBy};
use powerdeck_core::model::now_ms;
use powerdeck_core::provider::calls::RateLimit;
use powerdeck_core::provider::sim::SimConfig;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig};
use std::sync::Arc;
use std::time::Instant;

const DAY: i64 = 86_400_000;

fn main() {
    let args: Vec<i64> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let vms = *args.first().unwrap_or(&10_000);
    let per_day = *args.get(1).unwrap_or(&20);
    let rt = tokio::runtime::Runtime::new().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("powerdeck.sqlite");
    let store = Arc::new(Store::open(&db).unwrap());
    let cfg = EngineConfig { rate_limit: RateLimit { per_second: 100_000.0, burst: 100_000 }, ..EngineConfig::default() };
    let engine = Engine::with_store(store.clone(), dir.path(), cfg).unwrap();
    let fleet = SimConfig { size: vms as u32, latency_ms: 1, page_size: 1000, drift_per_hour: 0.0, feed: false, ..SimConfig::default() };
    let account = engine.add_account("bench", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
    rt.block_on(engine.full_sync(account.id)).unwrap();
    let ids: Vec<i64> = store.vms(&VmFilter::default()).unwrap().into_iter().map(|v| v.id).collect();

    // Last month, in UTC.
    let today = Utc::now().date_naive();
    let (y, m) = if today.month() == 1 { (today.year() - 1, 12) } else { (today.year(), today.month() - 1) };
    let from = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap().timestamp_millis();
    let to = Utc.with_ymd_and_hms(today.year(), today.month(), 1, 0, 0, 0).unwrap().timestamp_millis();
    let days = (to - from) / DAY;

    let t = Instant::now();
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    let tx = conn.transaction().unwrap();
    let mut rows = 0u64;
    {
        let mut insert = tx
            .prepare("INSERT INTO history (vm_id, at, from_state, to_state, raw_state, source, operation_id) VALUES (?1, ?2, ?3, ?4, ?5, 'sync', NULL)")
            .unwrap();
        let mut seed = 0x9e3779b97f4a7c15u64;
        for &vm in &ids {
            let mut at = from - DAY;
            insert.execute(rusqlite::params![vm, at, Option::<String>::None, "running", "RUNNING"]).unwrap();
            let mut running = true;
            let step = DAY / per_day;
            for _ in 0..days * per_day {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                at += step / 2 + (seed % step as u64) as i64 / 2 + 1;
                let (f, t, raw) = if running { ("running", "stopped", "STOPPED") } else { ("stopped", "running", "RUNNING") };
                insert.execute(rusqlite::params![vm, at, f, t, raw]).unwrap();
                running = !running;
                rows += 1;
            }
        }
        tx.execute("INSERT INTO coverage (account_id, from_ms, to_ms) VALUES (?1, ?2, ?3)", rusqlite::params![account.id, from - DAY, now_ms()]).unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    let fill_s = t.elapsed().as_secs_f64();

    let mut timings = Vec::new();
    for by in [ReportBy::Account, ReportBy::Vm] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let r = engine.hours_report(from, to, by, &chrono_tz::Tz::UTC, &Rates { default: Some(0.1), ..Rates::default() }, now_ms()).unwrap();
            runs.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.total.hours.unknown, 0);
            assert_eq!(r.total.hours.total(), (to - from) * ids.len() as i64);
        }
        runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        timings.push(runs[1]);
    }
    let t = Instant::now();
    let mut n = 0u64;
    store.scan_changes(from, to, |_, _| n += 1).unwrap();
    let scan_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let before = store.changes_before(from).unwrap().len() + store.first_changes_from(to).unwrap().len();
    let seeks_ms = t.elapsed().as_secs_f64() * 1000.0;
    eprintln!("scan alone: {scan_ms:.0} ms for {n} rows; state before/after for every VM: {seeks_ms:.0} ms ({before})");
    let size: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("powerdeck.sqlite"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    println!("| VMs | history rows in the month | fill | monthly report by account (median of 3) | by VM | store on disk |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!("| {} | {rows} | {fill_s:.0} s | {:.0} ms | {:.0} ms | {:.0} MB |", ids.len(), timings[0], timings[1], size as f64 / 1e6);
}
