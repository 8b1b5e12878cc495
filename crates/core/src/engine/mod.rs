//! The engine: accounts and their providers, the operation driver, the sync
//! tiers and change feeds. Front ends (CLI, desktop app) hold an
//! `Arc<Engine>` and talk to it; they never touch providers directly.

mod bulk;
pub mod config;
mod diagnostics;
mod feed;
mod follow;
mod groups;
pub mod health;
mod ops;
pub mod published_ca;
pub mod report;
mod runbooks;
mod schedules;
mod sync;
mod timeline;

pub use bulk::{BulkPlan, BulkResult};
pub use config::EngineConfig;
pub use groups::{GroupNow, Members};
pub use ops::OpOptions;
pub use schedules::{FiringView, Resolved, ScheduleView, Tick};
pub use sync::SyncSummary;
pub use timeline::TimelineBucket;

use crate::error::CoreError;
use crate::events::EventBus;
use crate::model::{now_ms, Account, Vm};
use crate::provider::calls::{CallStats, Calls};
use crate::provider::{registry, sim::SimConfig, Capabilities, Provider, ProviderError};
use crate::reconcile;
use crate::secrets::SecretRef;
use crate::store::Store;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Which background loops to run for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// Tracks operations in flight (and adopts orphaned ones).
    pub driver: bool,
    /// Transitional, watched and full-inventory polling.
    pub tiers: bool,
    /// The provider's change feed, where it has one.
    pub feed: bool,
    /// The runbook runner (one per process, not per account).
    pub runbooks: bool,
    /// The scheduler (one per process; it needs the runbook runner for
    /// schedules that run a runbook).
    pub schedules: bool,
}

impl Workers {
    pub const ALL: Workers = Workers { driver: true, tiers: true, feed: true, runbooks: true, schedules: true };
    pub const NONE: Workers = Workers { driver: false, tiers: false, feed: false, runbooks: false, schedules: false };
    pub const DRIVER: Workers = Workers { driver: true, tiers: false, feed: false, runbooks: false, schedules: false };
}

/// The kinds of background loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loop {
    Driver,
    Tiers,
    Feed,
    Follow,
    Runbooks,
    Schedules,
}

/// A background loop: the account it serves (`None`: the process), which
/// loop it is, and its task.
type Task = (Option<i64>, Loop, JoinHandle<()>);

/// One account's live parts.
pub struct AccountRuntime {
    pub account: Account,
    pub provider: Arc<dyn Provider>,
    /// The account's share of the shared call layer (its buckets and counts).
    pub calls: Arc<Calls>,
    pub caps: Capabilities,
    wake_driver: Notify,
    wake_sync: Notify,
    /// VMs whose operation is still being submitted from this process (set
    /// before the journal row exists, so the driver never races the sender).
    submitting: Mutex<HashSet<i64>>,
    /// Operations this process just submitted, for its driver to take up.
    handed_over: Mutex<Vec<crate::store::OpRecord>>,
    /// A cancel or "force now" was asked in this process: look at once.
    requests_pending: AtomicBool,
    /// Set when the provider could not be reached and the account's VMs were
    /// marked stale; the next successful call of any loop clears it and asks
    /// for a full sync, so VMs turn fresh as soon as the provider is back.
    unreachable: AtomicBool,
    /// Whether the provider answers, as this process sees it (health.rs).
    health: Mutex<health::Health>,
}

impl AccountRuntime {
    pub fn stats(&self) -> Arc<CallStats> {
        self.calls.stats()
    }

    fn hand_over(&self, rec: crate::store::OpRecord) {
        self.handed_over.lock().unwrap().push(rec);
    }

    fn take_handed_over(&self) -> Vec<crate::store::OpRecord> {
        std::mem::take(&mut *self.handed_over.lock().unwrap())
    }
}

pub struct Engine {
    store: Arc<Store>,
    bus: EventBus,
    cfg: EngineConfig,
    data_dir: PathBuf,
    /// Identifies this process as the owner of the operations it tracks.
    owner: String,
    pid: i64,
    runtimes: Mutex<HashMap<i64, Arc<AccountRuntime>>>,
    overrides: Mutex<HashMap<i64, Arc<dyn Provider>>>,
    /// Each account's call layer, kept across provider rebuilds (an edit)
    /// so its rate limit and counts carry on.
    calls: Mutex<HashMap<i64, Arc<Calls>>>,
    /// Background loops: the account each serves (`None`: the process),
    /// which loop it is, and its task.
    tasks: Mutex<Vec<Task>>,
    /// Polling and change feeds stand still (operations in flight are still
    /// tracked to their end: pausing must never strand one).
    paused: AtomicBool,
    /// Why the stored settings were not used, if they were not.
    config_warning: Mutex<Option<String>>,
    /// The last time this process's operation tracking could not write to
    /// the store, and why ("database or disk is full"): a waiter past an
    /// operation's deadline says so instead of waiting on.
    store_failure: Mutex<Option<(crate::model::Millis, String)>>,
    /// Something about a runbook run changed here: look at once.
    wake_runner: Notify,
    /// Schedules changed here: look at once.
    wake_scheduler: Notify,
    sched: Mutex<schedules::SchedulerState>,
}

impl Engine {
    /// Open the data directory: the store, the settings, and the demo
    /// account on first run.
    pub fn open(data_dir: &Path) -> Result<Arc<Self>, CoreError> {
        let store = Arc::new(Store::open(&crate::paths::db_path(data_dir))?);
        let (cfg, warning) = EngineConfig::from_stored(store.setting(config::SETTINGS_KEY)?.as_deref());
        if let Some(w) = &warning {
            tracing::warn!("{w}");
        }
        let engine = Self::with_store(store, data_dir, cfg)?;
        *engine.config_warning.lock().unwrap() = warning;
        engine.ensure_demo_account()?;
        Ok(engine)
    }

    /// The engine over a data directory that may not be written: reads
    /// work (lists, history, reports); anything that would change the store
    /// is refused with the reason. Nothing is started or created.
    pub fn open_read_only(data_dir: &Path) -> Result<Arc<Self>, CoreError> {
        let store = Arc::new(Store::open_read_only(&crate::paths::db_path(data_dir))?);
        let (cfg, warning) = EngineConfig::from_stored(store.setting(config::SETTINGS_KEY)?.as_deref());
        let engine = Self::with_store(store, data_dir, cfg)?;
        *engine.config_warning.lock().unwrap() = warning;
        Ok(engine)
    }

    pub fn with_store(store: Arc<Store>, data_dir: &Path, cfg: EngineConfig) -> Result<Arc<Self>, CoreError> {
        cfg.validate().map_err(CoreError::Invalid)?;
        Ok(Arc::new(Self {
            store,
            bus: EventBus::default(),
            cfg,
            data_dir: data_dir.to_path_buf(),
            owner: uuid::Uuid::new_v4().to_string(),
            pid: i64::from(std::process::id()),
            runtimes: Mutex::default(),
            overrides: Mutex::default(),
            calls: Mutex::default(),
            tasks: Mutex::default(),
            paused: AtomicBool::new(false),
            config_warning: Mutex::default(),
            store_failure: Mutex::default(),
            wake_runner: Notify::new(),
            wake_scheduler: Notify::new(),
            sched: Mutex::default(),
        }))
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
    pub fn bus(&self) -> &EventBus {
        &self.bus
    }
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }
    /// Set when the stored settings were unusable and the defaults apply.
    pub fn config_warning(&self) -> Option<String> {
        self.config_warning.lock().unwrap().clone()
    }
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Persist new settings; they apply to engines opened afterwards.
    pub fn save_config(store: &Store, cfg: &EngineConfig) -> Result<(), CoreError> {
        cfg.validate().map_err(CoreError::Invalid)?;
        store.set_setting(config::SETTINGS_KEY, &serde_json::to_string(cfg).expect("config serializes"))?;
        Ok(())
    }

    fn ensure_demo_account(&self) -> Result<(), CoreError> {
        if self.store.setting("demo_seeded")?.is_some() {
            return Ok(());
        }
        if self.store.accounts()?.is_empty() {
            let cfg = serde_json::to_value(SimConfig::default()).expect("config serializes");
            self.store.insert_account("demo", crate::provider::sim::KIND.name, &cfg, None, true)?;
        }
        self.store.set_setting("demo_seeded", &now_ms().to_string())?;
        Ok(())
    }

    /// The account's share of the shared call layer. A provider built by
    /// hand for [`Engine::set_provider`] should make its requests through it.
    pub fn calls(&self, account_id: i64) -> Arc<Calls> {
        self.calls.lock().unwrap().entry(account_id).or_insert_with(|| Calls::new(self.cfg.retry.clone(), &self.cfg.rate_limit)).clone()
    }

    /// Use this provider for an account instead of building one from its
    /// config (embedding, tests). Must be called before the account is used.
    pub fn set_provider(&self, account_id: i64, provider: Arc<dyn Provider>) {
        self.overrides.lock().unwrap().insert(account_id, provider);
        self.runtimes.lock().unwrap().remove(&account_id);
    }

    pub fn account(&self, name: &str) -> Result<Account, CoreError> {
        self.store.account_by_name(name)?.ok_or_else(|| CoreError::UnknownAccount(name.into()))
    }

    /// The account's runtime, building its provider on first use.
    pub fn runtime(&self, account_id: i64) -> Result<Arc<AccountRuntime>, CoreError> {
        if let Some(rt) = self.runtimes.lock().unwrap().get(&account_id) {
            return Ok(rt.clone());
        }
        let account = self.store.account(account_id)?.ok_or_else(|| CoreError::UnknownAccount(format!("#{account_id}")))?;
        let calls = self.calls(account_id);
        let overridden = self.overrides.lock().unwrap().get(&account_id).cloned();
        let provider = match overridden {
            Some(p) => p,
            None => registry::build(&account, &self.data_dir, calls.clone())?,
        };
        let rt = Arc::new(AccountRuntime {
            caps: provider.capabilities(),
            account,
            provider,
            calls,
            wake_driver: Notify::new(),
            wake_sync: Notify::new(),
            submitting: Mutex::default(),
            handed_over: Mutex::default(),
            requests_pending: AtomicBool::new(false),
            unreachable: AtomicBool::new(false),
            health: Mutex::new(health::Health::default()),
        });
        Ok(self.runtimes.lock().unwrap().entry(account_id).or_insert(rt).clone())
    }

    /// A provider call failed: if the provider is unreachable, keep every VM's
    /// last state but flag it stale (never shown as current).
    pub(crate) fn note_failure(&self, rt: &AccountRuntime, e: &ProviderError) {
        self.note_account_failure(rt, e, health::status_of(e), e.means_unreachable());
    }

    /// An inventory read failed. A read is about the account, not one VM,
    /// so a server error that outlasted every retry (a 5xx page, CloudStack's
    /// 530) says the provider cannot serve it now: its VMs go stale as in an
    /// outage, and its health says the provider is failing.
    pub(crate) fn note_read_failure(&self, rt: &AccountRuntime, e: &ProviderError) {
        if matches!(e, ProviderError::Provider { retryable: true, .. }) {
            self.note_account_failure(rt, e, Some(health::FAILING), true);
        } else {
            self.note_failure(rt, e);
        }
    }

    fn note_account_failure(&self, rt: &AccountRuntime, e: &ProviderError, status: Option<&'static str>, stale: bool) {
        if let Some(status) = status {
            self.health_failed(rt, status, e);
        }
        if stale {
            rt.unreachable.store(true, Ordering::Relaxed);
            if let Err(err) = reconcile::mark_stale(&self.store, &self.bus, rt.account.id, &e.to_string()) {
                tracing::warn!(account = %rt.account.name, error = %err, "could not mark VMs stale");
            }
        }
    }

    /// A provider call succeeded: record the contact, and after an outage ask
    /// for a full sync at once instead of waiting for the next backoff.
    pub(crate) fn note_contact(&self, rt: &AccountRuntime) -> Result<(), CoreError> {
        self.health_ok(rt);
        self.store.touch_contact(rt.account.id, now_ms())?;
        if rt.unreachable.swap(false, Ordering::Relaxed) {
            rt.wake_sync.notify_one();
        }
        Ok(())
    }

    /// Start background loops for the given accounts (all when `None`).
    pub fn start(self: &Arc<Self>, workers: Workers, accounts: Option<&[i64]>) -> Result<(), CoreError> {
        let ids: Vec<i64> = match accounts {
            Some(ids) => ids.to_vec(),
            None => self.store.accounts()?.into_iter().map(|a| a.id).collect(),
        };
        let mut tasks = self.tasks.lock().unwrap();
        // One loop of each kind per account, however often start is called:
        // two drivers would race on the same operations.
        tasks.retain(|(_, _, t)| !t.is_finished());
        if workers.runbooks && !tasks.iter().any(|(_, k, _)| *k == Loop::Runbooks) {
            tasks.push((None, Loop::Runbooks, tokio::spawn(runbooks::runbook_loop(self.clone()))));
        }
        if workers.schedules && !tasks.iter().any(|(_, k, _)| *k == Loop::Schedules) {
            tasks.push((None, Loop::Schedules, tokio::spawn(schedules::schedule_loop(self.clone()))));
        }
        let running = |tasks: &Vec<Task>, id: i64, kind: Loop| tasks.iter().any(|(a, k, _)| *a == Some(id) && *k == kind);
        for id in ids {
            let rt = match self.runtime(id) {
                Ok(rt) => rt,
                Err(e) => {
                    // One broken account must not keep the others from running.
                    let name = self.store.account(id)?.map(|a| a.name).unwrap_or_default();
                    self.bus.publish(crate::events::Event::AccountError { account_id: id, account: name, message: e.to_string() });
                    continue;
                }
            };
            if workers.driver && !running(&tasks, id, Loop::Driver) {
                tasks.push((Some(id), Loop::Driver, tokio::spawn(ops::driver_loop(self.clone(), rt.clone()))));
            }
            if workers.tiers && !running(&tasks, id, Loop::Tiers) {
                tasks.push((Some(id), Loop::Tiers, tokio::spawn(sync::tiers_loop(self.clone(), rt.clone()))));
            }
            if workers.feed && rt.caps.change_feed && !running(&tasks, id, Loop::Feed) {
                tasks.push((Some(id), Loop::Feed, tokio::spawn(feed::feed_loop(self.clone(), rt.clone()))));
            }
        }
        Ok(())
    }

    /// Publish changes other processes (another `pdk`, the app) make to the
    /// same data directory. Call once per process.
    pub fn follow_other_processes(self: &Arc<Self>, every: std::time::Duration) {
        let handle = tokio::spawn(follow::follow_loop(self.clone(), every));
        self.tasks.lock().unwrap().push((None, Loop::Follow, handle));
    }

    /// Stop every background loop. Operations in flight stay journalled and
    /// are adopted by the next engine that starts.
    pub fn shutdown(&self) {
        for (_, _, t) in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Pause or resume inventory polling and change feeds.
    pub fn set_sync_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        if !paused {
            for rt in self.runtimes.lock().unwrap().values() {
                rt.wake_sync.notify_one();
            }
        }
    }

    pub fn sync_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Ask for a full sync of an account as soon as possible.
    pub fn request_sync(&self, account_id: i64) -> Result<(), CoreError> {
        self.runtime(account_id)?.wake_sync.notify_one();
        Ok(())
    }

    /// A VM from a user's reference: Powerdeck id, provider id, name, or account/name.
    pub fn resolve_vm(&self, reference: &str) -> Result<Vm, CoreError> {
        let mut found = self.store.find_vms(reference)?;
        match found.len() {
            0 => Err(CoreError::UnknownVm(reference.into())),
            1 => Ok(found.remove(0)),
            _ => Err(CoreError::AmbiguousVm {
                reference: reference.into(),
                candidates: found.iter().map(|v| format!("{}/{} (id {}, {})", v.account, v.name, v.id, v.provider_id)).collect(),
            }),
        }
    }

    /// Add an account. The secret, if any, goes to where `secret` points;
    /// only the reference is stored.
    pub fn add_account(
        &self,
        name: &str,
        kind: &str,
        mut config: serde_json::Value,
        secret: Option<(SecretRef, Option<crate::secrets::Secret>)>,
    ) -> Result<Account, CoreError> {
        registry::kind(kind)?;
        let name = name.trim();
        if name.is_empty() || name.contains('/') || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(CoreError::Invalid("an account name must be 1 to 64 characters, with no '/' and no control characters".into()));
        }
        registry::prepare_config(kind, &mut config, secret.is_some())?;
        if self.store.account_by_name(name)?.is_some() {
            return Err(CoreError::AccountExists(name.into()));
        }
        let secret_ref = match &secret {
            Some((r, Some(value))) => {
                r.store(value)?;
                Some(r.clone())
            }
            Some((r, None)) => {
                r.resolve()?;
                Some(r.clone())
            }
            None => None,
        };
        self.store.insert_account(name, kind, &config, secret_ref.as_ref(), false)?.ok_or_else(|| CoreError::AccountExists(name.into()))
    }

    /// Change an account's settings (regions, endpoint, …). Its provider is
    /// rebuilt and, if its loops were running, they restart with the new
    /// settings. The secret stays where it is.
    pub fn update_account(self: &Arc<Self>, name: &str, mut config: serde_json::Value) -> Result<Account, CoreError> {
        let account = self.account(name)?;
        registry::prepare_config(&account.kind, &mut config, account.secret.is_some())?;
        self.store.update_account_config(account.id, &config)?;
        let was_running = self.stop_account_loops(account.id);
        self.runtimes.lock().unwrap().remove(&account.id);
        if was_running {
            self.start(Workers::ALL, Some(&[account.id]))?;
        }
        self.account(name)
    }

    /// Abort an account's background loops; whether any were running.
    fn stop_account_loops(&self, account_id: i64) -> bool {
        let mut any = false;
        self.tasks.lock().unwrap().retain(|(owner, _, t)| {
            let mine = *owner == Some(account_id);
            if mine {
                t.abort();
                any = true;
            }
            !mine
        });
        any
    }

    /// Remove an account, its inventory and its keychain entry.
    pub fn remove_account(&self, name: &str) -> Result<Account, CoreError> {
        let account = self.account(name)?;
        if let Some(secret) = &account.secret {
            secret.delete()?;
        }
        self.store.remove_account(account.id)?;
        self.runtimes.lock().unwrap().remove(&account.id);
        // Its loops go with it; they would only fail against a missing account.
        self.stop_account_loops(account.id);
        if let Ok(kind) = registry::kind(&account.kind) {
            (kind.forget)(&account, &self.data_dir);
        }
        Ok(account)
    }

    /// Prove the account's endpoint and credentials work.
    pub async fn test_account(&self, name: &str) -> Result<String, CoreError> {
        let account = self.account(name)?;
        let rt = self.runtime(account.id)?;
        let msg = rt.provider.test_connection().await.map_err(|e| CoreError::provider(&account.name, e))?;
        self.store.touch_contact(account.id, now_ms())?;
        Ok(msg)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}
