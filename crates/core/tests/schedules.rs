//! Schedules on the demo fleet, with an injected clock: the scheduler's
//! pass is called with "now", so no test waits for a wall-clock minute.
//! Each case: an occurrence runs once and is verified; missed runs inside
//! and outside the grace window; skip dates; two engines on one data
//! directory claim an occurrence exactly once; a firing left by a dead
//! process is adopted (nothing started, part started, too late); an
//! enforced period corrects an out-of-band start; a deleted VM is reported;
//! a scheduled runbook that fails rolls back; pause.

use chrono::{NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use powerdeck_core::model::{now_ms, BatchOutcome, Initiator, Millis, OpKind, OpPhase, PowerState, Source};
use powerdeck_core::provider::sim::{world_path, SimConfig, World};
use powerdeck_core::provider::PowerAction;
use powerdeck_core::runbook::{RunPhase, Runbook};
use powerdeck_core::schedule::{Days, FiringStatus, Purpose, Schedule, Target, When};
use powerdeck_core::store::schedules::Claim;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, Event, OpOptions, Workers};
use powerdeck_testkit::fast::fast_engine_config;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(30);
const MINUTE: Millis = 60_000;

struct Lab {
    dir: TempDir,
    engine: Arc<Engine>,
    account: i64,
    cfg: SimConfig,
}

fn fleet() -> SimConfig {
    SimConfig {
        size: 12,
        latency_ms: 1,
        page_size: 100,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        feed: false,
        start_delay_ms: 200,
        stop_delay_ms: 200,
        force_stop_delay_ms: 100,
        reboot_delay_ms: 200,
        suspend_delay_ms: 200,
        ..SimConfig::default()
    }
}

fn config() -> EngineConfig {
    let mut cfg = fast_engine_config();
    cfg.timeouts.stop_s = 1;
    cfg.timeouts.force_s = 10;
    cfg
}

impl Lab {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = Self::engine_on(dir.path());
        let cfg = fleet();
        let account = engine.add_account("lab", "sim", serde_json::to_value(&cfg).unwrap(), None).unwrap().id;
        engine.full_sync(account).await.unwrap();
        engine.start(Workers { runbooks: true, ..Workers::DRIVER }, None).unwrap();
        Self { dir, engine, account, cfg }
    }

    /// Another process's engine on the same data directory.
    fn engine_on(dir: &std::path::Path) -> Arc<Engine> {
        let store = Arc::new(Store::open(&dir.join("powerdeck.sqlite")).unwrap());
        Engine::with_store(store, dir, config()).unwrap()
    }

    fn world(&self) -> World {
        World::open(&world_path(self.dir.path(), self.account), &self.cfg).unwrap()
    }

    fn names_in(&self, state: PowerState, n: usize) -> Vec<String> {
        let vms = self.engine.store().vms(&VmFilter { account_id: Some(self.account), state: Some(state) }).unwrap();
        assert!(vms.len() >= n, "the fleet has {} {state} VMs, {n} needed", vms.len());
        vms.into_iter().take(n).map(|v| v.name).collect()
    }

    /// Sync until the named VMs show `state` (after a change made behind
    /// the engine's back, in the provider).
    async fn settle(&self, names: &[String], state: PowerState) {
        tokio::time::timeout(PATIENCE, async {
            loop {
                self.engine.full_sync(self.account).await.unwrap();
                if names.iter().all(|n| self.state(n) == state) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{names:?} never showed {state}"));
    }

    fn state(&self, name: &str) -> PowerState {
        self.engine.resolve_vm(name).unwrap().state
    }

    fn save(&self, s: Schedule) -> Schedule {
        self.engine.save_schedule(s, false).unwrap()
    }

    /// The batch a firing started, once every operation of it has ended.
    async fn outcome(&self, firing_id: i64) -> BatchOutcome {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let f = self.engine.store().firing(firing_id).unwrap().unwrap().firing;
                if let Some(o) = self.engine.firing_view(f).unwrap().outcome {
                    return o;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the firing's operations end")
    }
}

/// The next whole minute at least `ahead` from now: an occurrence that the
/// schedule, created now, has not yet handled.
fn minute_ahead(ahead: Millis) -> Millis {
    let t = now_ms() + ahead;
    t - t.rem_euclid(MINUTE) + MINUTE
}

/// The whole minute `ms` falls in, as a UTC time of day.
fn minute_of(ms: Millis) -> NaiveTime {
    let t = Utc.timestamp_millis_opt(ms).unwrap();
    NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).unwrap()
}

fn utc_local(ms: Millis) -> NaiveDateTime {
    Utc.timestamp_millis_opt(ms).unwrap().naive_utc()
}

fn once_at(name: &str, at: Millis, target: Target, action: Option<OpKind>) -> Schedule {
    Schedule {
        id: 0,
        name: name.into(),
        enabled: true,
        zone: "UTC".into(),
        when: When::Dates(vec![utc_local(at)]),
        target,
        action,
        force: false,
        skip_dates: vec![],
        grace_minutes: 15,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_occurrence_runs_once_each_vm_verified_and_the_history_says_schedule() {
    let lab = Lab::new().await;
    let vms = lab.names_in(PowerState::Running, 2);
    let at = minute_ahead(0);
    let s = lab.save(once_at("nightly-stop", at, Target::Vms(vms.clone()), Some(OpKind::Stop)));
    let mut events = lab.engine.bus().subscribe();

    // Just before: nothing is due.
    let tick = lab.engine.schedule_tick(at - 1).await.unwrap();
    assert!(tick.fired.is_empty(), "{tick:?}");
    assert_eq!(tick.next_due, Some(at));

    let tick = lab.engine.schedule_tick(at + 500).await.unwrap();
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    let firing = &tick.fired[0];
    assert_eq!((firing.status, firing.purpose, firing.occurrence), (FiringStatus::Started, Purpose::Scheduled, at));
    let outcome = lab.outcome(firing.id).await;
    assert_eq!((outcome.succeeded, outcome.failed), (2, 0), "{outcome:?}");
    assert_eq!(outcome.headline(), "Schedule 'nightly-stop' stopped 2 VMs");
    for name in &vms {
        assert_eq!(lab.state(name), PowerState::Stopped);
        let vm = lab.engine.resolve_vm(name).unwrap();
        let h = lab.engine.store().history(vm.id, 5).unwrap();
        assert_eq!((h[0].to_state, h[0].source), (PowerState::Stopped, Source::Schedule), "{h:?}");
        let op = lab.engine.store().operation(h[0].operation_id.unwrap()).unwrap().unwrap();
        assert_eq!(op.initiator, Initiator::Schedule);
    }
    // Announced once, as the schedule's.
    let mut headline = None;
    while let Ok(e) = events.try_recv() {
        if let Event::BatchFinished { outcome } = e {
            assert!(headline.replace(outcome.headline()).is_none(), "announced twice");
        }
    }
    assert_eq!(headline.as_deref(), Some("Schedule 'nightly-stop' stopped 2 VMs"));

    // Passes after it run nothing again.
    for later in [at + 1_000, at + 10 * MINUTE] {
        assert!(lab.engine.schedule_tick(later).await.unwrap().fired.is_empty());
    }
    let history = lab.engine.firing_history(Some(&s.name), 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].result, "stopped 2 VMs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_run_inside_the_grace_window_runs_late_and_one_outside_is_skipped_and_told() {
    let lab = Lab::new().await;
    let [a, b] = <[String; 2]>::try_from(lab.names_in(PowerState::Running, 2)).unwrap();
    let at = minute_ahead(0);
    lab.save(once_at("late", at, Target::Vms(vec![a.clone()]), Some(OpKind::Stop)));
    lab.save(Schedule { grace_minutes: 5, ..once_at("too-late", at, Target::Vms(vec![b.clone()]), Some(OpKind::Stop)) });

    // The computer slept: the first pass comes 10 minutes after the
    // occurrence: within one schedule's grace (15 min), past the other's (5).
    let tick = lab.engine.schedule_tick(at + 10 * MINUTE).await.unwrap();
    assert_eq!(tick.fired.len(), 2, "{tick:?}");
    let late = tick.fired.iter().find(|f| f.schedule == "late").unwrap();
    assert_eq!(late.status, FiringStatus::Started);
    assert_eq!(late.late_ms, 10 * MINUTE);
    assert!(lab.engine.store().firing(late.id).unwrap().unwrap().firing.note.unwrap().contains("10 min late"));
    assert_eq!(lab.outcome(late.id).await.succeeded, 1);
    assert_eq!(lab.state(&a), PowerState::Stopped);

    let missed = tick.fired.iter().find(|f| f.schedule == "too-late").unwrap();
    assert_eq!(missed.status, FiringStatus::Missed);
    let note = missed.note.as_deref().unwrap();
    assert!(note.contains("missed at") && note.contains("10 min late") && note.contains("grace 5 min") && note.contains("skipped"), "{note}");
    assert!(note.contains("not running or this computer was asleep"), "{note}");
    assert_eq!(lab.state(&b), PowerState::Running, "nothing was sent");
    // Neither comes back.
    assert!(lab.engine.schedule_tick(at + 20 * MINUTE).await.unwrap().fired.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_missed_occurrences_are_told_once_and_only_the_latest_in_grace_runs() {
    let lab = Lab::new().await;
    let a = lab.names_in(PowerState::Running, 1).remove(0);
    let s = lab.save(Schedule { when: When::Cron("*/5 * * * *".into()), ..once_at("every-5", 0, Target::Vms(vec![a.clone()]), Some(OpKind::Stop)) });
    let start = lab.engine.schedule_record(&s.name).unwrap().checked_until;
    // Asleep for three hours: 36 occurrences; the one within the grace
    // window runs, the rest are one "missed" line.
    let now = start + 3 * 60 * MINUTE;
    let tick = lab.engine.schedule_tick(now).await.unwrap();
    let statuses: Vec<FiringStatus> = tick.fired.iter().map(|f| f.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == FiringStatus::Missed).count(), 1, "{tick:?}");
    assert_eq!(statuses.iter().filter(|s| **s == FiringStatus::Started).count(), 1, "{tick:?}");
    let missed = tick.fired.iter().find(|f| f.status == FiringStatus::Missed).unwrap();
    assert!(missed.note.as_deref().unwrap().contains("runs missed in all"), "{missed:?}");
    assert!(missed.note.as_deref().unwrap().contains("a later run is due now"), "{missed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_date_is_recorded_and_nothing_runs() {
    let lab = Lab::new().await;
    let a = lab.names_in(PowerState::Running, 1).remove(0);
    let at = minute_ahead(0);
    let mut s = once_at("holiday", at, Target::Vms(vec![a.clone()]), Some(OpKind::Stop));
    s.skip_dates = vec![utc_local(at).date()];
    lab.save(s);
    let tick = lab.engine.schedule_tick(at + 1_000).await.unwrap();
    assert_eq!(tick.fired.len(), 1);
    assert_eq!(tick.fired[0].status, FiringStatus::Skipped);
    assert!(tick.fired[0].note.as_deref().unwrap().contains("skip dates"));
    assert_eq!(lab.state(&a), PowerState::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_data_directory_claim_each_occurrence_exactly_once() {
    let lab = Lab::new().await;
    let vms = lab.names_in(PowerState::Running, 3);
    let at = minute_ahead(0);
    lab.save(once_at("both", at, Target::Vms(vms.clone()), Some(OpKind::Stop)));
    let other = Lab::engine_on(lab.dir.path());
    other.start(Workers::DRIVER, None).unwrap();
    // Both passes at the same moment, racing.
    let (x, y) = tokio::join!(lab.engine.schedule_tick(at + 100), other.schedule_tick(at + 100));
    let fired: Vec<_> = x.unwrap().fired.into_iter().chain(y.unwrap().fired).collect();
    assert_eq!(fired.len(), 1, "exactly one engine ran it: {fired:?}");
    let outcome = lab.outcome(fired[0].id).await;
    assert_eq!((outcome.succeeded, outcome.failed), (3, 0), "{outcome:?}");
    let ops = lab.engine.store().recent_operations(None, 50).unwrap();
    assert_eq!(ops.iter().filter(|o| o.initiator == Initiator::Schedule).count(), 3, "one operation per VM: {ops:?}");
    assert_eq!(lab.engine.store().firings(None, 10).unwrap().len(), 1);
}

/// A process id that is certainly not running.
fn dead_pid() -> i64 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id() as i64;
    child.wait().unwrap();
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_left_by_a_dead_process_is_adopted_and_ends_honestly() {
    let lab = Lab::new().await;
    let [a, b, c, d] = <[String; 4]>::try_from(lab.names_in(PowerState::Running, 4)).unwrap();
    let at = minute_ahead(0);
    let store = lab.engine.store().clone();
    let claim = |s: &Schedule, occurrence: Millis| Claim {
        schedule_id: s.id,
        occurrence,
        purpose: Purpose::Scheduled,
        edge: powerdeck_core::schedule::Edge::Run,
        status: FiringStatus::Claimed,
        late_ms: 0,
        note: None,
    };
    let ghost = dead_pid();

    // 1. Claimed, then the process died before sending anything; still in time.
    let s1 = lab.save(once_at("nothing-sent", at, Target::Vms(vec![a.clone()]), Some(OpKind::Stop)));
    let f1 = store.claim_firing(&claim(&s1, at), "ghost", ghost, at).unwrap().unwrap();

    // 2. Claimed, its batch begun and one of two VMs journalled and sent
    //    by the dying process; the other not.
    let s2 = lab.save(once_at("half-sent", at, Target::Vms(vec![b.clone(), c.clone()]), Some(OpKind::Stop)));
    let f2 = store.claim_firing(&claim(&s2, at), "ghost", ghost, at).unwrap().unwrap();
    let batch = store.begin_firing_batch(f2.id, "Schedule 'half-sent'", OpKind::Stop).unwrap();
    let dying = Lab::engine_on(lab.dir.path());
    let b_id = dying.resolve_vm(&b).unwrap().id;
    dying.request_many(&[b_id], OpKind::Stop, OpOptions { initiator: Initiator::Schedule, batch: Some(batch), ..OpOptions::default() }, None).await.unwrap();
    drop(dying);
    // It died before it could seal the batch (request_many seals at its end).
    rusqlite::Connection::open(lab.dir.path().join("powerdeck.sqlite")).unwrap().execute("UPDATE batches SET sealed = 0 WHERE id = ?1", [batch]).unwrap();

    // 3. Claimed and abandoned long ago: too late to send now.
    let s3 = lab.save(once_at("too-late", at, Target::Vms(vec![d.clone()]), Some(OpKind::Stop)));
    let f3 = store.claim_firing(&claim(&s3, at), "ghost", ghost, at).unwrap().unwrap();

    // The survivor's pass: 1 and 2 within the grace window…
    let tick = lab.engine.schedule_tick(at + 2 * MINUTE).await.unwrap();
    let by_id = |id: i64| tick.fired.iter().find(|f| f.id == id).cloned().unwrap_or_else(|| panic!("firing {id} not handled: {tick:?}"));
    assert_eq!(by_id(f1.id).status, FiringStatus::Started);
    assert_eq!(by_id(f2.id).status, FiringStatus::Started);
    assert!(by_id(f2.id).note.unwrap().contains("taken over"));
    assert_eq!(lab.outcome(f1.id).await.succeeded, 1);
    let o2 = lab.outcome(f2.id).await;
    assert_eq!((o2.succeeded, o2.failed), (2, 0), "{o2:?}");
    let ops = store.batch_operations(batch).unwrap();
    assert_eq!(ops.len(), 2, "each VM asked once: {ops:?}");
    assert!(ops.iter().all(|o| o.phase == OpPhase::Succeeded));
    for n in [&a, &b, &c] {
        assert_eq!(lab.state(n), PowerState::Stopped, "{n}");
    }
    assert_eq!(by_id(f3.id).status, FiringStatus::Started);
    assert_eq!(lab.outcome(f3.id).await.succeeded, 1);
    // A claim abandoned and found 40 minutes on is reported, not run.
    let late_claim = store.claim_firing(&claim(&s3, at + MINUTE), "ghost", ghost, at).unwrap().unwrap();
    let tick = lab.engine.schedule_tick(at + 41 * MINUTE).await.unwrap();
    let late = tick.fired.iter().find(|f| f.id == late_claim.id).unwrap_or_else(|| panic!("{tick:?}"));
    assert_eq!(late.status, FiringStatus::Missed);
    assert!(late.note.as_deref().unwrap().contains("too late"), "{late:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enforced_period_corrects_a_vm_started_outside_it_and_says_so() {
    let lab = Lab::new().await;
    let off = lab.names_in(PowerState::Running, 2);
    for n in &off {
        lab.world().submit(&lab.engine.resolve_vm(n).unwrap().provider_id, PowerAction::PowerOff).unwrap();
    }
    lab.settle(&off, PowerState::Stopped).await;
    lab.engine.save_group("office", &off, None, false).unwrap();
    // A period that is not now: it starts in six hours, for an hour.
    let now = now_ms();
    let (from, to) = (minute_of(now + 6 * 60 * MINUTE), minute_of(now + 7 * 60 * MINUTE));
    let s = lab.save(Schedule {
        when: When::Period { days: Days::ALL, from, to, enforce: true },
        zone: "UTC".into(),
        ..once_at("office-hours", 0, Target::Group("office".into()), Some(OpKind::Stop))
    });
    // Everything is where it should be: nothing to correct.
    let tick = lab.engine.schedule_tick(now + 1_000).await.unwrap();
    assert!(tick.fired.is_empty(), "{tick:?}");

    // Someone starts one of them in the provider's console.
    let intruder = off[0].clone();
    let pid = lab.engine.resolve_vm(&intruder).unwrap().provider_id;
    lab.world().submit(&pid, PowerAction::Start).unwrap();
    lab.settle(std::slice::from_ref(&intruder), PowerState::Running).await;

    // The next look (ten minutes on) corrects it, as a drift correction.
    let tick = lab.engine.schedule_tick(now + 11 * MINUTE).await.unwrap();
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    let f = &tick.fired[0];
    assert_eq!(f.purpose, Purpose::Enforce);
    let note = f.note.as_deref().unwrap();
    assert!(note.contains("drift correction") && note.contains(&intruder) && note.contains("running outside its period"), "{note}");
    let o = lab.outcome(f.id).await;
    assert_eq!((o.succeeded, o.failed), (1, 0));
    assert_eq!(lab.state(&intruder), PowerState::Stopped);
    assert_eq!(lab.engine.schedule_view(&s.name, now).unwrap().last.unwrap().firing.purpose, Purpose::Enforce);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_edge_missed_while_asleep_is_evaluated_again_however_late() {
    let lab = Lab::new().await;
    let on = lab.names_in(PowerState::Running, 2);
    lab.engine.save_group("day", &on, None, false).unwrap();
    let now = now_ms();
    // A period that ended an hour after it was created; seen five hours later.
    let (start, end) = (minute_of(now - 60 * MINUTE), minute_of(minute_ahead(60 * MINUTE)));
    lab.save(Schedule {
        when: When::Period { days: Days::ALL, from: start, to: end, enforce: false },
        ..once_at("day-shift", 0, Target::Group("day".into()), Some(OpKind::Stop))
    });
    let tick = lab.engine.schedule_tick(now + 5 * 60 * MINUTE).await.unwrap();
    assert_eq!(tick.fired.len(), 1, "{tick:?}");
    let f = &tick.fired[0];
    assert_eq!(f.status, FiringStatus::Started);
    assert!(f.note.as_deref().unwrap().contains("brought to that side now"), "{f:?}");
    assert_eq!(lab.outcome(f.id).await.succeeded, 2);
    for n in &on {
        assert_eq!(lab.state(n), PowerState::Stopped);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_deleted_since_is_reported_by_name_and_the_others_still_run() {
    let lab = Lab::new().await;
    let [keep, gone] = <[String; 2]>::try_from(lab.names_in(PowerState::Running, 2)).unwrap();
    let at = minute_ahead(0);
    lab.save(once_at("cleanup", at, Target::Vms(vec![keep.clone(), gone.clone()]), Some(OpKind::Stop)));
    lab.world().remove(&lab.engine.resolve_vm(&gone).unwrap().provider_id).unwrap();
    lab.engine.full_sync(lab.account).await.unwrap();
    let tick = lab.engine.schedule_tick(at + 100).await.unwrap();
    let o = lab.outcome(tick.fired[0].id).await;
    assert_eq!((o.succeeded, o.failed), (1, 1), "{o:?}");
    let (name, why) = &o.failures[0];
    assert_eq!(name, &gone);
    assert!(why.contains("not found") || why.contains("no longer"), "{why}");
    assert!(o.headline().starts_with("Schedule 'cleanup' stopped 1 of 2 VMs; 1 failed"), "{}", o.headline());
    assert_eq!(lab.state(&keep), PowerState::Stopped);

    // A group that was removed: the firing fails and says why.
    let g = lab.names_in(PowerState::Running, 1);
    lab.engine.save_group("temp", &g, None, false).unwrap();
    let at2 = at + 5 * MINUTE;
    lab.save(once_at("orphan", at2, Target::Group("temp".into()), Some(OpKind::Stop)));
    lab.engine.remove_group("temp").unwrap();
    let tick = lab.engine.schedule_tick(at2 + 100).await.unwrap();
    let f = tick.fired.iter().find(|f| f.schedule == "orphan").unwrap();
    assert_eq!(f.status, FiringStatus::Failed);
    assert!(f.note.as_deref().unwrap().contains("no group named 'temp'"), "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_runbook_that_fails_rolls_back_by_its_policy() {
    let lab = Lab::new().await;
    let [a, stubborn] = <[String; 2]>::try_from(lab.names_in(PowerState::Running, 2)).unwrap();
    lab.world().set_stubborn(&lab.engine.resolve_vm(&stubborn).unwrap().provider_id, true).unwrap();
    let rb = Runbook::from_toml(&format!(
        "name = \"maintenance\"\non_failure = \"rollback\"\n[[steps]]\naction = \"stop\"\nvms = [\"{a}\"]\n[[steps]]\naction = \"stop\"\nvms = [\"{stubborn}\"]\n"
    ))
    .unwrap();
    lab.engine.store().save_runbook(&rb, true).unwrap();
    let at = minute_ahead(0);
    lab.save(once_at("weekly-maintenance", at, Target::Runbook("maintenance".into()), None));
    let tick = lab.engine.schedule_tick(at + 100).await.unwrap();
    let f = &tick.fired[0];
    assert_eq!(f.status, FiringStatus::Started);
    let run_id = f.run_id.expect("the firing links its run");
    let run = tokio::time::timeout(PATIENCE, lab.engine.wait_run(run_id, |_| {})).await.unwrap().unwrap();
    assert_eq!(run.phase, RunPhase::RolledBack, "{run:?}");
    assert_eq!(run.initiator, Initiator::Schedule);
    assert_eq!((lab.state(&a), lab.state(&stubborn)), (PowerState::Running, PowerState::Running), "back as they were");
    let view = &lab.engine.firing_history(Some("weekly-maintenance"), 1).unwrap()[0];
    assert!(view.result.contains("rolled-back"), "{}", view.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_schedules_run_nothing_and_resume_from_now() {
    let lab = Lab::new().await;
    let a = lab.names_in(PowerState::Running, 1).remove(0);
    let at = minute_ahead(0);
    lab.save(once_at("paused", at, Target::Vms(vec![a.clone()]), Some(OpKind::Stop)));
    lab.engine.pause_schedules(true).unwrap();
    assert!(lab.engine.schedule_tick(at + 100).await.unwrap().fired.is_empty());
    lab.engine.pause_schedules(false).unwrap();
    // Resumed after the occurrence: it was not wanted, so it is neither run nor "missed".
    assert!(lab.engine.schedule_tick(now_ms().max(at + 200)).await.unwrap().fired.is_empty());
    assert_eq!(lab.state(&a), PowerState::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_brings_a_period_to_the_side_it_should_be_on() {
    let lab = Lab::new().await;
    let on = lab.names_in(PowerState::Running, 2);
    lab.engine.save_group("night", &on, None, false).unwrap();
    let now = now_ms();
    // A period that is not now: its VMs should be stopped.
    let (from, to) = (minute_of(now + 3 * 60 * MINUTE), minute_of(now + 4 * 60 * MINUTE));
    lab.save(Schedule {
        when: When::Period { days: Days::ALL, from, to, enforce: false },
        ..once_at("nights-off", 0, Target::Group("night".into()), Some(OpKind::Stop))
    });
    let f = lab.engine.run_schedule_now("nights-off").await.unwrap();
    assert_eq!((f.purpose, f.status), (Purpose::Manual, FiringStatus::Started));
    assert_eq!(lab.outcome(f.id).await.succeeded, 2);
    for n in &on {
        assert_eq!(lab.state(n), PowerState::Stopped);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_are_refused_with_what_to_fix() {
    let lab = Lab::new().await;
    let at = minute_ahead(0);
    let err = lab.engine.save_schedule(once_at("x", at, Target::Group("nope".into()), Some(OpKind::Stop)), false).unwrap_err().to_string();
    assert!(err.contains("no group named 'nope'"), "{err}");
    let err = lab.engine.save_schedule(once_at("x", at, Target::Runbook("nope".into()), None), false).unwrap_err().to_string();
    assert!(err.contains("no runbook named 'nope'"), "{err}");
    let err = lab.engine.save_schedule(once_at("x", at, Target::Vms(vec!["no-such-vm".into()]), Some(OpKind::Stop)), false).unwrap_err().to_string();
    assert!(err.contains("no-such-vm"), "{err}");
    let a = lab.names_in(PowerState::Running, 1);
    let mut s = once_at("x", at, Target::Vms(a), Some(OpKind::Stop));
    s.zone = "Europe/Atlantis".into();
    let err = lab.engine.save_schedule(s.clone(), false).unwrap_err().to_string();
    assert!(err.contains("not a time zone"), "{err}");
    s.zone = "UTC".into();
    lab.engine.save_schedule(s.clone(), false).unwrap();
    let err = lab.engine.save_schedule(s, false).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
}
