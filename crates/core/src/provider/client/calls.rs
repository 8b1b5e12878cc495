//! The one door every provider request goes through: a token bucket per
//! throttling scope (EC2: per region), retry with backoff on retryable errors
//! only (a power request only when it certainly never ran), `Retry-After`
//! honoured, and the counts the benchmarks read. A provider says of each
//! request which scope it is charged to, whether it changes anything, and
//! what kind of call it is; it never retries on its own.

use super::backoff::Backoff;
use crate::provider::{ProviderError, ProviderResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Exponential backoff (full jitter), on retryable errors only.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
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
    fn backoff(&self) -> Backoff {
        Backoff::new(Duration::from_millis(self.base_delay_ms.max(1)), Duration::from_millis(self.max_delay_ms))
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
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_second: 10.0, burst: 100 }
    }
}

/// Counters of requests actually sent to the provider (retries included).
#[derive(Debug, Default)]
pub struct CallStats {
    pub list: AtomicU64,
    pub refresh: AtomicU64,
    pub submit: AtomicU64,
    pub poll: AtomicU64,
    pub watch: AtomicU64,
    /// Logins, tokens, lookups: requests that serve the others.
    pub other: AtomicU64,
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
    pub other: u64,
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
            other: g(&self.other),
            retries: g(&self.retries),
            throttled: g(&self.throttled),
        }
    }

    fn counter(&self, kind: Counter) -> &AtomicU64 {
        match kind {
            Counter::List => &self.list,
            Counter::Refresh => &self.refresh,
            Counter::Submit => &self.submit,
            Counter::Poll => &self.poll,
            Counter::Watch => &self.watch,
            Counter::Other => &self.other,
        }
    }
}

/// What kind of request a call is, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    List,
    Refresh,
    Submit,
    Poll,
    Watch,
    Other,
}

/// Whether a request may be repeated after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Changes nothing: repeat on any retryable error.
    Read,
    /// Changes something (a power request): repeat only when it certainly
    /// never reached the provider.
    Write,
    /// Never repeated here (a change feed's long poll: its loop reconnects).
    Once,
}

/// One request as the shared layer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub counter: Counter,
    pub effect: Effect,
    /// The provider's throttling scope (EC2: the region); `None`: the account.
    pub scope: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub fn list() -> Self {
        Self { counter: Counter::List, effect: Effect::Read, scope: None }
    }
    pub fn refresh() -> Self {
        Self { counter: Counter::Refresh, effect: Effect::Read, scope: None }
    }
    pub fn submit() -> Self {
        Self { counter: Counter::Submit, effect: Effect::Write, scope: None }
    }
    pub fn poll() -> Self {
        Self { counter: Counter::Poll, effect: Effect::Read, scope: None }
    }
    pub fn watch() -> Self {
        Self { counter: Counter::Watch, effect: Effect::Once, scope: None }
    }
    /// A login, a token or a lookup that serves the other calls.
    pub fn other() -> Self {
        Self { counter: Counter::Other, effect: Effect::Read, scope: None }
    }
    /// Charged to this throttling scope.
    pub fn in_scope(self, scope: &'a str) -> Self {
        Self { scope: Some(scope), ..self }
    }
}

/// One account's share of the shared layer: its buckets, its retry policy,
/// its counts. Every request its provider makes goes through [`Calls::run`].
pub struct Calls {
    retry: RetryPolicy,
    limit: RateLimit,
    /// One bucket per throttling scope (`None`: the whole account).
    buckets: Mutex<HashMap<Option<String>, Arc<TokenBucket>>>,
    stats: Arc<CallStats>,
}

impl Calls {
    pub fn new(retry: RetryPolicy, limit: &RateLimit) -> Arc<Self> {
        Arc::new(Self { retry, limit: limit.clone(), buckets: Mutex::default(), stats: Arc::default() })
    }

    /// No rate limit and one attempt: for a provider used outside an engine
    /// (a witness comparison, a one-off probe).
    pub fn direct() -> Arc<Self> {
        Self::new(RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }, &RateLimit { per_second: 1e6, burst: 1_000_000 })
    }

    pub fn stats(&self) -> Arc<CallStats> {
        self.stats.clone()
    }

    fn bucket(&self, scope: Option<&str>) -> Arc<TokenBucket> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.entry(scope.map(str::to_string)).or_insert_with(|| Arc::new(TokenBucket::new(self.limit.per_second, self.limit.burst))).clone()
    }

    /// Send one request (`f` makes it, afresh for every attempt: signatures
    /// carry the time), charged to its scope, repeated as its effect allows.
    pub async fn run<T, F, Fut>(&self, call: Call<'_>, f: F) -> ProviderResult<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ProviderResult<T>>,
    {
        let bucket = self.bucket(call.scope);
        let mut backoff = self.retry.backoff();
        let mut attempt = 1;
        let started = tokio::time::Instant::now();
        loop {
            bucket.acquire().await;
            self.stats.counter(call.counter).fetch_add(1, Ordering::Relaxed);
            let err = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if matches!(err, ProviderError::Throttled { .. }) {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                bucket.drain();
            }
            let may_repeat = match call.effect {
                Effect::Read => err.is_retryable(),
                Effect::Write => err.certainly_not_executed(),
                Effect::Once => false,
            };
            if !may_repeat || attempt >= self.retry.max_attempts {
                // A timeout after retries says how long it was really tried.
                return Err(match err {
                    ProviderError::Timeout { after, .. } => ProviderError::Timeout { after, attempts: attempt, waited: started.elapsed() },
                    other => other,
                });
            }
            let mut wait = backoff.next_delay();
            if let Some(after) = err.retry_after() {
                if after.as_millis() as u64 > self.retry.max_retry_after_ms {
                    return Err(err);
                }
                wait = wait.max(after);
            }
            tracing::debug!(attempt, ?wait, error = %err, "retrying provider request");
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
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
        async fn next(&self) -> ProviderResult<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.errors.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
        fn count(&self) -> u32 {
            self.calls.load(Ordering::SeqCst)
        }
    }

    fn calls() -> Arc<Calls> {
        Calls::new(RetryPolicy::default(), &RateLimit { per_second: 1000.0, burst: 1000 })
    }

    fn throttled(secs: u64) -> ProviderError {
        ProviderError::Throttled { retry_after: Some(Duration::from_secs(secs)) }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out_before_the_next_attempt() {
        let p = Flaky::new(vec![throttled(3)]);
        let c = calls();
        let started = Instant::now();
        c.run(Call::list(), || p.next()).await.expect("second attempt succeeds");
        assert_eq!(p.count(), 2);
        assert!(started.elapsed() >= Duration::from_secs(3), "waited only {:?}", started.elapsed());
        let s = c.stats().snapshot();
        assert_eq!((s.list, s.retries, s.throttled), (2, 1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn non_retryable_errors_are_returned_at_once() {
        let p = Flaky::new(vec![ProviderError::NotFound { what: "vm-1".into() }]);
        let err = calls().run(Call::refresh(), || p.next()).await.unwrap_err();
        assert!(matches!(err, ProviderError::NotFound { .. }));
        assert_eq!(p.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts() {
        let errs = (0..10).map(|_| ProviderError::Unreachable { message: "refused".into() }).collect();
        let p = Flaky::new(errs);
        let err = calls().run(Call::list(), || p.next()).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unreachable { .. }));
        assert_eq!(p.count(), RetryPolicy::default().max_attempts);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_after_retries_says_how_often_and_how_long_it_was_tried() {
        let after = Duration::from_secs(30);
        let errs = (0..10).map(|_| ProviderError::Timeout { after, attempts: 1, waited: after }).collect();
        let p = Flaky::new(errs);
        let err = calls().run(Call::list(), || p.next()).await.unwrap_err();
        let ProviderError::Timeout { attempts, waited, .. } = err else { panic!("{err:?}") };
        assert_eq!(attempts, RetryPolicy::default().max_attempts);
        assert!(waited > Duration::ZERO, "the pauses between tries count: {waited:?}");
        assert!(err_text(attempts, waited).contains(&format!("tried {attempts} times over")));
    }

    fn err_text(attempts: u32, waited: Duration) -> String {
        ProviderError::Timeout { after: Duration::from_secs(30), attempts, waited }.to_string()
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_whose_outcome_is_unknown_is_not_repeated() {
        // A power request that may have reached the provider: sending it
        // again could reboot a VM twice. A refused connection or throttling
        // is a clear "it did not run".
        for uncertain in [
            ProviderError::Timeout { after: Duration::from_secs(30), attempts: 1, waited: Duration::from_secs(30) },
            ProviderError::OutcomeUnknown { message: "connection reset".into() },
        ] {
            let p = Flaky::new(vec![uncertain]);
            assert!(calls().run(Call::submit(), || p.next()).await.is_err());
            assert_eq!(p.count(), 1);
        }
        for certain in [throttled(1), ProviderError::Unreachable { message: "connection refused".into() }] {
            let p = Flaky::new(vec![certain]);
            assert!(calls().run(Call::submit(), || p.next()).await.is_ok());
            assert_eq!(p.count(), 2);
        }
        // A read is repeated after a lost answer.
        let p = Flaky::new(vec![ProviderError::OutcomeUnknown { message: "connection reset".into() }]);
        assert!(calls().run(Call::refresh(), || p.next()).await.is_ok());
        assert_eq!(p.count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_feed_call_is_never_repeated_here() {
        let p = Flaky::new(vec![ProviderError::Unreachable { message: "refused".into() }]);
        assert!(calls().run(Call::watch(), || p.next()).await.is_err());
        assert_eq!(p.count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_excessive_retry_after_goes_back_to_the_caller() {
        let p = Flaky::new(vec![throttled(1200)]);
        let started = Instant::now();
        let err = calls().run(Call::list(), || p.next()).await.unwrap_err();
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

    #[tokio::test(start_paused = true)]
    async fn throttling_in_one_scope_does_not_slow_another() {
        let c = Calls::new(RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }, &RateLimit { per_second: 1.0, burst: 5 });
        let err = c.run(Call::refresh().in_scope("a"), || async { Err::<(), _>(ProviderError::Throttled { retry_after: None }) }).await;
        assert!(matches!(err, Err(ProviderError::Throttled { .. })));
        // Region a's bucket is drained; region b still has its burst.
        let started = Instant::now();
        for _ in 0..5 {
            c.run(Call::refresh().in_scope("b"), || async { Ok(()) }).await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        let _ = c.run(Call::refresh().in_scope("a"), || async { Ok(()) }).await;
        assert!(started.elapsed() >= Duration::from_millis(990), "region a waits for a fresh token: {:?}", started.elapsed());
    }
}
