//! The engine's audit log as a change feed: `GET /events?from=N` answers
//! the events with ids above N (newest first), cheaply. The cursor is the
//! id of the newest event seen, and each read asks from one below it, so
//! the answer must hold that event again: if it does not, the log was
//! cleaned up past our place (or the engine's history was reset) and
//! changes may have been missed; a full sync covers the gap. `from` is
//! never combined with `max`, which keeps the newest and would drop the
//! middle.

use super::actions::Correlations;
use super::api::Api;
use crate::provider::calls::Call;
use crate::provider::{ProviderError, ProviderResult};
use std::collections::BTreeSet;

/// What one read of the log found.
#[derive(Debug, Default, PartialEq)]
pub struct LogRead {
    /// The newest event id now seen (the next cursor).
    pub newest: u64,
    /// VMs named by events that are not ours, to be read again.
    pub vms: BTreeSet<String>,
    /// Events caused by our own requests (their operations follow them).
    pub ours: usize,
    /// Our place in the log was lost.
    pub lost: bool,
}

/// The newest event's id: where a feed starts (0 for an empty log).
pub async fn newest(api: &Api) -> ProviderResult<u64> {
    let answer = api.get(Call::watch(), "events", &[("max", "1")], "events").await?;
    let mut ids = Vec::new();
    for e in answer.root.all("event") {
        ids.push(event_id(e)?);
    }
    Ok(ids.into_iter().max().unwrap_or(0))
}

fn event_id(e: &crate::provider::xml::Node) -> ProviderResult<u64> {
    e.attr("id").and_then(|i| i.parse().ok()).ok_or_else(|| ProviderError::malformed("an event came without a numeric id"))
}

/// Events after `cursor` (the newest id seen before).
pub async fn read_after(api: &Api, ours: &Correlations, cursor: u64) -> ProviderResult<LogRead> {
    let from = cursor.saturating_sub(1).to_string();
    let answer = api.get(Call::watch(), "events", &[("from", from.as_str())], "events").await?;
    let mut read = LogRead { newest: cursor, ..LogRead::default() };
    let mut still_there = cursor == 0;
    for e in answer.root.all("event") {
        let id = event_id(e)?;
        if id == cursor {
            still_there = true;
            continue;
        }
        if id < cursor {
            // `from` keeps only newer ones; an older one means the answer is not what was asked.
            return Err(ProviderError::malformed(format!("asked for events after {from}, the engine sent event {id}")));
        }
        read.newest = read.newest.max(id);
        let Some(vm) = e.child("vm").and_then(|v| v.attr("id")).filter(|v| !v.is_empty()) else { continue };
        if e.child("correlation_id").is_some_and(|c| ours.is_ours(c.text())) {
            read.ours += 1;
            continue;
        }
        read.vms.insert(vm.to_string());
    }
    read.lost = !still_there;
    Ok(read)
}
