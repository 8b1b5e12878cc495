//! `listVirtualMachines` rows as observations: CloudStack's VM states
//! (`VirtualMachine.State`) mapped to Powerdeck's, the raw state kept, and
//! what admins look for kept as facts (zone, host, offering, template,
//! addresses, owner, tags, and a job the server says is running on the VM).

use crate::model::{Facts, Observation, PowerState};
use crate::text::clean;
use serde::Deserialize;

/// The `details` blocks the inventory needs: facts come from the offering
/// (`servoff`), template (`tmpl`) and NICs (`nics`); the stats, volume,
/// security-group and affinity blocks of the default (`all`) are left out.
pub const DETAILS: &str = "nics,servoff,tmpl";

#[derive(Debug, Clone, Deserialize)]
pub struct VmRow {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub displayname: Option<String>,
    pub state: String,
    #[serde(default)]
    pub zonename: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub serviceofferingname: Option<String>,
    #[serde(default)]
    pub templatename: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub instancename: Option<String>,
    #[serde(default)]
    pub hypervisor: Option<String>,
    /// An API job still open on this VM (`user_vm_view` joins `async_job`).
    #[serde(default)]
    pub jobid: Option<String>,
    #[serde(default)]
    pub jobstatus: Option<i64>,
    #[serde(default)]
    pub nic: Vec<Nic>,
    /// Resource tags: in every row whatever `details` asks for (4.x on).
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Nic {
    #[serde(default)]
    pub ipaddress: Option<String>,
    #[serde(default)]
    pub ip6address: Option<String>,
}

/// `VirtualMachine.State` → Powerdeck's state. Destroyed and Expunging VMs
/// are on their way out (recoverable for a while, then gone): terminated,
/// never stopped. Error (a failed deployment), Restoring and anything this
/// version does not know are unknown; the raw state says which.
pub fn normalize(state: &str) -> PowerState {
    match state {
        "Starting" => PowerState::Starting,
        "Running" => PowerState::Running,
        "Stopping" => PowerState::Stopping,
        "Stopped" => PowerState::Stopped,
        // The guest powered itself off (older servers: "Shutdowned").
        "Shutdown" | "Shutdowned" => PowerState::Stopped,
        "Migrating" => PowerState::Migrating,
        "Destroyed" | "Expunging" => PowerState::Terminated,
        _ => PowerState::Unknown,
    }
}

impl VmRow {
    pub fn observation(&self) -> Observation {
        let name = Some(clean(&self.name)).filter(|n| !n.is_empty()).unwrap_or_else(|| clean(&self.id));
        let mut facts = Facts::new();
        let mut fact = |key: &str, value: &Option<String>| {
            if let Some(v) = value.as_deref().map(clean).filter(|v| !v.is_empty()) {
                facts.insert(key.to_string(), v);
            }
        };
        fact("host", &self.hostname);
        fact("service_offering", &self.serviceofferingname);
        fact("template", &self.templatename);
        fact("account", &self.account);
        fact("project", &self.project);
        fact("domain", &self.domain);
        fact("instance_name", &self.instancename);
        fact("hypervisor", &self.hypervisor);
        fact("zone", &self.zonename);
        if self.displayname.as_deref().is_some_and(|d| d != self.name) {
            fact("display_name", &self.displayname);
        }
        let ips: Vec<String> =
            self.nic.iter().flat_map(|n| [n.ipaddress.as_deref(), n.ip6address.as_deref()]).flatten().map(clean).filter(|ip| !ip.is_empty()).collect();
        if !ips.is_empty() {
            facts.insert("ip_addresses".into(), ips.join(", "));
        }
        // Tags become facts `tag:KEY`, as EC2's and Azure's do (reports roll up by them).
        for tag in &self.tags {
            crate::model::put_tag(&mut facts, &tag.key, &tag.value);
        }
        // jobstatus 0: the job is still pending on the server.
        if let (Some(job), Some(0) | None) = (&self.jobid, self.jobstatus) {
            facts.insert("pending_job".into(), clean(job));
        }
        Observation {
            provider_id: self.id.clone(),
            name,
            state: normalize(&self.state),
            raw_state: clean(&self.state),
            tools: None,
            location: self.zonename.as_deref().map(clean).filter(|z| !z.is_empty()),
            facts,
        }
    }
}

/// A page of `listVirtualMachines`: `{}` when there is nothing, `{"count": T}`
/// past the end.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VmPage {
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub virtualmachine: Vec<VmRow>,
}

/// What every answer is held to, by the property tests and the fuzzer
/// (`fuzz/`): a VM row is an observation of its own id with clean text;
/// an error body is read or ignored and never shows the secret; a
/// throttling text waits a bounded time; never a panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(text: &str) {
    use super::errors::{envelope, from_envelope, throttle_wait, MAX_THROTTLE_WAIT};
    if let Ok(row) = serde_json::from_str::<VmRow>(text) {
        let o = row.observation();
        assert_eq!(o.provider_id, row.id);
        assert!(crate::text::is_clean(&o.name) && o.facts.values().all(|v| crate::text::is_clean(v)));
    }
    const SECRET: &str = "a-secret-key-of-some-length";
    if let Some(env) = envelope(text) {
        assert!(!from_envelope(&env, SECRET).to_string().contains(SECRET));
    }
    if let Some(wait) = throttle_wait(text) {
        assert!(wait <= MAX_THROTTLE_WAIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_of_cloudstack_is_mapped_and_none_is_taken_for_stopped_wrongly() {
        let cases = [
            ("Starting", PowerState::Starting),
            ("Running", PowerState::Running),
            ("Stopping", PowerState::Stopping),
            ("Stopped", PowerState::Stopped),
            ("Migrating", PowerState::Migrating),
            ("Error", PowerState::Unknown),
            ("Unknown", PowerState::Unknown),
            ("Shutdown", PowerState::Stopped),
            ("Restoring", PowerState::Unknown),
            ("Destroyed", PowerState::Terminated),
            ("Expunging", PowerState::Terminated),
            ("Creating", PowerState::Unknown),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize(raw), want, "{raw}");
        }
    }

    #[test]
    fn tags_become_facts_and_a_row_without_them_has_none() {
        // libcloud's recorded listVirtualMachines: the first row carries two
        // tags (key and value only), the second has no `tags` key at all.
        let rows: Vec<VmRow> = serde_json::from_value(serde_json::json!([
            {"id": "fc4fd31a", "name": "test", "state": "Running",
             "tags": [{"key": "testkey", "value": "testvalue"}, {"key": "foo", "value": "bar"}]},
            {"id": "2b4b5b1c", "name": "test2", "state": "Stopped"},
            {"id": "3c5c6c2d", "name": "test3", "state": "Running",
             "tags": [{"key": "env\u{1b}[31m", "value": "prod", "resourcetype": "UserVm", "resourceid": "3c5c6c2d"}, {"key": "", "value": "x"}]}
        ]))
        .unwrap();
        let facts: Vec<Vec<(String, String)>> =
            rows.iter().map(|r| r.observation().facts.into_iter().filter(|(k, _)| k.starts_with("tag:")).collect()).collect();
        assert_eq!(facts[0], [("tag:foo".to_string(), "bar".to_string()), ("tag:testkey".into(), "testvalue".into())]);
        assert!(facts[1].is_empty());
        assert_eq!(facts[2].len(), 1, "an empty key is dropped: {:?}", facts[2]);
        assert!(!facts[2][0].0.contains('\u{1b}'), "control characters are cleaned from keys: {:?}", facts[2]);
    }

    #[test]
    fn a_row_keeps_its_facts_and_its_pending_job() {
        // Shaped like the simulator-recorded rows in apache/cloudstack-go's testdata.
        let row: VmRow = serde_json::from_value(serde_json::json!({
            "id": "915653c4-298b-4d74-bdee-4ced282114f1", "name": "web-001", "displayname": "Web 1",
            "projectid": "p-1", "project": "web-prod", "domain": "ROOT", "state": "Stopping",
            "zonename": "zone-a", "hostname": "kvm-a01", "serviceofferingname": "Small Instance",
            "templatename": "Debian 12", "instancename": "i-2-1-VM",
            "nic": [{"ipaddress": "10.1.1.5"}, {"ipaddress": "10.2.0.9", "ip6address": "fd00::9"}],
            "jobid": "7e0e2ba6-8a4b-4c0e-a1a4-3bd5c3b6e0aa", "jobstatus": 0
        }))
        .unwrap();
        let o = row.observation();
        assert_eq!((o.name.as_str(), o.state, o.raw_state.as_str(), o.location.as_deref()), ("web-001", PowerState::Stopping, "Stopping", Some("zone-a")));
        assert_eq!(o.facts["project"], "web-prod");
        assert_eq!(o.facts["host"], "kvm-a01");
        assert_eq!(o.facts["ip_addresses"], "10.1.1.5, 10.2.0.9, fd00::9");
        assert_eq!(o.facts["display_name"], "Web 1");
        assert_eq!(o.facts["pending_job"], "7e0e2ba6-8a4b-4c0e-a1a4-3bd5c3b6e0aa");
        assert!(!o.facts.contains_key("account"));
    }

    #[test]
    fn empty_and_past_the_end_pages_are_pages() {
        let empty: VmPage = serde_json::from_str("{}").unwrap();
        assert_eq!((empty.count, empty.virtualmachine.len()), (None, 0));
        let past: VmPage = serde_json::from_str(r#"{"count": 12}"#).unwrap();
        assert_eq!((past.count, past.virtualmachine.len()), (Some(12), 0));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, jsonish, mutated};
    use proptest::prelude::*;

    const ROW: &str = r#"{"id":"915653c4-298b-4d74-bdee-4ced282114f1","name":"web-001","displayname":"Web 1","state":"Running","zonename":"zone-1","hostname":"kvm-1","serviceofferingname":"Small","templatename":"ubuntu","account":"admin","domain":"ROOT","jobid":"j-1","jobstatus":0,"nic":[{"ipaddress":"10.1.1.4","ip6address":"fe80::1"}],"tags":[{"key":"env","value":"prod","resourcetype":"UserVm"}]}"#;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_row_is_an_observation_of_its_own_id_or_refused(text in prop_oneof![mutated(ROW), jsonish()]) {
            check(&text);
        }
    }
}
