//! Engine settings for tests: tiers and timeouts short enough that a whole
//! operation runs in well under a second against a fast simulator.

use powerdeck_core::engine::config::Timeouts;
use powerdeck_core::provider::calls::RetryPolicy;
use powerdeck_core::EngineConfig;

pub fn fast_engine_config() -> EngineConfig {
    EngineConfig {
        inflight_interval_ms: 100,
        transitional_interval_ms: 200,
        watched_interval_ms: 500,
        full_interval_ms: 600_000,
        feed_max_wait_ms: 500,
        lease_ms: 1_000,
        timeouts: Timeouts { start_s: 20, stop_s: 20, force_s: 20, reboot_s: 20, suspend_s: 20, tools_s: 20, deallocate_s: 20 },
        retry: RetryPolicy { max_attempts: 3, base_delay_ms: 10, max_delay_ms: 100, max_retry_after_ms: 5_000 },
        ..EngineConfig::default()
    }
}
