//! A `<vm>` of the v4 API as an [`Observation`]: the fifteen statuses
//! mapped (the raw one kept), the guest agent's facts where it reports, the
//! host, cluster and tags as links to be named.

use crate::model::{Facts, Observation, PowerState, ToolsStatus};
use crate::provider::xml::Node;
use crate::provider::ProviderError;

/// The engine's VM statuses (`VmStatus`, SDK 4.6.3 types.py) and what each
/// means here. `not_responding` (the host lost contact), `unknown` and
/// `unassigned` are shown as unknown, never as running; `image_locked` VMs
/// are not running (the engine shows no host for them).
pub fn normalize(status: &str) -> PowerState {
    match status {
        "up" => PowerState::Running,
        "down" | "image_locked" => PowerState::Stopped,
        "wait_for_launch" | "powering_up" => PowerState::Starting,
        "powering_down" => PowerState::Stopping,
        "reboot_in_progress" => PowerState::Rebooting,
        "paused" => PowerState::Paused,
        "suspended" => PowerState::Suspended,
        "saving_state" => PowerState::Suspending,
        "restoring_state" => PowerState::Resuming,
        "migrating" => PowerState::Migrating,
        // not_responding, unknown, unassigned, and anything newer.
        _ => PowerState::Unknown,
    }
}

/// A VM as read, before its host, cluster and tags are named.
#[derive(Debug, Clone)]
pub struct VmReading {
    pub obs: Observation,
    pub host_id: Option<String>,
    pub cluster_id: Option<String>,
    /// The tags assigned to it (`follow=tags`): name, and the parent tag's id.
    pub tags: Vec<(String, Option<String>)>,
}

/// The fact that says whether the guest agent reports. v4 has no field for
/// the agent's status: while it reports, the VM has an FQDN and a guest OS;
/// without it they are absent, and "no agent" and "not started yet" look
/// the same.
pub const AGENT_FACT: &str = "guest_agent";

/// The id of a linked object (`<host href=… id=…/>`).
fn link_id(vm: &Node, name: &str) -> Option<String> {
    vm.child(name).and_then(|n| n.attr("id")).map(str::to_string).filter(|s| !s.is_empty())
}

/// Names are shown, never interpreted: C1 controls and bidirectional
/// overrides (legal in XML) are replaced so that no name can drive a
/// terminal or reverse the text around it.
fn displayable(name: &str) -> String {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
    name.chars().map(|c| if unsafe_char(c) { '\u{FFFD}' } else { c }).collect()
}

pub fn read(vm: &Node) -> Result<VmReading, ProviderError> {
    let id = vm.attr("id").map(str::to_string).filter(|s| !s.is_empty()).ok_or_else(|| ProviderError::malformed("a VM came without its id"))?;
    // The href names the same VM as the id, or the answer is not to be believed.
    if let Some(href) = vm.attr("href") {
        if href.rsplit('/').next() != Some(id.as_str()) {
            return Err(ProviderError::malformed(format!("VM {id} came with the address of another ({})", href.chars().take(120).collect::<String>())));
        }
    }
    // What the engine inlines (reported devices) links back to its VM: a
    // VM whose parts name another one is not to be believed either.
    let parts = vm.child("reported_devices").into_iter().flat_map(|d| d.all("reported_device"));
    if let Some(other) = parts.filter_map(|d| d.child("vm").and_then(|v| v.attr("id"))).find(|v| *v != id) {
        return Err(ProviderError::malformed(format!("VM {id} came with the devices of VM {}", other.chars().take(64).collect::<String>())));
    }
    let tags: Vec<&Node> = vm.child("tags").into_iter().flat_map(|t| t.all("tag")).collect();
    if let Some(other) = tags.iter().filter_map(|t| t.child("vm").and_then(|v| v.attr("id"))).find(|v| *v != id) {
        return Err(ProviderError::malformed(format!("VM {id} came with the tags of VM {}", other.chars().take(64).collect::<String>())));
    }
    let tags = tags.iter().filter_map(|t| Some((displayable(t.child("name")?.text()), link_id(t, "parent")))).filter(|(name, _)| !name.is_empty()).collect();
    let status_node = vm.child("status").ok_or_else(|| ProviderError::malformed(format!("VM {id} came without its status")))?;
    if status_node.child("state").is_some() {
        return Err(ProviderError::malformed("the engine answered in API v3 shapes (<status><state>); Powerdeck speaks v4"));
    }
    let raw = status_node.text().to_string();
    let text = |name: &str| vm.child(name).map(|n| n.text().to_string()).filter(|s| !s.is_empty());
    let mut facts = Facts::new();
    if let Some(os) = vm.child("os").and_then(|o| o.child("type")).map(|t| t.text().to_string()).filter(|s| !s.is_empty()) {
        facts.insert("os_type".into(), os);
    }
    let fqdn = text("fqdn");
    let guest = vm.child("guest_operating_system");
    let agent_reports = fqdn.is_some() || guest.is_some();
    if let Some(f) = fqdn {
        facts.insert("fqdn".into(), displayable(&f));
    }
    if let Some(g) = guest {
        let part = |n: &str| g.child(n).map(|x| x.text().to_string()).filter(|s| !s.is_empty());
        let version = g.child("version").and_then(|v| v.child("full_version")).map(|v| v.text().to_string()).filter(|s| !s.is_empty());
        let described: Vec<String> = [part("distribution").or_else(|| part("family")), version].into_iter().flatten().collect();
        if !described.is_empty() {
            facts.insert("guest_os".into(), displayable(&described.join(" ")));
        }
    }
    let ips = addresses(vm);
    if !ips.is_empty() {
        facts.insert("ip_addresses".into(), ips.join(", "));
    }
    facts.insert(AGENT_FACT.into(), if agent_reports { "reporting".into() } else { "not reported (no agent, or the guest is not up yet)".into() });
    let obs = Observation {
        name: displayable(&text("name").unwrap_or_default()),
        state: normalize(&raw),
        raw_state: raw,
        // Running when it reports; otherwise unknown, not "not running": the
        // engine cannot tell a missing agent from one that has not started.
        tools: agent_reports.then_some(ToolsStatus::Running),
        location: None,
        provider_id: id,
        facts,
    };
    Ok(VmReading { obs, host_id: link_id(vm, "host"), cluster_id: link_id(vm, "cluster"), tags })
}

/// The addresses the guest agent reports (`follow=reported_devices`).
fn addresses(vm: &Node) -> Vec<String> {
    let mut out: Vec<String> = vm
        .child("reported_devices")
        .into_iter()
        .flat_map(|d| d.all("reported_device"))
        .flat_map(|d| d.child("ips").into_iter().flat_map(|ips| ips.all("ip")))
        .filter_map(|ip| ip.child("address").map(|a| a.text().to_string()))
        .filter(|a| !a.is_empty() && a.len() <= 64 && a.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '%')))
        .collect();
    out.dedup();
    out
}

/// What every answer and status is held to, by the property tests and the
/// fuzzer (`fuzz/`): a VM read from it has its own id, or it is refused;
/// only "up" is running; never a panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(text: &str) {
    if let Ok(doc) = crate::provider::xml::parse(text) {
        for vm in doc.all("vm") {
            if let Ok(r) = read(vm) {
                assert_eq!(Some(r.obs.provider_id.as_str()), vm.attr("id"));
            }
        }
    }
    assert!(text == "up" || normalize(text) != PowerState::Running);
    let _ = super::paging::Place::parse(text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::xml;

    const STATUSES: [&str; 15] = [
        "down",
        "image_locked",
        "migrating",
        "not_responding",
        "paused",
        "powering_down",
        "powering_up",
        "reboot_in_progress",
        "restoring_state",
        "saving_state",
        "suspended",
        "unassigned",
        "unknown",
        "up",
        "wait_for_launch",
    ];

    #[test]
    fn every_status_has_a_meaning_and_only_up_is_running() {
        for s in STATUSES {
            let p = normalize(s);
            assert_eq!(p == PowerState::Running, s == "up", "{s} -> {p}");
        }
        assert_eq!(normalize("not_responding"), PowerState::Unknown);
        assert_eq!(normalize("unknown"), PowerState::Unknown);
        assert_eq!(normalize("unassigned"), PowerState::Unknown);
        assert_eq!(normalize("saving_state"), PowerState::Suspending);
        assert_eq!(normalize("something_new"), PowerState::Unknown);
    }

    fn one(body: &str) -> Result<VmReading, ProviderError> {
        read(&xml::parse(body).unwrap().children[0])
    }

    #[test]
    fn a_vm_with_an_agent_has_its_facts_and_one_without_says_so() {
        let r = one(r#"<vm href="/ovirt-engine/api/vms/a1" id="a1"><name>web &amp; api</name><os><type>rhel_9x64</type></os>
            <fqdn>web.lab.example</fqdn><guest_operating_system><distribution>Red Hat Enterprise Linux</distribution><family>Linux</family>
            <version><full_version>9.4</full_version><major>9</major></version></guest_operating_system><status>up</status>
            <cluster href="/c/c1" id="c1"/><host href="/h/h1" id="h1"/>
            <reported_devices><reported_device><ips><ip><address>10.0.0.5</address><version>v4</version></ip><ip><address>fe80::1</address></ip></ips></reported_device></reported_devices></vm>"#)
        .unwrap();
        assert_eq!((r.obs.name.as_str(), r.obs.state, r.obs.tools), ("web & api", PowerState::Running, Some(ToolsStatus::Running)));
        assert_eq!((r.host_id.as_deref(), r.cluster_id.as_deref()), (Some("h1"), Some("c1")));
        assert_eq!(r.obs.facts["guest_os"], "Red Hat Enterprise Linux 9.4");
        assert_eq!(r.obs.facts["ip_addresses"], "10.0.0.5, fe80::1");
        assert_eq!(r.obs.facts["os_type"], "rhel_9x64");
        assert!(r.tags.is_empty());
        let tagged = one(r#"<vm id="a1"><status>up</status><tags><tag href="/ovirt-engine/api/tags/t1" id="t1"><name>prod</name><description>prod</description>
            <parent href="/ovirt-engine/api/tags/t0" id="t0"/><vm href="/ovirt-engine/api/vms/a1" id="a1"/></tag><tag id="t2"><name>backup</name></tag></tags></vm>"#)
        .unwrap();
        assert_eq!(tagged.tags, [("prod".to_string(), Some("t0".to_string())), ("backup".into(), None)]);
        let quiet = one(r#"<vm id="b2"><name>db</name><status>down</status><cluster id="c1"/></vm>"#).unwrap();
        assert_eq!((quiet.obs.tools, quiet.host_id), (None, None));
        assert!(quiet.obs.facts[AGENT_FACT].starts_with("not reported"));
    }

    #[test]
    fn wrong_shapes_are_refused() {
        assert!(one(r#"<vm id="a1" href="/ovirt-engine/api/vms/b2"><status>up</status></vm>"#).is_err(), "id and href disagree");
        assert!(one(r#"<vm id="a1"><status><state>up</state></status></vm>"#).unwrap_err().to_string().contains("v3"));
        assert!(one(r#"<vm><status>up</status></vm>"#).is_err());
        let swapped = r#"<vm id="a1"><status>up</status><reported_devices><reported_device><vm id="b2"/></reported_device></reported_devices></vm>"#;
        assert!(one(swapped).unwrap_err().to_string().contains("devices of VM b2"));
        let borrowed = r#"<vm id="a1"><status>up</status><tags><tag id="t1"><name>prod</name><vm id="b2"/></tag></tags></vm>"#;
        assert!(one(borrowed).unwrap_err().to_string().contains("tags of VM b2"));
        let odd = one("<vm id=\"a1\"><name>a\u{202e}b\u{9b}2J</name><status>up</status></vm>").unwrap();
        assert_eq!(odd.obs.name, "a\u{fffd}b\u{fffd}2J");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, mutated, xmlish};
    use proptest::prelude::*;

    const VM: &str = r#"<vms><vm href="/ovirt-engine/api/vms/a1" id="a1"><name>web &amp; api</name><os><type>rhel_9x64</type></os><fqdn>web.lab</fqdn><guest_operating_system><distribution>RHEL</distribution><version><full_version>9.4</full_version></version></guest_operating_system><status>up</status><cluster href="/c/c1" id="c1"/><host href="/h/h1" id="h1"/><reported_devices><reported_device><vm id="a1"/><ips><ip><address>10.0.0.5</address></ip></ips></reported_device></reported_devices><tags><tag id="t1"><name>prod</name><parent id="t0"/><vm id="a1"/></tag></tags></vm></vms>"#;

    proptest! {
        #![proptest_config(config())]

        /// Whatever a damaged or made-up answer holds, reading it gives a
        /// VM with its own id or an error.
        #[test]
        fn a_damaged_vm_is_read_or_refused(text in prop_oneof![mutated(VM), xmlish()]) {
            check(&text);
        }

        #[test]
        fn any_status_is_a_state(status in "\\PC{0,20}") {
            check(&status);
        }
    }
}
