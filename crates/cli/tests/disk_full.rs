//! A full disk, for real: a 2 MiB file system (tmpfs, in a mount namespace
//! of this test's own) holds a data directory, then is filled. pdk names
//! the cause ("the disk is full", never SQLite's "disk I/O error"), still
//! shows what the store holds, and refuses changes saying why.

use std::process::Command;

/// A shell script run in its own mount namespace (as root, or as a user
/// who may make user namespaces); None where neither is allowed.
fn in_small_filesystem(script: &str) -> Option<String> {
    let pdk = env!("CARGO_BIN_EXE_pdk");
    let mnt = tempfile::tempdir().unwrap();
    let as_root = unsafe { libc::geteuid() } == 0;
    let mut c = Command::new("unshare");
    c.args(if as_root { &["-m", "--propagation", "private"][..] } else { &["-Urm"][..] });
    let wrapped = format!("mount -t tmpfs -o size=2m tmpfs \"$1\" || exit 97\n{script}");
    c.args(["sh", "-c", &wrapped, "sh"]).arg(mnt.path()).arg(pdk).env_remove("POWERDECK_DATA_DIR").env("HOME", mnt.path());
    let out = c.output().expect("unshare runs");
    if out.status.code() == Some(97) || (!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("unshare failed")) {
        return None;
    }
    Some(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_full_disk_is_named_reads_still_work_and_changes_are_refused() {
    let script = r#"
set -u
"$2" --data-dir "$1/data" vms list > /dev/null || { echo "SETUP FAILED"; exit 1; }
dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null
echo "== list"; "$2" --data-dir "$1/data" vms list 2>&1; echo "rc=$?"
echo "== start"; "$2" --data-dir "$1/data" vm start api-001 2>&1; echo "rc=$?"
"#;
    let Some(out) = in_small_filesystem(script) else {
        eprintln!("NOT RUN: this machine lets the test make no file system of its own (no mount namespace)");
        return;
    };
    assert!(!out.contains("SETUP FAILED"), "{out}");
    let (list, start) = out.split_once("== start").unwrap_or_else(|| panic!("{out}"));
    assert!(list.contains("api-001") && list.contains("rc=0"), "the inventory is still shown: {list}");
    assert!(list.contains("the disk is full") && list.contains("nothing can be changed"), "{list}");
    assert!(start.contains("the disk is full") && !start.contains("rc=0"), "a change is refused: {start}");
    assert!(!out.contains("disk I/O error"), "{out}");
}

#[test]
fn a_disk_that_fills_during_a_stop_ends_the_wait_with_the_real_cause() {
    // The stop is submitted and tracked, then the disk fills: its verified
    // end cannot be recorded, and pdk says so instead of waiting on.
    let script = r#"
P="$2"; D="$1/data"
"$P" --data-dir "$D" vms list > /dev/null || { echo "SETUP FAILED"; exit 1; }
("$P" --data-dir "$D" vm stop api-002 --graceful-timeout 4 > "$1/out" 2>&1; echo "rc=$?" >> "$1/out") &
i=0; until grep -q "waiting for status update" "$1/out" 2>/dev/null || [ $i -ge 600 ]; do sleep 0.05; i=$((i+1)); done
dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null
wait
cat "$1/out"
"#;
    let Some(out) = in_small_filesystem(script) else {
        eprintln!("NOT RUN: this machine lets the test make no file system of its own (no mount namespace)");
        return;
    };
    assert!(out.contains("waiting for status update"), "the stop was tracked before the disk filled: {out}");
    assert!(out.contains("has no verified end") && out.contains("disk is full"), "{out}");
    assert!(out.contains("pdk resume") && !out.contains("rc=0"), "{out}");
}
