//! The Azure provider against the ARM fake over HTTPS (its own test CA),
//! with azure-mgmt-compute (Microsoft's SDK) as the witness of what the
//! cloud holds: paging over pages and subscriptions, one id per VM whatever
//! the casing, stopped vs deallocated, async operations that fail with
//! Azure's own words, throttling, token renewal, the Azure CLI, drift,
//! the cheaper state-only read, and pacing by ARM's budget headers.

use powerdeck_core::model::{Account, Failure, OpKind, OpPhase, Operation, PowerState, ShutdownMethod, Source, Vm};
use powerdeck_core::provider::azure::{AuthMode, AzureConfig, AzureProvider};
use powerdeck_core::provider::{JobStatus, PowerAction, Provider, ProviderError};
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, OpOptions, Workers};
use powerdeck_testkit::azure::{AzureFake, SECRET, TENANT};
use powerdeck_testkit::failed_sync::{assert_stale_and_failing, states};
use powerdeck_testkit::fast;
use powerdeck_testkit::lost::{answer_lost, assert_unconfirmed, Lost};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(30);

struct Lab {
    _dir: TempDir,
    engine: Arc<Engine>,
    account: Account,
    provider: Arc<AzureProvider>,
}

impl Lab {
    fn new(arm: &AzureFake) -> Self {
        Self::with(arm.config(), |cfg, calls| AzureProvider::new(cfg, Some(Secret::new(SECRET)), calls).unwrap())
    }

    fn with(cfg: AzureConfig, build: impl FnOnce(&AzureConfig, Arc<powerdeck_core::provider::calls::Calls>) -> AzureProvider) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
        // The row needs a secret source that resolves; the provider is built with the secret in hand.
        let secret = (cfg.auth == AuthMode::ServicePrincipal).then(|| (SecretRef::env("PATH").unwrap(), None));
        let account = engine.add_account("az", "azure", serde_json::to_value(&cfg).unwrap(), secret).unwrap();
        let provider = Arc::new(build(&cfg, engine.calls(account.id)));
        engine.set_provider(account.id, provider.clone());
        Self { _dir: dir, engine, account, provider }
    }

    fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    fn vm(&self, provider_id: &str) -> Vm {
        self.vms().into_iter().find(|v| v.provider_id == provider_id).unwrap_or_else(|| panic!("{provider_id} is not in the store"))
    }

    async fn run(&self, id: &str, kind: OpKind, opts: OpOptions) -> Operation {
        self.engine.start(Workers::DRIVER, Some(&[self.account.id])).unwrap();
        let vm = self.vm(id);
        let op = self.engine.request(vm.id, kind, opts).await.unwrap_or_else(|e| panic!("{kind} of {}: {e}", vm.name));
        tokio::time::timeout(PATIENCE, self.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap()
    }
}

/// The fake's VMs: `(lower-cased id, its record)`.
async fn truth(arm: &AzureFake) -> Vec<(String, Value)> {
    arm.fake.vms().await.into_iter().map(|v| (v["id"].as_str().unwrap().to_lowercase(), v)).collect()
}

/// A VM the fake holds in `power` (settled, no operation), made if there is none.
async fn vm_in(arm: &AzureFake, power: &str, extra: Value) -> String {
    let mut body = json!({ "count": 1, "state": power });
    body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let made = arm.fake.control("vms", Some(body)).await;
    made[0]["id"].as_str().unwrap().to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_subscriptions_are_walked_to_the_end_with_one_id_per_vm_as_the_sdk_sees_them() {
    let arm = AzureFake::start(&["--subscriptions", "3", "--vms", "7", "--page-size", "3", "--mixed-case-rg"]);
    let lab = Lab::new(&arm);
    let s = lab.engine.full_sync(lab.account.id).await.unwrap();
    // Per subscription: the statusOnly list (3 pages) and the full list (3 pages).
    assert_eq!((s.vms, s.list_calls), (21, 18), "{s:?}");
    assert_eq!((arm.count("list").await, arm.count("list_status_only").await, arm.count("subscriptions").await), (18, 9, 1));
    assert_eq!(arm.count("get_vm").await, 0, "every VM's state came from a list");

    // The same VMs, names and power states that Microsoft's SDK lists.
    let witness: HashMap<String, (String, String)> = arm.witness_list().into_iter().map(|(id, name, state)| (id, (name, state))).collect();
    let stored: HashMap<String, (String, String)> = lab.vms().into_iter().map(|v| (v.provider_id, (v.name, v.raw_state))).collect();
    assert_eq!(stored, witness);
    // Resource group RG-Web comes back as rg-web in the statusOnly list: still one VM each.
    let mixed: Vec<String> = truth(&arm).await.into_iter().filter(|(_, v)| v["mixed_case_rg"] == true).map(|(id, _)| id).collect();
    assert!(!mixed.is_empty());
    let refreshed = lab.provider.refresh(&mixed).await.unwrap();
    assert_eq!(refreshed.iter().map(|o| o.provider_id.clone()).collect::<HashSet<_>>(), mixed.iter().cloned().collect());

    // An unchanged re-sync writes nothing.
    let again = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((again.vms, again.changed), (21, 0), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_are_subscription_group_location_size_os_and_searchable_tags() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "6"]);
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    for (id, t) in truth(&arm).await {
        let vm = lab.vm(&id);
        let f = |k: &str| vm.facts.get(k).cloned().unwrap_or_default();
        assert_eq!(vm.location.as_deref(), t["location"].as_str());
        assert_eq!(
            (f("subscription"), f("resource_group")),
            (t["subscription"].as_str().unwrap().to_string(), t["resource_group"].as_str().unwrap().to_string())
        );
        assert_eq!((f("vm_size"), f("os_type")), (t["vm_size"].as_str().unwrap().to_string(), t["os_type"].as_str().unwrap().to_string()));
        assert_eq!(f("hibernation"), if t["hibernation_enabled"] == true { "enabled" } else { "disabled" });
        let tags: HashMap<String, String> = vm.facts.iter().filter_map(|(k, v)| Some((k.strip_prefix("tag:")?.to_string(), v.clone()))).collect();
        let want: HashMap<String, String> = t["tags"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
        assert_eq!(tags, want, "{}", vm.name);
    }
    // A state-only refresh keeps them.
    let any = lab.vms().remove(0);
    lab.provider.refresh(std::slice::from_ref(&any.provider_id)).await.unwrap();
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.vm(&any.provider_id).facts, any.facts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_only_refresh_takes_whichever_read_costs_fewer_calls() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "12", "--page-size", "4"]);
    let lab = Lab::new(&arm);
    let ids: Vec<String> = truth(&arm).await.into_iter().map(|(id, _)| id).collect();
    // Before any listing the list's cost is unknown: one read per VM.
    lab.provider.refresh(&ids[..5]).await.unwrap();
    assert_eq!((arm.count("get_vm").await, arm.count("list").await), (5, 0));
    lab.engine.full_sync(lab.account.id).await.unwrap(); // statusOnly: 3 pages
    let cost = |n: usize| {
        let (arm, lab, ids) = (&arm, &lab, &ids);
        async move {
            arm.fake.control("calls/reset", Some(json!({}))).await;
            let got = lab.provider.refresh(&ids[..n]).await.unwrap();
            assert_eq!(got.iter().map(|o| o.provider_id.as_str()).collect::<HashSet<_>>(), ids[..n].iter().map(String::as_str).collect());
            assert!(got.iter().all(|o| o.facts.is_empty() && o.state != PowerState::Unknown));
            (arm.count("get_vm").await, arm.count("list_status_only").await)
        }
    };
    assert_eq!(cost(1).await, (1, 0));
    assert_eq!(cost(3).await, (3, 0), "three reads cost what the three-page list costs: the lighter ones");
    assert_eq!(cost(4).await, (0, 3), "four VMs: the three-page list is cheaper");
    assert_eq!(cost(12).await, (0, 3));
    // An id of another subscription or not a VM is not ours to report; an unknown VM is absent.
    let foreign = vec![
        "/subscriptions/00000000-0000-4000-8000-000000000000/resourcegroups/rg/providers/microsoft.compute/virtualmachines/x".to_string(),
        "i-0123456789".into(),
        format!("{}-gone", ids[0]),
    ];
    assert!(lab.provider.refresh(&foreign).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_deallocate_end_in_different_states_verified_by_the_sdk() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "2", "--transition-ms", "300"]);
    let (a, b, c) = (vm_in(&arm, "running", json!({})).await, vm_in(&arm, "running", json!({})).await, vm_in(&arm, "stopped", json!({})).await);
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();

    let stop = lab.run(&a, OpKind::Stop, OpOptions::default()).await;
    assert_eq!((stop.phase, stop.new_state, stop.shutdown_method), (OpPhase::Succeeded, Some(PowerState::Stopped), Some(ShutdownMethod::Graceful)), "{stop:?}");
    let dealloc = lab.run(&b, OpKind::Deallocate, OpOptions::default()).await;
    assert_eq!((dealloc.phase, dealloc.new_state), (OpPhase::Succeeded, Some(PowerState::Deallocated)), "{dealloc:?}");
    // A stopped VM still bills for compute: deallocating it sends a request.
    let billed = lab.run(&c, OpKind::Deallocate, OpOptions::default()).await;
    assert_eq!((billed.phase, billed.new_state), (OpPhase::Succeeded, Some(PowerState::Deallocated)), "{billed:?}");
    assert!(billed.job_id.is_some(), "sent, and followed through Azure's async operation");
    // Both are off; a stop of a deallocated VM has nothing to do.
    let nothing = lab.run(&b, OpKind::Stop, OpOptions::default()).await;
    assert_eq!((nothing.phase, nothing.shutdown_method, nothing.job_id), (OpPhase::Succeeded, Some(ShutdownMethod::AlreadyOff), None));

    // The store, the history and Microsoft's SDK agree.
    assert_eq!((lab.vm(&a).state, lab.vm(&a).raw_state.as_str()), (PowerState::Stopped, "PowerState/stopped"));
    assert_eq!((lab.vm(&b).state, lab.vm(&b).raw_state.as_str()), (PowerState::Deallocated, "PowerState/deallocated"));
    let witness: HashMap<String, String> = arm.witness_list().into_iter().map(|(id, _, state)| (id, state)).collect();
    assert_eq!((witness[&a].as_str(), witness[&b].as_str(), witness[&c].as_str()), ("PowerState/stopped", "PowerState/deallocated", "PowerState/deallocated"));
    let history = lab.engine.store().history(lab.vm(&b).id, 10).unwrap();
    let seen: Vec<PowerState> = history.iter().rev().map(|h| h.to_state).collect();
    assert!(seen.ends_with(&[PowerState::Deallocating, PowerState::Deallocated]), "{seen:?}");
    assert!(history.iter().all(|h| h.to_state != PowerState::Stopped), "a deallocation never passes as a stop: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_operation_that_fails_is_reported_in_azures_words() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--transition-ms", "200"]);
    let id = vm_in(&arm, "deallocated", json!({})).await;
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let message = "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.";
    arm.fake.control("fail", Some(json!({ "action": "start", "code": "AllocationFailed", "message": message }))).await;
    let op = lab.run(&id, OpKind::Start, OpOptions::default()).await;
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::JobFailed)), "{op:?}");
    let error = op.error.unwrap();
    assert!(error.contains("AllocationFailed") && error.contains(message), "{error}");
    // The failed provisioning state is shown beside the power state.
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let vm = lab.vm(&id);
    assert_eq!((vm.state, vm.raw_state.as_str()), (PowerState::Deallocated, "PowerState/deallocated (ProvisioningState/failed/AllocationFailed)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_whose_provisioning_failed_shows_it() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "3", "--with-failed-vm"]);
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let failed: Vec<Vm> = lab.vms().into_iter().filter(|v| v.raw_state.contains("ProvisioningState/failed")).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0].state, failed[0].raw_state.as_str()), (PowerState::Running, "PowerState/running (ProvisioningState/failed/OSProvisioningTimedOut)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_waited_out_as_retry_after_says() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "3"]);
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    arm.fake.control("throttle", Some(json!({ "count": 2, "retry_after": 1 }))).await;
    let t = Instant::now();
    let s = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(s.vms, 3);
    assert!(t.elapsed() >= Duration::from_secs(2), "two 429s with Retry-After: 1 were waited out: {:?}", t.elapsed());
    let stats = lab.engine.runtime(lab.account.id).unwrap().stats().snapshot();
    assert_eq!((stats.throttled, arm.count("throttled").await), (2, 2));
}

/// ARM answering 5xx without Retry-After: a few are retried with backoff
/// and the sync ends well; when they last, the sync fails in words naming
/// the account and the status, and no VM's state changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_for_a_while_is_retried_and_one_that_lasts_fails_naming_the_account_and_its_vms_go_stale() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "3"]);
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let fail = |count: u32, status: u16, code: &str| json!({ "action": "list", "immediate": true, "count": count, "status": status, "code": code, "message": "The server encountered an internal error." });
    let retries = || lab.engine.runtime(lab.account.id).unwrap().stats().snapshot().retries;

    arm.fake.control("fail", Some(fail(2, 500, "InternalServerError"))).await;
    let (lists, before) = (arm.count("list").await, retries());
    assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().vms, 3);
    assert_eq!((arm.count("list").await - lists, retries() - before), (2 + 2, 2), "two 500s, each tried again, then both lists");

    // Lasting: every attempt the retry policy allows (three here), then the error.
    let known = states(lab.vms());
    arm.fake.control("fail", Some(fail(100, 503, "ServiceUnavailable"))).await;
    let lists = arm.count("list").await;
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    assert_eq!(arm.count("list").await - lists, 3, "{err}");
    let text = err.to_string();
    assert!(text.starts_with("account 'az':") && text.contains("ServiceUnavailable") && text.contains("internal error"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(states(lab.vms()), known, "nothing stored from the failed sync");
    assert_stale_and_failing(&lab.engine, lab.account.id, &lab.vms());
}

/// The connection breaks after ARM took a power request and before its
/// answer (the async operation to follow) came back, or a gateway answers
/// 502 or 504 in its place: the request is never sent again, and the VM's
/// state decides. Transitions take no time here,
/// so a restart leaves no sign and a stop shows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_request_whose_answer_is_lost_is_never_sent_twice() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--transition-ms", "0"]);
    let lab = Lab::new(&arm);
    for how in [Lost::Connection, Lost::Gateway(502), Lost::Gateway(504)] {
        let (a, b) = (vm_in(&arm, "running", json!({})).await, vm_in(&arm, "running", json!({})).await);
        lab.engine.full_sync(lab.account.id).await.unwrap();
        let reboot = answer_lost(&arm.fake, "restart", how, lab.run(&a, OpKind::Reboot, OpOptions::default())).await;
        assert_unconfirmed(&reboot);
        let stop = answer_lost(&arm.fake, "powerOff", how, lab.run(&b, OpKind::Stop, OpOptions::default())).await;
        assert_eq!((stop.phase, stop.new_state, stop.job_id.as_deref()), (OpPhase::Succeeded, Some(PowerState::Stopped), None), "{how:?}: {stop:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_once_and_the_call_repeated() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "3"]);
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.provider.tokens_fetched().await, 1);
    // Expired mid-run, while Powerdeck still believes it valid (ARM says so, not the clock).
    arm.fake.control("tokens/expire", Some(json!({}))).await;
    let s = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(s.vms, 3);
    assert_eq!((lab.provider.tokens_fetched().await, arm.count("unauthorized").await, arm.count("token").await), (2, 1, 2));
}

/// The token expires while a power operation is tracked (ARM says so with
/// a 401, not the clock): it is renewed once and the read repeated; the
/// request is never sent again, and the operation ends verified. The
/// driver starts after the expiry, so its first look meets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_while_an_operation_is_tracked_is_renewed_and_the_operation_verified() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--transition-ms", "1000"]);
    let id = vm_in(&arm, "running", json!({})).await;
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let op = lab.engine.request(lab.vm(&id).id, OpKind::ForceStop, OpOptions::default()).await.unwrap();
    assert_eq!(lab.provider.tokens_fetched().await, 1);
    arm.fake.control("tokens/expire", Some(json!({}))).await;
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let done = tokio::time::timeout(PATIENCE, lab.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap();
    assert_eq!((done.phase, done.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{done:?}");
    assert_eq!(lab.provider.tokens_fetched().await, 2, "one new token");
    assert!(arm.count("unauthorized").await >= 1, "the expired token was refused");
    assert_eq!(arm.count("powerOff").await, 1, "the power-off was sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_they_expire() {
    // Tokens live 4 s; Powerdeck uses one for half its life.
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "2", "--token-ttl", "4"]);
    let lab = Lab::new(&arm);
    let started = Instant::now();
    while lab.provider.tokens_fetched().await < 3 {
        lab.engine.full_sync(lab.account.id).await.unwrap();
        assert!(started.elapsed() < PATIENCE, "no renewal");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(started.elapsed() >= Duration::from_secs(4), "renewed at half-life, not on every call: {:?}", started.elapsed());
    assert_eq!(arm.count("unauthorized").await, 0, "never sent an expired token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_deallocate_is_caught_as_drift() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "2"]);
    let id = vm_in(&arm, "running", json!({})).await;
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    arm.set_state(&id, "deallocated").await;
    let s = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((s.changed, s.state_changes), (1, 1), "{s:?}");
    let vm = lab.vm(&id);
    assert_eq!(vm.state, PowerState::Deallocated);
    let last = &lab.engine.store().history(vm.id, 1).unwrap()[0];
    assert_eq!((last.from_state, last.to_state, last.source, last.operation_id), (Some(PowerState::Running), PowerState::Deallocated, Source::Sync, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernate_where_enabled_and_azures_refusal_where_not() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--transition-ms", "200"]);
    let able = vm_in(&arm, "running", json!({ "hibernation_enabled": true })).await;
    let unable = vm_in(&arm, "running", json!({ "hibernation_enabled": false })).await;
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let op = lab.run(&able, OpKind::Hibernate, OpOptions::default()).await;
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Deallocated)), "{op:?}");
    assert_eq!(arm.fake.control(&format!("vms/{able}"), None).await["hibernated"], true);
    let op = lab.run(&unable, OpKind::Hibernate, OpOptions::default()).await;
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::Refused)), "{op:?}");
    let error = op.error.unwrap();
    assert!(error.contains("OperationNotAllowed") && error.contains("hibernation is not enabled"), "{error}");
    assert_eq!(lab.vm(&unable).state, PowerState::Running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_ignores_the_shutdown_is_powered_off_hard_only_when_allowed() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--transition-ms", "200"]);
    let (a, b) = (vm_in(&arm, "running", json!({})).await, vm_in(&arm, "running", json!({})).await);
    for id in [&a, &b] {
        arm.fake.control(&format!("vms/{id}/stubborn"), Some(json!({ "on": true }))).await;
    }
    let lab = Lab::new(&arm);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let window = Some(Duration::from_secs(1));
    let op = lab.run(&a, OpKind::Stop, OpOptions { allow_force: true, graceful_timeout: window, ..OpOptions::default() }).await;
    assert_eq!((op.phase, op.new_state, op.shutdown_method), (OpPhase::Succeeded, Some(PowerState::Stopped), Some(ShutdownMethod::Forced)), "{op:?}");
    // ARM saw a graceful powerOff, preempted by one that skips the shutdown.
    let ops = arm.fake.control("operations", None).await;
    let mine: Vec<(Value, Value)> = ops
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["vm"].as_str().unwrap().to_lowercase() == a)
        .map(|o| (o["skip_shutdown"].clone(), o["status"].clone()))
        .collect();
    assert_eq!(mine, vec![(json!(false), json!("Canceled")), (json!(true), json!("Succeeded"))]);
    let op = lab.run(&b, OpKind::Stop, OpOptions { graceful_timeout: window, ..OpOptions::default() }).await;
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::GracefulIgnored)), "{op:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_is_the_async_operation_url_it_carries_nothing_secret_and_reset_is_refused() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--transition-ms", "600", "--retry-after", "2"]);
    let id = vm_in(&arm, "running", json!({})).await;
    let lab = Lab::new(&arm);
    let sub = lab.provider.submit(&id, PowerAction::RebootGuest).await.unwrap();
    let job = sub.job.expect("a 202 names its async operation");
    assert!(job.starts_with(&format!("{}/subscriptions/", arm.fake.url)) && job.contains("/operations/"), "{job}");
    assert!(!job.contains(SECRET) && !job.to_lowercase().contains("bearer"), "{job}");
    assert_eq!(lab.provider.poll_job(&job).await.unwrap(), JobStatus::Running { poll_after: Some(Duration::from_secs(2)) });
    let started = Instant::now();
    while lab.provider.poll_job(&job).await.unwrap() != JobStatus::Succeeded {
        assert!(started.elapsed() < PATIENCE, "the restart never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A handle naming another host is never polled (the bearer token would go there).
    let foreign = job.replace(&arm.fake.url, "https://attacker.example");
    assert!(matches!(lab.provider.poll_job(&foreign).await, Err(ProviderError::NotFound { .. })));
    // Azure has one reboot; a "reset" is refused, not faked.
    let err = lab.provider.submit(&id, PowerAction::Reset).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }) && err.to_string().contains("restart is its only reboot"), "{err}");
    assert!(!lab.provider.capabilities().reset && lab.provider.capabilities().deallocate);
}

/// A stand-in for the Azure CLI: prints `stdout` (or `stderr` and fails),
/// and appends its arguments to `args`.
fn fake_az(dir: &std::path::Path, stdout: &str, stderr: &str, code: i32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("az");
    let args = dir.join("args");
    std::fs::write(&path, format!("#!/bin/sh\necho \"$@\" >> '{}'\ncat <<'OUT'\n{stdout}\nOUT\ncat >&2 <<'ERR'\n{stderr}\nERR\nexit {code}\n", args.display()))
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_signs_in_with_nothing_stored_and_says_plainly_when_it_cannot() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "2"]);
    // What `az login` would hold: a token the fake's sign-in issued.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(arm.fake.ca.as_ref().unwrap()).unwrap()).unwrap())
        .build()
        .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", powerdeck_testkit::azure::CLIENT_ID),
        ("client_secret", SECRET),
        ("scope", "https://management.azure.com/.default"),
    ];
    let answer: Value = http.post(format!("{}/{TENANT}/oauth2/v2.0/token", arm.fake.url)).form(&form).send().await.unwrap().json().await.unwrap();
    let token = answer["access_token"].as_str().unwrap();
    let expires = chrono::Utc::now().timestamp() + 3600;
    let cli = AzureConfig { auth: AuthMode::AzureCli, tenant_id: None, client_id: None, ..arm.config() };

    let dir = tempfile::tempdir().unwrap();
    let az = fake_az(dir.path(), &format!(r#"{{"accessToken": "{token}", "expires_on": {expires}, "tokenType": "Bearer"}}"#), "", 0);
    let lab = Lab::with(cli.clone(), |cfg, calls| AzureProvider::new(cfg, None, calls).unwrap().with_az_program(&az));
    assert!(lab.account.secret.is_none(), "nothing secret is stored");
    assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().vms, 2);
    let asked = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(asked.trim(), "account get-access-token --output json --resource https://management.azure.com");

    let not_signed_in = fake_az(dir.path(), "", "ERROR: Please run 'az login' to setup account.", 1);
    let lab = Lab::with(cli.clone(), |cfg, calls| AzureProvider::new(cfg, None, calls).unwrap().with_az_program(&not_signed_in));
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "auth", "{err}");
    assert!(err.to_string().contains("the Azure CLI is not signed in on this machine; run 'az login' first"), "{err}");

    let lab = Lab::with(cli, |cfg, calls| AzureProvider::new(cfg, None, calls).unwrap().with_az_program("/nonexistent/bin/az"));
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert!(err.contains("the Azure CLI (az) is not installed on this machine or not on PATH"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fakes_certificate_is_trusted_only_through_the_accounts_ca_file() {
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1"]);
    let lab = Lab::with(AzureConfig { ca_file: None, ..arm.config() }, |cfg, calls| AzureProvider::new(cfg, Some(Secret::new(SECRET)), calls).unwrap());
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "untrusted", "{err}");
    assert!(err.to_string().contains("CA file"), "{err}");
    assert_eq!(arm.count("token").await, 0, "the secret never went to an untrusted host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_request_budget_spaces_reads_before_arm_has_to_throttle() {
    // 40 reads an hour: below a tenth of it left, reads go 300 ms apart.
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--reads-per-hour", "40"]);
    let id = truth(&arm).await.remove(0).0;
    let lab = Lab::new(&arm);
    let mut stamps = Vec::new();
    for _ in 0..39 {
        lab.provider.refresh(std::slice::from_ref(&id)).await.unwrap();
        stamps.push(Instant::now());
    }
    // The 38th and 39th went with 3 and 2 left: paced, the second a full spacing after the first.
    assert_eq!(lab.provider.paced_requests(), 2);
    let last = stamps[38] - stamps[37];
    assert!(last >= Duration::from_millis(290), "{last:?}");
    assert!(stamps.windows(2).take(30).all(|w| w[1] - w[0] < Duration::from_millis(290)), "a full budget costs no time");
    assert_eq!(arm.count("throttled").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arms_refusals_come_back_mapped_and_in_its_own_words() {
    const READER: &str = "0e0e0e0e-0000-4000-8000-00000000a2e1";
    let arm = AzureFake::start(&["--subscriptions", "1", "--vms", "1", "--read-only-client", &format!("{READER}:reader-secret")]);
    let id = vm_in(&arm, "running", json!({})).await;
    // A principal that may read but not act: the sync works, the request is refused by name.
    let reader = AzureConfig { client_id: Some(READER.into()), ..arm.config() };
    let lab = Lab::with(reader, |cfg, calls| AzureProvider::new(cfg, Some(Secret::new("reader-secret")), calls).unwrap());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let op = lab.run(&id, OpKind::Deallocate, OpOptions::default()).await;
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::Refused)), "{op:?}");
    assert!(op.error.as_deref().unwrap().contains("AuthorizationFailed: The client"), "{op:?}");
    assert!(lab.vms().iter().all(|v| !v.stale), "a refused request is not an outage");

    let lab = Lab::new(&arm);
    // Refused reads mean no inventory at all: an auth error.
    arm.fake
        .control("fail", Some(json!({ "action": "subscriptions", "immediate": true, "status": 403, "code": "AuthorizationFailed", "message": "No access." })))
        .await;
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "auth", "{err}");
    // Another operation in the way, a VM that is gone.
    arm.fake.control("fail", Some(json!({ "action": "start", "immediate": true, "status": 409, "code": "Conflict", "message": "The operation conflicts with another in progress." }))).await;
    let err = lab.provider.submit(&id, PowerAction::Start).await.unwrap_err();
    assert_eq!(err, ProviderError::InvalidState { message: "Conflict: The operation conflicts with another in progress.".into() });
    arm.fake.control_delete(&format!("vms/{id}")).await;
    let err = lab.provider.submit(&id, PowerAction::Start).await.unwrap_err();
    assert!(matches!(&err, ProviderError::NotFound { what } if what.contains("ResourceNotFound")), "{err:?}");
    // Restart of a stopped VM: Azure's OperationNotAllowed, as it says it.
    let stopped = vm_in(&arm, "stopped", json!({})).await;
    let err = lab.provider.submit(&stopped, PowerAction::RebootGuest).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidState { message } if message.starts_with("OperationNotAllowed: Operation 'restart' is not allowed")),
        "{err:?}"
    );
}
