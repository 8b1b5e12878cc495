//! The desktop shell: thin by design. It opens the engine on the shared data
//! directory, exposes a few IPC commands, forwards engine events to the
//! webview, raises notifications and keeps the tray. Everything that decides
//! anything lives in `powerdeck-core`.

mod bridge;
mod commands;
mod export;
mod groups;
mod inventory;
mod ipc_error;
mod memory;
mod notify;
mod prefs;
mod renderer;
mod runbooks;
mod schedules;
mod tray;

use powerdeck_core::{Engine, Workers};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tauri::Manager;

/// What every command and background task shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub notify: Arc<RwLock<prefs::NotifyPrefs>>,
    pub operations: RwLock<prefs::OperationPrefs>,
    /// The first inventory, read while the webview starts.
    pub inventory: inventory::Prefetch,
}

impl AppState {
    /// The options every front door of the app (window, tray) asks with.
    pub fn op_options(
        &self,
        vm_id: i64,
        kind: powerdeck_core::model::OpKind,
        force: bool,
        initiator: powerdeck_core::model::Initiator,
    ) -> powerdeck_core::OpOptions {
        let wants_tools = kind == powerdeck_core::model::OpKind::Start && self.operations.read().unwrap_or_else(|p| p.into_inner()).start_waits_for_tools;
        // Only where the provider reports tools; elsewhere a start is a start.
        let reports_tools = || {
            let vm = self.engine.store().vm(vm_id).ok().flatten();
            vm.and_then(|vm| self.engine.runtime(vm.account_id).ok()).is_some_and(|rt| rt.caps.tools_status)
        };
        powerdeck_core::OpOptions { allow_force: force, wait_for_tools: wants_tools && reports_tools(), initiator, ..Default::default() }
    }
}

/// `--data-dir DIR` (or `--data-dir=DIR`), like `pdk`.
fn data_dir_flag() -> Option<PathBuf> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--data-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--data-dir=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("POWERDECK_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    renderer::choose();
    let dir = powerdeck_core::paths::data_dir(data_dir_flag().as_deref());
    let engine = match Engine::open(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("powerdeck: cannot open the data directory {}: {e}", dir.display());
            std::process::exit(1);
        }
    };

    let notify = Arc::new(RwLock::new(prefs::load(engine.store())));
    let inventory = inventory::Prefetch::start(engine.clone());
    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .manage(AppState { engine: engine.clone(), notify: notify.clone(), operations: RwLock::new(prefs::load_operations(engine.store())), inventory })
        .invoke_handler(tauri::generate_handler![
            commands::list_vms,
            groups::list_groups,
            groups::preview_group,
            groups::save_group,
            groups::remove_group,
            runbooks::list_runbooks,
            runbooks::save_runbook,
            runbooks::remove_runbook,
            runbooks::plan_runbook,
            runbooks::start_run,
            runbooks::list_runs,
            runbooks::cancel_run,
            runbooks::decide_run,
            commands::vocabulary,
            commands::notices,
            commands::vm_details,
            commands::request_operation,
            commands::cancel_operation,
            commands::force_operation,
            commands::check_certificate,
            commands::list_accounts,
            commands::recent_activity,
            commands::sync_all,
            commands::status,
            commands::add_account,
            commands::account_kinds,
            commands::test_account,
            commands::remove_account,
            commands::get_settings,
            commands::save_settings,
            commands::set_sync_paused,
            commands::update_account,
            commands::account_config,
            commands::set_favourite,
            export::save_csv,
            schedules::list_schedules,
            schedules::preview_schedule,
            schedules::save_schedule,
            schedules::remove_schedule,
            schedules::set_schedule_enabled,
            schedules::pause_schedules,
            schedules::schedule_run_plan,
            schedules::run_schedule_now,
            schedules::schedule_history,
            schedules::schedule_targets,
        ])
        .setup(move |app| {
            let handle = app.handle().clone();
            tray::install(&handle)?;
            let engine = engine.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = engine.start(Workers::ALL, None) {
                    tracing::error!(error = %e, "the engine did not start");
                }
                engine.follow_other_processes(Duration::from_secs(1));
                bridge::run(handle, engine, notify).await;
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps Powerdeck in the tray, still watching.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if window.app_handle().tray_by_id(tray::TRAY_ID).is_some() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("powerdeck: the window could not start: {e}");
            std::process::exit(1);
        });
}
