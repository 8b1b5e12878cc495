//! Native notifications for what an admin wants to hear about without
//! looking: operations that ended, drift (someone else changed a VM), and
//! schedules (a firing's batch ended: its headline; a firing missed or
//! failed: its note), and accounts that break or recover while the window is
//! hidden (shown, the window's banner says it). Each is announced once; a
//! burst becomes one summary.

use crate::prefs::NotifyPrefs;
use powerdeck_core::model::{Initiator, OpPhase, Operation};
use powerdeck_core::runbook::RunPhase;
use powerdeck_core::schedule::FiringStatus;
use powerdeck_core::Event;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

/// More messages than this in one batch become a single summary.
const SUMMARY_OVER: usize = 3;

pub struct Notifier {
    app: AppHandle,
    prefs: Arc<RwLock<NotifyPrefs>>,
    announced: HashSet<i64>,
    /// Schedule batches and firings already told (both may arrive again
    /// from another process through the shared store).
    told_batches: HashSet<i64>,
    told_firings: HashSet<i64>,
    /// Accounts told broken, so their recovery is told too (and only then).
    told_broken: HashSet<i64>,
    /// Runbook runs told ended or waiting for a decision.
    told_runs: HashSet<(i64, &'static str)>,
}

impl Notifier {
    pub fn new(app: AppHandle, prefs: Arc<RwLock<NotifyPrefs>>) -> Self {
        Self {
            app,
            prefs,
            announced: HashSet::new(),
            told_batches: HashSet::new(),
            told_firings: HashSet::new(),
            told_broken: HashSet::new(),
            told_runs: HashSet::new(),
        }
    }

    pub fn observe(&mut self, batch: &[Event]) {
        let prefs = *self.prefs.read().unwrap_or_else(|p| p.into_inner());
        let mut lines: Vec<(String, String)> = Vec::new();
        for e in batch {
            match e {
                Event::Operation { op }
                    if op.phase.is_terminal()
                        && self.announced.insert(op.id)
                        && operation_wanted(&prefs, op.phase == OpPhase::Succeeded, op.batch_id.is_some()) =>
                {
                    lines.push(operation_message(op));
                }
                Event::BatchFinished { outcome }
                    if matches!(outcome.batch.initiator, Initiator::Window | Initiator::Tray) && self.told_batches.insert(outcome.batch.id) =>
                {
                    let wanted = if outcome.failed > 0 { prefs.operation_failed } else { prefs.operation_done && !prefs.failures_only };
                    if wanted {
                        let title = if outcome.failed > 0 { format!("{}: some failed", outcome.batch.label) } else { format!("{}: done", outcome.batch.label) };
                        lines.push((title, capitalise(&outcome.result_text())));
                    }
                }
                Event::VmsChanged { changes, .. } if prefs.drift => {
                    // A VM passing through (stopping, starting…) is told once it arrives.
                    for c in changes.iter().filter(|c| c.drift && !c.vm.state.is_transitional()) {
                        let from = c.from.map(|f| f.to_string()).unwrap_or_default();
                        lines.push(("Changed outside Powerdeck".into(), format!("{} ({}) went from {from} to {}", c.vm.name, c.vm.account, c.vm.state)));
                    }
                }
                Event::BatchFinished { outcome }
                    if prefs.schedules
                        && outcome.batch.initiator == Initiator::Schedule
                        && (outcome.failed > 0 || !prefs.failures_only)
                        && self.told_batches.insert(outcome.batch.id) =>
                {
                    let title = if outcome.failed > 0 { "Schedule: some VMs failed" } else { "Schedule done" };
                    lines.push((title.into(), outcome.headline()));
                }
                Event::Fired { firing }
                    if prefs.schedules && matches!(firing.status, FiringStatus::Missed | FiringStatus::Failed) && self.told_firings.insert(firing.id) =>
                {
                    let what = if firing.status == FiringStatus::Missed { "missed" } else { "failed" };
                    let note = firing.note.clone().unwrap_or_else(|| what.to_string());
                    lines.push((format!("Schedule '{}' {what}", firing.schedule), note));
                }
                Event::RunChanged { run }
                    if (run.phase.is_terminal() || run.phase == RunPhase::AwaitingDecision) && self.told_runs.insert((run.id, run.phase.as_str())) =>
                {
                    let good = run.phase == RunPhase::Succeeded;
                    if (good && prefs.operation_done && !prefs.failures_only) || (!good && prefs.operation_failed) {
                        let what = match run.phase {
                            RunPhase::Succeeded => "done",
                            RunPhase::AwaitingDecision => "needs a decision: roll back, or leave it as it is",
                            RunPhase::RolledBack => "rolled back",
                            RunPhase::Cancelled => "cancelled",
                            _ => "failed",
                        };
                        lines.push((format!("Runbook '{}': {what}", run.name), run.summary.clone().unwrap_or_default()));
                    }
                }
                Event::AccountHealth { account_id, account, health } if prefs.accounts => {
                    if health.is_broken() && !self.window_shown() && self.told_broken.insert(*account_id) {
                        lines.push((
                            format!("Account '{account}': {}", powerdeck_core::engine::health::health_label(health.status)),
                            health.last_error.clone().unwrap_or_default(),
                        ));
                    } else if health.status == "ok" && self.told_broken.remove(account_id) {
                        lines.push((format!("Account '{account}' is back"), "Its VMs are being refreshed.".into()));
                    }
                }
                _ => {}
            }
        }
        if lines.is_empty() {
            return;
        }
        if lines.len() > SUMMARY_OVER {
            let body = lines.iter().take(SUMMARY_OVER).map(|(_, b)| b.as_str()).collect::<Vec<_>>().join("\n");
            self.show(&format!("{} changes", lines.len()), &format!("{body}\n…and {} more", lines.len() - SUMMARY_OVER));
        } else {
            for (title, body) in lines {
                self.show(&title, &body);
            }
        }
        // Keep the memory of announced operations bounded.
        if self.announced.len() > 10_000 {
            self.announced.clear();
        }
        if self.told_batches.len() + self.told_firings.len() + self.told_runs.len() > 10_000 {
            self.told_batches.clear();
            self.told_firings.clear();
            self.told_runs.clear();
        }
    }

    /// Whether the window is on screen (then its banner says it all).
    fn window_shown(&self) -> bool {
        use tauri::Manager;
        self.app.get_webview_window("main").and_then(|w| w.is_visible().ok()).unwrap_or(false)
    }

    fn show(&self, title: &str, body: &str) {
        if let Err(e) = self.app.notification().builder().title(title).body(body).show() {
            tracing::warn!(error = %e, "notification not shown");
        }
    }
}

fn operation_message(op: &Operation) -> (String, String) {
    let what = format!("{} {}", capitalise(op.kind.as_str()), op.vm_name);
    match op.phase {
        OpPhase::Succeeded => {
            let how = op.shutdown_method.map(|m| format!(" ({})", m.as_str())).unwrap_or_default();
            let state = op.new_state.map(|s| s.to_string()).unwrap_or_default();
            (format!("{what}: done"), format!("{} is {state}{how}, verified with {}.", op.vm_name, op.account))
        }
        OpPhase::TimedOut => (format!("{what}: timed out"), op.error.clone().unwrap_or_else(|| "no verified state before the deadline".into())),
        _ => (format!("{what}: failed"), op.error.clone().unwrap_or_else(|| "the provider refused".into())),
    }
}

/// Whether an operation that ended is told on its own: one of a bulk
/// action is told in its batch's summary (its failures one by one too, if
/// asked for); nothing that succeeded is told in "failures only".
fn operation_wanted(prefs: &NotifyPrefs, succeeded: bool, in_batch: bool) -> bool {
    match (succeeded, in_batch) {
        (true, false) => prefs.operation_done && !prefs.failures_only,
        (false, false) => prefs.operation_failed,
        (true, true) => false,
        (false, true) => prefs.operation_failed && prefs.each_failure,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_ended_operation_tells_follows_the_choices() {
        let all = NotifyPrefs::default();
        assert!(operation_wanted(&all, true, false) && operation_wanted(&all, false, false));
        assert!(!operation_wanted(&all, true, true) && !operation_wanted(&all, false, true), "a bulk action's are in its summary");
        let each = NotifyPrefs { each_failure: true, ..all };
        assert!(operation_wanted(&each, false, true) && !operation_wanted(&each, true, true));
        let failures = NotifyPrefs { failures_only: true, ..all };
        assert!(!operation_wanted(&failures, true, false) && operation_wanted(&failures, false, false));
    }
}
