//! `pdk report` and `pdk history --export csv` as a user runs them: the
//! CSV is read back with a CSV reader (an account name with a comma and
//! quotes must come back whole), and the JSON carries the numbers.

use serde_json::Value;
use std::path::Path;

fn pdk(dir: &Path, args: &[&str]) -> String {
    powerdeck_testkit::pdk::succeed(powerdeck_testkit::pdk!(dir), args)
}

const ACCOUNT: &str = "lab, \"east\"";

fn lab(dir: &Path) -> String {
    pdk(dir, &["accounts", "remove", "demo"]);
    pdk(
        dir,
        &[
            "accounts",
            "add",
            "sim",
            ACCOUNT,
            "--size",
            "6",
            "--latency-ms",
            "1",
            "--stop-delay-ms",
            "100",
            "--drift-per-hour",
            "0",
            "--stubborn-rate",
            "0",
            "--no-feed",
        ],
    );
    pdk(dir, &["sync"]);
    let vms: Value = serde_json::from_str(&pdk(dir, &["vms", "list", "--json"])).unwrap();
    let name = vms.as_array().unwrap().iter().find(|v| v["state"] == "running").expect("a running VM")["name"].as_str().unwrap().to_string();
    pdk(dir, &["vm", "stop", &name, "--yes"]);
    pdk(dir, &["sync"]);
    name
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect()
}

#[test]
fn the_audit_trail_exports_as_csv_that_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let stopped = lab(dir.path());
    let text = pdk(dir.path(), &["history", "--export", "csv"]);
    assert!(text.starts_with("time,vm,account,from,to,raw_state,source,operation,initiator,batch\n"), "{text}");
    let rows = csv_rows(&text);
    assert!(rows.len() >= 7, "six VMs first seen, then the stop: {rows:?}");
    assert!(rows.iter().all(|r| r[2] == ACCOUNT), "the account's name comes back whole: {rows:?}");
    assert_eq!(rows.iter().filter(|r| r[8] == "first seen").count(), 6);
    let stop = rows.iter().find(|r| r[1] == stopped && r[4] == "stopped").expect("the verified stop");
    assert_eq!((stop[6].as_str(), stop[8].as_str()), ("operation", "cli"), "asked from pdk: {stop:?}");
    assert!(!stop[7].is_empty(), "with its operation id");
    // A range that ends before today holds nothing.
    let none = pdk(dir.path(), &["history", "--export", "csv", "--from", "2020-01-01", "--to", "2020-01-31", "--zone", "UTC"]);
    assert_eq!(csv_rows(&none).len(), 0);
}

#[test]
fn the_hours_report_counts_the_stop_and_prices_it_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let stopped = lab(dir.path());
    let report: Value = serde_json::from_str(&pdk(dir.path(), &["report", "hours", "--json", "--rate", &format!("{ACCOUNT}=2.5")])).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let row = rows.iter().find(|r| r["name"] == format!("{ACCOUNT}/{stopped}")).unwrap();
    let h = &row["hours"];
    assert!(h["stopped"].as_i64().unwrap() > 0 && h["saved"] == h["stopped"], "{row}");
    assert!(row["cost"].as_f64().is_some(), "priced: {row}");
    // This month so far: the time before the account was added is unknown, not guessed.
    assert!(report["total"]["hours"]["unknown"].as_i64().unwrap() > 0);
    let csv = pdk(dir.path(), &["report", "hours", "--csv", "--by", "account"]);
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 2, "the account and the total: {csv}");
    assert_eq!((rows[0][0].as_str(), rows[0][2].as_str(), rows[0][12].as_str()), (ACCOUNT, "6", ""), "no price, no cost: {csv}");

    let err = powerdeck_testkit::pdk!(dir.path()).args(["report", "hours", "--month", "2026-13"]).output().unwrap();
    assert!(String::from_utf8_lossy(&err.stderr).contains("expected YYYY-MM"));
    let err = powerdeck_testkit::pdk!(dir.path()).args(["report", "hours", "--rate", "cheap"]).output().unwrap();
    assert!(String::from_utf8_lossy(&err.stderr).contains("price per billable hour"));
    let err = powerdeck_testkit::pdk!(dir.path()).args(["report", "hours", "--by", "week"]).output().unwrap();
    assert!(!err.status.success() && String::from_utf8_lossy(&err.stderr).contains("possible values: vm, account, group, tag, month"));

    // By month: this month so far is one row, named as the zone's calendar says.
    let month: Value =
        serde_json::from_str(&pdk(dir.path(), &["report", "hours", "--json", "--by", "month", "--zone", "UTC", "--rate", "size:t3.micro=1"])).unwrap();
    let this_month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!(month["zone"], "UTC");
    let rows = month["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{month}");
    assert_eq!((rows[0]["name"].as_str(), rows[0]["vms"].as_u64()), (Some(this_month.as_str()), Some(6)));
    assert_eq!(rows[0]["hours"], month["total"]["hours"]);
    assert!(rows[0]["cost"].is_null(), "the demo fleet has no sizes, so a price per size prices nothing: {month}");
}
