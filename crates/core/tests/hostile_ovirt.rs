//! The hostile world for oVirt: the engine fake's `/_fake/hostile` modes.
//! Each ends in a clear error or honest staleness, stores nothing wrong,
//! leaks no secret, and takes bounded time.

#[path = "ovirt/lab.rs"]
mod lab;

use lab::{calls, fake, Lab, PASSWORD};
use powerdeck_core::model::PowerState;
use powerdeck_core::provider::ovirt::OvirtConfig;
use powerdeck_core::provider::Provider;
use powerdeck_testkit::failed_sync::assert_stale_and_failing;
use powerdeck_testkit::fake::Fake;
use serde_json::json;
use std::time::{Duration, Instant};

/// What must not change: each VM's id, name, state, raw state and facts.
fn picture(lab: &Lab) -> Vec<(String, String, String, String, String)> {
    let mut p: Vec<_> = lab.vms().into_iter().map(|v| (v.provider_id, v.name, v.state.to_string(), v.raw_state, format!("{:?}", v.facts))).collect();
    p.sort();
    p
}

async fn hostile(fake: &Fake, mode: Option<&str>) {
    fake.control("hostile", Some(json!({ "mode": mode }))).await;
}

/// A synced lab, then `mode` on: a full sync fails saying `says` within
/// `within`, and the store is as it was.
async fn refused(mode: &str, says: &[&str], within: Duration) -> (Fake, Lab, String) {
    let fake = fake(8, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let before = picture(&lab);
    hostile(&fake, Some(mode)).await;
    let started = Instant::now();
    let err = lab.engine.full_sync(lab.account.id).await.expect_err(mode).to_string();
    assert!(started.elapsed() < within, "{mode}: took {:?}", started.elapsed());
    for s in says {
        assert!(err.contains(s), "{mode}: '{s}' not in: {err}");
    }
    assert!(!err.contains(PASSWORD) && !err.contains("s3cret"), "{mode}: {err}");
    assert_eq!(picture(&lab), before, "{mode}: nothing stored");
    assert!(lab.vms().iter().all(|v| v.state != PowerState::Missing), "{mode}: no VM turned missing");
    (fake, lab, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_never_followed_not_even_by_the_login() {
    let (fake, lab, _) = refused("redirect", &["redirect"], Duration::from_secs(10)).await;
    // A provider that has no token yet: its password does not go to the other host either.
    let fresh = Lab::new(&fake);
    let err = fresh.engine.full_sync(fresh.account.id).await.unwrap_err().to_string();
    assert!(err.contains("redirect"), "{err}");
    assert_eq!(calls(&fake, "redirected_hit").await, 0, "nothing reached the address the redirect named");
    drop(lab);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_where_the_api_belongs_is_refused() {
    let (fake, lab, _) = refused("html", &["text/html", "endpoint"], Duration::from_secs(10)).await;
    let err = lab.provider.test_connection().await.unwrap_err().to_string();
    assert!(err.contains("text/html"), "a connection test does not call it connected: {err}");
    drop(fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_objects_answer_is_refused() {
    refused("wrong-root", &["<hosts> where <vms> was expected"], Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_about_other_vms_are_refused() {
    // Lists give each VM its neighbour's id: what the engine inlines (the
    // guest's reported devices) still names the real VM.
    let (fake, lab, _) = refused("wrong-ids", &["came with the devices of VM"], Duration::from_secs(10)).await;
    // A read of VM A that answers with VM B.
    let ids: Vec<String> = lab.vms().iter().map(|v| v.provider_id.clone()).collect();
    let err = lab.provider.refresh(&ids[..1]).await.unwrap_err().to_string();
    assert!(err.contains("answered about another"), "{err}");
    drop(fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_that_name_another_vm_are_refused() {
    let fake = fake(4, &[]);
    let lab = Lab::new(&fake);
    let first = fake.vms().await[0]["id"].as_str().unwrap().to_string();
    fake.control(&format!("vms/{first}/tags"), Some(json!({ "tags": ["env/prod"] }))).await;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let before = picture(&lab);
    assert!(before.iter().any(|p| p.4.contains("tag:env")), "tagged before: {before:?}");
    hostile(&fake, Some("foreign-tags")).await;
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert!(err.contains("came with the tags of VM"), "{err}");
    assert_eq!(picture(&lab), before, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_listed_twice_on_a_page_is_refused() {
    refused("duplicate-ids", &["listed twice on one page"], Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_never_end_are_never_asked_for() {
    // The fake answers a page past the end with page 1 again. Every page
    // Powerdeck asks for reaches back into what it read, so it never asks
    // for one past the end, and the listing is right.
    let fake = fake(25, &[]);
    let lab = Lab::with(OvirtConfig { page_size: 10, ..lab::config(&fake) }, PASSWORD, powerdeck_testkit::fast::fast_engine_config());
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let before = picture(&lab);
    hostile(&fake, Some("endless-paging")).await;
    fake.control("calls/reset", Some(json!({}))).await;
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((sync.vms, picture(&lab)), (25, before));
    assert!(sync.list_calls <= 5, "{sync:?}");
    assert_eq!(calls(&fake, "list_vms").await, sync.list_calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_or_is_huge_is_cut_off_at_once() {
    refused("slow-body", &["larger than"], Duration::from_secs(5)).await;
    refused("huge-body", &["larger than"], Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_not_waited_out_and_a_sane_one_is() {
    let (fake, lab, err) = refused("absurd-retry-after", &["throttling"], Duration::from_secs(5)).await;
    assert!(!err.contains("panicked"), "{err}");
    hostile(&fake, None).await;
    // The proxy's 503 with a short Retry-After: waited out, then fine.
    fake.control("throttle", Some(json!({ "count": 2, "retry_after": 1 }))).await;
    let started = Instant::now();
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(calls(&fake, "throttled").await, 2);
}

/// Apache's plain 503 (no Retry-After) while the engine behind it restarts:
/// a few are retried with backoff and the sync ends well; when it lasts,
/// the sync fails in words naming the account and the status, and no VM
/// changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_503_for_a_while_is_retried_and_one_that_lasts_fails_naming_the_account_and_its_vms_go_stale() {
    let fake = fake(8, &[]);
    let lab = Lab::new(&fake);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let before = picture(&lab);

    fake.control("throttle", Some(json!({ "count": 2, "retry_after": null }))).await;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let stats = lab.engine.runtime(lab.account.id).unwrap().stats().snapshot();
    assert_eq!((calls(&fake, "throttled").await, stats.retries, stats.throttled), (2, 2, 0), "tried again after a pause; not taken for throttling");

    // Lasting: every attempt the retry policy allows (three here), then the error.
    fake.control("throttle", Some(json!({ "count": 100, "retry_after": null }))).await;
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert_eq!(calls(&fake, "throttled").await, 2 + 3, "{err}");
    assert!(err.starts_with("account 'olvm':") && err.contains("503") && err.contains("temporarily unable"), "{err}");
    assert!(!err.contains(PASSWORD) && !err.contains("<"), "{err}");
    assert_eq!(picture(&lab), before, "nothing stored from the failed sync");
    assert_stale_and_failing(&lab.engine, lab.account.id, &lab.vms());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_that_echoes_the_password_never_gets_it_shown() {
    // With a token held: the 401 page carries the password, then the login does.
    let (fake, _lab, err) = refused("echo-secret", &["•••"], Duration::from_secs(10)).await;
    for form in ["p@ss", "p%40ss", "&amp;="] {
        assert!(!err.contains(form), "{err}");
    }
    // A first login.
    let fresh = Lab::new(&fake);
    let err = fresh.engine.full_sync(fresh.account.id).await.unwrap_err();
    assert_eq!(err.kind(), "auth");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("s3cret") && text.contains("with password '•••'"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_terminal_escapes_are_not_xml_and_are_never_stored() {
    refused("escape-names", &["not XML 1.0", "U+001B"], Duration::from_secs(10)).await;
}
