//! `pdk` against the ARM fake, the way an admin would set it up: a service
//! principal whose client secret comes from an environment variable (never
//! the command line), or the Azure CLI's own sign-in with nothing stored.

use powerdeck_testkit::azure::{AzureFake, CLIENT_ID, SECRET, TENANT};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const SECRET_VAR: &str = "PDK_TEST_AZURE_SECRET";
const WRONG_VAR: &str = "PDK_TEST_AZURE_WRONG";
const WRONG: &str = "not-the-azure-client-secret";

fn pdk(dir: &Path) -> Command {
    let mut cmd = powerdeck_testkit::pdk!(dir);
    cmd.env(SECRET_VAR, SECRET).env(WRONG_VAR, WRONG);
    cmd
}

fn ok(dir: &Path, args: &[&str]) -> String {
    powerdeck_testkit::pdk::succeed(pdk(dir), args)
}

fn json_of(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).expect("valid JSON")
}

/// The one sentence a failing command printed.
fn error_of(out: Output) -> String {
    assert!(!out.status.success(), "should have failed: {}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one clear sentence, got: {err}");
    err
}

/// The settings that point an account at the fake.
fn endpoints(arm: &AzureFake) -> Vec<String> {
    let ca = arm.fake.ca.as_ref().unwrap().display().to_string();
    ["--authority-host", &arm.fake.url, "--arm-endpoint", &arm.fake.url, "--ca-file", &ca].iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_account_is_added_tested_listed_and_deallocated_from_the_cli() {
    let arm = AzureFake::start(&["--subscriptions", "2", "--vms", "3", "--transition-ms", "300"]);
    let made = arm.fake.control("vms", Some(json!({ "count": 1, "state": "running", "name": "billing-01" }))).await;
    let id = made[0]["id"].as_str().unwrap().to_lowercase();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    let mut add = vec!["accounts", "add", "azure", "az", "--tenant", TENANT, "--client-id", CLIENT_ID, "--secret-env", SECRET_VAR];
    let ends = endpoints(&arm);
    add.extend(ends.iter().map(String::as_str));
    let added = ok(d, &add);
    assert!(added.contains("added azure account 'az'; secret in environment variable PDK_TEST_AZURE_SECRET"), "{added}");
    let tested = ok(d, &["accounts", "test", "az"]);
    assert!(tested.contains(&format!("connected as service principal {CLIENT_ID}; 2 subscription(s)")), "{tested}");

    let vms = json_of(d, &["vms", "list", "--json"]);
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), 7);
    let truth: Vec<(String, String)> = arm.witness_list().into_iter().map(|(id, _, state)| (id, state)).collect();
    for (tid, state) in &truth {
        let vm = vms.iter().find(|v| v["provider_id"] == tid.as_str()).unwrap_or_else(|| panic!("{tid} not listed"));
        assert_eq!(vm["raw_state"].as_str(), Some(state.as_str()), "{vm}");
    }

    // Deallocate: verified, and told apart from a stop everywhere.
    let ops = json_of(d, &["vm", "deallocate", "billing-01", "--json"]);
    assert_eq!((ops[0]["phase"].as_str(), ops[0]["new_state"].as_str()), (Some("succeeded"), Some("deallocated")), "{ops}");
    let witness: Vec<String> = arm.witness_list().into_iter().filter(|(w, _, _)| *w == id).map(|(_, _, s)| s).collect();
    assert_eq!(witness, vec!["PowerState/deallocated"]);
    let listed = ok(d, &["vms", "list", "--state", "deallocated"]);
    assert!(listed.contains("billing-01") && listed.contains("PowerState/deallocated"), "{listed}");
    let history = ok(d, &["history", "billing-01"]);
    assert!(history.contains("running → deallocating") && history.contains("deallocating → deallocated"), "{history}");

    // A wrong client secret: one clear sentence, never the secret.
    let mut bad = vec!["accounts", "add", "azure", "bad", "--tenant", TENANT, "--client-id", CLIENT_ID, "--secret-env", WRONG_VAR];
    bad.extend(ends.iter().map(String::as_str));
    ok(d, &bad);
    let err = error_of(pdk(d).args(["accounts", "test", "bad"]).output().unwrap());
    assert!(err.contains("Microsoft Entra ID refused the sign-in: the client secret is wrong (invalid_client, AADSTS7000215)"), "{err}");
    assert!(!err.contains(WRONG), "{err}");
    // A missing setting is named by its flag.
    let err = error_of(pdk(d).args(["accounts", "add", "azure", "half", "--tenant", TENANT, "--secret-env", SECRET_VAR]).output().unwrap());
    assert!(err.contains("application (client) id") && err.contains("--client-id"), "{err}");

    // Nothing secret lands in the data directory.
    for entry in std::fs::read_dir(d).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET) && !text.contains(WRONG));
    }
}

/// A stand-in `az` on PATH that prints `token` the way `az account get-access-token` does.
fn fake_az(dir: &Path, token: &str) {
    use std::os::unix::fs::PermissionsExt;
    let expires = chrono::Utc::now().timestamp() + 3600;
    let body = format!(r#"{{"accessToken": "{token}", "expires_on": {expires}, "subscription": "", "tenant": "{TENANT}", "tokenType": "Bearer"}}"#);
    let path = dir.join("az");
    std::fs::write(&path, format!("#!/bin/sh\ncat <<'OUT'\n{body}\nOUT\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_signs_in_with_nothing_stored() {
    let arm = AzureFake::start(&["--subscriptions", "2", "--vms", "2"]);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(arm.fake.ca.as_ref().unwrap()).unwrap()).unwrap();
    let http = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let form = [("grant_type", "client_credentials"), ("client_id", CLIENT_ID), ("client_secret", SECRET), ("scope", "https://management.azure.com/.default")];
    let answer: Value = http.post(format!("{}/{TENANT}/oauth2/v2.0/token", arm.fake.url)).form(&form).send().await.unwrap().json().await.unwrap();
    let bin = tempfile::tempdir().unwrap();
    fake_az(bin.path(), answer["access_token"].as_str().unwrap());
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let sub = arm.subscriptions().await.remove(0);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    let mut add = vec!["accounts", "add", "azure", "cli", "--auth", "azure-cli", "--subscription", &sub];
    let ends = endpoints(&arm);
    add.extend(ends.iter().map(String::as_str));
    let added = ok(d, &add);
    assert_eq!(added.trim(), "added azure account 'cli'", "no secret source");
    let with_az = |args: &[&str]| pdk(d).env("PATH", &path).args(args).output().unwrap();
    let out = with_az(&["accounts", "test", "cli"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("connected as the Azure CLI's sign-in; 1 subscription(s)"), "{out:?}");
    let out = with_az(&["vms", "list", "--json"]);
    let vms: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(vms.as_array().unwrap().len(), 2, "only the named subscription's VMs: {vms}");

    // No az on this machine: one sentence that says so.
    let err = error_of(pdk(d).env("PATH", "/nonexistent").args(["accounts", "test", "cli"]).output().unwrap());
    assert!(err.contains("the Azure CLI (az) is not installed on this machine or not on PATH"), "{err}");
    // A secret with the Azure CLI is refused at once.
    let err = error_of(pdk(d).args(["accounts", "add", "azure", "x", "--auth", "azure-cli", "--secret-env", SECRET_VAR]).output().unwrap());
    assert!(err.contains("signs in by itself"), "{err}");
}
