//! Reads of the VM inventory. (Writes of VM state live in `reconcile`.)

use super::{parse_col, readable, Store, StoreResult};
use crate::model::{PowerState, ToolsStatus, Vm};
use rusqlite::{params, Row};

pub(crate) const SELECT_VM: &str = "SELECT v.id, v.account_id, a.name, v.provider_id, v.name, v.state, v.raw_state, v.tools, v.location, v.stale, v.watched, v.last_seen_at, v.last_state_change_at, v.facts FROM vms v JOIN accounts a ON a.id = v.account_id";

pub(crate) fn row_to_vm(r: &Row) -> rusqlite::Result<(Vm, String, Option<String>)> {
    Ok((
        Vm {
            id: r.get(0)?,
            account_id: r.get(1)?,
            account: r.get(2)?,
            provider_id: r.get(3)?,
            name: r.get(4)?,
            state: PowerState::Unknown,
            raw_state: r.get(6)?,
            tools: None,
            location: r.get(8)?,
            facts: facts_from(r.get(13)?),
            stale: r.get(9)?,
            watched: r.get(10)?,
            last_seen_at: r.get(11)?,
            last_state_change_at: r.get(12)?,
        },
        r.get(5)?,
        r.get(7)?,
    ))
}

/// Facts are informational: an unreadable column shows as none rather than
/// hiding the VM.
pub(crate) fn facts_from(json: Option<String>) -> crate::model::Facts {
    json.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default()
}

/// A state or tools value this build does not know (a newer Powerdeck, a
/// hand edit) shows as unknown rather than hiding the VM.
pub(crate) fn finish((mut vm, state, tools): (Vm, String, Option<String>)) -> StoreResult<Vm> {
    vm.state = parse_col(&state, "power state", |s| s.parse().ok()).unwrap_or_else(|e| {
        tracing::warn!(vm = vm.id, error = %e, "showing an unreadable stored state as unknown");
        PowerState::Unknown
    });
    vm.tools = tools.and_then(|t| ToolsStatus::parse(&t));
    Ok(vm)
}

#[derive(Debug, Clone, Default)]
pub struct VmFilter {
    pub account_id: Option<i64>,
    pub state: Option<PowerState>,
}

/// The part of a scoped provider id after its scope (EC2's
/// `eu-west-1:i-0abc` answers to `i-0abc`); NULL for unscoped ids.
const SCOPED_ID: &str = "CASE WHEN instr(v.provider_id, ':') > 0 THEN substr(v.provider_id, instr(v.provider_id, ':') + 1) END";

impl Store {
    pub fn vms(&self, filter: &VmFilter) -> StoreResult<Vec<Vm>> {
        self.read(|c| {
            let sql = format!("{SELECT_VM} WHERE (?1 IS NULL OR v.account_id = ?1) AND (?2 IS NULL OR v.state = ?2) ORDER BY a.name, v.name, v.id");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = readable(stmt.query_map(params![filter.account_id, filter.state.map(|s| s.as_str())], row_to_vm)?, "VM");
            rows.into_iter().map(finish).collect()
        })
    }

    pub fn vm(&self, id: i64) -> StoreResult<Option<Vm>> {
        use rusqlite::OptionalExtension;
        self.read(|c| c.query_row(&format!("{SELECT_VM} WHERE v.id = ?1"), [id], row_to_vm).optional()?.map(finish).transpose())
    }

    /// These VMs (those that still exist), in one query.
    pub fn vms_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<Vm>> {
        let list = serde_json::to_string(ids).expect("ids serialize");
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT_VM} WHERE v.id IN (SELECT value FROM json_each(?1))"))?;
            let rows = readable(stmt.query_map([list], row_to_vm)?, "VM");
            rows.into_iter().map(finish).collect()
        })
    }

    /// VMs a user reference could mean: Powerdeck id, provider id, or name,
    /// optionally qualified as `account/…`.
    pub fn find_vms(&self, reference: &str) -> StoreResult<Vec<Vm>> {
        let (account, key) = match reference.split_once('/') {
            Some((a, k)) if !a.is_empty() && !k.is_empty() => (Some(a), k),
            _ => (None, reference),
        };
        let local_id: Option<i64> = key.parse().ok();
        self.read(|c| {
            let sql = format!("{SELECT_VM} WHERE (?1 IS NULL OR a.name = ?1) AND (v.provider_id = ?2 OR v.name = ?2 OR v.id = ?3 OR {SCOPED_ID} = ?2) ORDER BY a.name, v.name");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = readable(stmt.query_map(params![account, key, local_id], row_to_vm)?, "VM");
            let mut vms: Vec<Vm> = rows.into_iter().map(finish).collect::<StoreResult<_>>()?;
            // An exact id match beats a VM that merely happens to be named like one.
            let is_id = |v: &Vm| v.provider_id == key || Some(v.id) == local_id || v.provider_id.split_once(':').is_some_and(|(_, id)| id == key);
            if vms.len() > 1 {
                if let Some(exact) = vms.iter().position(is_id) {
                    if vms.iter().filter(|v| is_id(v)).count() == 1 {
                        vms = vec![vms.swap_remove(exact)];
                    }
                }
            }
            Ok(vms)
        })
    }

    /// Whether the store holds any VM of this account yet.
    pub fn has_vms(&self, account_id: i64) -> StoreResult<bool> {
        self.read(|c| Ok(c.query_row("SELECT EXISTS(SELECT 1 FROM vms WHERE account_id = ?1)", [account_id], |r| r.get(0))?))
    }

    /// How many VMs each account has (accounts without any are left out).
    pub fn vm_counts(&self) -> StoreResult<Vec<(i64, u64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT account_id, COUNT(*) FROM vms GROUP BY account_id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Provider ids of an account's VMs in the given states.
    pub fn provider_ids_in_states(&self, account_id: i64, states: &[PowerState]) -> StoreResult<Vec<String>> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        // Through the (account_id, state) index: the transitional tier runs
        // every few seconds, and must not read a 100 000-VM account each time.
        let marks = (0..states.len()).map(|i| format!("?{}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT provider_id FROM vms WHERE account_id = ?1 AND state IN ({marks})");
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let args =
                std::iter::once(rusqlite::types::Value::Integer(account_id)).chain(states.iter().map(|s| rusqlite::types::Value::Text(s.as_str().into())));
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    pub fn watched_provider_ids(&self, account_id: i64) -> StoreResult<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT provider_id FROM vms WHERE account_id = ?1 AND watched = 1")?;
            let rows = stmt.query_map([account_id], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Mark a VM as watched (polled on the watched tier). Not a state change.
    pub fn set_watched(&self, vm_id: i64, watched: bool) -> StoreResult<bool> {
        self.write(|tx| Ok(tx.execute("UPDATE vms SET watched = ?2 WHERE id = ?1 AND watched != ?2", params![vm_id, watched])? == 1))
    }
}
