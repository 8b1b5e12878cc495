//! `pdk` against moto's EC2 server, the way an admin would set it up: the
//! secret comes from an environment variable, never the command line.

use powerdeck_testkit::moto;
use serde_json::Value;
use std::path::Path;

const SECRET_VAR: &str = "PDK_TEST_AWS_SECRET";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";

fn ok(dir: &Path, args: &[&str]) -> String {
    let mut cmd = powerdeck_testkit::pdk!(dir);
    cmd.env(SECRET_VAR, SECRET);
    powerdeck_testkit::pdk::succeed(cmd, args)
}

#[test]
fn an_ec2_account_is_added_listed_and_driven_from_the_cli() {
    let moto = moto::Moto::start();
    let ids = moto.seed("eu-west-1", 3, 0);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["accounts", "remove", "demo"]);
    let added =
        ok(d, &["accounts", "add", "ec2", "aws", "--region", "eu-west-1", "--endpoint", &moto.url, "--access-key-id", "AKIDCLI", "--secret-env", SECRET_VAR]);
    assert!(added.contains("secret in environment variable PDK_TEST_AWS_SECRET"), "{added}");
    assert!(ok(d, &["accounts", "test", "aws"]).contains("connected"));

    let vms: Value = serde_json::from_str(&ok(d, &["vms", "list", "--json"])).unwrap();
    let vms = vms.as_array().unwrap();
    assert_eq!(vms.len(), 3);
    assert!(vms.iter().all(|v| v["state"] == "running" && v["location"].as_str().unwrap().starts_with("eu-west-1")));

    // The bare instance id is enough to name the VM.
    let out = ok(d, &["vm", "stop", &ids[1], "--yes", "--json"]);
    let ops: Value = serde_json::from_str(&out).unwrap();
    let op = &ops[0];
    assert_eq!((op["phase"].as_str(), op["new_state"].as_str()), (Some("succeeded"), Some("stopped")), "{op}");
    let witness = moto.tool("describe", &["--region", "eu-west-1"]);
    let stopped: Vec<&str> = witness.as_array().unwrap().iter().filter(|v| v["state"] == "stopped").map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(stopped, vec![format!("eu-west-1:{}", ids[1])]);

    // Nothing secret lands in the data directory.
    for entry in std::fs::read_dir(d).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
    }
}
