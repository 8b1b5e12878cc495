//! ARM's JSON, in the shapes of Microsoft's published examples and the
//! answers azure-mgmt-compute reads: VM lists (full and `statusOnly`), a VM
//! with its instance view, an async operation's status, subscriptions. Every
//! answer is checked to be the one asked for (its top-level key) before it
//! is read, so a wrong answer changes nothing.

use super::ids::{self, VmRef};
use crate::model::{Facts, Observation, PowerState};
use crate::provider::http::HttpResponse;
use crate::provider::{ProviderError, ProviderResult};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One page of a list: `value` plus `nextLink` while there is more.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
}

/// A VM as lists and GETs carry it. Everything but the id is optional: the
/// published minimal example has nothing else, and `statusOnly` leaves the
/// profiles out.
#[derive(Debug, Deserialize)]
pub struct VmEntry {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub tags: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub properties: Option<VmProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VmProperties {
    pub vm_id: Option<String>,
    pub hardware_profile: Option<HardwareProfile>,
    pub storage_profile: Option<StorageProfile>,
    pub additional_capabilities: Option<AdditionalCapabilities>,
    pub instance_view: Option<InstanceView>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HardwareProfile {
    pub vm_size: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageProfile {
    pub os_disk: Option<OsDisk>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OsDisk {
    pub os_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AdditionalCapabilities {
    /// `true`, or `"False"` in older answers (libcloud's capture).
    pub hibernation_enabled: Option<Value>,
}

/// The instance view: what the VM is doing. `statuses` is its one
/// required part (an answer without it is not an instance view).
#[derive(Debug, Clone, Deserialize)]
pub struct InstanceView {
    pub statuses: Vec<Status>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub code: Option<String>,
}

/// The body behind an `Azure-AsyncOperation` URL.
#[derive(Debug, Deserialize)]
pub struct OperationStatus {
    pub status: String,
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

/// ARM's error: `{"error": {"code", "message"}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Subscription {
    #[serde(rename = "subscriptionId")]
    pub subscription_id: String,
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
}

/// Read an answer as `T`, after checking it is JSON and has the key `T`
/// starts with (`what` names the answer in the error).
pub fn read<T: serde::de::DeserializeOwned>(resp: &HttpResponse, key: &str, what: &str) -> ProviderResult<T> {
    let value: Value = resp.json()?;
    if value.get(key).is_none() {
        let keys: Vec<String> = value.as_object().map(|o| o.keys().take(3).map(|k| super::config::shown(k)).collect()).unwrap_or_default();
        return Err(ProviderError::malformed(format!(
            "the answer to {what} has no '{key}' (it has {}); is the endpoint Azure Resource Manager?",
            if keys.is_empty() { "no keys".to_string() } else { format!("'{}'", keys.join("', '")) }
        )));
    }
    serde_json::from_value(value).map_err(|e| ProviderError::malformed(format!("the answer to {what} cannot be read: {e}")))
}

/// The normalized state and the raw text kept beside it: the `PowerState/…`
/// code, plus a failed provisioning state when there is one (a VM can run
/// while its last operation failed, and an admin needs to see that).
pub fn power(statuses: &[Status]) -> (PowerState, String) {
    let codes = statuses.iter().filter_map(|s| s.code.as_deref()).map(clean);
    let (mut power, mut failed) = (None, None);
    for code in codes {
        let lower = code.to_ascii_lowercase();
        if lower.starts_with("powerstate/") && power.is_none() {
            power = Some(code);
        } else if lower.starts_with("provisioningstate/failed") && failed.is_none() {
            failed = Some(code);
        }
    }
    let state = match power.as_deref().map(|p| p.to_ascii_lowercase()).as_deref().and_then(|p| p.strip_prefix("powerstate/")) {
        Some("starting") => PowerState::Starting,
        Some("running") => PowerState::Running,
        Some("stopping") => PowerState::Stopping,
        Some("stopped") => PowerState::Stopped,
        Some("deallocating") => PowerState::Deallocating,
        Some("deallocated") => PowerState::Deallocated,
        _ => PowerState::Unknown,
    };
    let raw = match (power, failed) {
        (Some(p), Some(f)) => format!("{p} ({f})"),
        (Some(p), None) => p,
        (None, Some(f)) => f,
        (None, None) => String::new(),
    };
    (state, raw)
}

/// Text from the network, fit to show: no control characters (terminal
/// escapes), and not endless.
pub fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(256).collect()
}

impl VmEntry {
    /// Its canonical id and place, checked.
    pub fn vm_ref(&self) -> ProviderResult<(String, VmRef)> {
        ids::canonical(&self.id)
    }

    fn statuses(&self) -> Option<&[Status]> {
        self.properties.as_ref()?.instance_view.as_ref().map(|v| v.statuses.as_slice())
    }

    /// What a full list or a GET says about the VM besides its state:
    /// subscription, resource group (as ARM spells it in full answers),
    /// size, OS type, hibernation, ARM's vmId, and every tag as
    /// `tag:<key>` (searchable, and what schedules select by).
    pub fn facts(&self, r: &VmRef) -> Facts {
        let mut facts = Facts::new();
        facts.insert("subscription".into(), r.subscription.clone());
        let group = self.id.split('/').nth(4).map(clean).filter(|g| g.eq_ignore_ascii_case(&r.resource_group));
        facts.insert("resource_group".into(), group.unwrap_or_else(|| r.resource_group.clone()));
        if let Some(p) = &self.properties {
            let size = p.hardware_profile.as_ref().and_then(|h| h.vm_size.as_deref());
            let os = p.storage_profile.as_ref().and_then(|s| s.os_disk.as_ref()).and_then(|d| d.os_type.as_deref());
            for (key, value) in [("vm_size", size), ("os_type", os), ("vm_id", p.vm_id.as_deref())] {
                if let Some(v) = value.map(clean).filter(|v| !v.is_empty()) {
                    facts.insert(key.into(), v);
                }
            }
            let hibernation = p.additional_capabilities.as_ref().and_then(|a| a.hibernation_enabled.as_ref()).and_then(truthy);
            if let Some(on) = hibernation {
                facts.insert("hibernation".into(), if on { "enabled" } else { "disabled" }.into());
            }
        }
        for (key, value) in self.tags.iter().flatten() {
            match value {
                Value::String(s) => crate::model::put_tag(&mut facts, key, s),
                other => crate::model::put_tag(&mut facts, key, &other.to_string()),
            }
        }
        facts
    }

    /// The reading of this entry, with the state from `statuses` (its own
    /// instance view when `None`), and facts when asked for.
    pub fn observe(&self, statuses: Option<&[Status]>, with_facts: bool) -> ProviderResult<Observation> {
        let (id, r) = self.vm_ref()?;
        let statuses = statuses.or_else(|| self.statuses()).ok_or_else(|| ProviderError::malformed(format!("VM {id} came without its instance view")))?;
        let (state, raw_state) = power(statuses);
        // Without a name, the id's last segment as ARM spelled it.
        let name = self.name.as_deref().map(clean).filter(|n| !n.is_empty()).unwrap_or_else(|| clean(self.id.rsplit('/').next().unwrap_or(&r.name)));
        Ok(Observation {
            facts: if with_facts { self.facts(&r) } else { Facts::new() },
            provider_id: id,
            name,
            state,
            raw_state,
            tools: None,
            location: self.location.as_deref().map(clean).filter(|l| !l.is_empty()),
        })
    }

    /// The entry's own statuses (a `statusOnly` entry, a GET with the instance view).
    pub fn own_statuses(&self) -> Option<Vec<Status>> {
        self.statuses().map(<[Status]>::to_vec)
    }
}

fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// What every VM entry is held to, by the property tests and the fuzzer
/// (`fuzz/`): an observation with a clean name, or refused; never a panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(text: &str) {
    if let Ok(entry) = serde_json::from_str::<VmEntry>(text) {
        let statuses = entry.own_statuses();
        if let Ok(o) = entry.observe(statuses.as_deref(), true) {
            assert!(crate::text::is_clean(&o.name));
        }
    }
    if let Some(vm) = VmRef::parse(text) {
        assert_eq!(VmRef::parse(&vm.canonical()), Some(vm));
    }
    let _ = super::auth::parse_cli_token(text.as_bytes(), 1_700_000_000);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(codes: &[&str]) -> Vec<Status> {
        codes.iter().map(|c| Status { code: Some(c.to_string()) }).collect()
    }

    #[test]
    fn stopped_and_deallocated_stay_different_and_a_failed_provisioning_shows() {
        let s = |codes: &[&str]| power(&statuses(codes));
        assert_eq!(s(&["ProvisioningState/succeeded", "PowerState/stopped"]), (PowerState::Stopped, "PowerState/stopped".into()));
        assert_eq!(s(&["ProvisioningState/succeeded", "PowerState/deallocated"]), (PowerState::Deallocated, "PowerState/deallocated".into()));
        assert_eq!(s(&["ProvisioningState/updating", "PowerState/deallocating"]).0, PowerState::Deallocating);
        assert_eq!(
            s(&["ProvisioningState/failed/OSProvisioningTimedOut", "PowerState/running"]),
            (PowerState::Running, "PowerState/running (ProvisioningState/failed/OSProvisioningTimedOut)".into())
        );
        assert_eq!(s(&["ProvisioningState/failed/X"]), (PowerState::Unknown, "ProvisioningState/failed/X".into()));
        assert_eq!(s(&["PowerState/unknown"]).0, PowerState::Unknown);
        assert_eq!(s(&["PowerState/running\u{1b}[31m"]).1, "PowerState/running[31m", "no escapes in the raw state");
    }

    #[test]
    fn tags_become_searchable_facts_and_escapes_are_dropped() {
        let entry: VmEntry = serde_json::from_value(serde_json::json!({
            "id": "/subscriptions/S1/resourceGroups/RG-Web/providers/Microsoft.Compute/virtualMachines/web-01",
            "name": "\u{1b}[31mweb-01\u{7}", "location": "westeurope",
            "tags": {"team": "frontend", "cost-center": "cc-0042", "n": 7},
            "properties": {"vmId": "1234", "hardwareProfile": {"vmSize": "Standard_B2s"},
                           "storageProfile": {"osDisk": {"osType": "Linux"}},
                           "additionalCapabilities": {"hibernationEnabled": "False"}}
        }))
        .unwrap();
        let o = entry.observe(Some(&statuses(&["PowerState/running"])), true).unwrap();
        assert_eq!(o.provider_id, "/subscriptions/s1/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/web-01");
        assert_eq!((o.name.as_str(), o.location.as_deref()), ("[31mweb-01", Some("westeurope")));
        let f = |k: &str| o.facts.get(k).map(String::as_str);
        assert_eq!((f("subscription"), f("resource_group"), f("vm_size"), f("os_type")), (Some("s1"), Some("RG-Web"), Some("Standard_B2s"), Some("Linux")));
        assert_eq!((f("tag:team"), f("tag:cost-center"), f("tag:n"), f("hibernation")), (Some("frontend"), Some("cc-0042"), Some("7"), Some("disabled")));
        // State-only readings carry no facts, so the stored ones are kept.
        assert!(entry.observe(Some(&statuses(&["PowerState/running"])), false).unwrap().facts.is_empty());
        assert!(entry.observe(None, false).is_err(), "no instance view: no state to report");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, jsonish, mutated};
    use proptest::prelude::*;

    const ENTRY: &str = r#"{"id":"/subscriptions/S1/resourceGroups/RG-Web/providers/Microsoft.Compute/virtualMachines/web-01","name":"web-01","location":"westeurope","tags":{"team":"frontend","n":7},"properties":{"vmId":"1234","hardwareProfile":{"vmSize":"Standard_B2s"},"storageProfile":{"osDisk":{"osType":"Linux"}},"instanceView":{"statuses":[{"code":"ProvisioningState/succeeded"},{"code":"PowerState/running"}]}}}"#;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_vm_entry_is_an_observation_or_refused(text in prop_oneof![mutated(ENTRY), jsonish()]) {
            check(&text);
        }

        #[test]
        fn any_status_codes_give_a_state(codes in prop::collection::vec("(PowerState|ProvisioningState)/\\PC{0,12}|\\PC{0,16}", 0..5)) {
            let statuses: Vec<Status> = codes.into_iter().map(|code| serde_json::from_value(serde_json::json!({ "code": code })).unwrap()).collect();
            let _ = power(&statuses);
        }
    }
}
