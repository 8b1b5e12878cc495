//! Engine settings: polling tiers, timeouts, retry and rate limits. Stored
//! in the `settings` table as JSON, so every front end edits the same values.

use crate::model::OpKind;
use crate::provider::guard::{RateLimit, RetryPolicy};
use serde::{Deserialize, Serialize};

pub const SETTINGS_KEY: &str = "engine";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// VMs with an operation in flight.
    pub inflight_interval_ms: u64,
    /// VMs in a transitional state that no operation of ours explains.
    pub transitional_interval_ms: u64,
    /// VMs marked as watched.
    pub watched_interval_ms: u64,
    /// The whole inventory (the backstop behind every other tier and the feed).
    pub full_interval_ms: u64,
    /// Without a change feed, the full sync is the only way to see changes
    /// made elsewhere, so a cheap inventory is listed more often: every
    /// `list calls × full_per_call_ms`, at least `full_min_interval_ms`, at
    /// most `full_interval_ms`. (1000 EC2 instances: one call, every 30 s.)
    pub full_per_call_ms: u64,
    pub full_min_interval_ms: u64,
    /// Longest a change-feed call waits for news (keep below the HTTP timeout).
    pub feed_max_wait_ms: u64,
    /// An operation whose tracker has not renewed its lease for this long is
    /// adopted by another process.
    pub lease_ms: u64,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub rate_limit: RateLimit,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            inflight_interval_ms: 1_500,
            transitional_interval_ms: 7_000,
            watched_interval_ms: 30_000,
            full_interval_ms: 300_000,
            full_per_call_ms: 3_000,
            full_min_interval_ms: 30_000,
            feed_max_wait_ms: 20_000,
            lease_ms: 15_000,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            rate_limit: RateLimit::default(),
        }
    }
}

/// Seconds per operation kind (design.md's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    pub start_s: u64,
    /// How long a graceful stop may take before it counts as ignored.
    pub stop_s: u64,
    /// Extra time a forced power-off (or reset) gets after the graceful window.
    pub force_s: u64,
    pub reboot_s: u64,
    pub suspend_s: u64,
    /// Extra time a start that waits for guest tools gives them to come up.
    pub tools_s: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { start_s: 120, stop_s: 120, force_s: 60, reboot_s: 180, suspend_s: 120, tools_s: 300 }
    }
}

impl Timeouts {
    pub fn for_kind(&self, kind: OpKind) -> u64 {
        match kind {
            OpKind::Start => self.start_s,
            OpKind::Stop => self.stop_s,
            OpKind::ForceStop => self.force_s,
            OpKind::Reboot => self.reboot_s,
            OpKind::Suspend | OpKind::Hibernate => self.suspend_s,
        }
    }
}

impl EngineConfig {
    pub fn validate(&self) -> Result<(), String> {
        let tiers = [
            ("inflight_interval_ms", self.inflight_interval_ms),
            ("transitional_interval_ms", self.transitional_interval_ms),
            ("watched_interval_ms", self.watched_interval_ms),
            ("full_interval_ms", self.full_interval_ms),
        ];
        for (name, v) in tiers {
            if v < 50 {
                return Err(format!("{name} must be at least 50 ms"));
            }
        }
        if self.lease_ms < 3 * self.inflight_interval_ms {
            return Err("lease_ms must be at least three in-flight intervals".into());
        }
        if self.retry.max_attempts == 0 {
            return Err("retry.max_attempts must be at least 1".into());
        }
        if self.rate_limit.per_second <= 0.0 {
            return Err("rate_limit.per_second must be positive".into());
        }
        Ok(())
    }
}
