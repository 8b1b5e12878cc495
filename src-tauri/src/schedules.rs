//! IPC commands for the Schedules view: thin, one job each, over the
//! engine's schedule API (crates/core/src/engine/schedules.rs). The window
//! writes a schedule as an admin would type it to `pdk schedules add`; the
//! same parser reads it here, and its errors reach the window as sentences.

use crate::ipc_error::IpcError;
use crate::AppState;
use chrono::NaiveDate;
use powerdeck_core::model::{now_ms, OpKind};
use powerdeck_core::schedule::{Occurrence, Schedule, Target, When, DEFAULT_GRACE_MINUTES};
use powerdeck_core::{FiringView, ScheduleView};
use serde::{Deserialize, Serialize};
use tauri::State;

/// A schedule as the form writes it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, rename = "ScheduleDraft"))]
pub struct Draft {
    name: String,
    /// `weekdays 19:00`, `cron 0 19 * * 1-5`, `2026-12-24 18:00`, `mon-fri 08:00-18:00`…
    when: String,
    /// A period corrects VMs found on the wrong side.
    #[serde(default)]
    enforce: bool,
    zone: String,
    /// An operation kind; ignored for a runbook (and a period's default is stop).
    #[cfg_attr(test, ts(as = "Option<powerdeck_core::model::OpKind>"))]
    action: Option<String>,
    /// `group`, `vms` or `runbook`.
    #[cfg_attr(test, ts(type = "\"group\" | \"vms\" | \"runbook\""))]
    target_kind: String,
    /// The group's or runbook's name, or VM references separated by commas.
    target: String,
    #[serde(default)]
    force: bool,
    grace_minutes: Option<u32>,
    #[serde(default)]
    skip_dates: Vec<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

impl Draft {
    /// The schedule it describes, or what is wrong with it in one sentence.
    fn schedule(self) -> Result<Schedule, String> {
        let mut when = When::parse(&self.when)?;
        if let When::Period { enforce, .. } = &mut when {
            *enforce = self.enforce;
        }
        let target = match self.target_kind.as_str() {
            "group" => Target::Group(self.target.trim().to_string()),
            "runbook" => Target::Runbook(self.target.trim().to_string()),
            "vms" => Target::Vms(self.target.split([',', '\n']).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()),
            other => return Err(format!("'{other}' is not something a schedule acts on (a group, VMs or a runbook)")),
        };
        let empty = match &target {
            Target::Group(g) | Target::Runbook(g) => g.is_empty(),
            Target::Vms(v) => v.is_empty(),
        };
        if empty {
            return Err("say what it acts on: a group, VMs or a runbook".into());
        }
        let action = match (&target, self.action.as_deref().map(str::trim).filter(|a| !a.is_empty())) {
            (Target::Runbook(_), _) => None,
            (_, Some(a)) => {
                Some(OpKind::parse(a).ok_or_else(|| format!("'{a}' is not an action (start, stop, force-stop, reboot, suspend, hibernate, deallocate)"))?)
            }
            (_, None) if when.is_period() => Some(OpKind::Stop),
            (_, None) => return Err("say what to do: start, stop, reboot…".into()),
        };
        let mut skip_dates = Vec::new();
        for d in self.skip_dates.iter().map(|d| d.trim()).filter(|d| !d.is_empty()) {
            let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| format!("'{d}' is not a date (use YYYY-MM-DD, such as 2026-12-24)"))?;
            if !skip_dates.contains(&date) {
                skip_dates.push(date);
            }
        }
        skip_dates.sort();
        Ok(Schedule {
            id: 0,
            name: self.name.trim().to_string(),
            enabled: self.enabled,
            zone: self.zone.trim().to_string(),
            when,
            target,
            action,
            force: self.force,
            skip_dates,
            grace_minutes: self.grace_minutes.unwrap_or(DEFAULT_GRACE_MINUTES),
        })
    }
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct Schedules {
    paused: bool,
    schedules: Vec<ScheduleView>,
}

/// Every schedule with its next runs and last result, and whether all are paused.
#[tauri::command]
pub fn list_schedules(state: State<'_, AppState>) -> Result<Schedules, IpcError> {
    let engine = &state.engine;
    Ok(Schedules { paused: engine.schedules_paused().map_err(IpcError::from)?, schedules: engine.schedule_views(now_ms()).map_err(IpcError::from)? })
}

/// The next five runs of a schedule being written (nothing is saved).
#[tauri::command]
pub fn preview_schedule(state: State<'_, AppState>, draft: Draft) -> Result<Vec<Occurrence>, IpcError> {
    let mut s = draft.schedule()?;
    // The preview needs a timetable, not a name: an unnamed draft previews too.
    if s.name.is_empty() {
        s.name = "preview".into();
    }
    state.engine.preview_schedule(&s, now_ms(), 5).map_err(IpcError::from)
}

/// Add a schedule, or (`original`: its name before the edit) change one.
#[tauri::command]
pub fn save_schedule(state: State<'_, AppState>, draft: Draft, original: Option<String>) -> Result<Schedule, IpcError> {
    let s = draft.schedule()?;
    match original {
        Some(name) => state.engine.update_schedule(&name, s).map_err(IpcError::from),
        None => state.engine.save_schedule(s, false).map_err(IpcError::from),
    }
}

#[tauri::command]
pub fn remove_schedule(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    state.engine.remove_schedule(&name).map_err(IpcError::from)
}

#[tauri::command]
pub fn set_schedule_enabled(state: State<'_, AppState>, name: String, enabled: bool) -> Result<(), IpcError> {
    state.engine.set_schedule_enabled(&name, enabled).map(|_| ()).map_err(IpcError::from)
}

/// Pause or resume every schedule (in every process on this data directory).
#[tauri::command]
pub fn pause_schedules(app: tauri::AppHandle, state: State<'_, AppState>, paused: bool) -> Result<bool, IpcError> {
    state.engine.pause_schedules(paused).map_err(IpcError::from)?;
    crate::tray::refresh_menu(&app);
    Ok(paused)
}

/// What "Run now" would do, for its confirmation.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, rename = "RunNowPlan"))]
pub struct RunPlan {
    /// `stop`, `start`…; `None` for a runbook.
    action: Option<OpKind>,
    force: bool,
    /// The VMs it acts on now (names), or the runbook's steps.
    vms: Vec<String>,
    /// References that no longer resolve.
    missing: Vec<String>,
    runbook: Option<String>,
    /// A period is brought to the side it should be on now.
    period_side: Option<String>,
}

#[tauri::command]
pub fn schedule_run_plan(state: State<'_, AppState>, name: String) -> Result<RunPlan, IpcError> {
    let engine = &state.engine;
    let s = engine.schedule_record(&name).map_err(IpcError::from)?.schedule;
    let resolved = engine.schedule_targets(&s).map_err(IpcError::from)?;
    let inside = s.timetable().ok().and_then(|t| t.in_period(now_ms()));
    let action = match (inside, &s.target) {
        (_, Target::Runbook(_)) => None,
        (Some(true), _) => Some(OpKind::Start),
        _ => Some(s.action.unwrap_or(OpKind::Stop)),
    };
    let period_side =
        inside.map(|i| if i { "inside its period now, so its VMs are started".into() } else { "outside its period now, so its VMs are turned off".into() });
    let runbook = match &s.target {
        Target::Runbook(r) => Some(r.clone()),
        _ => None,
    };
    Ok(RunPlan { action, force: s.force, vms: resolved.vms.into_iter().map(|v| v.name).collect(), missing: resolved.missing, runbook, period_side })
}

/// "Run now": returns once its operations (or its runbook run) are started.
#[tauri::command]
pub async fn run_schedule_now(state: State<'_, AppState>, name: String) -> Result<FiringView, IpcError> {
    let engine = state.engine.clone();
    let firing = engine.run_schedule_now(&name).await.map_err(IpcError::from)?;
    engine.firing_view(firing).map_err(IpcError::from)
}

/// A schedule's firings, newest first, each with its result.
#[tauri::command]
pub fn schedule_history(state: State<'_, AppState>, name: String) -> Result<Vec<FiringView>, IpcError> {
    state.engine.firing_history(Some(&name), 50).map_err(IpcError::from)
}

/// What a schedule can act on: the saved groups and runbooks, by name.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, rename = "ScheduleTargets"))]
pub struct Targets {
    groups: Vec<String>,
    runbooks: Vec<String>,
}

#[tauri::command]
pub fn schedule_targets(state: State<'_, AppState>) -> Result<Targets, IpcError> {
    let store = state.engine.store();
    Ok(Targets {
        groups: store.groups().map_err(IpcError::from)?.into_iter().map(|g| g.name).collect(),
        runbooks: store.runbooks().map_err(IpcError::from)?.into_iter().map(|r| r.name).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(when: &str, target_kind: &str, action: Option<&str>) -> Draft {
        Draft {
            name: " nightly ".into(),
            when: when.into(),
            enforce: true,
            zone: "Europe/Berlin".into(),
            action: action.map(str::to_string),
            target_kind: target_kind.into(),
            target: "web-01, web-02".into(),
            force: false,
            grace_minutes: None,
            skip_dates: vec!["2026-12-24".into(), "2026-12-24".into()],
            enabled: true,
        }
    }

    #[test]
    fn a_draft_reads_as_pdk_schedules_add_would() {
        let s = draft("weekdays 19:00", "vms", Some("stop")).schedule().unwrap();
        assert_eq!(s.name, "nightly");
        assert_eq!(s.target, Target::Vms(vec!["web-01".into(), "web-02".into()]));
        assert_eq!(s.action, Some(OpKind::Stop));
        assert_eq!(s.skip_dates.len(), 1, "a repeated skip date is kept once");
        assert_eq!(s.grace_minutes, DEFAULT_GRACE_MINUTES);
        let p = draft("mon-fri 08:00-18:00", "group", None).schedule().unwrap();
        assert!(matches!(p.when, When::Period { enforce: true, .. }), "{:?}", p.when);
        assert_eq!(p.action, Some(OpKind::Stop), "a period ends with a stop unless told otherwise");
        assert_eq!(draft("cron 0 2 * * sun", "runbook", Some("stop")).schedule().unwrap().action, None, "a runbook brings its own actions");
    }

    #[test]
    fn a_wrong_draft_says_what_is_wrong() {
        assert!(draft("weekdays 25:00", "vms", Some("stop")).schedule().unwrap_err().contains("not a time of day"));
        assert!(draft("weekdays 19:00", "vms", None).schedule().unwrap_err().contains("say what to do"));
        assert!(draft("weekdays 19:00", "vms", Some("explode")).schedule().unwrap_err().contains("not an action"));
        let mut d = draft("weekdays 19:00", "vms", Some("stop"));
        d.skip_dates = vec!["24.12.2026".into()];
        assert!(d.schedule().unwrap_err().contains("YYYY-MM-DD"));
    }
}
