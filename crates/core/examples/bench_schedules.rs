//! The scheduler at scale: 1000 schedules over 10 000 demo VMs.
//!
//!     cargo run --release -p powerdeck-core --example bench_schedules [-- VMS SCHEDULES IDLE_SECONDS]
//!
//! Measures (1) the time to compute every schedule's next occurrence (what
//! a reload after any change costs), (2) the process's CPU while the
//! scheduler idles with all of them loaded, and (3) the delay from an
//! occurrence's time to its first operation being submitted, for a
//! schedule on 100 VMs set to the next whole minute.
//!
//! The schedules are weekday times, cron patterns and (non-enforced)
//! periods spread over the day, each on one of 100 groups of 100 VMs. None
//! comes due during the idle window (they are all at least an hour away).

use chrono::{Duration as ChronoDuration, Timelike, Utc};
use powerdeck_core::model::{Initiator, OpKind};
use powerdeck_core::provider::calls::RateLimit;
use powerdeck_core::provider::sim::SimConfig;
use powerdeck_core::schedule::{Schedule, Target, When};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, Event, Workers};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// This process's user + system CPU time, from /proc (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

fn schedule(name: String, when: When, group: String) -> Schedule {
    Schedule {
        id: 0,
        name,
        enabled: true,
        zone: "Europe/Berlin".into(),
        when,
        target: Target::Group(group),
        action: Some(OpKind::Stop),
        force: false,
        skip_dates: vec![],
        grace_minutes: 15,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let vms = *args.first().unwrap_or(&10_000) as u32;
    let count = *args.get(1).unwrap_or(&1000) as usize;
    let idle_s = *args.get(2).unwrap_or(&60);

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let cfg = EngineConfig { rate_limit: RateLimit { per_second: 100_000.0, burst: 100_000 }, ..EngineConfig::default() };
    let engine = Engine::with_store(store.clone(), dir.path(), cfg).unwrap();
    let fleet = SimConfig { size: vms, latency_ms: 1, page_size: 1000, drift_per_hour: 0.0, feed: false, stubborn_rate: 0.0, ..SimConfig::default() };
    let account = engine.add_account("bench", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
    engine.full_sync(account.id).await.unwrap();
    let names: Vec<String> = store.vms(&VmFilter { account_id: Some(account.id), state: None }).unwrap().into_iter().map(|v| v.name).collect();
    let groups = 100.min(names.len());
    let per = names.len() / groups;
    for g in 0..groups {
        engine.save_group(&format!("g{g:03}"), &names[g * per..(g + 1) * per], None, false).unwrap();
    }

    // Every schedule at least an hour away from now, in Berlin time.
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let base = Utc::now().with_timezone(&berlin) + ChronoDuration::hours(1);
    let t = Instant::now();
    for i in 0..count {
        let hour = (base.hour() as usize + i % 20) % 24;
        let minute = (i * 7) % 60;
        let when = match i % 3 {
            0 => When::parse(&format!("weekdays at {hour:02}:{minute:02}")).unwrap(),
            1 => When::parse(&format!("cron {minute} {hour} * * *")).unwrap(),
            _ => When::parse(&format!("mon-sun {hour:02}:{minute:02}-{:02}:{minute:02}", (hour + 2) % 24)).unwrap(),
        };
        engine.save_schedule(schedule(format!("s{i:04}"), when, format!("g{:03}", i % groups)), false).unwrap();
    }
    let save_ms = t.elapsed().as_secs_f64() * 1000.0;

    let mut reloads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let n = engine.reload_schedules().unwrap();
        reloads.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(n, count);
    }
    reloads.sort_by(|a, b| a.partial_cmp(b).unwrap());

    // The scheduler alone, idle: nothing comes due.
    engine.start(Workers { schedules: true, ..Workers::NONE }, None).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(Duration::from_secs(idle_s)).await;
    let idle_cpu = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0;

    // One schedule at the next whole minute at least 10 s away, on 100 VMs.
    let soon = Utc::now() + ChronoDuration::seconds(10);
    let at = soon.with_second(0).unwrap().with_nanosecond(0).unwrap() + ChronoDuration::minutes(1);
    let at_ms = at.timestamp_millis();
    let mut events = engine.bus().subscribe();
    let when = When::parse(&at.with_timezone(&berlin).format("%Y-%m-%d %H:%M").to_string()).unwrap();
    engine.save_schedule(schedule("soon".into(), when, "g000".into()), false).unwrap();
    engine.start(Workers::DRIVER, None).unwrap();
    let (claim_ms, submit_ms) = tokio::time::timeout(Duration::from_secs(180), async {
        let mut claimed = None;
        loop {
            match events.recv().await {
                Ok(Event::Fired { firing }) if claimed.is_none() => claimed = Some(firing.claimed_at - at_ms),
                Ok(Event::Operation { op }) if op.initiator == Initiator::Schedule => {
                    if let Some(submitted) = op.submitted_at {
                        return (claimed.unwrap_or(-1), submitted - at_ms);
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("bus closed: {e}"),
            }
        }
    })
    .await
    .expect("the schedule fired");

    println!(
        "| VMs | schedules | save all | compute all next runs (median of 5) | idle CPU over {idle_s} s | occurrence → claimed | occurrence → first submit |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!("| {vms} | {count} | {save_ms:.0} ms | {:.1} ms | {idle_cpu:.2} % | {claim_ms} ms | {submit_ms} ms |", reloads[2]);
}
