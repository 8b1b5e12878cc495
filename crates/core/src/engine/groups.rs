//! Groups through the engine: saved with their VMs resolved from user
//! references, and resolved to the VMs they are *now* when used.

use super::Engine;
use crate::error::CoreError;
use crate::group::{self, Group, GroupRule};
use crate::model::Vm;
use crate::store::VmFilter;
use serde::Serialize;
use std::collections::HashMap;

/// Every VM and each account's kind: what a group rule is evaluated on.
pub(super) struct GroupInventory {
    vms: Vec<Vm>,
    kinds: HashMap<i64, String>,
}

impl GroupInventory {
    /// The group's VMs now, and the named ones that no longer exist.
    pub(super) fn resolve(&self, group: &Group) -> (Vec<&Vm>, Vec<i64>) {
        group::resolve(group, &self.vms, |account| self.kinds.get(&account).cloned().unwrap_or_default())
    }
}

/// A group and the VMs it is now, by id.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct GroupNow {
    pub group: Group,
    pub vm_ids: Vec<i64>,
    /// VMs the group names that no longer exist.
    pub missing: Vec<i64>,
}

/// A group and the VMs it is now.
#[derive(Debug, Clone, Serialize)]
pub struct Members {
    pub group: Group,
    pub vms: Vec<Vm>,
    /// VMs the group names that no longer exist.
    pub missing: Vec<i64>,
}

impl Engine {
    /// Save a group (new, or `replace` the one with its name). `vms` are user
    /// references (name, id, account/name): every one must resolve, or
    /// nothing is saved.
    pub fn save_group(&self, name: &str, vms: &[String], rule: Option<GroupRule>, replace: bool) -> Result<Group, CoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(CoreError::Invalid("a group's name is 1 to 64 characters, with no control characters".into()));
        }
        let rule = rule.filter(|r| !r.is_empty());
        if let Some(r) = &rule {
            r.validate().map_err(CoreError::Invalid)?;
        }
        let ids = self.resolve_all(vms)?;
        if ids.is_empty() && rule.is_none() {
            return Err(CoreError::Invalid(format!("the group '{name}' needs VMs or a rule (account, name pattern, fact, state)")));
        }
        self.store.save_group(name, &ids, rule.as_ref(), replace)?.ok_or_else(|| CoreError::Invalid(format!("a group named '{name}' already exists")))
    }

    pub fn group(&self, name: &str) -> Result<Group, CoreError> {
        self.store.group(name)?.ok_or_else(|| CoreError::not_found("group", name))
    }

    pub fn remove_group(&self, name: &str) -> Result<(), CoreError> {
        if self.store.remove_group(name)? {
            Ok(())
        } else {
            Err(CoreError::not_found("group", name))
        }
    }

    /// The inventory as groups are resolved against: read once, however
    /// many groups are resolved with it.
    pub(super) fn group_inventory(&self) -> Result<GroupInventory, CoreError> {
        Ok(GroupInventory { vms: self.store.vms(&VmFilter::default())?, kinds: self.store.accounts()?.into_iter().map(|a| (a.id, a.kind)).collect() })
    }

    /// The VMs the group is now.
    pub fn group_members(&self, name: &str) -> Result<Members, CoreError> {
        let group = self.group(name)?;
        let inventory = self.group_inventory()?;
        let (members, missing) = inventory.resolve(&group);
        let vms = members.into_iter().cloned().collect();
        Ok(Members { group, vms, missing })
    }

    /// Every group and the VMs it is now, by id, reading the inventory once
    /// (the window's Groups view).
    pub fn groups_now(&self) -> Result<Vec<GroupNow>, CoreError> {
        let groups = self.store.groups()?;
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let inventory = self.group_inventory()?;
        Ok(groups
            .into_iter()
            .map(|group| {
                let (members, missing) = inventory.resolve(&group);
                let vm_ids = members.iter().map(|v| v.id).collect();
                GroupNow { group, vm_ids, missing }
            })
            .collect())
    }

    /// The VMs a group with these references and this rule would be now;
    /// nothing is saved (the form's preview).
    pub fn preview_group(&self, vms: &[String], rule: Option<GroupRule>) -> Result<Vec<i64>, CoreError> {
        let rule = rule.filter(|r| !r.is_empty());
        if let Some(r) = &rule {
            r.validate().map_err(CoreError::Invalid)?;
        }
        let draft = Group { id: 0, name: String::new(), vms: self.resolve_all(vms)?, rule, created_at: 0, updated_at: 0 };
        Ok(self.group_inventory()?.resolve(&draft).0.iter().map(|v| v.id).collect())
    }

    /// Every reference resolved to one VM, or the first that does not (no
    /// half-applied changes), deduplicated in order.
    pub fn resolve_all(&self, references: &[String]) -> Result<Vec<i64>, CoreError> {
        let mut ids = Vec::with_capacity(references.len());
        for r in references {
            let vm = self.resolve_vm(r)?;
            if !ids.contains(&vm.id) {
                ids.push(vm.id);
            }
        }
        Ok(ids)
    }
}
