//! The oVirt / OLVM provider against the engine fake (`tests/fakes/ovirt`),
//! with the official oVirt SDK (ovirtsdk4) as the witness.

#[path = "ovirt/lab.rs"]
mod lab;

use lab::{calls, fake, fake_vm_in, set_state, truth, Lab, PASSWORD, PATIENCE};
use powerdeck_core::model::{Failure, OpKind, OpPhase, PowerState, ShutdownMethod, Source, ToolsStatus};
use powerdeck_core::provider::ovirt::{OvirtConfig, OvirtProvider};
use powerdeck_core::provider::{calls::Calls, PowerAction, Provider, ProviderError};
use powerdeck_core::secrets::Secret;
use powerdeck_core::{OpOptions, Workers};
use powerdeck_testkit::lost::{answer_lost, assert_unconfirmed, Lost};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

fn force_after(secs: u64) -> OpOptions {
    OpOptions { allow_force: true, graceful_timeout: Some(Duration::from_secs(secs)), ..OpOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_is_what_the_sdk_sees_with_names_and_guest_facts() {
    let fake = fake(23, &[]);
    let lab = Lab::new(&fake);
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(sync.vms, 23);
    let sdk: Vec<serde_json::Value> = serde_json::from_value(fake.witness("ovirt", &["list"])).unwrap();
    let sdk: HashMap<String, serde_json::Value> = sdk.into_iter().map(|v| (v["id"].as_str().unwrap().to_string(), v)).collect();
    let facts: HashMap<String, serde_json::Value> = fake.vms().await.into_iter().map(|v| (v["id"].as_str().unwrap().to_string(), v)).collect();
    assert_eq!(lab.vms().len(), sdk.len());
    let mut agents = 0;
    for vm in lab.vms() {
        let seen = &sdk[&vm.provider_id];
        assert_eq!((vm.name.as_str(), vm.raw_state.as_str()), (seen["name"].as_str().unwrap(), seen["state"].as_str().unwrap()), "the SDK sees the same");
        let t = &facts[&vm.provider_id];
        assert_eq!(vm.facts.get("cluster").map(String::as_str), t["cluster"].as_str(), "{vm:?}");
        assert_eq!(vm.location.as_deref(), t["host"].as_str(), "host by name, only while it runs: {vm:?}");
        assert_eq!(vm.facts.get("os_type").map(String::as_str), t["os_type"].as_str());
        assert_eq!(vm.facts.get("fqdn").map(String::as_str), t["fqdn"].as_str(), "{vm:?}");
        let ips: Vec<&str> = t["ips"].as_array().unwrap().iter().map(|i| i.as_str().unwrap()).collect();
        assert_eq!(vm.facts.get("ip_addresses").cloned().unwrap_or_default(), ips.join(", "));
        if t["fqdn"].is_string() {
            agents += 1;
            assert_eq!(vm.tools, Some(ToolsStatus::Running));
            assert_eq!(vm.facts["guest_agent"], "reporting");
        } else {
            assert_eq!(vm.tools, None, "no agent is 'not reported', never 'not running': {vm:?}");
            assert!(vm.facts["guest_agent"].starts_with("not reported"), "{vm:?}");
        }
    }
    assert!(agents > 0 && agents < 23, "the fake seeds guests with and without agents ({agents})");
    // One page of 500, plus hosts and clusters named once; every call says Version: 4.
    assert_eq!(sync.list_calls, 1);
    let c = fake.calls().await;
    assert_eq!((c["list_hosts"].as_u64(), c["list_clusters"].as_u64(), c["missing_version"].as_u64()), (Some(1), Some(1), None), "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_made_with_the_sdk_read_as_parent_and_name_and_become_rows_of_the_report_by_tag() {
    use powerdeck_core::engine::report::{Rates, ReportBy};
    let fake = fake(5, &[]);
    let lab = Lab::new(&fake);
    let ids: Vec<String> = fake.vms().await.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    for (vm, paths) in [(&ids[0], vec!["env/prod", "backup"]), (&ids[1], vec!["env/test", "team/web/fe"])] {
        let answer = fake.witness("ovirt", &[&["tag", vm.as_str()][..], &paths].concat());
        assert!(answer["error"].is_null(), "the SDK tags the VM: {answer}");
    }
    lab.engine.full_sync(lab.account.id).await.unwrap();

    // Each tag the SDK reads (as its path from the root) is a fact: the
    // parent path is the key, the tag's own name the value.
    let sdk: Vec<serde_json::Value> = serde_json::from_value(fake.witness("ovirt", &["list"])).unwrap();
    for seen in &sdk {
        let vm = lab.vm(seen["id"].as_str().unwrap());
        let expected: std::collections::BTreeMap<String, String> = seen["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| match p.as_str().unwrap().rsplit_once('/') {
                Some((key, name)) => (format!("tag:{key}"), name.to_string()),
                None => (format!("tag:{}", p.as_str().unwrap()), String::new()),
            })
            .collect();
        let facts: std::collections::BTreeMap<String, String> =
            vm.facts.iter().filter(|(k, _)| k.starts_with("tag:")).map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(facts, expected, "{}", vm.name);
    }
    // One refresh reads a VM with its tags too: they are not lost between listings.
    let tagged = lab.vm(&ids[0]);
    let fresh = lab.provider.refresh(std::slice::from_ref(&tagged.provider_id)).await.unwrap();
    assert_eq!(fresh[0].facts.get("tag:env").map(String::as_str), Some("prod"));

    let now = powerdeck_core::model::now_ms();
    let report = lab.engine.hours_report(now - 60_000, now, ReportBy::Tag, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    let rows: Vec<(&str, usize)> = report.rows.iter().map(|r| (r.name.as_str(), r.vms)).collect();
    assert_eq!(rows, [("(no tag)", 3), ("backup", 1), ("env=prod", 1), ("env=test", 1), ("team/web=fe", 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_shift_while_they_are_read_lose_no_vm_and_list_none_twice() {
    let fake = fake(40, &[]);
    let cfg = OvirtConfig { page_size: 10, ..lab::config(&fake) };
    let provider = OvirtProvider::new(&cfg, Some(Secret::new(PASSWORD)), Calls::direct()).unwrap();
    let names = |f: &Vec<serde_json::Value>| f.iter().map(|v| v["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let everyone = names(&fake.vms().await);

    // Remove the first two VMs after page 1 (rows shift left into the overlap),
    // then five more after page 2 (past it: the walk starts over), and add one
    // in front after page 3 (rows shift right: one is listed again).
    let mut listed: Vec<String> = Vec::new();
    let (mut token, mut page) = (None::<String>, 0);
    loop {
        let p = provider.list_page(token.as_deref()).await.unwrap();
        listed.extend(p.vms.iter().map(|o| o.name.clone()));
        page += 1;
        match page {
            1 => {
                for n in &everyone[0..2] {
                    fake.control_delete(&format!("vms/{n}")).await;
                }
            }
            2 => {
                for n in &everyone[2..7] {
                    fake.control_delete(&format!("vms/{n}")).await;
                }
            }
            3 => {
                fake.control("vms", Some(json!({ "names": ["aaa-new"] }))).await;
            }
            _ => {}
        }
        match p.next {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(page < 100, "the listing ends");
    }
    let unique: HashSet<&String> = listed.iter().collect();
    assert_eq!(unique.len(), listed.len(), "no VM listed twice: {listed:?}");
    let now = names(&fake.vms().await);
    let missed: Vec<&String> = now.iter().filter(|n| !unique.contains(n) && n.as_str() != "aaa-new").collect();
    assert!(missed.is_empty(), "VMs that existed throughout were lost: {missed:?}");
    // Removed ones seen before their removal are fine; nothing else is listed.
    assert!(listed.iter().all(|n| everyone.contains(n) || n == "aaa-new"), "{listed:?}");
    let c = fake.calls().await;
    assert!(c["list_vms"].as_u64().unwrap() < 20, "{c}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_fifteen_statuses_are_kept_raw_and_never_called_running_unless_up() {
    let fake = fake(15, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let statuses = [
        ("up", PowerState::Running),
        ("down", PowerState::Stopped),
        ("powering_up", PowerState::Starting),
        ("wait_for_launch", PowerState::Starting),
        ("powering_down", PowerState::Stopping),
        ("reboot_in_progress", PowerState::Rebooting),
        ("paused", PowerState::Paused),
        ("suspended", PowerState::Suspended),
        ("saving_state", PowerState::Suspending),
        ("restoring_state", PowerState::Resuming),
        ("migrating", PowerState::Migrating),
        ("image_locked", PowerState::Stopped),
        ("not_responding", PowerState::Unknown),
        ("unknown", PowerState::Unknown),
        ("unassigned", PowerState::Unknown),
    ];
    let vms = lab.vms();
    for ((raw, _), vm) in statuses.iter().zip(&vms) {
        set_state(&fake, &vm.provider_id, raw).await;
    }
    let ids: Vec<String> = vms.iter().map(|v| v.provider_id.clone()).collect();
    let got = lab.provider.refresh(&ids).await.unwrap();
    for ((raw, want), vm) in statuses.iter().zip(&vms) {
        let o = got.iter().find(|o| o.provider_id == vm.provider_id).unwrap();
        assert_eq!((o.raw_state.as_str(), o.state), (*raw, *want));
    }
    // And as stored by a full sync, which the SDK agrees with.
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let sdk: Vec<serde_json::Value> = serde_json::from_value(fake.witness("ovirt", &["list"])).unwrap();
    for vm in lab.vms() {
        let seen = sdk.iter().find(|s| s["id"] == vm.provider_id.as_str()).unwrap();
        assert_eq!(vm.raw_state, seen["state"].as_str().unwrap());
        assert_eq!(vm.state == PowerState::Running, vm.raw_state == "up", "{vm:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_asks_the_guest_and_falls_back_to_power_off_only_when_ignored_and_allowed() {
    let fake = fake(12, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    // A cooperating guest: shutdown, never stop.
    let a = fake_vm_in(&fake, "up", &[]).await;
    fake.control(&format!("vms/{}/stubborn", a["id"].as_str().unwrap()), Some(json!({ "on": false }))).await;
    fake.control("calls/reset", Some(json!({}))).await;
    let op = lab.run(lab.vm_named(a["name"].as_str().unwrap()).id, OpKind::Stop, force_after(10)).await;
    assert_eq!((op.phase, op.new_state, op.shutdown_method), (OpPhase::Succeeded, Some(PowerState::Stopped), Some(ShutdownMethod::Graceful)), "{op:?}");
    assert_eq!((calls(&fake, "shutdown").await, calls(&fake, "stop").await), (1, 0));

    // A guest that ignores ACPI: the engine gives up (back to up, event 147),
    // and once the graceful window is over the VM is powered off.
    let b = fake_vm_in(&fake, "up", &[a["name"].as_str().unwrap()]).await;
    let b_name = b["name"].as_str().unwrap().to_string();
    fake.control(&format!("vms/{b_name}/stubborn"), Some(json!({ "on": true }))).await;
    let op = lab.run(lab.vm_named(&b_name).id, OpKind::Stop, force_after(2)).await;
    assert_eq!((op.phase, op.new_state, op.shutdown_method), (OpPhase::Succeeded, Some(PowerState::Stopped), Some(ShutdownMethod::Forced)), "{op:?}");
    assert_eq!((calls(&fake, "shutdown").await, calls(&fake, "stop").await), (2, 1));
    let events: Vec<serde_json::Value> = serde_json::from_value(fake.control("events", None).await).unwrap();
    assert!(events.iter().any(|e| e["code"] == 147 && e["vm_id"] == b["id"]), "the engine saw the guest ignore it");

    // Without the fallback allowed, it ends saying the guest ignored it.
    set_state(&fake, &b_name, "up").await;
    let op = lab.run(lab.vm_named(&b_name).id, OpKind::Stop, OpOptions { graceful_timeout: Some(Duration::from_secs(2)), ..OpOptions::default() }).await;
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::GracefulIgnored)), "{op:?}");
    assert_eq!(calls(&fake, "stop").await, 1, "never powered off without leave");

    // A guest that is not up cannot be asked: the engine would power it off
    // instead, so a graceful stop says so, and forces only when allowed.
    set_state(&fake, &b_name, "paused").await;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let op = lab.run(lab.vm_named(&b_name).id, OpKind::Stop, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::Failed, "{op:?}");
    assert!(op.error.as_deref().unwrap_or_default().contains("only while the VM is up; it is paused"), "{op:?}");
    assert_eq!(calls(&fake, "shutdown").await, 3, "the paused VM was not sent a shutdown");
    let op = lab.run(lab.vm_named(&b_name).id, OpKind::Stop, force_after(10)).await;
    assert_eq!((op.phase, op.shutdown_method), (OpPhase::Succeeded, Some(ShutdownMethod::Forced)), "{op:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_reboot_reset_and_suspend_are_tracked_to_the_status_with_our_correlation_ids() {
    let fake = fake(12, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let down = fake_vm_in(&fake, "down", &[]).await;
    let name = down["name"].as_str().unwrap().to_string();
    fake.control(&format!("vms/{name}/stubborn"), Some(json!({ "on": false }))).await;
    let vm = lab.vm_named(&name);

    // start: its job ends when the VM is up; the guest's agent comes with it.
    let op = lab.run(vm.id, OpKind::Start, OpOptions { wait_for_tools: down["agent"] == true, ..OpOptions::default() }).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{op:?}");
    let (job, correlation) = op.job_id.as_deref().and_then(|j| j.split_once('/')).expect("a job handle with our correlation id");
    assert!(correlation.starts_with("pdk-") && job.len() == 36, "{op:?}");
    let jobs = fake.witness("ovirt", &["events", "--from", "0"]);
    let ours: Vec<&serde_json::Value> = jobs.as_array().unwrap().iter().filter(|e| e["correlation_id"] == correlation).collect();
    let codes: HashSet<i64> = ours.iter().map(|e| e["code"].as_i64().unwrap()).collect();
    assert_eq!(codes, HashSet::from([153, 32]), "the SDK reads the start's events under our id: {ours:?}");

    // reboot: confirmed only once the VM was seen leaving up (reboot_in_progress) and back.
    // The fake starts its 300 ms when the request arrives, which is after
    // `requested_at` and before `submitted_at` (stamped when the answer is
    // back), so only `requested_at` bounds it whatever the machine's load.
    let op = lab.run(vm.id, OpKind::Reboot, OpOptions::default()).await;
    assert_eq!((op.phase, op.shutdown_method), (OpPhase::Succeeded, Some(ShutdownMethod::Graceful)), "{op:?}");
    assert!(op.finished_at.unwrap() - op.requested_at >= 300, "not before the reboot took its 300 ms: {op:?}");
    let events: Vec<serde_json::Value> = serde_json::from_value(fake.control("events", None).await).unwrap();
    assert!(events.iter().any(|e| e["code"] == 157 && e["vm_id"] == down["id"] && e["correlation_id"].as_str().is_some_and(|c| c.starts_with("pdk-"))));

    // A guest that ignores the reboot: reset after the graceful window.
    fake.control(&format!("vms/{name}/stubborn"), Some(json!({ "on": true }))).await;
    let op = lab.run(vm.id, OpKind::Reboot, force_after(1)).await;
    assert_eq!((op.phase, op.shutdown_method), (OpPhase::Succeeded, Some(ShutdownMethod::Forced)), "{op:?}");
    assert_eq!(calls(&fake, "reset").await, 1);

    // suspend answers 202 in_progress; tracked through saving_state to suspended; start resumes.
    let op = lab.run(vm.id, OpKind::Suspend, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Suspended)), "{op:?}");
    let op = lab.run(vm.id, OpKind::Start, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{op:?}");
    let seen = truth(&fake, &name).await;
    assert_eq!(seen["state"], "up");
}

/// The connection breaks after the engine took a power action and before
/// its answer came back, or a gateway (the engine's Apache, a proxy)
/// answers 502 or 504 in its place: the action is never sent again, and the VM's
/// status decides. A guest that ignores the reboot leaves no sign; a
/// shutdown shows as powering_down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_action_whose_answer_is_lost_is_never_sent_twice() {
    let fake = fake(12, &[]);
    let lab = Lab::new(&fake);
    let mut used: Vec<String> = vec![];
    for how in [Lost::Connection, Lost::Gateway(502), Lost::Gateway(504)] {
        for _ in 0..2 {
            let taken: Vec<&str> = used.iter().map(String::as_str).collect();
            let name = fake_vm_in(&fake, "up", &taken).await["name"].as_str().unwrap().to_string();
            used.push(name);
        }
        let (a, b) = (used[used.len() - 2].clone(), used[used.len() - 1].clone());
        for (name, stubborn) in [(&a, true), (&b, false)] {
            fake.control(&format!("vms/{name}/agent"), Some(json!({ "on": true }))).await;
            fake.control(&format!("vms/{name}/stubborn"), Some(json!({ "on": stubborn }))).await;
        }
        lab.engine.full_sync(lab.account.id).await.unwrap();
        let reboot = answer_lost(&fake, "reboot", how, lab.run(lab.vm_named(&a).id, OpKind::Reboot, OpOptions::default())).await;
        assert_unconfirmed(&reboot);
        let stop = answer_lost(&fake, "shutdown", how, lab.run(lab.vm_named(&b).id, OpKind::Stop, OpOptions::default())).await;
        assert_eq!((stop.phase, stop.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{how:?}: {stop:?}");
        assert_eq!((calls(&fake, "stop").await, truth(&fake, &b).await["state"].as_str()), (0, Some("down")), "no power-off, the guest shut down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_refusals_and_failures_are_shown_in_its_own_words() {
    let fake = fake(12, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let id = fake_vm_in(&fake, "down", &[]).await["id"].as_str().unwrap().to_string();

    // A refused action is the state conflict it is, with the engine's sentence.
    set_state(&fake, &id, "image_locked").await;
    let err = lab.provider.submit(&id, PowerAction::Start).await.unwrap_err();
    assert_eq!(err, ProviderError::InvalidState { message: "Operation Failed: Cannot run VM: VM is locked. Please try again in a few minutes.".into() });
    set_state(&fake, &id, "unknown").await;
    let err = lab.provider.submit(&id, PowerAction::PowerOff).await.unwrap_err();
    assert!(matches!(&err, ProviderError::InvalidState { message } if message.contains("Cannot stop VM. VM is not running.")), "{err:?}");

    // A start the engine accepts and then fails: the job fails, and the error
    // events logged under our correlation id say why.
    set_state(&fake, &id, "down").await;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    fake.control("fail", Some(json!({ "action": "start", "count": 1 }))).await;
    let vm = lab.vms().into_iter().find(|v| v.provider_id == id).unwrap();
    let op = lab.run(vm.id, OpKind::Start, OpOptions::default()).await;
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::JobFailed)), "{op:?}");
    let error = op.error.unwrap();
    assert!(error.contains("Launching VM") && error.contains("failed") && error.contains("Failed to run VM"), "{error}");

    // A power-off that fails while executing: the engine's detail, nothing changed.
    set_state(&fake, &id, "up").await;
    fake.control("fail", Some(json!({ "action": "stop", "count": 1 }))).await;
    let err = lab.provider.submit(&id, PowerAction::PowerOff).await.unwrap_err();
    assert_eq!(err, ProviderError::Provider { code: "Operation Failed".into(), message: "Virtual machine destroy error".into(), retryable: false });
    assert_eq!(truth(&fake, &id).await["state"], "up");

    // An id the engine does not have.
    let err = lab.provider.submit("00000000-0000-0000-0000-00000000beef", PowerAction::Start).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(lab.provider.refresh(&["00000000-0000-0000-0000-00000000beef".into(), "not-a-uuid/../x".into()]).await.unwrap().is_empty());
}

/// Every token the engine issued is refused while a power action is
/// tracked: a new one is taken once and the read repeated; the action is
/// never sent again, and the operation ends verified. The driver starts
/// after the expiry, so its first look meets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_while_an_operation_is_tracked_is_renewed_and_the_operation_verified() {
    let fake = fake(5, &[]);
    let lab = Lab::new(&fake);
    let name = fake_vm_in(&fake, "up", &[]).await["name"].as_str().unwrap().to_string();
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let op = lab.engine.request(lab.vm_named(&name).id, OpKind::ForceStop, OpOptions::default()).await.unwrap();
    assert_eq!(lab.provider.logins().await, 1);
    fake.control("tokens/expire", Some(json!({}))).await;
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let done = tokio::time::timeout(PATIENCE, lab.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap();
    assert_eq!((done.phase, done.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{done:?}");
    assert_eq!(lab.provider.logins().await, 2, "one new token");
    assert!(calls(&fake, "unauthorized").await >= 1, "the expired token was refused");
    assert_eq!(calls(&fake, "stop").await, 1, "the power-off was sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_once_and_a_wrong_password_is_an_auth_error_never_echoed() {
    let fake = fake(5, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.provider.logins().await, 1);
    // Every token the engine issued is now refused (401), mid-run.
    fake.control("tokens/expire", Some(json!({}))).await;
    fake.control("calls/reset", Some(json!({}))).await;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.provider.logins().await, 2, "one new token");
    let c = fake.calls().await;
    assert_eq!((c["unauthorized"].as_u64(), c["token"].as_u64(), c["list_vms"].as_u64()), (Some(1), Some(1), Some(2)), "refused once, renewed, retried: {c}");

    // A wrong password: an auth error in the engine's words, without the password.
    let wrong = "not-the+p@ss&word";
    let bad = Lab::with(lab::config(&fake), wrong, powerdeck_testkit::fast::fast_engine_config());
    let err = bad.engine.full_sync(bad.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "auth", "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("The username or password is incorrect"), "{text}");
    assert!(!text.contains("not-the") && !text.contains("p@ss&word") && !text.contains("p%40ss"), "{text}");
    assert!(bad.vms().is_empty());
    // One login attempt per sync: a refused password is not hammered.
    assert_eq!(calls(&fake, "token_refused").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_off_made_elsewhere_arrives_through_the_events_feed_and_our_own_events_are_recognised() {
    let fake = fake(10, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers { driver: true, tiers: false, feed: true, ..Workers::NONE }, Some(&[lab.account.id])).unwrap();
    // Let the feed take its place in the log.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let up = fake_vm_in(&fake, "up", &[]).await;
    let vm = lab.vm_named(up["name"].as_str().unwrap());
    fake.control("calls/reset", Some(json!({}))).await;
    let changed_at = Instant::now();
    set_state(&fake, &vm.provider_id, "down").await;
    lab.until("the feed reports the power-off", vm.id, |v| v.state == PowerState::Stopped).await;
    let latency = changed_at.elapsed();
    let history = lab.engine.store().history(vm.id, 5).unwrap();
    assert_eq!(history[0].source, Source::Feed, "{history:?}");
    assert!(latency < Duration::from_secs(3), "{latency:?} with a 1 s events interval");
    // Only that VM was read again, no full listing.
    let c = fake.calls().await;
    assert_eq!((c["get_vm"].as_u64(), c["list_vms"].as_u64()), (Some(1), None), "{c}");

    // Our own start: its events carry our correlation id; the feed leaves
    // that VM to the operation (no read from the feed for it).
    fake.control("calls/reset", Some(json!({}))).await;
    let op = lab.run(vm.id, OpKind::Start, OpOptions::default()).await;
    assert_eq!(op.phase, OpPhase::Succeeded);
    let reads_by_op = calls(&fake, "get_vm").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(calls(&fake, "get_vm").await, reads_by_op, "the feed did not read the VM our own start moved");
    assert!(calls(&fake, "list_events").await >= 2, "the feed kept reading the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_event_cursor_asks_for_a_full_sync_and_a_removed_vm_is_gone() {
    let fake = fake(10, &[]);
    let lab = Lab::new(&fake);
    let p = &lab.provider;
    let start = p.watch(None, Duration::from_millis(10)).await.unwrap();
    let cursor: u64 = start.cursor.parse().unwrap();
    assert!(cursor > 1000 && !start.resync_needed);
    // A removal: the VM the event names is gone at the engine.
    let victim = fake.vms().await[3].clone();
    fake.control_delete(&format!("vms/{}", victim["id"].as_str().unwrap())).await;
    let batch = p.watch(Some(&start.cursor), Duration::from_secs(3)).await.unwrap();
    assert_eq!(batch.removed, vec![victim["id"].as_str().unwrap().to_string()], "{batch:?}");
    assert!(!batch.resync_needed);
    // The log is cleaned up past our place.
    let newest: u64 = batch.cursor.parse().unwrap();
    set_state(&fake, fake.vms().await[0]["id"].as_str().unwrap(), "paused").await;
    fake.control("events/purge", Some(json!({ "keep_after": newest + 5 }))).await;
    let lost = p.watch(Some(&batch.cursor), Duration::from_secs(3)).await.unwrap();
    assert!(lost.resync_needed, "{lost:?}");
    let after: u64 = lost.cursor.parse().unwrap();
    // The next read from the new place is whole again.
    set_state(&fake, fake.vms().await[1]["id"].as_str().unwrap(), "paused").await;
    let fine = p.watch(Some(&lost.cursor), Duration::from_secs(3)).await.unwrap();
    assert!(!fine.resync_needed && fine.changes.iter().any(|o| o.raw_state == "paused"), "{fine:?} after {after}");

    // Through the engine: the resync becomes a full sync at once.
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::ALL, Some(&[lab.account.id])).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let gone = fake.vms().await[5].clone();
    fake.control("calls/reset", Some(json!({}))).await;
    let newest = fake.witness("ovirt", &["events", "--from", "0"]).as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).max().unwrap();
    fake.control("events/purge", Some(json!({ "keep_after": newest + 1000 }))).await;
    fake.control_delete(&format!("vms/{}", gone["id"].as_str().unwrap())).await;
    let started = Instant::now();
    while calls(&fake, "list_vms").await == 0 {
        assert!(started.elapsed() < PATIENCE, "no full sync after the cursor was lost");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let vm = lab.vms().into_iter().find(|v| v.provider_id == gone["id"].as_str().unwrap()).unwrap();
    lab.until("the full sync marks the removed VM missing", vm.id, |v| v.state == PowerState::Missing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_revoked_when_the_account_is_removed() {
    let fake = fake(3, &[]);
    // Built as every account is: from its stored settings and secret source.
    std::env::set_var("PDK_TEST_OVIRT_REVOKE_PASSWORD", PASSWORD);
    let dir = tempfile::tempdir().unwrap();
    let engine = powerdeck_core::Engine::open(dir.path()).unwrap();
    let secret = powerdeck_core::secrets::SecretRef::env("PDK_TEST_OVIRT_REVOKE_PASSWORD").unwrap();
    let account = engine.add_account("olvm", "ovirt", serde_json::to_value(lab::config(&fake)).unwrap(), Some((secret, None))).unwrap();
    engine.full_sync(account.id).await.unwrap();
    engine.start(Workers::ALL, Some(&[account.id])).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(calls(&fake, "revoke").await, 0);
    engine.remove_account("olvm").unwrap();
    let started = Instant::now();
    while calls(&fake, "revoke").await == 0 {
        assert!(started.elapsed() < PATIENCE, "the token was never revoked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events: Vec<serde_json::Value> = serde_json::from_value(fake.control("events", None).await).unwrap();
    assert!(events.iter().any(|e| e["code"] == 31), "the engine logged the session's end (USER_VDC_LOGOUT)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_certificate_is_trusted_through_its_ca_a_pin_or_not_at_all() {
    let fake = fake(3, &[]);
    let ca = std::fs::read_to_string(fake.ca.as_ref().unwrap()).unwrap();
    // The CA the engine publishes is the one that signed it.
    let published =
        powerdeck_core::provider::http::fetch_published_ca(&format!("{}{}", fake.url, powerdeck_core::provider::ovirt::config::CA_PUBLISHED_AT)).await.unwrap();
    assert_eq!(published.pem.trim(), ca.trim());
    assert_eq!(published.thumbprint.len(), 95);

    // The system's roots do not know the fake's CA: refused, with the thumbprint to compare.
    let system = OvirtConfig { ca_file: None, ..lab::config(&fake) };
    let p = OvirtProvider::new(&system, Some(Secret::new(PASSWORD)), Calls::direct()).unwrap();
    let err = p.list_page(None).await.unwrap_err();
    let ProviderError::Untrusted { presented: Some(presented), message } = &err else { panic!("{err:?}") };
    assert!(message.contains(presented.as_str()), "{message}");
    assert_eq!(calls(&fake, "token").await, 0, "no password went to an untrusted host");

    // Pinned: accepted; a wrong pin: refused naming both.
    let pinned = OvirtConfig { thumbprint: Some(presented.clone()), ..system.clone() };
    let p = OvirtProvider::new(&pinned, Some(Secret::new(PASSWORD)), Calls::direct()).unwrap();
    assert_eq!(p.list_page(None).await.unwrap().vms.len(), 3);
    let wrong = OvirtConfig { thumbprint: Some("AB".repeat(32)), ..system };
    let p = OvirtProvider::new(&wrong, Some(Secret::new(PASSWORD)), Calls::direct()).unwrap();
    let err = p.list_page(None).await.unwrap_err().to_string();
    assert!(err.contains("certificate changed") && err.contains(presented.as_str()), "{err}");

    // The CA file: accepted; and it says what it connected to.
    let p = OvirtProvider::new(&lab::config(&fake), Some(Secret::new(PASSWORD)), Calls::direct()).unwrap();
    let said = p.test_connection().await.unwrap();
    assert!(said.starts_with("connected to oVirt Engine 4.5") && said.ends_with("3 VMs"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_the_engine_publishes_is_kept_under_its_account_and_trusts_the_engine() {
    use powerdeck_core::engine::published_ca;
    use powerdeck_core::provider::registry;
    use powerdeck_core::CoreError;
    let fake = fake(2, &[]);
    let dir = tempfile::tempdir().unwrap();
    let engine = powerdeck_core::Engine::open(dir.path()).unwrap();
    let ovirt = registry::kind("ovirt").unwrap();
    let endpoint = lab::config(&fake).endpoint;

    let ca = published_ca::fetch(ovirt, "olvm", &endpoint).await.unwrap();
    // Kept only if it is still the CA whose thumbprint was shown.
    assert_eq!(published_ca::fetch_compared(ovirt, "olvm", &endpoint, &ca.thumbprint).await.unwrap(), ca);
    let err = published_ca::fetch_compared(ovirt, "olvm", &endpoint, &"AB:".repeat(31).to_string()).await.unwrap_err();
    assert!(err.to_string().contains("another CA certificate") && err.to_string().contains(&ca.thumbprint), "{err}");
    assert_eq!(ca.pem.trim(), std::fs::read_to_string(fake.ca.as_ref().unwrap()).unwrap().trim(), "fetched from the API URL's own host");
    let kept = engine.keep_published_ca(ovirt, "olvm", &ca, true).unwrap();
    assert_eq!(kept.field, "ca_file");
    assert!(kept.file.is_absolute() && kept.file.starts_with(std::path::absolute(dir.path()).unwrap().join("certs")), "{:?}", kept.file);
    assert_eq!(std::fs::read_to_string(&kept.file).unwrap(), ca.pem);

    // The kept file is all the account needs to trust the engine.
    let config = OvirtConfig { ca_file: Some(kept.file.to_string_lossy().into_owned()), ..lab::config(&fake) };
    let p = OvirtProvider::new(&config, Some(Secret::new(PASSWORD)), Calls::direct()).unwrap();
    assert_eq!(p.list_page(None).await.unwrap().vms.len(), 2);

    // Never over another account's CA, never for an account that is not there, never without a name.
    // (Stored directly: which secret it has does not matter here.)
    engine.store().insert_account("olvm", "ovirt", &serde_json::to_value(&config).unwrap(), None, false).unwrap().unwrap();
    let other = published_ca::PublishedCa { pem: "not this one".into(), thumbprint: "AB".into() };
    assert!(matches!(engine.keep_published_ca(ovirt, "olvm", &other, true), Err(CoreError::AccountExists(_))));
    assert_eq!(std::fs::read_to_string(&kept.file).unwrap(), ca.pem, "the account's CA is untouched");
    assert!(matches!(engine.keep_published_ca(ovirt, "nosuch", &ca, false), Err(CoreError::UnknownAccount(_))));
    assert!(matches!(engine.keep_published_ca(ovirt, " ", &ca, true), Err(CoreError::Invalid(_))));
    assert_eq!(engine.keep_published_ca(ovirt, "olvm", &ca, false).unwrap(), kept, "an edit renews it in place");

    // Kinds whose hosts publish nothing, and an endpoint that is not there, are refused before anything is fetched.
    let err = published_ca::fetch(registry::kind("vsphere").unwrap(), "vc", "https://vc.example/sdk").await.unwrap_err();
    assert!(err.to_string().contains("publish no CA"), "{err}");
    let err = published_ca::fetch(ovirt, "olvm", "  ").await.unwrap_err();
    assert!(matches!(&err, CoreError::InvalidSettings { errors, .. } if errors[0].field.as_deref() == Some("endpoint")), "{err:?}");
    // Over plain HTTP there is nothing a CA could protect: refused.
    let err = published_ca::fetch(ovirt, "olvm", &endpoint.replace("https://", "http://")).await.unwrap_err();
    assert!(err.to_string().contains("https only"), "{err}");
}
