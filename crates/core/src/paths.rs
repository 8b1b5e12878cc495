//! Where Powerdeck keeps its data. The app and `pdk` resolve it the same way,
//! so an operation started in one shows in the other.

use std::path::{Path, PathBuf};

pub const DATA_DIR_ENV: &str = "POWERDECK_DATA_DIR";
pub const DB_FILE: &str = "powerdeck.sqlite";

/// `--data-dir` beats `POWERDECK_DATA_DIR`, which beats the platform's data
/// directory (`~/.local/share/powerdeck` on Linux).
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("powerdeck")
}

pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

/// The app's log files (`powerdeck.log` and its rotated predecessors).
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}
