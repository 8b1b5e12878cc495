//! Groups, bulk operations and runbooks on the demo fleet: steps in order,
//! each verified before the next; rollback, continue and stop policies; a
//! stubborn guest forced; cancel; two processes never running one run;
//! the preview; a group rule that picks up VMs added later.

use powerdeck_core::group::GroupRule;
use powerdeck_core::model::{Initiator, OpKind, OpPhase, Operation, PowerState};
use powerdeck_core::provider::sim::{world_path, SimConfig, World};
use powerdeck_core::runbook::{Run, RunPhase, Runbook, StepPhase, Will};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, EngineConfig, Event, OpOptions, Workers};
use powerdeck_testkit::fast::fast_engine_config;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(30);

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
        start_delay_ms: 300,
        stop_delay_ms: 300,
        force_stop_delay_ms: 100,
        reboot_delay_ms: 300,
        suspend_delay_ms: 300,
        ..SimConfig::default()
    }
}

/// Graceful stops get one second before they count as ignored.
fn config() -> EngineConfig {
    let mut cfg = fast_engine_config();
    cfg.timeouts.stop_s = 1;
    cfg.timeouts.force_s = 10;
    cfg
}

impl Lab {
    async fn new(fleet: SimConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let engine = Self::engine_on(dir.path());
        let account = engine.add_account("lab", "sim", serde_json::to_value(&fleet).unwrap(), None).unwrap().id;
        engine.full_sync(account).await.unwrap();
        engine.start(Workers { runbooks: true, ..Workers::DRIVER }, None).unwrap();
        Self { dir, engine, account, cfg: fleet }
    }

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

    fn state(&self, name: &str) -> PowerState {
        self.engine.resolve_vm(name).unwrap().state
    }

    fn save(&self, toml: &str) -> Runbook {
        let rb = Runbook::from_toml(toml).unwrap();
        self.engine.store().save_runbook(&rb, true).unwrap().unwrap()
    }

    async fn run(&self, rb: &Runbook) -> Run {
        let plan = self.engine.plan_runbook(rb).unwrap();
        let run = self.engine.start_run(rb, plan, Initiator::Cli).unwrap();
        tokio::time::timeout(PATIENCE, self.engine.wait_run(run.id, |_| {})).await.expect("the run ends").unwrap()
    }

    fn step_ops(&self, run: &Run, step: usize, rollback: bool) -> Vec<Operation> {
        let s = run
            .steps
            .iter()
            .find(|s| s.step == step && s.rollback == rollback)
            .unwrap_or_else(|| panic!("no step {step} (rollback {rollback}): {:?}", run.steps));
        self.engine.store().batch_operations(s.batch_id.unwrap_or_else(|| panic!("step {step} has no batch: {run:?}"))).unwrap()
    }
}

fn list(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_run_in_order_each_verified_before_the_next_starts() {
    let lab = Lab::new(fleet()).await;
    let on = lab.names_in(PowerState::Running, 2);
    let off = lab.names_in(PowerState::Stopped, 1);
    let rb = lab.save(&format!(
        "name = \"order\"\n[[steps]]\naction = \"stop\"\nvms = [{}]\n[[steps]]\naction = \"start\"\nvms = [{}]\n[[steps]]\naction = \"stop\"\nvms = [{}]\n",
        list(&on),
        list(&off),
        list(&off)
    ));
    let run = lab.run(&rb).await;
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    let ends = |ops: &[Operation]| ops.iter().map(|o| o.finished_at.unwrap_or_else(|| panic!("unfinished: {o:?}"))).max().unwrap();
    let starts = |ops: &[Operation]| ops.iter().map(|o| o.requested_at).min().unwrap();
    let (s1, s2, s3) = (lab.step_ops(&run, 0, false), lab.step_ops(&run, 1, false), lab.step_ops(&run, 2, false));
    assert!(s1.iter().chain(&s2).chain(&s3).all(|o| o.phase == OpPhase::Succeeded && o.initiator == Initiator::Runbook));
    assert!(ends(&s1) <= starts(&s2), "step 2 began before step 1 was verified");
    assert!(ends(&s2) <= starts(&s3), "step 3 began before step 2 was verified");
    assert_eq!((lab.state(&on[0]), lab.state(&off[0])), (PowerState::Stopped, PowerState::Stopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_rolls_the_completed_ones_back_each_verified() {
    let lab = Lab::new(fleet()).await;
    let [a, stubborn] = <[String; 2]>::try_from(lab.names_in(PowerState::Running, 2)).unwrap();
    let b = lab.names_in(PowerState::Stopped, 1).remove(0);
    lab.world().set_stubborn(&lab.engine.resolve_vm(&stubborn).unwrap().provider_id, true).unwrap();
    let rb = lab.save(&format!(
        "name = \"failover\"\non_failure = \"rollback\"\n[[steps]]\naction = \"stop\"\nvms = [\"{a}\"]\n[[steps]]\naction = \"start\"\nvms = [\"{b}\"]\n[[steps]]\naction = \"stop\"\nvms = [\"{stubborn}\"]\n"
    ));
    let run = lab.run(&rb).await;
    assert_eq!(run.phase, RunPhase::RolledBack, "{run:?}");
    assert!(run.summary.as_deref().unwrap().contains("undone"), "{:?}", run.summary);
    // What step 2 started is stopped again, what step 1 stopped is started again: verified.
    let undo2 = lab.step_ops(&run, 1, true);
    let undo1 = lab.step_ops(&run, 0, true);
    assert_eq!((undo2[0].kind, undo2[0].phase, undo2[0].vm_name.as_str()), (OpKind::Stop, OpPhase::Succeeded, b.as_str()));
    assert_eq!((undo1[0].kind, undo1[0].phase, undo1[0].vm_name.as_str()), (OpKind::Start, OpPhase::Succeeded, a.as_str()));
    assert_eq!((lab.state(&a), lab.state(&b), lab.state(&stubborn)), (PowerState::Running, PowerState::Stopped, PowerState::Running), "back as they were");
    // Undone in reverse order.
    assert!(undo2[0].finished_at.unwrap() <= undo1[0].requested_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_runs_on_and_reports_and_force_gets_a_stubborn_guest_down() {
    let lab = Lab::new(fleet()).await;
    let [stubborn, other, forced] = <[String; 3]>::try_from(lab.names_in(PowerState::Running, 3)).unwrap();
    for name in [&stubborn, &forced] {
        lab.world().set_stubborn(&lab.engine.resolve_vm(name).unwrap().provider_id, true).unwrap();
    }
    let rb = lab.save(&format!(
        "name = \"go-on\"\non_failure = \"continue\"\n[[steps]]\naction = \"stop\"\nvms = [\"{stubborn}\"]\n[[steps]]\naction = \"stop\"\nvms = [\"{other}\"]\n[[steps]]\naction = \"stop\"\nforce = true\nvms = [\"{forced}\"]\n"
    ));
    let run = lab.run(&rb).await;
    assert_eq!(run.phase, RunPhase::Failed, "a failed step is reported: {run:?}");
    assert!(run.summary.as_deref().unwrap().contains("every step ran"), "{:?}", run.summary);
    let phases: Vec<StepPhase> = run.steps.iter().map(|s| s.phase).collect();
    assert_eq!(phases, vec![StepPhase::Failed, StepPhase::Done, StepPhase::Done]);
    assert_eq!((lab.state(&stubborn), lab.state(&other), lab.state(&forced)), (PowerState::Running, PowerState::Stopped, PowerState::Stopped));
    let f = lab.step_ops(&run, 2, false);
    assert_eq!(f[0].shutdown_method, Some(powerdeck_core::model::ShutdownMethod::Forced));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_starts_nothing_new_and_says_where_it_stopped() {
    let lab = Lab::new(SimConfig { stop_delay_ms: 700, ..fleet() }).await;
    let a = lab.names_in(PowerState::Running, 1).remove(0);
    let b = lab.names_in(PowerState::Stopped, 1).remove(0);
    let rb = lab.save(&format!("name = \"c\"\n[[steps]]\naction = \"stop\"\nvms = [\"{a}\"]\n[[steps]]\naction = \"start\"\nvms = [\"{b}\"]\n"));
    let plan = lab.engine.plan_runbook(&rb).unwrap();
    let run = lab.engine.start_run(&rb, plan, Initiator::Cli).unwrap();
    // Once step 1's stop is in flight, cancel.
    let mut events = lab.engine.bus().subscribe();
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(Event::Operation { op }) = events.recv().await {
                if op.vm_name == a && op.phase == OpPhase::Tracking {
                    break;
                }
            }
        }
    })
    .await
    .unwrap();
    lab.engine.cancel_run(run.id).unwrap();
    let done = tokio::time::timeout(PATIENCE, lab.engine.wait_run(run.id, |_| {})).await.unwrap().unwrap();
    assert_eq!(done.phase, RunPhase::Cancelled, "{done:?}");
    assert!(done.summary.as_deref().unwrap().contains("1 of 2 steps done"), "{:?}", done.summary);
    assert_eq!(lab.state(&a), PowerState::Stopped, "the stop in flight was followed to its end");
    assert_eq!(lab.state(&b), PowerState::Stopped, "step 2 never started");
    assert!(done.steps.iter().all(|s| s.step == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_run_one_run() {
    let lab = Lab::new(SimConfig { stop_delay_ms: 800, start_delay_ms: 800, ..fleet() }).await;
    // A second process on the same data directory, its runner on too.
    let other = Lab::engine_on(lab.dir.path());
    other.start(Workers { runbooks: true, ..Workers::DRIVER }, None).unwrap();
    let vms = lab.names_in(PowerState::Running, 4);
    let rb = lab.save(&format!(
        "name = \"twice\"\n[[steps]]\naction = \"stop\"\nparallel = 2\nvms = [{}]\n[[steps]]\naction = \"start\"\nvms = [{}]\n",
        list(&vms),
        list(&vms)
    ));
    let run = lab.run(&rb).await;
    assert_eq!(run.phase, RunPhase::Succeeded, "{run:?}");
    for step in 0..2 {
        let ops = lab.step_ops(&run, step, false);
        assert_eq!(ops.len(), 4, "one operation per VM per step, whoever looked: {ops:?}");
        let mut ids: Vec<i64> = ops.iter().map(|o| o.vm_id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_says_exactly_what_will_happen() {
    let lab = Lab::new(fleet()).await;
    let on = lab.names_in(PowerState::Running, 2);
    let off = lab.names_in(PowerState::Stopped, 1);
    let rb = lab.save(&format!(
        "name = \"p\"\n[[steps]]\naction = \"stop\"\nvms = [{}]\n[[steps]]\naction = \"start\"\nvms = [{}]\n[[steps]]\naction = \"hibernate\"\nvms = [\"{}\"]\n",
        list(&[on[0].clone(), off[0].clone()]),
        list(&[on[0].clone(), on[1].clone()]),
        on[1]
    ));
    let plan = lab.engine.plan_runbook(&rb).unwrap();
    let will = |step: usize, name: &str| plan.steps[step].vms.iter().find(|v| v.name == *name).unwrap().will.clone();
    assert_eq!(will(0, &on[0]), Will::Run);
    assert!(matches!(will(0, &off[0]), Will::Skip { .. }), "already stopped: skipped");
    // Step 2 sees the states step 1 leaves: on[0] stopped by then (runs), on[1] still running (skips).
    assert_eq!(will(1, &on[0]), Will::Run);
    assert!(matches!(will(1, &on[1]), Will::Skip { .. }));
    assert!(matches!(will(2, &on[1]), Will::Refuse { .. }), "the demo fleet cannot hibernate");
    // And previewing changed nothing.
    assert_eq!(lab.state(&on[0]), PowerState::Running);
    assert!(lab.engine.store().recent_operations(None, 10).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_rule_picks_up_vms_added_after_the_group_was_saved() {
    let lab = Lab::new(fleet()).await;
    let named = lab.names_in(PowerState::Running, 1);
    let rule = GroupRule { account: Some("later".into()), ..Default::default() };
    lab.engine.save_group("web", &named, Some(rule), false).unwrap();
    assert_eq!(lab.engine.group_members("web").unwrap().vms.len(), 1);
    let later = lab.engine.add_account("later", "sim", serde_json::to_value(SimConfig { size: 3, ..fleet() }).unwrap(), None).unwrap();
    lab.engine.full_sync(later.id).await.unwrap();
    assert_eq!(lab.engine.group_members("web").unwrap().vms.len(), 4, "the three VMs of the new account joined");
    // A bulk stop of the group: one batched read, one batch, one summary.
    let mut events = lab.engine.bus().subscribe();
    lab.engine.start(Workers::DRIVER, None).unwrap();
    let ids: Vec<i64> = lab.engine.group_members("web").unwrap().vms.iter().map(|v| v.id).collect();
    let result = lab.engine.request_many(&ids, OpKind::Stop, OpOptions { allow_force: true, ..OpOptions::default() }, None).await.unwrap();
    assert_eq!(result.operations.len(), 4);
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(Event::BatchFinished { outcome }) = events.recv().await {
                if Some(outcome.batch.id) == result.batch_id {
                    return outcome;
                }
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(outcome.succeeded + outcome.failed, 4);
    assert!(outcome.batch.label.starts_with("Stop 4 VMs"), "{}", outcome.batch.label);
}
