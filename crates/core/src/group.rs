//! Groups: saved, named selections of VMs. A group names VMs explicitly,
//! and/or holds a rule (account, kind, name pattern, facts, state) that is
//! evaluated each time the group is used, so a VM added later that matches
//! the rule is part of it.

use crate::model::{Millis, PowerState, Vm};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Group {
    pub id: i64,
    pub name: String,
    /// VMs named explicitly (Powerdeck ids).
    #[serde(default)]
    pub vms: Vec<i64>,
    pub rule: Option<GroupRule>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Every condition given must hold (an empty rule matches nothing: a group
/// of "everything" must say so with a pattern `*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct GroupRule {
    /// The account's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional))]
    pub account: Option<String>,
    /// The provider kind (`ec2`, `vsphere`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional))]
    pub kind: Option<String>,
    /// A name pattern: `*` any run of characters, `?` one character; case-insensitive.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional))]
    pub name: Option<String>,
    /// Facts that must be equal (a tag is the fact `tag:<key>`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<BTreeMap<String, String>>"))]
    pub facts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional))]
    pub state: Option<PowerState>,
}

impl GroupRule {
    pub fn is_empty(&self) -> bool {
        self.account.is_none() && self.kind.is_none() && self.name.is_none() && self.facts.is_empty() && self.state.is_none()
    }

    /// Whether `vm` (of an account of `kind`) matches.
    pub fn matches(&self, vm: &Vm, kind: &str) -> bool {
        !self.is_empty()
            && self.account.as_ref().is_none_or(|a| a == &vm.account)
            && self.kind.as_ref().is_none_or(|k| k == kind)
            && self.name.as_ref().is_none_or(|p| glob(p, &vm.name))
            && self.facts.iter().all(|(k, v)| vm.facts.get(k) == Some(v))
            && self.state.is_none_or(|s| s == vm.state)
    }

    /// What is wrong with the rule, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(p) = &self.name {
            if p.is_empty() || p.chars().count() > 256 || p.chars().any(char::is_control) {
                return Err("a name pattern is 1 to 256 characters, with no control characters".into());
            }
        }
        for (k, v) in &self.facts {
            if k.is_empty() || k.chars().count() > 256 || v.chars().count() > 1024 {
                return Err(format!("the fact condition '{k}' is empty or too long"));
            }
        }
        Ok(())
    }
}

/// A shell-style pattern (`*`, `?`), case-insensitive, matched without
/// backtracking blow-up (one pass with the last star remembered).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Which VMs a group is now, from the store's VMs and each account's kind;
/// plus the explicit ids that no longer exist.
pub fn resolve<'a>(group: &Group, vms: &'a [Vm], kind_of: impl Fn(i64) -> String) -> (Vec<&'a Vm>, Vec<i64>) {
    let mut out: Vec<&Vm> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut missing = Vec::new();
    // By id once, not a scan per named VM (a group of thousands in an inventory of 100 000).
    let by_id: std::collections::HashMap<i64, &Vm> = if group.vms.is_empty() { Default::default() } else { vms.iter().map(|v| (v.id, v)).collect() };
    for id in &group.vms {
        match by_id.get(id).copied() {
            Some(vm) if seen.insert(vm.id) => out.push(vm),
            Some(_) => {}
            None => missing.push(*id),
        }
    }
    if let Some(rule) = &group.rule {
        for vm in vms {
            if !seen.contains(&vm.id) && rule.matches(vm, &kind_of(vm.account_id)) {
                seen.insert(vm.id);
                out.push(vm);
            }
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_a_shell_and_never_blow_up() {
        assert!(glob("web-*", "web-01"));
        assert!(glob("WEB-??", "web-01"));
        assert!(!glob("web-?", "web-01"));
        assert!(glob("*db*", "prod-db-3"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "a-c"));
        // A pathological pattern stays linear-ish.
        let long = "a".repeat(5000);
        assert!(!glob(&format!("{}b", "*a".repeat(50)), &long));
    }

    fn vm(id: i64, name: &str, state: PowerState, facts: &[(&str, &str)]) -> Vm {
        Vm {
            id,
            account_id: 1,
            account: "prod".into(),
            provider_id: format!("p-{id}"),
            name: name.into(),
            state,
            raw_state: String::new(),
            tools: None,
            location: None,
            facts: facts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            stale: false,
            watched: false,
            last_seen_at: 0,
            last_state_change_at: 0,
        }
    }

    #[test]
    fn a_group_is_its_explicit_vms_plus_what_its_rule_matches_now() {
        let vms = vec![
            vm(1, "web-01", PowerState::Running, &[("tag:env", "test")]),
            vm(2, "web-02", PowerState::Stopped, &[("tag:env", "prod")]),
            vm(3, "db-01", PowerState::Running, &[("tag:env", "test")]),
        ];
        let rule = GroupRule { name: Some("web-*".into()), facts: [("tag:env".to_string(), "test".to_string())].into(), ..Default::default() };
        let g = Group { id: 1, name: "test-env".into(), vms: vec![3, 99], rule: Some(rule), created_at: 0, updated_at: 0 };
        let (members, missing) = resolve(&g, &vms, |_| "ec2".into());
        let ids: Vec<i64> = members.iter().map(|v| v.id).collect();
        assert_eq!(ids, vec![3, 1]);
        assert_eq!(missing, vec![99]);
        // A rule with nothing in it matches nothing.
        let empty = Group { rule: Some(GroupRule::default()), vms: vec![], ..g };
        assert!(resolve(&empty, &vms, |_| "ec2".into()).0.is_empty());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn any_pattern_matches_or_not_in_bounded_time_and_a_literal_matches_itself(pattern in "[a-z*?\\[\\]!-]{0,24}", text in "[a-z-]{0,40}") {
            crate::fuzzing::pattern(&format!("{pattern}\n{text}"));
        }
    }
}
