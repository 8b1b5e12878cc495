//! The embedded demo fleet: a provider that behaves like a real cloud
//! (latency, paging, slow transitions, guests that ignore a graceful
//! shutdown, failures, throttling, outages and out-of-band changes), with no
//! account or network needed.

pub mod config;
pub mod world;

use super::calls::{Call, Calls};
use super::kind::{self, KindDescriptor, SecretNeed, SecretSpec};
use super::{Capabilities, FeedBatch, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::{now_ms, Observation, PowerState, ToolsStatus};
use async_trait::async_trait;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use config::SimConfig;
pub use world::World;

/// Map the simulator's raw state onto the normalized one. Anything it does
/// not know stays visible as `unknown`, raw string kept.
pub fn normalize(raw: &str) -> PowerState {
    match raw {
        world::RUNNING => PowerState::Running,
        world::STOPPED => PowerState::Stopped,
        world::SUSPENDED => PowerState::Suspended,
        world::STARTING => PowerState::Starting,
        world::STOPPING => PowerState::Stopping,
        world::REBOOTING => PowerState::Rebooting,
        world::SUSPENDING => PowerState::Suspending,
        _ => PowerState::Unknown,
    }
}

pub struct SimProvider {
    world: Arc<World>,
    cfg: SimConfig,
    /// The simulated API's own request quota (what makes it throttle us).
    quota: Mutex<(f64, Instant)>,
    calls: Arc<Calls>,
}

/// The embedded demo fleet: no endpoint, no secret; its simulated cloud
/// lives in a file of its own under the data directory.
pub static KIND: KindDescriptor = KindDescriptor {
    name: "sim",
    label: "Demo fleet",
    summary: "A simulated cloud that behaves like a real one (latency, slow transitions, stubborn guests, failures, outages, drift).",
    fields: config::FIELDS,
    // A demo fleet needs no secret, but takes one so secret handling (the
    // keychain, an environment variable) can be tried without a cloud.
    secret: SecretSpec { label: "secret (unused by the demo fleet)", need: SecretNeed::Optional },
    tls: None,
    billing: crate::hours::Billing::WhileRunning,
    size_fact: None,
    validate: |config, _| kind::parse::<SimConfig>(config)?.validate(),
    complete: kind::nothing_to_complete,
    build: |ctx| Ok(Arc::new(SimProvider::open(&world_path(ctx.data_dir, ctx.account.id), ctx.config()?, ctx.calls.clone())?)),
    forget: |account, data_dir| {
        let world = world_path(data_dir, account.id);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", world.display()));
        }
    },
};

/// Where a demo account's simulated cloud keeps its state.
pub fn world_path(data_dir: &Path, account_id: i64) -> std::path::PathBuf {
    data_dir.join("sim").join(format!("account-{account_id}.sqlite"))
}

impl SimProvider {
    pub fn open(path: &Path, cfg: SimConfig, calls: Arc<Calls>) -> ProviderResult<Self> {
        cfg.validate().map_err(|errors| ProviderError::Config { message: errors.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ") })?;
        let world = Arc::new(World::open(path, &cfg)?);
        Ok(Self { world, quota: Mutex::new((cfg.max_rps.max(1.0), Instant::now())), cfg, calls })
    }

    pub fn world(&self) -> Arc<World> {
        self.world.clone()
    }

    /// What every simulated API call goes through: network latency, the
    /// outage switch and the request quota.
    async fn enter(&self) -> ProviderResult<()> {
        tokio::time::sleep(Duration::from_millis(self.cfg.latency_ms)).await;
        let until = self.world.outage_until()?;
        if until > now_ms() {
            return Err(ProviderError::Unreachable { message: "connection refused (the demo fleet is in a simulated outage)".into() });
        }
        if self.cfg.max_rps > 0.0 {
            let mut q = self.quota.lock().await;
            let now = Instant::now();
            let tokens = (q.0 + now.duration_since(q.1).as_secs_f64() * self.cfg.max_rps).min(self.cfg.max_rps.max(1.0));
            if tokens < 1.0 {
                *q = (tokens, now);
                let wait = (1.0 - tokens) / self.cfg.max_rps;
                return Err(ProviderError::Throttled { retry_after: Some(Duration::from_secs_f64(wait.max(0.05))) });
            }
            *q = (tokens - 1.0, now);
        }
        Ok(())
    }
}

fn observe(vm: world::SimVm) -> Observation {
    Observation {
        state: normalize(&vm.raw),
        tools: ToolsStatus::parse(vm.tools),
        location: Some(format!("{}/{}", vm.region, vm.host)),
        provider_id: vm.id,
        name: vm.name,
        raw_state: vm.raw,
        facts: Default::default(),
    }
}

#[async_trait]
impl Provider for SimProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            graceful_stop: true,
            force_stop: true,
            guest_reboot: true,
            reset: true,
            suspend: true,
            hibernate: false,
            deallocate: false,
            tools_status: true,
            change_feed: self.cfg.feed,
            reboot_visible: true,
            max_refresh_batch: 500,
        }
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        self.calls.run(Call::list(), || self.list_once(token)).await
    }

    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        self.calls
            .run(Call::refresh(), || async {
                self.enter().await?;
                Ok(self.world.get_many(ids)?.into_iter().map(observe).collect())
            })
            .await
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        self.calls
            .run(Call::submit(), || async {
                self.enter().await?;
                let (job, vm) = self.world.submit(id, action)?;
                Ok(Submission { job, observed: Some(observe(vm)) })
            })
            .await
    }

    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus> {
        self.calls.run(Call::poll(), || self.poll_once(job)).await
    }

    /// Every job in one call, as vSphere reads many tasks in one request:
    /// the demo fleet costs what a batching provider costs, not one call
    /// per operation in flight.
    async fn poll_jobs(&self, jobs: &[String]) -> Vec<(String, ProviderResult<JobStatus>)> {
        let read = self
            .calls
            .run(Call::poll(), || async {
                self.enter().await?;
                self.world.jobs(jobs)
            })
            .await;
        match read {
            Ok(found) => jobs.iter().map(|j| (j.clone(), job_status(j, found.get(j).cloned()))).collect(),
            Err(e) => jobs.iter().map(|j| (j.clone(), Err(e.clone()))).collect(),
        }
    }

    async fn watch(&self, cursor: Option<&str>, max_wait: Duration) -> ProviderResult<FeedBatch> {
        self.calls.run(Call::watch(), || self.watch_once(cursor, max_wait)).await
    }
}

impl SimProvider {
    async fn list_once(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        self.enter().await?;
        let after = match token {
            None => 0,
            Some(t) => t.parse::<i64>().map_err(|_| ProviderError::Provider {
                code: "InvalidNextToken".into(),
                message: format!("the page token '{t}' is not valid"),
                retryable: false,
            })?,
        };
        let (vms, next) = self.world.list(after, self.cfg.page_size)?;
        let mut vms: Vec<Observation> = vms.into_iter().map(observe).collect();
        if self.world.take_corruption()? {
            if let Some(first) = vms.first_mut() {
                first.provider_id.clear();
            }
        }
        Ok(InventoryPage { vms, next: next.map(|n| n.to_string()) })
    }

    async fn poll_once(&self, job: &str) -> ProviderResult<JobStatus> {
        self.enter().await?;
        job_status(job, self.world.job(job)?)
    }

    /// Wait `at_most` (never past `deadline`), or until this process changes the fleet.
    async fn nap(&self, at_most: Duration, deadline: Instant) {
        tokio::select! {
            _ = tokio::time::sleep(at_most.min(deadline.saturating_duration_since(Instant::now()))) => {}
            _ = self.world.news() => {}
        }
    }

    async fn watch_once(&self, cursor: Option<&str>, max_wait: Duration) -> ProviderResult<FeedBatch> {
        if !self.cfg.feed {
            return Err(ProviderError::Unsupported { action: "push changes".into() });
        }
        self.enter().await?;
        let Some(cursor) = cursor else {
            // A new watcher starts from now; the full sync covers the past.
            let seq = self.world.latest_seq()?;
            return Ok(FeedBatch { changes: vec![], removed: vec![], cursor: seq.to_string(), resync_needed: false });
        };
        let seq: i64 = cursor.parse().map_err(|_| ProviderError::malformed(format!("feed cursor '{cursor}' is not valid")))?;
        let latest = self.world.latest_seq()?;
        if seq > latest {
            // A cursor from a fleet that no longer exists (recreated): start
            // over from now, and let a full sync cover the gap.
            return Ok(FeedBatch { changes: vec![], removed: vec![], cursor: latest.to_string(), resync_needed: true });
        }
        let deadline = Instant::now() + max_wait;
        // How often an idle reader looks for changes another process made
        // (`pdk sim`, `pdk vm` on the demo fleet). This process's own changes
        // (`World::news`) and scheduled transitions wake it at their time;
        // four looks a second per account were most of an idle window's CPU.
        const LOOK_EVERY: Duration = Duration::from_secs(1);
        let mut first = true;
        loop {
            // After the first look, only a cheap read-only check until there may be news.
            if !first && Instant::now() < deadline && !self.world.may_have_news(seq)? {
                self.nap(LOOK_EVERY, deadline).await;
                continue;
            }
            first = false;
            let (vms, new_seq, gap) = self.world.changes_since(seq, 1000)?;
            if !vms.is_empty() || gap || Instant::now() >= deadline {
                let changes = vms.into_iter().map(observe).collect();
                return Ok(FeedBatch { changes, removed: vec![], cursor: new_seq.to_string(), resync_needed: gap });
            }
            // Sleep until the next scheduled transition lands, but wake
            // regularly for changes other processes make.
            let next_due = self.world.next_due_at()?.map(|t| Duration::from_millis((t - now_ms()).max(0) as u64 + 5));
            self.nap(next_due.unwrap_or(LOOK_EVERY).min(LOOK_EVERY), deadline).await;
        }
    }
}

/// A job's status as the world keeps it (`status`, `message`), or not found.
fn job_status(job: &str, found: Option<(String, Option<String>)>) -> ProviderResult<JobStatus> {
    match found {
        None => Err(ProviderError::NotFound { what: format!("job {job}") }),
        Some((s, _)) if s == "running" => Ok(JobStatus::Running { poll_after: None }),
        Some((s, _)) if s == "succeeded" => Ok(JobStatus::Succeeded),
        Some((_, msg)) => Ok(JobStatus::Failed(msg.unwrap_or_else(|| "the job failed".into()))),
    }
}
