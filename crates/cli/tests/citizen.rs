//! What a packaged command line is expected to offer: a version that names
//! the build, completions for each shell, a man page; none of them touches
//! a data directory.

use std::path::Path;

fn pdk_in(dir: &Path, args: &[&str]) -> String {
    let out = powerdeck_testkit::pdk!(dir).args(args).output().expect("pdk runs");
    assert!(out.status.success(), "pdk {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn version_names_the_release_and_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = pdk_in(dir.path(), &["--version"]);
    let want = format!("pdk {} (", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(&want) && out.trim_end().ends_with(')'), "{out}");
    let commit = out.trim_end().trim_start_matches(&want).trim_end_matches(')');
    assert!(!commit.is_empty(), "{out}");
}

#[test]
fn completions_and_the_man_page_cover_every_command_and_need_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-created");
    for (shell, marker) in [("bash", "_pdk()"), ("zsh", "#compdef pdk"), ("fish", "complete -c pdk")] {
        let out = pdk_in(&data, &["completions", shell]);
        assert!(out.contains(marker), "{shell}: {}", &out[..out.len().min(200)]);
        for sub in ["schedules", "runbook", "accounts", "deallocate"] {
            assert!(out.contains(sub), "{shell} completes {sub}");
        }
    }
    let man = pdk_in(&data, &["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH pdk"), "{}", &man[..man.len().min(200)]);
    assert!(man.contains("schedules") && man.contains("daemon"), "the man page lists the commands");
    assert!(!data.exists(), "describing pdk created no data directory");
    let unknown = powerdeck_testkit::pdk!(&data).args(["completions", "tcsh"]).output().unwrap();
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("possible values"));
}

/// The field names `--json` prints, pinned: scripts read them, so a rename
/// is a breaking change (README.md, "`--json` output", lists the same).
const VM_FIELDS: &[&str] = &[
    "account",
    "account_id",
    "facts",
    "id",
    "last_seen_at",
    "last_state_change_at",
    "location",
    "name",
    "provider_id",
    "raw_state",
    "stale",
    "state",
    "tools",
    "watched",
];
const ACCOUNT_FIELDS: &[&str] = &["config", "created_at", "id", "is_demo", "kind", "last_contact_at", "name", "secret"];
const OPERATION_FIELDS: &[&str] = &[
    "account",
    "allow_force",
    "batch_id",
    "cancel_requested",
    "deadline_at",
    "error",
    "failure",
    "finished_at",
    "force_requested",
    "forced_at",
    "graceful_timeout_ms",
    "id",
    "initiator",
    "job_id",
    "kind",
    "new_state",
    "phase",
    "previous_state",
    "requested_at",
    "shutdown_method",
    "submitted_at",
    "timeout_ms",
    "vm_id",
    "vm_name",
    "wait_for_tools",
];
const HISTORY_FIELDS: &[&str] = &["at", "from_state", "id", "operation_id", "raw_state", "source", "to_state", "vm_id"];
const HOURS_FIELDS: &[&str] = &["by", "from", "rows", "to", "total", "unreadable", "until", "zone"];
const HOURS_ROW_FIELDS: &[&str] = &["account", "cost", "hours", "name", "saved_cost", "vms"];

fn json_in(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = pdk_in(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("pdk {args:?} printed something that is not JSON on stdout ({e}): {out}"))
}

fn assert_fields(what: &str, value: &serde_json::Value, want: &[&str]) {
    let mut got: Vec<&str> = value.as_object().unwrap_or_else(|| panic!("{what}: not an object: {value}")).keys().map(String::as_str).collect();
    got.sort_unstable();
    assert_eq!(got, want, "{what}: the --json field names changed (update README.md's list if this is meant)");
}

#[test]
fn json_field_names_are_pinned_and_stdout_holds_only_json() {
    let dir = tempfile::tempdir().unwrap();
    let vms = json_in(dir.path(), &["vms", "list", "--json"]);
    assert_fields("vms list", &vms[0], VM_FIELDS);
    assert_fields("accounts list", &json_in(dir.path(), &["accounts", "list", "--json"])[0], ACCOUNT_FIELDS);
    let running = vms.as_array().unwrap().iter().find(|v| v["state"] == "running").expect("the demo fleet has a running VM");
    let name = running["name"].as_str().unwrap();
    // Progress goes to stderr: stdout parses as JSON whether or not it waits.
    assert_fields("vm stop", &json_in(dir.path(), &["vm", "stop", name, "--yes", "--no-wait", "--json"])[0], OPERATION_FIELDS);
    assert_fields("ops", &json_in(dir.path(), &["ops", "--json"])[0], OPERATION_FIELDS);
    assert_fields("history", &json_in(dir.path(), &["history", name, "--json"])[0], HISTORY_FIELDS);
    let hours = json_in(dir.path(), &["report", "hours", "--json"]);
    assert_fields("report hours", &hours, HOURS_FIELDS);
    assert_fields("report hours: a row", &hours["rows"][0], HOURS_ROW_FIELDS);
    assert_fields("report hours: the total", &hours["total"], HOURS_ROW_FIELDS);
}
