//! The one place where provider calls are retried, backed off and rate
//! limited. Every provider is wrapped in [`Guarded`]; providers themselves
//! never loop on errors.

use super::{CallTarget, Capabilities, FeedBatch, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::Observation;
use async_trait::async_trait;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Exponential backoff with full jitter, on retryable errors only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// A `Retry-After` longer than this is not waited out inline: the error
    /// goes back to the engine, which requeues the work.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay_ms: 200, max_delay_ms: 20_000, max_retry_after_ms: 30_000 }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` (attempt counts from 1).
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay_ms.saturating_mul(1u64 << attempt.min(20).saturating_sub(1));
        let cap = exp.min(self.max_delay_ms).max(1);
        // Full jitter: spreads retries of many clients over the window.
        Duration::from_millis(rand::rng().random_range(cap / 2..=cap))
    }
}

/// A token bucket: `rate` calls per second on average, bursts up to `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate_per_sec: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        Self { rate: rate_per_sec.max(0.001), burst, state: Mutex::new((burst, Instant::now())) }
    }

    /// Wait until a token is available and take it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let refilled = (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst);
                *s = (refilled, now);
                if refilled >= 1.0 {
                    s.0 -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - refilled) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// The provider said it is throttling us: empty the bucket so our own
    /// callers slow down too, instead of each discovering it separately.
    pub fn drain(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *s = (0.0, Instant::now());
    }
}

/// Rate limits for one account (client-go's defaults are 10 qps, burst 100).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_second: 10.0, burst: 100 }
    }
}

/// Counters of calls actually sent to the provider (retries included).
#[derive(Debug, Default)]
pub struct CallStats {
    pub list: AtomicU64,
    pub refresh: AtomicU64,
    pub submit: AtomicU64,
    pub poll: AtomicU64,
    pub watch: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    pub list: u64,
    pub refresh: u64,
    pub submit: u64,
    pub poll: u64,
    pub watch: u64,
    pub retries: u64,
    pub throttled: u64,
}

impl CallStats {
    pub fn snapshot(&self) -> CallCounts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CallCounts {
            list: g(&self.list),
            refresh: g(&self.refresh),
            submit: g(&self.submit),
            poll: g(&self.poll),
            watch: g(&self.watch),
            retries: g(&self.retries),
            throttled: g(&self.throttled),
        }
    }
}

/// Whether a call may be repeated after an error that leaves its effect
/// uncertain. Reads always may; a power request only when it certainly
/// never took effect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Effect {
    Read,
    Write,
}

/// A provider behind the shared retry / backoff / rate-limit layer.
pub struct Guarded {
    inner: Arc<dyn Provider>,
    retry: RetryPolicy,
    limit: RateLimit,
    /// One bucket per throttling scope (`None`: the whole account).
    buckets: Mutex<HashMap<Option<String>, Arc<TokenBucket>>>,
    stats: Arc<CallStats>,
}

impl Guarded {
    pub fn new(inner: Arc<dyn Provider>, retry: RetryPolicy, limit: &RateLimit) -> Self {
        Self { inner, retry, limit: limit.clone(), buckets: Mutex::default(), stats: Arc::default() }
    }

    fn bucket(&self, target: CallTarget<'_>) -> Arc<TokenBucket> {
        let scope = self.inner.rate_scope(target);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.entry(scope).or_insert_with(|| Arc::new(TokenBucket::new(self.limit.per_second, self.limit.burst))).clone()
    }

    pub fn stats(&self) -> Arc<CallStats> {
        self.stats.clone()
    }

    async fn call<T, F, Fut>(&self, effect: Effect, target: CallTarget<'_>, counter: &AtomicU64, f: F) -> ProviderResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ProviderResult<T>>,
    {
        let bucket = self.bucket(target);
        let mut attempt = 1;
        loop {
            bucket.acquire().await;
            counter.fetch_add(1, Ordering::Relaxed);
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if matches!(err, ProviderError::Throttled { .. }) {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                bucket.drain();
            }
            let may_repeat = match effect {
                Effect::Read => err.is_retryable(),
                Effect::Write => err.certainly_not_executed(),
            };
            if !may_repeat || attempt >= self.retry.max_attempts {
                return Err(err);
            }
            let mut wait = self.retry.backoff(attempt);
            if let Some(after) = err.retry_after() {
                if after.as_millis() as u64 > self.retry.max_retry_after_ms {
                    return Err(err);
                }
                wait = wait.max(after);
            }
            tracing::debug!(attempt, ?wait, error = %err, "retrying provider call");
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl Provider for Guarded {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        self.call(Effect::Read, CallTarget::Page(token), &self.stats.list, || self.inner.list_page(token)).await
    }

    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        self.call(Effect::Read, CallTarget::Vms(ids), &self.stats.refresh, || self.inner.refresh(ids)).await
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        self.call(Effect::Write, CallTarget::Vm(id), &self.stats.submit, || self.inner.submit(id, action)).await
    }

    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus> {
        self.call(Effect::Read, CallTarget::Job(job), &self.stats.poll, || self.inner.poll_job(job)).await
    }

    async fn watch(&self, cursor: Option<&str>, max_wait: Duration) -> ProviderResult<FeedBatch> {
        // A feed call is one long poll; its reconnect backoff belongs to the
        // feed loop, so it is rate limited but not retried here.
        self.bucket(CallTarget::Page(None)).acquire().await;
        self.stats.watch.fetch_add(1, Ordering::Relaxed);
        self.inner.watch(cursor, max_wait).await
    }

    async fn test_connection(&self) -> ProviderResult<String> {
        self.call(Effect::Read, CallTarget::Page(None), &self.stats.list, || self.inner.test_connection()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// Fails with the given errors, in order, then succeeds.
    struct Flaky {
        errors: Mutex<Vec<ProviderError>>,
        calls: AtomicU32,
    }

    impl Flaky {
        fn new(mut errors: Vec<ProviderError>) -> Arc<Self> {
            errors.reverse();
            Arc::new(Self { errors: Mutex::new(errors), calls: AtomicU32::new(0) })
        }
        fn next(&self) -> ProviderResult<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.errors.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
    }

    #[async_trait]
    impl Provider for Flaky {
        fn capabilities(&self) -> Capabilities {
            unimplemented!("not used by these tests")
        }
        async fn list_page(&self, _: Option<&str>) -> ProviderResult<InventoryPage> {
            self.next().map(|_| InventoryPage { vms: vec![], next: None })
        }
        async fn refresh(&self, _: &[String]) -> ProviderResult<Vec<Observation>> {
            self.next().map(|_| vec![])
        }
        async fn submit(&self, _: &str, _: PowerAction) -> ProviderResult<Submission> {
            self.next().map(|_| Submission { job: None, observed: None })
        }
        async fn poll_job(&self, _: &str) -> ProviderResult<JobStatus> {
            self.next().map(|_| JobStatus::Running)
        }
    }

    fn guarded(p: Arc<Flaky>) -> Guarded {
        Guarded::new(p, RetryPolicy::default(), &RateLimit { per_second: 1000.0, burst: 1000 })
    }

    fn throttled(secs: u64) -> ProviderError {
        ProviderError::Throttled { retry_after: Some(Duration::from_secs(secs)) }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out_before_the_next_attempt() {
        let p = Flaky::new(vec![throttled(3)]);
        let g = guarded(p.clone());
        let started = Instant::now();
        g.list_page(None).await.expect("second attempt succeeds");
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_secs(3), "waited only {:?}", started.elapsed());
        let s = g.stats().snapshot();
        assert_eq!((s.list, s.retries, s.throttled), (2, 1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn non_retryable_errors_are_returned_at_once() {
        let p = Flaky::new(vec![ProviderError::NotFound { what: "vm-1".into() }]);
        let err = guarded(p.clone()).refresh(&[]).await.unwrap_err();
        assert!(matches!(err, ProviderError::NotFound { .. }));
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts() {
        let errs = (0..10).map(|_| ProviderError::Unreachable { message: "refused".into() }).collect();
        let p = Flaky::new(errs);
        let err = guarded(p.clone()).list_page(None).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unreachable { .. }));
        assert_eq!(p.calls.load(Ordering::SeqCst), RetryPolicy::default().max_attempts);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_with_uncertain_effect_is_not_repeated() {
        // A timeout on a power request may have reached the provider: sending
        // it again could, say, reboot a VM twice. Throttling is a clear "no".
        let p = Flaky::new(vec![ProviderError::Timeout { after: Duration::from_secs(30) }]);
        assert!(guarded(p.clone()).submit("vm", PowerAction::Reset).await.is_err());
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);

        let p = Flaky::new(vec![throttled(1)]);
        assert!(guarded(p.clone()).submit("vm", PowerAction::Reset).await.is_ok());
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn an_excessive_retry_after_goes_back_to_the_caller() {
        let p = Flaky::new(vec![throttled(1200)]);
        let started = Instant::now();
        let err = guarded(p.clone()).list_page(None).await.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1200)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_spaces_calls_beyond_the_burst() {
        let bucket = TokenBucket::new(2.0, 2);
        let started = Instant::now();
        for _ in 0..6 {
            bucket.acquire().await;
        }
        // Two from the burst, four more at 2/s.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1990) && took < Duration::from_millis(2100), "{took:?}");
    }

    /// Throttles every call in scope "a"; scope "b" always answers.
    struct TwoRegions;

    #[async_trait]
    impl Provider for TwoRegions {
        fn capabilities(&self) -> Capabilities {
            unimplemented!("not used by these tests")
        }
        fn rate_scope(&self, target: CallTarget<'_>) -> Option<String> {
            match target {
                CallTarget::Vms(ids) => ids.first().and_then(|id| id.split(':').next()).map(str::to_string),
                _ => None,
            }
        }
        async fn list_page(&self, _: Option<&str>) -> ProviderResult<InventoryPage> {
            Ok(InventoryPage { vms: vec![], next: None })
        }
        async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
            if ids[0].starts_with("a:") {
                return Err(ProviderError::Throttled { retry_after: None });
            }
            Ok(vec![])
        }
        async fn submit(&self, _: &str, _: PowerAction) -> ProviderResult<Submission> {
            unreachable!()
        }
        async fn poll_job(&self, _: &str) -> ProviderResult<JobStatus> {
            unreachable!()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_in_one_scope_does_not_slow_another() {
        let retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
        let g = Guarded::new(Arc::new(TwoRegions), retry, &RateLimit { per_second: 1.0, burst: 5 });
        assert!(matches!(g.refresh(&["a:1".into()]).await, Err(ProviderError::Throttled { .. })));
        // Region a's bucket is drained; region b still has its burst.
        let started = Instant::now();
        for _ in 0..5 {
            g.refresh(&["b:1".into()]).await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        let _ = g.refresh(&["a:2".into()]).await;
        assert!(started.elapsed() >= Duration::from_millis(990), "region a waits for a fresh token: {:?}", started.elapsed());
    }
}
