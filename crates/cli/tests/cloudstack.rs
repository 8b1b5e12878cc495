//! `pdk` against the CloudStack fake, the way an admin sets it up: the
//! management server's address, the API key, the secret key in an
//! environment variable; its test CA installed as a system root
//! (`SSL_CERT_FILE`); `cs` as the witness of what happened.

use powerdeck_testkit::fake::Fake;
use serde_json::Value;
use std::path::Path;

const SECRET_VAR: &str = "PDK_TEST_CS_SECRET";
const WRONG_VAR: &str = "PDK_TEST_CS_WRONG_SECRET";
const WRONG: &str = "not-the-secret-key-but-long-enough-to-notice";

struct Cloud {
    fake: Fake,
    key: String,
    secret: String,
}

fn pdk(dir: &Path, cloud: &Cloud) -> std::process::Command {
    let mut cmd = powerdeck_testkit::pdk!(dir);
    cmd.env(SECRET_VAR, &cloud.secret).env(WRONG_VAR, WRONG).env("SSL_CERT_FILE", cloud.fake.ca.as_ref().unwrap()).env_remove("SSL_CERT_DIR");
    cmd
}

fn ok(dir: &Path, cloud: &Cloud, args: &[&str]) -> String {
    powerdeck_testkit::pdk::succeed(pdk(dir, cloud), args)
}

#[test]
fn a_cloudstack_account_is_added_listed_and_driven_from_the_cli() {
    let fake = Fake::start("cloudstack", &["--tls", "--vms", "6", "--projects", "1", "--stubborn-vms", "0", "--transition-ms", "200"]);
    let info = tokio::runtime::Runtime::new().unwrap().block_on(fake.control("info", None));
    let cloud = Cloud { key: info["api_key"].as_str().unwrap().into(), secret: info["secret_key"].as_str().unwrap().into(), fake };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &cloud, &["accounts", "remove", "demo"]);
    // The bare server address: the API path is filled in.
    let added = ok(d, &cloud, &["accounts", "add", "cloudstack", "cs", "--endpoint", &cloud.fake.url, "--api-key", &cloud.key, "--secret-env", SECRET_VAR]);
    assert!(added.contains("secret in environment variable PDK_TEST_CS_SECRET"), "{added}");
    let accounts: Value = serde_json::from_str(&ok(d, &cloud, &["accounts", "list", "--json"])).unwrap();
    let cs = accounts.as_array().unwrap().iter().find(|a| a["name"] == "cs").unwrap();
    assert_eq!(cs["config"]["endpoint"], format!("{}/client/api", cloud.fake.url));
    let tested = ok(d, &cloud, &["accounts", "test", "cs"]);
    assert!(tested.contains("connected to CloudStack 4.20.1.0; 6 VMs visible"), "{tested}");

    // The inventory is what cs lists.
    let vms: Value = serde_json::from_str(&ok(d, &cloud, &["vms", "list", "--json"])).unwrap();
    let vms = vms.as_array().unwrap();
    let witness = cloud.fake.witness("cloudstack", &["list"]);
    let mut listed: Vec<(String, String)> = vms.iter().map(|v| (v["provider_id"].as_str().unwrap().into(), v["raw_state"].as_str().unwrap().into())).collect();
    let mut seen: Vec<(String, String)> =
        witness.as_array().unwrap().iter().map(|v| (v["id"].as_str().unwrap().into(), v["state"].as_str().unwrap().into())).collect();
    listed.sort();
    seen.sort();
    assert_eq!(listed, seen);

    // A graceful stop, followed through its job and verified.
    let running = vms.iter().find(|v| v["state"] == "running").unwrap();
    let name = running["name"].as_str().unwrap();
    let out: Value = serde_json::from_str(&ok(d, &cloud, &["vm", "stop", name, "--yes", "--json"])).unwrap();
    let op = &out[0];
    assert_eq!(
        (op["phase"].as_str(), op["new_state"].as_str(), op["shutdown_method"].as_str()),
        (Some("succeeded"), Some("stopped"), Some("graceful")),
        "{op}"
    );
    assert!(op["job_id"].as_str().is_some_and(|j| j.len() == 36), "{op}");
    let witness = cloud.fake.witness("cloudstack", &["list"]);
    let now = witness.as_array().unwrap().iter().find(|v| v["id"] == running["provider_id"]).unwrap();
    assert_eq!(now["state"], "Stopped");

    // A wrong secret key: one clear sentence, and the key is not in it.
    ok(d, &cloud, &["accounts", "add", "cloudstack", "cs-wrong", "--endpoint", &cloud.fake.url, "--api-key", &cloud.key, "--secret-env", WRONG_VAR]);
    let out = pdk(d, &cloud).args(["accounts", "test", "cs-wrong"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused the API key or the request's signature"), "{err}");
    assert!(!err.contains(WRONG) && !err.contains(&cloud.secret), "{err}");

    // Nothing secret lands in the data directory.
    for entry in std::fs::read_dir(d).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&cloud.secret) && !text.contains(WRONG));
    }
}
