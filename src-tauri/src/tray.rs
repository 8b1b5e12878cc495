//! The tray icon and its menu. Menu items call the same functions the
//! window's commands call, so they are tested through those.

use crate::AppState;
use powerdeck_core::model::OpKind;
use powerdeck_core::Engine;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

pub const TRAY_ID: &str = "powerdeck";

/// Most favourites the tray lists.
const MAX_FAVOURITES: usize = 20;

/// The favourites: the VMs marked as watched, found without loading the
/// rest of the inventory (which may hold 100 000 VMs).
fn favourites(engine: &Engine) -> Vec<powerdeck_core::model::Vm> {
    let store = engine.store();
    let mut out = Vec::new();
    for a in store.accounts().unwrap_or_default() {
        for provider_id in store.watched_provider_ids(a.id).unwrap_or_default() {
            if out.len() == MAX_FAVOURITES {
                return out;
            }
            if let Ok(mut found) = store.find_vms(&format!("{}/{provider_id}", a.name)) {
                if found.len() == 1 {
                    out.push(found.remove(0));
                }
            }
        }
    }
    out
}

/// What the tray says about schedules: whether all are paused, and the next
/// run ("Next: nightly-stop at Mon 19:00", in this computer's time).
#[derive(Default)]
struct ScheduleLine {
    paused: bool,
    next: Option<String>,
}

fn schedule_line(engine: &Engine) -> ScheduleLine {
    use chrono::TimeZone;
    let paused = engine.schedules_paused().unwrap_or(false);
    let now = powerdeck_core::model::now_ms();
    let next = engine
        .schedule_views(now)
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.schedule.enabled)
        .filter_map(|v| v.next.iter().find(|o| !o.holiday).map(|o| (o.at, v.schedule.name.clone())))
        .min();
    let next = next.map(|(at, name)| {
        let when = chrono::Local.timestamp_millis_opt(at).single().map(|t| t.format("%a %H:%M").to_string()).unwrap_or_default();
        format!("Next: {name} at {when}")
    });
    ScheduleLine { paused, next }
}

/// The tray menu. Favourites (the star in the window, or `pdk vms watch`)
/// each get quick start and stop; `None` while they are being looked up.
fn build_menu(app: &AppHandle, watched: Option<Vec<powerdeck_core::model::Vm>>, sched: ScheduleLine) -> tauri::Result<Menu<tauri::Wry>> {
    let show = MenuItem::with_id(app, "show", "Show / hide window", true, None::<&str>)?;
    let refresh = MenuItem::with_id(app, "refresh", "Refresh all", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause / resume sync", true, None::<&str>)?;
    let logs = MenuItem::with_id(app, "open-logs", "Open log folder", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Powerdeck", true, None::<&str>)?;
    let favourites = Submenu::with_id(app, "favourites", "Favourites", true)?;
    match &watched {
        None => favourites.append(&MenuItem::with_id(app, "fav-none", "Looking for favourites…", false, None::<&str>)?)?,
        Some(w) if w.is_empty() => favourites.append(&MenuItem::with_id(app, "fav-none", "Star a VM in the window to add it here", false, None::<&str>)?)?,
        Some(_) => {}
    }
    for vm in watched.unwrap_or_default() {
        let entry = Submenu::with_id(app, format!("fav:{}", vm.id), format!("{} ({})", vm.name, vm.account), true)?;
        entry.append(&MenuItem::with_id(app, format!("fav:start:{}", vm.id), "Start", true, None::<&str>)?)?;
        entry.append(&MenuItem::with_id(app, format!("fav:stop:{}", vm.id), "Stop (graceful)", true, None::<&str>)?)?;
        favourites.append(&entry)?;
    }
    let pause_schedules = CheckMenuItem::with_id(app, "pause-schedules", "Pause all schedules", true, sched.paused, None::<&str>)?;
    let next_text = match (&sched.next, sched.paused) {
        (_, true) => "Schedules are paused".to_string(),
        (Some(n), false) => n.clone(),
        (None, false) => "No schedule runs next".to_string(),
    };
    let next = MenuItem::with_id(app, "next-run", next_text, false, None::<&str>)?;
    Menu::with_items(
        app,
        &[
            &show,
            &refresh,
            &pause,
            &favourites,
            &PredefinedMenuItem::separator(app)?,
            &pause_schedules,
            &next,
            &PredefinedMenuItem::separator(app)?,
            &logs,
            &quit,
        ],
    )
}

/// Rebuild the menu after the favourites changed. The store is read off the
/// main thread, so neither start-up nor a click on a star waits for it.
pub fn refresh_menu(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let engine = app.state::<AppState>().engine.clone();
        let (watched, sched) = (favourites(&engine), schedule_line(&engine));
        if let (Some(tray), Ok(menu)) = (app.tray_by_id(TRAY_ID), build_menu(&app, Some(watched), sched)) {
            let _ = tray.set_menu(Some(menu));
        }
    });
}

/// A quick action from the favourites menu, like the window's buttons.
fn quick_action(app: &AppHandle, id: &str) {
    let Some((kind, vm_id)) = id.strip_prefix("fav:").and_then(|rest| rest.split_once(':')) else { return };
    let (Some(kind), Ok(vm_id)) = (OpKind::parse(kind), vm_id.parse::<i64>()) else { return };
    let state = app.state::<AppState>();
    let (engine, opts) = (state.engine.clone(), state.op_options(vm_id, kind, false, powerdeck_core::model::Initiator::Tray));
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = engine.request(vm_id, kind, opts).await {
            use tauri_plugin_notification::NotificationExt;
            let _ = app.notification().builder().title(format!("{} from the tray failed", kind)).body(e.to_string()).show();
        }
    });
}

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let menu = build_menu(app, None, ScheduleLine::default())?;
    let icon = app.default_window_icon().cloned().ok_or_else(|| tauri::Error::AssetNotFound("window icon".into()))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip("Powerdeck")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            id if id.starts_with("fav:") => quick_action(app, id),
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
            "pause-schedules" => {
                let engine = &app.state::<AppState>().engine;
                let paused = engine.schedules_paused().unwrap_or(false);
                if let Err(e) = engine.pause_schedules(!paused) {
                    tracing::warn!(error = %e, "pausing schedules from the tray failed");
                }
                // The menu follows from the SchedulesChanged event (bridge.rs).
            }
            "open-logs" => {
                if let Err(e) = crate::desktop::open_log_folder(app.state::<AppState>()) {
                    tracing::warn!(error = %e.message, "opening the log folder from the tray failed");
                }
            }
            "quit" => crate::desktop::quit_from_tray(app),
            _ => {}
        })
        .build(app)?;
    refresh_menu(app);
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
    engine.store().in_flight_operations().map(|ops| ops.len()).map_err(|e| e.to_string())
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
