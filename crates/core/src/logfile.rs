//! The app's log file: `powerdeck.log` in the data directory's `logs`
//! folder, rotated by size so that a chatty day (or a debug level left on)
//! cannot fill the disk. Rotated files are `powerdeck.log.1` (newest) to
//! `powerdeck.log.N`; older ones are deleted.

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use std::path::{Path, PathBuf};

pub const LOG_FILE: &str = "powerdeck.log";
/// A file is rotated once it passes this size…
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// …and this many rotated files are kept (so at most about 30 MB in all).
pub const KEEP: usize = 5;

/// The current log file's path.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// A writer that appends to the log file in `dir` (created if missing) and
/// rotates it past `max_bytes`, keeping `keep` old files.
pub fn open(dir: &Path, max_bytes: usize, keep: usize) -> std::io::Result<FileRotate<AppendCount>> {
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // Logs name hosts and VMs: readable by their owner only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // Fail here, with the reason, rather than on every later write.
    options.open(path(dir))?;
    Ok(FileRotate::new(path(dir), AppendCount::new(keep), ContentLimit::BytesSurpassed(max_bytes.max(1)), Compression::None, Some(options)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_log_rotates_past_its_size_and_keeps_only_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let mut log = open(&logs, 1000, 2).unwrap();
        for i in 0..100 {
            writeln!(log, "line {i:03} {}", "x".repeat(40)).unwrap();
        }
        log.flush().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&logs).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["powerdeck.log", "powerdeck.log.1", "powerdeck.log.2"]);
        let current = std::fs::read_to_string(path(&logs)).unwrap();
        assert!(current.contains("line 099"), "the newest line is in the current file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(path(&logs)).unwrap().permissions().mode() & 0o777, 0o600, "only its owner reads the log");
        }
        let newest_rotated = std::fs::read_to_string(logs.join("powerdeck.log.1")).unwrap();
        assert!(newest_rotated.len() > 1000 && newest_rotated.len() < 1100, "a file is cut just past its size: {}", newest_rotated.len());
        let all: String = names.iter().map(|n| std::fs::read_to_string(logs.join(n)).unwrap()).collect();
        assert!(!all.contains("line 000"), "the oldest lines are gone");
    }

    #[test]
    fn a_log_folder_that_cannot_be_made_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("logs");
        std::fs::write(&blocker, "a file where the folder should be").unwrap();
        assert!(open(&blocker, 1000, 2).is_err());
    }
}
