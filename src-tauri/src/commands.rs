//! IPC commands: each validates its input and calls the core. Errors reach
//! the window as one readable sentence.

use crate::inventory::Inventory;
use crate::prefs::{NotifyPrefs, OperationPrefs};
use crate::AppState;
use powerdeck_core::model::{HistoryEntry, OpKind, Operation, Vm};
use powerdeck_core::provider::Capabilities;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::EngineConfig;
use serde::Serialize;
use tauri::State;

/// Most VMs one bulk action may name (a fat-fingered "select all" on a huge
/// inventory should hit the confirmation, not this; this guards the IPC).
const MAX_BULK: usize = 10_000;

#[derive(Serialize)]
pub struct AccountInfo {
    id: i64,
    name: String,
    kind: String,
    is_demo: bool,
    /// `None` when the account cannot be reached or configured right now.
    capabilities: Option<Capabilities>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl AccountInfo {
    fn of(engine: &powerdeck_core::Engine, a: powerdeck_core::model::Account) -> Self {
        let capabilities = engine.runtime(a.id).ok().map(|rt| rt.caps);
        Self { id: a.id, name: a.name, kind: a.kind, is_demo: a.is_demo, capabilities }
    }
}

/// Every VM (in columns: see `inventory`), the operations in flight and the
/// accounts. Read off the main thread: with 100 000 VMs the read takes long
/// enough to freeze the window's loading state if it ran there.
#[tauri::command]
pub async fn list_vms(state: State<'_, AppState>) -> Result<tauri::ipc::Response, String> {
    if let Some((json, missed)) = state.inventory.take().await {
        return Ok(tauri::ipc::Response::new(crate::inventory::answer(&json, &missed)?));
    }
    let engine = state.engine.clone();
    let json = tauri::async_runtime::spawn_blocking(move || Inventory::read_json(&engine)).await.map_err(err)??;
    Ok(tauri::ipc::Response::new(crate::inventory::answer(&json, &[])?))
}

#[derive(Serialize)]
pub struct VmDetails {
    vm: Vm,
    history: Vec<HistoryEntry>,
    operations: Vec<Operation>,
}

#[tauri::command]
pub fn vm_details(state: State<'_, AppState>, vm_id: i64) -> Result<VmDetails, String> {
    let store = state.engine.store();
    let vm = store.vm(vm_id).map_err(err)?.ok_or_else(|| format!("VM #{vm_id} no longer exists"))?;
    Ok(VmDetails { history: store.history(vm_id, 200).map_err(err)?, operations: store.recent_operations(Some(vm_id), 20).map_err(err)?, vm })
}

#[derive(Serialize)]
pub struct Requested {
    vm_id: i64,
    operation: Option<Operation>,
    error: Option<String>,
}

/// Start one operation per VM. Returns once each provider accepted or
/// refused; the window follows the rest through events.
#[tauri::command]
pub async fn request_operation(state: State<'_, AppState>, vm_ids: Vec<i64>, kind: String, force: bool) -> Result<Vec<Requested>, String> {
    let kind = OpKind::parse(&kind).ok_or_else(|| format!("'{kind}' is not an operation Powerdeck knows"))?;
    if vm_ids.is_empty() || vm_ids.len() > MAX_BULK {
        return Err(format!("name between 1 and {MAX_BULK} VMs"));
    }
    let engine = state.engine.clone();
    let mut out = Vec::with_capacity(vm_ids.len());
    for vm_id in vm_ids {
        let opts = state.op_options(vm_id, kind, force, powerdeck_core::model::Initiator::Window);
        let r = engine.request(vm_id, kind, opts).await;
        out.push(match r {
            Ok(op) => Requested { vm_id, operation: Some(op), error: None },
            Err(e) => Requested { vm_id, operation: None, error: Some(e.to_string()) },
        });
    }
    Ok(out)
}

/// Before a vSphere account is saved: does this machine trust the host's
/// certificate, and if not, which one does it present (for the admin to
/// compare and accept)?
#[tauri::command]
pub async fn check_certificate(endpoint: String) -> Result<powerdeck_core::provider::http::CertificateCheck, String> {
    powerdeck_core::provider::http::check_certificate(endpoint.trim()).await.map_err(err)
}

#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountInfo>, String> {
    accounts_of(&state.engine)
}

pub(crate) fn accounts_of(engine: &powerdeck_core::Engine) -> Result<Vec<AccountInfo>, String> {
    Ok(engine.store().accounts().map_err(err)?.into_iter().map(|a| AccountInfo::of(engine, a)).collect())
}

#[derive(Serialize)]
pub struct Drift {
    entry: HistoryEntry,
    vm: String,
    account: String,
}

#[derive(Serialize)]
pub struct Activity {
    operations: Vec<Operation>,
    drift: Vec<Drift>,
}

/// Recent operations and changes made outside Powerdeck, newest first.
#[tauri::command]
pub fn recent_activity(state: State<'_, AppState>) -> Result<Activity, String> {
    let store = state.engine.store();
    let drift = store.recent_drift(100).map_err(err)?.into_iter().map(|(entry, vm, account)| Drift { entry, vm, account }).collect();
    Ok(Activity { operations: store.recent_operations(None, 100).map_err(err)?, drift })
}

/// Ask every account for a full sync now (the tray's "Refresh all" too).
#[tauri::command]
pub fn sync_all(state: State<'_, AppState>) -> Result<usize, String> {
    crate::tray::refresh_all(&state.engine)
}

#[derive(Serialize)]
pub struct Status {
    data_dir: String,
    in_flight: usize,
}

#[tauri::command]
pub fn status(state: State<'_, AppState>) -> Result<Status, String> {
    Ok(Status { data_dir: state.engine.data_dir().display().to_string(), in_flight: crate::tray::in_flight(&state.engine)? })
}

/// Add an account from the accounts form. The secret, if any, goes straight
/// to the keychain (or only the name of an environment variable is kept);
/// nothing secret is ever sent back to the window.
#[tauri::command]
pub async fn add_account(
    state: State<'_, AppState>,
    name: String,
    kind: String,
    config: serde_json::Value,
    secret: Option<String>,
    secret_env: Option<String>,
) -> Result<AccountInfo, String> {
    if !config.is_object() || config.to_string().len() > 64 * 1024 {
        return Err("the account settings must be a small JSON object".into());
    }
    let secret = match (secret.filter(|s| !s.is_empty()), secret_env.filter(|s| !s.trim().is_empty())) {
        (Some(_), Some(_)) => return Err("give either a secret or an environment variable, not both".into()),
        (Some(value), None) => Some((SecretRef::keychain_for(name.trim()), Some(Secret::new(value)))),
        (None, Some(var)) => Some((SecretRef::env(var.trim()).map_err(err)?, None)),
        (None, None) => None,
    };
    let engine = state.engine.clone();
    let account = engine.add_account(&name, &kind, config, secret).map_err(err)?;
    engine.start(powerdeck_core::Workers::ALL, Some(&[account.id])).map_err(err)?;
    Ok(AccountInfo::of(&engine, account))
}

/// The provider kinds and their account fields: the accounts form renders
/// what it is given, so a new provider needs no change in the window.
#[tauri::command]
pub fn account_kinds() -> &'static [&'static powerdeck_core::provider::kind::KindDescriptor] {
    powerdeck_core::provider::registry::KINDS
}

#[tauri::command]
pub async fn test_account(state: State<'_, AppState>, name: String) -> Result<String, String> {
    state.engine.test_account(&name).await.map_err(err)
}

#[tauri::command]
pub fn remove_account(state: State<'_, AppState>, name: String) -> Result<String, String> {
    let a = state.engine.remove_account(&name).map_err(err)?;
    Ok(format!("Removed '{}' and its local inventory; nothing was changed at the provider.", a.name))
}

#[derive(Serialize, serde::Deserialize)]
pub struct Settings {
    engine: EngineConfig,
    notifications: NotifyPrefs,
    #[serde(default)]
    operations: OperationPrefs,
    sync_paused: bool,
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Result<Settings, String> {
    let stored = state.engine.store().setting(powerdeck_core::engine::config::SETTINGS_KEY).map_err(err)?;
    let engine = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_else(|| state.engine.config().clone());
    let operations = *state.operations.read().unwrap_or_else(|p| p.into_inner());
    Ok(Settings { engine, notifications: *state.notify.read().unwrap_or_else(|p| p.into_inner()), operations, sync_paused: state.engine.sync_paused() })
}

/// Notification choices apply at once; polling and timeouts at the next start
/// (the window says so).
#[tauri::command]
pub fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<(), String> {
    powerdeck_core::Engine::save_config(state.engine.store(), &settings.engine).map_err(err)?;
    crate::prefs::save(state.engine.store(), &settings.notifications)?;
    *state.notify.write().unwrap_or_else(|p| p.into_inner()) = settings.notifications;
    crate::prefs::save_operations(state.engine.store(), &settings.operations)?;
    *state.operations.write().unwrap_or_else(|p| p.into_inner()) = settings.operations;
    Ok(())
}

#[tauri::command]
pub fn set_sync_paused(app: tauri::AppHandle, state: State<'_, AppState>, paused: bool) -> Result<bool, String> {
    state.engine.set_sync_paused(paused);
    crate::tray::update_tooltip(&app, &state.engine);
    Ok(paused)
}

/// Change an account's settings; the secret stays where it is.
#[tauri::command]
pub fn update_account(state: State<'_, AppState>, name: String, config: serde_json::Value) -> Result<String, String> {
    if !config.is_object() || config.to_string().len() > 64 * 1024 {
        return Err("the account settings must be a small JSON object".into());
    }
    let a = state.engine.update_account(&name, config).map_err(err)?;
    Ok(format!("Saved '{}'; it reconnects with the new settings.", a.name))
}

#[tauri::command]
pub fn account_config(state: State<'_, AppState>, name: String) -> Result<serde_json::Value, String> {
    Ok(state.engine.account(&name).map_err(err)?.config)
}

/// Star or unstar a VM: favourites are polled on the watched tier and get
/// quick actions in the tray.
#[tauri::command]
pub fn set_favourite(app: tauri::AppHandle, state: State<'_, AppState>, vm_id: i64, on: bool) -> Result<bool, String> {
    state.engine.store().vm(vm_id).map_err(err)?.ok_or_else(|| format!("VM #{vm_id} no longer exists"))?;
    state.engine.store().set_watched(vm_id, on).map_err(err)?;
    crate::tray::refresh_menu(&app);
    Ok(on)
}
