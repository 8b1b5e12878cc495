//! IPC commands: each validates its input and calls the core. Errors reach
//! the window with their kind and one readable sentence (see ipc_error.rs).

use crate::inventory::Inventory;
use crate::ipc_error::IpcError;
use crate::prefs::{NotifyPrefs, OperationPrefs};
use crate::AppState;
use powerdeck_core::engine::health::Health;
use powerdeck_core::model::{HistoryEntry, Initiator, OpKind, Operation, Vm};
use powerdeck_core::provider::Capabilities;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::vocabulary::{AccountOffers, Vocabulary};
use powerdeck_core::EngineConfig;
use serde::Serialize;
use tauri::State;

/// Most VMs one bulk action may name (a fat-fingered "select all" on a huge
/// inventory should hit the confirmation, not this; this guards the IPC).
const MAX_BULK: usize = 10_000;

#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[derive(Serialize)]
pub struct AccountInfo {
    id: i64,
    name: String,
    kind: String,
    is_demo: bool,
    /// `None` when the account cannot be reached or configured right now.
    capabilities: Option<Capabilities>,
    /// What its VMs offer in each state (`None` with the capabilities).
    offers: Option<AccountOffers>,
    /// Whether its provider answers, since when, the last error.
    health: Health,
    /// The last successful contact with its provider (any process).
    last_contact_at: Option<i64>,
}

impl AccountInfo {
    fn of(engine: &powerdeck_core::Engine, a: powerdeck_core::model::Account) -> Self {
        let capabilities = engine.runtime(a.id).ok().map(|rt| rt.caps);
        let offers = capabilities.as_ref().map(powerdeck_core::vocabulary::account_offers);
        let health = engine.account_health(a.id);
        Self { id: a.id, name: a.name, kind: a.kind, is_demo: a.is_demo, capabilities, offers, health, last_contact_at: a.last_contact_at }
    }
}

/// Every VM (in columns: see `inventory`), the operations in flight and the
/// accounts. Read off the main thread: with 100 000 VMs the read takes long
/// enough to freeze the window's loading state if it ran there.
#[tauri::command]
pub async fn list_vms(state: State<'_, AppState>) -> Result<tauri::ipc::Response, IpcError> {
    if let Some((json, missed)) = state.inventory.take().await {
        return Ok(tauri::ipc::Response::new(crate::inventory::answer(&json, &missed).map_err(IpcError::internal)?));
    }
    let engine = state.engine.clone();
    let json = tauri::async_runtime::spawn_blocking(move || Inventory::read_json(&engine)).await.map_err(IpcError::internal)?.map_err(IpcError::internal)?;
    Ok(tauri::ipc::Response::new(crate::inventory::answer(&json, &[]).map_err(IpcError::internal)?))
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct VmDetails {
    vm: Vm,
    history: Vec<HistoryEntry>,
    operations: Vec<Operation>,
}

#[tauri::command]
pub fn vm_details(state: State<'_, AppState>, vm_id: i64) -> Result<VmDetails, IpcError> {
    let store = state.engine.store();
    let vm = store.vm(vm_id).map_err(IpcError::from)?.ok_or_else(|| IpcError::new("not-found", format!("VM #{vm_id} no longer exists")))?;
    Ok(VmDetails {
        history: store.history(vm_id, 200).map_err(IpcError::from)?,
        operations: store.recent_operations(Some(vm_id), 20).map_err(IpcError::from)?,
        vm,
    })
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct Requested {
    vm_id: i64,
    operation: Option<Operation>,
    error: Option<IpcError>,
}

/// Ask for one operation per VM through the core's bulk entry point (one
/// batched read per account, submits under each account's rate limit, one
/// batch whose outcome is announced once). Returns once each provider
/// accepted or refused; a refusal is journalled, so its row and Activity
/// keep it. The window follows the rest through events.
#[tauri::command]
pub async fn request_operation(state: State<'_, AppState>, vm_ids: Vec<i64>, kind: String, force: bool) -> Result<Vec<Requested>, IpcError> {
    let kind = OpKind::parse(&kind).ok_or_else(|| format!("'{kind}' is not an operation Powerdeck knows"))?;
    if vm_ids.is_empty() || vm_ids.len() > MAX_BULK {
        return Err(format!("name between 1 and {MAX_BULK} VMs").into());
    }
    let engine = state.engine.clone();
    // A start that waits for guest tools does so only where the provider
    // reports them: those VMs go in their own request.
    let (with_tools, without): (Vec<i64>, Vec<i64>) =
        vm_ids.iter().copied().partition(|&id| state.op_options(id, kind, force, Initiator::Window).wait_for_tools);
    let mut out = Vec::with_capacity(vm_ids.len());
    for (ids, tools) in [(with_tools, true), (without, false)] {
        if ids.is_empty() {
            continue;
        }
        let opts = powerdeck_core::OpOptions { allow_force: force, wait_for_tools: tools, initiator: Initiator::Window, ..Default::default() };
        let done = engine.request_many(&ids, kind, opts, None).await?;
        out.extend(done.operations.into_iter().map(|op| Requested { vm_id: op.vm_id, operation: Some(op), error: None }));
        out.extend(done.unknown.into_iter().map(|vm_id| Requested {
            vm_id,
            operation: None,
            error: Some(IpcError::new("not-found", format!("VM #{vm_id} no longer exists"))),
        }));
    }
    Ok(out)
}

/// Cancel an operation in flight: nothing more is sent; it ends as cancelled
/// with the VM's state read as it is (whichever process tracks it acts).
#[tauri::command]
pub fn cancel_operation(state: State<'_, AppState>, op_id: i64) -> Result<Operation, IpcError> {
    Ok(state.engine.cancel_operation(op_id)?)
}

/// Send a graceful stop's or reboot's forced fallback now, without waiting
/// out the graceful window: the user's explicit word.
#[tauri::command]
pub fn force_operation(state: State<'_, AppState>, op_id: i64) -> Result<Operation, IpcError> {
    Ok(state.engine.force_operation_now(op_id)?)
}

/// Before a vSphere account is saved: does this machine trust the host's
/// certificate, and if not, which one does it present (for the admin to
/// compare and accept)?
#[tauri::command]
pub async fn check_certificate(endpoint: String) -> Result<powerdeck_core::provider::http::CertificateCheck, IpcError> {
    powerdeck_core::provider::http::check_certificate(endpoint.trim()).await.map_err(IpcError::from)
}

/// The CA the host of `endpoint` publishes (oVirt's engine does), fetched
/// so the admin can compare its thumbprint with the one the host shows.
/// Nothing is kept yet. Returns the thumbprint.
#[tauri::command]
pub async fn published_ca(name: String, kind: String, endpoint: String) -> Result<String, IpcError> {
    let kind = powerdeck_core::provider::registry::kind(&kind).map_err(IpcError::from)?;
    Ok(powerdeck_core::engine::published_ca::fetch(kind, name.trim(), &endpoint).await.map_err(IpcError::from)?.thumbprint)
}

/// Keep the CA the host publishes as the account's own CA file, if it is
/// still the one whose thumbprint the admin compared (it is fetched again:
/// the window never carries certificates). Returns the file's path, for the
/// form's CA-file setting.
#[tauri::command]
pub async fn keep_published_ca(
    state: State<'_, AppState>,
    name: String,
    kind: String,
    endpoint: String,
    thumbprint: String,
    adding: bool,
) -> Result<String, IpcError> {
    let kind = powerdeck_core::provider::registry::kind(&kind).map_err(IpcError::from)?;
    let ca = powerdeck_core::engine::published_ca::fetch_compared(kind, name.trim(), &endpoint, &thumbprint).await.map_err(IpcError::from)?;
    let kept = state.engine.keep_published_ca(kind, &name, &ca, adding).map_err(IpcError::from)?;
    Ok(kept.file.to_string_lossy().into_owned())
}

#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountInfo>, IpcError> {
    accounts_of(&state.engine)
}

pub(crate) fn accounts_of(engine: &powerdeck_core::Engine) -> Result<Vec<AccountInfo>, IpcError> {
    Ok(engine.store().accounts().map_err(IpcError::from)?.into_iter().map(|a| AccountInfo::of(engine, a)).collect())
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct Drift {
    entry: HistoryEntry,
    vm: String,
    account: String,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct Activity {
    operations: Vec<Operation>,
    drift: Vec<Drift>,
}

/// Recent operations and changes made outside Powerdeck, newest first.
#[tauri::command]
pub fn recent_activity(state: State<'_, AppState>) -> Result<Activity, IpcError> {
    let store = state.engine.store();
    let drift = store.recent_drift(100).map_err(IpcError::from)?.into_iter().map(|(entry, vm, account)| Drift { entry, vm, account }).collect();
    Ok(Activity { operations: store.recent_operations(None, 100).map_err(IpcError::from)?, drift })
}

/// Ask every account for a full sync now (the tray's "Refresh all" too).
#[tauri::command]
pub fn sync_all(state: State<'_, AppState>) -> Result<usize, IpcError> {
    crate::tray::refresh_all(&state.engine).map_err(IpcError::internal)
}

#[derive(Serialize)]
pub struct Status {
    data_dir: String,
    in_flight: usize,
}

#[tauri::command]
pub fn status(state: State<'_, AppState>) -> Result<Status, IpcError> {
    Ok(Status { data_dir: state.engine.data_dir().display().to_string(), in_flight: crate::tray::in_flight(&state.engine).map_err(IpcError::internal)? })
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
) -> Result<AccountInfo, IpcError> {
    if !config.is_object() || config.to_string().len() > 64 * 1024 {
        return Err("the account settings must be a small JSON object".into());
    }
    let secret = match (secret.filter(|s| !s.is_empty()), secret_env.filter(|s| !s.trim().is_empty())) {
        (Some(_), Some(_)) => return Err("give either a secret or an environment variable, not both".into()),
        (Some(value), None) => Some((SecretRef::keychain_for(name.trim()), Some(Secret::new(value)))),
        (None, Some(var)) => Some((SecretRef::env(var.trim()).map_err(IpcError::from)?, None)),
        (None, None) => None,
    };
    let engine = state.engine.clone();
    let account = engine.add_account(&name, &kind, config, secret).map_err(IpcError::from)?;
    engine.start(powerdeck_core::Workers::ALL, Some(&[account.id])).map_err(IpcError::from)?;
    Ok(AccountInfo::of(&engine, account))
}

/// The provider kinds and their account fields: the accounts form renders
/// what it is given, so a new provider needs no change in the window.
#[tauri::command]
pub fn account_kinds() -> &'static [&'static powerdeck_core::provider::kind::KindDescriptor] {
    powerdeck_core::provider::registry::KINDS
}

/// What the admin must be told about how this start went (a database found
/// empty and started anew, settings that could not be read), once.
#[tauri::command]
pub fn notices(state: State<'_, AppState>) -> Vec<String> {
    let engine = &state.engine;
    engine.store().notice().map(str::to_string).into_iter().chain(engine.config_warning()).collect()
}

/// The states, actions and phases with their labels and rules: the window
/// asks once at start and re-types none of them.
#[tauri::command]
pub fn vocabulary() -> Vocabulary {
    powerdeck_core::vocabulary::vocabulary()
}

#[tauri::command]
pub async fn test_account(state: State<'_, AppState>, name: String) -> Result<String, IpcError> {
    state.engine.test_account(&name).await.map_err(IpcError::from)
}

#[tauri::command]
pub fn remove_account(state: State<'_, AppState>, name: String) -> Result<String, IpcError> {
    let a = state.engine.remove_account(&name).map_err(IpcError::from)?;
    Ok(format!("Removed '{}' and its local inventory; nothing was changed at the provider.", a.name))
}

#[derive(Serialize, serde::Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct Settings {
    engine: EngineConfig,
    notifications: NotifyPrefs,
    #[serde(default)]
    operations: OperationPrefs,
    sync_paused: bool,
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Result<Settings, IpcError> {
    let stored = state.engine.store().setting(powerdeck_core::engine::config::SETTINGS_KEY).map_err(IpcError::from)?;
    let engine = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_else(|| state.engine.config().clone());
    let operations = *state.operations.read().unwrap_or_else(|p| p.into_inner());
    Ok(Settings { engine, notifications: *state.notify.read().unwrap_or_else(|p| p.into_inner()), operations, sync_paused: state.engine.sync_paused() })
}

/// Notification choices apply at once; polling and timeouts at the next start
/// (the window says so).
#[tauri::command]
pub fn save_settings(state: State<'_, AppState>, settings: Settings) -> Result<(), IpcError> {
    powerdeck_core::Engine::save_config(state.engine.store(), &settings.engine).map_err(IpcError::from)?;
    crate::prefs::save(state.engine.store(), &settings.notifications).map_err(IpcError::internal)?;
    *state.notify.write().unwrap_or_else(|p| p.into_inner()) = settings.notifications;
    crate::prefs::save_operations(state.engine.store(), &settings.operations).map_err(IpcError::internal)?;
    *state.operations.write().unwrap_or_else(|p| p.into_inner()) = settings.operations;
    Ok(())
}

#[tauri::command]
pub fn set_sync_paused(app: tauri::AppHandle, state: State<'_, AppState>, paused: bool) -> Result<bool, IpcError> {
    state.engine.set_sync_paused(paused);
    crate::tray::update_tooltip(&app, &state.engine);
    Ok(paused)
}

/// Change an account's settings; the secret stays where it is.
#[tauri::command]
pub fn update_account(state: State<'_, AppState>, name: String, config: serde_json::Value) -> Result<String, IpcError> {
    if !config.is_object() || config.to_string().len() > 64 * 1024 {
        return Err("the account settings must be a small JSON object".into());
    }
    let a = state.engine.update_account(&name, config).map_err(IpcError::from)?;
    Ok(format!("Saved '{}'; it reconnects with the new settings.", a.name))
}

#[tauri::command]
pub fn account_config(state: State<'_, AppState>, name: String) -> Result<serde_json::Value, IpcError> {
    Ok(state.engine.account(&name).map_err(IpcError::from)?.config)
}

/// Star or unstar a VM: favourites are polled on the watched tier and get
/// quick actions in the tray.
#[tauri::command]
pub fn set_favourite(app: tauri::AppHandle, state: State<'_, AppState>, vm_id: i64, on: bool) -> Result<bool, IpcError> {
    state.engine.store().vm(vm_id).map_err(IpcError::from)?.ok_or_else(|| IpcError::new("not-found", format!("VM #{vm_id} no longer exists")))?;
    state.engine.store().set_watched(vm_id, on).map_err(IpcError::from)?;
    crate::tray::refresh_menu(&app);
    Ok(on)
}
