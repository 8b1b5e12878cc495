//! The CloudStack provider against the management-server fake
//! (`tests/fakes/cloudstack/`, HTTPS with its own CA, the certificate
//! pinned), with `cs` (an independent client) as the witness.

#[path = "cloudstack/support.rs"]
mod support;

use powerdeck_core::model::{OpKind, OpPhase, Operation, PowerState, ShutdownMethod, Source, Vm};
use powerdeck_core::provider::calls::{Call, Calls};
use powerdeck_core::provider::cloudstack::JobPolling;
use powerdeck_core::provider::{JobStatus, PowerAction, Provider, ProviderError};
use powerdeck_core::{OpOptions, Workers};
use powerdeck_testkit::failed_sync::{assert_stale_and_failing, states};
use powerdeck_testkit::fast::fast_engine_config;
use powerdeck_testkit::lost::{answer_lost, assert_unconfirmed, Lost};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};
use support::{CsFake, Lab};

const PATIENCE: Duration = Duration::from_secs(60);
const UNKNOWN_VM: &str = "0f0e0d0c-0b0a-4909-8807-060504030201";

async fn run(lab: &Lab, vm: &Vm, kind: OpKind, opts: OpOptions) -> Operation {
    let op = lab.engine.request(vm.id, kind, opts).await.unwrap_or_else(|e| panic!("{kind} of {}: {e}", vm.name));
    tokio::time::timeout(PATIENCE, lab.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap()
}

/// A stored VM in `state` that is not in `used`.
fn pick(lab: &Lab, state: PowerState, used: &mut HashSet<i64>) -> Vm {
    let vm = lab.vms().into_iter().find(|v| v.state == state && !used.contains(&v.id)).unwrap_or_else(|| panic!("no {state} VM left"));
    used.insert(vm.id);
    vm
}

fn force() -> OpOptions {
    OpOptions { allow_force: true, ..OpOptions::default() }
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(started.elapsed() < PATIENCE, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_pages_in_ceil_n_over_500_calls_with_project_vms_and_matches_what_cs_sees() {
    let cs = CsFake::start(&["--vms", "1100", "--projects", "3"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    cs.reset_calls().await;
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((sync.vms, sync.list_calls), (1100, 3), "{sync:?}");
    assert_eq!(cs.calls().await["listVirtualMachines"], 3);

    // The witness lists the same VMs, names and raw states.
    let stored: BTreeMap<String, (String, String)> = lab.vms().into_iter().map(|v| (v.provider_id, (v.name, v.raw_state))).collect();
    let seen_by_cs: BTreeMap<String, (String, String)> = cs
        .witness_list()
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), (v["name"].as_str().unwrap().to_string(), v["state"].as_str().unwrap().to_string())))
        .collect();
    assert_eq!(stored, seen_by_cs);

    // Projects, owners and the states that are not simply on or off.
    let truth = cs.truth().await;
    let projects = truth.iter().filter(|t| t["project"].is_string()).count();
    assert!(projects > 100, "every fifth VM is in a project: {projects}");
    for t in &truth {
        let vm = lab.vm(t["id"].as_str().unwrap());
        let raw = t["state"].as_str().unwrap();
        assert_eq!(vm.raw_state, raw);
        match raw {
            "Destroyed" | "Expunging" => assert_eq!(vm.state, PowerState::Terminated, "{vm:?}"),
            "Shutdown" | "Stopped" => assert_eq!(vm.state, PowerState::Stopped),
            "Running" => assert_eq!(vm.state, PowerState::Running),
            _ => assert_eq!(vm.state, PowerState::Unknown, "{vm:?}"),
        }
        assert_eq!(vm.facts.get("project").map(String::as_str), t["project"].as_str(), "{vm:?}");
        assert_eq!(vm.facts.get("account").map(String::as_str), t["account"].as_str(), "{vm:?}");
        assert_eq!(vm.location.as_deref(), t["zone"].as_str());
        assert_eq!(vm.facts.get("host").map(String::as_str), t["host"].as_str(), "running VMs show their host: {vm:?}");
        for fact in ["service_offering", "template", "ip_addresses"] {
            assert!(vm.facts.contains_key(fact), "{fact} of {vm:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_cloud_is_an_empty_inventory_and_a_smaller_page_maximum_is_learned() {
    let cs = CsFake::start(&["--vms", "0"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((sync.vms, sync.list_calls), (0, 1));

    // default.page.size lowered to 200 by the cloud's admin: asking for 500
    // is refused once (431), then pages of 200 follow.
    let cs = CsFake::start(&["--vms", "450", "--page-size", "200"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((sync.vms, sync.list_calls), (450, 4), "{sync:?}");
    let again = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(again.list_calls, 3, "the maximum is remembered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_stop_reboot_and_force_stop_follow_their_jobs_to_a_verified_end() {
    let cs = CsFake::start(&["--vms", "16", "--stubborn-vms", "0", "--transition-ms", "300"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let mut used = HashSet::new();
    let cases = [
        (OpKind::Stop, PowerState::Running, "Stopped", Some(ShutdownMethod::Graceful), "StopVMCmdByAdmin"),
        (OpKind::Start, PowerState::Stopped, "Running", None, "StartVMCmdByAdmin"),
        (OpKind::Reboot, PowerState::Running, "Running", Some(ShutdownMethod::Graceful), "RebootVMCmdByAdmin"),
        (OpKind::ForceStop, PowerState::Running, "Stopped", Some(ShutdownMethod::Forced), "StopVMCmdByAdmin"),
    ];
    for (kind, from, raw_after, method, cmd) in cases {
        let vm = pick(&lab, from, &mut used);
        let op = run(&lab, &vm, kind, OpOptions::default()).await;
        assert_eq!((op.phase, op.new_state, op.shutdown_method), (OpPhase::Succeeded, Some(kind.target()), method), "{kind}: {op:?}");
        let job = op.job_id.clone().expect("the job id is the operation's handle");
        let jobs = cs.fake.control("jobs", None).await;
        let row = jobs.as_array().unwrap().iter().find(|j| j["jobid"] == job.as_str()).unwrap_or_else(|| panic!("job {job} unknown to the server"));
        assert_eq!((row["jobstatus"].as_i64(), row["jobinstanceid"].as_str()), (Some(1), Some(vm.provider_id.as_str())), "{row}");
        assert!(row["cmd"].as_str().unwrap().ends_with(cmd), "{row}");
        assert_eq!(cs.fake.control(&format!("vms/{}", vm.provider_id), None).await["state"], raw_after);
        assert_eq!(lab.vm(&vm.provider_id).raw_state, raw_after);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_ends_the_operation_with_cloudstacks_own_message() {
    let cs = CsFake::start(&["--vms", "16", "--stubborn-vms", "0", "--transition-ms", "200"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let mut used = HashSet::new();
    let cases = [
        ("start", OpKind::Start, PowerState::Stopped, 533, "Unable to create a deployment for VM[User|i-2-77-VM]"),
        ("stop", OpKind::Stop, PowerState::Running, 530, "Unable to stop VM[User|i-2-78-VM]: the agent lost the host"),
        ("reboot", OpKind::Reboot, PowerState::Running, 534, "Unable to reboot due to resource unavailable: host kvm-a01 is not Up"),
    ];
    for (action, kind, from, code, message) in cases {
        cs.fake.control("fail", Some(json!({"action": action, "count": 1, "code": code, "message": message}))).await;
        let vm = pick(&lab, from, &mut used);
        let op = run(&lab, &vm, kind, OpOptions::default()).await;
        assert_eq!(op.phase, OpPhase::Failed, "{op:?}");
        let error = op.error.unwrap_or_default();
        assert!(error.contains(message) && error.contains(&code.to_string()) && error.contains(op.job_id.as_deref().unwrap()), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_ignores_a_graceful_stop_is_forced_only_when_allowed() {
    let cs = CsFake::start(&["--vms", "16", "--stubborn-vms", "0", "--transition-ms", "200", "--stubborn-timeout-ms", "800"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let mut used = HashSet::new();
    let fake = &cs.fake;
    let stubborn = |vm: &Vm| {
        let path = format!("vms/{}/stubborn", vm.provider_id);
        async move { fake.control(&path, Some(json!({"on": true, "outcome": "fail"}))).await }
    };

    // Not allowed to force: CloudStack's failed job is the answer.
    let vm = pick(&lab, PowerState::Running, &mut used);
    stubborn(&vm).await;
    let op = run(&lab, &vm, OpKind::Stop, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::Failed, "{op:?}");
    assert!(op.error.as_deref().unwrap_or_default().contains("Unable to stop VM[User|"), "{op:?}");

    // Allowed: the failed graceful job leads to stopVirtualMachine forced=true.
    let vm = pick(&lab, PowerState::Running, &mut used);
    stubborn(&vm).await;
    let op = run(&lab, &vm, OpKind::Stop, force()).await;
    assert_eq!((op.phase, op.shutdown_method, op.new_state), (OpPhase::Succeeded, Some(ShutdownMethod::Forced), Some(PowerState::Stopped)), "{op:?}");

    // A graceful window shorter than the guest's refusal: the forced stop is
    // sent while the graceful job runs; CloudStack queues it behind that job.
    cs.fake.control("timing", Some(json!({"stubborn_timeout_ms": 2500}))).await;
    let vm = pick(&lab, PowerState::Running, &mut used);
    stubborn(&vm).await;
    let started = Instant::now();
    let op = run(&lab, &vm, OpKind::Stop, OpOptions { allow_force: true, graceful_timeout: Some(Duration::from_millis(300)), ..Default::default() }).await;
    assert_eq!((op.phase, op.shutdown_method), (OpPhase::Succeeded, Some(ShutdownMethod::Forced)), "{op:?}");
    assert!(started.elapsed() >= Duration::from_millis(2500), "the forced stop waited for the graceful job: {:?}", started.elapsed());
    let jobs = cs.fake.control("jobs", None).await;
    let on_vm: Vec<i64> =
        jobs.as_array().unwrap().iter().filter(|j| j["jobinstanceid"] == vm.provider_id.as_str()).map(|j| j["jobstatus"].as_i64().unwrap()).collect();
    assert_eq!(on_vm, vec![2, 1], "the graceful job failed, the queued forced one succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_ends_times_out_with_what_cloudstack_reports() {
    let cs = CsFake::start(&["--vms", "12", "--stubborn-vms", "0"]).await;
    let mut cfg = fast_engine_config();
    cfg.timeouts.start_s = 3;
    let lab = Lab::new(&cs, cfg);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    // A start that hangs in Starting (cloudstack#3104: VMs stuck in Starting).
    cs.fake.control("timing", Some(json!({"transition_ms": 120_000}))).await;
    let vm = pick(&lab, PowerState::Stopped, &mut HashSet::new());
    let started = Instant::now();
    let op = run(&lab, &vm, OpKind::Start, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::TimedOut, "{op:?}");
    let error = op.error.unwrap_or_default();
    assert!(error.contains("within 3s") && error.contains("(Starting)"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// The connection breaks after CloudStack took a power command and before
/// its answer (the job id) came back, or a gateway answers 502 or 504 in
/// its place: there is no job to follow, the command is never sent again,
/// and the VM's state decides. A plain reboot leaves the VM Running
/// throughout (no sign); a stop shows as Stopping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_command_whose_answer_is_lost_is_never_sent_twice() {
    let cs = CsFake::start(&["--vms", "24", "--stubborn-vms", "0", "--transition-ms", "300"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let mut used = HashSet::new();

    for how in [Lost::Connection, Lost::Gateway(502), Lost::Gateway(504)] {
        let vm = pick(&lab, PowerState::Running, &mut used);
        let reboot = answer_lost(&cs.fake, "rebootVirtualMachine", how, run(&lab, &vm, OpKind::Reboot, OpOptions::default())).await;
        assert_unconfirmed(&reboot);
        let vm = pick(&lab, PowerState::Running, &mut used);
        let stop = answer_lost(&cs.fake, "stopVirtualMachine", how, run(&lab, &vm, OpKind::Stop, OpOptions::default())).await;
        assert_eq!((stop.phase, stop.new_state, stop.job_id.as_deref()), (OpPhase::Succeeded, Some(PowerState::Stopped), None), "{how:?}: {stop:?}");
        assert_eq!(cs.fake.control(&format!("vms/{}", vm.provider_id), None).await["state"], "Stopped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_waits_exactly_the_time_in_cloudstacks_text() {
    let cs = CsFake::start(&["--vms", "12"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    cs.fake.control("throttle", Some(json!({"count": 2, "retry_after_ms": 700}))).await;
    let started = Instant::now();
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    let took = started.elapsed();
    assert_eq!(sync.vms, 12);
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(4000), "two waits of 700 ms: {took:?}");
    assert_eq!(cs.calls().await["throttled"], 2);
    let stats = lab.engine.runtime(lab.account.id).unwrap().stats().snapshot();
    assert_eq!((stats.throttled, stats.retries), (2, 2));

    // A wait longer than the engine waits inline goes back as the error, at once.
    let provider = cs.provider(Calls::new(fast_engine_config().retry, &Default::default()));
    cs.fake.control("throttle", Some(json!({"count": 1, "retry_after_ms": 60_000}))).await;
    let started = Instant::now();
    let err = provider.list_page(None).await.unwrap_err();
    assert_eq!(err, ProviderError::Throttled { retry_after: Some(Duration::from_secs(60)) });
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The management server failing reads with 530 INTERNAL_ERROR (its 5xx):
/// a few are retried with backoff and the sync ends well; when they last,
/// the sync fails in CloudStack's words naming the account, and no VM's
/// state changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_for_a_while_is_retried_and_one_that_lasts_fails_naming_the_account_and_its_vms_go_stale() {
    let cs = CsFake::start(&["--vms", "12"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let known = states(lab.vms());
    let message = "Caught: SELECT vm_instance.id FROM vm_instance: Communications link failure";
    let lists = async || cs.fake.count("listVirtualMachines").await;

    cs.fake.control("fail", Some(json!({"action": "list", "count": 2, "code": 530, "message": message}))).await;
    let before = lists().await;
    assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().vms, 12);
    assert_eq!(lists().await - before, 3, "two 530s, each tried again after a pause, then the page");
    assert_eq!(lab.engine.runtime(lab.account.id).unwrap().stats().snapshot().retries, 2);

    // Lasting: every attempt the retry policy allows (three here), then the error.
    cs.fake.control("fail", Some(json!({"action": "list", "count": 100, "code": 530, "message": message}))).await;
    let before = lists().await;
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert_eq!(lists().await - before, 3, "{err}");
    assert!(err.starts_with("account 'cloud':") && err.contains("530 INTERNAL_ERROR") && err.contains(message), "{err}");
    assert!(!err.contains(&cs.secret), "{err}");
    assert_eq!(states(lab.vms()), known, "nothing stored from the failed sync");
    assert_stale_and_failing(&lab.engine, lab.account.id, &lab.vms());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_an_auth_error_that_never_shows_the_secret() {
    let cs = CsFake::start(&["--vms", "4"]).await;
    let wrong = "wrong-secret-key-that-must-never-be-shown";
    let lab = Lab::with(&cs, fast_engine_config(), |cs, calls| cs.provider_with(&cs.config(), wrong, calls));
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "auth", "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("signature") && !text.contains(wrong) && !text.contains(&cs.secret), "{text}");
    assert!(lab.vms().is_empty());
    assert_eq!(cs.calls().await["unauthorized"], 1, "an auth error is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_stop_arrives_through_list_events_and_only_that_vm_is_read() {
    let cs = CsFake::start(&["--vms", "40", "--stubborn-vms", "0"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers { driver: false, tiers: false, feed: true, ..Workers::NONE }, Some(&[lab.account.id])).unwrap();
    // The feed has its starting point and has polled once since.
    until("the feed polls", async || (cs.calls().await["listEvents"].as_u64().unwrap_or(0) >= 2).then_some(())).await;
    cs.reset_calls().await;

    let mut latencies = Vec::new();
    for vm in lab.vms().into_iter().filter(|v| v.state == PowerState::Running && v.facts.contains_key("project")).take(3) {
        let changed = Instant::now();
        // An admin powers it off on the host: a `system` VM.STOP event.
        cs.set_state(&vm.provider_id, "Stopped").await;
        let seen = until("the stop reaches the store", async || {
            let now = lab.engine.store().vm(vm.id).unwrap().unwrap();
            (now.state == PowerState::Stopped).then_some(now)
        })
        .await;
        latencies.push(changed.elapsed());
        let last = lab.engine.store().history(seen.id, 1).unwrap().remove(0);
        assert_eq!((last.source, last.to_state), (Source::Feed, PowerState::Stopped), "{last:?}");
    }
    assert_eq!(latencies.len(), 3, "three project VMs were running");
    let calls = cs.calls().await;
    assert_eq!(calls["listVirtualMachines"], 3, "one read of the one VM named, per change: {calls}");
    println!("out-of-band stop → stored through listEvents (1 s poll): {latencies:?}");
    assert!(latencies.iter().all(|l| *l < Duration::from_secs(4)), "{latencies:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_event_window_asks_for_a_full_sync() {
    let cs = CsFake::start(&["--vms", "12", "--stubborn-vms", "0"]).await;
    let provider = cs.provider(Calls::direct());
    let start = provider.watch(None, Duration::ZERO).await.unwrap();
    assert!(!start.resync_needed && start.changes.is_empty());
    let vm = cs.truth().await.into_iter().find(|v| v["state"] == "Running").unwrap();
    let id = vm["id"].as_str().unwrap();
    cs.set_state(id, "Stopped").await;
    let news = provider.watch(Some(&start.cursor), Duration::from_secs(5)).await.unwrap();
    assert_eq!(news.changes.iter().map(|o| (o.provider_id.as_str(), o.state)).collect::<Vec<_>>(), vec![(id, PowerState::Stopped)]);
    let quiet = provider.watch(Some(&news.cursor), Duration::ZERO).await.unwrap();
    assert!(quiet.changes.is_empty() && !quiet.resync_needed && quiet.cursor == news.cursor, "{quiet:?}");

    // A VM deleted in the console: named by VM.EXPUNGE, no longer listed.
    let gone = cs.truth().await.into_iter().find(|v| v["state"] == "Stopped" && v["id"] != id).unwrap();
    cs.fake.control_delete(&format!("vms/{}", gone["id"].as_str().unwrap())).await;
    let removed = provider.watch(Some(&quiet.cursor), Duration::from_secs(5)).await.unwrap();
    assert_eq!(removed.removed, vec![gone["id"].as_str().unwrap().to_string()], "{removed:?}");

    // The events behind the cursor are purged: the window is lost.
    cs.fake.control("events/purge", Some(json!({}))).await;
    let lost = provider.watch(Some(&removed.cursor), Duration::ZERO).await.unwrap();
    assert!(lost.resync_needed, "{lost:?}");
    // From the new starting point the feed goes on.
    cs.set_state(id, "Running").await;
    let after = provider.watch(Some(&lost.cursor), Duration::from_secs(5)).await.unwrap();
    assert!(!after.resync_needed && after.changes.iter().any(|o| o.provider_id == id && o.state == PowerState::Running), "{after:?}");
    assert!(provider.watch(Some("not-a-cursor"), Duration::ZERO).await.unwrap().resync_needed);
}

/// `cs` against the fake: its exit code and JSON answer.
fn cs_witness(cs: &CsFake, args: &[&str]) -> (bool, Value) {
    let out = std::process::Command::new(powerdeck_testkit::venv().join("bin/python"))
        .arg(powerdeck_testkit::repo_root().join("tests/fakes/cloudstack/witness.py"))
        .args(["--url", &cs.fake.url, "--ca", cs.fake.ca.as_ref().unwrap().to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_made_with_cs_become_facts_and_rows_of_the_report_by_tag() {
    use powerdeck_core::engine::report::{Rates, ReportBy};
    let cs = CsFake::start(&["--vms", "6", "--projects", "0"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    let truth = cs.truth().await;
    let id = |i: usize| truth[i]["id"].as_str().unwrap().to_string();
    for (vm, tags) in [(id(0), vec!["env=prod", "team=alpha"]), (id(1), vec!["env=test"])] {
        let (ok, answer) = cs_witness(&cs, &[&["tag", vm.as_str()][..], &tags].concat());
        assert!(ok, "cs createTags: {answer}");
    }
    lab.engine.full_sync(lab.account.id).await.unwrap();

    // Powerdeck's facts are the tags cs reads back, VM by VM.
    for row in cs.witness_list() {
        let vm = lab.vm(row["id"].as_str().unwrap());
        let facts: BTreeMap<String, String> = vm.facts.iter().filter_map(|(k, v)| Some((k.strip_prefix("tag:")?.to_string(), v.clone()))).collect();
        let tags: BTreeMap<String, String> = serde_json::from_value(row["tags"].clone()).unwrap();
        assert_eq!(facts, tags, "{}", vm.name);
    }
    let now = powerdeck_core::model::now_ms();
    let report = lab.engine.hours_report(now - 60_000, now, ReportBy::Tag, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    let rows: Vec<(&str, usize)> = report.rows.iter().map(|r| (r.name.as_str(), r.vms)).collect();
    assert_eq!(rows, [("(no tag)", 4), ("env=prod", 1), ("env=test", 1), ("team=alpha", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tilde_is_signed_the_way_the_server_checks_where_cs_is_refused() {
    // A value with '~' in a request: cs (Python's quote keeps '~') is refused,
    // Powerdeck (URLEncoder's %7E) is accepted, for the same request.
    let cs = CsFake::start(&["--vms", "12"]).await;
    let (ok, answer) = cs_witness(&cs, &["list", "--name", "web~001"]);
    assert!(!ok && answer["status"] == 401, "cs signs '~' unlike the server: {answer}");
    let provider = cs.provider(Calls::direct());
    let params = [("listall", "true".to_string()), ("projectid", "-1".to_string()), ("name", "web~001".to_string())];
    let answer = provider.api().call(Call::list(), "listVirtualMachines", &params).await.expect("Powerdeck's signature is accepted");
    assert_eq!(answer, json!({}), "no VM is called that");
    let (ok, answer) = cs_witness(&cs, &["list", "--name", "web-001"]);
    assert!(ok, "without '~' cs is accepted: {answer}");

    // An API key with '~' in it: every request carries it.
    let cs = CsFake::start(&["--vms", "12", "--api-key", "pdk~api~key~Qk3mZ8v1Xw2y7N4rT6uH9jL0sD5fG8hJ2kL4zX6cV8bN1mQ3w"]).await;
    let lab = Lab::new(&cs, fast_engine_config());
    assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().vms, 12);
    let (ok, answer) = cs_witness(&cs, &["list"]);
    assert!(!ok && answer["status"] == 401, "{answer}");
    assert_eq!(cs.calls().await["unauthorized"], 1, "only cs's request was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_jobs_are_read_in_one_request_and_a_pending_job_shows_on_its_vm() {
    let cs = CsFake::start(&["--vms", "30", "--stubborn-vms", "0", "--transition-ms", "2500"]).await;
    let batched = cs.provider(Calls::direct());
    let per_job = cs.provider(Calls::direct()).with_job_polling(JobPolling::PerJob);
    let running: Vec<String> =
        cs.truth().await.into_iter().filter(|v| v["state"] == "Running").take(6).map(|v| v["id"].as_str().unwrap().to_string()).collect();
    let mut jobs = Vec::new();
    for id in &running {
        jobs.push(batched.submit(id, PowerAction::ShutdownGuest).await.unwrap().job.unwrap());
    }
    cs.reset_calls().await;
    let statuses = batched.poll_jobs(&jobs).await;
    assert!(statuses.iter().all(|(_, s)| matches!(s, Ok(JobStatus::Running { poll_after: Some(d) }) if *d == Duration::from_secs(2))), "{statuses:?}");
    let calls = cs.calls().await;
    assert_eq!((calls["listAsyncJobs"].as_u64(), calls.get("queryAsyncJobResult")), (Some(1), None), "{calls}");
    cs.reset_calls().await;
    let one_by_one = per_job.poll_jobs(&jobs).await;
    assert_eq!(one_by_one.len(), 6);
    assert_eq!(cs.calls().await["queryAsyncJobResult"], 6);

    // The VM row names the job running on it.
    let seen = batched.refresh(&running[..1]).await.unwrap();
    assert_eq!(seen[0].facts.get("pending_job"), Some(&jobs[0]), "{seen:?}");
    assert_eq!(seen[0].state, PowerState::Stopping);

    // All succeed; the answers come back in the order asked.
    let done = until("the jobs end", async || {
        let s = batched.poll_jobs(&jobs).await;
        s.iter().all(|(_, s)| s == &Ok(JobStatus::Succeeded)).then_some(s)
    })
    .await;
    assert_eq!(done.into_iter().map(|(j, _)| j).collect::<Vec<_>>(), jobs);
    let after = batched.refresh(&running[..1]).await.unwrap();
    assert!(!after[0].facts.contains_key("pending_job") && after[0].state == PowerState::Stopped, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_not_found_and_a_read_only_role_is_told_so() {
    let cs = CsFake::start(&["--vms", "12", "--user2", "ops-key-0123456789:ops-secret-0123456789"]).await;
    let provider = cs.provider(Calls::direct());
    let known: Vec<String> = cs.truth().await.into_iter().take(3).map(|v| v["id"].as_str().unwrap().to_string()).collect();
    let mut asked = known.clone();
    asked.insert(1, UNKNOWN_VM.to_string());
    let got: HashSet<String> = provider.refresh(&asked).await.unwrap().into_iter().map(|o| o.provider_id).collect();
    assert_eq!(got, known.iter().cloned().collect());
    assert!(matches!(provider.submit(UNKNOWN_VM, PowerAction::Start).await, Err(ProviderError::NotFound { .. })));
    assert!(matches!(provider.poll_job(UNKNOWN_VM).await, Err(ProviderError::NotFound { .. })));
    assert!(matches!(provider.submit("i-2-9-VM; drop", PowerAction::Start).await, Err(ProviderError::NotFound { .. })));

    // The read-only user of account 'ops' lists its own VMs, and may not stop them.
    let mut cfg = cs.config();
    cfg.api_key = "ops-key-0123456789".into();
    let reader = cs.provider_with(&cfg, "ops-secret-0123456789", Calls::direct());
    let page = reader.list_page(None).await.unwrap();
    assert!(!page.vms.is_empty() && page.vms.iter().all(|o| o.facts.get("account").map(String::as_str) == Some("ops")), "{page:?}");
    let err = reader.submit(&page.vms[0].provider_id, PowerAction::ShutdownGuest).await.unwrap_err();
    assert!(err.to_string().contains("role does not allow") && !err.means_unreachable(), "{err}");
    assert!(reader.test_connection().await.unwrap().contains("CloudStack 4.20"));
}
