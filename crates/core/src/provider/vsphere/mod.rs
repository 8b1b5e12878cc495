//! VMware vSphere (vCenter or standalone ESXi) over the vim25 SOAP API.
//!
//! VM ids are managed object ids (`vm-42`). One session per account: log in
//! once, keep the `vmware_soap_session` cookie, log in again when the server
//! says NotAuthenticated and retry that call once.

pub mod config;
mod soap;
mod tags;

use super::calls::{Call, Calls};
use super::client::batch::refresh_tolerant;
use super::client::token::TokenCache;
use super::http::{normalize_thumbprint, HttpOptions, HttpTransport, Trust};
use super::kind::{self, KindDescriptor, SecretNeed, SecretSpec, TlsFields};
use super::{Capabilities, FeedBatch, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::{Observation, PowerState, ToolsStatus};
use crate::provider::xml::Node;
use crate::secrets::Secret;
use async_trait::async_trait;
pub use config::VsphereConfig;
use soap::{esc, moref, Soap};
use std::sync::Arc;
use std::time::Duration;

const PAGE_SIZE: u32 = 1000;
/// How many truncated WaitForUpdatesEx answers are followed in one watch
/// call before the batch is handed over (250 objects each).
const MAX_CONTINUATIONS: usize = 40;
const VM_PROPS: [&str; 8] = [
    "name",
    "runtime.powerState",
    "guest.toolsRunningStatus",
    "runtime.host",
    "config.instanceUuid",
    "config.guestFullName",
    "guest.ipAddress",
    "guest.hostName",
];

#[derive(Debug, Clone)]
struct Session {
    property_collector: String,
    /// A ContainerView over every VirtualMachine below the root folder.
    view: String,
    /// Which login this is: a feed version is only valid in its own session.
    generation: u64,
    /// The property filter the change feed waits on (created on first use).
    filter: Option<String>,
}

impl Session {
    /// `_this` for PropertyCollector methods.
    fn collector(&self) -> String {
        moref("_this", "PropertyCollector", &self.property_collector)
    }

    /// Our VM properties over every VM of the session's view: what both the
    /// inventory and the change feed's filter ask for.
    fn all_vms_spec(&self) -> String {
        format!(
            "{}<objectSet>{}<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>vms</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>",
            prop_set("VirtualMachine", &VM_PROPS),
            moref("obj", "ContainerView", &self.view)
        )
    }
}

fn prop_set(kind: &str, paths: &[&str]) -> String {
    let paths: String = paths.iter().map(|p| format!("<pathSet>{p}</pathSet>")).collect();
    format!("<propSet><type>{kind}</type>{paths}</propSet>")
}

/// A `propSet` / `changeSet` element as (property name, value).
fn name_val(n: &Node) -> (&str, &str) {
    (n.child("name").map(|x| x.text()).unwrap_or_default(), n.child("val").map(|x| x.text()).unwrap_or_default())
}

pub static KIND: KindDescriptor = KindDescriptor {
    name: "vsphere",
    label: "VMware vSphere",
    summary: "VMs of a vCenter or a standalone ESXi host, through the vim25 SOAP API.",
    fields: config::FIELDS,
    secret: SecretSpec { label: "password", need: SecretNeed::Required },
    tls: Some(TlsFields {
        endpoint: "endpoint",
        thumbprint: "thumbprint",
        insecure: "insecure",
        compare_with: "the thumbprint the host itself shows (ESXi Host Client: Manage → Security & users → Certificates; vCenter: Administration → Certificate Management)",
    }),
    billing: crate::hours::Billing::WhileRunning,
    size_fact: None,
    validate: |config, has_secret| kind::parse::<VsphereConfig>(config)?.validate(has_secret),
    complete: kind::nothing_to_complete,
    build: |ctx| Ok(std::sync::Arc::new(VsphereProvider::new(&ctx.config()?, ctx.secret.clone(), ctx.calls.clone())?)),
    forget: kind::nothing_to_forget,
};

pub struct VsphereProvider {
    soap: Soap,
    username: String,
    password: Secret,
    /// The session: logged in once, again when the server forgets it.
    session: TokenCache<Session>,
    /// Host moref → host name: VMs report `runtime.host` as a moref, admins
    /// know hosts by name. Morefs are stable for a server's lifetime.
    host_names: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Tags come from another API (REST) than the rest (SOAP).
    tags: tags::Tagging,
    endpoint: String,
    trust: Trust,
}

pub fn normalize(power: &str) -> PowerState {
    match power {
        "poweredOn" => PowerState::Running,
        "poweredOff" => PowerState::Stopped,
        "suspended" => PowerState::Suspended,
        _ => PowerState::Unknown,
    }
}

fn tools(status: &str) -> Option<ToolsStatus> {
    match status {
        "guestToolsRunning" | "guestToolsExecutingScripts" => Some(ToolsStatus::Running),
        "guestToolsNotRunning" => Some(ToolsStatus::NotRunning),
        "" => None,
        _ => Some(ToolsStatus::NotInstalled),
    }
}

fn is_session_expired(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Auth { message } if message.starts_with("NotAuthenticated"))
}

/// vSphere escapes `/`, `\` and `%` in inventory names as `%2f`, `%5c`
/// and `%25`; admins typed (and expect to see) the characters themselves.
fn unescape_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).map(str::to_ascii_lowercase);
        match code.as_deref() {
            Some("2f") => out.push('/'),
            Some("5c") => out.push('\\'),
            Some("25") => out.push('%'),
            _ => {
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// One VM from its (property name, value) pairs.
fn observation<'a>(id: String, props: impl Iterator<Item = (&'a str, &'a str)>) -> Observation {
    let (mut name, mut power, mut tools_status, mut host) = (String::new(), String::new(), String::new(), None);
    let mut facts = crate::model::Facts::new();
    for (prop, val) in props {
        match prop {
            "name" => name = unescape_name(val),
            "runtime.powerState" => power = val.to_string(),
            "guest.toolsRunningStatus" => tools_status = val.to_string(),
            // Unset on an orphaned VM, or in an update that clears it.
            "runtime.host" => host = Some(val.to_string()).filter(|h| !h.is_empty()),
            _ => {
                let fact = match prop {
                    "config.instanceUuid" => "instance_uuid",
                    "config.guestFullName" => "guest_os",
                    "guest.ipAddress" => "ip_address",
                    "guest.hostName" => "guest_hostname",
                    _ => continue,
                };
                if !val.is_empty() {
                    facts.insert(fact.to_string(), val.to_string());
                }
            }
        }
    }
    Observation { provider_id: id, state: normalize(&power), raw_state: power, tools: tools(&tools_status), location: host, name, facts }
}

/// `ObjectContent` elements → observations of VMs.
fn observations(returnval: &Node) -> Result<Vec<Observation>, ProviderError> {
    let mut out = Vec::new();
    for obj in returnval.all("objects") {
        let id =
            obj.child("obj").map(|o| o.text().to_string()).filter(|s| !s.is_empty()).ok_or_else(|| ProviderError::malformed("a VM came without its id"))?;
        out.push(observation(id, obj.all("propSet").map(name_val)));
    }
    Ok(out)
}

impl VsphereProvider {
    pub fn new(cfg: &VsphereConfig, password: Option<Secret>, calls: Arc<Calls>) -> ProviderResult<Self> {
        let password = password.ok_or_else(|| ProviderError::Auth { message: "the account has no password".into() })?;
        let trust = match (&cfg.thumbprint, cfg.insecure) {
            (Some(t), _) => Trust::Pinned(
                normalize_thumbprint(t).ok_or_else(|| ProviderError::Config { message: "the pinned thumbprint is not a SHA-256 thumbprint".into() })?,
            ),
            (None, true) => {
                tracing::warn!(endpoint = %cfg.endpoint, "TLS certificate checks are OFF for this vSphere account (it accepts any certificate)");
                Trust::Insecure
            }
            (None, false) => Trust::System,
        };
        let http = HttpTransport::new(&HttpOptions { trust: trust.clone(), ..HttpOptions::default() })?;
        Ok(Self {
            tags: tags::Tagging::new(http.clone(), calls.clone(), &cfg.endpoint, &cfg.username, password.clone()),
            soap: Soap::new(http, calls, cfg.endpoint.clone()),
            endpoint: cfg.endpoint.clone(),
            trust,
            username: cfg.username.clone(),
            password,
            session: TokenCache::new(Duration::ZERO),
            host_names: Default::default(),
        })
    }

    async fn login(&self) -> ProviderResult<Session> {
        // A new session starts without the old one's cookie.
        self.soap.forget_session();
        let content = self.soap.call(Call::other(), "RetrieveServiceContent", &moref("_this", "ServiceInstance", "ServiceInstance")).await?;
        let rv = content.child("returnval").ok_or_else(|| ProviderError::malformed("RetrieveServiceContent: no service content"))?;
        let get = |n: &str| rv.child(n).map(|x| x.text().to_string()).ok_or_else(|| ProviderError::malformed(format!("the service content has no {n}")));
        let (root, pc, views, sessions) = (get("rootFolder")?, get("propertyCollector")?, get("viewManager")?, get("sessionManager")?);
        self.soap
            .call(
                Call::other(),
                "Login",
                &format!(
                    "{}<userName>{}</userName><password>{}</password>",
                    moref("_this", "SessionManager", &sessions),
                    esc(&self.username),
                    esc(self.password.expose())
                ),
            )
            .await?;
        let view = self
            .soap
            .call(
                Call::other(),
                "CreateContainerView",
                &format!(
                    "{}{}<type>VirtualMachine</type><recursive>true</recursive>",
                    moref("_this", "ViewManager", &views),
                    moref("container", "Folder", &root)
                ),
            )
            .await?;
        let view = view.child("returnval").map(|v| v.text().to_string()).ok_or_else(|| ProviderError::malformed("CreateContainerView: no view"))?;
        // The cache numbers each login; `session()` fills it in.
        Ok(Session { property_collector: pc, view, generation: 0, filter: None })
    }

    async fn session(&self) -> ProviderResult<Session> {
        let held = self
            .session
            .get(|| async {
                match self.login().await {
                    Err(e @ ProviderError::Untrusted { .. }) => Err(super::http::explain_untrusted(e, &self.trust, &self.endpoint).await),
                    other => Ok((other?, None)),
                }
            })
            .await?;
        Ok(Session { generation: held.generation, ..held.token })
    }

    /// Forget the session `generation` (server side it is gone): the next
    /// call logs in. When two calls see the same expiry, the second does
    /// not throw away the session the first has just made.
    async fn reset_session(&self, generation: u64) {
        self.session.invalidate(generation).await;
    }

    /// Run a call with a session; if the session expired, log in again and retry once.
    async fn call(&self, call: Call<'_>, method: &str, body: impl Fn(&Session) -> String) -> ProviderResult<Node> {
        self.call_with(call, method, false, body).await
    }

    /// `view_only`: the call names no object but the session's own view. When
    /// a session expires its view goes with it, and some servers (vcsim)
    /// answer ManagedObjectNotFound instead of NotAuthenticated: that too
    /// means "log in again".
    async fn call_with(&self, call: Call<'_>, method: &str, view_only: bool, body: impl Fn(&Session) -> String) -> ProviderResult<Node> {
        self.call_in_session(call, method, view_only, body).await.map(|(node, _)| node)
    }

    /// [`Self::call_with`], also saying which session answered: what a call
    /// creates (a property filter) belongs to that session.
    async fn call_in_session(&self, call: Call<'_>, method: &str, view_only: bool, body: impl Fn(&Session) -> String) -> ProviderResult<(Node, Session)> {
        let s = self.session().await?;
        match self.soap.call(call, method, &body(&s)).await {
            Err(e) if is_session_expired(&e) || (view_only && matches!(e, ProviderError::NotFound { .. })) => {
                self.reset_session(s.generation).await;
                let s = self.session().await?;
                Ok((self.soap.call(call, method, &body(&s)).await?, s))
            }
            other => Ok((other?, s)),
        }
    }

    /// How many times this provider has logged in (a renewed session counts).
    pub async fn logins(&self) -> u64 {
        self.session.fetches().await
    }

    /// What observations carry beyond the VM's own properties: its host by
    /// name, and its tags.
    async fn complete(&self, obs: &mut [Observation]) {
        self.name_hosts(obs).await;
        self.tags.ensure_loaded().await;
        self.tags.apply(obs);
    }

    /// Show hosts by name: look up the ones not seen before (one call), keep
    /// the moref where the lookup fails, since a name is a nicety.
    async fn name_hosts(&self, obs: &mut [Observation]) {
        let unknown: std::collections::BTreeSet<String> = {
            let known = self.host_names.lock().unwrap();
            obs.iter().filter_map(|o| o.location.clone()).filter(|h| !known.contains_key(h)).collect()
        };
        if !unknown.is_empty() {
            let objects: String = unknown.iter().map(|h| format!("<objectSet>{}<skip>false</skip></objectSet>", moref("obj", "HostSystem", h))).collect();
            match self
                .call(Call::other(), "RetrievePropertiesEx", |s| {
                    format!("{}<specSet>{}{objects}</specSet><options/>", s.collector(), prop_set("HostSystem", &["name"]))
                })
                .await
            {
                Ok(resp) => {
                    let mut known = self.host_names.lock().unwrap();
                    for obj in resp.child("returnval").into_iter().flat_map(|rv| rv.all("objects")) {
                        let id = obj.child("obj").map(|o| o.text().to_string()).unwrap_or_default();
                        if let Some((_, name)) = obj.all("propSet").map(name_val).find(|(p, v)| *p == "name" && !v.is_empty()) {
                            known.insert(id, name.to_string());
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "could not read host names; showing host ids"),
            }
        }
        let known = self.host_names.lock().unwrap();
        for o in obs.iter_mut() {
            if let Some(name) = o.location.as_ref().and_then(|h| known.get(h)) {
                o.location = Some(name.clone());
            }
        }
    }

    /// The session's property filter over every VM, created once per session.
    async fn filter(&self) -> ProviderResult<Session> {
        let s = self.session().await?;
        if s.filter.is_some() {
            return Ok(s);
        }
        let (resp, used) = self
            .call_in_session(Call::other(), "CreateFilter", true, |s| {
                format!("{}<spec>{}</spec><partialUpdates>false</partialUpdates>", s.collector(), s.all_vms_spec())
            })
            .await?;
        let filter = resp.child("returnval").map(|f| f.text().to_string()).ok_or_else(|| ProviderError::malformed("CreateFilter: no filter"))?;
        // Possibly a session renewed during the call: the filter is its.
        if self.session.update(used.generation, |cur| cur.filter = Some(filter.clone())).await {
            Ok(Session { filter: Some(filter), ..used })
        } else {
            // The session changed under us: the next call starts over.
            Err(ProviderError::OutcomeUnknown { message: "the vSphere session was renewed while the change feed started".into() })
        }
    }
}

#[async_trait]
impl Provider for VsphereProvider {
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
            reboot_visible: false,
            max_refresh_batch: 500,
        }
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        let resp = match token {
            None => {
                // A full inventory reads the tags afresh (another API, a few calls).
                self.tags.reload().await;
                self.call_with(Call::list(), "RetrievePropertiesEx", true, |s| {
                    format!("{}<specSet>{}</specSet><options><maxObjects>{PAGE_SIZE}</maxObjects></options>", s.collector(), s.all_vms_spec())
                })
                .await?
            }
            Some(t) => self.call(Call::list(), "ContinueRetrievePropertiesEx", |s| format!("{}<token>{}</token>", s.collector(), esc(t))).await?,
        };
        let Some(rv) = resp.child("returnval") else { return Ok(InventoryPage { vms: vec![], next: None }) };
        let next = rv.child("token").map(|t| t.text().to_string()).filter(|t| !t.is_empty());
        let mut vms = observations(rv)?;
        self.complete(&mut vms).await;
        Ok(InventoryPage { vms, next })
    }

    /// One vanished VM fails a whole RetrievePropertiesEx (without saying
    /// which): the shared tolerant batch read finds it by halving.
    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        let read = |ids: Vec<String>| async move {
            let objects: String = ids.iter().map(|id| format!("<objectSet>{}<skip>false</skip></objectSet>", moref("obj", "VirtualMachine", id))).collect();
            let r = self
                .call(Call::refresh(), "RetrievePropertiesEx", |s| {
                    format!("{}<specSet>{}{objects}</specSet><options/>", s.collector(), prop_set("VirtualMachine", &VM_PROPS))
                })
                .await?;
            r.child("returnval").map(observations).unwrap_or(Ok(vec![]))
        };
        let mut obs = refresh_tolerant(ids.to_vec(), &read).await?;
        self.complete(&mut obs).await;
        Ok(obs)
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        let method = match action {
            PowerAction::Start => "PowerOnVM_Task",
            PowerAction::PowerOff => "PowerOffVM_Task",
            PowerAction::Reset => "ResetVM_Task",
            PowerAction::Suspend => "SuspendVM_Task",
            PowerAction::ShutdownGuest => "ShutdownGuest",
            PowerAction::RebootGuest => "RebootGuest",
            PowerAction::Hibernate | PowerAction::Deallocate => return Err(ProviderError::Unsupported { action: format!("{} on vSphere", action.as_str()) }),
        };
        let resp = self.call(Call::submit(), method, |_| moref("_this", "VirtualMachine", id)).await?;
        let job = resp.child("returnval").map(|t| t.text().to_string()).filter(|t| !t.is_empty());
        Ok(Submission { job, observed: None })
    }

    /// WaitForUpdatesEx on the session's filter. The cursor is
    /// `{login generation}:{version}`; a version from an older session means
    /// the feed lost its place, so a full sync must cover the gap. Changed
    /// VMs are read again in full (one call), because a `modify` update only
    /// carries the properties that changed.
    async fn watch(&self, cursor: Option<&str>, max_wait: Duration) -> ProviderResult<FeedBatch> {
        let s = self.filter().await?;
        let (version, resync_needed) = match cursor.and_then(|c| c.split_once(':')) {
            Some((g, v)) if g.parse::<u64>().ok() == Some(s.generation) => (v.to_string(), false),
            Some(_) => (String::new(), true),
            None => (String::new(), false),
        };
        // Below the HTTP timeout (30 s), so a quiet feed is never a timeout.
        let wait_s = max_wait.as_secs().clamp(1, 25);
        let mut version = version;
        let mut entered: std::collections::BTreeMap<String, Observation> = Default::default();
        let mut modified: std::collections::BTreeSet<String> = Default::default();
        let mut removed: std::collections::BTreeSet<String> = Default::default();
        // A truncated answer means more updates are already waiting: follow
        // them at once (without waiting) so one batch is one consistent view.
        for round in 0..=MAX_CONTINUATIONS {
            let wait = if round == 0 { wait_s } else { 0 };
            let resp = self
                .soap
                .call(
                    Call::watch(),
                    "WaitForUpdatesEx",
                    &format!(
                        "{}<version>{}</version><options><maxWaitSeconds>{wait}</maxWaitSeconds><maxObjectUpdates>250</maxObjectUpdates></options>",
                        s.collector(),
                        esc(&version)
                    ),
                )
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) if is_session_expired(&e) => {
                    self.reset_session(s.generation).await;
                    return Ok(FeedBatch { changes: vec![], removed: vec![], cursor: String::new(), resync_needed: true });
                }
                // The server no longer knows our version (a truncated one sent
                // twice after an error, or one it has discarded): start the
                // filter over from its full state, and sync to cover the gap.
                Err(ProviderError::Provider { code, .. }) if code == "InvalidCollectorVersion" => {
                    return Ok(FeedBatch { changes: vec![], removed: vec![], cursor: format!("{}:", s.generation), resync_needed: true });
                }
                Err(e) => return Err(e),
            };
            // No returnval: nothing (more) changed within the wait.
            let Some(rv) = resp.child("returnval") else { break };
            version = rv.child("version").map(|v| v.text().to_string()).unwrap_or_default();
            for os in rv.all("filterSet").flat_map(|fs| fs.all("objectSet")) {
                let id = os.child("obj").map(|o| o.text().to_string()).unwrap_or_default();
                if id.is_empty() {
                    return Err(ProviderError::malformed("an update came without the VM's id"));
                }
                match os.child("kind").map(|k| k.text()) {
                    Some("leave") => {
                        entered.remove(&id);
                        modified.remove(&id);
                        removed.insert(id);
                    }
                    // An `enter` carries every property we asked for.
                    Some("enter") => {
                        removed.remove(&id);
                        entered.insert(id.clone(), observation(id, os.all("changeSet").map(name_val)));
                    }
                    _ => {
                        modified.insert(id);
                    }
                }
            }
            let truncated = rv.child("truncated").is_some_and(|t| t.text() == "true");
            if !truncated {
                break;
            }
            if round == MAX_CONTINUATIONS {
                tracing::debug!("change feed still truncated after {MAX_CONTINUATIONS} continuations; the next watch goes on");
            }
        }
        // An `enter` needs host names; a `modify` carries only what changed,
        // so those VMs are read again in full (one call).
        let mut changes: Vec<Observation> = entered.into_values().filter(|o| !modified.contains(&o.provider_id)).collect();
        self.complete(&mut changes).await;
        if !modified.is_empty() {
            changes.extend(self.refresh(&modified.into_iter().collect::<Vec<_>>()).await?);
        }
        Ok(FeedBatch { changes, removed: removed.into_iter().collect(), cursor: format!("{}:{version}", s.generation), resync_needed })
    }

    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus> {
        self.poll_jobs(std::slice::from_ref(&job.to_string()))
            .await
            .pop()
            .map(|(_, r)| r)
            .unwrap_or_else(|| Err(ProviderError::NotFound { what: format!("task {job}") }))
    }

    /// Every task in one RetrievePropertiesEx. A task the server has already
    /// discarded makes it refuse the whole read; the tolerant batch read
    /// finds it, and it is reported as not found on its own.
    async fn poll_jobs(&self, jobs: &[String]) -> Vec<(String, ProviderResult<JobStatus>)> {
        let read = |jobs: Vec<String>| async move {
            let objects: String = jobs.iter().map(|j| format!("<objectSet>{}<skip>false</skip></objectSet>", moref("obj", "Task", j))).collect();
            let resp = self
                .call(Call::poll(), "RetrievePropertiesEx", |s| {
                    format!("{}<specSet>{}{objects}</specSet><options/>", s.collector(), prop_set("Task", &["info.state", "info.error"]))
                })
                .await?;
            // Task answers ride in observations' shape: id + one fact per outcome.
            Ok(resp.child("returnval").into_iter().flat_map(|rv| rv.all("objects")).map(task_status).collect())
        };
        let answered = match refresh_tolerant(jobs.to_vec(), &read).await {
            Ok(a) => a,
            Err(e) => return jobs.iter().map(|j| (j.clone(), Err(e.clone()))).collect(),
        };
        jobs.iter()
            .map(|j| {
                let status = match answered.iter().find(|o| &o.provider_id == j) {
                    Some(o) => decode_task(j, o),
                    None => Err(ProviderError::NotFound { what: format!("task {j}") }),
                };
                (j.clone(), status)
            })
            .collect()
    }
}

/// A task's `info.state` and `info.error`, carried in an [`Observation`]
/// (raw state = the task state; fact `error` = its message) so the shared
/// tolerant batch read can read many tasks as it reads many VMs.
fn task_status(obj: &Node) -> Observation {
    let id = obj.child("obj").map(|o| o.text().to_string()).unwrap_or_default();
    let mut state = String::new();
    let mut facts = crate::model::Facts::new();
    for p in obj.all("propSet") {
        match p.child("name").map(|n| n.text()) {
            Some("info.state") => state = p.child("val").map(|v| v.text().to_string()).unwrap_or_default(),
            // The task's own fault, not one nested in its faultCause.
            Some("info.error") => {
                let val = p.child("val");
                let message = val.and_then(|v| v.child("localizedMessage")).map(|m| m.text().to_string()).filter(|m| !m.is_empty());
                let kind = val.and_then(|v| v.child("fault")).and_then(|f| f.attr("type")).map(str::to_string);
                let error = match (message, kind) {
                    (Some(m), _) => Some(m),
                    (None, Some(k)) => Some(format!("the task failed with {k}")),
                    (None, None) => None,
                };
                facts.extend(error.map(|e| ("error".to_string(), e)));
            }
            _ => {}
        }
    }
    Observation { provider_id: id, name: String::new(), state: PowerState::Unknown, raw_state: state, tools: None, location: None, facts }
}

fn decode_task(job: &str, o: &Observation) -> ProviderResult<JobStatus> {
    Ok(match o.raw_state.as_str() {
        "success" => JobStatus::Succeeded,
        "error" => JobStatus::Failed(o.facts.get("error").cloned().unwrap_or_else(|| "the task failed".into())),
        "queued" | "running" => JobStatus::Running { poll_after: None },
        other => return Err(ProviderError::malformed(format!("task {job} is in an unknown state '{other}'"))),
    })
}

/// What every inventory answer and name is held to, by the property tests
/// and the fuzzer (`fuzz/`): observations that pass the store's checks, or
/// an error; never a panic; a name without `%` stays as it is.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(text: &str) {
    if let Some(rv) = crate::provider::xml::parse(text).ok().as_ref().and_then(|d| d.find("returnval")) {
        if let Ok(obs) = observations(rv) {
            for o in obs.iter().filter(|o| !o.provider_id.is_empty()) {
                assert!(o.provider_id.len() <= text.len());
            }
        }
    }
    let name = unescape_name(text);
    if !text.contains('%') {
        assert_eq!(name, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retrieve_answer_becomes_observations() {
        let xml = r#"<Envelope><Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>page-2</token>
            <objects><obj type="VirtualMachine">vm-42</obj>
              <propSet><name>name</name><val xsi:type="xsd:string">web &amp; api</val></propSet>
              <propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOff</val></propSet>
              <propSet><name>guest.toolsRunningStatus</name><val xsi:type="xsd:string">guestToolsNotRunning</val></propSet>
              <propSet><name>runtime.host</name><val type="HostSystem" xsi:type="ManagedObjectReference">host-7</val></propSet>
            </objects></returnval></RetrievePropertiesExResponse></Body></Envelope>"#;
        let doc = crate::provider::xml::parse(xml).unwrap();
        let rv = doc.find("returnval").unwrap();
        assert_eq!(rv.child("token").unwrap().text(), "page-2");
        let obs = observations(rv).unwrap();
        assert_eq!(obs.len(), 1);
        assert_eq!(
            (obs[0].provider_id.as_str(), obs[0].name.as_str(), obs[0].state, obs[0].raw_state.as_str()),
            ("vm-42", "web & api", PowerState::Stopped, "poweredOff")
        );
        assert_eq!((obs[0].tools, obs[0].location.as_deref()), (Some(ToolsStatus::NotRunning), Some("host-7")));
    }

    #[test]
    fn names_are_shown_as_typed_and_an_unset_host_is_no_host() {
        assert_eq!(unescape_name("db%2fprimary %5c 100%25"), "db/primary \\ 100%");
        assert_eq!(unescape_name("50% off %zz %2"), "50% off %zz %2", "a lone % stays");
        assert_eq!(unescape_name("caf\u{e9}%2F"), "caf\u{e9}/");
        let o = observation("vm-1".into(), [("name", "a%2fb"), ("runtime.host", "")].into_iter());
        assert_eq!((o.name.as_str(), o.location), ("a/b", None));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, mutated};
    use proptest::prelude::*;

    const ANSWER: &str = r#"<Envelope><Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>page-2</token><objects><obj type="VirtualMachine">vm-42</obj><propSet><name>name</name><val xsi:type="xsd:string">web%2f &amp; api</val></propSet><propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOff</val></propSet><propSet><name>guest.toolsRunningStatus</name><val xsi:type="xsd:string">guestToolsNotRunning</val></propSet><propSet><name>runtime.host</name><val type="HostSystem" xsi:type="ManagedObjectReference">host-7</val></propSet></objects><objects><obj type="VirtualMachine">vm-43</obj><propSet><name>runtime.powerState</name><val>suspended</val></propSet></objects></returnval></RetrievePropertiesExResponse></Body></Envelope>"#;

    proptest! {
        #![proptest_config(config())]

        /// A damaged inventory answer gives observations that pass the
        /// store's checks, or an error; never a panic.
        #[test]
        fn a_damaged_inventory_answer_is_read_or_refused(text in mutated(ANSWER)) {
            check(&text);
        }

        #[test]
        fn any_name_unescapes_without_panic_and_plain_names_stay(name in "\\PC{0,30}") {
            check(&name);
        }
    }
}
