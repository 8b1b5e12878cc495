//! Reading VMs: the subscriptions, the inventory one page at a time, and
//! state-only refreshes at the lowest cost in calls.
//!
//! ARM's `statusOnly=true` list carries each VM's power state but none of
//! its facts (tags, size, OS); the plain list carries the facts but no
//! state. So a subscription's inventory is its whole `statusOnly` list
//! (one call per ~1000 VMs), held while the plain list is paged through and
//! joined to it by id. A VM created in between has no state yet and is read
//! on its own.

use super::arm::{Scope, COMPUTE_API, SUBSCRIPTIONS_API};
use super::ids::VmRef;
use super::wire::{self, Page, Status, Subscription, VmEntry};
use super::AzureProvider;
use crate::model::Observation;
use crate::provider::calls::Call;
use crate::provider::{InventoryPage, ProviderError, ProviderResult};
use std::collections::{HashMap, HashSet};

/// Most pages one list may take (a subscription of a million VMs at ARM's
/// 1000 a page, or a server that pages forever).
const MAX_PAGES: usize = 5000;
/// Most pages in a row that bring no VM not seen already: a server that
/// keeps handing out empty pages (or the same VMs again) is stopped here.
const MAX_IDLE_PAGES: usize = 20;

/// What the provider keeps between calls.
#[derive(Default)]
pub struct Walks {
    /// The subscriptions the last discovery found (accounts of "every
    /// subscription the principal can see").
    discovered: Vec<String>,
    /// Per subscription, the states of the inventory walk in progress.
    snapshots: HashMap<String, Snapshot>,
    /// Per subscription, how many pages its `statusOnly` list took last:
    /// what a state-only refresh costs by listing.
    status_pages: HashMap<String, usize>,
}

struct Snapshot {
    states: HashMap<String, Vec<Status>>,
    /// Ids already handed out in this walk (ARM may list one twice).
    emitted: HashSet<String>,
}

/// The page token: the subscription, and within it how many pages went
/// before, how many of those in a row brought nothing new, and ARM's
/// `nextLink`. A bare subscription id starts that subscription.
struct Token {
    subscription: String,
    more: Option<(usize, usize, reqwest::Url)>,
}

impl Token {
    fn encode(&self) -> String {
        match &self.more {
            None => self.subscription.clone(),
            Some((pages, idle, link)) => format!("{}|{pages}|{idle}|{link}", self.subscription),
        }
    }

    fn decode(t: &str) -> ProviderResult<Self> {
        let bad = || ProviderError::malformed(format!("page token '{}' is not one Powerdeck made", wire::clean(t)));
        let mut parts = t.splitn(4, '|');
        let subscription = parts.next().filter(|s| super::config::is_guid(s)).ok_or_else(bad)?.to_string();
        let more = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => None,
            (Some(p), Some(i), Some(l)) => Some((p.parse().map_err(|_| bad())?, i.parse().map_err(|_| bad())?, reqwest::Url::parse(l).map_err(|_| bad())?)),
            _ => return Err(bad()),
        };
        Ok(Self { subscription, more })
    }
}

impl AzureProvider {
    fn walks(&self) -> std::sync::MutexGuard<'_, Walks> {
        self.walks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether VMs of this subscription belong to the account.
    pub(super) fn manages(&self, subscription: &str) -> bool {
        self.configured.is_empty() || self.configured.iter().any(|s| s == subscription)
    }

    /// The account's subscriptions: as configured, or (`rediscover`, or
    /// none known yet) every one the principal can see, from `GET /subscriptions`.
    pub(super) async fn subscriptions(&self, rediscover: bool) -> ProviderResult<Vec<String>> {
        if !self.configured.is_empty() {
            return Ok(self.configured.clone());
        }
        let known = self.walks().discovered.clone();
        if !rediscover && !known.is_empty() {
            return Ok(known);
        }
        let found: Vec<String> = self.visible_subscriptions().await?.into_iter().map(|s| s.subscription_id).collect();
        self.walks().discovered = found.clone();
        Ok(found)
    }

    /// `GET /subscriptions`, every page: ids lower-cased, each once.
    pub(super) async fn visible_subscriptions(&self) -> ProviderResult<Vec<Subscription>> {
        let mut url = self.arm.url("/subscriptions", SUBSCRIPTIONS_API);
        let (mut out, mut seen, mut idle) = (Vec::new(), HashSet::new(), 0);
        for _ in 0..MAX_PAGES {
            let resp = self.arm.get(Call::other(), Scope::Tenant, url).await?;
            let page: Page<Subscription> = wire::read(&resp, "value", "the subscription list")?;
            let before = out.len();
            for mut s in page.value {
                s.subscription_id = s.subscription_id.trim().to_ascii_lowercase();
                if !super::config::is_guid(&s.subscription_id) {
                    return Err(ProviderError::malformed(format!("'{}' is not a subscription id", wire::clean(&s.subscription_id))));
                }
                if seen.insert(s.subscription_id.clone()) {
                    out.push(s);
                }
            }
            idle = if out.len() == before { idle + 1 } else { 0 };
            match page.next_link {
                None => return Ok(out),
                Some(_) if idle >= MAX_IDLE_PAGES => break,
                Some(link) => url = self.next_link(&link, "/subscriptions")?,
            }
        }
        Err(endless("of the subscription list"))
    }

    /// A `nextLink`, if it stays on Resource Manager under `under`: only
    /// there does the bearer token go.
    fn next_link(&self, link: &str, under: &str) -> ProviderResult<reqwest::Url> {
        let url = reqwest::Url::parse(link).ok().filter(|u| self.arm.is_ours(u) && u.path().to_ascii_lowercase().starts_with(under));
        url.ok_or_else(|| {
            ProviderError::malformed("the next page's link leads away from Resource Manager (or from the subscription listed); it was not followed")
        })
    }

    fn list_url(&self, subscription: &str, status_only: bool) -> reqwest::Url {
        let mut url = self.arm.url(&format!("/subscriptions/{subscription}/providers/Microsoft.Compute/virtualMachines"), COMPUTE_API);
        if status_only {
            url.query_pairs_mut().append_pair("statusOnly", "true");
        }
        url
    }

    /// One page of a subscription's VM list, every entry checked to be a VM
    /// of that subscription (an answer about others changes nothing).
    async fn vm_page(&self, call: Call<'_>, subscription: &str, url: reqwest::Url) -> ProviderResult<(Vec<(String, VmEntry)>, Option<reqwest::Url>)> {
        let resp = self.arm.get(call, Scope::Subscription(subscription), url).await?;
        let page: Page<VmEntry> = wire::read(&resp, "value", &format!("the VM list of subscription {subscription}"))?;
        let mut out = Vec::with_capacity(page.value.len());
        for entry in page.value {
            let (id, r) = entry.vm_ref()?;
            if r.subscription != subscription {
                return Err(ProviderError::malformed(format!("the VM list of subscription {subscription} named {id}, a VM of another subscription")));
            }
            out.push((id, entry));
        }
        let next = page.next_link.map(|l| self.next_link(&l, &format!("/subscriptions/{subscription}/"))).transpose()?;
        Ok((out, next))
    }

    /// A subscription's whole `statusOnly` list (each VM once), and how many pages it took.
    async fn status_list(&self, call: Call<'_>, subscription: &str) -> ProviderResult<Vec<(String, VmEntry)>> {
        let mut url = self.list_url(subscription, true);
        let (mut out, mut seen, mut idle) = (Vec::new(), HashSet::new(), 0);
        for pages in 1..=MAX_PAGES {
            let (entries, next) = self.vm_page(call, subscription, url).await?;
            let before = out.len();
            out.extend(entries.into_iter().filter(|(id, _)| seen.insert(id.clone())));
            idle = if out.len() == before { idle + 1 } else { 0 };
            if idle >= MAX_IDLE_PAGES && next.is_some() {
                return Err(endless(&format!("for subscription {subscription}")));
            }
            match next {
                Some(n) => url = n,
                None => {
                    self.walks().status_pages.insert(subscription.to_string(), pages);
                    return Ok(out);
                }
            }
        }
        Err(endless(&format!("for subscription {subscription}")))
    }

    /// One page of the inventory (see the module's comment).
    pub(super) async fn inventory_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        let token = match token {
            Some(t) => Token::decode(t)?,
            None => match self.subscriptions(true).await?.into_iter().next() {
                Some(subscription) => Token { subscription, more: None },
                None => return Ok(InventoryPage { vms: vec![], next: None }),
            },
        };
        let sub = token.subscription.as_str();
        let (url, pages, idle) = match token.more {
            Some((pages, idle, link)) => (self.next_link(link.as_str(), &format!("/subscriptions/{sub}/"))?, pages, idle),
            None => {
                let states = self.status_list(Call::list(), sub).await?;
                let states = states.into_iter().filter_map(|(id, e)| e.own_statuses().map(|s| (id, s))).collect();
                self.walks().snapshots.insert(sub.to_string(), Snapshot { states, emitted: HashSet::new() });
                (self.list_url(sub, false), 0, 0)
            }
        };
        let (entries, next) = self.vm_page(Call::list(), sub, url).await?;
        // Taken out while this page is joined (no lock across a request).
        let held = self.walks().snapshots.remove(sub);
        let mut snap = match held {
            Some(s) => s,
            None => {
                let states = self.status_list(Call::list(), sub).await?;
                Snapshot { states: states.into_iter().filter_map(|(id, e)| e.own_statuses().map(|s| (id, s))).collect(), emitted: HashSet::new() }
            }
        };
        let mut vms = Vec::with_capacity(entries.len());
        let mut stateless = Vec::new();
        for (id, entry) in entries {
            if !snap.emitted.insert(id.clone()) {
                tracing::debug!(vm = %id, "listed twice; kept once");
                continue;
            }
            match snap.states.get(&id) {
                Some(statuses) => vms.push(entry.observe(Some(statuses), true)?),
                None => stateless.push(entry),
            }
        }
        // Created since the states were listed: read on their own.
        for entry in stateless {
            let (_, r) = entry.vm_ref()?;
            if let Some(fresh) = self.read_vm(Call::list(), &r).await? {
                vms.push(entry.observe(fresh.own_statuses().as_deref(), true)?);
            }
        }
        let idle = if vms.is_empty() { idle + 1 } else { 0 };
        let next = match next {
            Some(_) if idle >= MAX_IDLE_PAGES || pages + 1 >= MAX_PAGES => return Err(endless(&format!("for subscription {sub}"))),
            Some(link) => {
                self.walks().snapshots.insert(sub.to_string(), snap);
                Some(Token { subscription: sub.to_string(), more: Some((pages + 1, idle, link)) }.encode())
            }
            None => self.after(sub).await?.map(|s| Token { subscription: s, more: None }.encode()),
        };
        Ok(InventoryPage { vms, next })
    }

    /// The subscription walked after `sub`.
    async fn after(&self, sub: &str) -> ProviderResult<Option<String>> {
        let subs = self.subscriptions(false).await?;
        let at = subs.iter().position(|s| s == sub).ok_or_else(|| ProviderError::OutcomeUnknown {
            message: format!("subscription {sub} left the account's list during the sync; the next sync starts over"),
        })?;
        Ok(subs.get(at + 1).cloned())
    }

    /// `GET …/{vm}?$expand=instanceView`: the VM with its state, checked to
    /// be the one asked for. `None`: ARM does not know it.
    async fn read_vm(&self, call: Call<'_>, r: &VmRef) -> ProviderResult<Option<VmEntry>> {
        let mut url = r.url(&self.arm.endpoint, &[]);
        url.query_pairs_mut().append_pair("api-version", COMPUTE_API).append_pair("$expand", "instanceView");
        let resp = match self.arm.get(call, Scope::Subscription(&r.subscription), url).await {
            Ok(resp) => resp,
            Err(ProviderError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let entry: VmEntry = wire::read(&resp, "id", &format!("the read of VM {}", r.canonical()))?;
        let (id, _) = entry.vm_ref()?;
        if id != r.canonical() {
            return Err(ProviderError::malformed(format!("asked about VM {}, Resource Manager answered about {id}", r.canonical())));
        }
        Ok(Some(entry))
    }

    /// States of these VMs of one subscription, by whichever costs fewer
    /// calls: one `GET …?$expand=instanceView` per VM, or the subscription's
    /// whole `statusOnly` list (as many calls as it had pages last time;
    /// never chosen before that is known).
    pub(super) async fn refresh_subscription(&self, sub: &str, refs: Vec<VmRef>) -> ProviderResult<Vec<Observation>> {
        let list_cost = self.walks().status_pages.get(sub).copied();
        if list_cost.is_some_and(|pages| pages < refs.len()) {
            let wanted: HashSet<String> = refs.iter().map(VmRef::canonical).collect();
            let listed = self.status_list(Call::refresh(), sub).await?;
            return listed.into_iter().filter(|(id, _)| wanted.contains(id)).map(|(_, e)| e.observe(None, false)).collect();
        }
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            if let Some(entry) = self.read_vm(Call::refresh(), &r).await? {
                out.push(entry.observe(None, false)?);
            }
        }
        Ok(out)
    }

    /// Group ids by subscription; ids that are not VMs of this account are not ours to report.
    pub(super) fn by_subscription(&self, ids: &[String]) -> Vec<(String, Vec<VmRef>)> {
        let mut groups: Vec<(String, Vec<VmRef>)> = Vec::new();
        for r in ids.iter().filter_map(|id| VmRef::parse(id)).filter(|r| self.manages(&r.subscription)) {
            match groups.iter_mut().find(|(s, _)| *s == r.subscription) {
                Some((_, refs)) if !refs.contains(&r) => refs.push(r),
                Some(_) => {}
                None => groups.push((r.subscription.clone(), vec![r])),
            }
        }
        groups
    }
}

/// `what`: "for subscription …", "of the subscription list".
fn endless(what: &str) -> ProviderError {
    ProviderError::malformed(format!(
        "Resource Manager keeps answering with more pages {what} ({MAX_IDLE_PAGES} in a row with nothing not listed already, or over {MAX_PAGES}); the listing was stopped"
    ))
}
