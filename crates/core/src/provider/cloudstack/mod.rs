//! Apache CloudStack behind the provider contract, through the management
//! server's signed query API (`/client/api`).
//!
//! VM ids are CloudStack's UUIDs. The inventory is `listVirtualMachines`
//! with `listall=true` and `projectid=-1` (every account and project the
//! key may see), 500 per page; power requests answer a job id, which is
//! the operation's handle; the change feed is `listEvents`.

pub mod api;
pub mod config;
mod errors;
mod events;
mod jobs;
pub mod sign;
mod vms;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use vms::check;

use super::calls::{Call, Calls};
use super::client::batch::refresh_tolerant;
use super::http::{normalize_thumbprint, HttpOptions, HttpTransport, Trust};
use super::kind::{self, KindDescriptor, SecretNeed, SecretSpec, TlsFields};
use super::{Capabilities, FeedBatch, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::Observation;
use crate::secrets::Secret;
use api::Api;
use async_trait::async_trait;
pub use config::CloudStackConfig;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vms::{VmPage, DETAILS};

/// `default.page.size`, the largest page a management server gives unless
/// its admin changed it (a smaller maximum is learned from its refusal).
const PAGE_SIZE: u64 = 500;
/// VMs read by id in one `listVirtualMachines` (`ids=`, a form field, so
/// no URL length limit applies).
const REFRESH_BATCH: usize = 200;
/// Pages beyond what the first page's `count` announced that are still
/// believed (VMs created while paging); past that the paging is endless.
const SPARE_PAGES: u64 = 2;

pub static KIND: KindDescriptor = KindDescriptor {
    name: "cloudstack",
    label: "Apache CloudStack",
    summary: "VMs of an Apache CloudStack cloud (every account and project the API key can see), through its signed query API.",
    fields: config::FIELDS,
    secret: SecretSpec { label: "secret key", need: SecretNeed::Required },
    tls: Some(TlsFields {
        endpoint: "endpoint",
        thumbprint: "thumbprint",
        insecure: "insecure",
        compare_with: "the certificate the management server (or the proxy that serves its HTTPS) is configured with (there: openssl x509 -in CERTIFICATE -noout -fingerprint -sha256)",
    }),
    billing: crate::hours::Billing::WhileRunning,
    size_fact: Some("service_offering"),
    validate: |config, has_secret| kind::parse::<CloudStackConfig>(config)?.validate(has_secret),
    complete: config::complete,
    build: |ctx| Ok(Arc::new(CloudStackProvider::new(&ctx.config()?, ctx.secret.clone(), ctx.calls.clone())?)),
    forget: kind::nothing_to_forget,
};

/// How many jobs' statuses are read per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPolling {
    /// One `listAsyncJobs` for all jobs in flight (one `queryAsyncJobResult`
    /// when there is only one).
    Batched,
    /// One `queryAsyncJobResult` per job (a few at once).
    PerJob,
}

pub struct CloudStackProvider {
    api: Api,
    secret: Arc<str>,
    /// `listall`, `projectid`, `domainid`…: which VMs (and events) this
    /// account covers, sent with every listing.
    scope: Vec<(&'static str, String)>,
    page_size: AtomicU64,
    job_polling: JobPolling,
    /// `listAsyncJobs` was refused (a role without it): read jobs one by one.
    list_jobs_refused: AtomicBool,
    events_poll: Duration,
}

impl CloudStackProvider {
    pub fn new(cfg: &CloudStackConfig, secret: Option<Secret>, calls: Arc<Calls>) -> ProviderResult<Self> {
        Self::with_http(cfg, secret, calls, HttpOptions::default())
    }

    /// With transport options of the caller's (timeouts), the trust still
    /// coming from the account's settings.
    pub fn with_http(cfg: &CloudStackConfig, secret: Option<Secret>, calls: Arc<Calls>, opts: HttpOptions) -> ProviderResult<Self> {
        let secret = secret.ok_or_else(|| ProviderError::Auth { message: "the account has no secret key".into() })?;
        let endpoint =
            crate::provider::http::check_endpoint(&cfg.endpoint, "https://cloud.example/client/api").map_err(|message| ProviderError::Config { message })?;
        let trust = trust(cfg)?;
        let http = HttpTransport::new(&HttpOptions { trust: trust.clone(), ..opts })?;
        let mut scope = vec![("listall", "true".to_string()), ("projectid", cfg.project_id.clone().unwrap_or_else(|| "-1".into()))];
        if let Some(domain) = &cfg.domain_id {
            scope.extend([("domainid", domain.clone()), ("isrecursive", "true".to_string())]);
        }
        Ok(Self {
            secret: Arc::from(secret.expose()),
            api: Api::new(http, calls, endpoint, cfg.api_key.clone(), secret, trust),
            scope,
            page_size: AtomicU64::new(PAGE_SIZE),
            job_polling: JobPolling::Batched,
            list_jobs_refused: AtomicBool::new(false),
            events_poll: cfg.events_poll(),
        })
    }

    /// Read jobs one per request instead of batched (benchmarks compare both).
    pub fn with_job_polling(mut self, mode: JobPolling) -> Self {
        self.job_polling = mode;
        self
    }

    /// The signed API itself, for tools and tests that send other commands.
    pub fn api(&self) -> &Api {
        &self.api
    }

    fn listing(&self, extra: impl IntoIterator<Item = (&'static str, String)>) -> Vec<(&'static str, String)> {
        let mut params = self.scope.clone();
        params.push(("details", DETAILS.to_string()));
        params.extend(extra);
        params
    }

    async fn list_vms(&self, call: Call<'_>, params: &[(&'static str, String)]) -> ProviderResult<VmPage> {
        let answer = self.api.call(call, "listVirtualMachines", params).await?;
        serde_json::from_value(answer).map_err(|e| ProviderError::malformed(format!("listVirtualMachines: {e}")))
    }

    /// One page; a server whose maximum page is smaller than asked says so
    /// (431), and is then asked with its own maximum.
    async fn list_page_sized(&self, page: u64, size: u64) -> ProviderResult<(VmPage, u64)> {
        match self.list_vms(Call::list(), &self.listing([("page", page.to_string()), ("pagesize", size.to_string())])).await {
            Err(ProviderError::Provider { message, .. }) if page == 1 && largest_page(&message).is_some_and(|m| m < size) => {
                let max = largest_page(&message).unwrap_or(size).max(1);
                self.page_size.store(max, Ordering::Relaxed);
                Ok((self.list_vms(Call::list(), &self.listing([("page", "1".into()), ("pagesize", max.to_string())])).await?, max))
            }
            other => Ok((other?, size)),
        }
    }

    async fn submit_command(&self, command: &str, id: &str, forced: bool) -> ProviderResult<Submission> {
        let mut params = vec![("id", id.to_string())];
        if forced {
            params.push(("forced", "true".to_string()));
        }
        let answer = self.api.call(Call::submit(), command, &params).await?;
        let job = answer.get("jobid").and_then(|j| j.as_str()).filter(|j| is_id(j)).map(str::to_string);
        match job {
            Some(job) => Ok(Submission { job: Some(job), observed: None }),
            None => Err(ProviderError::malformed(format!("{command} was accepted without a job id to follow"))),
        }
    }

    async fn poll_batched(&self, jobs: &[String]) -> Vec<(String, ProviderResult<JobStatus>)> {
        let single = jobs.len() == 1 || self.job_polling == JobPolling::PerJob || self.list_jobs_refused.load(Ordering::Relaxed);
        let (mut found, missing) = if single {
            (Default::default(), jobs.to_vec())
        } else {
            match jobs::list(&self.api, &self.secret, jobs).await {
                Ok(r) => r,
                // A role without listAsyncJobs: ask about each job from now on.
                Err(ProviderError::Provider { code, .. }) if code.starts_with("432") => {
                    self.list_jobs_refused.store(true, Ordering::Relaxed);
                    (Default::default(), jobs.to_vec())
                }
                Err(e) => return jobs.iter().map(|j| (j.clone(), Err(e.clone()))).collect(),
            }
        };
        if !missing.is_empty() {
            found.extend(jobs::query_each(&self.api, self.secret.clone(), &missing).await);
        }
        jobs.iter().map(|j| (j.clone(), found.remove(j).unwrap_or_else(|| Err(ProviderError::NotFound { what: format!("job {j}") })))).collect()
    }

    /// The VMs the events named, read again; those that no longer exist
    /// are removed.
    async fn changes(&self, named: Vec<String>) -> ProviderResult<(Vec<Observation>, Vec<String>)> {
        let mut changes = Vec::new();
        for chunk in named.chunks(REFRESH_BATCH) {
            changes.extend(self.refresh(chunk).await?);
        }
        let removed = named.into_iter().filter(|id| !changes.iter().any(|o: &Observation| &o.provider_id == id)).collect();
        Ok((changes, removed))
    }
}

fn trust(cfg: &CloudStackConfig) -> ProviderResult<Trust> {
    Ok(match (&cfg.thumbprint, cfg.insecure) {
        (Some(t), _) => {
            Trust::Pinned(normalize_thumbprint(t).ok_or_else(|| ProviderError::Config { message: "the pinned thumbprint is not a SHA-256 thumbprint".into() })?)
        }
        (None, true) => {
            tracing::warn!(endpoint = %cfg.endpoint, "TLS certificate checks are OFF for this CloudStack account (it accepts any certificate)");
            Trust::Insecure
        }
        (None, false) => Trust::System,
    })
}

/// "Page size can't exceed max allowed page size value: N" (`BaseListCmd`).
fn largest_page(message: &str) -> Option<u64> {
    let at = message.find("max allowed page size value:")? + "max allowed page size value:".len();
    message[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// A job or VM id as CloudStack writes them (UUIDs; older servers, numbers).
fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Where paging is: the page to ask for, its size, and the VM count the
/// first page announced.
fn parse_token(token: Option<&str>, size: u64) -> ProviderResult<(u64, u64, Option<u64>)> {
    let Some(t) = token else { return Ok((1, size, None)) };
    let bad = || ProviderError::malformed(format!("page token '{t}' is not one Powerdeck made"));
    let parts: Vec<u64> = t.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<ProviderResult<_>>()?;
    match parts[..] {
        [page, size, count] if page > 1 && size > 0 => Ok((page, size, Some(count))),
        _ => Err(bad()),
    }
}

#[async_trait]
impl Provider for CloudStackProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            graceful_stop: true,
            force_stop: true,
            guest_reboot: true,
            // rebootVirtualMachine forced=true: CloudStack's "force reboot",
            // a stop and start of the VM (states visible).
            reset: true,
            suspend: false,
            hibernate: false,
            deallocate: false,
            tools_status: false,
            change_feed: true,
            // A plain reboot is one command to the hypervisor: the VM stays
            // Running throughout; the job says when it is done.
            reboot_visible: false,
            max_refresh_batch: REFRESH_BATCH,
        }
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        let (page, size, first_count) = parse_token(token, self.page_size.load(Ordering::Relaxed))?;
        let (answer, size) = if page == 1 {
            self.list_page_sized(1, size).await?
        } else {
            (self.list_vms(Call::list(), &self.listing([("page", page.to_string()), ("pagesize", size.to_string())])).await?, size)
        };
        let total = answer.count.unwrap_or(0);
        let announced = first_count.unwrap_or(total);
        if total < announced {
            // Rows shift when VMs are expunged mid-listing: one would be
            // skipped and taken for gone. Start over later instead.
            return Err(ProviderError::Provider {
                code: "inventory changed".into(),
                message: format!("VMs were removed while the inventory was being read ({announced} then {total}); the next sync starts over"),
                retryable: true,
            });
        }
        let rows = answer.virtualmachine.len() as u64;
        let more = rows >= size && (page - 1) * size + rows < total;
        if more && page + 1 > announced.div_ceil(size) + SPARE_PAGES {
            return Err(ProviderError::malformed(format!("CloudStack announced {announced} VMs but keeps offering more pages (page {})", page + 1)));
        }
        let vms = answer.virtualmachine.iter().map(vms::VmRow::observation).collect();
        Ok(InventoryPage { vms, next: more.then(|| format!("{}:{size}:{announced}", page + 1)) })
    }

    /// `ids=` for up to 200 VMs per request. An unknown id fails the whole
    /// request, naming it (431): the shared tolerant read drops it and asks
    /// again.
    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        let read = |ids: Vec<String>| async move {
            let size = (ids.len() as u64).clamp(1, self.page_size.load(Ordering::Relaxed));
            let params = self.listing([("ids", ids.join(",")), ("page", "1".into()), ("pagesize", size.to_string())]);
            let page = self.list_vms(Call::refresh(), &params).await?;
            Ok(page.virtualmachine.iter().map(vms::VmRow::observation).collect())
        };
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(REFRESH_BATCH) {
            out.extend(refresh_tolerant(chunk.to_vec(), &read).await?);
        }
        Ok(out)
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        if !is_id(id) {
            return Err(ProviderError::NotFound { what: format!("VM {id} (not a CloudStack id)") });
        }
        match action {
            PowerAction::Start => self.submit_command("startVirtualMachine", id, false).await,
            PowerAction::ShutdownGuest => self.submit_command("stopVirtualMachine", id, false).await,
            PowerAction::PowerOff => self.submit_command("stopVirtualMachine", id, true).await,
            PowerAction::RebootGuest => self.submit_command("rebootVirtualMachine", id, false).await,
            PowerAction::Reset => self.submit_command("rebootVirtualMachine", id, true).await,
            PowerAction::Suspend | PowerAction::Hibernate | PowerAction::Deallocate => {
                Err(ProviderError::Unsupported { action: format!("{} on CloudStack", action.as_str()) })
            }
        }
    }

    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus> {
        jobs::query(&self.api, &self.secret, job).await
    }

    async fn poll_jobs(&self, jobs: &[String]) -> Vec<(String, ProviderResult<JobStatus>)> {
        self.poll_batched(jobs).await
    }

    /// Polls `listEvents` every few seconds (the account's change poll
    /// interval) until something changed or `max_wait` passed.
    async fn watch(&self, cursor: Option<&str>, max_wait: Duration) -> ProviderResult<FeedBatch> {
        let batch = |changes, removed, cursor: &events::Cursor, resync_needed| FeedBatch { changes, removed, cursor: cursor.encode(), resync_needed };
        let mut current = match cursor.map(events::Cursor::decode) {
            Some(Some(c)) => c,
            // The feed starts now.
            None => return Ok(batch(vec![], vec![], &events::head(&self.api, &self.scope, &self.secret).await?, false)),
            // Not a cursor of this version: start over, and sync to cover the gap.
            Some(None) => return Ok(batch(vec![], vec![], &events::head(&self.api, &self.scope, &self.secret).await?, true)),
        };
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let news = events::poll(&self.api, &self.scope, &self.secret, &current).await?;
            if news.resync_needed {
                let head = match news.cursor {
                    Some(c) => c,
                    None => events::head(&self.api, &self.scope, &self.secret).await?,
                };
                return Ok(batch(vec![], vec![], &head, true));
            }
            if let Some(c) = news.cursor {
                current = c;
            }
            if !news.vms.is_empty() {
                let (changes, removed) = self.changes(news.vms).await?;
                return Ok(batch(changes, removed, &current, false));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(batch(vec![], vec![], &current, false));
            }
            tokio::time::sleep(self.events_poll.min(deadline - now)).await;
        }
    }

    async fn test_connection(&self) -> ProviderResult<String> {
        let caps = self.api.call(Call::other(), "listCapabilities", &[]).await?;
        let version =
            caps.get("capability").and_then(|c| c.get("cloudstackversion")).and_then(|v| v.as_str()).map(crate::text::clean).unwrap_or_else(|| "?".into());
        let page = self.list_vms(Call::list(), &self.listing([("page", "1".into()), ("pagesize", "1".into())])).await?;
        Ok(format!("connected to CloudStack {version}; {} VMs visible", page.count.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_carry_the_page_its_size_and_the_first_count() {
        assert_eq!(parse_token(None, 500).unwrap(), (1, 500, None));
        assert_eq!(parse_token(Some("3:500:1234"), 500).unwrap(), (3, 500, Some(1234)));
        assert!(parse_token(Some("1:500:3"), 500).is_err(), "page 1 has no token");
        assert!(parse_token(Some("x"), 500).is_err());
    }

    #[test]
    fn a_smaller_server_maximum_is_read_from_its_refusal() {
        assert_eq!(largest_page("Page size can't exceed max allowed page size value: 200"), Some(200));
        assert_eq!(largest_page("something else"), None);
    }
}
