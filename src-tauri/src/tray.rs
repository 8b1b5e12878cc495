//! The tray icon and its menu. Menu items call the same functions the
//! window's commands call, so they are tested through those.

use crate::AppState;
use powerdeck_core::Engine;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

pub const TRAY_ID: &str = "powerdeck";

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let show = MenuItem::with_id(app, "show", "Show / hide window", true, None::<&str>)?;
    let refresh = MenuItem::with_id(app, "refresh", "Refresh all", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause / resume sync", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Powerdeck", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &refresh, &pause, &PredefinedMenuItem::separator(app)?, &quit])?;
    let icon = app.default_window_icon().cloned().ok_or_else(|| tauri::Error::AssetNotFound("window icon".into()))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip("Powerdeck")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => toggle_window(app),
            "refresh" => {
                if let Err(e) = refresh_all(&app.state::<AppState>().engine) {
                    tracing::warn!(error = %e, "refresh from the tray failed");
                }
            }
            "pause" => {
                let engine = &app.state::<AppState>().engine;
                engine.set_sync_paused(!engine.sync_paused());
                update_tooltip(app, engine);
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(())
}

fn toggle_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        if w.is_visible().unwrap_or(false) {
            let _ = w.hide();
        } else {
            let _ = w.show();
            let _ = w.set_focus();
        }
    }
}

/// Ask every account for a full sync now. Returns how many were asked.
pub fn refresh_all(engine: &Engine) -> Result<usize, String> {
    let accounts = engine.store().accounts().map_err(|e| e.to_string())?;
    for a in &accounts {
        engine.request_sync(a.id).map_err(|e| e.to_string())?;
    }
    Ok(accounts.len())
}

pub fn in_flight(engine: &Engine) -> Result<usize, String> {
    let store = engine.store();
    let mut n = 0;
    for a in store.accounts().map_err(|e| e.to_string())? {
        n += store.active_operations(a.id).map_err(|e| e.to_string())?.len();
    }
    Ok(n)
}

/// "Powerdeck: 3 operations in flight" — what the tray says on hover.
pub fn update_tooltip(app: &AppHandle, engine: &Engine) {
    let paused = if engine.sync_paused() { " (sync paused)" } else { "" };
    let text = match in_flight(engine) {
        Ok(0) => format!("Powerdeck: all quiet{paused}"),
        Ok(1) => format!("Powerdeck: 1 operation in flight{paused}"),
        Ok(n) => format!("Powerdeck: {n} operations in flight{paused}"),
        Err(_) => "Powerdeck".to_string(),
    };
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(&text));
    }
}
