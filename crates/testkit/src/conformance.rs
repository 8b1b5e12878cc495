//! The provider conformance suite (like object_store's `integration.rs`):
//! one set of checks every provider passes against its test peer (the demo
//! fleet, moto, vcsim, and each new provider's fake). A new provider
//! implements [`Peer`] for its peer and calls [`run`]; the checks are the
//! checklist of what "a provider" means to the engine.

use async_trait::async_trait;
use powerdeck_core::model::{Account, OpKind, OpPhase, PowerState};
use powerdeck_core::provider::calls::Calls;
use powerdeck_core::provider::Provider;
use powerdeck_core::secrets::SecretRef;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{CoreError, Engine, OpOptions, Workers};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(60);

/// What the suite needs to know about a provider and its test peer.
#[async_trait]
pub trait Peer: Send + Sync {
    /// The account kind and the settings stored for it.
    fn account(&self) -> (&'static str, serde_json::Value);
    /// The provider on the peer, with working credentials, making its
    /// requests through `calls`.
    fn provider(&self, calls: Arc<Calls>) -> Arc<dyn Provider>;
    /// The provider with a wrong secret, and that secret. `None` for a
    /// provider without one (the demo fleet). May change the peer for good
    /// (moto's IAM checks): the suite asks for it last.
    async fn provider_with_wrong_secret(&self, calls: Arc<Calls>) -> Option<(Arc<dyn Provider>, String)>;
    /// The VM ids the peer holds, as its own client (the witness) sees them.
    async fn truth(&self) -> Vec<String>;
    /// An id in the provider's own format that no VM has.
    fn unknown_id(&self) -> String;
    /// The operations it supports: each with the state a VM must be in
    /// first, and the options to ask with.
    fn actions(&self) -> Vec<(OpKind, PowerState, OpOptions)>;
    /// Operations it does not support (refused before anything is sent).
    fn unsupported(&self) -> Vec<OpKind>;
    /// Take the peer down, or bring it back.
    async fn set_reachable(&self, up: bool);
    /// Change a VM's power state behind Powerdeck's back (as an admin in the
    /// vendor's console would): to `Running` or `Stopped`.
    async fn change_out_of_band(&self, provider_id: &str, to: PowerState);
    /// A change-feed cursor the peer no longer knows (peers with a feed).
    fn lost_cursor(&self) -> Option<String>;
}

/// An engine with one account whose provider is the peer's.
pub struct Lab {
    _dir: tempfile_dir::Dir,
    pub engine: Arc<Engine>,
    pub account: Account,
}

mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Lab {
    pub fn new(peer: &dyn Peer) -> Self {
        Self::with(peer, |calls| peer.provider(calls))
    }

    fn with(peer: &dyn Peer, provider: impl FnOnce(Arc<Calls>) -> Arc<dyn Provider>) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!("powerdeck-conformance-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Arc::new(Store::open(&dir.join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, &dir, crate::fast::fast_engine_config()).unwrap();
        let (kind, config) = peer.account();
        // The secret is in the provider the peer builds; the row only needs a
        // source that resolves.
        let account = engine.add_account("peer", kind, config, Some((SecretRef::env("PATH").unwrap(), None))).unwrap();
        engine.set_provider(account.id, provider(engine.calls(account.id)));
        Self { _dir: tempfile_dir::Dir(dir), engine, account }
    }

    pub fn vms(&self) -> Vec<powerdeck_core::model::Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }
}

/// Run every check against the peer, in an order that leaves destructive
/// ones (an outage, moto's IAM switched on) for last.
pub async fn run(peer: &dyn Peer) {
    let lab = Lab::new(peer);
    inventory_pages_to_the_end_with_unique_ids(peer, &lab).await;
    refresh_ignores_unknown_ids(peer, &lab).await;
    every_supported_action_is_verified_and_others_refused(peer, &lab).await;
    change_feed_resumes_and_asks_for_a_resync_when_lost(peer, &lab).await;
    an_outage_while_tracking_is_waited_out_and_the_operation_verified(peer).await;
    an_outage_marks_vms_stale_and_recovery_clears_it(peer, &lab).await;
    a_wrong_secret_is_an_auth_error_that_never_echoes_it(peer).await;
}

pub async fn inventory_pages_to_the_end_with_unique_ids(peer: &dyn Peer, lab: &Lab) {
    let provider = lab.engine.runtime(lab.account.id).unwrap().provider.clone();
    let (mut ids, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let page = provider.list_page(token.as_deref()).await.expect("a page of the inventory");
        ids.extend(page.vms.into_iter().map(|o| o.provider_id));
        pages += 1;
        assert!(pages < 10_000, "the inventory never ends");
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an id was listed twice: {ids:?}");
    let truth: HashSet<String> = peer.truth().await.into_iter().collect();
    assert_eq!(unique.into_iter().cloned().collect::<HashSet<_>>(), truth, "the inventory is what the peer's own client sees");
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(sync.vms, truth.len());
}

pub async fn refresh_ignores_unknown_ids(peer: &dyn Peer, lab: &Lab) {
    let provider = lab.engine.runtime(lab.account.id).unwrap().provider.clone();
    let known: Vec<String> = lab.vms().into_iter().take(3).map(|v| v.provider_id).collect();
    let mut asked = known.clone();
    asked.insert(1, peer.unknown_id());
    let got = provider.refresh(&asked).await.expect("an unknown id does not fail the batch");
    let got: HashSet<String> = got.into_iter().map(|o| o.provider_id).collect();
    assert_eq!(got, known.into_iter().collect::<HashSet<_>>(), "exactly the known VMs are answered");
}

pub async fn every_supported_action_is_verified_and_others_refused(peer: &dyn Peer, lab: &Lab) {
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let mut used = HashSet::new();
    for (kind, from, opts) in peer.actions() {
        let vm = vm_in(peer, lab, from, &used).await;
        used.insert(vm.id);
        let op = lab.engine.request(vm.id, kind, opts).await.unwrap_or_else(|e| panic!("{kind} of {}: {e}", vm.name));
        let done = tokio::time::timeout(PATIENCE, lab.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap();
        assert_eq!(done.phase, OpPhase::Succeeded, "{kind} from {from}: {done:?}");
        assert!(done.new_state.is_some_and(|s| kind.reached_by(s)), "{kind} ended verified in its target state: {done:?}");
    }
    let any = lab.vms().remove(0);
    for kind in peer.unsupported() {
        let err = lab.engine.request(any.id, kind, OpOptions::default()).await.expect_err("refused");
        assert!(matches!(err, CoreError::Unsupported { .. }), "{kind}: {err}");
    }
}

/// A VM in `state` not used yet; one is put there out of band if need be.
async fn vm_in(peer: &dyn Peer, lab: &Lab, state: PowerState, used: &HashSet<i64>) -> powerdeck_core::model::Vm {
    lab.engine.full_sync(lab.account.id).await.unwrap();
    if let Some(vm) = lab.vms().into_iter().find(|v| v.state == state && !used.contains(&v.id)) {
        return vm;
    }
    let vm = lab.vms().into_iter().find(|v| !used.contains(&v.id) && !v.state.is_transitional()).expect("a VM to use");
    peer.change_out_of_band(&vm.provider_id, state).await;
    let started = Instant::now();
    loop {
        lab.engine.full_sync(lab.account.id).await.unwrap();
        let now = lab.engine.store().vm(vm.id).unwrap().unwrap();
        if now.state == state {
            return now;
        }
        assert!(started.elapsed() < PATIENCE, "the peer never showed {} as {state}", vm.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn change_feed_resumes_and_asks_for_a_resync_when_lost(peer: &dyn Peer, lab: &Lab) {
    let provider = lab.engine.runtime(lab.account.id).unwrap().provider.clone();
    if !provider.capabilities().change_feed {
        return;
    }
    let wait = Duration::from_secs(1);
    let mut cursor = provider.watch(None, wait).await.expect("the feed starts").cursor;
    // Drain what the start may carry.
    cursor = provider.watch(Some(&cursor), Duration::from_millis(10)).await.unwrap().cursor;
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let vm = lab.vms().into_iter().find(|v| v.state == PowerState::Running).expect("a running VM");
    peer.change_out_of_band(&vm.provider_id, PowerState::Stopped).await;
    let started = Instant::now();
    loop {
        let batch = provider.watch(Some(&cursor), wait).await.expect("the feed resumes from its cursor");
        assert!(!batch.resync_needed, "a live cursor needs no resync");
        cursor = batch.cursor;
        if batch.changes.iter().any(|o| o.provider_id == vm.provider_id && o.state.is_off()) {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the feed never reported the out-of-band stop");
    }
    if let Some(lost) = peer.lost_cursor() {
        let batch = provider.watch(Some(&lost), wait).await.expect("a lost cursor is not an error");
        assert!(batch.resync_needed, "a lost cursor asks for a full sync");
    }
}

/// The provider goes away after it took a power request, while the
/// operation is tracked, and comes back: the operation waits it out (its
/// reads fail and the account turns unreachable, but it neither fails nor
/// sends anything again) and ends verified. The driver starts only once
/// the provider is down, so the tracking is sure to meet the outage.
pub async fn an_outage_while_tracking_is_waited_out_and_the_operation_verified(peer: &dyn Peer) {
    let lab = Lab::new(peer);
    let (kind, from, opts) = peer
        .actions()
        .into_iter()
        .find(|(k, ..)| *k == OpKind::ForceStop)
        .or_else(|| peer.actions().into_iter().find(|(k, ..)| *k == OpKind::Stop))
        .expect("a stop this peer supports");
    let vm = vm_in(peer, &lab, from, &HashSet::new()).await;
    let stats = || lab.engine.runtime(lab.account.id).unwrap().stats().snapshot();
    let op = lab.engine.request(vm.id, kind, opts).await.unwrap_or_else(|e| panic!("{kind} of {}: {e}", vm.name));
    assert_eq!(stats().submit, 1, "{op:?}");
    peer.set_reachable(false).await;
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let started = Instant::now();
    while lab.engine.account_health(lab.account.id).status != "unreachable" {
        assert!(started.elapsed() < PATIENCE, "the tracking never met the outage");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let during = lab.engine.store().operation(op.id).unwrap().unwrap();
    assert!(!during.phase.is_terminal(), "an outage ends nothing by itself: {during:?}");
    peer.set_reachable(true).await;
    let done = tokio::time::timeout(PATIENCE, lab.engine.wait(op.id, |_| {})).await.expect("the operation ends").unwrap();
    assert_eq!(done.phase, OpPhase::Succeeded, "{kind} after an outage: {done:?}");
    assert!(done.new_state.is_some_and(|s| kind.reached_by(s)), "verified in its target state: {done:?}");
    assert_eq!(stats().submit, 1, "nothing was sent again: {done:?}");
    assert_eq!(lab.engine.account_health(lab.account.id).status, "ok", "healthy again once it answered");
}

pub async fn an_outage_marks_vms_stale_and_recovery_clears_it(peer: &dyn Peer, lab: &Lab) {
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.engine.account_health(lab.account.id).status, "ok");
    let mut events = lab.engine.bus().subscribe();
    peer.set_reachable(false).await;
    let err = lab.engine.full_sync(lab.account.id).await.expect_err("the peer is down");
    assert!(matches!(err.kind(), "unreachable" | "timeout" | "outcome-unknown"), "{err}");
    assert!(lab.vms().iter().filter(|v| v.state != PowerState::Missing).all(|v| v.stale), "every VM is flagged stale, never shown as current");
    let health = lab.engine.account_health(lab.account.id);
    assert!(health.is_broken() && health.status == "unreachable", "{health:?}");
    assert!(health.since.is_some() && health.last_error.is_some(), "{health:?}");
    let told = std::iter::from_fn(|| events.try_recv().ok()).find(|e| matches!(e, powerdeck_core::Event::AccountHealth { .. }));
    assert!(told.is_some(), "the outage is announced once, as a change of the account's health");
    peer.set_reachable(true).await;
    let started = Instant::now();
    while lab.engine.full_sync(lab.account.id).await.is_err() {
        assert!(started.elapsed() < PATIENCE, "the peer never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(lab.vms().iter().all(|v| !v.stale), "fresh again after recovery");
    let health = lab.engine.account_health(lab.account.id);
    assert_eq!(health.status, "ok", "healthy again after recovery");
    assert!(health.last_error.is_some(), "the last failure is kept after recovery, for the accounts table");
}

pub async fn a_wrong_secret_is_an_auth_error_that_never_echoes_it(peer: &dyn Peer) {
    let lab = Lab::new(peer);
    let Some((wrong, secret)) = peer.provider_with_wrong_secret(lab.engine.calls(lab.account.id)).await else { return };
    lab.engine.set_provider(lab.account.id, wrong);
    let err = lab.engine.full_sync(lab.account.id).await.expect_err("a wrong secret is refused");
    assert_eq!(err.kind(), "auth", "{err}");
    assert!(!format!("{err} {err:?}").contains(&secret), "the secret is never echoed: {err}");
    let health = lab.engine.account_health(lab.account.id);
    assert_eq!(health.status, "auth", "{health:?}");
    assert!(!format!("{health:?}").contains(&secret), "nor kept in the account's health");
    assert!(lab.vms().is_empty(), "nothing is stored from a refused call");
}
