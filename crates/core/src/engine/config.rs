//! Engine settings: polling tiers, timeouts, retry and rate limits. Stored
//! in the `settings` table as JSON, so every front end edits the same values.

use crate::model::OpKind;
use crate::provider::calls::{RateLimit, RetryPolicy};
use serde::{Deserialize, Serialize};

pub const SETTINGS_KEY: &str = "engine";

/// The longest any configured duration may be: a day. Anything longer is a
/// typo, and values near the integer limits would overflow the deadline
/// arithmetic (one such value once poisoned the operation journal).
pub const MAX_DURATION_MS: u64 = 86_400_000;
/// [`MAX_DURATION_MS`] in seconds, for settings kept in seconds.
pub const MAX_DURATION_S: u64 = MAX_DURATION_MS / 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
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
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
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
    /// Releasing a VM's compute (Azure) can take minutes.
    pub deallocate_s: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { start_s: 120, stop_s: 120, force_s: 60, reboot_s: 180, suspend_s: 120, tools_s: 300, deallocate_s: 300 }
    }
}

impl Timeouts {
    fn each(&self) -> [(&'static str, u64); 7] {
        [
            ("timeouts.start_s", self.start_s),
            ("timeouts.stop_s", self.stop_s),
            ("timeouts.force_s", self.force_s),
            ("timeouts.reboot_s", self.reboot_s),
            ("timeouts.suspend_s", self.suspend_s),
            ("timeouts.tools_s", self.tools_s),
            ("timeouts.deallocate_s", self.deallocate_s),
        ]
    }

    pub fn for_kind(&self, kind: OpKind) -> u64 {
        match kind {
            OpKind::Start => self.start_s,
            OpKind::Stop => self.stop_s,
            OpKind::ForceStop => self.force_s,
            OpKind::Reboot => self.reboot_s,
            OpKind::Suspend | OpKind::Hibernate => self.suspend_s,
            OpKind::Deallocate => self.deallocate_s,
        }
    }
}

impl EngineConfig {
    /// Every value in a range that makes sense, so no later arithmetic on
    /// them can overflow or turn a typo into a hard power-off.
    pub fn validate(&self) -> Result<(), String> {
        let tiers = [
            ("inflight_interval_ms", self.inflight_interval_ms),
            ("transitional_interval_ms", self.transitional_interval_ms),
            ("watched_interval_ms", self.watched_interval_ms),
            ("full_interval_ms", self.full_interval_ms),
        ];
        for (name, v) in tiers {
            in_range(name, v, 50, MAX_DURATION_MS, "ms")?;
        }
        for (name, v) in
            [("full_per_call_ms", self.full_per_call_ms), ("full_min_interval_ms", self.full_min_interval_ms), ("feed_max_wait_ms", self.feed_max_wait_ms)]
        {
            in_range(name, v, 0, MAX_DURATION_MS, "ms")?;
        }
        in_range("lease_ms", self.lease_ms, 0, MAX_DURATION_MS, "ms")?;
        if self.lease_ms < 3 * self.inflight_interval_ms {
            return Err("lease_ms must be at least three in-flight intervals".into());
        }
        for (name, v) in self.timeouts.each() {
            in_range(name, v, 1, MAX_DURATION_S, "s")?;
        }
        in_range("retry.max_attempts", u64::from(self.retry.max_attempts), 1, 20, "")?;
        for (name, v) in [
            ("retry.base_delay_ms", self.retry.base_delay_ms),
            ("retry.max_delay_ms", self.retry.max_delay_ms),
            ("retry.max_retry_after_ms", self.retry.max_retry_after_ms),
        ] {
            in_range(name, v, 0, MAX_DURATION_MS, "ms")?;
        }
        let rate = self.rate_limit.per_second;
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
            return Err(format!("rate_limit.per_second must be above 0 and at most 1000000, not {rate}"));
        }
        in_range("rate_limit.burst", u64::from(self.rate_limit.burst), 1, 1_000_000, "")?;
        Ok(())
    }

    /// The stored settings, or the defaults with a sentence saying why when
    /// the stored ones are unreadable or out of range: a bad settings row
    /// must not lock every command out, including the one that repairs it.
    pub fn from_stored(json: Option<&str>) -> (Self, Option<String>) {
        let Some(json) = json else { return (Self::default(), None) };
        let parsed = serde_json::from_str::<Self>(json).map_err(|e| e.to_string()).and_then(|c| c.validate().map(|_| c));
        match parsed {
            Ok(cfg) => (cfg, None),
            Err(why) => (
                Self::default(),
                Some(format!(
                    "the stored engine settings are unusable ({why}); the defaults apply until settings are saved again (pdk settings --reset restores them)"
                )),
            ),
        }
    }
}

fn in_range(name: &str, v: u64, min: u64, max: u64, unit: &str) -> Result<(), String> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(format!("{name} must be between {min}{unit} and {max}{unit}, not {v}{unit}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_durations_are_refused_before_any_arithmetic_sees_them() {
        let mut cfg = EngineConfig::default();
        cfg.timeouts.stop_s = 18_446_744_073_709_551_615;
        assert!(cfg.validate().unwrap_err().contains("timeouts.stop_s"));
        let cfg = EngineConfig { inflight_interval_ms: 9_223_372_036_854_775, ..EngineConfig::default() };
        assert!(cfg.validate().is_err());
        let mut cfg = EngineConfig::default();
        cfg.rate_limit.per_second = f64::NAN;
        assert!(cfg.validate().is_err());
        assert!(EngineConfig::default().validate().is_ok());
    }

    #[test]
    fn unusable_stored_settings_fall_back_to_the_defaults_with_a_warning() {
        assert_eq!(EngineConfig::from_stored(None), (EngineConfig::default(), None));
        let (cfg, warning) = EngineConfig::from_stored(Some("{not json"));
        assert_eq!(cfg, EngineConfig::default());
        assert!(warning.unwrap().contains("pdk settings --reset"));
        let (_, warning) = EngineConfig::from_stored(Some(r#"{"timeouts":{"stop_s":99999999999}}"#));
        assert!(warning.unwrap().contains("timeouts.stop_s"));
        let stored = serde_json::to_string(&EngineConfig { full_interval_ms: 60_000, ..EngineConfig::default() }).unwrap();
        assert_eq!(EngineConfig::from_stored(Some(&stored)).0.full_interval_ms, 60_000);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        /// Any timeout an admin sets is accepted or refused by name; none
        /// panics, and an accepted one fits a deadline without wrapping.
        #[test]
        fn any_timeout_is_accepted_or_refused_by_name(start in any::<u64>(), stop in any::<u64>(), reboot in any::<u64>()) {
            let mut cfg = EngineConfig::default();
            cfg.timeouts.start_s = start;
            cfg.timeouts.stop_s = stop;
            cfg.timeouts.reboot_s = reboot;
            match cfg.validate() {
                Ok(()) => prop_assert!([start, stop, reboot].iter().all(|s| s.checked_mul(1000).is_some_and(|ms| i64::try_from(ms).is_ok()))),
                Err(e) => prop_assert!(e.contains("timeouts.")),
            }
        }
    }
}
