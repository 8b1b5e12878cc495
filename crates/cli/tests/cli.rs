//! `pdk` as a user runs it: real processes, a real data directory, and one
//! of them killed with SIGKILL in the middle of an operation.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

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

/// The one-sentence error a failing command printed.
fn error_of(out: &Output) -> String {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear sentence, got: {err}");
    err
}

/// A small, fast, calm fleet named `lab`.
fn lab(dir: &Path, extra: &[&str]) {
    ok(dir, &["accounts", "remove", "demo"]);
    let mut args = vec!["accounts", "add", "sim", "lab", "--size", "6", "--latency-ms", "1", "--drift-per-hour", "0", "--stubborn-rate", "0", "--no-feed"];
    args.extend_from_slice(extra);
    ok(dir, &args);
    ok(dir, &["settings", "inflight_interval_ms", "200"]);
    ok(dir, &["sync", "--account", "lab"]);
}

fn first_vm(dir: &Path, state: &str) -> Value {
    let vms = json(dir, &["vms", "list", "--account", "lab", "--state", state, "--json"]);
    vms.as_array().unwrap().first().cloned().unwrap_or_else(|| panic!("no {state} VM"))
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_operation_survives_its_process_being_killed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, &["--stop-delay-ms", "3000"]);
    // Adoption must come from seeing the owner dead, not from a lease expiring.
    ok(d, &["settings", "lease_ms", "600000"]);
    let vm = first_vm(d, "running");
    let name = format!("lab/{}", vm["name"].as_str().unwrap());

    let mut child: Child = pdk(d).args(["vm", "stop", &name, "--yes"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until("the stop is being tracked", || json(d, &["ops", "--json"]).as_array().unwrap().iter().any(|o| o["phase"] == "tracking"));
    child.kill().unwrap(); // SIGKILL: no cleanup, no goodbye
    child.wait().unwrap();

    let op = &json(d, &["ops", "--json"])[0];
    assert_eq!(op["phase"], "tracking", "nobody finished it: {op}");
    let shown = json(d, &["vms", "list", "--account", "lab", "--json"]);
    let row = shown.as_array().unwrap().iter().find(|v| v["id"] == vm["id"]).unwrap();
    assert_eq!(row["state"], "stopping");

    let resumed = json(d, &["resume", "--json"]);
    let done = &resumed[0];
    assert_eq!(done["id"], op["id"]);
    assert_eq!(done["phase"], "succeeded", "{done}");
    assert_eq!(done["new_state"], "stopped");
    assert_eq!(done["shutdown_method"], "graceful");

    let history = json(d, &["history", &name, "--json"]);
    let steps: Vec<(String, String)> =
        history.as_array().unwrap().iter().rev().map(|h| (h["to_state"].as_str().unwrap().into(), h["source"].as_str().unwrap().into())).collect();
    assert_eq!(steps, [("running", "sync"), ("stopping", "operation"), ("stopped", "operation")].map(|(a, b)| (a.to_string(), b.to_string())));
}

/// `kill -9` at each moment of a stop before it is tracked (pdk's test
/// build dies where `POWERDECK_KILL_AT` says), then `pdk resume`: a stop
/// never journalled left nothing behind and changed nothing; a journalled
/// one ends verified, asked of the guest once and never forced.
#[test]
fn a_stop_killed_at_each_moment_before_it_is_tracked_is_recovered_without_force() {
    use std::os::unix::process::ExitStatusExt;
    for point in ["before-journal", "after-journal", "after-submit"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        lab(d, &["--stop-delay-ms", "1000"]);
        let vm = first_vm(d, "running");
        let name = format!("lab/{}", vm["name"].as_str().unwrap());

        let died = pdk(d).env("POWERDECK_KILL_AT", point).args(["vm", "stop", &name, "--yes"]).output().unwrap();
        assert_eq!(died.status.signal(), Some(9), "{point}: killed, not ended: {died:?}");

        let resumed = json(d, &["resume", "--json"]);
        let history =
            || json(d, &["history", &name, "--json"]).as_array().unwrap().iter().map(|h| h["to_state"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        if point == "before-journal" {
            assert_eq!(resumed, serde_json::json!([]), "{point}: nothing to adopt");
            ok(d, &["sync", "--account", "lab"]);
            assert_eq!(history(), ["running"], "{point}: nothing was sent");
            continue;
        }
        let op = &resumed[0];
        assert_eq!((op["phase"].as_str(), op["new_state"].as_str()), (Some("succeeded"), Some("stopped")), "{point}: {op}");
        assert_eq!(op["shutdown_method"], "graceful", "{point}: the guest was asked: {op}");
        assert!(op["forced_at"].is_null(), "{point}: never forced: {op}");
        assert_eq!(history(), ["stopped", "stopping", "running"], "{point}: stopped once");
    }
}

#[test]
fn bulk_and_forced_stops_need_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, &[]);
    let vms = json(d, &["vms", "list", "--account", "lab", "--json"]);
    let a = format!("lab/{}", vms[0]["name"].as_str().unwrap());
    let b = format!("lab/{}", vms[1]["name"].as_str().unwrap());

    let err = error_of(&run(d, &["vm", "stop", &a, &b]));
    assert!(err.ends_with("refusing without confirmation; add --yes to proceed"), "{err}");
    let err = error_of(&run(d, &["vm", "force-stop", &a]));
    assert!(err.contains("add --yes"), "{err}");
    assert_eq!(json(d, &["ops", "--json"]), serde_json::json!([]), "nothing was attempted");
}

#[test]
fn user_mistakes_get_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, &[]);
    ok(d, &["accounts", "add", "sim", "twin", "--size", "6", "--latency-ms", "1"]);
    ok(d, &["sync"]);
    let name = first_vm(d, "running")["name"].as_str().unwrap().to_string();

    assert_eq!(error_of(&run(d, &["vm", "start", "nope"])), "pdk: no VM matches 'nope' (try `pdk vms list`)");
    let err = error_of(&run(d, &["vm", "start", &name]));
    assert!(err.contains(&format!("'{name}' matches 2 VMs")) && err.contains("use an id or account/name"), "{err}");
    // Every kind this build has is named (the list grows with each provider).
    let known = powerdeck_core::provider::registry::known();
    assert_eq!(error_of(&run(d, &["accounts", "add", "ovirt3", "x"])), format!("pdk: unknown account kind 'ovirt3' (known: {known})"));
    assert!(known.starts_with("sim, ec2, vsphere"), "{known}");
    assert_eq!(
        error_of(&run(d, &["accounts", "add", "ec2", "aws", "--access-key-id", "AKID"])),
        "pdk: invalid Amazon EC2 settings: an EC2 account needs at least one region (or a profile that names one) (--region); the secret access key is missing (--secret-stdin/--secret-env)"
    );
    assert_eq!(
        error_of(&run(d, &["accounts", "add", "ec2", "aws", "--region", "us-east-1", "--access-key-id", "AKID"])),
        "pdk: invalid Amazon EC2 settings: the secret access key is missing (--secret-stdin/--secret-env)"
    );
    assert_eq!(
        error_of(&run(d, &["accounts", "add", "vsphere", "vc", "--endpoint", "https://vc.example/sdk", "--secret-env", "PATH"])),
        "pdk: invalid VMware vSphere settings: a vSphere account needs a user name (--username)"
    );
    assert_eq!(
        error_of(&run(d, &["accounts", "add", "vsphere", "vc", "--endpoint", "https://admin:pw@vc.example/sdk", "--username", "u", "--secret-env", "PATH"])),
        "pdk: invalid VMware vSphere settings: the endpoint must not carry credentials or a query; the secret goes to the account's secret source (--endpoint)"
    );
    // Not even a broken URL is echoed: it may hold a password.
    let err = error_of(&run(d, &["accounts", "add", "vsphere", "vc", "--endpoint", "https://admin:s3cret@[vc/sdk", "--username", "u", "--secret-env", "PATH"]));
    assert!(err.starts_with("pdk: invalid VMware vSphere settings: the endpoint is not a URL") && !err.contains("s3cret"), "{err}");
    assert_eq!(
        error_of(&run(d, &["accounts", "add", "vsphere", "vc", "--endpoint", "ftp://vc.example/sdk", "--username", "u", "--secret-env", "PATH"])),
        "pdk: invalid VMware vSphere settings: the endpoint must be an http(s) URL (https://host/sdk), not ftp: (--endpoint)"
    );
    assert_eq!(
        error_of(&run(d, &["accounts", "add", "sim", "lab2", "--region", "us-east-1"])),
        "pdk: --region is not a setting of sim accounts (pdk accounts add sim NAME --help lists them)"
    );
    assert_eq!(error_of(&run(d, &["vms", "list", "--state", "sleepy"])).split(" (known").next().unwrap(), "pdk: unknown power state 'sleepy'");
    assert_eq!(error_of(&run(d, &["accounts", "test", "ghost"])), "pdk: there is no account named 'ghost' (try `pdk accounts list`)");
    let err = error_of(&run(d, &["accounts", "add", "sim", "bad", "--failure-rate", "3"]));
    assert_eq!(err, "pdk: --failure-rate: must be between 0 and 1, not 3");
}

#[test]
fn secrets_are_referenced_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let secret = "s3cr3t-value-that-must-not-leak";
    let out = pdk(d)
        .args(["accounts", "add", "sim", "envy", "--size", "3", "--latency-ms", "1", "--secret-env", "PDK_TEST_TOKEN"])
        .env("PDK_TEST_TOKEN", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("secret in environment variable PDK_TEST_TOKEN"));

    let ok_test = pdk(d).args(["accounts", "test", "envy"]).env("PDK_TEST_TOKEN", secret).output().unwrap();
    assert!(ok_test.status.success(), "{}", String::from_utf8_lossy(&ok_test.stderr));
    let err = error_of(&pdk(d).args(["accounts", "test", "envy"]).env_remove("PDK_TEST_TOKEN").output().unwrap());
    assert_eq!(err, "pdk: the environment variable PDK_TEST_TOKEN is not set (the account's secret is read from it)");

    // With no keychain service at all, say so and point at --secret-env.
    let mut c = pdk(d);
    c.args(["accounts", "add", "sim", "kc", "--secret-stdin"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{secret}").unwrap();
    let out = child.wait_with_output().unwrap();
    let err = error_of(&out);
    assert!(err.contains("no keychain service is available") && err.contains("--secret-env VAR"), "{err}");
    assert!(!err.contains(secret));
    let accounts = json(d, &["accounts", "list", "--json"]);
    assert!(accounts.as_array().unwrap().iter().all(|a| a["name"] != "kc"), "a failed add leaves no account behind");

    for entry in std::fs::read_dir(d).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret), "the secret reached a file in the data directory");
    }
}

#[test]
fn watch_streams_one_json_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, &[]);
    let mut child = pdk(d).args(["watch", "--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first full sync of the watch session announces itself (after the
    // account's health turned from unknown to ok on its first answer).
    let mut seen = Vec::new();
    let first = loop {
        let line: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).expect("a JSON object per line");
        if line["type"] == "sync-finished" {
            break line;
        }
        seen.push(line);
        assert!(seen.len() < 5, "no sync-finished among {seen:?}");
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(first["vms"], 6);
    assert!(seen.iter().all(|e| e["type"] == "account-health" && e["health"]["status"] == "ok"), "{seen:?}");
}

#[test]
fn a_new_data_directory_shows_the_demo_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = json(dir.path(), &["accounts", "list", "--json"]);
    assert_eq!(accounts[0]["name"], "demo");
    assert_eq!(accounts[0]["is_demo"], true);
    let vms = json(dir.path(), &["vms", "list", "--json"]);
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), 40);
    for key in ["name", "id", "provider_id", "account", "state", "raw_state", "stale", "last_state_change_at", "last_seen_at"] {
        assert!(vms[0].get(key).is_some(), "vms list --json lacks {key}");
    }
    ok(dir.path(), &["accounts", "remove", "demo"]);
    assert_eq!(json(dir.path(), &["accounts", "list", "--json"]), serde_json::json!([]), "a removed demo account stays removed");
}

#[test]
fn a_name_given_twice_is_acted_on_once_and_a_wrong_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, &[]);
    let vm = first_vm(d, "running");
    let name = format!("lab/{}", vm["name"].as_str().unwrap());
    // Stopping the same VM named twice: one stop, verified, exit 0.
    let out = run(d, &["vm", "stop", &name, &name, "--yes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(d, &["ops", &name, "--json"]).as_array().map(Vec::len), Some(1), "one operation");
    // Watching a good VM and a wrong one: refused, and the good one is not watched either.
    let err = error_of(&run(d, &["vms", "watch", &name, "nosuch"]));
    assert_eq!(err, "pdk: no VM matches 'nosuch' (try `pdk vms list`)");
    let listed = json(d, &["vms", "list", "--account", "lab", "--json"]);
    let watched = listed.as_array().unwrap().iter().find(|v| v["id"] == vm["id"]).unwrap()["watched"].clone();
    assert_eq!(watched, Value::Bool(false), "nothing was applied");
}

#[test]
fn an_operation_asked_for_during_an_outage_is_refused_in_words_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    lab(d, &[]);
    let vm = first_vm(d, "running");
    let name = format!("lab/{}", vm["name"].as_str().unwrap());
    ok(d, &["sim", "outage", "lab", "--seconds", "60"]);

    let out = run(d, &["vm", "stop", &name, "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(3), "a refused operation exits 3: {}", String::from_utf8_lossy(&out.stderr));
    let ops: Value = serde_json::from_slice(&out.stdout).unwrap();
    let op = ops.as_array().and_then(|a| a.first()).cloned().unwrap_or(ops);
    assert_eq!((op["phase"].as_str(), op["failure"].as_str()), (Some("failed"), Some("refused")), "{op}");
    assert!(op["error"].as_str().unwrap().contains("could not be reached"), "{op}");
    let sync = run(d, &["sync", "--account", "lab"]);
    assert!(!sync.status.success() && String::from_utf8_lossy(&sync.stderr).contains("could not be reached"));
    let listed = json(d, &["vms", "list", "--account", "lab", "--json"]);
    let row = listed.as_array().unwrap().iter().find(|v| v["id"] == vm["id"]).unwrap();
    assert_eq!((row["state"].as_str(), row["stale"].as_bool()), (Some("running"), Some(true)), "its last known state, marked stale: {row}");

    // Nothing was sent: once the provider answers, the VM still runs.
    ok(d, &["sim", "outage", "lab", "--seconds", "0"]);
    ok(d, &["sync", "--account", "lab"]);
    let after = json(d, &["vms", "list", "--account", "lab", "--json"]);
    let row = after.as_array().unwrap().iter().find(|v| v["id"] == vm["id"]).unwrap();
    assert_eq!((row["state"].as_str(), row["stale"].as_bool()), (Some("running"), Some(false)), "{row}");
}

#[test]
fn a_secret_that_is_gone_since_the_account_was_added_says_where_it_was_read_from() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let add = pdk(d)
        .args([
            "accounts",
            "add",
            "ec2",
            "prod",
            "--region",
            "us-east-1",
            "--endpoint",
            "http://127.0.0.1:9",
            "--access-key-id",
            "AKIDLAB",
            "--secret-env",
            "PDK_TEST_GONE_SECRET",
        ])
        .env("PDK_TEST_GONE_SECRET", "s3cr3t-that-was-there")
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    for args in [&["sync", "--account", "prod"][..], &["accounts", "test", "prod"]] {
        let out = pdk(d).args(args).env_remove("PDK_TEST_GONE_SECRET").output().unwrap();
        let err = error_of(&out);
        assert!(err.contains("PDK_TEST_GONE_SECRET is not set"), "{args:?}: {err}");
    }
}
