//! `pdk` against vcsim: add a vSphere account with the password in an
//! environment variable, list, and power a VM off and on, the start waiting
//! for the guest's tools.

#[path = "../../core/tests/support/vcsim.rs"]
mod vcsim;

#[path = "support/pdk.rs"]
mod support;

use serde_json::Value;
use std::path::Path;

const SECRET_VAR: &str = "PDK_TEST_VC_PASSWORD";

fn ok(dir: &Path, args: &[&str]) -> String {
    let mut cmd = support::pdk(dir);
    cmd.env(SECRET_VAR, "vcsim-accepts-any");
    support::succeed(cmd, args)
}

#[test]
fn a_vsphere_account_is_added_listed_and_driven_from_the_cli() {
    // Every VM has VMware Tools, up 1 s after power-on.
    let sim = vcsim::Vcsim::start(&["-vm", "1", "-tools", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    ok(d, &["accounts", "add", "vsphere", "vc", "--endpoint", &sim.endpoint, "--username", "admin", "--secret-env", SECRET_VAR]);
    assert!(ok(d, &["accounts", "test", "vc"]).contains("connected"));
    let vms: Value = serde_json::from_str(&ok(d, &["vms", "list", "--json"])).unwrap();
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), 4);
    let name = vms[0]["name"].as_str().unwrap().to_string();
    assert_eq!(vms[0]["raw_state"], "poweredOn");

    let out: Value = serde_json::from_str(&ok(d, &["vm", "force-stop", &name, "--yes", "--json"])).unwrap();
    assert_eq!((out[0]["phase"].as_str(), out[0]["new_state"].as_str()), (Some("succeeded"), Some("stopped")), "{out}");
    let out: Value = serde_json::from_str(&ok(d, &["vm", "start", &name, "--wait-tools", "--json"])).unwrap();
    assert_eq!((out[0]["phase"].as_str(), out[0]["new_state"].as_str(), out[0]["wait_for_tools"].as_bool()), (Some("succeeded"), Some("running"), Some(true)), "{out}");
    let vms: Value = serde_json::from_str(&ok(d, &["vms", "list", "--json"])).unwrap();
    let vm = vms.as_array().unwrap().iter().find(|v| v["name"] == name.as_str()).unwrap();
    assert_eq!(vm["tools"], "running", "{vm}");
}
