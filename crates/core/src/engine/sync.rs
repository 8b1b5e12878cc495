//! Polling tiers: transitional VMs every few seconds, watched VMs every half
//! minute, the whole inventory every few minutes. Each tier is one batched
//! read per account; everything lands through the one door.

use super::{AccountRuntime, Engine, EngineConfig};
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, Millis, Observation, PowerState, Source};
use crate::provider::client::backoff::Backoff;
use crate::reconcile::{self, Gone, Input};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SyncSummary {
    pub account: String,
    pub vms: usize,
    /// VM rows written (anything differed).
    pub changed: usize,
    /// Of those, power-state changes.
    pub state_changes: usize,
    pub list_calls: u64,
    pub duration_ms: u64,
}

/// Longest nap between checks of the wall clock, so a machine waking from
/// sleep catches up promptly (a monotonic clock may have stood still).
const MAX_NAP: Duration = Duration::from_secs(5);
/// Longest wait between full-sync attempts while they fail.
const FULL_RETRY_MAX_MS: u64 = 5_000;

impl Engine {
    /// One full inventory pass of an account: every page, then one reconcile
    /// that also notices VMs the provider no longer lists.
    pub async fn full_sync(&self, account_id: i64) -> Result<SyncSummary, CoreError> {
        let rt = self.runtime(account_id)?;
        self.full_sync_rt(&rt).await
    }

    pub(super) async fn full_sync_rt(&self, rt: &AccountRuntime) -> Result<SyncSummary, CoreError> {
        let started = Instant::now();
        let calls_before = rt.stats().snapshot().list;
        let mut all: Vec<Observation> = Vec::new();
        let mut token: Option<String> = None;
        let mut seen_tokens = HashSet::new();
        loop {
            let page = match rt.provider.list_page(token.as_deref()).await {
                Ok(p) => p,
                Err(e) => {
                    self.note_read_failure(rt, &e);
                    return Err(CoreError::provider(&rt.account.name, e));
                }
            };
            all.extend(page.vms);
            match page.next {
                // A provider that hands back a token it already gave would
                // page forever; stop and say so.
                Some(next) if !seen_tokens.insert(next.clone()) => {
                    let e = crate::provider::ProviderError::malformed(format!("the provider repeated page token '{next}'"));
                    self.note_failure(rt, &e);
                    return Err(CoreError::provider(&rt.account.name, e));
                }
                Some(next) => token = Some(next),
                None => break,
            }
        }
        self.note_contact(rt)?;
        let outcome = reconcile::reconcile(
            &self.store,
            &self.bus,
            Input { account_id: rt.account.id, observations: &all, source: Source::Sync, gone: Gone::Unlisted, closing: None },
        )
        .map_err(|e| CoreError::Reconcile { account: rt.account.name.clone(), source: e })?;
        let summary = SyncSummary {
            account: rt.account.name.clone(),
            vms: all.len(),
            changed: outcome.rows_changed,
            state_changes: outcome.state_changes,
            list_calls: rt.stats().snapshot().list - calls_before,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        self.bus.publish(Event::SyncFinished {
            account_id: rt.account.id,
            account: summary.account.clone(),
            vms: summary.vms,
            changed: summary.changed,
            calls: summary.list_calls,
            duration_ms: summary.duration_ms,
        });
        Ok(summary)
    }

    /// Refresh the VMs in a transitional state that no operation of ours
    /// explains (someone else is changing them).
    async fn refresh_transitional(&self, rt: &AccountRuntime) -> Result<(), CoreError> {
        let transitional: Vec<PowerState> = PowerState::ALL.into_iter().filter(|s| s.is_transitional()).collect();
        let mut ids = self.store.provider_ids_in_states(rt.account.id, &transitional)?;
        let tracked: HashSet<String> = self.store.active_operations(rt.account.id)?.into_iter().map(|r| r.provider_id).collect();
        ids.retain(|id| !tracked.contains(id));
        if !ids.is_empty() {
            self.read_states(rt, &ids, Source::Sync).await?;
        }
        Ok(())
    }

    async fn refresh_watched(&self, rt: &AccountRuntime) -> Result<(), CoreError> {
        let ids = self.store.watched_provider_ids(rt.account.id)?;
        if !ids.is_empty() {
            self.read_states(rt, &ids, Source::Sync).await?;
        }
        Ok(())
    }
}

/// Per-account polling loop. Due times are wall-clock, rechecked at least
/// every [`MAX_NAP`].
pub(super) async fn tiers_loop(engine: Arc<Engine>, rt: Arc<AccountRuntime>) {
    let cfg = engine.cfg.clone();
    let now = now_ms();
    let (mut next_full, mut next_trans, mut next_watch): (Millis, Millis, Millis) =
        (now, now + cfg.transitional_interval_ms as Millis, now + cfg.watched_interval_ms as Millis);
    // Failed full syncs back off (with jitter, so accounts that failed in one
    // outage do not all retry in the same instant), but keep probing every
    // few seconds: stale VMs should turn fresh soon after the provider does,
    // and a failing first page costs one call.
    let mut backoff = Backoff::new(Duration::from_millis(2_000), Duration::from_millis(FULL_RETRY_MAX_MS.min(cfg.full_interval_ms)));
    loop {
        if engine.sync_paused() {
            tokio::select! {
                _ = tokio::time::sleep(MAX_NAP) => {}
                _ = rt.wake_sync.notified() => next_full = now_ms(),
            }
            continue;
        }
        let now = now_ms();
        if now >= next_full {
            match engine.full_sync_rt(&rt).await {
                Ok(summary) => {
                    backoff.reset();
                    next_full = now_ms() + full_interval(&cfg, rt.caps.change_feed, summary.list_calls) as Millis;
                }
                Err(e) => {
                    next_full = now_ms() + backoff.next_delay().as_millis() as Millis;
                    report(&engine, &rt, &e, backoff.failures());
                }
            }
        }
        if now >= next_trans {
            if let Err(e) = engine.refresh_transitional(&rt).await {
                tracing::debug!(account = %rt.account.name, error = %e, "transitional refresh failed");
            }
            next_trans = now_ms() + cfg.transitional_interval_ms as Millis;
        }
        if now >= next_watch {
            if let Err(e) = engine.refresh_watched(&rt).await {
                tracing::debug!(account = %rt.account.name, error = %e, "watched refresh failed");
            }
            next_watch = now_ms() + cfg.watched_interval_ms as Millis;
        }
        let due = next_full.min(next_trans).min(next_watch);
        let nap = Duration::from_millis((due - now_ms()).max(0) as u64).min(MAX_NAP);
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = rt.wake_sync.notified() => next_full = now_ms(),
        }
    }
}

/// How long until the next full sync. With a change feed the full sync is
/// only a backstop; without one it is how drift gets caught, so it runs as
/// often as its cost allows.
fn full_interval(cfg: &EngineConfig, has_feed: bool, list_calls: u64) -> u64 {
    if has_feed {
        return cfg.full_interval_ms;
    }
    list_calls.saturating_mul(cfg.full_per_call_ms).clamp(cfg.full_min_interval_ms.min(cfg.full_interval_ms), cfg.full_interval_ms)
}

fn report(engine: &Engine, rt: &AccountRuntime, e: &CoreError, failures: u32) {
    tracing::warn!(account = %rt.account.name, error = %e, failures, "full sync failed");
    // Say it once per outage, not on every retry.
    if failures == 1 {
        engine.bus.publish(Event::AccountError { account_id: rt.account.id, account: rt.account.name.clone(), message: e.to_string() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_feed_cheap_inventories_are_listed_more_often() {
        let cfg = EngineConfig::default();
        // A feed makes the full sync a 5-minute backstop, whatever it costs.
        assert_eq!(full_interval(&cfg, true, 1), 300_000);
        // One DescribeInstances page: every 30 s; ten pages: still 30 s.
        assert_eq!(full_interval(&cfg, false, 1), 30_000);
        assert_eq!(full_interval(&cfg, false, 10), 30_000);
        assert_eq!(full_interval(&cfg, false, 40), 120_000);
        // A huge inventory never polls more often than the configured maximum.
        assert_eq!(full_interval(&cfg, false, 1000), 300_000);
    }
}
