//! The engine against the demo fleet, through its public API. Waits are on
//! events or journal states with generous deadlines, never fixed sleeps.

use async_trait::async_trait;
use powerdeck_core::model::{now_ms, Account, Observation, OpKind, OpPhase, PowerState, ShutdownMethod, Source, Vm};
use powerdeck_core::provider::sim::world_path as sim_world_path;
use powerdeck_core::provider::sim::{SimConfig, World};
use powerdeck_core::provider::{Capabilities, InventoryPage, JobStatus, PowerAction, Provider, ProviderResult, Submission};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{CoreError, Engine, EngineConfig, Event, OpOptions, Workers};
use powerdeck_testkit::fast::fast_engine_config;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(20);

fn fast_fleet(size: u32) -> SimConfig {
    SimConfig {
        size,
        latency_ms: 1,
        page_size: 1000,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        feed: false,
        start_delay_ms: 300,
        stop_delay_ms: 300,
        force_stop_delay_ms: 150,
        reboot_delay_ms: 300,
        suspend_delay_ms: 300,
        ..SimConfig::default()
    }
}

struct Fixture {
    dir: TempDir,
    engine: Arc<Engine>,
    account: Account,
}

impl Fixture {
    fn new(fleet: SimConfig) -> Self {
        Self::with(fleet, fast_engine_config())
    }

    fn with(fleet: SimConfig, cfg: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), cfg).unwrap();
        let account = engine.add_account("lab", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap();
        Self { dir, engine, account }
    }

    fn world(&self) -> World {
        let cfg: SimConfig = serde_json::from_value(self.account.config.clone()).unwrap();
        World::open(&sim_world_path(self.dir.path(), self.account.id), &cfg).unwrap()
    }

    fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    fn vm(&self, id: i64) -> Vm {
        self.engine.store().vm(id).unwrap().unwrap()
    }

    fn first_in(&self, state: PowerState) -> Vm {
        self.vms().into_iter().find(|v| v.state == state).unwrap_or_else(|| panic!("the fleet has no {state} VM"))
    }

    async fn synced(self) -> Self {
        self.engine.full_sync(self.account.id).await.unwrap();
        self
    }

    async fn run(&self, vm: &Vm, kind: OpKind, opts: OpOptions) -> powerdeck_core::model::Operation {
        self.engine.start(Workers::DRIVER, Some(&[self.account.id])).unwrap();
        let op = self.engine.request(vm.id, kind, opts).await.unwrap();
        tokio::time::timeout(PATIENCE, self.engine.wait(op.id, |_| {})).await.expect("operation never ended").unwrap()
    }
}

fn force(graceful_ms: u64) -> OpOptions {
    OpOptions { allow_force: true, graceful_timeout: Some(Duration::from_millis(graceful_ms)), wait_for_tools: false, ..OpOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_shows_stopping_at_once_and_ends_verified_stopped() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);

    let op = fx.engine.request(vm.id, OpKind::Stop, OpOptions::default()).await.unwrap();
    assert_eq!(op.phase, OpPhase::Tracking);
    assert_eq!(fx.vm(vm.id).state, PowerState::Stopping, "the transitional state is stored before anything is verified");

    fx.engine.start(Workers::DRIVER, Some(&[fx.account.id])).unwrap();
    let done = tokio::time::timeout(PATIENCE, fx.engine.wait(op.id, |_| {})).await.unwrap().unwrap();
    assert_eq!(done.phase, OpPhase::Succeeded, "{:?}", done.error);
    assert_eq!(done.previous_state, Some(PowerState::Running));
    assert_eq!(done.new_state, Some(PowerState::Stopped));
    assert_eq!(done.shutdown_method, Some(ShutdownMethod::Graceful));
    assert!(done.duration_ms().unwrap() >= 300, "finished before the provider could have stopped it");
    assert_eq!(fx.vm(vm.id).state, PowerState::Stopped);
    assert_eq!(fx.world().truth().unwrap().into_iter().find(|(id, _)| *id == vm.provider_id).unwrap().1, "STOPPED");

    let history = fx.engine.store().history(vm.id, 10).unwrap();
    let transitions: Vec<_> = history.iter().rev().map(|h| (h.from_state, h.to_state, h.source)).collect();
    assert_eq!(
        transitions,
        vec![
            (None, PowerState::Running, Source::Sync),
            (Some(PowerState::Running), PowerState::Stopping, Source::Operation),
            (Some(PowerState::Stopping), PowerState::Stopped, Source::Operation),
        ]
    );
    assert!(history.iter().filter(|h| h.source == Source::Operation).all(|h| h.operation_id == Some(op.id)));
}

/// "Accepted" is not "done", and verifying costs no reading of its own:
/// the driver asks about the job first and reads the VM after, so the
/// reading that finds the target after the job ended is the verification.
/// A start whose VM is up at once: one reading to plan, one job poll, one
/// reading after it; before, a third reading verified what the second saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reading_taken_after_the_job_ended_verifies_the_operation_without_another() {
    let fx = Fixture::new(SimConfig { start_delay_ms: 0, ..fast_fleet(10) }).synced().await;
    let vm = fx.first_in(PowerState::Stopped);
    let calls = || fx.engine.runtime(fx.account.id).unwrap().stats().snapshot();
    let before = calls();
    let op = fx.run(&vm, OpKind::Start, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{op:?}");
    let after = calls();
    assert_eq!((after.submit - before.submit, after.poll - before.poll, after.refresh - before.refresh), (1, 1, 2), "one submit, one job poll, two readings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_reboot_and_suspend_are_each_verified() {
    let fx = Fixture::new(fast_fleet(20)).synced().await;
    let stopped = fx.first_in(PowerState::Stopped);
    let op = fx.run(&stopped, OpKind::Start, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{:?}", op.error);

    let op = fx.run(&stopped, OpKind::Reboot, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state, op.shutdown_method), (OpPhase::Succeeded, Some(PowerState::Running), Some(ShutdownMethod::Graceful)), "{:?}", op.error);
    let saw_rebooting = fx.engine.store().history(stopped.id, 20).unwrap().iter().any(|h| h.to_state == PowerState::Rebooting && h.operation_id == Some(op.id));
    assert!(saw_rebooting, "a reboot is only confirmed after the guest was seen going down");

    let op = fx.run(&stopped, OpKind::Suspend, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Suspended)), "{:?}", op.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_stopped_vm_records_already_off_without_calling_the_provider() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Stopped);
    let op = fx.run(&vm, OpKind::Stop, OpOptions::default()).await;
    assert_eq!((op.phase, op.shutdown_method), (OpPhase::Succeeded, Some(ShutdownMethod::AlreadyOff)));
    let calls = fx.engine.runtime(fx.account.id).unwrap().stats().snapshot();
    assert_eq!(calls.submit, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_ignores_shutdown_is_forced_off_when_allowed() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();

    let op = fx.run(&vm, OpKind::Stop, force(400)).await;
    assert_eq!(op.phase, OpPhase::Succeeded, "{:?}", op.error);
    assert_eq!(op.shutdown_method, Some(ShutdownMethod::Forced));
    let forced_after = op.forced_at.unwrap() - op.requested_at;
    assert!(forced_after >= 400, "forced after {forced_after} ms, before the graceful window closed");
    assert_eq!(fx.vm(vm.id).state, PowerState::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_force_an_ignored_shutdown_fails_and_the_vm_shows_the_truth() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();

    let op = fx
        .run(
            &vm,
            OpKind::Stop,
            OpOptions { allow_force: false, graceful_timeout: Some(Duration::from_millis(400)), wait_for_tools: false, ..OpOptions::default() },
        )
        .await;
    assert_eq!(op.phase, OpPhase::Failed);
    assert!(op.error.as_deref().unwrap().contains("did not shut down within"), "{:?}", op.error);
    assert_eq!(fx.vm(vm.id).state, PowerState::Running, "no longer shown as stopping once the operation ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_that_never_reaches_its_target_times_out() {
    let mut fleet = fast_fleet(10);
    fleet.start_delay_ms = 600_000;
    let mut cfg = fast_engine_config();
    cfg.timeouts.start_s = 1;
    let fx = Fixture::with(fleet, cfg).synced().await;
    let vm = fx.first_in(PowerState::Stopped);

    let op = fx.run(&vm, OpKind::Start, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::TimedOut);
    assert!(op.error.as_deref().unwrap().contains("did not reach running within 1s"), "{:?}", op.error);
    assert!(op.finished_at.unwrap() >= op.deadline_at);
    // The provider still says STARTING: shown as such, with no operation claiming it.
    let now = fx.vm(vm.id);
    assert_eq!((now.state, now.raw_state.as_str()), (PowerState::Starting, "STARTING"));
}

/// A provider whose jobs always report success while the VM never moves:
/// the "accepted is not done" failure in its purest form.
struct Liar;

#[async_trait]
impl Provider for Liar {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            graceful_stop: true,
            force_stop: true,
            guest_reboot: false,
            reset: true,
            suspend: false,
            hibernate: false,
            deallocate: false,
            tools_status: false,
            change_feed: false,
            reboot_visible: true,
            max_refresh_batch: 100,
        }
    }
    async fn list_page(&self, _: Option<&str>) -> ProviderResult<InventoryPage> {
        Ok(InventoryPage { vms: vec![running("liar-1")], next: None })
    }
    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        Ok(ids.iter().map(|id| running(id)).collect())
    }
    async fn submit(&self, _: &str, _: PowerAction) -> ProviderResult<Submission> {
        Ok(Submission { job: Some("job-1".into()), observed: None })
    }
    async fn poll_job(&self, _: &str) -> ProviderResult<JobStatus> {
        Ok(JobStatus::Succeeded)
    }
}

fn running(id: &str) -> Observation {
    Observation {
        provider_id: id.into(),
        name: id.into(),
        state: PowerState::Running,
        raw_state: "on".into(),
        tools: None,
        location: None,
        facts: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_reports_success_without_the_state_changing_fails_verification() {
    let fx = Fixture::new(fast_fleet(1));
    fx.engine.set_provider(fx.account.id, Arc::new(Liar));
    fx.engine.full_sync(fx.account.id).await.unwrap();
    let vm = fx.engine.resolve_vm("liar-1").unwrap();

    let op = fx.run(&vm, OpKind::ForceStop, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::Failed);
    let err = op.error.unwrap();
    assert!(err.starts_with("verification failed"), "{err}");
    assert_eq!(fx.vm(vm.id).state, PowerState::Running);
}

/// Answers every state read with another VM's state: a confused or hostile
/// server. Lists `good-1` (running) and `other-1` (stopped).
struct WrongIds;

#[async_trait]
impl Provider for WrongIds {
    fn capabilities(&self) -> Capabilities {
        Liar.capabilities()
    }
    async fn list_page(&self, _: Option<&str>) -> ProviderResult<InventoryPage> {
        Ok(InventoryPage { vms: vec![running("good-1"), stopped("other-1")], next: None })
    }
    async fn refresh(&self, _: &[String]) -> ProviderResult<Vec<Observation>> {
        Ok(vec![stopped("other-1"), stopped("stranger-9")])
    }
    async fn submit(&self, _: &str, _: PowerAction) -> ProviderResult<Submission> {
        Ok(Submission { job: None, observed: None })
    }
    async fn poll_job(&self, _: &str) -> ProviderResult<JobStatus> {
        Ok(JobStatus::Succeeded)
    }
}

fn stopped(id: &str) -> Observation {
    Observation { state: PowerState::Stopped, raw_state: "off".into(), ..running(id) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_about_another_vm_never_plans_or_verifies_an_operation() {
    let fx = Fixture::new(fast_fleet(1));
    fx.engine.set_provider(fx.account.id, Arc::new(WrongIds));
    fx.engine.full_sync(fx.account.id).await.unwrap();
    let good = fx.engine.resolve_vm("good-1").unwrap();
    let rows_before = fx.vms();

    let err = fx.engine.request(good.id, OpKind::Stop, OpOptions::default()).await.expect_err("no reading of good-1, so no plan");
    assert!(err.to_string().contains("not found"), "{err}");
    assert!(fx.engine.store().recent_operations(Some(good.id), 10).unwrap().iter().all(|o| o.phase != OpPhase::Succeeded), "nothing was verified");
    assert_eq!(fx.engine.runtime(fx.account.id).unwrap().stats().snapshot().submit, 0, "nothing was sent");
    assert_eq!(fx.vm(good.id).state, PowerState::Running);
    assert_eq!(fx.vms(), rows_before, "the stray readings were not stored as news about other VMs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_operation_on_the_same_vm_is_refused() {
    let mut fleet = fast_fleet(10);
    fleet.stop_delay_ms = 600_000;
    let fx = Fixture::new(fleet).synced().await;
    let vm = fx.first_in(PowerState::Running);
    let first = fx.engine.request(vm.id, OpKind::Stop, OpOptions::default()).await.unwrap();

    let err = fx.engine.request(vm.id, OpKind::Start, OpOptions::default()).await.unwrap_err();
    assert!(matches!(&err, CoreError::InFlight { op, .. } if op.id == first.id), "{err:?}");
    assert!(err.to_string().contains("already has a stop operation in flight"), "{err}");
    let ops = fx.engine.store().recent_operations(Some(vm.id), 10).unwrap();
    assert_eq!(ops.len(), 1, "the refused request left no journal entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_provider_is_waited_out_not_failed() {
    let mut fleet = fast_fleet(12);
    fleet.page_size = 1;
    fleet.max_rps = 4.0;
    let mut cfg = fast_engine_config();
    cfg.retry.max_attempts = 10;
    let fx = Fixture::with(fleet, cfg);

    let summary = fx.engine.full_sync(fx.account.id).await.expect("throttling is retried, not surfaced");
    assert_eq!(summary.vms, 12);
    let calls = fx.engine.runtime(fx.account.id).unwrap().stats().snapshot();
    assert!(calls.throttled > 0, "the fleet never throttled: {calls:?}");
    assert_eq!(calls.retries, calls.throttled, "every throttled call was retried: {calls:?}");
    assert_eq!(calls.list, 12 + calls.throttled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_provider_marks_vms_stale_and_recovery_clears_it() {
    let fx = Fixture::new(fast_fleet(8)).synced().await;
    let before = fx.vms();
    let world = fx.world();
    world.set_outage_until(now_ms() + 600_000).unwrap();

    let err = fx.engine.full_sync(fx.account.id).await.unwrap_err();
    assert!(err.to_string().contains("could not be reached"), "{err}");
    let stale = fx.vms();
    assert!(stale.iter().all(|v| v.stale), "every VM is marked stale");
    for (b, s) in before.iter().zip(&stale) {
        assert_eq!(b.state, s.state, "the last known state is kept, not guessed");
        assert!(s.last_seen_at >= b.last_seen_at && s.last_seen_at > 0);
    }

    world.set_outage_until(0).unwrap();
    fx.engine.full_sync(fx.account.id).await.unwrap();
    assert!(fx.vms().iter().all(|v| !v.stale));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_provider_data_is_rejected_whole_with_a_clear_error() {
    let fx = Fixture::new(fast_fleet(8)).synced().await;
    let before = fx.vms();
    let written = fx.engine.store().rows_written();
    fx.world().set_raw(&before[0].provider_id, "STOPPED").unwrap();
    fx.world().corrupt_next_page().unwrap();

    let err = fx.engine.full_sync(fx.account.id).await.unwrap_err();
    assert!(err.to_string().contains("came without an id; nothing was changed"), "{err}");
    assert_eq!(fx.engine.store().rows_written(), written);
    assert_eq!(fx.vms(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciling_an_unchanged_inventory_writes_nothing() {
    let fx = Fixture::new(fast_fleet(200)).synced().await;
    let written = fx.engine.store().rows_written();
    let mut rx = fx.engine.bus().subscribe();
    let summary = fx.engine.full_sync(fx.account.id).await.unwrap();
    assert_eq!((summary.vms, summary.changed), (200, 0));
    assert_eq!(fx.engine.store().rows_written(), written);
    while let Ok(ev) = rx.try_recv() {
        assert!(!matches!(ev, Event::VmsChanged { .. }), "no change event for an unchanged inventory");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_change_is_caught_as_drift() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_raw(&vm.provider_id, "STOPPED").unwrap();
    let mut rx = fx.engine.bus().subscribe();
    fx.engine.full_sync(fx.account.id).await.unwrap();
    let change = loop {
        if let Event::VmsChanged { changes, .. } = rx.recv().await.unwrap() {
            break changes.into_iter().find(|c| c.vm.id == vm.id).unwrap();
        }
    };
    assert!(change.drift);
    assert_eq!((change.from, change.vm.state), (Some(PowerState::Running), PowerState::Stopped));
    assert_eq!(fx.engine.store().history(vm.id, 1).unwrap()[0].source, Source::Sync);
    // The activity view's drift list comes from the store, so it survives restarts.
    let drift = fx.engine.store().recent_drift(10).unwrap();
    assert_eq!(drift.len(), 1, "first sightings and our own operations are not drift");
    assert_eq!((drift[0].0.vm_id, drift[0].1.as_str(), drift[0].2.as_str()), (vm.id, vm.name.as_str(), "lab"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_delivers_out_of_band_changes_with_source_feed() {
    let mut fleet = fast_fleet(10);
    fleet.feed = true;
    let fx = Fixture::new(fleet).synced().await;
    let vm = fx.first_in(PowerState::Running);
    let mut rx = fx.engine.bus().subscribe();
    fx.engine.start(Workers { feed: true, ..Workers::NONE }, Some(&[fx.account.id])).unwrap();
    // Let the feed take its starting position before the change happens.
    while fx.engine.runtime(fx.account.id).unwrap().stats().snapshot().watch < 2 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fx.world().set_raw(&vm.provider_id, "STOPPED").unwrap();
    let got = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(Event::VmsChanged { source, changes }) = rx.recv().await {
                if let Some(c) = changes.into_iter().find(|c| c.vm.id == vm.id) {
                    return (source, c);
                }
            }
        }
    })
    .await
    .expect("the feed never reported the change");
    assert_eq!(got.0, Source::Feed);
    assert_eq!(got.1.vm.state, PowerState::Stopped);
    assert!(got.1.drift);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_references_resolve_or_fail_clearly() {
    let fx = Fixture::new(fast_fleet(5)).synced().await;
    // A second fleet with the same seed has VMs of the same names.
    let twin = fx.engine.add_account("twin", "sim", serde_json::to_value(fast_fleet(5)).unwrap(), None).unwrap();
    fx.engine.full_sync(twin.id).await.unwrap();
    let name = fx.vms()[0].name.clone();

    let err = fx.engine.resolve_vm(&name).unwrap_err();
    assert!(matches!(&err, CoreError::AmbiguousVm { candidates, .. } if candidates.len() == 2), "{err:?}");
    assert!(err.to_string().contains(&format!("lab/{name}")) && err.to_string().contains(&format!("twin/{name}")), "{err}");
    assert_eq!(fx.engine.resolve_vm(&format!("twin/{name}")).unwrap().account, "twin");

    let err = fx.engine.resolve_vm("no-such-vm").unwrap_err();
    assert_eq!(err.to_string(), "no VM matches 'no-such-vm'");

    let err = fx.engine.add_account("x", "vmware-classic", serde_json::json!({}), None).unwrap_err();
    // Every kind the registry has is named (the list grows with each provider).
    assert_eq!(err.to_string(), format!("unknown account kind 'vmware-classic' (known: {})", powerdeck_core::provider::registry::known()));
    assert!(powerdeck_core::provider::registry::known().starts_with("sim, ec2, vsphere"));
    let err = fx.engine.add_account("lab", "sim", serde_json::to_value(fast_fleet(1)).unwrap(), None).unwrap_err();
    assert!(matches!(err, CoreError::AccountExists(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_sees_an_operation_and_its_result_through_the_shared_store() {
    let fx = Fixture::new(fast_fleet(4)).synced().await;
    // A second engine on the same data directory, as the desktop app is to `pdk`.
    let store = Arc::new(Store::open(&fx.dir.path().join("powerdeck.sqlite")).unwrap());
    let other = Engine::with_store(store, fx.dir.path(), fast_engine_config()).unwrap();
    let mut events = other.bus().subscribe();
    other.follow_other_processes(Duration::from_millis(50));

    let vm = fx.first_in(PowerState::Running);
    let op = fx.run(&vm, OpKind::Stop, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::Succeeded);

    let (mut saw_stopped, mut saw_done) = (false, false);
    tokio::time::timeout(PATIENCE, async {
        while !(saw_stopped && saw_done) {
            match events.recv().await.unwrap() {
                Event::VmsChanged { changes, .. } => saw_stopped |= changes.iter().any(|c| c.vm.id == vm.id && c.vm.state == PowerState::Stopped && !c.drift),
                Event::Operation { op: o } => saw_done |= o.id == op.id && o.phase == OpPhase::Succeeded,
                _ => {}
            }
        }
    })
    .await
    .expect("the other process never heard of the stop");

    // Its own changes are not echoed back a second time.
    let mut own = other.bus().subscribe();
    other.start(Workers::DRIVER, Some(&[fx.account.id])).unwrap();
    let second = fx.vms().into_iter().find(|v| v.state == PowerState::Running && v.id != vm.id).unwrap();
    let mine = other.request(second.id, OpKind::Stop, OpOptions::default()).await.unwrap();
    tokio::time::timeout(PATIENCE, other.wait(mine.id, |_| {})).await.unwrap().unwrap();
    // Give the follower a few of its 50 ms passes to (wrongly) repeat anything.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (mut stopped_events, mut ended_events) = (0, 0);
    while let Ok(e) = own.try_recv() {
        match e {
            Event::VmsChanged { changes, .. } => stopped_events += changes.iter().filter(|c| c.vm.id == second.id && c.vm.state == PowerState::Stopped).count(),
            Event::Operation { op } if op.id == mine.id && op.phase.is_terminal() => ended_events += 1,
            _ => {}
        }
    }
    assert_eq!(stopped_events, 1, "the stop is published once, by the process that made it");
    assert_eq!(ended_events, 1, "and so is the end of its operation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_sync_hears_nothing_and_resuming_catches_up_at_once() {
    let fleet = SimConfig { feed: true, ..fast_fleet(4) };
    let fx = Fixture::new(fleet).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.engine.set_sync_paused(true);
    fx.engine.start(Workers::ALL, Some(&[fx.account.id])).unwrap();

    fx.world().set_raw(&vm.provider_id, "STOPPED").unwrap();
    // Unpaused, the feed (500 ms long polls) would deliver this well within the window.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(fx.vm(vm.id).state, PowerState::Running, "nothing is polled while paused");

    fx.engine.set_sync_paused(false);
    let started = std::time::Instant::now();
    while fx.vm(vm.id).state != PowerState::Stopped {
        assert!(started.elapsed() < PATIENCE, "resuming never caught the change");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_an_account_rebuilds_its_provider_and_refuses_bad_settings() {
    let fx = Fixture::new(fast_fleet(4)).synced().await;
    let bad = fx.engine.update_account("lab", serde_json::json!({ "size": 0 })).unwrap_err();
    assert_eq!(bad.to_string(), "invalid Demo fleet settings: the demo fleet's size must be between 1 and 1000000");
    assert_eq!(bad.kind(), "invalid");
    let before = fx.engine.runtime(fx.account.id).unwrap();

    let mut cfg: SimConfig = serde_json::from_value(fx.account.config.clone()).unwrap();
    cfg.latency_ms = 2;
    let updated = fx.engine.update_account("lab", serde_json::to_value(&cfg).unwrap()).unwrap();
    assert_eq!(updated.config["latency_ms"], 2);
    let after = fx.engine.runtime(fx.account.id).unwrap();
    assert!(!Arc::ptr_eq(&before, &after), "a new provider with the new settings");
    assert_eq!(fx.engine.full_sync(fx.account.id).await.unwrap().vms, 4, "and it works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_waiting_for_tools_that_never_come_times_out_saying_so() {
    let mut cfg = fast_engine_config();
    cfg.timeouts.start_s = 1;
    cfg.timeouts.tools_s = 1;
    let fx = Fixture::with(fast_fleet(200), cfg).synced().await;
    // A running guest without tools installed: on, but its tools will never answer.
    let vm = fx
        .vms()
        .into_iter()
        .find(|v| v.state == PowerState::Running && v.tools == Some(powerdeck_core::model::ToolsStatus::NotInstalled))
        .expect("the seeded fleet has a running VM without tools");

    let op = fx.run(&vm, OpKind::Start, OpOptions { wait_for_tools: true, ..Default::default() }).await;
    assert_eq!((op.phase, op.job_id.as_deref()), (OpPhase::TimedOut, None), "{op:?}");
    let error = op.error.unwrap_or_default();
    assert!(error.contains("guest tools did not report running within 2s"), "{error}");

    // Without waiting, the same start is simply "already running".
    let plain = fx.run(&vm, OpKind::Start, OpOptions::default()).await;
    assert_eq!(plain.phase, OpPhase::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_are_stored_kept_through_state_only_reads_and_replaced_by_new_ones() {
    use powerdeck_core::reconcile::{reconcile, Gone, Input};
    let fx = Fixture::new(fast_fleet(1));
    let pass = |obs: Observation| {
        let input = Input { account_id: fx.account.id, observations: std::slice::from_ref(&obs), source: Source::Sync, gone: Gone::Nothing, closing: None };
        reconcile(fx.engine.store(), fx.engine.bus(), input).unwrap()
    };
    let with = |pairs: &[(&str, &str)]| Observation { facts: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..running("web-1") };

    pass(with(&[("instance_type", "t3.micro"), ("private_ip", "10.0.0.7")]));
    let vm = fx.engine.resolve_vm("web-1").unwrap();
    assert_eq!(vm.facts.get("private_ip").map(String::as_str), Some("10.0.0.7"));

    // A state-only read carries no facts: nothing to write, the facts stay.
    assert_eq!(pass(running("web-1")).rows_changed, 0);
    assert_eq!(fx.vm(vm.id).facts.len(), 2);

    // New facts replace the old ones whole (the address went away).
    assert_eq!(pass(with(&[("instance_type", "t3.large")])).rows_changed, 1);
    assert_eq!(fx.vm(vm.id).facts.into_iter().collect::<Vec<_>>(), vec![("instance_type".to_string(), "t3.large".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_operation_sends_nothing_more_and_ends_with_the_vm_as_it_is() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();
    fx.engine.start(Workers::DRIVER, Some(&[fx.account.id])).unwrap();
    // Force allowed after 2 s: a cancel before then must stop that too.
    let op = fx.engine.request(vm.id, OpKind::Stop, force(2_000)).await.unwrap();
    let submits = fx.engine.runtime(fx.account.id).unwrap().stats().snapshot().submit;
    let asked = fx.engine.cancel_operation(op.id).unwrap();
    assert!(asked.cancel_requested);
    let done = tokio::time::timeout(PATIENCE, fx.engine.wait(op.id, |_| {})).await.unwrap().unwrap();
    assert_eq!(
        (done.phase, done.failure, done.new_state),
        (OpPhase::Cancelled, Some(powerdeck_core::model::Failure::Cancelled), Some(PowerState::Running)),
        "{done:?}"
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(fx.engine.runtime(fx.account.id).unwrap().stats().snapshot().submit, submits, "no forced power-off after the cancel");
    assert_eq!(fx.vm(vm.id).state, PowerState::Running, "shown as it is, not as stopping");
    assert!(fx.engine.cancel_operation(op.id).unwrap_err().to_string().contains("already ended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_now_powers_off_a_stubborn_guest_without_waiting_out_the_window() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();
    fx.engine.start(Workers::DRIVER, Some(&[fx.account.id])).unwrap();
    // A graceful window of a minute, and no forced fallback allowed up front.
    let opts = OpOptions { allow_force: false, graceful_timeout: Some(Duration::from_secs(60)), wait_for_tools: false, ..OpOptions::default() };
    let op = fx.engine.request(vm.id, OpKind::Stop, opts).await.unwrap();
    fx.engine.force_operation_now(op.id).unwrap();
    let done = tokio::time::timeout(PATIENCE, fx.engine.wait(op.id, |_| {})).await.unwrap().unwrap();
    assert_eq!((done.phase, done.shutdown_method), (OpPhase::Succeeded, Some(ShutdownMethod::Forced)), "{done:?}");
    assert!(done.forced_at.unwrap() - done.requested_at < 10_000, "forced at once, not after the window");
    // Only a graceful stop or reboot can be forced.
    let stopped = fx.first_in(PowerState::Stopped);
    let start = fx.engine.request(stopped.id, OpKind::Start, OpOptions::default()).await.unwrap();
    assert!(fx.engine.force_operation_now(start.id).unwrap_err().to_string().contains("only a graceful stop or reboot"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_asked_in_another_process_reaches_the_one_tracking_the_operation() {
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();
    fx.engine.start(Workers::DRIVER, Some(&[fx.account.id])).unwrap();
    let op = fx.engine.request(vm.id, OpKind::Stop, OpOptions { graceful_timeout: Some(Duration::from_secs(60)), ..OpOptions::default() }).await.unwrap();
    // The app and pdk share the data directory; pdk asks to cancel.
    let store = Arc::new(Store::open(&fx.dir.path().join("powerdeck.sqlite")).unwrap());
    let other = Engine::with_store(store, fx.dir.path(), fast_engine_config()).unwrap();
    other.cancel_operation(op.id).unwrap();
    let done = tokio::time::timeout(PATIENCE, other.wait(op.id, |_| {})).await.unwrap().unwrap();
    assert_eq!(done.phase, OpPhase::Cancelled, "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_follower_loses_nothing_and_repeats_nothing() {
    let fx = Fixture::new(fast_fleet(40)).synced().await;
    let store = Arc::new(Store::open(&fx.dir.path().join("powerdeck.sqlite")).unwrap());
    let other = Engine::with_store(store, fx.dir.path(), fast_engine_config()).unwrap();
    let mut events = other.bus().subscribe();
    // It reads the change log only every 1.5 s, while many batches pile up.
    other.follow_other_processes(Duration::from_millis(1500));
    let mut expected = 0usize;
    for _ in 0..5 {
        fx.world().flip(7).unwrap();
        expected += fx.engine.full_sync(fx.account.id).await.unwrap().state_changes;
    }
    assert!(expected >= 30, "the flips changed {expected} VMs");
    let mut seen = std::collections::HashMap::new();
    let deadline = std::time::Instant::now() + PATIENCE;
    while seen.values().sum::<usize>() < expected {
        assert!(std::time::Instant::now() < deadline, "only {} of {expected} changes arrived", seen.values().sum::<usize>());
        if let Ok(Ok(Event::VmsChanged { changes, .. })) = tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            for c in changes {
                *seen.entry((c.vm.id, c.from)).or_insert(0) += 1;
            }
        }
    }
    // One more pass of the follower: nothing is published again.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    while let Ok(Event::VmsChanged { changes, .. }) = events.try_recv() {
        for c in changes {
            *seen.entry((c.vm.id, c.from)).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.values().sum::<usize>(), expected, "every change exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_terminal_escapes_are_stored_clean_whichever_provider_sent_them() {
    use powerdeck_core::reconcile::{reconcile, Gone, Input};
    let fx = Fixture::new(fast_fleet(1));
    let hostile = [
        Observation { name: "\u{1b}]0;owned\u{7}web\u{1b}[31m-9\r".into(), raw_state: "on\u{1b}[2J".into(), ..running("vm-9") },
        Observation { name: "\u{1b}[31m\u{1b}[0m".into(), ..running("vm-10") },
    ];
    let input = Input { account_id: fx.account.id, observations: &hostile, source: Source::Sync, gone: Gone::Nothing, closing: None };
    reconcile(fx.engine.store(), fx.engine.bus(), input).unwrap();
    let vm = fx.engine.resolve_vm("web-9").unwrap();
    assert_eq!((vm.name.as_str(), vm.raw_state.as_str()), ("web-9", "on"));
    assert_eq!(fx.engine.resolve_vm("vm-10").unwrap().name, "vm-10", "a name that was only escapes keeps its id");

    // A name longer than any screen is shortened, never a reason to refuse
    // the listing; an absurd id still is, and says how long it was.
    let long = [Observation { name: "ü".repeat(3000), ..running("vm-11") }];
    let input = Input { account_id: fx.account.id, observations: &long, source: Source::Sync, gone: Gone::Nothing, closing: None };
    reconcile(fx.engine.store(), fx.engine.bus(), input).unwrap();
    let stored = fx.engine.resolve_vm("vm-11").unwrap().name;
    assert_eq!(stored.chars().count(), powerdeck_core::reconcile::MAX_NAME_CHARS);
    assert!(stored.ends_with('…'));
    let absurd = [running(&"i".repeat(600))];
    let input = Input { account_id: fx.account.id, observations: &absurd, source: Source::Sync, gone: Gone::Nothing, closing: None };
    let err = reconcile(fx.engine.store(), fx.engine.bus(), input).unwrap_err().to_string();
    assert!(err.contains("implausibly long (600 bytes)"), "{err}");
}

/// The polling tiers find their VMs through indexes: what a tier reads
/// does not grow with the account (idle cost must not grow with the fleet).
#[tokio::test]
async fn the_tiers_find_their_few_vms_without_reading_the_whole_account() {
    let fx = Fixture::new(fast_fleet(50));
    fx.engine.full_sync(fx.account.id).await.unwrap();
    let vms = fx.vms();
    let (a, b) = (vms[0].clone(), vms[1].clone());
    fx.world().set_raw(&a.provider_id, "STOPPING").unwrap();
    fx.engine.full_sync(fx.account.id).await.unwrap();
    fx.engine.store().set_watched(b.id, true).unwrap();
    let store = fx.engine.store();
    let transitional: Vec<PowerState> = PowerState::ALL.into_iter().filter(|s| s.is_transitional()).collect();
    assert_eq!(store.provider_ids_in_states(fx.account.id, &transitional).unwrap(), vec![a.provider_id.clone()]);
    assert_eq!(store.watched_provider_ids(fx.account.id).unwrap(), vec![b.provider_id.clone()]);
    // Both through an index, never a scan of the account's VMs.
    let conn = rusqlite::Connection::open(fx.dir.path().join("powerdeck.sqlite")).unwrap();
    for sql in [
        "SELECT provider_id FROM vms WHERE account_id = 1 AND state IN ('starting', 'stopping')",
        "SELECT provider_id FROM vms WHERE account_id = 1 AND watched = 1",
    ] {
        let plan: Vec<String> =
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap().query_map([], |r| r.get::<_, String>(3)).unwrap().map(Result::unwrap).collect();
        assert!(plan.iter().any(|p| p.contains("USING INDEX vms_state") || p.contains("USING INDEX vms_watched")), "{sql}: {plan:?}");
        assert!(!plan.iter().any(|p| p.starts_with("SCAN")), "{sql}: {plan:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_name_kinds_health_and_failures_but_no_secret_or_name_unless_asked() {
    const SECRET: &str = "diag-s3cr3t-value-9f2c";
    std::env::set_var("PDK_DIAG_TEST_SECRET", SECRET);
    let fx = Fixture::new(fast_fleet(10)).synced().await;
    let aws = powerdeck_core::provider::ec2::Ec2Config {
        regions: vec!["eu-west-1".into()],
        endpoint: Some("http://127.0.0.1:9".into()),
        access_key_id: Some("AKIADIAGNOSTICSKEY01".into()),
        ..Default::default()
    };
    fx.engine
        .add_account(
            "acme-prod-billing",
            "ec2",
            serde_json::to_value(&aws).unwrap(),
            Some((powerdeck_core::secrets::SecretRef::Env { var: "PDK_DIAG_TEST_SECRET".into() }, None)),
        )
        .unwrap();
    // A failure by name (a stubborn guest without force) and an account error (an outage).
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();
    let op = fx.run(&vm, OpKind::Stop, OpOptions { allow_force: false, graceful_timeout: Some(Duration::from_millis(300)), ..OpOptions::default() }).await;
    assert_eq!(op.phase, OpPhase::Failed);
    fx.world().set_outage_until(now_ms() + 600_000).unwrap();
    fx.engine.full_sync(fx.account.id).await.unwrap_err();

    let plain = fx.engine.diagnostics("powerdeck 9.9.9 (test)", false);
    assert!(plain.contains("Program: powerdeck 9.9.9 (test)"), "{plain}");
    assert!(plain.contains("10 VMs in 2 accounts"), "{plain}");
    assert!(plain.contains("sim: 1 cannot be reached (10 VMs)"), "{plain}");
    assert!(plain.contains("ec2: 1 "), "{plain}");
    assert!(plain.contains("a sim account: cannot be reached"), "{plain}");
    assert!(plain.contains("1 failed (names and errors left out)"), "{plain}");
    for private in [SECRET, "PDK_DIAG_TEST_SECRET", "AKIADIAGNOSTICSKEY01", "127.0.0.1:9", "acme-prod-billing", vm.name.as_str(), "lab ("] {
        assert!(!plain.contains(private), "{private:?} leaked into diagnostics:\n{plain}");
    }

    let named = fx.engine.diagnostics("powerdeck 9.9.9 (test)", true);
    assert!(named.contains(&format!("lab/{}: failed; ", vm.name)), "{named}");
    assert!(named.contains("lab (sim): cannot be reached; "), "{named}");
    for secret in [SECRET, "PDK_DIAG_TEST_SECRET", "AKIADIAGNOSTICSKEY01"] {
        assert!(!named.contains(secret), "{secret:?} leaked into diagnostics:\n{named}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_stops_past_the_deadline_when_nothing_records_the_end() {
    let fx = Fixture::new(fast_fleet(4)).synced().await;
    let vm = fx.first_in(PowerState::Running);
    fx.world().set_stubborn(&vm.provider_id, true).unwrap();
    // No driver runs in this process, and no other process exists: the
    // stop is sent, and nothing will ever record its end.
    let op = fx
        .engine
        .request(vm.id, OpKind::Stop, OpOptions { allow_force: false, graceful_timeout: Some(Duration::from_millis(300)), ..OpOptions::default() })
        .await
        .unwrap();
    let err = tokio::time::timeout(Duration::from_secs(30), fx.engine.wait(op.id, |_| {})).await.expect("the wait ends by itself").unwrap_err();
    assert_eq!(err.kind(), "unfinished", "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}: the stop operation (#{}) has no verified end", vm.name, op.id)) && text.contains("no process is following it"),
        "{text}"
    );
    assert!(!fx.engine.store().operation(op.id).unwrap().unwrap().phase.is_terminal(), "the journal keeps it open for whoever resumes it");
}
