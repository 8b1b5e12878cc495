//! The hostile world (issue 12) for Azure: the ARM fake's hostile modes,
//! each against an account that has synced once. Every case ends in a
//! clear error (or honest staleness) within bounded time, stores nothing
//! wrong, follows no redirect, and never shows the client secret.

use powerdeck_core::model::{Account, Vm};
use powerdeck_core::provider::azure::AzureProvider;
use powerdeck_core::provider::Provider;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::Engine;
use powerdeck_testkit::azure::{AzureFake, SECRET};
use powerdeck_testkit::fast;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Longest any hostile case may take (the slow body: a 2 s request limit, three attempts).
const BOUND: Duration = Duration::from_secs(15);

struct Lab {
    dir: TempDir,
    engine: Arc<Engine>,
    account: Account,
    provider: Arc<AzureProvider>,
    arm: AzureFake,
}

impl Lab {
    /// An account on a fake with two subscriptions of three VMs, synced once.
    async fn synced() -> Self {
        let arm = AzureFake::start(&["--subscriptions", "2", "--vms", "3", "--page-size", "2"]);
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
        let cfg = arm.config();
        let account = engine.add_account("az", "azure", serde_json::to_value(&cfg).unwrap(), Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
        let provider = Arc::new(AzureProvider::with_timeout(&cfg, Some(Secret::new(SECRET)), engine.calls(account.id), Duration::from_secs(2)).unwrap());
        engine.set_provider(account.id, provider.clone());
        let lab = Self { dir, engine, account, provider, arm };
        assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().vms, 6);
        lab
    }

    fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    async fn hostile(&self, mode: Option<&str>) {
        self.arm.fake.control("hostile", Some(json!({ "mode": mode }))).await;
    }

    /// A full sync in `mode`: its error, checked to be quick, secret-free,
    /// and to have changed no VM (nor marked one stale when the server did answer).
    async fn sync_fails(&self, mode: &str, stale_ok: bool) -> String {
        let before = self.vms();
        self.hostile(Some(mode)).await;
        let t = Instant::now();
        let err = self.engine.full_sync(self.account.id).await.expect_err(mode);
        assert!(t.elapsed() < BOUND, "{mode}: took {:?}", t.elapsed());
        let text = format!("{err} {err:?}");
        assert!(!text.contains(SECRET), "{mode}: the secret was echoed: {text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{mode}: control characters in {text:?}");
        let after = self.vms();
        if stale_ok {
            let unstale = |vms: &[Vm]| vms.iter().map(|v| Vm { stale: false, ..v.clone() }).collect::<Vec<_>>();
            assert_eq!(unstale(&after), unstale(&before), "{mode}: only staleness may change");
        } else {
            assert_eq!(after, before, "{mode}: nothing changes");
        }
        self.hostile(None).await;
        err.to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_never_followed_neither_to_sign_in_nor_to_arm() {
    let lab = Lab::synced().await;
    let err = lab.sync_fails("redirect", false).await;
    assert!(err.contains("redirect"), "{err}");
    // A provider that has yet to sign in meets the redirect at the token endpoint.
    let fresh = AzureProvider::new(&lab.arm.config(), Some(Secret::new(SECRET)), powerdeck_core::provider::calls::Calls::direct()).unwrap();
    lab.hostile(Some("redirect")).await;
    let err = fresh.test_connection().await.unwrap_err().to_string();
    assert!(err.contains("redirect") && !err.contains(SECRET), "{err}");
    assert_eq!(lab.arm.count("redirected_hit").await, 0, "nothing (no token, no secret) went to the other host");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_another_answer_or_other_vms_change_nothing() {
    let lab = Lab::synced().await;
    let err = lab.sync_fails("html", false).await;
    assert!(err.contains("text/html"), "{err}");
    let err = lab.sync_fails("wrong-root", false).await;
    assert!(err.contains("has no 'value'") && err.contains("'subscriptions'"), "{err}");
    let err = lab.sync_fails("wrong-ids", false).await;
    assert!(err.contains("a VM of another subscription"), "{err}");
    // A state read answered about another VM is refused too.
    let id = lab.vms()[0].provider_id.clone();
    lab.hostile(Some("wrong-ids")).await;
    let err = lab.provider.refresh(std::slice::from_ref(&id)).await.unwrap_err().to_string();
    assert!(err.contains(&format!("asked about VM {id}, Resource Manager answered about")), "{err}");
    lab.hostile(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_listed_twice_is_kept_once() {
    let lab = Lab::synced().await;
    let before = lab.vms();
    lab.hostile(Some("duplicate-ids")).await;
    let s = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((s.vms, s.changed), (6, 0), "{s:?}");
    assert_eq!(lab.vms(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_paging_slow_and_huge_answers_end_within_bounds() {
    let lab = Lab::synced().await;
    let err = lab.sync_fails("endless-paging", false).await;
    assert!(err.contains("keeps answering with more pages of the subscription list"), "{err}");
    // The VMs' lists too (an account naming its subscriptions lists no subscriptions).
    let cfg = powerdeck_core::provider::azure::AzureConfig { subscriptions: lab.arm.subscriptions().await, ..lab.arm.config() };
    let named = AzureProvider::new(&cfg, Some(Secret::new(SECRET)), powerdeck_core::provider::calls::Calls::direct()).unwrap();
    lab.hostile(Some("endless-paging")).await;
    let t = Instant::now();
    let err = named.list_page(None).await.unwrap_err().to_string();
    assert!(err.contains("keeps answering with more pages for subscription") && t.elapsed() < BOUND, "{err} ({:?})", t.elapsed());
    lab.hostile(None).await;
    // A body one byte a second: the request limit ends it, and the VMs are stale, not wrong.
    let err = lab.sync_fails("slow-body", true).await;
    assert!(err.contains("did not answer within"), "{err}");
    assert!(lab.vms().iter().all(|v| v.stale), "honest staleness");
    let err = lab.sync_fails("huge-body", true).await;
    assert!(err.contains("larger than 64 MiB"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_not_waited_out() {
    let lab = Lab::synced().await;
    let err = lab.sync_fails("absurd-retry-after", false).await;
    assert!(err.contains("throttling"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_that_echoes_the_secret_is_an_auth_error_without_it() {
    let lab = Lab::synced().await;
    let err = lab.sync_fails("echo-secret", true).await;
    assert!(err.contains("client secret is wrong") && err.contains("AADSTS7000215"), "{err}");
    // Nothing with the secret landed in the data directory either.
    for entry in std::fs::read_dir(lab.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_terminal_escapes_are_refused_not_stored() {
    let lab = Lab::synced().await;
    let err = lab.sync_fails("escape-names", false).await;
    assert!(err.contains("is not a VM's resource id"), "{err}");
}
