//! Absurd input and damaged stores (issue 12): each ends in a clear sentence
//! or an honest recovery, never a panic, never a store that stays broken.

use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// `pdk --data-dir DIR`, as a user runs it.
fn pdk(dir: &Path) -> std::process::Command {
    powerdeck_testkit::pdk!(dir)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    pdk(dir).args(args).output().expect("pdk runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    powerdeck_testkit::pdk::succeed(pdk(dir), args)
}

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).expect("valid JSON")
}

/// A refusal: non-zero exit, a message containing `says`, no panic.
fn refused(dir: &Path, args: &[&str], says: &str) {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "pdk {args:?} was accepted");
    assert!(!err.contains("panicked") && !err.contains("overflow"), "pdk {args:?}: {err}");
    assert!(err.contains(says), "pdk {args:?} should say '{says}': {err}");
}

fn lab(dir: &Path) {
    ok(dir, &["accounts", "remove", "demo"]);
    ok(
        dir,
        &[
            "accounts",
            "add",
            "sim",
            "lab",
            "--size",
            "6",
            "--latency-ms",
            "1",
            "--drift-per-hour",
            "0",
            "--stubborn-rate",
            "0",
            "--no-feed",
            "--stop-delay-ms",
            "300",
        ],
    );
    ok(dir, &["settings", "inflight_interval_ms", "200"]);
    ok(dir, &["sync", "--account", "lab"]);
}

fn vm_in(dir: &Path, state: &str, nth: usize) -> String {
    let vms = json(dir, &["vms", "list", "--account", "lab", "--state", state, "--json"]);
    format!("lab/{}", vms[nth]["name"].as_str().unwrap_or_else(|| panic!("no {state} VM #{nth}")))
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("powerdeck.sqlite")).unwrap()
}

#[test]
fn absurd_durations_are_refused_and_nothing_is_journalled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let vm = vm_in(d, "running", 0);
    // Once stored as a REAL deadline that poisoned every later read.
    refused(d, &["vm", "stop", &vm, "--yes", "--graceful-timeout", "9223372036854775"], "86400");
    // Once wrapped to -1000 ms and powered the guest off hard after 1.8 s.
    refused(d, &["vm", "stop", &vm, "--yes", "--force", "--graceful-timeout", "18446744073709551615"], "--graceful-timeout");
    // Once made every later stop panic.
    refused(d, &["settings", "timeouts.stop_s", "18446744073709551615"], "timeouts.stop_s must be between");
    refused(d, &["settings", "inflight_interval_ms", "9223372036854775807"], "inflight_interval_ms must be between");
    // Once panicked on overflow.
    refused(d, &["sim", "outage", "lab", "--seconds", "99999999999999999"], "a year");
    refused(d, &["sim", "outage", "lab", "--seconds", "NaN"], "a year");
    assert_eq!(json(d, &["ops", "--json"]), serde_json::json!([]), "nothing was journalled");
    // And a sane stop still works after all that.
    let done = json(d, &["vm", "stop", &vm, "--yes", "--json"]);
    assert_eq!(done[0]["phase"], "succeeded", "{done}");
}

#[test]
fn one_unreadable_journal_row_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let good = vm_in(d, "running", 0);
    let poisoned = vm_in(d, "running", 1);
    let done = json(d, &["vm", "stop", &good, "--yes", "--json"]);
    assert_eq!(done[0]["phase"], "succeeded");
    // What an overflowing deadline once left behind: an unfinished operation
    // whose deadline SQLite stored as a REAL.
    let poisoned_id: i64 =
        json(d, &["vms", "list", "--json"]).as_array().unwrap().iter().find(|v| format!("lab/{}", v["name"].as_str().unwrap()) == poisoned).unwrap()["id"]
            .as_i64()
            .unwrap();
    db(d)
        .execute(
            "INSERT INTO operations (vm_id, kind, phase, allow_force, graceful_timeout_ms, timeout_ms, requested_at, deadline_at, previous_state, owner, owner_pid, heartbeat_at)
             VALUES (?1, 'stop', 'tracking', 0, 120000, 120000, 1, 9.2233720368547758e18, 'running', 'gone', 999999999, 1)",
            [poisoned_id],
        )
        .unwrap();

    let vms = json(d, &["vms", "list", "--json"]);
    assert_eq!(vms.as_array().unwrap().len(), 6, "every VM is still listed");
    assert_eq!(json(d, &["resume", "--json"]), serde_json::json!([]), "resume runs; the unreadable entry is not left in flight");
    let ops = json(d, &["ops", "--json"]);
    let ops = ops.as_array().unwrap();
    assert!(
        ops.iter().any(|o| o["phase"] == "succeeded" && format!("lab/{}", o["vm_name"].as_str().unwrap()) == good),
        "the good operation is still readable: {ops:?}"
    );
    let quarantined = ops.iter().find(|o| format!("lab/{}", o["vm_name"].as_str().unwrap()) == poisoned).expect("the repaired entry is readable again");
    assert_eq!(quarantined["phase"], "failed");
    assert!(quarantined["error"].as_str().unwrap().contains("could not be read"), "{quarantined}");
    // The VM is not blocked by a phantom operation in flight.
    let done = json(d, &["vm", "stop", &poisoned, "--yes", "--json"]);
    assert_eq!(done[0]["phase"], "succeeded", "{done}");
}

#[test]
fn unusable_stored_settings_warn_and_can_be_repaired_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    db(d).execute("UPDATE settings SET value = '{\"timeouts\": {\"stop_s\": \"soon\"}' WHERE key = 'engine'", []).unwrap();
    let out = run(d, &["vms", "list", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stored engine settings are unusable") && err.contains("pdk settings --reset"), "{err}");
    // A single key can be set again (on top of the defaults)…
    ok(d, &["settings", "inflight_interval_ms", "300"]);
    let out = run(d, &["settings", "inflight_interval_ms"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "300");
    assert!(out.stderr.is_empty(), "repaired: no more warning");
    // …or everything reset.
    ok(d, &["settings", "--reset"]);
    assert_eq!(String::from_utf8_lossy(&run(d, &["settings", "inflight_interval_ms"]).stdout).trim(), "1500");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn vm_id(dir: &Path, reference: &str) -> i64 {
    json(dir, &["vms", "list", "--json"]).as_array().unwrap().iter().find(|v| format!("lab/{}", v["name"].as_str().unwrap()) == reference).unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// What a `pdk vm …` killed while the provider call was in flight leaves: an
/// operation journalled as submitted, never confirmed as sent, whose owner
/// is dead and whose graceful window has long passed.
fn journal_unconfirmed(dir: &Path, vm: i64, kind: &str) {
    let now = now_ms();
    db(dir)
        .execute(
            "INSERT INTO operations (vm_id, kind, phase, allow_force, graceful_timeout_ms, timeout_ms, requested_at, deadline_at, previous_state, owner, owner_pid, heartbeat_at)
             VALUES (?1, ?2, 'submitted', 1, 2000, 62000, ?3, ?4, 'running', 'gone', 999999999, ?3)",
            rusqlite::params![vm, kind, now - 10_000, now + 52_000],
        )
        .unwrap();
}

#[test]
fn an_adopted_stop_never_confirmed_as_sent_is_asked_again_gracefully_not_forced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let vm = vm_in(d, "running", 0);
    journal_unconfirmed(d, vm_id(d, &vm), "stop");

    let done = json(d, &["resume", "--json"]);
    let op = &done[0];
    assert_eq!(op["phase"], "succeeded", "{op}");
    assert_eq!(op["shutdown_method"], "graceful", "the guest was asked, not powered off: {op}");
    assert!(op["forced_at"].is_null(), "{op}");
    assert!(op["submitted_at"].as_i64().unwrap() > op["requested_at"].as_i64().unwrap());
}

#[test]
fn an_adopted_reboot_never_confirmed_as_sent_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let vm = vm_in(d, "running", 0);
    journal_unconfirmed(d, vm_id(d, &vm), "reboot");

    let out = run(d, &["resume", "--json"]);
    assert_eq!(out.status.code(), Some(3), "an operation that did not succeed exits 3");
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let op = &done[0];
    assert_eq!(op["phase"], "failed", "{op}");
    assert!(op["error"].as_str().unwrap().contains("nothing was sent again"), "{op}");
    let history = json(d, &["history", &vm, "--json"]);
    assert!(history.as_array().unwrap().iter().all(|h| h["to_state"] != "rebooting" && h["raw_state"] != "REBOOTING"), "the guest was not rebooted: {history}");
}
