//! The change feed: `listEvents` since the last event seen names the VMs
//! that changed (VM.START, VM.STOP, VM.REBOOT, VM.DESTROY, … with their
//! `resourceid`), and only those are read again. Events come newest first;
//! `startdate` ("yyyy-MM-dd HH:mm:ss" in the server's time zone, the same
//! one its `created` stamps are written in) is inclusive, so the cursor
//! keeps the second of the newest event and the ids seen in that second.
//! If none of those is listed any more, the events were purged or archived
//! past the cursor: the window is lost and a full sync must cover it.
//! Out-of-band changes (a host's power report) are recorded as the `system`
//! account's events, which an admin sees only with `listall=true`.

use super::api::Api;
use super::errors;
use crate::provider::calls::Call;
use crate::provider::{ProviderError, ProviderResult};
use serde::Deserialize;
use std::collections::BTreeSet;

const PAGE: u64 = 500;
/// More news than this many pages in one poll: read everything instead.
const MAX_PAGES: u64 = 10;
/// Events read to find where a feed starts.
const HEAD_PAGE: u64 = 50;

#[derive(Debug, Clone, Deserialize)]
pub struct EventRow {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub resourceid: Option<String>,
    #[serde(default)]
    pub resourcetype: Option<String>,
    pub created: String,
}

impl EventRow {
    fn about_a_vm(&self) -> bool {
        self.kind.starts_with("VM.") || self.resourcetype.as_deref() == Some("VirtualMachine")
    }
}

#[derive(Debug, Default, Deserialize)]
struct EventPage {
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    event: Vec<EventRow>,
}

/// Where the feed is: the newest event's second (server time) and the
/// events seen in it. `at: None`: no event existed, everything is news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: Option<String>,
    pub seen: BTreeSet<String>,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let ids: Vec<&str> = self.seen.iter().map(String::as_str).collect();
        format!("v1|{}|{}", self.at.as_deref().unwrap_or("-"), ids.join(","))
    }

    /// `None` for a cursor Powerdeck did not make.
    pub fn decode(s: &str) -> Option<Self> {
        let mut parts = s.splitn(3, '|');
        if parts.next()? != "v1" {
            return None;
        }
        let at = parts.next()?;
        let ids = parts.next()?;
        let at = if at == "-" { None } else { Some(local_time(at)?) };
        Some(Self { at, seen: ids.split(',').filter(|i| !i.is_empty()).map(str::to_string).collect() })
    }
}

/// "2025-01-06T08:00:00+0000" → "2025-01-06 08:00:00": the server's own
/// clock reading, which `startdate` is compared against.
fn local_time(created: &str) -> Option<String> {
    let t = created.get(..19)?.replacen('T', " ", 1);
    let ok = t.char_indices().all(|(i, c)| match i {
        4 | 7 => c == '-',
        10 => c == ' ',
        13 | 16 => c == ':',
        _ => c.is_ascii_digit(),
    });
    ok.then_some(t)
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct News {
    /// VMs that events named, in the order first named.
    pub vms: Vec<String>,
    pub cursor: Option<Cursor>,
    /// The window was lost (or there was too much news, or an event about a
    /// VM did not say which): a full sync must cover the gap.
    pub resync_needed: bool,
}

/// The newest events now: where a feed starts. Several events share a
/// second (a command's Scheduled, Started and Completed): all of the
/// newest second's are taken as seen, so none reads as news later.
pub async fn head(api: &Api, scope: &[(&'static str, String)], secret: &str) -> ProviderResult<Cursor> {
    let mut params = scope.to_vec();
    params.extend([("page", "1".to_string()), ("pagesize", HEAD_PAGE.to_string())]);
    let page = list(api, &params).await?;
    let Some(newest) = page.event.first() else { return Ok(Cursor { at: None, seen: BTreeSet::new() }) };
    let at = created_at(newest, secret)?;
    let seen = page.event.iter().filter(|e| local_time(&e.created).as_deref() == Some(at.as_str())).map(|e| e.id.clone()).collect();
    Ok(Cursor { at: Some(at), seen })
}

fn created_at(e: &EventRow, secret: &str) -> ProviderResult<String> {
    local_time(&e.created).ok_or_else(|| ProviderError::malformed(format!("event {} has an unreadable date '{}'", e.id, errors::shown(&e.created, secret))))
}

async fn list(api: &Api, params: &[(&'static str, String)]) -> ProviderResult<EventPage> {
    let answer = api.call(Call::watch(), "listEvents", params).await?;
    serde_json::from_value(answer).map_err(|e| ProviderError::malformed(format!("listEvents: {e}")))
}

/// The events since `cursor`, newest first, and what they mean.
pub async fn poll(api: &Api, scope: &[(&'static str, String)], secret: &str, cursor: &Cursor) -> ProviderResult<News> {
    let mut events: Vec<EventRow> = Vec::new();
    let mut page = 1;
    let complete = loop {
        let mut params = scope.to_vec();
        if let Some(at) = &cursor.at {
            params.push(("startdate", at.clone()));
        }
        params.extend([("page", page.to_string()), ("pagesize", PAGE.to_string())]);
        let answer = list(api, &params).await?;
        let total = answer.count.unwrap_or(0);
        let rows = answer.event.len() as u64;
        events.extend(answer.event);
        if rows < PAGE || page * PAGE >= total {
            break true;
        }
        if page >= MAX_PAGES {
            break false;
        }
        page += 1;
    };
    let mut news = News::default();
    let Some(newest) = events.first() else {
        // Nothing at all since the cursor's second, not even the events seen
        // in it: they were purged or archived.
        news.resync_needed = !cursor.seen.is_empty();
        return Ok(news);
    };
    let newest_at = created_at(newest, secret)?;
    let seen_in_newest: BTreeSet<String> =
        events.iter().filter(|e| local_time(&e.created).as_deref() == Some(newest_at.as_str())).map(|e| e.id.clone()).collect();
    let mut next = Cursor { at: Some(newest_at.clone()), seen: seen_in_newest };
    if cursor.at.as_deref() == Some(newest_at.as_str()) {
        next.seen.extend(cursor.seen.iter().cloned());
    }
    news.cursor = Some(next);
    if !complete {
        news.resync_needed = true;
        return Ok(news);
    }
    if !cursor.seen.is_empty() && !events.iter().any(|e| cursor.seen.contains(&e.id)) {
        news.resync_needed = true;
        return Ok(news);
    }
    for e in events.iter().filter(|e| !cursor.seen.contains(&e.id) && e.about_a_vm()) {
        match e.resourceid.as_deref().filter(|r| !r.is_empty()) {
            Some(vm) if !news.vms.iter().any(|v| v == vm) => news.vms.push(vm.to_string()),
            Some(_) => {}
            // A server before 4.17 does not say which VM: read them all.
            None => news.resync_needed = true,
        }
    }
    Ok(news)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = Cursor { at: Some("2025-01-06 08:00:07".into()), seen: ["e1".to_string(), "e2".to_string()].into() };
        assert_eq!(c.encode(), "v1|2025-01-06 08:00:07|e1,e2");
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        let empty = Cursor { at: None, seen: BTreeSet::new() };
        assert_eq!(Cursor::decode(&empty.encode()), Some(empty));
        assert_eq!(Cursor::decode("42"), None);
        assert_eq!(Cursor::decode("v1|yesterday|e1"), None);
    }

    #[test]
    fn event_stamps_are_read_as_the_servers_clock_shows_them() {
        assert_eq!(local_time("2025-01-06T08:00:07+0100").as_deref(), Some("2025-01-06 08:00:07"));
        assert_eq!(local_time("2025-01-06 08:00:07").as_deref(), Some("2025-01-06 08:00:07"));
        assert_eq!(local_time("06/01/2025"), None);
    }
}
