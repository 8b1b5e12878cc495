//! Truth-of-state chaos run: does the inventory say what the provider says?
//!
//!     cargo run --release -p powerdeck-core --example chaos -- [--vms 1000] [--secs 300]
//!         [--ops-per-sec 1] [--failure-rate 0.05] [--drift-per-hour 6]
//!         [--outage-at 120] [--outage-secs 45] [--sample-ms 100] [--grace-ms 1000]
//!         [--no-feed] [--seed 7] [--strategy powerdeck|seed-a|seed-b]
//!         [--full-every-ms N]
//!
//! `--strategy` sets how the inventory is kept, to compare Powerdeck's
//! tiers with the designs it learned from on the same seeded fleet:
//! `seed-a` polls VMs mid-transition every 10 s and follows an operation
//! every 4 s, with no background sync; `seed-b` polls every VM every 30 s
//! (all VMs are "active" here) plus a full sync every 5 min. Both are poll
//! only (no change feed). The report ends with the calls each made.
//! `--full-every-ms` lists the whole inventory every N ms instead of at the
//! cadence the engine derives from the list's cost: what more listing buys.
//!
//! The engine runs with its default configuration (tiers, timeouts, retry)
//! against a demo fleet with out-of-band changes, failing operations and one
//! provider outage, while a chaos driver keeps asking for power operations.
//! Every `--sample-ms` the stored inventory is compared with the simulator's
//! ground truth, VM by VM:
//!
//! * agreement: the share of VM-samples where the stored state equals the
//!   truth and is not flagged stale, with the provider reachable; reported
//!   raw and outside a grace window after each true change (the time any
//!   client needs to hear of a change);
//! * while the provider is unreachable: the share of VM-samples that are
//!   either right or honestly flagged stale (never "wrong but shown current");
//! * detection latency: from the first sample where the truth changed to the
//!   first sample where the store shows it, split by cause (an operation this
//!   run asked for, or out of band). Resolution is one sample period;
//! * stuck operations: operations not ended by their own deadline (+30 s).

use powerdeck_core::engine::Workers;
use powerdeck_core::model::{now_ms, Millis, OpKind, OpPhase, PowerState};
use powerdeck_core::provider::sim::world_path as sim_world_path;
use powerdeck_core::provider::sim::{normalize, SimConfig, World};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, OpOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Args {
    vms: u32,
    secs: u64,
    ops_per_sec: f64,
    failure_rate: f64,
    drift_per_hour: f64,
    outage_at: u64,
    outage_secs: u64,
    sample_ms: u64,
    grace_ms: i64,
    feed: bool,
    seed: u64,
    strategy: Strategy,
    full_every_ms: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Strategy {
    Powerdeck,
    SeedA,
    SeedB,
}

impl Strategy {
    /// The engine's tiers for this strategy (timeouts and retry as default).
    fn config(self) -> EngineConfig {
        const NEVER: u64 = powerdeck_core::engine::config::MAX_DURATION_MS;
        let d = EngineConfig::default();
        match self {
            Strategy::Powerdeck => d,
            Strategy::SeedA => EngineConfig {
                inflight_interval_ms: 4_000,
                transitional_interval_ms: 10_000,
                watched_interval_ms: NEVER,
                full_interval_ms: NEVER,
                full_min_interval_ms: NEVER,
                full_per_call_ms: 0,
                ..d
            },
            Strategy::SeedB => EngineConfig {
                transitional_interval_ms: 30_000,
                watched_interval_ms: 30_000,
                full_interval_ms: 300_000,
                full_min_interval_ms: 300_000,
                full_per_call_ms: 0,
                ..d
            },
        }
    }
}

fn num<T: std::str::FromStr>(flag: &str, value: &str) -> T {
    value.parse().unwrap_or_else(|_| panic!("{flag}: cannot read {value:?}"))
}

fn parse_args() -> Args {
    let mut a = Args {
        vms: 1000,
        secs: 300,
        ops_per_sec: 1.0,
        failure_rate: 0.05,
        drift_per_hour: 6.0,
        outage_at: 120,
        outage_secs: 45,
        sample_ms: 100,
        grace_ms: 1000,
        feed: true,
        seed: 7,
        strategy: Strategy::Powerdeck,
        full_every_ms: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--no-feed" {
            a.feed = false;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--vms" => a.vms = num(&flag, &value),
            "--secs" => a.secs = num(&flag, &value),
            "--ops-per-sec" => a.ops_per_sec = num(&flag, &value),
            "--failure-rate" => a.failure_rate = num(&flag, &value),
            "--drift-per-hour" => a.drift_per_hour = num(&flag, &value),
            "--outage-at" => a.outage_at = num(&flag, &value),
            "--outage-secs" => a.outage_secs = num(&flag, &value),
            "--sample-ms" => a.sample_ms = num(&flag, &value),
            "--grace-ms" => a.grace_ms = num(&flag, &value),
            "--seed" => a.seed = num(&flag, &value),
            "--full-every-ms" => a.full_every_ms = Some(num(&flag, &value)),
            "--strategy" => {
                a.strategy = match value.as_str() {
                    "powerdeck" => Strategy::Powerdeck,
                    "seed-a" => Strategy::SeedA,
                    "seed-b" => Strategy::SeedB,
                    other => panic!("--strategy: powerdeck, seed-a or seed-b, not {other}"),
                };
                if a.strategy != Strategy::Powerdeck {
                    a.feed = false;
                }
            }
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// When the chaos driver had an operation open on a VM (end `None`: still open).
type OpWindows = Arc<Mutex<HashMap<String, Vec<(Millis, Option<Millis>)>>>>;

#[derive(Default)]
struct Counters {
    requested: u64,
    refused: HashMap<String, u64>,
    ended: HashMap<&'static str, u64>,
    /// Operations that ran past their own deadline by more than 30 s.
    overdue: Vec<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Cause {
    Operation,
    OutOfBand,
    /// Happened while the provider was unreachable: seen only after recovery.
    DuringOutage,
}

struct Pending {
    state: PowerState,
    since: Millis,
    cause: Cause,
}

#[derive(Default)]
struct Tally {
    reachable: u64,
    agree: u64,
    in_grace: u64,
    in_grace_agree: u64,
    /// Disagreements outside the grace window, by kind.
    wrong_inflight_mask: u64,
    wrong_stale: u64,
    wrong_other: u64,
    /// Provider reachable, VM not flagged stale: what the UI presents as current.
    shown_current: u64,
    shown_current_right: u64,
    unreachable: u64,
    unreachable_honest: u64,
    latencies: HashMap<Cause, Vec<i64>>,
    superseded: u64,
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let mut config = args.strategy.config();
    if let Some(every) = args.full_every_ms {
        (config.full_interval_ms, config.full_min_interval_ms, config.full_per_call_ms) = (every, every, 0);
    }
    let engine = Engine::with_store(store.clone(), dir.path(), config).unwrap();
    let fleet = SimConfig {
        size: args.vms,
        seed: args.seed,
        failure_rate: args.failure_rate,
        drift_per_hour: args.drift_per_hour,
        feed: args.feed,
        ..SimConfig::default()
    };
    let account = engine.add_account("chaos", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
    let world = World::open(&sim_world_path(dir.path(), account.id), &fleet).unwrap();
    engine.full_sync(account.id).await.unwrap();
    if args.strategy == Strategy::SeedB {
        for vm in store.vms(&VmFilter { account_id: Some(account.id), state: None }).unwrap() {
            store.set_watched(vm.id, true).unwrap();
        }
    }
    let calls_before = engine.runtime(account.id).unwrap().stats().snapshot();
    engine.start(Workers::ALL, Some(&[account.id])).unwrap();

    let windows: OpWindows = Arc::default();
    let counters = Arc::new(Mutex::new(Counters::default()));
    let started = now_ms();
    let load_until = started + (args.secs * 1000) as Millis;
    let outage = (started + (args.outage_at * 1000) as Millis, started + ((args.outage_at + args.outage_secs) * 1000) as Millis);

    let driver = tokio::spawn(chaos_driver(engine.clone(), account.id, args.seed, args.ops_per_sec, load_until, windows.clone(), counters.clone()));

    let mut tally = Tally::default();
    let mut truth_seen: HashMap<String, PowerState> = HashMap::new();
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut last_truth_change: HashMap<String, Millis> = HashMap::new();
    let mut outage_set = false;
    let filter = VmFilter { account_id: Some(account.id), state: None };
    let mut tick = tokio::time::interval(Duration::from_millis(args.sample_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = now_ms();
        if !outage_set && now >= outage.0 && args.outage_secs > 0 {
            world.set_outage_until(outage.1).unwrap();
            outage_set = true;
        }
        let load_over = now >= load_until;
        if load_over && driver.is_finished() {
            break;
        }
        let truth = world.truth().unwrap();
        let stored: HashMap<String, (PowerState, bool)> = store.vms(&filter).unwrap().into_iter().map(|v| (v.provider_id, (v.state, v.stale))).collect();
        let reachable = !(outage.0..outage.1).contains(&now);
        let open = windows.lock().unwrap().clone();
        for (id, raw) in truth {
            let t = normalize(&raw);
            let (s, stale) = stored.get(&id).copied().unwrap_or((PowerState::Unknown, false));
            let prev = truth_seen.insert(id.clone(), t);
            if prev.is_some_and(|p| p != t) {
                let cause = if !reachable {
                    Cause::DuringOutage
                } else if op_open(&open, &id, now) {
                    Cause::Operation
                } else {
                    Cause::OutOfBand
                };
                if pending.insert(id.clone(), Pending { state: t, since: now, cause }).is_some() {
                    tally.superseded += 1;
                }
                last_truth_change.insert(id.clone(), now);
            }
            if let Some(p) = pending.get(&id) {
                if s == p.state && !stale {
                    tally.latencies.entry(p.cause).or_default().push(now - p.since);
                    pending.remove(&id);
                }
            }
            let right = s == t && !stale;
            if !reachable {
                tally.unreachable += 1;
                tally.unreachable_honest += u64::from(right || stale);
                continue;
            }
            tally.reachable += 1;
            tally.agree += u64::from(right);
            if !stale {
                tally.shown_current += 1;
                tally.shown_current_right += u64::from(s == t);
            }
            let in_grace = last_truth_change.get(&id).is_some_and(|c| now - c < args.grace_ms);
            if in_grace {
                tally.in_grace += 1;
                tally.in_grace_agree += u64::from(right);
            } else if !right {
                if stale {
                    tally.wrong_stale += 1;
                } else if s.is_transitional() && op_open(&open, &id, now) {
                    tally.wrong_inflight_mask += 1;
                } else {
                    tally.wrong_other += 1;
                }
            }
        }
    }
    let active_left = store.active_operations(account.id).unwrap().len();
    let calls = engine.runtime(account.id).unwrap().stats().snapshot();
    engine.shutdown();
    report(&args, &tally, &counters.lock().unwrap(), active_left, pending.len(), now_ms() - started);
    let ran_s = (now_ms() - started) as f64 / 1000.0;
    let reads = (calls.list + calls.refresh + calls.poll + calls.watch) - (calls_before.list + calls_before.refresh + calls_before.poll + calls_before.watch);
    let all = reads + (calls.submit + calls.other) - (calls_before.submit + calls_before.other);
    println!(
        "| provider calls per second (all / reads: list {}, refresh {}, poll {}, feed {}) | {:.2} / {:.2} |",
        calls.list - calls_before.list,
        calls.refresh - calls_before.refresh,
        calls.poll - calls_before.poll,
        calls.watch - calls_before.watch,
        all as f64 / ran_s,
        reads as f64 / ran_s
    );
}

fn op_open(windows: &HashMap<String, Vec<(Millis, Option<Millis>)>>, id: &str, now: Millis) -> bool {
    // A second after the operation ends still counts: the truth sample that
    // shows its last transition may come just after.
    windows.get(id).is_some_and(|ws| ws.iter().any(|(s, e)| *s <= now && e.is_none_or(|e| now <= e + 1000)))
}

/// Ask for power operations at a steady rate on VMs in a settled state, the
/// way a busy admin (or a schedule) would, and follow each to its end.
async fn chaos_driver(engine: Arc<Engine>, account_id: i64, seed: u64, per_sec: f64, until: Millis, windows: OpWindows, counters: Arc<Mutex<Counters>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC4A05);
    let mut tasks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_sec));
    let filter = VmFilter { account_id: Some(account_id), state: None };
    while now_ms() < until {
        tick.tick().await;
        let vms = engine.store().vms(&filter).unwrap();
        let busy: Vec<String> = windows.lock().unwrap().iter().filter(|(_, ws)| ws.iter().any(|w| w.1.is_none())).map(|(k, _)| k.clone()).collect();
        let candidates: Vec<_> = vms.into_iter().filter(|v| !v.stale && !v.state.is_transitional() && !busy.contains(&v.provider_id)).collect();
        if candidates.is_empty() {
            continue;
        }
        let vm = candidates[rng.random_range(0..candidates.len())].clone();
        let roll: f64 = rng.random();
        let kind = match vm.state {
            PowerState::Running if roll < 0.6 => OpKind::Stop,
            PowerState::Running if roll < 0.8 => OpKind::Reboot,
            PowerState::Running => OpKind::Suspend,
            _ => OpKind::Start,
        };
        let opts = OpOptions { allow_force: true, graceful_timeout: Some(Duration::from_secs(30)), wait_for_tools: false, ..OpOptions::default() };
        let engine = engine.clone();
        let windows = windows.clone();
        let counters = counters.clone();
        windows.lock().unwrap().entry(vm.provider_id.clone()).or_default().push((now_ms(), None));
        counters.lock().unwrap().requested += 1;
        tasks.push(tokio::spawn(async move {
            let close = |windows: &OpWindows| {
                if let Some(w) = windows.lock().unwrap().get_mut(&vm.provider_id).and_then(|ws| ws.last_mut()) {
                    w.1 = Some(now_ms());
                }
            };
            let op = match engine.request(vm.id, kind, opts).await {
                Ok(op) => op,
                Err(e) => {
                    close(&windows);
                    let reason = e.to_string();
                    let key = if reason.contains("unreachable") || reason.contains("outage") {
                        "provider unreachable"
                    } else if reason.contains("in progress")
                        || reason.contains("cannot be")
                        || reason.contains("not running")
                        || reason.contains("only a running")
                        || reason.contains("already")
                    {
                        "not allowed in the VM's current state"
                    } else if reason.contains("simulated API failure") {
                        "rejected by the provider (injected failure)"
                    } else {
                        "other"
                    };
                    if key == "other" {
                        eprintln!("refused: {reason}");
                    }
                    *counters.lock().unwrap().refused.entry(key.to_string()).or_default() += 1;
                    return;
                }
            };
            let deadline = op.deadline_at;
            let overdue = Duration::from_millis((deadline - now_ms()).max(0) as u64 + 30_000);
            match tokio::time::timeout(overdue, engine.wait(op.id, |_| {})).await {
                Ok(Ok(done)) => {
                    let key = match done.phase {
                        OpPhase::Succeeded => "succeeded",
                        OpPhase::Failed => "failed",
                        OpPhase::TimedOut => "timed-out",
                        _ => "other",
                    };
                    *counters.lock().unwrap().ended.entry(key).or_default() += 1;
                }
                Ok(Err(e)) => panic!("waiting for operation #{} failed: {e}", op.id),
                Err(_) => counters.lock().unwrap().overdue.push(op.id),
            }
            close(&windows);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "n/a".into();
    }
    format!("{:.3} %", part as f64 * 100.0 / whole as f64)
}

fn quantiles(v: &mut [i64]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("median {} ms, p95 {} ms, max {} ms (n = {})", at(0.5), at(0.95), v[v.len() - 1], v.len())
}

fn report(a: &Args, t: &Tally, c: &Counters, active_left: usize, undetected: usize, ran_ms: i64) {
    let mut t_lat = t.latencies.clone();
    println!(
        "## Chaos run: {} VMs, {} s of load ({} s total), strategy {:?}, feed {}{}",
        a.vms,
        a.secs,
        ran_ms / 1000,
        a.strategy,
        if a.feed { "on" } else { "off (poll only)" },
        a.full_every_ms.map(|ms| format!(", full sync every {ms} ms")).unwrap_or_default()
    );
    println!();
    println!("Fleet: seed {}, failure rate {}, drift {} changes/VM/hour, outage {} s at t = {} s. Load: {} operations/s. Sampling every {} ms; grace after a true change {} ms.", a.seed, a.failure_rate, a.drift_per_hour, a.outage_secs, a.outage_at, a.ops_per_sec, a.sample_ms, a.grace_ms);
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| agreement, provider reachable, all samples | {} of {} VM-samples |", pct(t.agree, t.reachable), t.reachable);
    let outside = t.reachable - t.in_grace;
    let agree_outside = t.agree - t.in_grace_agree;
    println!("| agreement outside the grace window | {} |", pct(agree_outside, outside));
    println!("| disagreement outside grace: in-flight op shown transitional while the guest has not moved | {} |", pct(t.wrong_inflight_mask, outside));
    println!("| disagreement outside grace: flagged stale | {} |", pct(t.wrong_stale, outside));
    println!("| disagreement outside grace: other | {} |", pct(t.wrong_other, outside));
    println!("| agreement among VM-samples shown as current (not stale), provider reachable | {} |", pct(t.shown_current_right, t.shown_current));
    println!("| provider unreachable: right or honestly flagged stale | {} of {} VM-samples |", pct(t.unreachable_honest, t.unreachable), t.unreachable);
    println!("| detection latency, operation-driven changes | {} |", quantiles(t_lat.entry(Cause::Operation).or_default()));
    println!("| detection latency, out-of-band changes | {} |", quantiles(t_lat.entry(Cause::OutOfBand).or_default()));
    println!(
        "| detection latency, changes made while the provider was unreachable (seen after recovery) | {} |",
        quantiles(t_lat.entry(Cause::DuringOutage).or_default())
    );
    println!("| true changes superseded before detection / still undetected at the end | {} / {} |", t.superseded, undetected);
    let refused: Vec<String> = c.refused.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let ended: Vec<String> = c.ended.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("| operations requested | {} (refused at request: {}) |", c.requested, if refused.is_empty() { "none".into() } else { refused.join(", ") });
    println!("| operations ended | {} |", ended.join(", "));
    println!("| stuck operations (past deadline + 30 s, or still active at the end) | {} |", c.overdue.len() + active_left);
}
