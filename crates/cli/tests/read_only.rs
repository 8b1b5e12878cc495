//! A data directory that may not be written (a read-only folder or file
//! system, another user's files) still answers questions: lists, history
//! and reports work with a warning; a change is refused, saying why and
//! what still works.
//!
//! Root may write anything, so as root pdk runs as `nobody` (setpriv) over
//! files root owns; as anyone else the files are made read-only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

/// Run pdk so that it may read but not write `dir`.
fn pdk_reading(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut c = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    c.arg("--data-dir").arg(dir).args(args).env_remove("POWERDECK_DATA_DIR").env("HOME", dir).stdin(std::process::Stdio::null());
    c.output().expect("pdk runs")
}

#[test]
fn reading_commands_work_on_a_data_directory_that_may_not_be_written_and_changes_say_why() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    // A demo fleet with some history, written while the folder was writable.
    powerdeck_testkit::pdk::succeed(powerdeck_testkit::pdk!(&dir), &["vms", "list"]);
    let stop = powerdeck_testkit::pdk!(&dir).args(["vm", "stop", "api-001"]).output().unwrap();
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));

    // Readable by everyone, writable by no one but root; pdk copied where `nobody` may run it.
    let bin = root.path().join("pdk");
    std::fs::copy(env!("CARGO_BIN_EXE_pdk"), &bin).unwrap();
    for (path, mode) in [(root.path(), 0o755), (dir.as_path(), 0o555), (&dir.join("powerdeck.sqlite"), 0o444)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();

    let list = pdk_reading(&bin, &dir, &["vms", "list"]);
    let (out, err) = (String::from_utf8_lossy(&list.stdout), String::from_utf8_lossy(&list.stderr));
    assert!(list.status.success(), "vms list: {err}");
    assert!(out.contains("api-001") && out.contains("stopped"), "the inventory as it was: {out}");
    assert!(err.contains("cannot be written") && err.contains("nothing can be changed"), "{err}");

    let history = pdk_reading(&bin, &dir, &["history", "api-001"]);
    assert!(history.status.success() && String::from_utf8_lossy(&history.stdout).contains("stopped"), "{}", String::from_utf8_lossy(&history.stderr));
    let report = pdk_reading(&bin, &dir, &["report", "hours", "--by", "account", "--zone", "UTC"]);
    assert!(report.status.success() && String::from_utf8_lossy(&report.stdout).contains("demo"), "{}", String::from_utf8_lossy(&report.stderr));

    let change = pdk_reading(&bin, &dir, &["vm", "start", "api-001"]);
    let err = String::from_utf8_lossy(&change.stderr);
    assert!(!change.status.success(), "a change is refused");
    assert!(err.contains("cannot be written") && err.contains("Commands that only read"), "{err}");

    // Nothing was written: no probe, journal or log left behind.
    let after: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(after, leftovers);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
