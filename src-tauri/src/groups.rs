//! IPC commands for the Groups view: thin, one job each, over the engine's
//! group API (crates/core/src/engine/groups.rs). VMs are named the way
//! `pdk groups add` names them (a name, an id, or account/name).

use crate::ipc_error::IpcError;
use crate::AppState;
use powerdeck_core::engine::GroupNow;
use powerdeck_core::group::{Group, GroupRule};
use tauri::State;

/// Most VMs a group may name explicitly from the window.
const MAX_NAMED: usize = 10_000;

fn checked(vms: &[String]) -> Result<(), IpcError> {
    if vms.len() > MAX_NAMED {
        return Err(format!("a group names at most {MAX_NAMED} VMs one by one; use a rule for more").into());
    }
    Ok(())
}

/// Every group and the VMs it is now.
#[tauri::command]
pub fn list_groups(state: State<'_, AppState>) -> Result<Vec<GroupNow>, IpcError> {
    Ok(state.engine.groups_now()?)
}

/// The VMs a draft would be now (nothing saved).
#[tauri::command]
pub fn preview_group(state: State<'_, AppState>, vms: Vec<String>, rule: Option<GroupRule>) -> Result<Vec<i64>, IpcError> {
    checked(&vms)?;
    Ok(state.engine.preview_group(&vms, rule)?)
}

/// Add a group, or (`replace`) change the one with this name. A group keeps
/// its name: schedules and runbooks name it.
#[tauri::command]
pub fn save_group(state: State<'_, AppState>, name: String, vms: Vec<String>, rule: Option<GroupRule>, replace: bool) -> Result<Group, IpcError> {
    checked(&vms)?;
    Ok(state.engine.save_group(&name, &vms, rule, replace)?)
}

#[tauri::command]
pub fn remove_group(state: State<'_, AppState>, name: String) -> Result<(), IpcError> {
    Ok(state.engine.remove_group(&name)?)
}
