//! The demo fleet's knobs. Stored in the account's config, so a benchmark or
//! chaos run can be reproduced from `pdk accounts add sim … --flags`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimConfig {
    /// Number of VMs in the fleet.
    pub size: u32,
    /// Everything random (names, states, stubborn guests, failures, drift)
    /// derives from this seed.
    pub seed: u64,
    /// Simulated network latency added to every call.
    pub latency_ms: u64,
    /// Most VMs returned by one inventory call.
    pub page_size: u32,
    /// Share of power requests that fail (half rejected, half failing later).
    pub failure_rate: f64,
    /// Out-of-band power changes per VM per hour.
    pub drift_per_hour: f64,
    /// Share of guests that ignore a graceful shutdown / reboot request.
    pub stubborn_rate: f64,
    /// Calls per second the simulated API accepts before throttling (0: no limit).
    pub max_rps: f64,
    /// Whether the fleet pushes changes (like vSphere's WaitForUpdatesEx).
    pub feed: bool,
    pub start_delay_ms: u64,
    pub stop_delay_ms: u64,
    pub force_stop_delay_ms: u64,
    pub reboot_delay_ms: u64,
    pub suspend_delay_ms: u64,
    pub regions: Vec<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            size: 40,
            seed: 42,
            latency_ms: 40,
            page_size: 100,
            failure_rate: 0.0,
            drift_per_hour: 0.5,
            stubborn_rate: 0.1,
            max_rps: 0.0,
            feed: true,
            start_delay_ms: 8_000,
            stop_delay_ms: 5_000,
            force_stop_delay_ms: 1_500,
            reboot_delay_ms: 9_000,
            suspend_delay_ms: 4_000,
            regions: vec!["eu-west".into(), "us-east".into(), "ap-south".into()],
        }
    }
}

impl SimConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.size == 0 || self.size > 1_000_000 {
            return Err("the demo fleet's size must be between 1 and 1000000".into());
        }
        if self.page_size == 0 {
            return Err("the page size must be at least 1".into());
        }
        for (name, v) in [("failure rate", self.failure_rate), ("stubborn rate", self.stubborn_rate)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("the {name} must be between 0 and 1, not {v}"));
            }
        }
        if self.drift_per_hour < 0.0 || self.max_rps < 0.0 {
            return Err("drift and request rates cannot be negative".into());
        }
        if self.regions.is_empty() || self.regions.iter().any(|r| r.trim().is_empty()) {
            return Err("the demo fleet needs at least one named region".into());
        }
        Ok(())
    }
}
