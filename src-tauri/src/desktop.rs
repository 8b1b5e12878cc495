//! Living on a desktop: start at login (hidden, in the tray), the log file
//! and its level, "Copy diagnostics", and quitting with operations in
//! flight. The window's Settings page reads and changes these here.

use crate::ipc_error::IpcError;
use crate::AppState;
use serde::Serialize;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_autostart::ManagerExt;

/// The argument a login start passes: start in the tray, no window.
pub const HIDDEN_ARG: &str = "--hidden";
const LOG_LEVEL_KEY: &str = "app.log_level";

/// "powerdeck 0.1.0 (abc1234)".
pub fn version_line() -> String {
    format!("powerdeck {} ({})", env!("CARGO_PKG_VERSION"), option_env!("POWERDECK_COMMIT").unwrap_or("unknown commit"))
}

pub fn saved_log_level(store: &powerdeck_core::store::Store) -> String {
    store.setting(LOG_LEVEL_KEY).ok().flatten().filter(|l| crate::logging::LEVELS.contains(&l.as_str())).unwrap_or_else(|| crate::logging::DEFAULT_LEVEL.into())
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
pub struct DesktopSettings {
    start_at_login: bool,
    log_level: String,
    log_folder: String,
    /// Why the log file cannot be written, if it cannot.
    log_warning: Option<String>,
}

#[tauri::command]
pub fn desktop_settings(app: AppHandle, state: State<'_, AppState>) -> Result<DesktopSettings, IpcError> {
    let start_at_login = app.autolaunch().is_enabled().map_err(|e| IpcError::internal(format!("cannot read the login items: {e}")))?;
    Ok(DesktopSettings {
        start_at_login,
        log_level: saved_log_level(state.engine.store()),
        log_folder: state.log_dir.display().to_string(),
        log_warning: state.log_warning.clone(),
    })
}

/// Start at login (hidden in the tray), or not.
#[tauri::command]
pub fn set_start_at_login(app: AppHandle, on: bool) -> Result<bool, IpcError> {
    let launcher = app.autolaunch();
    let done = if on { launcher.enable() } else { launcher.disable() };
    done.map_err(|e| IpcError::internal(format!("cannot change the login items: {e}")))?;
    launcher.is_enabled().map_err(|e| IpcError::internal(format!("cannot read the login items: {e}")))
}

#[tauri::command]
pub fn set_log_level(state: State<'_, AppState>, level: String) -> Result<(), IpcError> {
    state.log.set_level(&level).map_err(|e| IpcError::new("invalid", e))?;
    state.engine.store().set_setting(LOG_LEVEL_KEY, &level).map_err(|e| IpcError::internal(e.to_string()))?;
    tracing::info!(level, "log level changed");
    Ok(())
}

/// Show the log folder in the file manager.
#[tauri::command]
pub fn open_log_folder(state: State<'_, AppState>) -> Result<(), IpcError> {
    std::fs::create_dir_all(&state.log_dir).map_err(|e| IpcError::internal(format!("cannot make {}: {e}", state.log_dir.display())))?;
    tauri_plugin_opener::open_path(&state.log_dir, None::<&str>).map_err(|e| IpcError::internal(format!("cannot open {}: {e}", state.log_dir.display())))
}

/// Put the diagnostics on the clipboard (from here: the webview's
/// clipboard wants a fresh click, and gathering them takes a moment) and
/// return them. Names and error sentences only when the user ticked them in.
#[tauri::command]
pub async fn copy_diagnostics(app: AppHandle, state: State<'_, AppState>, with_names: bool) -> Result<String, IpcError> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let engine = state.engine.clone();
    let mut text = tauri::async_runtime::spawn_blocking(move || engine.diagnostics(&version_line(), with_names)).await.map_err(IpcError::internal)?;
    text.push_str(&format!("Webview: WebKitGTK {}\n", tauri::webview_version().unwrap_or_else(|e| format!("unknown ({e})"))));
    app.clipboard().write_text(text.clone()).map_err(|e| IpcError::internal(format!("the clipboard refused the text: {e}")))?;
    Ok(text)
}

/// Quit. With operations in flight and not yet `confirmed`, nothing happens
/// and their number comes back, so the window can say they will resume.
#[tauri::command]
pub fn quit(app: AppHandle, state: State<'_, AppState>, confirmed: bool) -> Result<usize, IpcError> {
    let in_flight = crate::tray::in_flight(&state.engine).map_err(IpcError::internal)?;
    if in_flight > 0 && !confirmed {
        return Ok(in_flight);
    }
    app.exit(0);
    Ok(0)
}

/// The tray's Quit: at once when nothing is in flight; otherwise the window
/// comes forward and asks (`confirm-quit`).
pub fn quit_from_tray(app: &AppHandle) {
    let in_flight = crate::tray::in_flight(&app.state::<AppState>().engine).unwrap_or(0);
    if in_flight == 0 {
        app.exit(0);
        return;
    }
    bring_forward(app);
    use tauri::Emitter;
    let _ = app.emit("powerdeck://confirm-quit", in_flight);
}

/// Show the window, restore it if minimised, and focus it.
pub fn bring_forward(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// A second `powerdeck` on the same data directory: bring this window
/// forward, unless the second one was a login start (then nothing changes).
pub fn second_instance(app: &AppHandle, args: Vec<String>) {
    tracing::info!("another launch asked for this window");
    if !args.iter().any(|a| a == HIDDEN_ARG) {
        bring_forward(app);
    }
}

/// The D-Bus name a running Powerdeck owns: one per data directory, so a
/// second launch on the same data finds the first, and a launch on other
/// data (a test, a second profile) runs on its own.
pub fn instance_id(data_dir: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    // A D-Bus name element must not start with a digit.
    format!("dev.powerdeck.desktop.d{short}")
}
