//! Change-feed consumption: push beats polling. Reconnects with the shared
//! backoff (0.8 s doubling, full jitter, reset after 120 s of health, as
//! kube-runtime does), capped at 5 s rather than kube's 30 s: while the feed
//! is down, out-of-band changes go unseen, and one reconnect attempt is one
//! cheap call. After any break a full sync covers what the feed missed.

use super::{AccountRuntime, Engine};
use crate::events::Event;
use crate::model::Source;
use crate::provider::client::backoff::Backoff;
use crate::reconcile::{self, Gone, Input};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BACKOFF_START: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const HEALTHY_RESET: Duration = Duration::from_secs(120);

pub(super) async fn feed_loop(engine: Arc<Engine>, rt: Arc<AccountRuntime>) {
    let max_wait = Duration::from_millis(engine.cfg.feed_max_wait_ms);
    let mut cursor: Option<String> = None;
    let mut backoff = Backoff::new(BACKOFF_START, BACKOFF_MAX);
    let mut healthy_since = Instant::now();
    let mut broken = false;
    loop {
        if engine.sync_paused() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        match rt.provider.watch(cursor.as_deref(), max_wait).await {
            Ok(batch) => {
                if broken {
                    broken = false;
                    healthy_since = Instant::now();
                    rt.wake_sync.notify_one();
                }
                if let Err(e) = engine.note_contact(&rt) {
                    tracing::warn!(account = %rt.account.name, error = %e, "could not record contact");
                }
                if healthy_since.elapsed() > HEALTHY_RESET {
                    backoff.reset();
                }
                if batch.resync_needed {
                    rt.wake_sync.notify_one();
                }
                if !batch.changes.is_empty() || !batch.removed.is_empty() {
                    let input = Input {
                        account_id: rt.account.id,
                        observations: &batch.changes,
                        source: Source::Feed,
                        gone: Gone::These(&batch.removed),
                        closing: None,
                    };
                    if let Err(e) = reconcile::reconcile(&engine.store, &engine.bus, input) {
                        tracing::warn!(account = %rt.account.name, error = %e, "feed batch rejected; a full sync will cover it");
                        rt.wake_sync.notify_one();
                    }
                }
                cursor = Some(batch.cursor);
            }
            Err(e) => {
                engine.note_failure(&rt, &e);
                if !broken {
                    tracing::warn!(account = %rt.account.name, error = %e, "change feed broke; reconnecting");
                    engine.bus.publish(Event::AccountError {
                        account_id: rt.account.id,
                        account: rt.account.name.clone(),
                        message: format!("change feed interrupted: {e}"),
                    });
                }
                broken = true;
                if matches!(e, crate::provider::ProviderError::Malformed { .. }) {
                    cursor = None;
                }
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
}
