//! When the data directory cannot be opened (a file where the folder
//! should be, no permission, a damaged or newer database), someone who
//! started Powerdeck from a menu would see nothing at all: a line on a
//! stderr nobody reads. Instead a small window says what is wrong, where,
//! and what to do; closing it quits.

use powerdeck_core::store::StoreError;
use powerdeck_core::CoreError;
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
pub struct StartError {
    what: String,
    #[serde(rename = "where")]
    place: String,
    fix: &'static str,
}

/// What went wrong and what a person can do about it.
pub fn describe(e: &CoreError, dir: &Path) -> StartError {
    let fix = match e {
        CoreError::Store(StoreError::Open { .. }) => {
            "Check that this folder exists, is a folder (not a file), and that you may write to it. Or start Powerdeck with --data-dir and another folder."
        }
        CoreError::Store(StoreError::ReadOnly { message, .. }) if message.contains("full") || message.contains("quota") => {
            "Free some space on this disk (or raise your quota), then start Powerdeck again. `pdk vms list` and `pdk report` still show what it holds."
        }
        CoreError::Store(StoreError::ReadOnly { .. }) => {
            "Make this folder writable for you, or start Powerdeck with --data-dir and another folder. `pdk vms list` and `pdk report` still show what it holds."
        }
        CoreError::Store(StoreError::TooNew { .. }) => "Install the newer Powerdeck that wrote it, or start this one with --data-dir and another folder.",
        CoreError::Store(StoreError::SchemaMismatch { .. }) => {
            "Restore a backup of powerdeck.sqlite, or move it away: Powerdeck then starts with an empty inventory."
        }
        _ => "If the database is damaged, restore a backup of powerdeck.sqlite, or move it away: Powerdeck then starts with an empty inventory.",
    };
    let mut what = e.to_string();
    if let Some(first) = what.get(..1) {
        what = first.to_uppercase() + &what[1..];
    }
    StartError { what, place: dir.display().to_string(), fix }
}

/// Show the error in a window until it is closed.
pub fn show(mut context: tauri::Context<tauri::Wry>, error: StartError) {
    // Not the app's window: it would start the inventory page.
    context.config_mut().app.windows.clear();
    let facts = serde_json::to_string(&error).unwrap_or_else(|_| "null".into());
    let shown = tauri::Builder::default()
        .setup(move |app| {
            tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::App("error.html".into()))
                .title("Powerdeck cannot start")
                .inner_size(640.0, 380.0)
                .initialization_script(format!("window.__POWERDECK_START_ERROR__ = {facts};"))
                .build()?;
            Ok(())
        })
        .run(context);
    if let Err(e) = shown {
        eprintln!("powerdeck: the error window could not open either: {e}");
    }
}
