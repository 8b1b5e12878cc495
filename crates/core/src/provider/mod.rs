//! The provider contract: what the engine needs from any cloud or hypervisor.
//!
//! A provider describes its wire protocol and nothing else. Every request it
//! makes goes through the shared call layer ([`calls::Calls`]: rate limit
//! per scope, retry with backoff, counts); state is written only by the
//! engine's reconcile.

pub mod azure;
pub mod client;
pub mod cloudstack;
pub mod ec2;
pub mod error;
pub mod kind;
pub mod ovirt;
pub mod registry;
pub mod sim;
pub mod vsphere;

pub use client::{calls, http, xml};

use crate::model::Observation;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use error::ProviderError;

pub type ProviderResult<T> = Result<T, ProviderError>;

/// What a provider can do. Front ends show only the actions listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Capabilities {
    /// Asks the guest to shut down (tools, ACPI, the cloud's normal stop).
    pub graceful_stop: bool,
    /// Hard power-off.
    pub force_stop: bool,
    pub guest_reboot: bool,
    pub reset: bool,
    pub suspend: bool,
    pub hibernate: bool,
    pub deallocate: bool,
    pub tools_status: bool,
    /// The provider pushes changes ([`Provider::watch`]).
    pub change_feed: bool,
    /// Whether a guest reboot shows a transitional state. If not, a reboot
    /// is confirmed by the VM being running after the request was accepted.
    pub reboot_visible: bool,
    /// Most VM ids one [`Provider::refresh`] call takes.
    pub max_refresh_batch: usize,
}

/// A provider-level power request. The engine composes operations (graceful
/// stop with forced fallback…) out of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerAction {
    Start,
    ShutdownGuest,
    PowerOff,
    RebootGuest,
    Reset,
    Suspend,
    Hibernate,
    /// Stop and release the compute resources (Azure).
    Deallocate,
}

impl PowerAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::ShutdownGuest => "shutdown-guest",
            Self::PowerOff => "power-off",
            Self::RebootGuest => "reboot-guest",
            Self::Reset => "reset",
            Self::Suspend => "suspend",
            Self::Hibernate => "hibernate",
            Self::Deallocate => "deallocate",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InventoryPage {
    pub vms: Vec<Observation>,
    /// Continuation token; `None` on the last page.
    pub next: Option<String>,
}

/// The provider's answer to a power request: "accepted", which is not "done".
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// A task / job id to poll, when the provider has one.
    pub job: Option<String>,
    /// The state the provider reported in its answer, if any (EC2's CurrentState).
    pub observed: Option<Observation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// Not done yet; `poll_after`: when the provider says to ask again.
    Running {
        poll_after: Option<Duration>,
    },
    Succeeded,
    Failed(String),
}

/// One batch from a change feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBatch {
    pub changes: Vec<Observation>,
    /// Ids the provider says no longer exist.
    pub removed: Vec<String>,
    /// Where to resume next time.
    pub cursor: String,
    /// The provider lost track of our cursor; a full sync must cover the gap.
    pub resync_needed: bool,
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn capabilities(&self) -> Capabilities;

    /// One page of the inventory, as large as the provider allows.
    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage>;

    /// Current state of these VMs, in as few calls as the provider allows
    /// (at most `max_refresh_batch` ids are passed). Ids the provider does not
    /// know are simply absent from the answer.
    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>>;

    /// Send one power request.
    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission>;

    /// The status of a job returned by [`Provider::submit`].
    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus>;

    /// The status of several jobs, in as few calls as the provider allows
    /// (vSphere reads many tasks in one request). One answer per job asked,
    /// in any order; a job whose status could not be read has its own error.
    async fn poll_jobs(&self, jobs: &[String]) -> Vec<(String, ProviderResult<JobStatus>)> {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push((job.clone(), self.poll_job(job).await));
        }
        out
    }

    /// Wait up to `max_wait` for changes after `cursor` (`None`: start now).
    async fn watch(&self, _cursor: Option<&str>, _max_wait: Duration) -> ProviderResult<FeedBatch> {
        Err(ProviderError::Unsupported { action: "push changes".into() })
    }

    /// A cheap call proving the endpoint and credentials work; returns a
    /// short human description of what was found.
    async fn test_connection(&self) -> ProviderResult<String> {
        let page = self.list_page(None).await?;
        let more = if page.next.is_some() { "+" } else { "" };
        Ok(format!("connected; {}{more} VMs visible", page.vms.len()))
    }
}
