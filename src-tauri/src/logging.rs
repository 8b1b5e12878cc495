//! Where the app's log goes: stderr (for a terminal, at `POWERDECK_LOG` or
//! warnings) and a size-rotated file in the data directory's `logs` folder at
//! the level chosen in Settings, which can change while the app runs.

use std::path::Path;
use std::sync::Mutex;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Layer, Registry};

pub const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
pub const DEFAULT_LEVEL: &str = "info";

/// Changes the file's level.
pub struct LogControl {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
}

/// Powerdeck's own messages at `level`; the libraries under it (HTTP,
/// D-Bus, the webview) only when they warn, or a debug level would drown
/// the file in their chatter.
fn file_filter(level: &str) -> EnvFilter {
    let level = if LEVELS.contains(&level) { level } else { DEFAULT_LEVEL };
    EnvFilter::new(format!("warn,powerdeck={level},powerdeck_app={level},powerdeck_core={level}"))
}

impl LogControl {
    pub fn set_level(&self, level: &str) -> Result<(), String> {
        if !LEVELS.contains(&level) {
            return Err(format!("'{level}' is not a log level (one of {})", LEVELS.join(", ")));
        }
        match &self.handle {
            Some(h) => h.reload(file_filter(level)).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// A terminal's share: `POWERDECK_LOG`, or warnings.
fn stderr_layer<S>() -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use std::io::IsTerminal;
    fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(EnvFilter::try_from_env("POWERDECK_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
}

/// Start logging. A log folder that cannot be written costs the file, not
/// the app: the reason goes to stderr and is returned for the window.
pub fn init(log_dir: &Path, level: &str) -> (LogControl, Option<String>) {
    match powerdeck_core::logfile::open(log_dir, powerdeck_core::logfile::MAX_BYTES, powerdeck_core::logfile::KEEP) {
        Ok(file) => {
            let (filter, handle) = reload::Layer::new(file_filter(level));
            let file = fmt::layer().with_ansi(false).with_writer(Mutex::new(file)).with_filter(filter);
            tracing_subscriber::registry().with(file).with(stderr_layer()).init();
            (LogControl { handle: Some(handle) }, None)
        }
        Err(e) => {
            tracing_subscriber::registry().with(stderr_layer()).init();
            let warning = format!("The log file cannot be written in {}: {e}. Messages go to the terminal only.", log_dir.display());
            tracing::warn!("{warning}");
            (LogControl { handle: None }, Some(warning))
        }
    }
}
