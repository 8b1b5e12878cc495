//! Power operations: plan → submit → track → verify, journalled at every
//! step. `request` plans and submits; the per-account driver loop tracks
//! every unfinished operation, batched, until the provider confirms the
//! target state, the operation fails, or it times out.

use super::config::{MAX_DURATION_MS, MAX_DURATION_S};
use super::{AccountRuntime, Engine};
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, Millis, Observation, OpKind, OpPhase, Operation, PowerState, ShutdownMethod, Source, ToolsStatus};
use crate::provider::{JobStatus, PowerAction, ProviderError};
use crate::reconcile::{self, Gone, Input};
use crate::store::operations::OpRecord;
use crate::store::NewOperation;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How many reads must disagree with a job that reported success before the
/// operation fails verification (the provider may be eventually consistent).
const MISMATCH_LIMIT: u32 = 3;

#[derive(Debug, Clone, Default)]
pub struct OpOptions {
    /// Allow a forced power-off / reset when the graceful request is ignored
    /// or impossible.
    pub allow_force: bool,
    /// Override the graceful window (stop, reboot). Zero with `allow_force`
    /// means "force at once".
    pub graceful_timeout: Option<Duration>,
    /// A start ends only when the guest's tools report running (providers
    /// that report tools only), so "started" means the guest is usable.
    pub wait_for_tools: bool,
}

/// Whether an observation shows what the operation asked for.
fn reached(op: &Operation, o: &Observation) -> bool {
    o.state == op.kind.target() && (!op.wait_for_tools || o.tools == Some(ToolsStatus::Running))
}

impl Engine {
    /// Plan and submit one operation. Returns once the provider has accepted
    /// (or refused) the request; tracking continues in the driver loop.
    pub async fn request(self: &Arc<Self>, vm_id: i64, kind: OpKind, opts: OpOptions) -> Result<Operation, CoreError> {
        let vm = self.store.vm(vm_id)?.ok_or_else(|| CoreError::UnknownVm(vm_id.to_string()))?;
        let rt = self.runtime(vm.account_id)?;
        let caps = rt.caps;
        let unsupported = |action: &str| CoreError::Unsupported { vm: vm.name.clone(), provider: rt.account.kind.clone(), action: action.into() };
        match kind {
            OpKind::Stop if !(caps.graceful_stop || opts.allow_force && caps.force_stop) => return Err(unsupported("shut down a guest gracefully")),
            OpKind::ForceStop if !caps.force_stop => return Err(unsupported("force a power-off")),
            OpKind::Reboot if !caps.guest_reboot && !caps.reset => return Err(unsupported("reboot")),
            OpKind::Suspend if !caps.suspend => return Err(unsupported("suspend")),
            OpKind::Hibernate if !caps.hibernate => return Err(unsupported("hibernate")),
            _ => {}
        }
        if opts.wait_for_tools {
            if kind != OpKind::Start {
                return Err(CoreError::Invalid(format!("only a start can wait for guest tools, not a {kind}")));
            }
            if !caps.tools_status {
                return Err(unsupported("report guest tools, so a start cannot wait for them"));
            }
        }

        // Plan on a fresh read, not on what the store last heard.
        let fresh = self.read_states(&rt, std::slice::from_ref(&vm.provider_id), Source::Sync).await?;
        let Some(obs) = fresh.into_iter().find(|o| o.provider_id == vm.provider_id) else {
            return Err(CoreError::provider(&rt.account.name, ProviderError::NotFound { what: format!("VM {} ({})", vm.name, vm.provider_id) }));
        };

        let t = &self.cfg.timeouts;
        let graceful_ms = match opts.graceful_timeout {
            Some(d) if d.as_millis() > u128::from(MAX_DURATION_MS) => {
                return Err(CoreError::Invalid(format!("a graceful window of {} s is longer than the {MAX_DURATION_S} s (one day) allowed", d.as_secs())));
            }
            Some(d) => d.as_millis() as i64,
            None => secs_to_ms(t.for_kind(kind)),
        };
        let (graceful_ms, timeout_ms) = match kind {
            OpKind::Stop | OpKind::Reboot if opts.allow_force => (graceful_ms, graceful_ms.saturating_add(secs_to_ms(t.force_s))),
            OpKind::Stop | OpKind::Reboot => (graceful_ms, graceful_ms),
            OpKind::Start if opts.wait_for_tools => (0, secs_to_ms(t.start_s.saturating_add(t.tools_s))),
            _ => (0, secs_to_ms(t.for_kind(kind))),
        };
        let new = NewOperation {
            vm_id,
            kind,
            allow_force: opts.allow_force,
            graceful_timeout_ms: graceful_ms,
            timeout_ms: timeout_ms.max(1000),
            previous_state: Some(obs.state),
            wait_for_tools: opts.wait_for_tools,
            owner: self.owner.clone(),
            owner_pid: self.pid,
        };
        let mut rec = match self.store.insert_operation(&new, now_ms())? {
            Ok(rec) => rec,
            Err(existing) => return Err(CoreError::InFlight { vm: vm.name.clone(), op: Box::new(existing.op) }),
        };
        rt.submitting.lock().unwrap().insert(rec.op.id);
        self.bus.publish(Event::Operation { op: rec.op.clone() });
        let result = self.submit_planned(&rt, &mut rec, &obs).await;
        rt.submitting.lock().unwrap().remove(&rec.op.id);
        rt.wake_driver.notify_one();
        result?;
        Ok(rec.op)
    }

    async fn submit_planned(&self, rt: &AccountRuntime, rec: &mut OpRecord, obs: &Observation) -> Result<(), CoreError> {
        let kind = rec.op.kind;
        let already = match kind {
            OpKind::Stop | OpKind::ForceStop | OpKind::Hibernate => obs.state.is_off(),
            OpKind::Start => obs.state == PowerState::Running,
            OpKind::Suspend => obs.state == PowerState::Suspended,
            OpKind::Reboot => false,
        };
        // Running already, but its tools are not up yet: nothing to send,
        // only to wait for.
        if already && kind == OpKind::Start && !reached(&rec.op, obs) {
            rec.op.phase = OpPhase::Tracking;
            self.store.save_operation(rec)?;
            self.bus.publish(Event::Operation { op: rec.op.clone() });
            return Ok(());
        }
        if already {
            if kind != OpKind::Start && kind != OpKind::Suspend {
                rec.op.shutdown_method = Some(ShutdownMethod::AlreadyOff);
            }
            return self.finish(rt, rec, OpPhase::Succeeded, None, Some(obs));
        }
        if kind == OpKind::Reboot && obs.state != PowerState::Running {
            return self.finish(rt, rec, OpPhase::Failed, Some(format!("only a running VM can be rebooted; it is {}", obs.state)), Some(obs));
        }

        let caps = rt.caps;
        let tools_missing = caps.tools_status && matches!(obs.tools, Some(ToolsStatus::NotRunning | ToolsStatus::NotInstalled));
        let force_now = rec.op.allow_force && rec.op.graceful_timeout_ms == 0;
        let (graceful, forced) = match kind {
            OpKind::Stop => (PowerAction::ShutdownGuest, PowerAction::PowerOff),
            OpKind::Reboot => (PowerAction::RebootGuest, PowerAction::Reset),
            OpKind::Start => (PowerAction::Start, PowerAction::Start),
            OpKind::ForceStop => (PowerAction::PowerOff, PowerAction::PowerOff),
            OpKind::Suspend => (PowerAction::Suspend, PowerAction::Suspend),
            OpKind::Hibernate => (PowerAction::Hibernate, PowerAction::Hibernate),
        };
        let has_graceful = match kind {
            OpKind::Stop => caps.graceful_stop,
            OpKind::Reboot => caps.guest_reboot,
            _ => false,
        };
        let mut action = if matches!(kind, OpKind::Stop | OpKind::Reboot) && (force_now || tools_missing || !has_graceful) {
            if !rec.op.allow_force {
                let why = if tools_missing { "guest tools are not running" } else { "the provider cannot ask the guest" };
                return self.finish(
                    rt,
                    rec,
                    OpPhase::Failed,
                    Some(format!("graceful {kind} is not possible: {why}; it can only be powered off hard (a forced fallback was not allowed)")),
                    Some(obs),
                );
            }
            forced
        } else {
            graceful
        };

        let mut submitted = rt.provider.submit(&rec.provider_id, action).await;
        // The provider may know better than we did that the guest cannot be
        // asked (tools just stopped): fall back at once when allowed.
        if action == graceful && graceful != forced && rec.op.allow_force && matches!(submitted, Err(ProviderError::InvalidState { .. })) {
            action = forced;
            submitted = rt.provider.submit(&rec.provider_id, action).await;
        }
        let sub = match submitted {
            Ok(sub) => sub,
            Err(e) => {
                self.note_failure(rt, &e);
                return self.finish(rt, rec, OpPhase::Failed, Some(e.to_string()), None);
            }
        };
        let now = now_ms();
        rec.op.submitted_at = Some(now);
        if action == forced && graceful != forced {
            rec.op.forced_at = Some(now);
            rec.op.shutdown_method = Some(ShutdownMethod::Forced);
        } else if matches!(kind, OpKind::Stop | OpKind::Reboot) {
            rec.op.shutdown_method = Some(ShutdownMethod::Graceful);
        } else if kind == OpKind::ForceStop {
            rec.op.shutdown_method = Some(ShutdownMethod::Forced);
        }
        rec.op.phase = OpPhase::Tracking;
        rec.op.job_id = sub.job.clone();
        self.store.save_operation(rec)?;
        // The operation is in flight now, so reconcile shows the transitional
        // state at once, whatever the provider's first answer says.
        let seen = sub.observed.unwrap_or_else(|| obs.clone());
        self.reconcile_for(rt, &[seen], Source::Operation, None)?;
        self.bus.publish(Event::Operation { op: rec.op.clone() });
        Ok(())
    }

    /// Wait until an operation ends, whoever tracks it. `progress` is called
    /// with each update (and about once a second while waiting).
    pub async fn wait(&self, op_id: i64, mut progress: impl FnMut(&Operation)) -> Result<Operation, CoreError> {
        let mut rx = self.bus.subscribe();
        loop {
            let op = self.store.operation(op_id)?.ok_or_else(|| CoreError::Invalid(format!("operation #{op_id} does not exist")))?;
            progress(&op);
            if op.phase.is_terminal() {
                return Ok(op);
            }
            // Events from this process wake us early; the timer covers
            // operations another process is tracking.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                loop {
                    match rx.recv().await {
                        Ok(Event::Operation { op }) if op.id == op_id => return,
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            })
            .await;
        }
    }

    /// Read current states (batched) and pass them through the one door.
    /// Only readings of the VMs asked about are kept: an answer about other
    /// VMs (a confused or hostile server) must never plan, track or verify
    /// an operation, nor be stored as news about them.
    pub(super) async fn read_states(&self, rt: &AccountRuntime, ids: &[String], source: Source) -> Result<Vec<Observation>, CoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(rt.caps.max_refresh_batch.max(1)) {
            match rt.provider.refresh(chunk).await {
                Ok(obs) => {
                    let asked: HashSet<&str> = chunk.iter().map(String::as_str).collect();
                    let (mine, strangers): (Vec<_>, Vec<_>) = obs.into_iter().partition(|o| asked.contains(o.provider_id.as_str()));
                    if !strangers.is_empty() {
                        tracing::warn!(account = %rt.account.name, count = strangers.len(), "the provider answered about VMs that were not asked about; ignored");
                    }
                    out.extend(mine);
                }
                Err(e) => {
                    self.note_failure(rt, &e);
                    return Err(CoreError::provider(&rt.account.name, e));
                }
            }
        }
        self.note_contact(rt)?;
        self.reconcile_for(rt, &out, source, None)?;
        Ok(out)
    }

    pub(super) fn reconcile_for(
        &self,
        rt: &AccountRuntime,
        obs: &[Observation],
        source: Source,
        closing: Option<(&str, i64)>,
    ) -> Result<reconcile::Outcome, CoreError> {
        reconcile::reconcile(&self.store, &self.bus, Input { account_id: rt.account.id, observations: obs, source, gone: Gone::Nothing, closing })
            .map_err(|e| CoreError::Reconcile { account: rt.account.name.clone(), source: e })
    }

    /// End an operation: journal the outcome, then show the VM's true state
    /// (the in-flight display no longer applies).
    fn finish(&self, rt: &AccountRuntime, rec: &mut OpRecord, phase: OpPhase, error: Option<String>, last: Option<&Observation>) -> Result<(), CoreError> {
        rec.op.phase = phase;
        rec.op.finished_at = Some(now_ms());
        rec.op.error = error;
        if let Some(o) = last {
            rec.op.new_state = Some(o.state);
        }
        if !self.store.save_operation(rec)? {
            // Already ended by another tracker: its outcome stands.
            return Ok(());
        }
        rt.mismatches.lock().unwrap().remove(&rec.op.id);
        if let Some(o) = last {
            self.reconcile_for(rt, std::slice::from_ref(o), Source::Operation, Some((&rec.provider_id, rec.op.id)))?;
        }
        self.bus.publish(Event::Operation { op: rec.op.clone() });
        Ok(())
    }

    /// Take over unfinished operations of this account whose tracker is gone
    /// (its process died, or it stopped renewing its lease).
    fn adopt_orphans(&self, rt: &AccountRuntime) -> Result<(), CoreError> {
        let now = now_ms();
        for rec in self.store.active_operations(rt.account.id)? {
            if rec.owner.as_deref() == Some(self.owner.as_str()) {
                continue;
            }
            let lease_over = rec.heartbeat_at.is_none_or(|h| now - h > self.cfg.lease_ms as Millis);
            let owner_dead = rec.owner_pid.is_some_and(|pid| !process_alive(pid));
            if (lease_over || owner_dead) && self.store.adopt_operation(rec.op.id, rec.owner.as_deref(), &self.owner, self.pid, now)? {
                tracing::info!(op = rec.op.id, vm = %rec.op.vm_name, "adopted an unfinished operation");
            }
        }
        Ok(())
    }

    /// One pass of the driver: read every tracked VM in one batch, then move
    /// each operation along. Returns whether any operation is still in flight.
    async fn drive_once(&self, rt: &AccountRuntime) -> Result<bool, CoreError> {
        self.adopt_orphans(rt)?;
        let submitting = rt.submitting.lock().unwrap().clone();
        let mut ops: Vec<OpRecord> = self
            .store
            .active_operations(rt.account.id)?
            .into_iter()
            .filter(|r| r.owner.as_deref() == Some(self.owner.as_str()) && !submitting.contains(&r.op.id))
            .collect();
        let now = now_ms();
        // Renewed for operations still being submitted too: a slow provider
        // call must not let another process adopt (and re-send) them.
        if !ops.is_empty() || !submitting.is_empty() {
            self.store.heartbeat_operations(&self.owner, now)?;
        }
        if ops.is_empty() {
            return Ok(!submitting.is_empty());
        }

        let ids: Vec<String> = ops.iter().map(|r| r.provider_id.clone()).collect();
        let observed: HashMap<String, Observation> = match self.read_states(rt, &ids, Source::Operation).await {
            Ok(obs) => obs.into_iter().map(|o| (o.provider_id.clone(), o)).collect(),
            // Unreachable: nothing to compare, but deadlines still run.
            Err(_) => HashMap::new(),
        };
        let mut verify = Vec::new();
        for rec in &mut ops {
            let obs = observed.get(&rec.provider_id);
            if self.step(rt, rec, obs, now).await? {
                verify.push(rec.clone());
            }
        }
        if !verify.is_empty() {
            self.verify(rt, verify).await?;
        }
        Ok(true)
    }

    /// An operation journalled but never confirmed as sent: its process died
    /// while asking the provider (or the answer was lost). Decide from what
    /// the VM shows; never escalate to force on a request that may never
    /// have been made.
    async fn confirm_submission(&self, rt: &AccountRuntime, rec: &mut OpRecord, obs: Option<&Observation>, now: Millis) -> Result<(), CoreError> {
        let Some(o) = obs else {
            if now >= rec.op.deadline_at {
                let msg = "timed out: the provider could not be reached to confirm the request, which may never have been sent".to_string();
                self.finish(rt, rec, OpPhase::TimedOut, Some(msg), None)?;
            }
            return Ok(());
        };
        let moved = Some(o.state) != rec.op.previous_state || o.state.is_transitional();
        if moved {
            // The request got through: follow it, with a full graceful window from now.
            tracing::info!(op = rec.op.id, vm = %rec.op.vm_name, "an unconfirmed request shows its effect; tracking it");
            rec.op.phase = OpPhase::Tracking;
            rec.op.submitted_at = Some(now);
            self.store.save_operation(rec)?;
            self.bus.publish(Event::Operation { op: rec.op.clone() });
            return Ok(());
        }
        if rec.op.kind == OpKind::Reboot {
            // A reboot that may have happened must not happen twice.
            let msg = "the reboot request may never have reached the provider (Powerdeck stopped before it was accepted), and the VM shows no sign of it; nothing was sent again. Reboot it again if it still needs it".to_string();
            return self.finish(rt, rec, OpPhase::Failed, Some(msg), Some(o));
        }
        // Start, stop, suspend and hibernate lead to one state: asking again
        // is harmless if the first request did arrive.
        tracing::info!(op = rec.op.id, vm = %rec.op.vm_name, "an unconfirmed request shows no effect; sending it again");
        rec.op.deadline_at = now.saturating_add(rec.op.timeout_ms);
        self.submit_planned(rt, rec, o).await
    }

    /// Advance one operation. Returns true when it is ready for verification.
    async fn step(&self, rt: &AccountRuntime, rec: &mut OpRecord, obs: Option<&Observation>, now: Millis) -> Result<bool, CoreError> {
        if rec.op.phase == OpPhase::Submitted {
            self.confirm_submission(rt, rec, obs, now).await?;
            return Ok(false);
        }
        let kind = rec.op.kind;
        let target = kind.target();
        if let Some(o) = obs {
            if Some(o.state) != rec.op.previous_state {
                rec.saw_transition = true;
            }
        }

        if let (Some(job), false) = (rec.op.job_id.clone(), rec.job_done) {
            match rt.provider.poll_job(&job).await {
                Ok(JobStatus::Running) => {}
                Ok(JobStatus::Succeeded) => rec.job_done = true,
                Ok(JobStatus::Failed(msg)) => {
                    self.finish(rt, rec, OpPhase::Failed, Some(format!("the provider's job {job} failed: {msg}")), obs)?;
                    return Ok(false);
                }
                Err(e) => tracing::debug!(op = rec.op.id, error = %e, "job poll failed; relying on state"),
            }
        }

        if let Some(o) = obs {
            let job_ok = rec.op.job_id.is_none() || rec.job_done;
            let reboot_ok = kind != OpKind::Reboot || rec.saw_transition || rec.job_done || !rt.caps.reboot_visible;
            if reached(&rec.op, o) && job_ok && reboot_ok {
                rec.op.phase = OpPhase::Verifying;
                self.store.save_operation(rec)?;
                return Ok(true);
            }
            // The provider says the job is done but the VM settled elsewhere.
            if rec.job_done && !o.state.is_transitional() && o.state != target {
                let n = {
                    let mut m = rt.mismatches.lock().unwrap();
                    let n = m.entry(rec.op.id).or_insert(0);
                    *n += 1;
                    *n
                };
                if n >= MISMATCH_LIMIT {
                    let msg = format!("verification failed: the provider reported the job complete, but the VM is {} (expected {target})", o.state);
                    self.finish(rt, rec, OpPhase::Failed, Some(msg), obs)?;
                    return Ok(false);
                }
            }
        }

        // The guest's window counts from when the request was accepted.
        let sent_at = rec.op.submitted_at.unwrap_or(rec.op.requested_at);
        let graceful_over = now >= sent_at.saturating_add(rec.op.graceful_timeout_ms);
        if matches!(kind, OpKind::Stop | OpKind::Reboot) && rec.op.forced_at.is_none() && graceful_over {
            let what = if kind == OpKind::Stop { "shut down" } else { "reboot" };
            let secs = rec.op.graceful_timeout_ms / 1000;
            if !rec.op.allow_force {
                let msg = format!("the guest did not {what} within {secs}s and a forced fallback was not allowed");
                self.finish(rt, rec, OpPhase::Failed, Some(msg), obs)?;
                return Ok(false);
            }
            let action = if kind == OpKind::Stop { PowerAction::PowerOff } else { PowerAction::Reset };
            match rt.provider.submit(&rec.provider_id, action).await {
                Ok(sub) => {
                    rec.op.forced_at = Some(now);
                    rec.op.shutdown_method = Some(ShutdownMethod::Forced);
                    rec.op.job_id = sub.job;
                    rec.job_done = false;
                    rec.op.deadline_at = now.saturating_add(secs_to_ms(self.cfg.timeouts.force_s));
                    tracing::info!(op = rec.op.id, "graceful window over after {secs}s; forcing");
                    self.store.save_operation(rec)?;
                    self.bus.publish(Event::Operation { op: rec.op.clone() });
                    return Ok(false);
                }
                // Already off by the time we forced it: the graceful request won.
                Err(ProviderError::InvalidState { .. }) if kind == OpKind::Stop => {}
                Err(e) => {
                    self.finish(rt, rec, OpPhase::Failed, Some(format!("forced fallback failed: {e}")), obs)?;
                    return Ok(false);
                }
            }
        }

        if now >= rec.op.deadline_at {
            let seen = obs.map(|o| format!("the provider reports {} ({})", o.state, o.raw_state)).unwrap_or_else(|| "the provider could not be reached".into());
            let secs = (rec.op.deadline_at - rec.op.requested_at) / 1000;
            let msg = match obs {
                Some(o) if o.state == target && rec.op.wait_for_tools => {
                    let tools = o.tools.map(|t| t.as_str()).unwrap_or("unknown");
                    format!("timed out: the VM is {target} but its guest tools did not report running within {secs}s (they report {tools})")
                }
                _ => format!("timed out: the VM did not reach {target} within {secs}s; {seen}"),
            };
            self.finish(rt, rec, OpPhase::TimedOut, Some(msg), obs)?;
            return Ok(false);
        }
        self.store.save_operation(rec)?;
        Ok(false)
    }

    /// "Accepted" is not "done": confirm each candidate with a fresh read.
    async fn verify(&self, rt: &AccountRuntime, mut recs: Vec<OpRecord>) -> Result<(), CoreError> {
        let ids: Vec<String> = recs.iter().map(|r| r.provider_id.clone()).collect();
        let fresh: HashMap<String, Observation> = match self.read_states(rt, &ids, Source::Operation).await {
            Ok(obs) => obs.into_iter().map(|o| (o.provider_id.clone(), o)).collect(),
            Err(_) => return Ok(()), // try again next tick
        };
        for rec in &mut recs {
            match fresh.get(&rec.provider_id) {
                Some(o) if reached(&rec.op, o) => self.finish(rt, rec, OpPhase::Succeeded, None, Some(o))?,
                Some(_) | None => {
                    // It moved again (or vanished); keep tracking until the deadline.
                    rec.op.phase = OpPhase::Tracking;
                    self.store.save_operation(rec)?;
                }
            }
        }
        Ok(())
    }
}

/// The driver: one loop per account, fast while anything is in flight.
pub(super) async fn driver_loop(engine: Arc<Engine>, rt: Arc<AccountRuntime>) {
    // Idle, it still looks for orphans now and then (another process died).
    let idle = Duration::from_millis((engine.cfg.lease_ms / 3).max(engine.cfg.inflight_interval_ms));
    let busy = Duration::from_millis(engine.cfg.inflight_interval_ms);
    loop {
        let active = match engine.drive_once(&rt).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(account = %rt.account.name, error = %e, "operation driver pass failed");
                engine.bus.publish(Event::AccountError { account_id: rt.account.id, account: rt.account.name.clone(), message: e.to_string() });
                true
            }
        };
        let nap = if active { busy } else { idle };
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = rt.wake_driver.notified() => {}
        }
    }
}

/// Seconds of a setting as milliseconds, saturating rather than wrapping
/// (settings are range-checked; this keeps a bad one harmless anyway).
fn secs_to_ms(secs: u64) -> Millis {
    Millis::try_from(secs.saturating_mul(1000)).unwrap_or(Millis::MAX)
}

/// Whether a process with this id exists on this machine.
fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Elsewhere only the lease decides.
        true
    }
}
