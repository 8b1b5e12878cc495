//! ARM resource ids of VMs. ARM compares ids ignoring case, and answers
//! with whatever casing it has (a resource group spelled `RG-Web` in one
//! list and `rg-web` in another), so Powerdeck keeps every id lower-cased:
//! one VM, one id, whatever the answer's casing.

use crate::provider::{ProviderError, ProviderResult};

/// A VM's place in ARM, from its (canonical) resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmRef {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
}

const SHAPE: &str = "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}";

impl VmRef {
    /// A VM id in any casing, or `None` when it is not a VM's resource id.
    pub fn parse(id: &str) -> Option<Self> {
        // ARM ignores case beyond ASCII too (group names may hold any letter).
        let lower = id.to_lowercase();
        let parts: Vec<&str> = lower.strip_prefix('/')?.split('/').collect();
        match parts.as_slice() {
            ["subscriptions", sub, "resourcegroups", rg, "providers", "microsoft.compute", "virtualmachines", name]
                if [sub, rg, name].iter().all(|s| is_segment(s)) =>
            {
                Some(Self { subscription: sub.to_string(), resource_group: rg.to_string(), name: name.to_string() })
            }
            _ => None,
        }
    }

    /// The id Powerdeck keeps: lower-cased.
    pub fn canonical(&self) -> String {
        format!("/subscriptions/{}/resourcegroups/{}/providers/microsoft.compute/virtualmachines/{}", self.subscription, self.resource_group, self.name)
    }

    /// `{base}/subscriptions/…/virtualMachines/{name}/{more…}`, each segment
    /// escaped (resource group names may hold parentheses and non-ASCII letters).
    pub fn url(&self, base: &reqwest::Url, more: &[&str]) -> reqwest::Url {
        let mut url = base.clone();
        {
            let mut path = url.path_segments_mut().expect("an http(s) base URL");
            path.pop_if_empty();
            path.extend(["subscriptions", &self.subscription, "resourceGroups", &self.resource_group]);
            path.extend(["providers", "Microsoft.Compute", "virtualMachines", &self.name]);
            path.extend(more);
        }
        url
    }
}

/// The canonical id of a VM a server named, or a clear error.
pub fn canonical(id: &str) -> ProviderResult<(String, VmRef)> {
    match VmRef::parse(id) {
        Some(r) => Ok((r.canonical(), r)),
        None => Err(ProviderError::malformed(format!("'{}' is not a VM's resource id ({SHAPE})", super::config::shown(id)))),
    }
}

/// One path segment of an id: something, with no separators, blanks or
/// control characters (a name carrying terminal escapes is not a VM's).
fn is_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && !s.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '%' | '\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_whatever_their_casing() {
        let a = VmRef::parse("/subscriptions/AB12/resourceGroups/RG-Web/providers/Microsoft.Compute/virtualMachines/Web-01").unwrap();
        let b = VmRef::parse("/subscriptions/ab12/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/web-01").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.canonical(), "/subscriptions/ab12/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/web-01");
        assert_eq!(VmRef::parse(&a.canonical()), Some(a));
    }

    #[test]
    fn other_resources_and_hostile_names_are_not_vm_ids() {
        for bad in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a/b",
            "subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/\u{1b}[31mweb\u{7}",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/a?x=1",
        ] {
            assert_eq!(VmRef::parse(bad), None, "{bad:?}");
        }
        let err = canonical("/subscriptions/\u{1b}]0;pwned\u{7}").unwrap_err().to_string();
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    }

    #[test]
    fn urls_escape_each_segment() {
        let r = VmRef::parse("/subscriptions/s/resourceGroups/RG(old)-Café/providers/Microsoft.Compute/virtualMachines/vm.1").unwrap();
        let base = reqwest::Url::parse("https://management.azure.com").unwrap();
        assert_eq!(
            r.url(&base, &["start"]).as_str(),
            "https://management.azure.com/subscriptions/s/resourceGroups/rg(old)-caf%C3%A9/providers/Microsoft.Compute/virtualMachines/vm.1/start"
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn any_id_is_a_vm_or_not_and_a_vm_id_comes_back_from_its_canonical_form(
            id in "\\PC{0,80}|/subscriptions/[^/]{0,10}/resourceGroups/[^/]{0,10}/providers/Microsoft\\.Compute/virtualMachines/\\PC{0,12}(/[a-z]{0,5})?"
        ) {
            super::super::wire::check(&id);
        }
    }
}
