//! `pdk schedules` as an admin uses it, and `pdk daemon` running a schedule
//! in real time: one minute ahead, it fires, its VMs end verified, and the
//! VMs' history says "schedule".

use serde_json::Value;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn pdk(dir: &Path) -> std::process::Command {
    powerdeck_testkit::pdk!(dir)
}

fn ok(dir: &Path, args: &[&str]) -> String {
    powerdeck_testkit::pdk::succeed(pdk(dir), args)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    pdk(dir).args(args).output().unwrap()
}

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

fn fails_with(dir: &Path, args: &[&str], needle: &str) {
    let out = run(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(needle), "{args:?}: expected '{needle}', got: {err}");
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
            "8",
            "--latency-ms",
            "1",
            "--drift-per-hour",
            "0",
            "--stubborn-rate",
            "0",
            "--no-feed",
            "--stop-delay-ms",
            "300",
            "--start-delay-ms",
            "300",
        ],
    );
    ok(dir, &["settings", "inflight_interval_ms", "200"]);
    ok(dir, &["sync", "--account", "lab"]);
}

fn names(dir: &Path, state: &str) -> Vec<String> {
    json(dir, &["vms", "list", "--account", "lab", "--state", state, "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn schedules_are_added_shown_previewed_edited_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let on = names(d, "running");
    ok(d, &["groups", "add", "web", "--vm", &format!("lab/{}", on[0])]);
    let added =
        ok(d, &["schedules", "add", "nightly-stop", "--when", "weekdays at 18:30", "--zone", "Europe/Berlin", "--action", "stop", "--group", "web", "--force"]);
    assert!(added.contains("weekdays at 18:30") && added.contains("next run"), "{added}");

    let list = json(d, &["schedules", "list", "--json"]);
    assert_eq!(list[0]["schedule"]["name"], "nightly-stop");
    assert_eq!(list[0]["when_text"], "weekdays at 18:30");
    assert_eq!(list[0]["next"].as_array().unwrap().len(), 5);

    // Every next run is a weekday at 18:30 Berlin time.
    let next = json(d, &["schedules", "next", "nightly-stop", "--count", "5", "--json"]);
    assert_eq!(next.as_array().unwrap().len(), 5);
    let text = ok(d, &["schedules", "next", "nightly-stop", "--count", "5"]);
    assert_eq!(text.lines().filter(|l| l.contains(" 18:30 CET") || l.contains(" 18:30 CEST")).count(), 5, "{text}");
    assert!(!text.contains("Sat ") && !text.contains("Sun "), "{text}");
    let shown = ok(d, &["schedules", "show", "nightly-stop"]);
    assert!(shown.contains("stop group 'web' (force allowed)") && shown.contains("1 VMs now"), "{shown}");

    // Edited into an enforced period; the action that ends it stays stop.
    ok(d, &["schedules", "edit", "nightly-stop", "--when", "mon-fri 08:00-19:00", "--enforce", "--rename", "office-hours", "--skip", "2026-12-24"]);
    let shown = ok(d, &["schedules", "show", "office-hours"]);
    assert!(shown.contains("mon-fri 08:00-19:00") || shown.contains("weekdays 08:00-19:00"), "{shown}");
    assert!(shown.contains("(enforced)") && shown.contains("start / stop group 'web'") && shown.contains("2026-12-24"), "{shown}");

    // Wrong input: said plainly, nothing saved.
    fails_with(d, &["schedules", "add", "x", "--when", "weekdays at 25:00", "--action", "stop", "--group", "web"], "24-hour");
    fails_with(d, &["schedules", "add", "x", "--when", "daily at 10:00", "--zone", "Mars/Olympus", "--action", "stop", "--group", "web"], "not a time zone");
    fails_with(d, &["schedules", "add", "x", "--when", "daily at 10:00", "--action", "stop", "--group", "nope"], "no group named 'nope'");
    fails_with(d, &["schedules", "add", "x", "--when", "daily at 10:00", "--group", "web"], "--action");
    fails_with(d, &["schedules", "add", "x", "--when", "daily at 10:00", "--action", "explode", "--group", "web"], "not an action");
    fails_with(d, &["schedules", "add", "x", "--when", "daily at 10:00", "--action", "stop", "--group", "web", "--enforce"], "periods");
    fails_with(d, &["schedules", "show", "nope"], "no schedule named 'nope'");
    assert_eq!(json(d, &["schedules", "list", "--json"]).as_array().unwrap().len(), 1);

    ok(d, &["schedules", "disable", "office-hours"]);
    assert_eq!(json(d, &["schedules", "list", "--json"])[0]["schedule"]["enabled"], false);
    ok(d, &["schedules", "pause"]);
    assert!(ok(d, &["schedules", "list"]).contains("paused"));
    ok(d, &["schedules", "resume"]);
    ok(d, &["schedules", "remove", "office-hours"]);
    assert_eq!(json(d, &["schedules", "list", "--json"]), serde_json::json!([]));
}

#[test]
fn run_now_stops_the_vms_and_reports_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let on = names(d, "running");
    let (a, b) = (format!("lab/{}", on[0]), format!("lab/{}", on[1]));
    ok(d, &["schedules", "add", "drill", "--when", "daily at 03:00", "--zone", "UTC", "--action", "stop", "--vm", &a, "--vm", &b]);
    let done = json(d, &["schedules", "run-now", "drill", "--json"]);
    assert_eq!(done["result"], "stopped 2 VMs", "{done}");
    assert_eq!(done["firing"]["purpose"], "manual");
    let stopped = names(d, "stopped");
    assert!(stopped.contains(&on[0]) && stopped.contains(&on[1]));
    let history = json(d, &["schedules", "history", "drill", "--json"]);
    assert_eq!(history[0]["result"], "stopped 2 VMs");
}

#[test]
fn the_daemon_runs_a_schedule_a_minute_ahead_to_its_verified_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d);
    let on = names(d, "running");
    ok(d, &["groups", "add", "evening", "--vm", &format!("lab/{}", on[0]), "--vm", &format!("lab/{}", on[1])]);
    // The next whole minute at least five seconds away, in UTC.
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    let at = chrono::DateTime::from_timestamp(now.timestamp() - now.timestamp() % 60 + 60, 0).unwrap();
    let when = at.format("%Y-%m-%d %H:%M").to_string();
    ok(d, &["schedules", "add", "evening-stop", "--when", &when, "--zone", "UTC", "--action", "stop", "--group", "evening"]);

    let daemon = powerdeck_testkit::child::spawn_tied(pdk(d).args(["daemon"]).stdout(Stdio::null()).stderr(Stdio::piped()));
    let started = Instant::now();
    let firing = loop {
        let history = json(d, &["schedules", "history", "evening-stop", "--json"]);
        if let Some(f) = history.as_array().unwrap().first() {
            if f["outcome"].is_object() {
                break f.clone();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the daemon never ran it: {history}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(firing["firing"]["purpose"], "scheduled");
    assert_eq!(firing["firing"]["occurrence"].as_i64().unwrap(), at.timestamp_millis());
    assert!(firing["firing"]["late_ms"].as_i64().unwrap() < 30_000, "it ran on time: {firing}");
    assert_eq!(firing["result"], "stopped 2 VMs", "{firing}");
    for name in &on[..2] {
        let history = json(d, &["history", &format!("lab/{name}"), "--json"]);
        assert_eq!(history[0]["to_state"], "stopped", "{history}");
        assert_eq!(history[0]["source"], "schedule", "{history}");
    }
    // Stopped by systemd's way (SIGTERM): it says so and exits cleanly.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let out = daemon.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("schedule evening-stop (scheduled, run): started") && log.contains("Schedule 'evening-stop' stopped 2 VMs"), "{log}");
    assert!(log.contains("pdk daemon: stopped"), "{log}");
}
