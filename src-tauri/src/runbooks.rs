//! IPC commands for the Runbooks view: thin, one job each, over the
//! engine's runbook API (crates/core/src/engine/runbooks.rs). A run starts
//! only from a plan the window showed and the user approved: the plan comes
//! back with the request, exactly as `pdk runbook run` runs what it printed.

use crate::ipc_error::IpcError;
use crate::AppState;
use powerdeck_core::model::Initiator;
use powerdeck_core::runbook::{Run, RunPlan, Runbook};
use powerdeck_core::CoreError;
use tauri::State;

/// Runs the view lists (newest first).
const RECENT_RUNS: u32 = 30;

fn named(state: &AppState, name: &str) -> Result<Runbook, IpcError> {
    Ok(state.engine.store().runbook(name)?.ok_or_else(|| CoreError::not_found("runbook", name))?)
}

#[tauri::command]
pub fn list_runbooks(state: State<'_, AppState>) -> Result<Vec<Runbook>, IpcError> {
    Ok(state.engine.store().runbooks()?)
}

/// Add a runbook, or (`replace`) change the one with its name.
#[tauri::command]
pub fn save_runbook(state: State<'_, AppState>, runbook: Runbook, replace: bool) -> Result<Runbook, IpcError> {
    runbook.validate().map_err(CoreError::Invalid)?;
    if replace {
        named(&state, &runbook.name)?;
    }
    Ok(state.engine.store().save_runbook(&runbook, replace)?.ok_or_else(|| CoreError::Invalid(format!("a runbook named '{}' already exists", runbook.name)))?)
}

#[tauri::command]
pub fn remove_runbook(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    if !state.engine.store().remove_runbook(&name)? {
        return Err(CoreError::not_found("runbook", &name).into());
    }
    Ok(())
}

/// What running it would do now, VM by VM (nothing is sent).
#[tauri::command]
pub fn plan_runbook(state: State<'_, AppState>, name: String) -> Result<RunPlan, IpcError> {
    let rb = named(&state, &name)?;
    Ok(state.engine.plan_runbook(&rb)?)
}

/// Run the plan the user approved.
#[tauri::command]
pub fn start_run(state: State<'_, AppState>, name: String, plan: RunPlan) -> Result<Run, IpcError> {
    let rb = named(&state, &name)?;
    if plan.runbook != rb.name || plan.steps.len() != rb.steps.len() {
        return Err("the runbook changed since its plan was shown; look at the plan again".into());
    }
    Ok(state.engine.start_run(&rb, plan, Initiator::Window)?)
}

#[tauri::command]
pub fn list_runs(state: State<'_, AppState>) -> Result<Vec<Run>, IpcError> {
    Ok(state.engine.store().recent_runs(RECENT_RUNS)?)
}

#[tauri::command]
pub fn cancel_run(state: State<'_, AppState>, id: i64) -> Result<Run, IpcError> {
    Ok(state.engine.cancel_run(id)?)
}

/// For a run waiting on a person after a failed step: roll back, or leave it.
#[tauri::command]
pub fn decide_run(state: State<'_, AppState>, id: i64, rollback: bool) -> Result<Run, IpcError> {
    Ok(state.engine.decide_run(id, rollback)?)
}
