//! The hostile world for CloudStack: the fake's `/_fake/hostile` modes, one
//! per case. Each ends in a clear error or honest staleness, with nothing
//! wrong stored, no secret shown, and in bounded time.

#[path = "cloudstack/support.rs"]
mod support;

use powerdeck_core::model::{OpKind, PowerState, Vm};
use powerdeck_core::provider::calls::Calls;
use powerdeck_core::provider::cloudstack::CloudStackProvider;
use powerdeck_core::provider::http::HttpOptions;
use powerdeck_core::provider::{PowerAction, Provider};
use powerdeck_core::secrets::Secret;
use powerdeck_core::OpOptions;
use powerdeck_testkit::fast::fast_engine_config;
use serde_json::json;
use std::time::{Duration, Instant};
use support::{CsFake, Lab};

/// A synced lab on a fresh fake; its VMs as stored.
async fn synced() -> (CsFake, Lab, Vec<Vm>) {
    let cs = CsFake::start(&["--vms", "12", "--stubborn-vms", "0"]).await;
    let lab = Lab::with(&cs, fast_engine_config(), |cs, calls| {
        // Two seconds: a body that never ends must not hold the test.
        let opts = HttpOptions { timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(2), ..HttpOptions::default() };
        CloudStackProvider::with_http(&cs.config(), Some(Secret::new(&cs.secret)), calls, opts).unwrap()
    });
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let before = lab.vms();
    assert_eq!(before.len(), 12);
    (cs, lab, before)
}

async fn hostile(cs: &CsFake, mode: &str) {
    cs.fake.control("hostile", Some(json!({ "mode": mode }))).await;
}

/// A full sync that fails; its message, after checking it took less than `within`.
async fn failed_sync(lab: &Lab, within: Duration) -> String {
    let started = Instant::now();
    let err = lab.engine.full_sync(lab.account.id).await.expect_err("the hostile answer is refused").to_string();
    assert!(started.elapsed() < within, "took {:?}: {err}", started.elapsed());
    err
}

/// What is stored, ignoring when it was last seen or marked stale.
fn shown(vms: &[Vm]) -> Vec<(String, String, PowerState, String)> {
    vms.iter().map(|v| (v.provider_id.clone(), v.name.clone(), v.state, v.raw_state.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_refused_and_never_followed() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "redirect").await;
    let err = failed_sync(&lab, Duration::from_secs(5)).await;
    assert!(err.contains("HTTP 307") && err.contains("redirect"), "{err}");
    assert_eq!(shown(&lab.vms()), shown(&before));
    assert!(cs.calls().await.get("redirected_hit").is_none(), "nothing reached the host the redirect named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_or_another_commands_answer_changes_nothing() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "html").await;
    let err = failed_sync(&lab, Duration::from_secs(5)).await;
    assert!(err.contains("text/html") && err.contains("endpoint"), "{err}");
    hostile(&cs, "wrong-root").await;
    let err = failed_sync(&lab, Duration::from_secs(5)).await;
    assert!(err.contains("listhostsresponse instead of listvirtualmachinesresponse"), "{err}");
    assert_eq!(shown(&lab.vms()), shown(&before), "no VM turned missing");
    // A power request answered with another command's answer is not taken as accepted.
    let provider = cs.provider(Calls::direct());
    let err = provider.submit(&before[0].provider_id, PowerAction::Start).await.unwrap_err().to_string();
    assert!(err.contains("instead of startvirtualmachineresponse"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_about_other_vms_or_jobs_are_never_taken_for_the_ones_asked() {
    let (cs, lab, before) = synced().await;
    let provider = cs.provider(Calls::direct());
    let running = before.iter().find(|v| v.state == PowerState::Running).unwrap().clone();
    let job = provider.submit(&running.provider_id, PowerAction::ShutdownGuest).await.unwrap().job.unwrap();
    let other = before.iter().find(|v| v.state == PowerState::Stopped).unwrap().clone();
    hostile(&cs, "wrong-ids").await;
    // The state read of one VM answers with another: the operation cannot be planned.
    let err = lab.engine.request(other.id, OpKind::Start, OpOptions::default()).await.unwrap_err().to_string();
    assert!(err.contains("not found"), "{err}");
    let err = provider.poll_job(&job).await.unwrap_err().to_string();
    assert!(err.contains("answered about job"), "{err}");
    let stored = lab.vms();
    assert_eq!(shown(&stored), shown(&before), "nothing was stored about the wrong VMs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_listed_twice_changes_nothing() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "duplicate-ids").await;
    let err = failed_sync(&lab, Duration::from_secs(5)).await;
    assert!(err.contains("listed twice"), "{err}");
    assert_eq!(shown(&lab.vms()), shown(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_paging_is_cut_short() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "endless-paging").await;
    cs.reset_calls().await;
    let err = failed_sync(&lab, Duration::from_secs(15)).await;
    assert!(err.contains("keeps offering more pages"), "{err}");
    assert!(cs.calls().await["listVirtualMachines"].as_u64().unwrap() <= 4);
    assert_eq!(shown(&lab.vms()), shown(&before));
    // Jobs and events page endlessly too: bounded, and a feed asks for a full sync.
    let provider = cs.provider(Calls::direct());
    let statuses = provider.poll_jobs(&["0f0e0d0c-0b0a-4909-8807-060504030201".into(), "0f0e0d0c-0b0a-4909-8807-060504030202".into()]).await;
    assert!(statuses.iter().all(|(_, s)| s.is_err()), "{statuses:?}");
    let batch = provider.watch(Some("v1|2025-01-01 00:00:00|x"), Duration::ZERO).await.unwrap();
    assert!(batch.resync_needed && batch.changes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_or_never_fits_is_given_up_on() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "slow-body").await;
    // The fake declares a 1 GB body before dribbling it: refused on sight,
    // and the 2 s timeout is there for a server that declares nothing.
    let err = failed_sync(&lab, Duration::from_secs(15)).await;
    assert!(err.contains("did not answer within") || err.contains("larger than 64 MiB"), "{err}");
    hostile(&cs, "huge-body").await;
    let err = failed_sync(&lab, Duration::from_secs(5)).await;
    assert!(err.contains("larger than 64 MiB"), "{err}");
    assert_eq!(shown(&lab.vms()), shown(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_wait_is_reported_not_waited() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "absurd-retry-after").await;
    let err = failed_sync(&lab, Duration::from_secs(2)).await;
    assert!(err.contains("throttling") && err.contains("86400"), "{err}");
    assert_eq!(shown(&lab.vms()), shown(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_echoed_by_the_server_is_never_shown() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "echo-secret").await;
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "auth");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(&cs.secret) && text.contains("***"), "{text}");
    assert_eq!(shown(&lab.vms()), shown(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_in_names_are_not_stored() {
    let (cs, lab, before) = synced().await;
    hostile(&cs, "escape-names").await;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let after = lab.vms();
    for (was, now) in before.iter().zip(&after) {
        assert_eq!(now.name, was.name, "the name without its escapes");
        let all = format!("{} {:?} {:?}", now.name, now.facts, now.location);
        assert!(!all.chars().any(|c| c.is_control()), "{all:?}");
    }
}
