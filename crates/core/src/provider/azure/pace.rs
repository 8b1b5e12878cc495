//! Slowing down before ARM has to throttle. Every ARM answer says how many
//! reads (`x-ms-ratelimit-remaining-subscription-reads`) or writes
//! (`…-writes`) the principal has left in that subscription (`…-tenant-…`
//! for tenant-wide calls). While what is left is above a tenth of the most
//! seen, nothing changes; below it, requests in that scope and of that kind
//! are spaced at ARM's documented sustained rate (12 000 reads or 1 200
//! writes an hour), so the budget stops draining instead of running into
//! a 429 and its wait. The shared call layer still handles a 429 itself.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    Reads,
    Writes,
}

impl Budget {
    /// ARM's documented sustained rate for this kind, as a spacing.
    fn spacing(self) -> Duration {
        match self {
            Self::Reads => Duration::from_millis(300),
            Self::Writes => Duration::from_secs(3),
        }
    }

    /// The header that carries what is left, per scope kind.
    fn headers(self) -> [&'static str; 2] {
        match self {
            Self::Reads => ["x-ms-ratelimit-remaining-subscription-reads", "x-ms-ratelimit-remaining-tenant-reads"],
            Self::Writes => ["x-ms-ratelimit-remaining-subscription-writes", "x-ms-ratelimit-remaining-tenant-writes"],
        }
    }
}

#[derive(Debug)]
struct Slot {
    remaining: u64,
    /// The most ever seen left: the budget's size, as far as we can tell.
    most: u64,
    /// When the next request may go while pacing.
    next_at: Instant,
}

impl Slot {
    fn low(&self) -> bool {
        self.remaining * 10 < self.most
    }
}

#[derive(Debug, Default)]
pub struct Pacer {
    slots: Mutex<HashMap<(String, Budget), Slot>>,
    paced: std::sync::atomic::AtomicU64,
}

impl Pacer {
    /// Wait, if this scope's budget is low, until the next request may go.
    pub async fn wait(&self, scope: &str, budget: Budget) {
        let until = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let Some(slot) = slots.get_mut(&(scope.to_string(), budget)) else { return };
            if !slot.low() {
                return;
            }
            let at = slot.next_at.max(Instant::now());
            slot.next_at = at + budget.spacing();
            at
        };
        self.paced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep_until(until).await;
    }

    /// Note what an answer says is left.
    pub fn note(&self, scope: &str, budget: Budget, headers: &reqwest::header::HeaderMap) {
        let Some(remaining) = budget.headers().iter().find_map(|h| headers.get(*h)?.to_str().ok()?.trim().parse::<u64>().ok()) else { return };
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots.entry((scope.to_string(), budget)).or_insert(Slot { remaining, most: remaining, next_at: Instant::now() });
        let was_low = slot.low();
        slot.remaining = remaining;
        slot.most = slot.most.max(remaining);
        if slot.low() && !was_low {
            tracing::info!(scope, ?budget, remaining, "ARM's request budget is low; spacing requests at its sustained rate");
        }
    }

    /// How many requests were held back so far.
    pub fn paced(&self) -> u64 {
        self.paced.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(n: u64, budget: Budget) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(budget.headers()[0], n.to_string().parse().unwrap());
        h
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_budget_costs_no_time_and_a_low_one_is_spent_at_the_sustained_rate() {
        let p = Pacer::default();
        p.note("sub-a", Budget::Reads, &left(11_999, Budget::Reads));
        let t = Instant::now();
        for _ in 0..50 {
            p.wait("sub-a", Budget::Reads).await;
        }
        assert_eq!(t.elapsed(), Duration::ZERO);
        // Below a tenth of the budget: 300 ms apart.
        p.note("sub-a", Budget::Reads, &left(1_100, Budget::Reads));
        let t = Instant::now();
        for _ in 0..5 {
            p.wait("sub-a", Budget::Reads).await;
        }
        assert_eq!(t.elapsed(), Duration::from_millis(1200));
        assert_eq!(p.paced(), 5);
        // Another subscription, and writes, are not held back by it.
        let t = Instant::now();
        p.note("sub-b", Budget::Reads, &left(11_000, Budget::Reads));
        p.wait("sub-b", Budget::Reads).await;
        p.wait("sub-a", Budget::Writes).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
        // The budget refilled: full speed again.
        p.note("sub-a", Budget::Reads, &left(9_000, Budget::Reads));
        let t = Instant::now();
        p.wait("sub-a", Budget::Reads).await;
        p.wait("sub-a", Budget::Reads).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn writes_are_spaced_at_their_own_rate_and_tenant_headers_count() {
        let p = Pacer::default();
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ms-ratelimit-remaining-subscription-writes", "1199".parse().unwrap());
        p.note("s", Budget::Writes, &h);
        h.insert("x-ms-ratelimit-remaining-subscription-writes", "99".parse().unwrap());
        p.note("s", Budget::Writes, &h);
        let t = Instant::now();
        for _ in 0..3 {
            p.wait("s", Budget::Writes).await;
        }
        assert_eq!(t.elapsed(), Duration::from_secs(6));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ms-ratelimit-remaining-tenant-reads", "not a number".parse().unwrap());
        p.note("tenant", Budget::Reads, &h);
        p.wait("tenant", Budget::Reads).await;
        assert_eq!(t.elapsed(), Duration::from_secs(6), "an unreadable header changes nothing");
    }
}
