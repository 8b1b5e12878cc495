//! Hosts, clusters and tags by name. A VM links to them by id; admins know
//! them by name. The lists are small and change rarely: read once, and
//! again when a VM names one not known yet (at most once a minute, so a
//! user who may not see hosts does not cost three calls per listing).
//!
//! oVirt's tags are names in a tree, not key/value pairs. A tag under
//! another becomes the fact `tag:PARENT` = NAME (deeper: `tag:A/B` = NAME),
//! so a tree like env → prod reads as `env=prod` in reports, as EC2's and
//! Azure's tags do; a top-level tag becomes `tag:NAME` with no value.

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
    /// Tag id → its name and its parent's id (None for the root).
    tags: HashMap<String, (String, Option<String>)>,
    read_at: Option<Instant>,
}

/// The root of oVirt's tag tree (`TagsDirector.ROOT_TAG_ID`).
const ROOT_TAG: &str = "00000000-0000-0000-0000-000000000000";

impl Known {
    /// A tag's fact: `(KEY, VALUE)` from its place in the tree.
    fn tag_fact(&self, name: &str, parent: Option<&str>) -> (String, String) {
        let mut path = Vec::new();
        let mut at = parent;
        // Depth-bounded: a tree read from a server is not trusted to end.
        while let Some(id) = at.filter(|id| *id != ROOT_TAG) {
            let Some((parent_name, grandparent)) = self.tags.get(id) else { break };
            if grandparent.is_none() || path.len() >= 16 {
                break;
            }
            path.push(parent_name.clone());
            at = grandparent.as_deref();
        }
        if path.is_empty() {
            return (format!("tag:{name}"), String::new());
        }
        path.reverse();
        (format!("tag:{}", path.join("/")), name.to_string())
    }

    fn knows_parents(&self, v: &VmReading) -> bool {
        v.tags.iter().all(|(_, p)| p.as_deref().is_none_or(|p| p == ROOT_TAG || self.tags.contains_key(p)))
    }
}

impl Names {
    /// Name the hosts and clusters of these VMs: the host becomes the VM's
    /// location (only a running VM has one), both become facts.
    pub async fn apply(&self, api: &Api, vms: &mut [VmReading]) {
        let missing = {
            let k = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let unknown = vms.iter().any(|v| {
                v.host_id.as_ref().is_some_and(|h| !k.hosts.contains_key(h))
                    || v.cluster_id.as_ref().is_some_and(|c| !k.clusters.contains_key(c))
                    || !k.knows_parents(v)
            });
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
            // Two tags under one parent (env → prod and env → test) share the key.
            let mut facts: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (name, parent) in &v.tags {
                let (key, value) = k.tag_fact(name, parent.as_deref());
                facts.entry(key).or_default().push(value);
            }
            for (key, mut values) in facts {
                values.sort();
                values.dedup();
                // `env` itself and `env/prod` on one VM: the value says more.
                if values.len() > 1 {
                    values.retain(|v| !v.is_empty());
                }
                v.obs.facts.insert(key, values.join(", "));
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
        // Tags are a nicety: without them a tag is named alone, not refused.
        let tags = match api.get(Call::other(), "tags", &[], "tags").await {
            Ok(tags) => tags
                .root
                .all("tag")
                .filter_map(|t| {
                    let id = t.attr("id")?.to_string();
                    let name: String = t.child("name")?.text().chars().filter(|c| !c.is_control()).collect();
                    let parent = t.child("parent").and_then(|p| p.attr("id")).map(str::to_string);
                    Some((id, (name, parent)))
                })
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "tags could not be read; each is named alone");
                HashMap::new()
            }
        };
        let mut k = self.known.lock().unwrap_or_else(|p| p.into_inner());
        k.hosts = by_id(&hosts.root, "host");
        k.clusters = by_id(&clusters.root, "cluster");
        k.tags = tags;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(tree: &[(&str, &str, Option<&str>)]) -> Known {
        let tags = tree.iter().map(|(id, name, parent)| (id.to_string(), (name.to_string(), parent.map(str::to_string)))).collect();
        Known { tags, ..Known::default() }
    }

    #[test]
    fn a_tag_reads_as_its_parents_key_and_its_own_value() {
        let k = known(&[
            (ROOT_TAG, "root", None),
            ("env", "env", Some(ROOT_TAG)),
            ("prod", "prod", Some("env")),
            ("team", "team", Some(ROOT_TAG)),
            ("web", "web", Some("team")),
            ("fe", "fe", Some("web")),
        ]);
        let fact = |name: &str, parent: Option<&str>| k.tag_fact(name, parent);
        assert_eq!(fact("prod", Some("env")), ("tag:env".into(), "prod".into()));
        assert_eq!(fact("fe", Some("web")), ("tag:team/web".into(), "fe".into()));
        assert_eq!(fact("backup", Some(ROOT_TAG)), ("tag:backup".into(), String::new()), "a top-level tag has no value");
        assert_eq!(fact("backup", None), ("tag:backup".into(), String::new()));
        assert_eq!(fact("orphan", Some("unknown-id")), ("tag:orphan".into(), String::new()), "an unknown parent: named alone");
    }

    #[test]
    fn a_tree_that_loops_or_never_ends_is_cut_short() {
        let k = known(&[("a", "a", Some("b")), ("b", "b", Some("a"))]);
        let (key, value) = k.tag_fact("x", Some("a"));
        assert_eq!(value, "x");
        assert!(key.len() < 80, "{key}");
    }
}
