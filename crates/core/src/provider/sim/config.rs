//! The demo fleet's knobs. Stored in the account's config, so a benchmark or
//! chaos run can be reproduced from `pdk accounts add sim … --flags`.

use crate::provider::kind::{Field, FieldError, FieldKind};
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

/// Longest simulated delay: an hour (longer is a typo).
const MAX_DELAY_MS: u64 = 3_600_000;

impl SimConfig {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.size == 0 || self.size > 1_000_000 {
            errors.push(FieldError::on("size", "the demo fleet's size must be between 1 and 1000000"));
        }
        if self.page_size == 0 || self.page_size > 100_000 {
            errors.push(FieldError::on("page_size", "the page size must be between 1 and 100000"));
        }
        for (name, v) in [("failure_rate", self.failure_rate), ("stubborn_rate", self.stubborn_rate)] {
            if !(0.0..=1.0).contains(&v) {
                errors.push(FieldError::on(name, format!("must be between 0 and 1, not {v}")));
            }
        }
        for (name, v) in [("drift_per_hour", self.drift_per_hour), ("max_rps", self.max_rps)] {
            if !(v.is_finite() && (0.0..=1e6).contains(&v)) {
                errors.push(FieldError::on(name, format!("must be between 0 and 1000000, not {v}")));
            }
        }
        let delays = [
            ("latency_ms", self.latency_ms),
            ("start_delay_ms", self.start_delay_ms),
            ("stop_delay_ms", self.stop_delay_ms),
            ("force_stop_delay_ms", self.force_stop_delay_ms),
            ("reboot_delay_ms", self.reboot_delay_ms),
            ("suspend_delay_ms", self.suspend_delay_ms),
        ];
        for (name, v) in delays {
            if v > MAX_DELAY_MS {
                errors.push(FieldError::on(name, format!("must be at most {MAX_DELAY_MS} ms (an hour), not {v}")));
            }
        }
        if self.regions.is_empty() || self.regions.iter().any(|r| r.trim().is_empty()) {
            errors.push(FieldError::on("regions", "the demo fleet needs at least one named region"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

const fn int(name: &'static str, label: &'static str, help: &'static str, min: i64, max: i64, default: &'static str) -> Field {
    Field::text(name, label, help).kind(FieldKind::Integer { min, max }).placeholder(default).advanced()
}

const fn rate(name: &'static str, label: &'static str, help: &'static str, max: f64, default: &'static str) -> Field {
    Field::text(name, label, help).kind(FieldKind::Number { min: 0.0, max }).placeholder(default).advanced()
}

/// Every knob of [`SimConfig`], for the form and `pdk accounts add sim`.
pub const FIELDS: &[Field] = &[
    Field::text("size", "VMs", "How many VMs the simulated fleet has.").kind(FieldKind::Integer { min: 1, max: 1_000_000 }).placeholder("40"),
    Field::text("seed", "Seed", "Everything random (names, states, stubborn guests, failures, drift) follows from it.")
        .kind(FieldKind::Integer { min: 0, max: i64::MAX })
        .placeholder("42"),
    int("latency_ms", "Latency (ms)", "Simulated network latency of every call.", 0, 3_600_000, "40"),
    int("page_size", "Page size", "Most VMs one inventory call returns.", 1, 100_000, "100"),
    rate("failure_rate", "Failure rate", "Share of power requests that fail (half refused at once, half failing later).", 1.0, "0"),
    rate("drift_per_hour", "Drift per VM per hour", "Out-of-band power changes per VM per hour.", 1e6, "0.5"),
    rate("stubborn_rate", "Stubborn guests", "Share of guests that ignore a graceful shutdown or reboot.", 1.0, "0.1"),
    rate("max_rps", "Request quota (per s)", "Calls per second before the fleet throttles (0: no limit).", 1e6, "0"),
    Field::text("feed", "Change feed", "Whether the fleet pushes changes (like vSphere); off means poll only.")
        .kind(FieldKind::Bool { default: true, off_flag: Some("no-feed") })
        .advanced(),
    int("start_delay_ms", "Start takes (ms)", "How long a start takes.", 0, 3_600_000, "8000"),
    int("stop_delay_ms", "Stop takes (ms)", "How long a graceful stop takes.", 0, 3_600_000, "5000"),
    int("force_stop_delay_ms", "Forced stop takes (ms)", "How long a forced power-off takes.", 0, 3_600_000, "1500"),
    int("reboot_delay_ms", "Reboot takes (ms)", "How long a reboot takes.", 0, 3_600_000, "9000"),
    int("suspend_delay_ms", "Suspend takes (ms)", "How long a suspend takes.", 0, 3_600_000, "4000"),
    Field::text("regions", "Regions", "Names of the simulated regions.").kind(FieldKind::List).placeholder("eu-west, us-east, ap-south").advanced(),
];
