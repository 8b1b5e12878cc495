//! One VM's timeline: its hours per state in equal stretches of a range,
//! counted by the same clock as the hours report (coverage, unknown time,
//! attribution, billing), so a timeline and a report never disagree. A
//! chart draws the stretches; it never sees the raw history.

use super::Engine;
use crate::error::CoreError;
use crate::hours::{Billing, Clock, Coverage, Hours};
use crate::model::Millis;
use serde::Serialize;

/// Most stretches one timeline is cut into.
pub const MAX_BUCKETS: u32 = 1000;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct TimelineBucket {
    pub from: Millis,
    pub to: Millis,
    pub hours: Hours,
}

impl Engine {
    /// `vm_id`'s hours per state in `buckets` equal stretches of `[from, to)`
    /// (counted up to `now` where the range is not over yet).
    pub fn vm_timeline(&self, vm_id: i64, from: Millis, to: Millis, buckets: u32, now: Millis) -> Result<Vec<TimelineBucket>, CoreError> {
        if to <= from {
            return Err(CoreError::Invalid("the timeline's end must come after its start".into()));
        }
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(CoreError::Invalid(format!("a timeline has between 1 and {MAX_BUCKETS} stretches, not {buckets}")));
        }
        let vm = self.store.vm(vm_id)?.ok_or_else(|| CoreError::not_found("VM", &format!("#{vm_id}")))?;
        let kind = self.store.account(vm.account_id)?.map(|a| a.kind).unwrap_or_default();
        let billing = Billing::for_kind(&kind);
        let coverage = self.store.coverage(now)?.remove(&vm.account_id).unwrap_or_else(Coverage::default);
        let changes = self.store.vm_changes(vm_id)?;

        let span = i128::from(to) - i128::from(from);
        let edge = |i: u32| from + ((span * i128::from(i)) / i128::from(buckets)) as Millis;
        let mut out = Vec::with_capacity(buckets as usize);
        for i in 0..buckets {
            let (start, stop) = (edge(i), edge(i + 1));
            let end = stop.min(now).max(start);
            let first_inside = changes.partition_point(|c| c.at < start);
            let first_after = changes.partition_point(|c| c.at < end);
            let before = first_inside.checked_sub(1).map(|j| changes[j]);
            let mut clock = Clock::new(&coverage, billing, start, end, before);
            for c in &changes[first_inside..first_after] {
                clock.change(*c);
            }
            let hours = clock.finish(changes.get(first_after).map(|c| c.at), now);
            out.push(TimelineBucket { from: start, to: stop, hours });
        }
        Ok(out)
    }
}
