//! A power request whose answer is lost: the provider's fake carries it out
//! and the connection breaks before the answer comes back, or a gateway
//! answers 502 or 504 in its place (README "When things go wrong").
//! Whatever the provider, the call layer never sends it again; an effect that shows confirms it, and a reboot that shows nothing
//! ends "unconfirmed" (a start or stop that shows nothing is asked once
//! more, gracefully: `engine/ops/decide.rs`).

use crate::fake::Fake;
use powerdeck_core::model::{Failure, OpPhase, Operation};
use std::future::Future;

/// How an answer is lost.
#[derive(Debug, Clone, Copy)]
pub enum Lost {
    /// The connection closes without a byte of answer.
    Connection,
    /// A gateway in front of the provider answers with this status.
    Gateway(u16),
}

/// Run `operation` (one that sends `action` once) with the answer to that
/// request lost `how`. The ended operation, checked to have lost exactly
/// one answer and to have sent `action` exactly once.
pub async fn answer_lost(fake: &Fake, action: &str, how: Lost, operation: impl Future<Output = Operation>) -> Operation {
    let (sent, cut) = (fake.count(action).await, fake.count("cut").await);
    fake.cut_next(action, if let Lost::Gateway(status) = how { Some(status) } else { None }).await;
    let op = operation.await;
    assert_eq!(fake.count("cut").await - cut, 1, "the answer to {action} was lost: {op:?}");
    assert_eq!(fake.count(action).await - sent, 1, "{action} reached the provider once, and was never sent again: {op:?}");
    op
}

/// Ended "unconfirmed": the VM showed no sign of the request, and the
/// operation says that nothing was sent again.
pub fn assert_unconfirmed(op: &Operation) {
    assert_eq!((op.phase, op.failure), (OpPhase::Failed, Some(Failure::Unconfirmed)), "{op:?}");
    let error = op.error.as_deref().unwrap_or_default();
    assert!(error.contains("may never have reached the provider") && error.contains("nothing was sent again"), "{op:?}");
}
