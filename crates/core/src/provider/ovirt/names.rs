//! Hosts and clusters by name. A VM links to them by id; admins know them
//! by name. Both lists are small and change rarely: read once, and again
//! when a VM names one not known yet (at most once a minute, so a user who
//! may not see hosts does not cost two calls per listing).

use super::api::Api;
use super::vm::VmReading;
use crate::provider::calls::Call;
use crate::provider::ProviderResult;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const REREAD_AFTER: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Names {
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    hosts: HashMap<String, String>,
    clusters: HashMap<String, String>,
    read_at: Option<Instant>,
}

impl Names {
    /// Name the hosts and clusters of these VMs: the host becomes the VM's
    /// location (only a running VM has one), both become facts.
    pub async fn apply(&self, api: &Api, vms: &mut [VmReading]) {
        let missing = {
            let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let unknown = vms
                .iter()
                .any(|v| v.host_id.as_ref().is_some_and(|h| !k.hosts.contains_key(h)) || v.cluster_id.as_ref().is_some_and(|c| !k.clusters.contains_key(c)));
            unknown && k.read_at.is_none_or(|at| at.elapsed() >= REREAD_AFTER)
        };
        if missing {
            if let Err(e) = self.read(api).await {
                tracing::debug!(error = %e, "hosts and clusters could not be named; ids are kept");
            }
        }
        let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        for v in vms.iter_mut() {
            if let Some(c) = v.cluster_id.as_ref().and_then(|c| k.clusters.get(c)) {
                v.obs.facts.insert("cluster".into(), c.clone());
            }
            if let Some(h) = v.host_id.as_ref() {
                let name = k.hosts.get(h).cloned().unwrap_or_else(|| h.clone());
                v.obs.facts.insert("host".into(), name.clone());
                v.obs.location = Some(name);
            }
        }
    }

    async fn read(&self, api: &Api) -> ProviderResult<()> {
        // Marked first: a failure is not retried at every listing either.
        self.known.lock().unwrap_or_else(|p| p.into_inner()).read_at = Some(Instant::now());
        let hosts = api.get(Call::other(), "hosts", &[], "hosts").await?;
        let clusters = api.get(Call::other(), "clusters", &[], "clusters").await?;
        let by_id = |root: &crate::provider::xml::Node, kind: &str| -> HashMap<String, String> {
            root.all(kind)
                .filter_map(|n| {
                    let id = n.attr("id")?.to_string();
                    let name: String = n.child("name")?.text().chars().filter(|c| !c.is_control()).collect();
                    Some((id, name))
                })
                .collect()
        };
        let mut k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        k.hosts = by_id(&hosts.root, "host");
        k.clusters = by_id(&clusters.root, "cluster");
        Ok(())
    }
}
