//! `pdk groups` and `pdk runbook` as an admin uses them, including a runbook
//! whose `pdk` is killed mid-run and whose run another process adopts.

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

fn lab(dir: &Path, stop_ms: u32) {
    ok(dir, &["accounts", "remove", "demo"]);
    let stop = stop_ms.to_string();
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
            &stop,
            "--start-delay-ms",
            &stop,
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
fn groups_are_saved_shown_edited_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, 300);
    let running = names(d, "running");
    ok(d, &["groups", "add", "web", "--vm", &running[0], "--state", "stopped"]);
    let shown = json(d, &["groups", "show", "web", "--json"]);
    let stopped = names(d, "stopped").len();
    assert_eq!(shown["vms"].as_array().unwrap().len(), 1 + stopped, "the named VM plus every stopped one: {shown}");
    ok(d, &["groups", "edit", "web", "--no-rule", "--add-vm", &running[1]]);
    assert_eq!(json(d, &["groups", "show", "web", "--json"])["vms"].as_array().unwrap().len(), 2);
    // A wrong reference changes nothing.
    let out = run(d, &["groups", "edit", "web", "--add-vm", "no-such-vm"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no VM matches 'no-such-vm'"));
    assert_eq!(json(d, &["groups", "show", "web", "--json"])["vms"].as_array().unwrap().len(), 2);
    ok(d, &["groups", "remove", "web"]);
    assert_eq!(json(d, &["groups", "list", "--json"]), serde_json::json!([]));
}

fn runbook_file(dir: &Path, text: &str) -> String {
    let path = dir.join("rb.toml");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn a_runbook_is_previewed_run_and_journalled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, 300);
    let on = names(d, "running");
    let off = names(d, "stopped");
    let file = runbook_file(
        d,
        &format!("name = \"swap\"\n[[steps]]\naction = \"stop\"\nvms = [\"lab/{}\"]\n[[steps]]\naction = \"start\"\nvms = [\"lab/{}\"]\n", on[0], off[0]),
    );
    ok(d, &["runbook", "add", &file]);
    let preview = ok(d, &["runbook", "run", "swap", "--dry-run"]);
    assert!(preview.contains(&on[0]) && preview.contains("→ stop") && preview.contains("nothing was changed"), "{preview}");
    assert_eq!(json(d, &["ops", "--json"]), serde_json::json!([]), "a dry run sends nothing");
    // Without a terminal and without --yes, nothing runs.
    let out = run(d, &["runbook", "run", "swap"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--yes"));
    let done = json(d, &["runbook", "run", "swap", "--yes", "--json"]);
    assert_eq!(done["phase"], "succeeded", "{done}");
    let runs = json(d, &["runbook", "runs", "--json"]);
    assert_eq!(runs[0]["id"], done["id"]);
    let exported = ok(d, &["runbook", "export", "swap"]);
    assert!(exported.contains("[[steps]]") && exported.contains("action = \"start\""), "{exported}");
}

#[test]
fn a_run_whose_process_is_killed_is_adopted_and_ends_honestly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, 1500);
    ok(d, &["settings", "lease_ms", "600000"]);
    let on = names(d, "running");
    let vms: Vec<String> = on.iter().take(2).map(|n| format!("\"lab/{n}\"")).collect();
    let file = runbook_file(
        d,
        &format!("name = \"k\"\n[[steps]]\naction = \"stop\"\nvms = [{}]\n[[steps]]\naction = \"start\"\nvms = [{}]\n", vms.join(", "), vms.join(", ")),
    );
    ok(d, &["runbook", "add", &file]);
    let mut child = pdk(d).args(["runbook", "run", "k", "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Killed while its first step is in flight.
    let started = Instant::now();
    loop {
        let ops = json(d, &["ops", "--json"]);
        if ops.as_array().unwrap().iter().any(|o| o["phase"] == "tracking") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the run never got going");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(json(d, &["runbook", "runs", "--json"])[0]["phase"], "running", "nobody finished it");
    // Another process adopts the run (its owner is dead) and carries it to its end.
    let mut watcher = pdk(d).args(["watch", "--json"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    let run = loop {
        let run = json(d, &["runbook", "runs", "--json"])[0].clone();
        if run["phase"] != "running" {
            break run;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the run was never adopted: {run}");
        std::thread::sleep(Duration::from_millis(100));
    };
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    assert_eq!(run["phase"], "succeeded", "{run}");
    // Each VM was stopped once and started once: nothing sent twice.
    let ops = json(d, &["ops", "--json"]);
    for name in on.iter().take(2) {
        let mine: Vec<&Value> = ops.as_array().unwrap().iter().filter(|o| o["vm_name"] == name.as_str()).collect();
        assert_eq!(mine.len(), 2, "{name}: {mine:?}");
    }
}
