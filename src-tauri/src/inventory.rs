//! The whole inventory for the window, in columns. With 100 000 VMs the
//! row-per-object JSON was 29 MB and took most of the window's first paint to
//! build, send and parse; in columns, with the strings many VMs share
//! (states, raw states, tools, locations) sent once, it is a quarter of
//! that. The window keeps it in columns too (`ui/fleet.js`).
//!
//! The first inventory is read while the webview starts (`Prefetch`), so the
//! window's first `list_vms` usually finds it ready. The changes sent while
//! it was read come with it, so the window never misses one.

use crate::commands::{accounts_of, AccountInfo};
use powerdeck_core::model::{Facts, Operation, Vm};
use powerdeck_core::store::VmFilter;
use powerdeck_core::{Engine, Event};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Marks in `flags`.
const STALE: u8 = 1;
const WATCHED: u8 = 2;

#[derive(Serialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, rename = "InventoryColumns"))]
pub struct Columns {
    /// Strings shared by many VMs; `state`, `raw_state`, `tools` and
    /// `location` hold indexes into it (`-1` for none).
    words: Vec<String>,
    id: Vec<i64>,
    account_id: Vec<i64>,
    name: Vec<String>,
    provider_id: Vec<String>,
    state: Vec<i32>,
    raw_state: Vec<i32>,
    tools: Vec<i32>,
    location: Vec<i32>,
    /// `STALE | WATCHED`.
    flags: Vec<u8>,
    /// Milliseconds since the Unix epoch, as in `Vm`.
    last_seen_at: Vec<i64>,
    last_state_change_at: Vec<i64>,
    /// Only the VMs that have facts: (row, facts).
    facts: Vec<(usize, Facts)>,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, rename = "InventoryWire"))]
pub struct Inventory {
    vms: Columns,
    /// Operations still in flight, so rows can show "Waiting for status update…".
    operations: Vec<Operation>,
    accounts: Vec<AccountInfo>,
}

#[derive(Default)]
struct Words {
    list: Vec<String>,
    index: HashMap<String, i32>,
}

impl Words {
    fn of(&mut self, s: &str) -> i32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as i32;
        self.list.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

impl Columns {
    pub fn of(vms: Vec<Vm>) -> Self {
        let n = vms.len();
        let mut words = Words::default();
        let mut c = Columns {
            id: Vec::with_capacity(n),
            account_id: Vec::with_capacity(n),
            name: Vec::with_capacity(n),
            provider_id: Vec::with_capacity(n),
            state: Vec::with_capacity(n),
            raw_state: Vec::with_capacity(n),
            tools: Vec::with_capacity(n),
            location: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            last_seen_at: Vec::with_capacity(n),
            last_state_change_at: Vec::with_capacity(n),
            ..Default::default()
        };
        for (row, vm) in vms.into_iter().enumerate() {
            c.id.push(vm.id);
            c.account_id.push(vm.account_id);
            c.state.push(words.of(vm.state.as_str()));
            c.raw_state.push(words.of(&vm.raw_state));
            c.tools.push(vm.tools.map_or(-1, |t| words.of(t.as_str())));
            c.location.push(vm.location.as_deref().map_or(-1, |l| words.of(l)));
            c.flags.push(if vm.stale { STALE } else { 0 } | if vm.watched { WATCHED } else { 0 });
            c.last_seen_at.push(vm.last_seen_at);
            c.last_state_change_at.push(vm.last_state_change_at);
            if !vm.facts.is_empty() {
                c.facts.push((row, vm.facts));
            }
            c.name.push(vm.name);
            c.provider_id.push(vm.provider_id);
        }
        c.words = words.list;
        c
    }
}

impl Inventory {
    pub fn new(vms: Vec<Vm>, operations: Vec<Operation>, accounts: Vec<AccountInfo>) -> Self {
        Self { vms: Columns::of(vms), operations, accounts }
    }

    /// Read the store and write the JSON the window receives.
    pub fn read_json(engine: &Engine) -> Result<String, String> {
        let store = engine.store();
        let e = |e: powerdeck_core::store::StoreError| e.to_string();
        let t = std::time::Instant::now();
        let vms = store.vms(&VmFilter::default()).map_err(e)?;
        let read = t.elapsed().as_millis() as u64;
        let inv = Inventory::new(vms, store.in_flight_operations().map_err(e)?, accounts_of(engine).map_err(|e| e.to_string())?);
        let json = serde_json::to_string(&inv).map_err(|e| e.to_string());
        drop(inv);
        crate::memory::give_back();
        tracing::debug!(read, total = t.elapsed().as_millis() as u64, "inventory read");
        json
    }
}

/// Most events kept for the window while it starts; past this it reads the
/// inventory afresh instead.
const MAX_MISSED: usize = 20_000;

enum Missed {
    /// What was sent to the window since the start-up read began.
    Collecting(Vec<Event>),
    /// Too much (or the bus lagged): the start-up read is not used.
    TooMany,
    /// The window has its inventory.
    Done,
}

/// The inventory read at start-up, and the changes sent to the window since
/// that read began (the window may not have been listening yet): the window
/// gets both and applies the changes on top, so the read is never stale.
pub struct Prefetch {
    slot: Arc<tokio::sync::Mutex<Option<String>>>,
    missed: Mutex<Missed>,
}

impl Prefetch {
    /// Start reading now, off the main thread.
    pub fn start(engine: Arc<Engine>) -> Self {
        let slot = Arc::new(tokio::sync::Mutex::new(None));
        // Taken before the task starts, so a `take` that comes first waits for it.
        let mut guard = slot.clone().try_lock_owned().expect("a new mutex is free");
        tauri::async_runtime::spawn_blocking(move || {
            let started = std::time::Instant::now();
            *guard = Inventory::read_json(&engine).ok();
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "inventory prefetched");
        });
        Self { slot, missed: Mutex::new(Missed::Collecting(Vec::new())) }
    }

    /// The bridge sent this batch to the window.
    pub fn sent(&self, batch: &[Event]) {
        let mut missed = self.missed.lock().unwrap_or_else(|p| p.into_inner());
        if let Missed::Collecting(events) = &mut *missed {
            if events.len() + batch.len() > MAX_MISSED {
                *missed = Missed::TooMany;
            } else {
                events.extend(batch.iter().filter(|e| matches!(e, Event::VmsChanged { .. } | Event::VmsStale { .. } | Event::Operation { .. })).cloned());
            }
        }
    }

    /// The bridge lost events: the start-up read cannot be completed.
    pub fn lagged(&self) {
        let mut missed = self.missed.lock().unwrap_or_else(|p| p.into_inner());
        if let Missed::Collecting(_) = *missed {
            *missed = Missed::TooMany;
        }
    }

    /// The start-up read and the changes since, once; `None` afterwards or
    /// if it cannot be used.
    pub async fn take(&self) -> Option<(String, Vec<Event>)> {
        let json = self.slot.lock().await.take();
        let missed = std::mem::replace(&mut *self.missed.lock().unwrap_or_else(|p| p.into_inner()), Missed::Done);
        let taken = match (json, missed) {
            (Some(json), Missed::Collecting(events)) => Some((json, events)),
            _ => None,
        };
        tracing::debug!(used = taken.is_some(), missed = taken.as_ref().map(|t| t.1.len()), "start-up inventory asked for");
        taken
    }
}

/// What `list_vms` answers: the inventory and the changes the window may
/// have missed while it was read.
pub fn answer(inventory_json: &str, missed: &[Event]) -> Result<String, String> {
    let missed = serde_json::to_string(missed).map_err(|e| e.to_string())?;
    Ok(format!("{{\"inventory\":{inventory_json},\"missed\":{missed}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerdeck_core::model::{PowerState, ToolsStatus};

    fn vm(id: i64, state: PowerState, tools: Option<ToolsStatus>) -> Vm {
        Vm {
            id,
            account_id: 1,
            account: "demo".into(),
            provider_id: format!("vm-{id}"),
            name: format!("web-{id}"),
            state,
            raw_state: state.as_str().to_uppercase(),
            tools,
            location: Some("eu-west-1".into()),
            facts: Facts::new(),
            stale: id == 2,
            watched: id == 3,
            last_seen_at: 1000 + id,
            last_state_change_at: 2000 + id,
        }
    }

    #[test]
    fn the_answer_carries_the_inventory_and_what_was_missed() {
        let v = vm(1, PowerState::Stopped, None);
        let missed = [Event::VmsStale { account_id: 1, account: "demo".into(), count: 1, last_seen_at: Some(5), reason: "timeout".into() }];
        let json: serde_json::Value =
            serde_json::from_str(&answer(&serde_json::to_string(&Inventory::new(vec![v], vec![], vec![])).unwrap(), &missed).unwrap()).unwrap();
        assert_eq!(json["inventory"]["vms"]["name"], serde_json::json!(["web-1"]));
        assert_eq!(json["missed"][0]["type"], "vms-stale");
    }

    #[test]
    fn shared_strings_are_sent_once_and_every_field_survives() {
        let mut with_facts = vm(3, PowerState::Running, Some(ToolsStatus::Running));
        with_facts.facts.insert("ip_address".into(), "10.0.0.3".into());
        let c = Columns::of(vec![vm(1, PowerState::Running, Some(ToolsStatus::Running)), vm(2, PowerState::Stopped, None), with_facts]);
        let json = serde_json::to_value(&c).unwrap();
        let words: Vec<&str> = json["words"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
        assert_eq!(words, ["running", "RUNNING", "eu-west-1", "stopped", "STOPPED"]);
        assert_eq!(json["state"], serde_json::json!([0, 3, 0]));
        assert_eq!(json["tools"], serde_json::json!([0, -1, 0]));
        assert_eq!(json["location"], serde_json::json!([2, 2, 2]));
        assert_eq!(json["flags"], serde_json::json!([0, STALE, WATCHED]));
        assert_eq!(json["name"], serde_json::json!(["web-1", "web-2", "web-3"]));
        assert_eq!(json["last_state_change_at"], serde_json::json!([2001, 2002, 2003]));
        assert_eq!(json["facts"], serde_json::json!([[2, {"ip_address": "10.0.0.3"}]]));
    }
}
