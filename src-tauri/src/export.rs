//! Files the window asks to save (the Activity table as CSV). The window
//! sends the text and a kind of export; this side chooses where it goes
//! (the user's Downloads folder, else their home) and the file's name, so a
//! page can never write anywhere it likes.

use crate::ipc_error::IpcError;
use std::path::PathBuf;

/// Exports bigger than this are refused (the Activity table is far smaller).
const MAX_BYTES: usize = 32 * 1024 * 1024;

fn folder() -> Result<PathBuf, IpcError> {
    dirs::download_dir().or_else(dirs::home_dir).ok_or_else(|| IpcError::internal("there is no Downloads or home folder to save the file in"))
}

/// Saves `text` as `powerdeck-<what>-<local time>.csv` and returns the path.
#[tauri::command]
pub fn save_csv(what: String, text: String) -> Result<String, IpcError> {
    save(&what, &text)
}

/// Where every export is written: the window's and the shell's own (the hours).
pub fn save(what: &str, text: &str) -> Result<String, IpcError> {
    if what.is_empty() || what.len() > 32 || !what.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err("an export is named with lower-case letters, digits and dashes".into());
    }
    if text.len() > MAX_BYTES {
        return Err(format!("the export is larger than {} MB", MAX_BYTES / 1024 / 1024).into());
    }
    let dir = folder()?;
    let stamp = chrono::Local::now().format("%Y-%m-%d-%H%M%S");
    let mut path = dir.join(format!("powerdeck-{what}-{stamp}.csv"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.join(format!("powerdeck-{what}-{stamp}-{n}.csv"));
    }
    std::fs::write(&path, text).map_err(|e| IpcError::internal(format!("could not save {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}
