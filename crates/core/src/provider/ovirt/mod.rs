//! oVirt and Oracle Linux Virtualization Manager (OLVM), through the
//! engine's REST API v4.
//!
//! VM ids are the engine's UUIDs. The login is the engine's SSO (a bearer
//! token, renewed once whenever the API refuses it, revoked when the
//! provider goes). The inventory is read in overlapping pages
//! ([`paging`]); changes made elsewhere arrive through the audit log
//! ([`feed`]), polled every few seconds, and only the VMs its events name
//! are read again.

mod actions;
mod api;
pub mod config;
mod fault;
mod feed;
mod names;
mod paging;
mod redact;
mod sso;
mod vm;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use vm::check;

use super::calls::{Call, Calls};
use super::http::{normalize_thumbprint, HttpOptions, HttpTransport, Trust};
use super::kind::{self, KindDescriptor, SecretNeed, SecretSpec, TlsFields};
use super::{Capabilities, FeedBatch, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::Observation;
use crate::secrets::Secret;
use actions::Correlations;
use api::Api;
use async_trait::async_trait;
pub use config::OvirtConfig;
use futures_util::stream::{self, StreamExt};
use names::Names;
use paging::{Passes, Place};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
pub use vm::normalize;

/// Most VMs one refresh reads; each is one GET, a few at a time.
const REFRESH_BATCH: usize = 100;
const REFRESH_CONCURRENCY: usize = 6;
/// What the inventory asks the engine to inline: the guest's addresses
/// and the tags assigned to the VM (4.2 on, as `follow` itself).
const FOLLOW: &str = "reported_devices,tags";

pub static KIND: KindDescriptor = KindDescriptor {
    name: "ovirt",
    label: "oVirt / OLVM",
    summary: "VMs of an oVirt or Oracle Linux Virtualization Manager engine, through its REST API v4.",
    fields: config::FIELDS,
    secret: SecretSpec { label: "password", need: SecretNeed::Required },
    tls: Some(TlsFields {
        endpoint: "endpoint",
        thumbprint: "thumbprint",
        insecure: "insecure",
        compare_with: "the engine's own (on the engine: openssl x509 -in /etc/pki/ovirt-engine/certs/apache.cer -noout -fingerprint -sha256)",
    }),
    billing: crate::hours::Billing::WhileRunning,
    size_fact: None,
    validate: |config, has_secret| kind::parse::<OvirtConfig>(config)?.validate(has_secret),
    complete: config::complete,
    build: |ctx| Ok(Arc::new(OvirtProvider::new(&ctx.config()?, ctx.secret.clone(), ctx.calls.clone())?)),
    forget: |account, data_dir| kind::forget_kept_ca(account, data_dir, "ca_file"),
};

pub struct OvirtProvider {
    api: Arc<Api>,
    names: Names,
    ours: Correlations,
    page_size: u64,
    events_every: Duration,
    /// Inventory passes in progress.
    passes: Passes,
    /// When the events feed last read the log (the interval holds across calls).
    last_events_read: Mutex<Option<Instant>>,
}

/// How the account's settings say the engine's certificate is trusted.
fn trust(cfg: &OvirtConfig) -> ProviderResult<Trust> {
    Ok(match (&cfg.thumbprint, &cfg.ca_file, cfg.insecure) {
        (Some(t), _, _) => {
            Trust::Pinned(normalize_thumbprint(t).ok_or_else(|| ProviderError::Config { message: "the pinned thumbprint is not a SHA-256 thumbprint".into() })?)
        }
        (None, Some(file), _) => Trust::Roots(std::fs::read(file).map_err(|e| ProviderError::Config {
            message: format!("the engine's CA file {} cannot be read: {e}", file.chars().filter(|c| !c.is_control()).collect::<String>()),
        })?),
        (None, None, true) => {
            tracing::warn!(endpoint = %cfg.endpoint, "TLS certificate checks are OFF for this oVirt account (it accepts any certificate)");
            Trust::Insecure
        }
        (None, None, false) => Trust::System,
    })
}

impl OvirtProvider {
    pub fn new(cfg: &OvirtConfig, password: Option<Secret>, calls: Arc<Calls>) -> ProviderResult<Self> {
        let password = password.ok_or_else(|| ProviderError::Auth { message: "the account has no password".into() })?;
        let trust = trust(cfg)?;
        let base = reqwest::Url::parse(cfg.endpoint.trim()).map_err(|e| ProviderError::Config { message: format!("the endpoint is not a URL ({e})") })?;
        let origin = base.origin().ascii_serialization();
        let http = HttpTransport::new(&HttpOptions { trust: trust.clone(), ..HttpOptions::default() })?;
        let sso = sso::Sso { http, calls, origin, username: cfg.username.trim().to_string(), redactor: redact::Redactor::new(&password), password };
        Ok(Self {
            api: Arc::new(Api::new(sso, base, trust)),
            names: Names::default(),
            ours: Correlations::default(),
            page_size: u64::from(cfg.page_size.clamp(10, 5000)),
            events_every: Duration::from_secs(u64::from(cfg.events_interval_s.clamp(1, 300))),
            passes: Passes::default(),
            last_events_read: Mutex::new(None),
        })
    }

    /// Tokens fetched so far (the first login counts): for tests and benchmarks.
    pub async fn logins(&self) -> u64 {
        self.api.logins().await
    }

    /// Read VMs from a list or single answer, naming hosts and clusters.
    async fn observations(&self, nodes: Vec<&crate::provider::xml::Node>) -> ProviderResult<Vec<Observation>> {
        let mut readings = nodes.into_iter().map(vm::read).collect::<ProviderResult<Vec<_>>>()?;
        self.names.apply(&self.api, &mut readings).await;
        Ok(readings.into_iter().map(|r| r.obs).collect())
    }

    /// One VM by id; `None` when the engine does not have it.
    async fn read_one(&self, id: &str) -> ProviderResult<Option<crate::provider::xml::Node>> {
        // An id is a UUID; anything else cannot be one of the engine's VMs
        // (and must not reach its path).
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(None);
        }
        match self.api.get(Call::refresh(), &format!("vms/{id}"), &[("follow", FOLLOW)], "vm").await {
            Ok(a) => {
                if a.root.attr("id") != Some(id) {
                    return Err(ProviderError::malformed(format!("asked about VM {id}, the engine answered about another")));
                }
                Ok(Some(a.root))
            }
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Wait until the events interval since the last read has passed, but
    /// not past `deadline`; whether it is time to read.
    async fn wait_for_events_turn(&self, deadline: Instant) -> bool {
        let due = self.last_events_read.lock().unwrap_or_else(|p| p.into_inner()).map(|at| at + self.events_every);
        match due {
            Some(due) if due > deadline => {
                tokio::time::sleep_until(deadline).await;
                false
            }
            Some(due) => {
                tokio::time::sleep_until(due).await;
                true
            }
            None => true,
        }
    }
}

impl Drop for OvirtProvider {
    /// The engine keeps a session per token until it times out: end ours
    /// when the provider goes (the account was removed or edited, or the
    /// process is done with it), if a runtime is still there to send it.
    fn drop(&mut self) {
        let Some(token) = self.api.take_held() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let sso = self.api.sso.clone();
        rt.spawn(async move {
            if let Err(e) = sso.revoke(&token).await {
                tracing::debug!(error = %e, "the engine session could not be ended; it times out by itself");
            }
        });
    }
}

#[async_trait]
impl Provider for OvirtProvider {
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
            change_feed: true,
            reboot_visible: true,
            max_refresh_batch: REFRESH_BATCH,
        }
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        let place = match token {
            None => self.passes.begin(),
            Some(t) => Place::parse(t)
                .ok_or_else(|| ProviderError::malformed(format!("page token '{}' is not one Powerdeck made", t.chars().take(40).collect::<String>())))?,
        };
        let req = paging::request_after(place.read_to, self.page_size);
        let search = format!("sortby name asc page {}", req.page);
        let max = req.max.to_string();
        let answer = self.api.get(Call::list(), "vms", &[("search", search.as_str()), ("max", max.as_str()), ("follow", FOLLOW)], "vms").await?;
        let nodes: Vec<&crate::provider::xml::Node> = answer.root.all("vm").collect();
        let ids: Vec<&str> = nodes.iter().map(|n| n.attr("id").unwrap_or_default()).collect();
        let (keep, next) = self.passes.take(place, req, &ids)?;
        if next.is_some_and(|n| n.walk != place.walk) {
            tracing::info!(pass = place.pass, "VMs moved between inventory pages past the overlap; reading from the top again");
        }
        let vms = self.observations(keep.into_iter().map(|i| nodes[i]).collect()).await?;
        Ok(InventoryPage { vms, next: next.map(|n| n.token()) })
    }

    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        let read: Vec<ProviderResult<Option<crate::provider::xml::Node>>> =
            stream::iter(ids.to_vec()).map(|id| async move { self.read_one(&id).await }).buffered(REFRESH_CONCURRENCY).collect().await;
        let nodes: Vec<crate::provider::xml::Node> = read.into_iter().collect::<ProviderResult<Vec<_>>>()?.into_iter().flatten().collect();
        self.observations(nodes.iter().collect()).await
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        actions::submit(&self.api, &self.ours, id, action).await
    }

    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus> {
        actions::poll(&self.api, job).await
    }

    /// The audit log, read every `events_interval_s`, up to `max_wait`.
    async fn watch(&self, cursor: Option<&str>, max_wait: Duration) -> ProviderResult<FeedBatch> {
        let deadline = Instant::now() + max_wait;
        let mut cursor = match cursor {
            None => {
                *self.last_events_read.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                let newest = feed::newest(&self.api).await?;
                return Ok(FeedBatch { changes: vec![], removed: vec![], cursor: newest.to_string(), resync_needed: false });
            }
            Some(c) => c
                .parse::<u64>()
                .map_err(|_| ProviderError::malformed(format!("feed cursor '{}' is not an event id", c.chars().take(40).collect::<String>())))?,
        };
        loop {
            if !self.wait_for_events_turn(deadline).await {
                return Ok(FeedBatch { changes: vec![], removed: vec![], cursor: cursor.to_string(), resync_needed: false });
            }
            *self.last_events_read.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            let read = feed::read_after(&self.api, &self.ours, cursor).await?;
            let mut next = read.newest;
            if read.lost {
                tracing::info!(cursor, "the engine's event log no longer holds our place; a full sync covers the gap");
                if next == cursor {
                    next = feed::newest(&self.api).await?;
                }
            }
            if read.ours > 0 {
                tracing::debug!(events = read.ours, "events caused by our own requests; their operations follow those VMs");
            }
            if read.vms.is_empty() && !read.lost && Instant::now() < deadline {
                cursor = next;
                continue;
            }
            let ids: Vec<String> = read.vms.into_iter().collect();
            let mut changes = Vec::new();
            for chunk in ids.chunks(REFRESH_BATCH) {
                changes.extend(self.refresh(chunk).await?);
            }
            // A VM an event names that the engine no longer has is gone.
            let removed = ids.into_iter().filter(|id| !changes.iter().any(|o| &o.provider_id == id)).collect();
            return Ok(FeedBatch { changes, removed, cursor: next.to_string(), resync_needed: read.lost });
        }
    }

    async fn test_connection(&self) -> ProviderResult<String> {
        let answer = self.api.get(Call::other(), "", &[], "api").await?;
        let root = &answer.root;
        let r = self.api.redactor();
        let product = root.child("product_info");
        let name = product.and_then(|p| p.child("name")).map(|n| r.clean(n.text())).filter(|n| !n.is_empty()).unwrap_or_else(|| "the engine".into());
        let version = product.and_then(|p| p.child("version")).and_then(|v| v.child("full_version")).map(|v| r.clean(v.text())).unwrap_or_default();
        let vms = root.child("summary").and_then(|s| s.child("vms")).and_then(|v| v.child("total")).map(|t| r.clean(t.text()));
        let vms = vms.map(|n| format!("; {n} VMs")).unwrap_or_default();
        Ok(format!("connected to {name} {version}{vms}").replace("  ", " "))
    }
}
