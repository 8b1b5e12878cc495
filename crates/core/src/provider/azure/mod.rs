//! Microsoft Azure virtual machines through Azure Resource Manager (ARM).
//!
//! VM ids are ARM resource ids, lower-cased (ARM ignores case and answers in
//! mixed casings). Inventory per subscription: the `statusOnly` list for
//! states, the plain list for facts. Power requests answer `202` with an
//! async operation, which is the job handle; its success is not proof, so
//! the engine reads the VM afterwards. Stopped (still billed for compute)
//! and deallocated (not billed) are different states everywhere.

mod arm;
mod auth;
pub mod config;
mod ids;
mod inventory;
mod jobs;
mod pace;
mod wire;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use wire::check;

use super::calls::{Call, Calls};
use super::http::{HttpOptions, HttpTransport, Trust};
use super::kind::{self, KindDescriptor, SecretNeed, SecretSpec};
use super::{Capabilities, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::Observation;
use crate::secrets::Secret;
use arm::{Arm, Scope, COMPUTE_API, SUBSCRIPTIONS_API};
use async_trait::async_trait;
use auth::Credential;
pub use config::{AuthMode, AzureConfig};
use ids::VmRef;
use jobs::Job;
use std::sync::Arc;

pub static KIND: KindDescriptor = KindDescriptor {
    name: "azure",
    label: "Microsoft Azure",
    summary: "Virtual machines in one or more Azure subscriptions, through Azure Resource Manager.",
    fields: config::FIELDS,
    secret: SecretSpec { label: "client secret", need: SecretNeed::Optional },
    // Sign-in and Resource Manager are different hosts with different
    // certificates, so a private cloud's CA (the CA file setting) is what
    // can be trusted, not one pinned certificate.
    tls: None,
    billing: crate::hours::Billing::WhileAllocated,
    size_fact: Some("vm_size"),
    validate: |config, has_secret| kind::parse::<AzureConfig>(config)?.validate(has_secret),
    complete: kind::nothing_to_complete,
    build: |ctx| Ok(Arc::new(AzureProvider::new(&ctx.config()?, ctx.secret.clone(), ctx.calls.clone())?)),
    forget: kind::nothing_to_forget,
};

pub struct AzureProvider {
    arm: Arm,
    /// The configured subscriptions (lower-cased); empty: all visible.
    configured: Vec<String>,
    walks: std::sync::Mutex<inventory::Walks>,
}

impl AzureProvider {
    pub fn new(cfg: &AzureConfig, secret: Option<Secret>, calls: Arc<Calls>) -> ProviderResult<Self> {
        Self::with_timeout(cfg, secret, calls, HttpOptions::default().timeout)
    }

    /// [`Self::new`] with another limit on each request (answer included).
    pub fn with_timeout(cfg: &AzureConfig, secret: Option<Secret>, calls: Arc<Calls>, timeout: std::time::Duration) -> ProviderResult<Self> {
        let config_error = |message: String| ProviderError::Config { message };
        let trust = match cfg.ca_file.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(path) => Trust::Roots(config::read_ca_file(path).map_err(config_error)?),
            None => Trust::System,
        };
        let http = HttpTransport::new(&HttpOptions { trust, timeout, ..HttpOptions::default() })?;
        let url = |raw: &str, what: &str| reqwest::Url::parse(raw.trim()).map_err(|e| config_error(format!("the {what} is not a URL ({e})")));
        let endpoint = url(cfg.arm_endpoint(), "Resource Manager endpoint")?;
        let audience = cfg.arm_audience().trim().trim_end_matches('/').to_string();
        let tenant = cfg.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let credential = match cfg.auth {
            AuthMode::ServicePrincipal => {
                let (Some(tenant), Some(client_id)) = (tenant, cfg.client_id.as_deref().map(str::trim).filter(|c| !c.is_empty())) else {
                    return Err(config_error("a service principal needs its tenant and client id".into()));
                };
                let secret = secret.ok_or_else(|| ProviderError::Auth { message: "the account has no client secret".into() })?;
                let mut token_url = url(cfg.authority_host(), "sign-in authority")?;
                token_url
                    .path_segments_mut()
                    .map_err(|_| config_error("the sign-in authority is not an http(s) URL".into()))?
                    .pop_if_empty()
                    .extend([tenant, "oauth2", "v2.0", "token"]);
                Credential::ClientSecret { token_url, client_id: client_id.to_string(), secret, scope: format!("{audience}/.default") }
            }
            AuthMode::AzureCli => {
                Credential::AzureCli { program: (if cfg!(windows) { "az.cmd" } else { "az" }).into(), resource: audience, tenant: tenant.map(str::to_string) }
            }
        };
        let configured = cfg.subscriptions.iter().map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect();
        Ok(Self { arm: Arm::new(http, calls, endpoint, credential), configured, walks: Default::default() })
    }

    /// Run this program instead of `az` from PATH (tests use a stand-in).
    pub fn with_az_program(mut self, program: impl Into<std::path::PathBuf>) -> Self {
        if let Credential::AzureCli { program: p, .. } = self.arm.credential_mut() {
            *p = program.into();
        }
        self
    }

    /// How many tokens were fetched so far (a renewal counts).
    pub async fn tokens_fetched(&self) -> u64 {
        self.arm.tokens_fetched().await
    }

    /// How many requests were held back because ARM's budget ran low.
    pub fn paced_requests(&self) -> u64 {
        self.arm.pacer.paced()
    }

    fn vm(&self, id: &str) -> ProviderResult<VmRef> {
        VmRef::parse(id)
            .filter(|r| self.manages(&r.subscription))
            .ok_or_else(|| ProviderError::NotFound { what: format!("VM {} (not a VM of this account's subscriptions)", wire::clean(id)) })
    }
}

#[async_trait]
impl Provider for AzureProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // powerOff shuts the guest down; skipShutdown=true does not ask it.
            graceful_stop: true,
            force_stop: true,
            guest_reboot: true,
            // ARM has one reboot (restart); see `submit`.
            reset: false,
            suspend: false,
            // Per VM: one without hibernation enabled gets ARM's own refusal.
            hibernate: true,
            deallocate: true,
            tools_status: false,
            change_feed: false,
            // The restart's async operation says when it is done.
            reboot_visible: false,
            max_refresh_batch: 1000,
        }
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        self.inventory_page(token).await
    }

    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        let mut out = Vec::with_capacity(ids.len());
        for (sub, refs) in self.by_subscription(ids) {
            out.extend(self.refresh_subscription(&sub, refs).await?);
        }
        Ok(out)
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        let vm = self.vm(id)?;
        let (verb, flag) = match action {
            PowerAction::Start => ("start", None),
            // powerOff asks the guest to shut down unless told to skip it.
            PowerAction::ShutdownGuest => ("powerOff", Some(("skipShutdown", "false"))),
            PowerAction::PowerOff => ("powerOff", Some(("skipShutdown", "true"))),
            PowerAction::RebootGuest => ("restart", None),
            PowerAction::Deallocate => ("deallocate", None),
            PowerAction::Hibernate => ("deallocate", Some(("hibernate", "true"))),
            // A second restart would only preempt the first and begin
            // again; calling it a reset would promise what ARM does not do.
            PowerAction::Reset => {
                return Err(ProviderError::Unsupported { action: "reset a VM on Azure, which has no hard reset: restart is its only reboot".into() })
            }
            PowerAction::Suspend => return Err(ProviderError::Unsupported { action: "suspend a VM on Azure (hibernate or deallocate it instead)".into() }),
        };
        let mut url = vm.url(&self.arm.endpoint, &[verb]);
        url.query_pairs_mut().append_pair("api-version", COMPUTE_API);
        if let Some((k, v)) = flag {
            url.query_pairs_mut().append_pair(k, v);
        }
        let resp = self.arm.post(Call::submit(), Scope::Subscription(&vm.subscription), url).await?;
        // 200: done already. Its body, if any, must at least be ARM's JSON.
        if !resp.body.trim().is_empty() {
            resp.expect_content_type(&["json"], "JSON")?;
        }
        let job = match resp.status {
            202 => {
                let token = self.arm.token().await?;
                Job::from_answer(&self.arm, &resp, &vm.subscription, &token).map(|j| j.encode())
            }
            _ => None,
        };
        Ok(Submission { job, observed: None })
    }

    async fn poll_job(&self, handle: &str) -> ProviderResult<JobStatus> {
        let (job, sub) = Job::decode(&self.arm, handle)?;
        let answer = self.arm.get(Call::poll(), Scope::Subscription(&sub), job.url().clone()).await;
        match job {
            Job::AsyncOperation(_) => {
                let resp = answer?;
                let op: wire::OperationStatus = wire::read(&resp, "status", "the async operation")?;
                Ok(match jobs::status(&op) {
                    JobStatus::Running { .. } => JobStatus::Running { poll_after: jobs::poll_after(&resp.headers) },
                    done => done,
                })
            }
            // The Location flavour answers with the operation's own outcome as its status.
            Job::Location(_) => match answer {
                Ok(resp) if resp.status == 202 => Ok(JobStatus::Running { poll_after: jobs::poll_after(&resp.headers) }),
                Ok(_) => Ok(JobStatus::Succeeded),
                Err(e @ (ProviderError::Provider { .. } | ProviderError::InvalidState { .. })) => Ok(JobStatus::Failed(e.to_string())),
                Err(e) => Err(e),
            },
        }
    }

    /// Sign in, and read the subscriptions (each configured one, or the list
    /// of all visible): proves the credentials and the endpoints.
    async fn test_connection(&self) -> ProviderResult<String> {
        self.arm.token().await?;
        let who = self.arm.credential().describe();
        let names: Vec<String> = if self.configured.is_empty() {
            let subs = self.visible_subscriptions().await?;
            subs.into_iter().map(|s| s.display_name.as_deref().map(wire::clean).unwrap_or(s.subscription_id)).collect()
        } else {
            let mut names = Vec::new();
            for sub in &self.configured {
                let url = self.arm.url(&format!("/subscriptions/{sub}"), SUBSCRIPTIONS_API);
                let resp = self.arm.get(Call::other(), Scope::Tenant, url).await?;
                let s: wire::Subscription = wire::read(&resp, "subscriptionId", &format!("the read of subscription {sub}"))?;
                names.push(s.display_name.as_deref().map(wire::clean).unwrap_or_else(|| sub.clone()));
            }
            names
        };
        if names.is_empty() {
            return Ok(format!("connected as {who}, but it can see no subscription; grant it a role (such as Reader) on one"));
        }
        Ok(format!("connected as {who}; {} subscription(s): {}", names.len(), names.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_examples_are_read() {
        let fixture = |name: &str| std::fs::read_to_string(format!("{}/tests/azure/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        // libcloud's captured list pages: a nextLink with a $skiptoken, then the end.
        let page: wire::Page<wire::VmEntry> = serde_json::from_str(&fixture("libcloud_list_page1.json")).unwrap();
        assert!(page.next_link.as_deref().unwrap().contains("$skiptoken="));
        let o = page.value[0].observe(Some(&[]), true).unwrap();
        assert_eq!(
            o.provider_id,
            "/subscriptions/99999999-9999-9999-9999-999999999999/resourcegroups/000000/providers/microsoft.compute/virtualmachines/test-node-1"
        );
        assert_eq!((o.name.as_str(), o.location.as_deref()), ("test-node-1", Some("eastus")));
        let f = |k: &str| o.facts.get(k).cloned();
        assert_eq!((f("vm_size"), f("os_type"), f("hibernation")), (Some("Standard_A1".into()), Some("Linux".into()), Some("disabled".into())));
        let last: wire::Page<wire::VmEntry> = serde_json::from_str(&fixture("libcloud_list_page2.json")).unwrap();
        assert_eq!((last.value.len(), last.next_link), (1, None));
        // The spec's minimal list: an id and a location, nothing else.
        let spec: serde_json::Value = serde_json::from_str(&fixture("spec_VirtualMachine_ListAll_MinimumSet_Gen.json")).unwrap();
        let minimal: wire::Page<wire::VmEntry> = serde_json::from_value(spec["responses"]["200"]["body"].clone()).unwrap();
        let o = minimal.value[0].observe(Some(&[]), true).unwrap();
        assert_eq!((o.name.as_str(), o.state, o.location.as_deref()), ("{virtualMachineName}", crate::model::PowerState::Unknown, Some("eastus")));
        // Instance views: the spec's and libcloud's (an update in progress).
        let spec: serde_json::Value = serde_json::from_str(&fixture("spec_VirtualMachine_Get_InstanceView.json")).unwrap();
        let view: wire::InstanceView = serde_json::from_value(spec["responses"]["200"]["body"].clone()).unwrap();
        assert_eq!(wire::power(&view.statuses), (crate::model::PowerState::Running, "PowerState/running".into()));
        let view: wire::InstanceView = serde_json::from_str(&fixture("libcloud_instance_view.json")).unwrap();
        assert_eq!(wire::power(&view.statuses), (crate::model::PowerState::Running, "PowerState/running".into()));
    }
}
