//! Saved groups (their definitions; which VMs they are is resolved when used).

use super::{Store, StoreError, StoreResult};
use crate::group::{Group, GroupRule};
use crate::model::now_ms;
use rusqlite::{params, OptionalExtension, Row};

const SELECT: &str = "SELECT id, name, vms, rule, created_at, updated_at FROM groups";

fn row(r: &Row) -> rusqlite::Result<Group> {
    let vms: String = r.get(2)?;
    let rule: Option<String> = r.get(3)?;
    Ok(Group {
        id: r.get(0)?,
        name: r.get(1)?,
        // A definition this build cannot read shows as empty rather than
        // hiding the group (so it can be seen and fixed).
        vms: serde_json::from_str(&vms).unwrap_or_default(),
        rule: rule.and_then(|r| serde_json::from_str::<GroupRule>(&r).ok()),
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

impl Store {
    pub fn groups(&self) -> StoreResult<Vec<Group>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT} ORDER BY name"))?;
            let rows = stmt.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    pub fn group(&self, name: &str) -> StoreResult<Option<Group>> {
        self.read(|c| Ok(c.query_row(&format!("{SELECT} WHERE name = ?1"), [name], row).optional()?))
    }

    /// Insert a group, or replace the definition of the one with its name
    /// (`replace`). `None` if the name is taken and `replace` is off.
    pub fn save_group(&self, name: &str, vms: &[i64], rule: Option<&GroupRule>, replace: bool) -> StoreResult<Option<Group>> {
        let now = now_ms();
        let vms_json = serde_json::to_string(vms).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rule_json = rule.map(|r| serde_json::to_string(r).expect("a rule serializes"));
        let written = self.write(|tx| {
            let sql = if replace {
                "INSERT INTO groups (name, vms, rule, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT(name) DO UPDATE SET vms = excluded.vms, rule = excluded.rule, updated_at = excluded.updated_at"
            } else {
                "INSERT INTO groups (name, vms, rule, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT(name) DO NOTHING"
            };
            Ok(tx.execute(sql, params![name, vms_json, rule_json, now])? == 1)
        })?;
        if written {
            self.group(name)
        } else {
            Ok(None)
        }
    }

    pub fn remove_group(&self, name: &str) -> StoreResult<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM groups WHERE name = ?1", [name])? == 1))
    }
}
