//! `pdk` against vcsim: add a vSphere account with the password in an
//! environment variable, list, and power a VM off and on, the start waiting
//! for the guest's tools; re-pin a host whose certificate changed.

use powerdeck_testkit::vcsim;

use serde_json::Value;
use std::path::Path;

const SECRET_VAR: &str = "PDK_TEST_VC_PASSWORD";

fn pdk(dir: &Path) -> std::process::Command {
    let mut cmd = powerdeck_testkit::pdk!(dir);
    cmd.env(SECRET_VAR, "vcsim-accepts-any");
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

fn pinned_thumbprint(dir: &Path) -> Option<String> {
    let accounts: Value = serde_json::from_str(&ok(dir, &["accounts", "list", "--json"])).unwrap();
    let vc = accounts.as_array().unwrap().iter().find(|a| a["name"] == "vc").unwrap().clone();
    vc["config"]["thumbprint"].as_str().map(str::to_string)
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
    assert_eq!(
        (out[0]["phase"].as_str(), out[0]["new_state"].as_str(), out[0]["wait_for_tools"].as_bool()),
        (Some("succeeded"), Some("running"), Some(true)),
        "{out}"
    );
    let vms: Value = serde_json::from_str(&ok(d, &["vms", "list", "--json"])).unwrap();
    let vm = vms.as_array().unwrap().iter().find(|v| v["name"] == name.as_str()).unwrap();
    assert_eq!(vm["tools"], "running", "{vm}");
}

#[test]
fn a_changed_certificate_is_refused_until_the_admin_pins_the_new_one() {
    let sim = vcsim::Vcsim::start(&["-vm", "1", "-tls"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    // Pinned to a certificate the host no longer presents.
    let old = "ab".repeat(32);
    ok(d, &["accounts", "add", "vsphere", "vc", "--endpoint", &sim.endpoint, "--username", "admin", "--secret-env", SECRET_VAR, "--thumbprint", &old]);
    let err = fails(d, &["sync", "--account", "vc"]);
    assert!(err.contains("certificate changed") && err.contains("pdk accounts edit vc --thumbprint"), "{err}");
    let presented = err
        .split("presented ")
        .nth(1)
        .and_then(|r| r.split(|c: char| c != ':' && !c.is_ascii_hexdigit()).next())
        .unwrap_or_else(|| panic!("no presented thumbprint in: {err}"))
        .to_string();
    assert_eq!(presented.len(), 95, "{presented}");

    // Nothing asked for, nothing changed; without a terminal, no silent trust.
    assert!(fails(d, &["accounts", "edit", "vc"]).contains("nothing to change"));
    assert!(fails(d, &["accounts", "edit", "vc", "--trust-presented"]).contains("--yes"));
    assert!(fails(d, &["accounts", "edit", "vc", "--thumbprint", "not-hex"]).contains("not a SHA-256 thumbprint"));
    assert_eq!(pinned_thumbprint(d).as_deref(), Some(old.as_str()));

    // --trust-presented shows what it pins and pins exactly that.
    let out = pdk(d).args(["accounts", "edit", "vc", "--trust-presented", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&presented), "the thumbprint is shown before it is pinned");
    assert!(String::from_utf8_lossy(&out.stderr).contains("vCenter: Administration"), "with where vSphere shows its own");
    assert_eq!(pinned_thumbprint(d).as_deref(), Some(presented.as_str()));
    assert!(ok(d, &["sync", "--account", "vc"]).contains("4 VMs"), "synced once the new certificate is pinned");

    // Back to the system's roots: the self-signed host is refused again, with the thumbprint to compare.
    ok(d, &["accounts", "edit", "vc", "--verify-tls"]);
    assert_eq!(pinned_thumbprint(d), None);
    assert!(fails(d, &["sync", "--account", "vc"]).contains(&presented));

    // Every kind can be edited with its own settings; another kind's are refused, not ignored.
    ok(d, &["accounts", "add", "sim", "lab"]);
    assert!(fails(d, &["accounts", "edit", "lab", "--endpoint", "https://x/sdk"]).contains("--endpoint is not a setting of sim accounts"));
    ok(d, &["accounts", "edit", "lab", "--size", "7", "--no-feed"]);
    let lab = serde_json::from_str::<Value>(&ok(d, &["accounts", "list", "--json"]))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "lab")
        .cloned()
        .unwrap();
    assert_eq!((lab["config"]["size"].as_i64(), lab["config"]["feed"].as_bool()), (Some(7), Some(false)), "{lab}");
}

#[test]
fn a_host_signed_by_a_ca_the_system_trusts_needs_no_pin() {
    // The CA stands for a company CA or vCenter's VMCA, installed in the
    // system's trust store; SSL_CERT_FILE is how a test installs it.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = d.join("company-ca.pem");
    let sim = vcsim::Vcsim::start(&["-vm", "1", "-tls", "-ca", ca.to_str().unwrap()]);
    let with_ca = |args: &[&str]| {
        let mut cmd = pdk(d);
        cmd.env("SSL_CERT_FILE", &ca).env_remove("SSL_CERT_DIR");
        cmd.args(args).output().unwrap()
    };
    ok(d, &["accounts", "remove", "demo"]);
    ok(d, &["accounts", "add", "vsphere", "vc", "--endpoint", &sim.endpoint, "--username", "admin", "--secret-env", SECRET_VAR]);
    let out = with_ca(&["sync", "--account", "vc"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 VMs"));
    // Nothing to pin: the system vouches for it.
    let out = with_ca(&["accounts", "edit", "vc", "--trust-presented", "--yes"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("already trusts"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(pinned_thumbprint(d), None);

    // Without the CA in the trust store, the same host is refused.
    let mut cmd = pdk(d);
    cmd.env("SSL_CERT_FILE", "/nonexistent/no-roots.pem").env_remove("SSL_CERT_DIR");
    let out = cmd.args(["sync", "--account", "vc"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not trusted"), "{}", String::from_utf8_lossy(&out.stderr));
}
