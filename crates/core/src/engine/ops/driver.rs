//! The per-account operation driver, in the style of kube-runtime's
//! controller: each operation it tracks carries its own next check time
//! (requeue with a delay), only the operations that are due are looked at,
//! one batched job poll and then one batched reading serve all of them, and
//! an operation is written to the store only when something about it changed.
//! Operations of processes that died are adopted; a user's cancel or "force
//! now" (from any process) is picked up within a second.

use super::decide::{self, Facts, Step};
use super::secs_to_ms;
use crate::engine::{AccountRuntime, Engine};
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, Failure, Millis, Observation, OpKind, OpPhase, ShutdownMethod, Source};
use crate::provider::{JobStatus, ProviderError};
use crate::store::operations::OpRecord;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// How often requests to cancel or force (possibly made by another process)
/// are looked for while operations are in flight.
const REQUESTS_EVERY_MS: Millis = 1_000;
/// Never check one operation more often than this.
const MIN_CHECK_MS: Millis = 50;

/// One operation this process tracks.
struct Tracked {
    rec: OpRecord,
    /// When to look at it next.
    due: Millis,
    /// Whether an unconfirmed request was already sent again by this process.
    resent: bool,
    /// The job's latest status, as the provider last said.
    job: Option<JobStatus>,
}

pub(in crate::engine) async fn driver_loop(engine: Arc<Engine>, rt: Arc<AccountRuntime>) {
    let mut d = Driver { engine, rt, tracked: HashMap::new(), next_reload: 0, next_requests: 0, next_lease: 0 };
    loop {
        let nap = match d.tick().await {
            Ok(nap) => nap,
            Err(e) => {
                tracing::warn!(account = %d.rt.account.name, error = %e, "operation driver pass failed");
                if matches!(e, CoreError::Store(_)) {
                    *d.engine.store_failure.lock().unwrap() = Some((now_ms(), e.to_string()));
                }
                d.engine.bus.publish(Event::AccountError { account_id: d.rt.account.id, account: d.rt.account.name.clone(), message: e.to_string() });
                Duration::from_millis(d.engine.cfg.inflight_interval_ms)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = d.rt.wake_driver.notified() => {}
        }
    }
}

struct Driver {
    engine: Arc<Engine>,
    rt: Arc<AccountRuntime>,
    tracked: HashMap<i64, Tracked>,
    /// Next look at the journal for operations to adopt or take over.
    next_reload: Millis,
    next_requests: Millis,
    next_lease: Millis,
}

impl Driver {
    fn inflight_ms(&self) -> Millis {
        self.engine.cfg.inflight_interval_ms as Millis
    }

    /// When to read an operation in flight next: the next tick of a grid
    /// of `inflight_interval_ms` shared by every operation of the account,
    /// so that operations asked for at different moments are read together,
    /// in one batched call per tick, rather than one call each (at a bulk
    /// action's or a schedule's scale that is the difference between one
    /// call a tick and one per VM). No later than one interval from now.
    fn poll_at(&self, now: Millis) -> Millis {
        next_tick(now, self.inflight_ms())
    }

    fn lease_renewal_ms(&self) -> Millis {
        (self.engine.cfg.lease_ms / 3).max(self.engine.cfg.inflight_interval_ms) as Millis
    }

    /// One pass; returns how long to sleep before the next.
    async fn tick(&mut self) -> Result<Duration, CoreError> {
        let now = now_ms();
        for rec in self.rt.take_handed_over() {
            // Fresher than any copy a reload took while it was being sent.
            let id = rec.op.id;
            self.tracked.insert(id, Tracked { rec, due: self.poll_at(now), resent: false, job: None });
        }
        if now >= self.next_reload {
            self.reload(now)?;
            self.next_reload = now + self.lease_renewal_ms();
        }
        if !self.tracked.is_empty() && (now >= self.next_lease) {
            self.engine.store.renew_lease(&self.engine.owner, self.engine.pid, now)?;
            self.next_lease = now + self.lease_renewal_ms();
        }
        if self.rt.requests_pending.swap(false, Ordering::Relaxed) || (!self.tracked.is_empty() && now >= self.next_requests) {
            self.pick_up_requests(now)?;
            self.next_requests = now + REQUESTS_EVERY_MS;
        }
        let submitting = self.rt.submitting.lock().unwrap().clone();
        let due: Vec<i64> = self.tracked.iter().filter(|(_, t)| t.due <= now && !submitting.contains(&t.rec.op.vm_id)).map(|(id, _)| *id).collect();
        if !due.is_empty() {
            self.check(due).await?;
        }
        let now = now_ms();
        let next_due = self.tracked.values().map(|t| t.due).min();
        let wake = match next_due {
            Some(d) => d.min(self.next_requests).min(self.next_reload),
            None => self.next_reload,
        };
        Ok(Duration::from_millis((wake - now).clamp(MIN_CHECK_MS, self.lease_renewal_ms()) as u64))
    }

    fn track(&mut self, rec: OpRecord, due: Millis) {
        let id = rec.op.id;
        self.tracked.entry(id).or_insert(Tracked { rec, due, resent: false, job: None });
    }

    /// Adopt operations whose tracker is gone, and take up every unfinished
    /// operation this process owns that it is not tracking yet.
    fn reload(&mut self, now: Millis) -> Result<(), CoreError> {
        let engine = self.engine.clone();
        let submitting = self.rt.submitting.lock().unwrap().clone();
        for rec in engine.store.active_operations(self.rt.account.id)? {
            // Still being sent from this process: it is handed over when sent.
            if submitting.contains(&rec.op.vm_id) {
                continue;
            }
            let mine = rec.owner.as_deref() == Some(engine.owner.as_str());
            if !mine {
                let lease_over = rec.heartbeat_at.is_none_or(|h| now - h > engine.cfg.lease_ms as Millis);
                let owner_dead = rec.owner_pid.is_some_and(|pid| !process_alive(pid));
                if !(lease_over || owner_dead) || !engine.store.adopt_operation(rec.op.id, rec.owner.as_deref(), &engine.owner, engine.pid, now)? {
                    continue;
                }
                tracing::info!(op = rec.op.id, vm = %rec.op.vm_name, "adopted an unfinished operation");
            }
            self.track(rec, now);
        }
        // Forget operations another tracker ended meanwhile.
        let active: Vec<i64> = self.tracked.keys().copied().collect();
        for id in active {
            if engine.store.operation(id)?.is_none_or(|op| op.phase.is_terminal()) {
                self.tracked.remove(&id);
            }
        }
        Ok(())
    }

    /// Requests to cancel or force now, made by any process.
    fn pick_up_requests(&mut self, now: Millis) -> Result<(), CoreError> {
        for (id, cancel, force) in self.engine.store.requested_operations(&self.engine.owner)? {
            if let Some(t) = self.tracked.get_mut(&id) {
                if (cancel && !t.rec.op.cancel_requested) || (force && !t.rec.op.force_requested) {
                    t.rec.op.cancel_requested |= cancel;
                    t.rec.op.force_requested |= force;
                    t.due = now;
                }
            }
        }
        Ok(())
    }

    /// Look at the operations that are due: one batched job poll, then one
    /// batched reading, then each decides its next step. The job poll comes
    /// first so that the reading is taken after the provider last spoke of
    /// the job: a job that ended and a VM read in its target state after it
    /// is the verification ("accepted" is not "done"), with no read of its own.
    async fn check(&mut self, due: Vec<i64>) -> Result<(), CoreError> {
        let (engine, rt) = (self.engine.clone(), self.rt.clone());
        self.poll_jobs(&due).await;
        let ids: Vec<String> = due.iter().filter_map(|id| self.tracked.get(id)).map(|t| t.rec.provider_id.clone()).collect();
        let observed: HashMap<String, Observation> = match engine.read_states(&rt, &ids, Source::Operation).await {
            Ok(obs) => obs.into_iter().map(|o| (o.provider_id.clone(), o)).collect(),
            // Unreachable: nothing to compare, but deadlines still run.
            Err(_) => HashMap::new(),
        };
        for id in due {
            let Some(mut t) = self.tracked.remove(&id) else { continue };
            let before = t.rec.clone();
            let now = now_ms();
            let obs = observed.get(&t.rec.provider_id);
            let keep = self.advance(&mut t, obs, now).await?;
            if keep {
                if t.rec != before && !t.rec.op.phase.is_terminal() {
                    engine.store.save_operation(&t.rec)?;
                }
                self.tracked.insert(id, t);
            }
        }
        Ok(())
    }

    /// Ask the provider about the unfinished jobs of these operations.
    async fn poll_jobs(&mut self, due: &[i64]) {
        let jobs: Vec<String> = due
            .iter()
            .filter_map(|id| self.tracked.get(id))
            .filter(|t| t.rec.op.phase == OpPhase::Tracking && !t.rec.job_done)
            .filter_map(|t| t.rec.op.job_id.clone())
            .collect();
        if jobs.is_empty() {
            return;
        }
        let answers: HashMap<String, Result<JobStatus, ProviderError>> = self.rt.provider.poll_jobs(&jobs).await.into_iter().collect();
        for id in due {
            let Some(t) = self.tracked.get_mut(id) else { continue };
            let Some(job) = t.rec.op.job_id.as_ref() else { continue };
            t.job = match answers.get(job) {
                Some(Ok(status)) => Some(status.clone()),
                Some(Err(e)) => {
                    tracing::debug!(op = id, error = %e, "job poll failed; relying on state");
                    None
                }
                None => None,
            };
        }
    }

    /// Decide and carry out one operation's next step; whether to keep
    /// tracking it.
    async fn advance(&self, t: &mut Tracked, obs: Option<&Observation>, now: Millis) -> Result<bool, CoreError> {
        let (engine, rt) = (&self.engine, &self.rt);
        loop {
            if let Some(o) = obs {
                if Some(o.state) != t.rec.op.previous_state {
                    t.rec.saw_transition = true;
                }
            }
            let facts = Facts {
                op: &t.rec.op,
                job_done: t.rec.job_done,
                saw_transition: t.rec.saw_transition,
                mismatches: t.rec.mismatches,
                obs,
                job: t.job.as_ref(),
                caps: &rt.caps,
                now,
                sent_at: t.rec.op.submitted_at.unwrap_or(t.rec.op.requested_at),
            };
            match decide::next(facts) {
                Step::Wait => {
                    t.due = self.next_check(t, now);
                    return Ok(true);
                }
                Step::JobDone => {
                    t.rec.job_done = true;
                    t.job = None;
                    continue;
                }
                Step::Mismatch => {
                    t.rec.mismatches += 1;
                    t.due = self.poll_at(now);
                    return Ok(true);
                }
                Step::Verified => {
                    // `obs` was read after this tick's job poll (see `check`).
                    engine.finish(rt, &mut t.rec, OpPhase::Succeeded, None, obs)?;
                    return Ok(false);
                }
                Step::Confirmed => {
                    tracing::info!(op = t.rec.op.id, vm = %t.rec.op.vm_name, "an unconfirmed request shows its effect; tracking it");
                    t.rec.op.phase = OpPhase::Tracking;
                    t.rec.op.submitted_at = Some(now);
                    t.rec.op.error = None;
                    // Without leave to force, only the guest could have been asked.
                    if !t.rec.op.allow_force && matches!(t.rec.op.kind, OpKind::Stop | OpKind::Reboot) {
                        t.rec.op.shutdown_method = Some(ShutdownMethod::Graceful);
                    }
                    engine.store.save_operation(&t.rec)?;
                    engine.bus.publish(Event::Operation { op: t.rec.op.clone() });
                    t.due = self.poll_at(now);
                    return Ok(true);
                }
                Step::Resend if t.resent => {
                    // Sent once more already and still no sign: wait for the
                    // deadline rather than send a third time.
                    t.due = self.next_check(t, now);
                    return Ok(true);
                }
                Step::Resend => {
                    let o = obs.expect("a resend is decided from a reading");
                    tracing::info!(op = t.rec.op.id, vm = %t.rec.op.vm_name, "an unconfirmed request shows no effect; sending it again");
                    t.resent = true;
                    t.rec.op.deadline_at = now.saturating_add(t.rec.op.timeout_ms);
                    engine.start_planned(rt, &mut t.rec, o).await?;
                    if t.rec.op.phase.is_terminal() {
                        return Ok(false);
                    }
                    t.due = self.poll_at(now);
                    return Ok(true);
                }
                Step::Force(action) => return self.force(t, obs, action, now).await,
                Step::Finish { phase, failure, message } => {
                    let failure = failure.zip(message);
                    engine.finish(rt, &mut t.rec, phase, failure, obs)?;
                    return Ok(false);
                }
            }
        }
    }

    /// Send the forced fallback (the graceful window passed, or the user asked).
    async fn force(&self, t: &mut Tracked, obs: Option<&Observation>, action: crate::provider::PowerAction, now: Millis) -> Result<bool, CoreError> {
        let (engine, rt) = (&self.engine, &self.rt);
        match rt.provider.submit(&t.rec.provider_id, action).await {
            Ok(sub) => {
                t.rec.op.forced_at = Some(now);
                t.rec.op.shutdown_method = Some(ShutdownMethod::Forced);
                t.rec.op.job_id = sub.job;
                t.rec.job_done = false;
                t.job = None;
                t.rec.op.deadline_at = now.saturating_add(secs_to_ms(engine.cfg.timeouts.force_s));
                tracing::info!(op = t.rec.op.id, "forcing after the graceful request");
                engine.store.save_operation(&t.rec)?;
                engine.bus.publish(Event::Operation { op: t.rec.op.clone() });
                t.due = self.poll_at(now);
                Ok(true)
            }
            // Already off by the time we forced it: the graceful request won.
            Err(ProviderError::InvalidState { .. }) if t.rec.op.kind == OpKind::Stop => {
                t.rec.op.force_requested = false;
                t.due = now;
                Ok(true)
            }
            // It may have gone through: never sent twice; the state decides.
            Err(e) if e.may_have_executed() => {
                t.rec.op.forced_at = Some(now);
                t.rec.op.shutdown_method = Some(ShutdownMethod::Forced);
                t.rec.op.deadline_at = now.saturating_add(secs_to_ms(engine.cfg.timeouts.force_s));
                tracing::warn!(op = t.rec.op.id, error = %e, "the answer to the forced fallback was lost; the VM's state will decide");
                t.due = self.poll_at(now);
                Ok(true)
            }
            Err(e) => {
                engine.note_failure(rt, &e);
                engine.finish(rt, &mut t.rec, OpPhase::Failed, Some((Failure::ForceFailed, format!("forced fallback failed: {e}"))), obs)?;
                Ok(false)
            }
        }
    }

    /// When to look at an operation again: soon while it is in flight, as
    /// the provider asks for a job, and never past its graceful window or
    /// deadline (those are decided on time).
    fn next_check(&self, t: &Tracked, now: Millis) -> Millis {
        let mut at = match &t.job {
            Some(JobStatus::Running { poll_after: Some(after) }) => now + (after.as_millis().min(60_000) as Millis).max(MIN_CHECK_MS),
            _ => self.poll_at(now),
        };
        let op = &t.rec.op;
        let sent_at = op.submitted_at.unwrap_or(op.requested_at);
        if matches!(op.kind, OpKind::Stop | OpKind::Reboot) && op.forced_at.is_none() {
            let graceful_end = sent_at.saturating_add(op.graceful_timeout_ms);
            if graceful_end > now {
                at = at.min(graceful_end);
            }
        }
        at.min(op.deadline_at.max(now + MIN_CHECK_MS))
    }
}

/// The first tick of a grid of `interval` that is at least `MIN_CHECK_MS`
/// after `now`.
fn next_tick(now: Millis, interval: Millis) -> Millis {
    let grid = interval.max(1);
    (now.saturating_add(MIN_CHECK_MS) / grid).saturating_add(1).saturating_mul(grid)
}

/// Whether a process with this id exists on this machine.
pub(in crate::engine) fn process_alive(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Elsewhere only the lease decides.
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_asked_for_at_different_moments_are_read_on_the_same_tick() {
        let interval = 1_500;
        // Asked for 0.1 s and 1.3 s into the same interval: read together.
        let (a, b) = (next_tick(30_100, interval), next_tick(31_300, interval));
        assert_eq!((a, b), (31_500, 31_500));
        // Never sooner than the minimum pause, never later than one interval (plus that pause).
        for now in [0, 1, 1_449, 1_450, 1_499, 1_500, 29_999, i64::MAX / 4] {
            let at = next_tick(now, interval);
            assert!(at >= now + MIN_CHECK_MS && at <= now + interval + MIN_CHECK_MS && at % interval == 0, "{now} → {at}");
        }
        assert_eq!(next_tick(i64::MAX, interval), i64::MAX, "saturates instead of overflowing");
    }
}
