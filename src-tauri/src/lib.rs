//! The desktop shell: thin by design. It opens the engine on the shared data
//! directory, exposes a few IPC commands, forwards engine events to the
//! webview, raises notifications and keeps the tray. Everything that decides
//! anything lives in `powerdeck-core`.

mod bridge;
mod commands;
mod desktop;
mod export;
mod groups;
mod inventory;
mod ipc_error;
mod logging;
mod memory;
mod notify;
mod prefs;
mod renderer;
mod reports;
mod runbooks;
mod schedules;
mod start_error;
mod tray;

pub use desktop::version_line;
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
    /// The log file's level, its folder, and why it cannot be written (if so).
    pub log: logging::LogControl,
    pub log_dir: PathBuf,
    pub log_warning: Option<String>,
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
    memory::tune_malloc();
    let dir = powerdeck_core::paths::data_dir(data_dir_flag().as_deref());
    let log_dir = powerdeck_core::paths::log_dir(&dir);
    // The level is kept in the store, opened next: the default until then,
    // so that a failure to open it is in the file too.
    let (log, log_warning) = logging::init(&log_dir, logging::DEFAULT_LEVEL);
    tracing::info!(version = %desktop::version_line(), data = %dir.display(), "starting");
    renderer::choose();
    let context = tauri::generate_context!();
    let engine = match Engine::open(&dir) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the data directory");
            eprintln!("powerdeck: cannot open the data directory {}: {e}", dir.display());
            start_error::show(context, start_error::describe(&e, &dir));
            std::process::exit(1);
        }
    };
    if let Err(e) = log.set_level(&desktop::saved_log_level(engine.store())) {
        tracing::warn!("{e}");
    }
    let hidden = std::env::args().skip(1).any(|a| a == desktop::HIDDEN_ARG);
    // A login start keeps the data directory this one was given.
    let mut login_args = vec![desktop::HIDDEN_ARG.to_string()];
    if data_dir_flag().is_some() {
        let absolute = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        login_args.extend(["--data-dir".to_string(), absolute.display().to_string()]);
    }

    let notify = Arc::new(RwLock::new(prefs::load(engine.store())));
    let inventory = inventory::Prefetch::start(engine.clone());
    tauri::Builder::default()
        // First: a second launch on the same data hands over here and exits
        // before any other plugin or window starts.
        .plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(desktop::instance_id(&dir))
                .callback(|app, args, _cwd| desktop::second_instance(app, args))
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_autostart::Builder::new().app_name("Powerdeck").args(login_args).build())
        // Size, position and maximised; whether it shows is decided at each
        // start (`--hidden`), not remembered.
        .plugin(
            tauri_plugin_window_state::Builder::new()
                .with_state_flags(tauri_plugin_window_state::StateFlags::all() - tauri_plugin_window_state::StateFlags::VISIBLE)
                .build(),
        )
        .manage(AppState {
            engine: engine.clone(),
            notify: notify.clone(),
            operations: RwLock::new(prefs::load_operations(engine.store())),
            inventory,
            log,
            log_dir,
            log_warning,
        })
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
            commands::published_ca,
            commands::keep_published_ca,
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
            reports::hours_report,
            reports::save_hours_csv,
            reports::vm_timeline,
            reports::findings,
            desktop::desktop_settings,
            desktop::set_start_at_login,
            desktop::set_log_level,
            desktop::open_log_folder,
            desktop::copy_diagnostics,
            desktop::quit,
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
            // The window is made hidden (tauri.conf.json) so that a login
            // start never flashes it; every other start shows it.
            if !hidden {
                desktop::bring_forward(&handle);
            }
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
        .run(context)
        .unwrap_or_else(|e| {
            eprintln!("powerdeck: the window could not start: {e}");
            std::process::exit(1);
        });
}
