//! Runbook runs, carried out durably. A run is journalled with the plan a
//! person approved; one process at a time runs it (owner + lease, adopted
//! when its process dies, like an operation). Each step submits its VMs
//! (at most `parallel` in flight) as one batch and ends when every one of
//! them has ended verified or failed; the next step starts then, woken by
//! the operations' own events. A failure stops the run, lets it continue,
//! or rolls back the completed steps in reverse order, each verified.

use super::bulk::plan_one;
use super::ops::OpOptions;
use super::Engine;
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, Initiator, Millis, Observation, OpKind, OpPhase, Operation, PowerState, ToolsStatus};
use crate::runbook::{inverse, Action, PlannedStep, Run, RunPhase, RunPlan, RunStep, Runbook, StepPhase, Will};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// A step's work in the run's direction: the operation kind (`None` for a
/// wait) and the VMs it applies to.
type Work = (Option<OpKind>, Vec<i64>);

/// How often runs are looked at while any is under way, when nothing wakes
/// the runner sooner (cancel requests from other processes, waits).
const LOOK_EVERY: Duration = Duration::from_millis(1000);
/// How often an idle runner looks: with no run under way, only another
/// process's run can appear unannounced (a run started here wakes the
/// runner), and it needs this process only once its owner has died.
const IDLE_LOOK: Duration = Duration::from_secs(5);

impl Engine {
    /// Resolve a runbook to concrete VMs, each step projected on the VMs'
    /// states after the steps before it: what a person approves. Nothing is
    /// sent, and no provider is asked.
    pub fn plan_runbook(&self, rb: &Runbook) -> Result<RunPlan, CoreError> {
        rb.validate().map_err(CoreError::Invalid)?;
        // Each VM's state (and guest tools) as the steps before leave it.
        let mut projected: HashMap<i64, (PowerState, Option<ToolsStatus>)> = HashMap::new();
        let mut steps = Vec::with_capacity(rb.steps.len());
        // The inventory once for every step that names a group, not once per step.
        let inventory = if rb.steps.iter().any(|s| s.group.is_some()) { Some(self.group_inventory()?) } else { None };
        for (index, step) in rb.steps.iter().enumerate() {
            let mut vms = Vec::new();
            if let Action::Power(kind) = step.action {
                let mut ids = self.resolve_all(&step.vms)?;
                if let (Some(g), Some(inventory)) = (&step.group, &inventory) {
                    for vm in inventory.resolve(&self.group(g)?).0 {
                        if !ids.contains(&vm.id) {
                            ids.push(vm.id);
                        }
                    }
                }
                let opts = OpOptions { allow_force: step.force, wait_for_tools: step.wait_for_tools, ..OpOptions::default() };
                for vm in self.store.vms_by_ids(&ids)? {
                    let rt = self.runtime(vm.account_id)?;
                    let (state, tools) = projected.get(&vm.id).copied().unwrap_or((vm.state, vm.tools));
                    let seen = Observation {
                        provider_id: vm.provider_id.clone(),
                        name: vm.name.clone(),
                        state,
                        raw_state: vm.raw_state.clone(),
                        tools,
                        location: None,
                        facts: Default::default(),
                    };
                    let mut p = plan_one(&rt, &vm, Some(&seen), kind, &opts);
                    p.expected_state = state;
                    if p.will == Will::Run && kind != OpKind::Reboot {
                        // Installed tools come up with the guest and go down with it.
                        let tools = match (kind.target(), tools) {
                            (PowerState::Running, Some(ToolsStatus::NotRunning)) => Some(ToolsStatus::Running),
                            (t, Some(ToolsStatus::Running)) if t != PowerState::Running => Some(ToolsStatus::NotRunning),
                            (_, t) => t,
                        };
                        projected.insert(vm.id, (kind.target(), tools));
                    }
                    vms.push(p);
                }
                vms.sort_by(|a, b| a.name.cmp(&b.name));
            }
            steps.push(PlannedStep {
                index,
                label: step.label(index),
                action: step.action,
                force: step.force,
                parallel: step.parallel,
                wait_for_tools: step.wait_for_tools,
                seconds: step.seconds,
                vms,
            });
        }
        Ok(RunPlan { runbook: rb.name.clone(), on_failure: rb.on_failure, steps })
    }

    /// Start running an approved plan. The runner (`Workers::runbooks`)
    /// carries it out; returns at once.
    pub fn start_run(&self, rb: &Runbook, plan: RunPlan, initiator: Initiator) -> Result<Run, CoreError> {
        self.start_run_linked(rb, plan, initiator, None)
    }

    /// A run a schedule started: the run and the firing's link to it are
    /// written together, so an adopter never starts it twice.
    pub(super) fn start_run_for_firing(&self, rb: &Runbook, plan: RunPlan, firing: i64) -> Result<Run, CoreError> {
        self.start_run_linked(rb, plan, Initiator::Schedule, Some(firing))
    }

    fn start_run_linked(&self, rb: &Runbook, plan: RunPlan, initiator: Initiator, firing: Option<i64>) -> Result<Run, CoreError> {
        let run = self.store.insert_run((rb.id > 0).then_some(rb.id), &plan, initiator, &self.owner, self.pid, firing)?;
        self.store.renew_lease(&self.owner, self.pid, now_ms())?;
        self.bus.publish(Event::RunChanged { run: run.clone() });
        self.wake_runner.notify_one();
        Ok(run)
    }

    pub fn run_of(&self, id: i64) -> Result<Run, CoreError> {
        Ok(self.store.run(id)?.ok_or_else(|| CoreError::Invalid(format!("run #{id} does not exist")))?.run)
    }

    /// Cancel a run: nothing new starts; operations in flight are followed
    /// to their end; the run says what state it left.
    pub fn cancel_run(&self, id: i64) -> Result<Run, CoreError> {
        if !self.store.request_on_run(id, false)? {
            return Err(CoreError::Invalid(format!("run #{id} is not running")));
        }
        self.wake_runner.notify_one();
        self.run_of(id)
    }

    /// For a run waiting on a person after a failed step: roll back the
    /// completed steps, or leave everything as it is.
    pub fn decide_run(&self, id: i64, rollback: bool) -> Result<Run, CoreError> {
        let done = if rollback {
            self.store.request_on_run(id, true)?
        } else {
            self.store.end_awaiting_run(id, "left as it was after a failed step, on the user's decision")?
        };
        if !done {
            return Err(CoreError::Invalid(format!("run #{id} is not waiting for a decision")));
        }
        self.wake_runner.notify_one();
        self.run_of(id)
    }

    /// Wait until a run ends; `progress` sees each change.
    pub async fn wait_run(&self, id: i64, mut progress: impl FnMut(&Run)) -> Result<Run, CoreError> {
        let mut rx = self.bus.subscribe();
        let mut last = None;
        loop {
            let run = self.run_of(id)?;
            if last.as_ref() != Some(&(run.phase, run.step, run.rolling_back, run.steps.len())) {
                progress(&run);
                last = Some((run.phase, run.step, run.rolling_back, run.steps.len()));
            }
            if run.phase.is_terminal() || run.phase == RunPhase::AwaitingDecision {
                return Ok(run);
            }
            let _ = tokio::time::timeout(LOOK_EVERY, async {
                while let Ok(e) = rx.recv().await {
                    if matches!(e, Event::RunChanged { ref run } if run.id == id) {
                        return;
                    }
                }
            })
            .await;
        }
    }

    /// One look at every run under way: adopt those whose runner is gone,
    /// move on those this process runs. Whether there were any.
    async fn runbooks_once(self: &Arc<Self>) -> Result<bool, CoreError> {
        let now = now_ms();
        let runs = self.store.active_runs()?;
        let any = !runs.is_empty();
        if runs.iter().any(|r| r.owner.as_deref() == Some(self.owner.as_str())) {
            self.store.renew_lease(&self.owner, self.pid, now)?;
        }
        for rec in runs {
            let mine = rec.owner.as_deref() == Some(self.owner.as_str());
            if !mine {
                let lease_over = now - rec.heartbeat_at > self.cfg.lease_ms as Millis;
                let owner_dead = rec.owner_pid.is_some_and(|pid| !super::ops::process_alive(pid));
                if !(lease_over || owner_dead) || !self.store.adopt_run(rec.run.id, rec.owner.as_deref(), &self.owner, self.pid)? {
                    continue;
                }
                tracing::info!(run = rec.run.id, runbook = %rec.run.name, "adopted an unfinished runbook run");
            }
            // Several moves in one look while each finishes at once (a wait
            // that is over, a step whose VMs were all skipped).
            for _ in 0..4 {
                let Some(rec) = self.store.run(rec.run.id)? else { break };
                if rec.run.phase.is_terminal() || rec.run.phase == RunPhase::AwaitingDecision || !self.advance_run(rec.run).await? {
                    break;
                }
            }
        }
        Ok(any)
    }

    /// Move a run on as far as it can go now; whether it moved.
    async fn advance_run(self: &Arc<Self>, mut run: Run) -> Result<bool, CoreError> {
        let now = now_ms();
        let current = run.steps.iter().find(|s| s.step == run.step && s.rollback == run.rolling_back && s.phase == StepPhase::Running).cloned();
        if run.cancel_requested && current.is_none() {
            let summary = format!("cancelled {}; {}", where_it_is(&run), done_so_far(&run));
            return self.end_run(&mut run, RunPhase::Cancelled, summary);
        }
        if !run.rolling_back && run.step >= run.plan.steps.len() {
            // Under "continue", a failed step is reported, and the run with it.
            let failed = run.steps.iter().filter(|s| !s.rollback && s.phase == StepPhase::Failed).count();
            if failed > 0 {
                let summary = format!("every step ran; {failed} failed: {}", run.summary.clone().unwrap_or_default());
                return self.end_run(&mut run, RunPhase::Failed, summary);
            }
            let summary = format!("all {} steps done and verified", run.plan.steps.len());
            return self.end_run(&mut run, RunPhase::Succeeded, summary);
        }
        let plan_step = run.plan.steps[run.step].clone();
        let (kind, vms) = match self.step_work(&run, &plan_step)? {
            Some(work) => work,
            None => {
                // Nothing to do here (a wait while rolling back, a reboot, no VM changed).
                let skipped =
                    RunStep { step: run.step, rollback: run.rolling_back, batch_id: None, phase: StepPhase::Skipped, started_at: now, finished_at: Some(now) };
                return self.next_step(&mut run, skipped);
            }
        };
        let Some(mut step) = current else {
            if run.cancel_requested {
                return Ok(false);
            }
            // Begin the step.
            let batch = match kind {
                Some(k) => {
                    let verb = if run.rolling_back { "rollback of " } else { "" };
                    Some(self.store.create_batch(&format!("{}: {verb}{}", run.name, plan_step.label), k, Initiator::Runbook, Some(run.id))?.id)
                }
                None => None,
            };
            let step = RunStep { step: run.step, rollback: run.rolling_back, batch_id: batch, phase: StepPhase::Running, started_at: now, finished_at: None };
            self.save_run(&run, Some(&step))?;
            if let (Some(k), Some(b)) = (kind, batch) {
                self.submit_wave(&plan_step, k, b, &vms).await?;
            }
            return Ok(true);
        };
        match (kind, step.batch_id) {
            (None, _) => {
                // A wait.
                if now < step.started_at + (plan_step.seconds as Millis) * 1000 {
                    return Ok(false);
                }
                step.phase = StepPhase::Done;
                step.finished_at = Some(now);
                self.next_step(&mut run, step)
            }
            (Some(k), Some(batch)) => {
                let ops = self.store.batch_operations(batch)?;
                let active = ops.iter().filter(|o| !o.phase.is_terminal()).count();
                let all_asked = vms.iter().all(|id| ops.iter().any(|o| o.vm_id == *id));
                if !all_asked && !run.cancel_requested {
                    self.submit_wave(&plan_step, k, batch, &vms).await?;
                    return Ok(false);
                }
                if active > 0 {
                    return Ok(false);
                }
                self.store.seal_batch(batch)?;
                self.settle_batch(batch)?;
                let failed: Vec<&Operation> = ops.iter().filter(|o| o.phase != OpPhase::Succeeded).collect();
                step.finished_at = Some(now);
                if failed.is_empty() && all_asked {
                    step.phase = StepPhase::Done;
                    return self.next_step(&mut run, step);
                }
                step.phase = StepPhase::Failed;
                self.step_failed(&mut run, step, &failed)
            }
            (Some(_), None) => Err(CoreError::Invalid(format!("run #{}: a power step without its batch", run.id))),
        }
    }

    /// What a step does in the run's direction: the operation kind (`None`
    /// for a wait) and its VMs; `None` when there is nothing to do.
    fn step_work(&self, run: &Run, step: &PlannedStep) -> Result<Option<Work>, CoreError> {
        let kind = match step.action {
            Action::Wait if run.rolling_back => return Ok(None),
            Action::Wait => return Ok(Some((None, vec![]))),
            Action::Power(k) => k,
        };
        if !run.rolling_back {
            // Every VM of the step, whatever the preview foresaw: each is
            // planned again on a fresh reading when its turn comes (already
            // there: done without sending; impossible: a failure the policy
            // answers, never silently left out).
            let vms: Vec<i64> = step.vms.iter().map(|v| v.vm_id).collect();
            return Ok((!vms.is_empty()).then_some((Some(kind), vms)));
        }
        // Rolling back: undo what the forward step changed, VM by VM.
        let Some(undo) = inverse(kind) else { return Ok(None) };
        let Some(forward) = run.steps.iter().find(|s| s.step == step.index && !s.rollback).and_then(|s| s.batch_id) else { return Ok(None) };
        let changed: Vec<i64> = self
            .store
            .batch_operations(forward)?
            .into_iter()
            .filter(|o| o.phase == OpPhase::Succeeded && o.previous_state != o.new_state && o.previous_state.is_some_and(|p| undo.reached_by(p)))
            .map(|o| o.vm_id)
            .collect();
        Ok((!changed.is_empty()).then_some((Some(undo), changed)))
    }

    /// Send the step's next VMs, keeping at most `parallel` in flight.
    async fn submit_wave(self: &Arc<Self>, step: &PlannedStep, kind: OpKind, batch: i64, vms: &[i64]) -> Result<(), CoreError> {
        let ops = self.store.batch_operations(batch)?;
        let active = ops.iter().filter(|o| !o.phase.is_terminal()).count();
        let slots = (step.parallel as usize).saturating_sub(active);
        let pending: Vec<i64> = vms.iter().filter(|id| !ops.iter().any(|o| o.vm_id == **id)).copied().take(slots).collect();
        if pending.is_empty() {
            return Ok(());
        }
        // Rolling back a start stops the VM again; that stop may force, so
        // the rollback ends even with a guest that ignores it.
        let rolling_back = step.action != Action::Power(kind);
        let force = step.force || (rolling_back && kind == OpKind::Stop);
        let opts = OpOptions {
            allow_force: force,
            wait_for_tools: step.wait_for_tools && kind == OpKind::Start,
            initiator: Initiator::Runbook,
            batch: Some(batch),
            ..OpOptions::default()
        };
        let mut by_account: BTreeMap<i64, Vec<crate::model::Vm>> = BTreeMap::new();
        for vm in self.store.vms_by_ids(&pending)? {
            by_account.entry(vm.account_id).or_default().push(vm);
        }
        for (account, vms) in by_account {
            let rt = self.runtime(account)?;
            // The account's driver follows what this sends.
            self.start(super::Workers::DRIVER, Some(&[account]))?;
            self.submit_all(&rt, vms, kind, &opts).await?;
        }
        Ok(())
    }

    /// A step failed: the runbook's policy says what happens next.
    fn step_failed(self: &Arc<Self>, run: &mut Run, step: RunStep, failed: &[&Operation]) -> Result<bool, CoreError> {
        let what: Vec<String> = failed.iter().take(3).map(|o| format!("{}: {}", o.vm_name, o.error.as_deref().unwrap_or(o.phase.as_str()))).collect();
        let more = failed.len().saturating_sub(3);
        let why = format!("{} of its VMs failed ({}{})", failed.len(), what.join("; "), if more > 0 { format!("; {more} more") } else { String::new() });
        let label = run.plan.steps[run.step].label.clone();
        if run.cancel_requested {
            self.save_run(run, Some(&step))?;
            let summary = format!("cancelled during '{label}', where {why}; {}", done_so_far(run));
            return self.end_run(run, RunPhase::Cancelled, summary);
        }
        if run.rolling_back {
            // Rolling back goes on: undo as much as can be undone.
            run.summary = Some(format!("rollback of '{label}' incomplete: {why}"));
            return self.next_step(run, step);
        }
        use crate::runbook::FailurePolicy as P;
        match run.plan.on_failure {
            P::Continue => {
                run.summary = Some(format!("'{label}': {why}; went on"));
                self.next_step(run, step)
            }
            P::Stop => {
                self.save_run(run, Some(&step))?;
                let summary = format!("stopped at '{label}': {why}; {}", done_so_far(run));
                self.end_run(run, RunPhase::Failed, summary)
            }
            P::Rollback => {
                self.save_run(run, Some(&step))?;
                run.rolling_back = true;
                run.phase = RunPhase::RollingBack;
                run.summary = Some(format!("'{label}' failed: {why}; rolling back"));
                self.save_run(run, None)?;
                Ok(true)
            }
            P::Ask => {
                run.phase = RunPhase::AwaitingDecision;
                run.summary = Some(format!("'{label}' failed: {why}; roll back the completed steps, or leave them as they are?"));
                self.save_run(run, Some(&step))?;
                Ok(true)
            }
        }
    }

    /// Record the step's end and move to the next one (forward, or back).
    fn next_step(self: &Arc<Self>, run: &mut Run, step: RunStep) -> Result<bool, CoreError> {
        if !run.steps.iter().any(|s| s.step == step.step && s.rollback == step.rollback) {
            run.steps.push(step.clone());
        }
        if run.rolling_back {
            if run.step == 0 {
                self.save_run(run, Some(&step))?;
                let incomplete = run.summary.as_deref().is_some_and(|s| s.contains("incomplete"));
                let (phase, summary) = if incomplete {
                    (RunPhase::Failed, run.summary.clone().unwrap_or_default())
                } else {
                    (RunPhase::RolledBack, format!("{}; every completed step was undone and verified", run.summary.clone().unwrap_or_default()))
                };
                return self.end_run(run, phase, summary);
            }
            run.step -= 1;
        } else {
            run.step += 1;
        }
        self.save_run(run, Some(&step))?;
        Ok(true)
    }

    fn end_run(&self, run: &mut Run, phase: RunPhase, summary: String) -> Result<bool, CoreError> {
        run.phase = phase;
        run.summary = Some(summary);
        run.finished_at = Some(now_ms());
        self.save_run(run, None)
    }

    fn save_run(&self, run: &Run, step: Option<&RunStep>) -> Result<bool, CoreError> {
        let saved = self.store.update_run(run, &self.owner, step)?;
        if saved {
            if let Some(fresh) = self.store.run(run.id)? {
                self.bus.publish(Event::RunChanged { run: fresh.run });
            }
        }
        Ok(saved)
    }
}

fn where_it_is(run: &Run) -> String {
    let label = run.plan.steps.get(run.step).map(|s| s.label.clone()).unwrap_or_default();
    if run.rolling_back {
        format!("while rolling back '{label}'")
    } else {
        format!("before '{label}'")
    }
}

fn done_so_far(run: &Run) -> String {
    let done = run.steps.iter().filter(|s| !s.rollback && s.phase == StepPhase::Done).count();
    format!("{done} of {} steps done", run.plan.steps.len())
}

/// The runner: one per process, woken by the events of the operations it
/// waits for, and once a second for adoption, cancels and waits.
pub(super) async fn runbook_loop(engine: Arc<Engine>) {
    let mut rx = engine.bus.subscribe();
    loop {
        let nap = match engine.runbooks_once().await {
            Ok(true) => LOOK_EVERY,
            Ok(false) => IDLE_LOOK,
            Err(e) => {
                tracing::warn!(error = %e, "runbook runner pass failed");
                LOOK_EVERY
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = engine.wake_runner.notified() => {}
            _ = async {
                loop {
                    match rx.recv().await {
                        Ok(Event::Operation { op }) if op.batch_id.is_some() && op.phase.is_terminal() => return,
                        Ok(Event::BatchFinished { .. }) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                        _ => {}
                    }
                }
            } => {}
        }
    }
}
