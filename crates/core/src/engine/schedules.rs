//! Schedules, run wherever the engine runs (the app, also closed to the
//! tray; `pdk watch`; `pdk daemon`). Each pass looks at what came due since
//! a schedule was last handled; each occurrence is claimed in the store
//! before anything is sent, so two processes on one data directory never
//! both run it. What a schedule asks for goes through the same door as any
//! operation (a batch of verified operations, or a runbook run), so it is
//! followed to its verified end and shows up everywhere at once.
//!
//! The pass takes "now" as an argument: the loop passes the wall clock,
//! tests pass their own, so no test sleeps through a schedule.

use super::ops::OpOptions;
use super::Engine;
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, BatchOutcome, Initiator, Millis, OpKind, PowerState, Vm};
use crate::runbook::Run;
use crate::schedule::{Edge, Firing, FiringStatus, Occurrence, Purpose, Schedule, Target, Timetable, When};
use crate::store::schedules::{Claim, ScheduleRecord};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The loop looks at the wall clock at least this often, so an occurrence
/// is not late after the computer wakes (a monotonic sleep does not count
/// the time the machine was suspended).
const LOOK_EVERY_MS: Millis = 30_000;
/// At most this many past occurrences of one schedule are looked at in a pass
/// (a computer that slept for a month and a schedule every five minutes).
const MAX_DUE: usize = 2000;
/// An enforced period looks for VMs on the wrong side this often, besides
/// whenever VMs change outside Powerdeck.
const ENFORCE_EVERY_MS: Millis = 10 * 60_000;
/// Not right after an edge: that edge's own operations are on their way.
const ENFORCE_SETTLE_MS: Millis = 2 * 60_000;
/// A VM an enforced period corrected is left alone this long if it is on
/// the wrong side again (a guest that refuses; an admin who insists).
const ENFORCE_BACKOFF_MS: Millis = 30 * 60_000;

/// A schedule with what an admin wants to see about it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct ScheduleView {
    pub schedule: Schedule,
    /// `weekdays at 18:30`, `mon-fri 08:00-19:00 (enforced)`…
    pub when_text: String,
    /// The next occurrences (at most five), holidays marked.
    pub next: Vec<Occurrence>,
    pub last: Option<FiringView>,
    /// Why it cannot run (a zone this system does not know…), if so.
    pub problem: Option<String>,
}

/// A firing and what came of it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct FiringView {
    pub firing: Firing,
    /// One line: "stopped 12 VMs; 1 failed (db-3: …)", "missed", "running…".
    pub result: String,
    /// Its operations' outcome, once every one has ended.
    pub outcome: Option<BatchOutcome>,
    pub run: Option<Run>,
}

/// What the VMs a schedule targets resolve to now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resolved {
    pub vms: Vec<Vm>,
    /// References that no longer resolve (deleted VMs), by what was written.
    pub missing: Vec<String>,
}

/// One pass's doings (for tests and the benchmark).
#[derive(Debug, Clone, Default)]
pub struct Tick {
    pub fired: Vec<Firing>,
    /// When the next pass is due.
    pub next_due: Option<Millis>,
}

/// The scheduler's memory in this process.
#[derive(Default)]
pub(super) struct SchedulerState {
    /// Each enabled schedule with its timetable (or why it has none).
    entries: Vec<Entry>,
    loaded: bool,
    /// (schedule, VM) → when this process last corrected it.
    corrected: HashMap<(i64, i64), Millis>,
    /// A VM changed outside Powerdeck since enforced periods last looked.
    drift_seen: bool,
    last_enforce: HashMap<i64, Millis>,
}

struct Entry {
    rec: ScheduleRecord,
    table: Result<Timetable, String>,
    next: Option<Millis>,
}

impl Engine {
    // ---- Definitions ----------------------------------------------------

    /// Add a schedule, or (`replace`) change the one with its name. Its
    /// group, runbook or VMs must exist now.
    pub fn save_schedule(&self, mut s: Schedule, replace: bool) -> Result<Schedule, CoreError> {
        s.name = s.name.trim().to_string();
        s.validate().map_err(CoreError::Invalid)?;
        match &s.target {
            Target::Group(g) => {
                self.group(g)?;
            }
            Target::Runbook(r) => {
                self.store.runbook(r)?.ok_or_else(|| CoreError::not_found("runbook", r))?;
            }
            Target::Vms(refs) => {
                self.resolve_all(refs)?;
            }
        }
        let now = now_ms();
        match self.store.schedule(&s.name)? {
            Some(old) if replace => {
                s.id = old.schedule.id;
                self.store.update_schedule(&s, now)?;
            }
            Some(_) => return Err(CoreError::Invalid(format!("a schedule named '{}' already exists (edit it instead)", s.name))),
            None => {
                s.id = self.store.insert_schedule(&s, now)?.ok_or_else(|| CoreError::Invalid(format!("a schedule named '{}' already exists", s.name)))?;
            }
        }
        self.schedules_changed();
        Ok(s)
    }

    /// Rename or redefine a schedule found by its current name.
    pub fn update_schedule(&self, name: &str, mut s: Schedule) -> Result<Schedule, CoreError> {
        let old = self.schedule_record(name)?;
        s.id = old.schedule.id;
        s.validate().map_err(CoreError::Invalid)?;
        if s.name != old.schedule.name && self.store.schedule(&s.name)?.is_some() {
            return Err(CoreError::Invalid(format!("a schedule named '{}' already exists", s.name)));
        }
        self.store.update_schedule(&s, now_ms())?;
        self.schedules_changed();
        Ok(s)
    }

    pub fn schedule_record(&self, name: &str) -> Result<ScheduleRecord, CoreError> {
        self.store.schedule(name)?.ok_or_else(|| CoreError::not_found("schedule", name))
    }

    pub fn remove_schedule(&self, name: &str) -> Result<(), CoreError> {
        if !self.store.remove_schedule(name)? {
            return Err(CoreError::not_found("schedule", name));
        }
        self.schedules_changed();
        Ok(())
    }

    pub fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Result<Schedule, CoreError> {
        let rec = self.schedule_record(name)?;
        let s = Schedule { enabled, ..rec.schedule };
        self.store.update_schedule(&s, now_ms())?;
        self.schedules_changed();
        Ok(s)
    }

    /// Pause or resume every schedule (here and in every other process on
    /// this data directory). What comes due while paused is not run later.
    pub fn pause_schedules(&self, paused: bool) -> Result<(), CoreError> {
        self.store.set_schedules_paused(paused)?;
        self.schedules_changed();
        Ok(())
    }

    pub fn schedules_paused(&self) -> Result<bool, CoreError> {
        Ok(self.store.schedules_paused()?)
    }

    fn schedules_changed(&self) {
        self.sched.lock().unwrap().loaded = false;
        self.bus.publish(Event::SchedulesChanged);
        self.wake_scheduler.notify_one();
    }

    // ---- Looking ----------------------------------------------------------

    /// Every schedule with its next runs and last result.
    pub fn schedule_views(&self, now: Millis) -> Result<Vec<ScheduleView>, CoreError> {
        self.store.schedules()?.into_iter().map(|rec| self.view(rec.schedule, now)).collect()
    }

    pub fn schedule_view(&self, name: &str, now: Millis) -> Result<ScheduleView, CoreError> {
        self.view(self.schedule_record(name)?.schedule, now)
    }

    fn view(&self, schedule: Schedule, now: Millis) -> Result<ScheduleView, CoreError> {
        let (next, problem) = match schedule.timetable() {
            Ok(t) => (t.upcoming(now, 5), None),
            Err(e) => (vec![], Some(e)),
        };
        let last = self.store.firings(Some(schedule.id), 1)?.into_iter().next().map(|f| self.firing_view(f)).transpose()?;
        Ok(ScheduleView { when_text: schedule.when.to_string(), schedule, next, last, problem })
    }

    /// The next `n` runs of a schedule that need not be saved: the live
    /// preview while one is written.
    pub fn preview_schedule(&self, s: &Schedule, now: Millis, n: usize) -> Result<Vec<Occurrence>, CoreError> {
        Ok(s.timetable().map_err(CoreError::Invalid)?.upcoming(now, n))
    }

    /// A schedule's firings (or every schedule's), newest first, each with its result.
    pub fn firing_history(&self, name: Option<&str>, limit: u32) -> Result<Vec<FiringView>, CoreError> {
        let id = name.map(|n| self.schedule_record(n).map(|r| r.schedule.id)).transpose()?;
        self.store.firings(id, limit)?.into_iter().map(|f| self.firing_view(f)).collect()
    }

    pub fn firing_view(&self, firing: Firing) -> Result<FiringView, CoreError> {
        let outcome = match firing.batch_id {
            Some(b) if self.store.batch(b)?.is_some_and(|b| b.finished_at.is_some()) => self.store.batch_outcome(b)?,
            _ => None,
        };
        let run = firing.run_id.map(|r| self.store.run(r)).transpose()?.flatten().map(|r| r.run);
        let result = match (firing.status, &outcome, &run) {
            (FiringStatus::Started, Some(o), _) => o.result_text(),
            (FiringStatus::Started, None, Some(r)) => {
                format!("runbook run #{}: {}{}", r.id, r.phase.as_str(), r.summary.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())
            }
            (FiringStatus::Started, None, None) => "under way: waiting for the VMs to confirm".into(),
            (FiringStatus::Claimed, ..) => "starting".into(),
            (status, ..) => firing.note.clone().unwrap_or_else(|| status.as_str().into()),
        };
        Ok(FiringView { firing, result, outcome, run })
    }

    /// The VMs a schedule's target is now (empty for a runbook).
    pub fn schedule_targets(&self, s: &Schedule) -> Result<Resolved, CoreError> {
        match &s.target {
            Target::Runbook(_) => Ok(Resolved::default()),
            Target::Group(g) => {
                let m = self.group_members(g)?;
                let missing = m.missing.iter().map(|id| format!("VM #{id}")).collect();
                Ok(Resolved { vms: m.vms, missing })
            }
            Target::Vms(refs) => {
                let mut out = Resolved::default();
                for r in refs {
                    match self.resolve_vm(r) {
                        Ok(vm) if !out.vms.iter().any(|v| v.id == vm.id) => out.vms.push(vm),
                        Ok(_) => {}
                        Err(CoreError::UnknownVm(_)) => out.missing.push(r.clone()),
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            }
        }
    }

    // ---- Running ----------------------------------------------------------

    /// "Run now": claim a firing for this moment and carry it out (a period
    /// is brought to the side it should be on now). Returns once the
    /// operations (or the run) are started.
    pub async fn run_schedule_now(self: &Arc<Self>, name: &str) -> Result<Firing, CoreError> {
        let rec = self.schedule_record(name)?;
        let table = rec.schedule.timetable().map_err(CoreError::Invalid)?;
        let now = now_ms();
        let edge = match table.in_period(now) {
            Some(true) => Edge::Start,
            Some(false) => Edge::End,
            None => Edge::Run,
        };
        let claim =
            Claim { schedule_id: rec.schedule.id, occurrence: now, purpose: Purpose::Manual, edge, status: FiringStatus::Claimed, late_ms: 0, note: None };
        let firing = self
            .store
            .claim_firing(&claim, &self.owner, self.pid, now)?
            .ok_or_else(|| CoreError::Invalid(format!("'{name}' was just run; try again in a moment")))?;
        self.carry_out(&rec.schedule, firing).await
    }

    /// One pass of the scheduler at `now`: adopt firings whose process died,
    /// handle every occurrence that came due, correct enforced periods.
    pub async fn schedule_tick(self: &Arc<Self>, now: Millis) -> Result<Tick, CoreError> {
        let mut tick = Tick::default();
        self.adopt_firings(now, &mut tick).await?;
        if self.store.schedules_paused()? {
            // What comes due while paused is not wanted later, not "missed".
            self.store.pass_over_until(now)?;
            self.sched.lock().unwrap().loaded = false;
            tick.next_due = Some(now + LOOK_EVERY_MS);
            return Ok(tick);
        }
        self.load_schedules()?;
        // Work out everything due first (no lock held across a send).
        let mut work: Vec<(Schedule, Firing)> = Vec::new();
        let due: Vec<(ScheduleRecord, Timetable)> = {
            let st = self.sched.lock().unwrap();
            st.entries
                .iter()
                .filter(|e| e.next.is_some_and(|n| n <= now) && e.rec.checked_until < now)
                .filter_map(|e| e.table.as_ref().ok().map(|t| (e.rec.clone(), t.clone())))
                .collect()
        };
        for (rec, table) in due {
            let (occurrences, more) = table.between(rec.checked_until, now, MAX_DUE);
            let claims = if rec.schedule.when.is_period() {
                period_claims(&rec.schedule, &table, &occurrences, now)
            } else {
                run_claims(&rec.schedule, &table, &occurrences, more, now)
            };
            for (claim, note) in claims {
                let claim = Claim { note: note.as_deref(), ..claim };
                let Some(firing) = self.store.claim_firing(&claim, &self.owner, self.pid, now)? else { continue };
                self.bus.publish(Event::Fired { firing: firing.clone() });
                if firing.status == FiringStatus::Claimed {
                    work.push((rec.schedule.clone(), firing));
                } else {
                    tick.fired.push(firing);
                }
            }
            self.store.mark_checked(rec.schedule.id, now)?;
            let mut st = self.sched.lock().unwrap();
            if let Some(e) = st.entries.iter_mut().find(|e| e.rec.schedule.id == rec.schedule.id) {
                e.rec.checked_until = now;
                e.next = table.next_after(now).map(|o| o.at);
            }
        }
        self.store.renew_lease(&self.owner, self.pid, now)?;
        tick.fired.extend(self.carry_out_all(work).await);
        tick.fired.extend(self.enforce_periods(now).await?);
        tick.next_due = self.next_due(now);
        Ok(tick)
    }

    /// Carry out claimed firings side by side, keeping this process's lease
    /// fresh while they are sent (so no one adopts them meanwhile).
    async fn carry_out_all(self: &Arc<Self>, work: Vec<(Schedule, Firing)>) -> Vec<Firing> {
        if work.is_empty() {
            return vec![];
        }
        let mut set = tokio::task::JoinSet::new();
        for (schedule, firing) in work {
            let engine = self.clone();
            set.spawn(async move {
                let id = firing.id;
                engine.carry_out(&schedule, firing).await.map_err(|e| (id, e))
            });
        }
        let mut out = Vec::new();
        let renew_every = Duration::from_millis((self.cfg.lease_ms / 3).max(500));
        loop {
            tokio::select! {
                done = set.join_next() => match done {
                    None => break,
                    Some(Ok(Ok(f))) => out.push(f),
                    Some(Ok(Err((id, e)))) => {
                        tracing::warn!(firing = id, error = %e, "a schedule could not be carried out");
                        let note = format!("could not start: {e}");
                        if self.store.finish_firing(id, FiringStatus::Failed, None, Some(&note)).is_ok() {
                            if let Ok(Some(f)) = self.store.firing(id) {
                                self.bus.publish(Event::Fired { firing: f.firing.clone() });
                                out.push(f.firing);
                            }
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "a schedule task failed"),
                },
                _ = tokio::time::sleep(renew_every) => {
                    let _ = self.store.renew_lease(&self.owner, self.pid, now_ms());
                }
            }
        }
        out
    }

    /// Do what a claimed firing asks: start its operations (one batch) or its runbook run.
    async fn carry_out(self: &Arc<Self>, s: &Schedule, firing: Firing) -> Result<Firing, CoreError> {
        if let Target::Runbook(name) = &s.target {
            let Some(rb) = self.store.runbook(name)? else {
                return self.end_firing(firing.id, FiringStatus::Failed, None, &format!("its runbook '{name}' no longer exists"));
            };
            let plan = match self.plan_runbook(&rb) {
                Ok(p) => p,
                Err(e) => return self.end_firing(firing.id, FiringStatus::Failed, None, &format!("its runbook '{name}' could not be planned: {e}")),
            };
            let run = self.start_run_for_firing(&rb, plan, firing.id)?;
            return self.end_firing(firing.id, FiringStatus::Started, Some(run.id), &format!("started runbook '{name}' (run #{})", run.id));
        }
        let kind = edge_kind(s, firing.edge);
        let resolved = match self.schedule_targets(s) {
            Ok(r) => r,
            Err(e) => return self.end_firing(firing.id, FiringStatus::Failed, None, &format!("its target could not be resolved: {e}")),
        };
        let gone = gone_note(&resolved.missing);
        if resolved.vms.is_empty() {
            let (status, note) = if resolved.missing.is_empty() {
                (FiringStatus::Nothing, format!("{} has no VMs now; nothing to do", s.target))
            } else {
                (FiringStatus::Failed, format!("nothing ran: {gone}"))
            };
            return self.end_firing(firing.id, status, None, &note);
        }
        let label = format!("Schedule '{}'", s.name);
        let batch = self.store.begin_firing_batch(firing.id, &label, kind)?;
        self.submit_for_firing(s, kind, batch, resolved.vms.iter().map(|v| v.id).collect()).await?;
        let note = if gone.is_empty() {
            format!("{} {} VMs", kind.as_str(), resolved.vms.len())
        } else {
            format!("{} {} VMs; {gone}", kind.as_str(), resolved.vms.len())
        };
        self.end_firing(firing.id, FiringStatus::Started, None, &note)
    }

    async fn submit_for_firing(self: &Arc<Self>, s: &Schedule, kind: OpKind, batch: i64, vm_ids: Vec<i64>) -> Result<(), CoreError> {
        // The accounts' drivers follow what is sent (a daemon starts them all;
        // the app and `pdk watch` too, but a test's engine may not have).
        let accounts: BTreeSet<i64> = self.store.vms_by_ids(&vm_ids)?.iter().map(|v| v.account_id).collect();
        self.start(super::Workers::DRIVER, Some(&accounts.into_iter().collect::<Vec<_>>()))?;
        let opts = OpOptions { allow_force: s.force, initiator: Initiator::Schedule, batch: Some(batch), ..OpOptions::default() };
        self.request_many(&vm_ids, kind, opts, None).await?;
        Ok(())
    }

    /// End a firing with what it did. What the claim already said (that it
    /// ran late, or why a period edge was evaluated now) is kept in front.
    fn end_firing(&self, id: i64, status: FiringStatus, run_id: Option<i64>, note: &str) -> Result<Firing, CoreError> {
        let said = self.store.firing(id)?.and_then(|r| r.firing.note).filter(|n| !n.is_empty() && !note.contains(n.as_str()));
        let note = match said {
            Some(said) => format!("{said}; {note}"),
            None => note.to_string(),
        };
        self.store.finish_firing(id, status, run_id, Some(&note))?;
        let firing = self.store.firing(id)?.ok_or_else(|| CoreError::Invalid(format!("firing #{id} vanished")))?.firing;
        self.bus.publish(Event::Fired { firing: firing.clone() });
        Ok(firing)
    }

    /// Firings claimed by a process that died before it started them (or
    /// while it was sending): pick them up. What was already journalled is
    /// followed by the operations' own adoption; the rest is sent now if the
    /// occurrence is still within its grace window, and reported if not.
    async fn adopt_firings(self: &Arc<Self>, now: Millis, tick: &mut Tick) -> Result<(), CoreError> {
        for rec in self.store.claimed_firings()? {
            if rec.owner.as_deref() == Some(self.owner.as_str()) {
                continue;
            }
            let lease_over = now - rec.heartbeat_at > self.cfg.lease_ms as Millis;
            let owner_dead = rec.owner_pid.is_some_and(|pid| !super::ops::process_alive(pid));
            if !(lease_over || owner_dead) || !self.store.adopt_firing(rec.firing.id, rec.owner.as_deref(), &self.owner, self.pid)? {
                continue;
            }
            let firing = rec.firing;
            tracing::info!(firing = firing.id, schedule = %firing.schedule, "adopted a schedule firing whose process stopped");
            let Some(s) = self.store.schedules()?.into_iter().find(|s| s.schedule.id == firing.schedule_id).map(|r| r.schedule) else { continue };
            let late = now - firing.occurrence;
            let in_time = firing.purpose == Purpose::Manual || s.when.is_period() || late <= s.grace_minutes as Millis * 60_000;
            let done = match (firing.batch_id, in_time) {
                (Some(batch), true) => {
                    // Send what the dead process had not journalled yet.
                    let asked: BTreeSet<i64> = self.store.batch_vm_ids(batch)?.into_iter().collect();
                    let kind = edge_kind(&s, firing.edge);
                    let rest: Vec<i64> = self.schedule_targets(&s)?.vms.iter().map(|v| v.id).filter(|id| !asked.contains(id)).collect();
                    if rest.is_empty() {
                        self.store.seal_batch(batch)?;
                        self.settle_batch(batch)?;
                    } else {
                        self.submit_for_firing(&s, kind, batch, rest).await?;
                    }
                    let note = format!("{} {} VMs (taken over after the process that began it stopped)", kind.as_str(), asked.len());
                    self.end_firing(firing.id, FiringStatus::Started, None, &note)?
                }
                (Some(batch), false) => {
                    self.store.seal_batch(batch)?;
                    self.settle_batch(batch)?;
                    let note = format!(
                        "the process running it stopped part-way; the VMs it had asked for are followed to their end, the rest were not asked ({} late, grace {} min)",
                        minutes(late),
                        s.grace_minutes
                    );
                    self.end_firing(firing.id, FiringStatus::Failed, None, &note)?
                }
                (None, true) if firing.run_id.is_none() => self.carry_out(&s, firing).await?,
                (None, _) => {
                    let note = format!(
                        "the process that claimed it stopped before starting it, and it is now too late ({} late, grace {} min)",
                        minutes(late),
                        s.grace_minutes
                    );
                    self.end_firing(firing.id, FiringStatus::Missed, None, &note)?
                }
            };
            tick.fired.push(done);
        }
        Ok(())
    }

    /// Enforced periods: VMs found on the wrong side (someone started one
    /// outside the period, or stopped one inside it) are corrected, and the
    /// correction is reported as such. Looked at when VMs changed outside
    /// Powerdeck, and every ten minutes in any case.
    async fn enforce_periods(self: &Arc<Self>, now: Millis) -> Result<Vec<Firing>, CoreError> {
        let candidates: Vec<(Schedule, Timetable)> = {
            let mut st = self.sched.lock().unwrap();
            let drift = std::mem::take(&mut st.drift_seen);
            let mut out = Vec::new();
            let ids: Vec<i64> = st.entries.iter().map(|e| e.rec.schedule.id).collect();
            for id in ids {
                let last = st.last_enforce.get(&id).copied().unwrap_or(0);
                let Some(e) = st.entries.iter().find(|e| e.rec.schedule.id == id) else { continue };
                let When::Period { enforce: true, .. } = e.rec.schedule.when else { continue };
                let Ok(table) = &e.table else { continue };
                if !drift && now - last < ENFORCE_EVERY_MS {
                    continue;
                }
                out.push((e.rec.schedule.clone(), table.clone()));
                st.last_enforce.insert(id, now);
            }
            out
        };
        let mut fired = Vec::new();
        for (s, table) in candidates {
            if let Some(f) = self.enforce_one(&s, &table, now).await? {
                fired.push(f);
            }
        }
        Ok(fired)
    }

    async fn enforce_one(self: &Arc<Self>, s: &Schedule, table: &Timetable, now: Millis) -> Result<Option<Firing>, CoreError> {
        let Some(inside) = table.in_period(now) else { return Ok(None) };
        // Right after an edge its own operations are still on their way.
        let last_edge = table.between(now - ENFORCE_SETTLE_MS, now, 1).0;
        if !last_edge.is_empty() {
            return Ok(None);
        }
        let off = s.action.unwrap_or(OpKind::Stop);
        let (edge, kind) = if inside { (Edge::Start, OpKind::Start) } else { (Edge::End, off) };
        let Ok(resolved) = self.schedule_targets(s) else { return Ok(None) };
        let busy: BTreeSet<i64> = self.store.in_flight_operations()?.iter().map(|o| o.vm_id).collect();
        let wrong: Vec<&Vm> = {
            let st = self.sched.lock().unwrap();
            resolved
                .vms
                .iter()
                .filter(|vm| !vm.stale && !busy.contains(&vm.id))
                .filter(|vm| {
                    if inside {
                        is_off(vm.state)
                    } else {
                        vm.state == PowerState::Running || (off == OpKind::Deallocate && vm.state == PowerState::Stopped)
                    }
                })
                .filter(|vm| st.corrected.get(&(s.id, vm.id)).is_none_or(|t| now - t > ENFORCE_BACKOFF_MS))
                .collect()
        };
        if wrong.is_empty() {
            return Ok(None);
        }
        let names: Vec<&str> = wrong.iter().take(5).map(|v| v.name.as_str()).collect();
        let more = if wrong.len() > 5 { format!(" and {} more", wrong.len() - 5) } else { String::new() };
        let side = if inside { "stopped inside its period" } else { "running outside its period" };
        let note = format!("drift correction: {} VM(s) were {side} ({}{more}); {} them", wrong.len(), names.join(", "), past(kind));
        let claim = Claim {
            schedule_id: s.id,
            occurrence: now - now.rem_euclid(60_000),
            purpose: Purpose::Enforce,
            edge,
            status: FiringStatus::Claimed,
            late_ms: 0,
            note: Some(&note),
        };
        let Some(firing) = self.store.claim_firing(&claim, &self.owner, self.pid, now)? else { return Ok(None) };
        {
            let mut st = self.sched.lock().unwrap();
            for vm in &wrong {
                st.corrected.insert((s.id, vm.id), now);
            }
        }
        let ids: Vec<i64> = wrong.iter().map(|v| v.id).collect();
        let batch = self.store.begin_firing_batch(firing.id, &format!("Schedule '{}' (drift correction)", s.name), kind)?;
        self.submit_for_firing(s, kind, batch, ids).await?;
        Ok(Some(self.end_firing(firing.id, FiringStatus::Started, None, &note)?))
    }

    /// (Re)load the schedules and their timetables when something changed.
    fn load_schedules(&self) -> Result<(), CoreError> {
        if self.sched.lock().unwrap().loaded {
            return Ok(());
        }
        let entries = self
            .store
            .schedules()?
            .into_iter()
            .filter(|r| r.schedule.enabled)
            .map(|rec| {
                let table = rec.schedule.timetable();
                let next = table.as_ref().ok().and_then(|t| t.next_after(rec.checked_until)).map(|o| o.at);
                Entry { rec, table, next }
            })
            .collect();
        let mut st = self.sched.lock().unwrap();
        st.entries = entries;
        st.loaded = true;
        Ok(())
    }

    /// When the next pass is due: the earliest next occurrence, or the next
    /// look at enforced periods.
    fn next_due(&self, now: Millis) -> Option<Millis> {
        let st = self.sched.lock().unwrap();
        let mut next = st.entries.iter().filter_map(|e| e.next).min();
        if st.entries.iter().any(|e| matches!(e.rec.schedule.when, When::Period { enforce: true, .. })) {
            let enforce = st.last_enforce.values().min().copied().unwrap_or(now) + ENFORCE_EVERY_MS;
            next = Some(next.map_or(enforce, |n| n.min(enforce)));
        }
        next
    }

    /// Time to compute every enabled schedule's next occurrence (benchmark).
    pub fn reload_schedules(&self) -> Result<usize, CoreError> {
        self.sched.lock().unwrap().loaded = false;
        self.load_schedules()?;
        Ok(self.sched.lock().unwrap().entries.len())
    }
}

/// What a plain schedule does with the occurrences that came due: the
/// latest one still within its grace window runs; holidays are recorded as
/// skipped; the rest were missed, told once (the latest, with a count).
fn run_claims(s: &Schedule, table: &Timetable, due: &[Occurrence], more: bool, now: Millis) -> Vec<(Claim<'static>, Option<String>)> {
    let grace = s.grace_minutes as Millis * 60_000;
    let mut out = Vec::new();
    let runnable = due.iter().rev().find(|o| !o.holiday && now - o.at <= grace).copied();
    let mut missed: Vec<&Occurrence> = Vec::new();
    for o in due {
        if o.holiday {
            let date = table.local_date(o.at);
            out.push((claim(s, o, FiringStatus::Skipped, now), Some(format!("skipped: {date} is one of its skip dates"))));
        } else if Some(*o) != runnable {
            missed.push(o);
        }
    }
    if let Some(last) = missed.last() {
        let when = table.local(last.at).format("%a %Y-%m-%d %H:%M %Z");
        let count =
            if missed.len() > 1 || more { format!(" ({}{} runs missed in all)", if more { "more than " } else { "" }, missed.len()) } else { String::new() };
        let why = if runnable.is_some() { "a later run is due now" } else { "Powerdeck was not running or this computer was asleep" };
        let note = format!("missed at {when} ({} late; grace {} min) because {why}; skipped{count}", minutes(now - last.at), s.grace_minutes);
        out.push((claim(s, last, FiringStatus::Missed, now), Some(note)));
    }
    if let Some(o) = runnable {
        let note = (now - o.at > LOOK_EVERY_MS).then(|| format!("ran {} late (within its {} min grace)", minutes(now - o.at), s.grace_minutes));
        out.push((claim(s, &o, FiringStatus::Claimed, now), note));
    }
    out
}

/// A period's edges that came due: only the latest matters, however late
/// (the VMs should be on that side now); earlier ones are superseded.
fn period_claims(s: &Schedule, table: &Timetable, due: &[Occurrence], now: Millis) -> Vec<(Claim<'static>, Option<String>)> {
    let Some(last) = due.last() else { return vec![] };
    if last.holiday {
        let date = table.local_date(last.at);
        return vec![(claim(s, last, FiringStatus::Skipped, now), Some(format!("period skipped: {date} is one of its skip dates")))];
    }
    let late = now - last.at;
    let note = (late > s.grace_minutes as Millis * 60_000).then(|| {
        let when = table.local(last.at).format("%a %H:%M %Z");
        let edge = if last.edge == Edge::Start { "began" } else { "ended" };
        format!(
            "the period {edge} at {when} while Powerdeck was not running or this computer was asleep; its VMs were brought to that side now ({} late)",
            minutes(late)
        )
    });
    vec![(claim(s, last, FiringStatus::Claimed, now), note)]
}

fn claim(s: &Schedule, o: &Occurrence, status: FiringStatus, now: Millis) -> Claim<'static> {
    Claim { schedule_id: s.id, occurrence: o.at, purpose: Purpose::Scheduled, edge: o.edge, status, late_ms: (now - o.at).max(0), note: None }
}

/// The operation an edge of a schedule asks for.
fn edge_kind(s: &Schedule, edge: Edge) -> OpKind {
    match edge {
        Edge::Start => OpKind::Start,
        Edge::Run | Edge::End => s.action.unwrap_or(OpKind::Stop),
    }
}

fn is_off(state: PowerState) -> bool {
    matches!(state, PowerState::Stopped | PowerState::Deallocated | PowerState::Suspended)
}

fn gone_note(missing: &[String]) -> String {
    match missing.len() {
        0 => String::new(),
        1 => format!("{} no longer exists", missing[0]),
        n => format!("{n} of its VMs no longer exist: {}", missing.join(", ")),
    }
}

fn past(kind: OpKind) -> &'static str {
    kind.past_tense()
}

fn minutes(ms: Millis) -> String {
    let m = ms / 60_000;
    match m {
        0 => format!("{} s", ms / 1000),
        m if m < 120 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

/// The scheduler: one per process. It sleeps until the next occurrence
/// (looking at the wall clock at least every 30 s, so a wake from sleep is
/// noticed), and wakes early when schedules change or VMs drift.
pub(super) async fn schedule_loop(engine: Arc<Engine>) {
    let mut rx = engine.bus.subscribe();
    loop {
        let now = now_ms();
        let next = match engine.schedule_tick(now).await {
            Ok(t) => t.next_due,
            Err(e) => {
                tracing::warn!(error = %e, "schedule pass failed");
                None
            }
        };
        let wait = next.map_or(LOOK_EVERY_MS, |n| (n - now_ms()).clamp(0, LOOK_EVERY_MS));
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = engine.wake_scheduler.notified() => {}
            _ = async {
                loop {
                    match rx.recv().await {
                        Ok(Event::SchedulesChanged) => {
                            engine.sched.lock().unwrap().loaded = false;
                            return;
                        }
                        Ok(Event::VmsChanged { changes, .. }) if changes.iter().any(|c| c.drift) => {
                            engine.sched.lock().unwrap().drift_seen = true;
                            // Only enforced periods care; the next pass is soon enough.
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            engine.sched.lock().unwrap().loaded = false;
                            return;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                        _ => {}
                    }
                }
            } => {}
        }
    }
}
