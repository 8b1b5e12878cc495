//! Power operations: plan → submit → track → verify, journalled at every
//! step. `request` plans on a fresh reading and submits; the per-account
//! driver ([`driver`]) follows each operation to the provider's confirmed
//! state, a failure, or its deadline. What happens next is decided by the
//! pure rules in [`decide`]; this module and the driver carry it out.

pub mod decide;
mod driver;

pub(super) use driver::{driver_loop, process_alive};

use super::config::{MAX_DURATION_MS, MAX_DURATION_S};
use super::{AccountRuntime, Engine};
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, Failure, Initiator, Millis, Observation, OpKind, OpPhase, Operation, ShutdownMethod, Source, Vm};
use crate::provider::{PowerAction, ProviderError};
use crate::reconcile::{self, Gone, Input};
use crate::store::operations::OpRecord;
use crate::store::{NewOperation, OpRequest};
use decide::Plan;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

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
    /// Who asks (the window, the tray, pdk, a schedule, a runbook).
    pub initiator: Initiator,
    /// The batch the operation belongs to (a bulk action, a runbook step).
    pub batch: Option<i64>,
}

/// What sending a request came to.
pub(super) enum Sent {
    /// The provider accepted it.
    Accepted,
    /// The answer was lost: it may or may not have run. The operation stays
    /// unconfirmed and the driver decides from what the VM shows.
    Unconfirmed,
    /// Refused (and the operation ended).
    Ended,
}

impl Engine {
    /// Plan and submit one operation. Returns once the provider has accepted
    /// (or refused) the request; tracking continues in the driver loop.
    pub async fn request(self: &Arc<Self>, vm_id: i64, kind: OpKind, opts: OpOptions) -> Result<Operation, CoreError> {
        let vm = self.store.vm(vm_id)?.ok_or_else(|| CoreError::UnknownVm(vm_id.to_string()))?;
        let rt = self.runtime(vm.account_id)?;
        check_supported(&rt, &vm.name, kind, &opts)?;

        // Plan on a fresh read, not on what the store last heard.
        let fresh = self.read_states(&rt, std::slice::from_ref(&vm.provider_id), Source::Sync).await?;
        let Some(obs) = fresh.into_iter().find(|o| o.provider_id == vm.provider_id) else {
            return Err(CoreError::provider(&rt.account.name, ProviderError::NotFound { what: format!("VM {} ({})", vm.name, vm.provider_id) }));
        };
        self.journal_and_send(&rt, &vm, &obs, kind, &opts).await
    }

    /// Journal an operation planned on `obs` (a fresh reading), then carry
    /// out its plan; tracking continues in the driver.
    pub(super) async fn journal_and_send(
        &self,
        rt: &AccountRuntime,
        vm: &Vm,
        obs: &Observation,
        kind: OpKind,
        opts: &OpOptions,
    ) -> Result<Operation, CoreError> {
        let (graceful_ms, timeout_ms) = self.timeouts(kind, opts)?;
        let new = NewOperation {
            vm_id: vm.id,
            kind,
            allow_force: opts.allow_force,
            graceful_timeout_ms: graceful_ms,
            timeout_ms: timeout_ms.max(1000),
            previous_state: Some(obs.state),
            wait_for_tools: opts.wait_for_tools,
            owner: self.owner.clone(),
            owner_pid: self.pid,
            initiator: opts.initiator,
            batch_id: opts.batch,
        };
        // Marked before the row exists: the driver must never take up an
        // operation whose request is still being sent from here.
        rt.submitting.lock().unwrap().insert(vm.id);
        crate::failpoint::hit("before-journal");
        let mut rec = match self.store.insert_operation(&new, now_ms()) {
            Ok(Ok(rec)) => rec,
            Ok(Err(existing)) => {
                rt.submitting.lock().unwrap().remove(&vm.id);
                return Err(CoreError::InFlight { vm: vm.name.clone(), op: Box::new(existing.op) });
            }
            Err(e) => {
                rt.submitting.lock().unwrap().remove(&vm.id);
                return Err(e.into());
            }
        };
        self.bus.publish(Event::Operation { op: rec.op.clone() });
        crate::failpoint::hit("after-journal");
        let result = self.start_planned(rt, &mut rec, obs).await;
        rt.submitting.lock().unwrap().remove(&vm.id);
        if result.is_ok() && !rec.op.phase.is_terminal() {
            rt.hand_over(rec.clone());
        }
        rt.wake_driver.notify_one();
        result?;
        Ok(rec.op)
    }

    /// The graceful window and the whole operation's time, from settings
    /// (range-checked) and the caller's options, saturating.
    pub(super) fn timeouts(&self, kind: OpKind, opts: &OpOptions) -> Result<(Millis, Millis), CoreError> {
        let t = &self.cfg.timeouts;
        let graceful_ms = match opts.graceful_timeout {
            Some(d) if d.as_millis() > u128::from(MAX_DURATION_MS) => {
                return Err(CoreError::Invalid(format!("a graceful window of {} s is longer than the {MAX_DURATION_S} s (one day) allowed", d.as_secs())));
            }
            Some(d) => d.as_millis() as i64,
            None => secs_to_ms(t.for_kind(kind)),
        };
        Ok(match kind {
            OpKind::Stop | OpKind::Reboot if opts.allow_force => (graceful_ms, graceful_ms.saturating_add(secs_to_ms(t.force_s))),
            OpKind::Stop | OpKind::Reboot => (graceful_ms, graceful_ms),
            OpKind::Start if opts.wait_for_tools => (0, secs_to_ms(t.start_s.saturating_add(t.tools_s))),
            _ => (0, secs_to_ms(t.for_kind(kind))),
        })
    }

    /// Carry out the plan for a fresh reading: finish at once, wait, or send.
    pub(super) async fn start_planned(&self, rt: &AccountRuntime, rec: &mut OpRecord, obs: &Observation) -> Result<(), CoreError> {
        match decide::plan(&rec.op, obs, &rt.caps) {
            Plan::AlreadyThere { method } => {
                rec.op.shutdown_method = method;
                self.finish(rt, rec, OpPhase::Succeeded, None, Some(obs))
            }
            Plan::WaitOnly => {
                rec.op.phase = OpPhase::Tracking;
                rec.op.submitted_at = Some(now_ms());
                self.save_and_publish(rec)
            }
            Plan::Refuse { failure, message } => self.finish(rt, rec, OpPhase::Failed, Some((failure, message)), Some(obs)),
            Plan::Send { action, forced } => self.send(rt, rec, obs, action, forced).await.map(|_| ()),
        }
    }

    /// Send the operation's request and record what the provider said.
    pub(super) async fn send(&self, rt: &AccountRuntime, rec: &mut OpRecord, obs: &Observation, action: PowerAction, forced: bool) -> Result<Sent, CoreError> {
        let (graceful, fallback) = decide::requests(rec.op.kind);
        let (mut action, mut forced) = (action, forced);
        let mut submitted = rt.provider.submit(&rec.provider_id, action).await;
        // The provider may know better than we did that the guest cannot be
        // asked (tools just stopped, or the host has no such request): fall
        // back at once when allowed.
        if action == graceful
            && graceful != fallback
            && rec.op.allow_force
            && matches!(submitted, Err(ProviderError::InvalidState { .. } | ProviderError::Unsupported { .. }))
        {
            (action, forced) = (fallback, true);
            submitted = rt.provider.submit(&rec.provider_id, action).await;
        }
        let sub = match submitted {
            Ok(sub) => sub,
            Err(e) if e.may_have_executed() => {
                // Never sent again blindly: the driver reads the VM and decides.
                tracing::warn!(op = rec.op.id, vm = %rec.op.vm_name, error = %e, "the answer to a power request was lost; the VM's state will decide");
                rec.op.phase = OpPhase::Submitted;
                rec.op.submitted_at = None;
                rec.op.error = Some(format!("{e}; waiting to see whether the request took effect"));
                self.save_and_publish(rec)?;
                return Ok(Sent::Unconfirmed);
            }
            Err(e) => {
                self.note_failure(rt, &e);
                self.finish(rt, rec, OpPhase::Failed, Some((Failure::Refused, e.to_string())), None)?;
                return Ok(Sent::Ended);
            }
        };
        crate::failpoint::hit("after-submit");
        let now = now_ms();
        rec.op.submitted_at = Some(now);
        rec.op.error = None;
        rec.op.shutdown_method = match rec.op.kind {
            OpKind::Stop | OpKind::Reboot | OpKind::ForceStop if forced => Some(ShutdownMethod::Forced),
            OpKind::Stop | OpKind::Reboot => Some(ShutdownMethod::Graceful),
            _ => None,
        };
        if forced && graceful != fallback {
            rec.op.forced_at = Some(now);
        }
        rec.op.phase = OpPhase::Tracking;
        rec.op.job_id = sub.job.clone();
        rec.job_done = false;
        self.store.save_operation(rec)?;
        // The operation is in flight now, so reconcile shows the transitional
        // state at once, whatever the provider's first answer says.
        let seen = sub.observed.filter(|o| o.provider_id == rec.provider_id).unwrap_or_else(|| obs.clone());
        self.reconcile_for(rt, &[seen], Source::Operation, None)?;
        self.bus.publish(Event::Operation { op: rec.op.clone() });
        Ok(Sent::Accepted)
    }

    /// Cancel an operation in flight: nothing more is sent, and it ends as
    /// cancelled with the VM's state as the provider then reports it.
    /// Whoever tracks it (this process or another) acts at its next look.
    pub fn cancel_operation(&self, op_id: i64) -> Result<Operation, CoreError> {
        self.request_on(op_id, OpRequest::Cancel)
    }

    /// Send the forced fallback of a graceful stop or reboot now, without
    /// waiting out the graceful window (the user's explicit word allows it).
    pub fn force_operation_now(&self, op_id: i64) -> Result<Operation, CoreError> {
        let op = self.store.operation(op_id)?.ok_or_else(|| CoreError::Invalid(format!("operation #{op_id} does not exist")))?;
        if !matches!(op.kind, OpKind::Stop | OpKind::Reboot) {
            return Err(CoreError::Invalid(format!("only a graceful stop or reboot can be forced; #{op_id} is a {}", op.kind)));
        }
        if op.forced_at.is_some() {
            return Err(CoreError::Invalid(format!("operation #{op_id} was already forced")));
        }
        self.request_on(op_id, OpRequest::ForceNow)
    }

    fn request_on(&self, op_id: i64, request: OpRequest) -> Result<Operation, CoreError> {
        if !self.store.request_on_operation(op_id, request)? {
            return match self.store.operation(op_id)? {
                Some(op) => Err(CoreError::Invalid(format!("operation #{op_id} has already ended ({})", op.phase.as_str()))),
                None => Err(CoreError::Invalid(format!("operation #{op_id} does not exist"))),
            };
        }
        let op = self.store.operation(op_id)?.ok_or_else(|| CoreError::Invalid(format!("operation #{op_id} does not exist")))?;
        // This process may be the one tracking it: look at once.
        if let Some(rt) = self.runtimes.lock().unwrap().values().find(|rt| rt.account.name == op.account) {
            rt.requests_pending.store(true, std::sync::atomic::Ordering::Relaxed);
            rt.wake_driver.notify_one();
        }
        Ok(op)
    }

    /// Wait until an operation ends, whoever tracks it. `progress` is called
    /// with each update (and about once a second while waiting). Past the
    /// operation's deadline (and a pass or two for its tracker to record the
    /// timeout) it stops waiting, with the reason, when this process's
    /// tracking cannot write to the store (a full disk) or when no live
    /// process holds the operation's lease: nothing would ever end it.
    pub async fn wait(&self, op_id: i64, mut progress: impl FnMut(&Operation)) -> Result<Operation, CoreError> {
        let mut rx = self.bus.subscribe();
        loop {
            let op = self.store.operation(op_id)?.ok_or_else(|| CoreError::Invalid(format!("operation #{op_id} does not exist")))?;
            progress(&op);
            if op.phase.is_terminal() {
                return Ok(op);
            }
            let now = now_ms();
            let past = now.saturating_sub(op.deadline_at);
            if past > 2 * self.cfg.inflight_interval_ms as Millis + 1_000 {
                let trouble = self.store_failure.lock().unwrap().clone().filter(|(at, _)| *at >= op.requested_at).map(|(_, why)| why);
                let heartbeat = self.store.operation_record(op_id)?.and_then(|r| r.heartbeat_at);
                let followed = heartbeat.is_some_and(|h| now - h <= self.cfg.lease_ms as Millis);
                if trouble.is_some() || !followed {
                    let reason = trouble.unwrap_or_else(|| "no process is following it (the one that was has stopped); resuming adopts it".into());
                    return Err(CoreError::Unfinished { op: op.id, vm: op.vm_name, kind: op.kind.to_string(), past_s: past / 1000, reason });
                }
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

    fn save_and_publish(&self, rec: &OpRecord) -> Result<(), CoreError> {
        if self.store.save_operation(rec)? {
            self.bus.publish(Event::Operation { op: rec.op.clone() });
        }
        Ok(())
    }

    /// End an operation: journal the outcome, then show the VM's true state
    /// (the in-flight display no longer applies).
    pub(super) fn finish(
        &self,
        rt: &AccountRuntime,
        rec: &mut OpRecord,
        phase: OpPhase,
        failure: Option<(Failure, String)>,
        last: Option<&Observation>,
    ) -> Result<(), CoreError> {
        rec.op.phase = phase;
        rec.op.finished_at = Some(now_ms());
        (rec.op.failure, rec.op.error) = match failure {
            Some((f, m)) => (Some(f), Some(m)),
            None => (None, None),
        };
        if let Some(o) = last {
            rec.op.new_state = Some(o.state);
        }
        if !self.store.save_operation(rec)? {
            // Already ended by another tracker: its outcome stands.
            return Ok(());
        }
        if let Some(o) = last {
            self.reconcile_for(rt, std::slice::from_ref(o), Source::Operation, Some((&rec.provider_id, rec.op.id)))?;
        }
        self.bus.publish(Event::Operation { op: rec.op.clone() });
        if let Some(batch) = rec.op.batch_id {
            self.settle_batch(batch)?;
        }
        Ok(())
    }
}

/// Whether the account's provider can do what is asked, before anything is journalled.
pub(super) fn check_supported(rt: &AccountRuntime, vm: &str, kind: OpKind, opts: &OpOptions) -> Result<(), CoreError> {
    let caps = rt.caps;
    let unsupported = |action: &str| CoreError::Unsupported { vm: vm.to_string(), provider: rt.account.kind.clone(), action: action.into() };
    match kind {
        OpKind::Stop if !(caps.graceful_stop || opts.allow_force && caps.force_stop) => return Err(unsupported("shut down a guest gracefully")),
        OpKind::ForceStop if !caps.force_stop => return Err(unsupported("force a power-off")),
        OpKind::Reboot if !caps.guest_reboot && !caps.reset => return Err(unsupported("reboot")),
        OpKind::Suspend if !caps.suspend => return Err(unsupported("suspend")),
        OpKind::Hibernate if !caps.hibernate => return Err(unsupported("hibernate")),
        OpKind::Deallocate if !caps.deallocate => return Err(unsupported("deallocate")),
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
    Ok(())
}

/// Seconds of a setting as milliseconds, saturating rather than wrapping
/// (settings are range-checked; this keeps a bad one harmless anyway).
pub(super) fn secs_to_ms(secs: u64) -> Millis {
    Millis::try_from(secs.saturating_mul(1000)).unwrap_or(Millis::MAX)
}
