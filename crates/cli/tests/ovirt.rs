//! `pdk` against the oVirt engine fake: add an account whose engine CA is
//! fetched and confirmed, with the password in an environment variable;
//! test, list, stop and start a VM to a verified end; a wrong password is a
//! clear error that never shows it; removing the account removes its CA.

use powerdeck_testkit::fake::Fake;
use serde_json::Value;
use std::path::Path;

const SECRET_VAR: &str = "PDK_TEST_OVIRT_PASSWORD";
const WRONG_VAR: &str = "PDK_TEST_OVIRT_WRONG";
const PASSWORD: &str = "s3cret+p@ss&=";
const WRONG: &str = "wrong+p@ss&=word";

fn pdk(dir: &Path) -> std::process::Command {
    let mut cmd = powerdeck_testkit::pdk!(dir);
    cmd.env(SECRET_VAR, PASSWORD).env(WRONG_VAR, WRONG);
    cmd
}

fn ok(dir: &Path, args: &[&str]) -> String {
    powerdeck_testkit::pdk::succeed(pdk(dir), args)
}

/// Run a command that must fail; its standard error.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = pdk(dir).args(args).output().unwrap();
    assert!(!out.status.success(), "pdk {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

fn account(dir: &Path, name: &str) -> Value {
    let accounts: Value = serde_json::from_str(&ok(dir, &["accounts", "list", "--json"])).unwrap();
    accounts.as_array().unwrap().iter().find(|a| a["name"] == name).cloned().unwrap_or(Value::Null)
}

#[test]
fn an_ovirt_account_is_added_with_its_engine_ca_listed_and_driven_from_the_cli() {
    let fake = Fake::start("ovirt", &["--vms", "6", "--transition-ms", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    let add = ["accounts", "add", "ovirt", "olvm", "--endpoint", &fake.url, "--username", "admin@internal", "--secret-env", SECRET_VAR];

    // Without a terminal the CA is not trusted silently.
    let mut asks = add.to_vec();
    asks.push("--fetch-ca");
    assert!(fails(d, &asks).contains("--yes"));
    assert_eq!(account(d, "olvm"), Value::Null);

    // Fetched, shown, confirmed, kept; the API path is added to the bare host.
    asks.push("--yes");
    let out = pdk(d).args(&asks).output().unwrap();
    let shown = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{shown}");
    let a = account(d, "olvm");
    assert_eq!(a["config"]["endpoint"], format!("{}/ovirt-engine/api", fake.url));
    let kept = a["config"]["ca_file"].as_str().expect("the CA file is set").to_string();
    assert!(kept.starts_with(d.to_str().unwrap()), "kept in the data directory: {kept}");
    assert_eq!(std::fs::read_to_string(&kept).unwrap().trim(), std::fs::read_to_string(fake.ca.as_ref().unwrap()).unwrap().trim());
    let thumbprint = shown.lines().find(|l| l.len() == 95 && l.contains(':')).unwrap_or_else(|| panic!("no thumbprint shown: {shown}"));
    assert!(thumbprint.chars().all(|c| c.is_ascii_hexdigit() || c == ':'));

    assert!(ok(d, &["accounts", "test", "olvm"]).contains("connected to oVirt Engine"));
    let vms: Value = serde_json::from_str(&ok(d, &["vms", "list", "--json"])).unwrap();
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), 6);
    let up = vms.iter().find(|v| v["raw_state"] == "up").expect("a running VM");
    let name = up["name"].as_str().unwrap().to_string();

    let out: Value = serde_json::from_str(&ok(d, &["vm", "stop", &name, "--force", "--graceful-timeout", "3", "--yes", "--json"])).unwrap();
    assert_eq!((out[0]["phase"].as_str(), out[0]["new_state"].as_str()), (Some("succeeded"), Some("stopped")), "{out}");
    let out: Value = serde_json::from_str(&ok(d, &["vm", "start", &name, "--json"])).unwrap();
    assert_eq!((out[0]["phase"].as_str(), out[0]["new_state"].as_str()), (Some("succeeded"), Some("running")), "{out}");
    let history = ok(d, &["history", &name]);
    assert!(history.contains("operation"), "{history}");

    // A wrong password: the engine's refusal, never the password.
    ok(d, &["accounts", "add", "ovirt", "wrong", "--endpoint", &fake.url, "--username", "admin@internal", "--secret-env", WRONG_VAR, "--ca-file", &kept]);
    let err = fails(d, &["accounts", "test", "wrong"]);
    assert!(err.contains("The username or password is incorrect"), "{err}");
    assert!(!err.contains("wrong+p") && !err.contains("p@ss") && !err.contains("p%40ss"), "{err}");

    // Removing the account removes the CA it kept; a file the user named stays.
    ok(d, &["accounts", "remove", "olvm"]);
    assert!(!Path::new(&kept).exists(), "the kept CA went with its account");
}

#[test]
fn an_engine_the_system_does_not_trust_is_refused_until_its_ca_or_certificate_is_trusted() {
    let fake = Fake::start("ovirt", &["--vms", "3"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    ok(d, &["accounts", "add", "ovirt", "olvm", "--endpoint", &fake.url, "--username", "admin@internal", "--secret-env", SECRET_VAR]);
    let err = fails(d, &["sync", "--account", "olvm"]);
    assert!(err.contains("not trusted") && err.contains("--trust-presented"), "{err}");
    assert!(!err.contains(PASSWORD));

    ok(d, &["accounts", "edit", "olvm", "--fetch-ca", "--yes"]);
    assert!(ok(d, &["sync", "--account", "olvm"]).contains("3 VMs"));
    // Back to the system's roots only: refused again.
    ok(d, &["accounts", "edit", "olvm", "--verify-tls"]);
    assert_eq!(account(d, "olvm")["config"]["ca_file"], Value::Null);
    assert!(fails(d, &["sync", "--account", "olvm"]).contains("not trusted"));
    // A pin instead, after comparing with what the engine itself has.
    let out = pdk(d).args(["accounts", "edit", "olvm", "--trust-presented", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/etc/pki/ovirt-engine/certs/apache.cer"), "where the engine shows its own");
    assert!(ok(d, &["sync", "--account", "olvm"]).contains("3 VMs"));
    // One way of trusting at a time.
    let err = fails(d, &["accounts", "edit", "olvm", "--ca-file", "/etc/hostname"]);
    assert!(err.contains("choose one way to trust the engine"), "{err}");
}

/// `kill -9` just after the engine took a shutdown request, before pdk
/// recorded anything about it; then `pdk resume`, as after a crash. The
/// operation is adopted and ends verified, graceful, with the shutdown
/// sent exactly once: against the engine itself, not the demo fleet.
#[test]
fn a_stop_killed_right_after_the_engine_took_it_is_resumed_to_a_verified_end_sent_once() {
    use std::os::unix::process::ExitStatusExt;
    let fake = Fake::start("ovirt", &["--vms", "4", "--transition-ms", "800"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    let ca = fake.ca.as_deref().unwrap().to_str().unwrap();
    ok(d, &["accounts", "add", "ovirt", "olvm", "--endpoint", &fake.url, "--username", "admin@internal", "--secret-env", SECRET_VAR, "--ca-file", ca]);
    ok(d, &["sync", "--account", "olvm"]);
    let engine_says = || tokio::runtime::Runtime::new().unwrap().block_on(fake.vms());
    let up = engine_says().into_iter().find(|v| v["state"] == "up" && v["stubborn"] == false && v["agent"] == true).expect("a running VM whose guest obeys");
    let name = up["name"].as_str().unwrap().to_string();
    let shutdowns = || tokio::runtime::Runtime::new().unwrap().block_on(fake.count("shutdown"));

    let died = pdk(d).env("POWERDECK_KILL_AT", "after-submit").args(["vm", "stop", &name, "--yes"]).output().unwrap();
    assert_eq!(died.status.signal(), Some(9), "killed, not ended: {died:?}");
    assert_eq!(shutdowns(), 1, "the engine took the shutdown before pdk died");

    let resumed: Value = serde_json::from_str(&ok(d, &["resume", "--json"])).unwrap();
    let op = &resumed[0];
    assert_eq!((op["phase"].as_str(), op["new_state"].as_str()), (Some("succeeded"), Some("stopped")), "{resumed}");
    assert_eq!(op["shutdown_method"], "graceful", "{op}");
    assert!(op["forced_at"].is_null(), "never forced: {op}");
    assert_eq!(shutdowns(), 1, "adopted, not sent again");
    let seen = engine_says().into_iter().find(|v| v["name"] == name.as_str()).unwrap();
    assert_eq!(seen["state"], "down", "the engine agrees: {seen}");
}
