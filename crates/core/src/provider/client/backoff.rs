//! One backoff for everything that waits after a failure: provider calls,
//! the full-sync loop and the change-feed loop. Exponential, capped, with
//! full jitter (a uniformly random wait between zero and the cap), so that
//! many accounts that failed together do not retry together.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max: max.max(base), failures: 0 }
    }

    /// The cap for the next wait: base × 2^failures, at most `max`.
    pub fn cap(&self) -> Duration {
        let factor = 1u32 << self.failures.min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Count a failure; how long to wait before trying again.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self.cap();
        self.failures = self.failures.saturating_add(1);
        jitter(cap)
    }

    /// Failures counted since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Full jitter: uniformly between zero and `cap`.
pub fn jitter(cap: Duration) -> Duration {
    let ms = cap.as_millis().min(u128::from(u64::MAX)) as u64;
    Duration::from_millis(if ms == 0 { 0 } else { rand::rng().random_range(0..=ms) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_jitters_below_it() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let caps: Vec<u64> = (0..6)
            .map(|_| {
                let cap = b.cap().as_millis() as u64;
                let d = b.next_delay().as_millis() as u64;
                assert!(d <= cap, "{d} > {cap}");
                cap
            })
            .collect();
        assert_eq!(caps, vec![100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.cap(), Duration::from_millis(100));
    }

    #[test]
    fn many_clients_spread_out() {
        // Full jitter: a thousand clients failing together do not come back together.
        let delays: std::collections::HashSet<u128> = (0..1000).map(|_| jitter(Duration::from_secs(10)).as_millis()).collect();
        assert!(delays.len() > 500, "only {} distinct delays", delays.len());
        assert!(delays.iter().any(|d| *d < 2000) && delays.iter().any(|d| *d > 8000));
    }
}
