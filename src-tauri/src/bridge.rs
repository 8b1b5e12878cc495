//! Engine events → the webview, notifications and the tray. Events are
//! batched over a short window so a burst of changes is one message to the
//! window and one summary notification, not hundreds.

use crate::prefs::NotifyPrefs;
use crate::AppState;
use crate::{notify, tray};
use powerdeck_core::{Engine, Event};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;

pub const EVENTS: &str = "powerdeck://events";
/// The window missed events (it was too slow): it must reload the inventory.
pub const RESYNC: &str = "powerdeck://resync";
const BATCH_WINDOW: Duration = Duration::from_millis(80);

pub async fn run(app: AppHandle, engine: Arc<Engine>, prefs: Arc<RwLock<NotifyPrefs>>) {
    let mut rx = engine.bus().subscribe();
    let mut notifier = notify::Notifier::new(app.clone(), prefs);
    loop {
        let first = match rx.recv().await {
            Ok(e) => e,
            Err(RecvError::Lagged(_)) => {
                app.state::<AppState>().inventory.lagged();
                let _ = app.emit(RESYNC, ());
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while let Ok(next) = tokio::time::timeout_at(deadline, rx.recv()).await {
            match next {
                Ok(e) => batch.push(e),
                Err(RecvError::Lagged(_)) => {
                    app.state::<AppState>().inventory.lagged();
                    let _ = app.emit(RESYNC, ());
                }
                Err(RecvError::Closed) => break,
            }
        }
        // Until the window has its first inventory, it keeps what was sent.
        app.state::<AppState>().inventory.sent(&batch);
        if let Err(e) = app.emit(EVENTS, &batch) {
            tracing::warn!(error = %e, "could not forward events to the window");
        }
        notifier.observe(&batch);
        // A full sync of a big account just allocated and freed a lot.
        if batch.iter().any(|e| matches!(e, Event::SyncFinished { vms, .. } if *vms >= 10_000)) {
            tauri::async_runtime::spawn_blocking(crate::memory::give_back);
        }
        if batch.iter().any(|e| matches!(e, Event::Operation { .. })) {
            tray::update_tooltip(&app, &engine);
        }
        // The tray's "Pause all schedules" and "Next: …" follow the schedules.
        if batch.iter().any(|e| matches!(e, Event::SchedulesChanged | Event::Fired { .. })) {
            tray::refresh_menu(&app);
        }
    }
}
