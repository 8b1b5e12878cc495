//! Reads of the append-only history. Entries are written by `reconcile`.

use super::{parse_col, readable, Store, StoreResult};
use crate::model::{HistoryEntry, Source};
use rusqlite::{params, Row};

const SELECT: &str = "SELECT id, vm_id, at, from_state, to_state, raw_state, source, operation_id FROM history";

fn row(r: &Row) -> rusqlite::Result<(HistoryEntry, Option<String>, String, String)> {
    Ok((
        HistoryEntry {
            id: r.get(0)?,
            vm_id: r.get(1)?,
            at: r.get(2)?,
            from_state: None,
            to_state: crate::model::PowerState::Unknown,
            raw_state: r.get(5)?,
            source: Source::Sync,
            operation_id: r.get(7)?,
        },
        r.get(3)?,
        r.get(4)?,
        r.get(6)?,
    ))
}

fn finish((mut h, from, to, source): (HistoryEntry, Option<String>, String, String)) -> StoreResult<HistoryEntry> {
    h.from_state = from.map(|f| parse_col(&f, "power state", |s| s.parse().ok())).transpose()?;
    h.to_state = parse_col(&to, "power state", |s| s.parse().ok())?;
    h.source = parse_col(&source, "history source", Source::parse)?;
    Ok(h)
}

impl Store {
    /// A VM's history, newest first.
    pub fn history(&self, vm_id: i64, limit: u32) -> StoreResult<Vec<HistoryEntry>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!("{SELECT} WHERE vm_id = ?1 ORDER BY id DESC LIMIT ?2"))?;
            let rows = readable(stmt.query_map(params![vm_id, limit], row)?, "history");
            Ok(readable(rows.into_iter().map(finish), "history"))
        })
    }

    /// Recent changes made outside Powerdeck (seen by polling or a feed, with
    /// a known previous state), newest first, with the VM's name and account.
    pub fn recent_drift(&self, limit: u32) -> StoreResult<Vec<(HistoryEntry, String, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT h.id, h.vm_id, h.at, h.from_state, h.to_state, h.raw_state, h.source, h.operation_id, v.name, a.name
                 FROM history h JOIN vms v ON v.id = h.vm_id JOIN accounts a ON a.id = v.account_id
                 WHERE h.source IN ('sync', 'feed') AND h.from_state IS NOT NULL AND h.operation_id IS NULL
                 ORDER BY h.id DESC LIMIT ?1",
            )?;
            let rows = readable(stmt.query_map([limit], |r| Ok((row(r)?, r.get::<_, String>(8)?, r.get::<_, String>(9)?)))?, "history");
            Ok(readable(rows.into_iter().map(|(h, vm, account)| finish(h).map(|h| (h, vm, account))), "history"))
        })
    }
}
