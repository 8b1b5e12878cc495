//! A session or token held for a provider (vSphere's session, an OAuth2
//! bearer token for Azure, oVirt's SSO token): fetched once however many
//! callers need it at the same moment, renewed a safety margin before it
//! expires, and forgotten when the provider says it is no longer valid —
//! but only if it is still the one that failed, so a stale failure never
//! throws away a token another caller has just fetched.

use crate::provider::{ProviderError, ProviderResult};
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A held token and which fetch produced it.
#[derive(Debug, Clone)]
pub struct Held<T> {
    pub token: T,
    /// Increases with every fetch: what a failure names when it asks for a new one.
    pub generation: u64,
}

struct Slot<T> {
    held: Option<(Held<T>, Option<Instant>)>,
    fetched: u64,
}

pub struct TokenCache<T> {
    slot: Mutex<Slot<T>>,
    /// Renew this long before the token says it expires.
    margin: Duration,
}

impl<T: Clone> TokenCache<T> {
    pub fn new(margin: Duration) -> Self {
        Self { slot: Mutex::new(Slot { held: None, fetched: 0 }), margin }
    }

    /// The current token, fetching one if there is none or it is about to
    /// expire. `fetch` answers the token and how long it lives (`None`:
    /// until the provider refuses it). Concurrent callers wait for one fetch.
    pub async fn get<F, Fut>(&self, fetch: F) -> ProviderResult<Held<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ProviderResult<(T, Option<Duration>)>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((held, expires)) = &slot.held {
            if expires.is_none_or(|at| Instant::now() + self.margin < at) {
                return Ok(held.clone());
            }
        }
        let (token, lifetime) = fetch().await?;
        slot.fetched += 1;
        let held = Held { token, generation: slot.fetched };
        slot.held = Some((held.clone(), lifetime.map(|l| Instant::now() + l)));
        Ok(held)
    }

    /// The provider refused the token of `generation`: forget it, unless a
    /// newer one has replaced it meanwhile. Whether it was forgotten.
    pub async fn invalidate(&self, generation: u64) -> bool {
        let mut slot = self.slot.lock().await;
        if slot.held.as_ref().is_some_and(|(h, _)| h.generation == generation) {
            slot.held = None;
            true
        } else {
            false
        }
    }

    /// Change the held token in place (a session gains a property filter),
    /// if it is still the one of `generation`.
    pub async fn update(&self, generation: u64, f: impl FnOnce(&mut T)) -> bool {
        let mut slot = self.slot.lock().await;
        match slot.held.as_mut() {
            Some((h, _)) if h.generation == generation => {
                f(&mut h.token);
                true
            }
            _ => false,
        }
    }

    /// How many tokens have been fetched (a renewal counts).
    pub async fn fetches(&self) -> u64 {
        self.slot.lock().await.fetched
    }

    /// Run `call` with a token; if the provider says the token is no longer
    /// valid (`expired`), fetch a new one and run it once more.
    pub async fn with_token<R, F, Fut, C, CFut>(&self, fetch: F, expired: impl Fn(&ProviderError) -> bool, call: C) -> ProviderResult<R>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ProviderResult<(T, Option<Duration>)>>,
        C: Fn(Held<T>) -> CFut,
        CFut: Future<Output = ProviderResult<R>>,
    {
        let held = self.get(&fetch).await?;
        let generation = held.generation;
        match call(held).await {
            Err(e) if expired(&e) => {
                self.invalidate(generation).await;
                let fresh = self.get(&fetch).await?;
                call(fresh).await
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    fn expired(e: &ProviderError) -> bool {
        matches!(e, ProviderError::Auth { message } if message == "expired")
    }

    #[tokio::test(start_paused = true)]
    async fn many_callers_share_one_fetch_and_a_token_is_renewed_before_it_expires() {
        let cache = Arc::new(TokenCache::<String>::new(Duration::from_secs(300)));
        let fetches = Arc::new(AtomicU32::new(0));
        let counter = fetches.clone();
        let fetch = move || {
            let fetches = counter.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
                Ok((format!("t{n}"), Some(Duration::from_secs(3600))))
            }
        };
        let got = futures_join(cache.clone(), fetch.clone()).await;
        assert!(got.iter().all(|t| t == "t1"), "{got:?}");
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // 5 minutes before the hour is up, a new one is fetched.
        tokio::time::advance(Duration::from_secs(3301)).await;
        assert_eq!(cache.get(fetch).await.unwrap().token, "t2");
    }

    async fn futures_join<F, Fut>(cache: Arc<TokenCache<String>>, fetch: F) -> Vec<String>
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ProviderResult<(String, Option<Duration>)>> + Send,
    {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (cache, fetch) = (cache.clone(), fetch.clone());
                tokio::spawn(async move { cache.get(fetch).await.unwrap().token })
            })
            .collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_refused_token_is_renewed_once_and_the_call_retried() {
        let cache = TokenCache::<u32>::new(Duration::ZERO);
        let fetches = AtomicU32::new(0);
        let fetch = || async { Ok((fetches.fetch_add(1, Ordering::SeqCst) + 1, None)) };
        // The first token is refused; the second works.
        let answer = cache
            .with_token(&fetch, expired, |h| async move {
                if h.token == 1 {
                    Err(ProviderError::Auth { message: "expired".into() })
                } else {
                    Ok(h.token)
                }
            })
            .await;
        assert_eq!(answer.unwrap(), 2);
        // Refused again and again: only one renewal per call, then the error.
        let err = cache.with_token(&fetch, expired, |_| async { Err::<u32, _>(ProviderError::Auth { message: "expired".into() }) }).await;
        assert!(err.is_err());
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_stale_failure_does_not_throw_away_a_newer_token() {
        let cache = TokenCache::<&str>::new(Duration::ZERO);
        let old = cache.get(|| async { Ok(("old", None)) }).await.unwrap();
        assert!(cache.invalidate(old.generation).await);
        let new = cache.get(|| async { Ok(("new", None)) }).await.unwrap();
        // A second caller that saw the old token fail reports it late.
        assert!(!cache.invalidate(old.generation).await);
        assert_eq!(cache.get(|| async { Ok(("newer", None)) }).await.unwrap().token, "new");
        assert!(cache.update(new.generation, |t| *t = "new+filter").await);
        assert_eq!(cache.get(|| async { Ok(("x", None)) }).await.unwrap().token, "new+filter");
    }
}
