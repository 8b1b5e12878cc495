//! Time per state from the verified history: how long each VM ran, was
//! stopped, deallocated, suspended or in transition, and how long Powerdeck
//! could not tell.
//!
//! Two inputs: the VM's history (every state change, in time order) and
//! its account's *coverage*, the stretches during which Powerdeck was
//! listing the account's complete inventory (see `store::coverage`).
//! Inside coverage a VM's state is known: it is the last recorded change.
//! Outside it (Powerdeck closed, the provider unreachable, the account not
//! yet added) the time is **unknown**, never guessed, with one exception:
//! when coverage resumed and the VM was found in the same state with no
//! change recorded in between, the gap is attributed to that state and
//! counted as `attributed` so a report can say how much was inferred.
//!
//! Everything is computed online, one change at a time, so a month of
//! history for 10 000 VMs is one pass over the rows in time order.

use crate::model::{Millis, PowerState};
use serde::Serialize;

/// One recorded state change of a VM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub at: Millis,
    pub state: PowerState,
    /// Observed while one of Powerdeck's own operations (a user's, a
    /// runbook's or a schedule's) was being followed.
    pub ours: bool,
}

/// Which states a provider bills compute for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum Billing {
    /// Only while the VM runs (EC2, and the default for vSphere, oVirt and
    /// CloudStack, where "billing" is a chargeback rate).
    WhileRunning,
    /// While its compute is allocated: running, and stopped but not
    /// deallocated (Azure: "Stopped" still bills; "Stopped (deallocated)" does not).
    WhileAllocated,
}

impl Billing {
    /// The rule the kind declares (its descriptor); a kind this build does
    /// not know bills while running.
    pub fn for_kind(kind: &str) -> Billing {
        crate::provider::registry::kind(kind).map_or(Billing::WhileRunning, |k| k.billing)
    }

    fn bills(self, state: PowerState) -> bool {
        use PowerState::*;
        match self {
            Billing::WhileRunning => matches!(state, Running | Rebooting | Migrating),
            Billing::WhileAllocated => matches!(state, Running | Rebooting | Migrating | Stopped | Starting | Stopping | Deallocating),
        }
    }
}

/// Milliseconds per kind of time. Over a range, `running + stopped +
/// deallocated + suspended + transition + unknown + absent` is the range's
/// length (up to now), so adjacent ranges add up to the whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Hours {
    pub running: Millis,
    pub stopped: Millis,
    pub deallocated: Millis,
    pub suspended: Millis,
    /// Starting, stopping, rebooting, migrating…
    pub transition: Millis,
    /// Powerdeck could not see the VM and nothing later proves its state.
    pub unknown: Millis,
    /// The VM did not exist: before it first appeared in a complete
    /// listing, or after it was deleted (terminated, no longer listed).
    pub absent: Millis,
    /// Of the known time above, how much was inferred across a gap in
    /// coverage (the same state before and after, no change recorded).
    pub attributed: Millis,
    /// Known time in a state the provider bills compute for.
    pub billable: Millis,
    /// Time off (and not billed) after one of Powerdeck's own operations
    /// turned the VM off: what schedules, runbooks and users saved.
    pub saved: Millis,
}

impl Hours {
    pub fn add(&mut self, o: &Hours) {
        self.running += o.running;
        self.stopped += o.stopped;
        self.deallocated += o.deallocated;
        self.suspended += o.suspended;
        self.transition += o.transition;
        self.unknown += o.unknown;
        self.absent += o.absent;
        self.attributed += o.attributed;
        self.billable += o.billable;
        self.saved += o.saved;
    }

    /// Every millisecond of the range, whatever kind it was.
    pub fn total(&self) -> Millis {
        self.known() + self.unknown + self.absent
    }

    /// Time in a known state.
    pub fn known(&self) -> Millis {
        self.running + self.stopped + self.deallocated + self.suspended + self.transition
    }

    fn put(&mut self, state: Option<PowerState>, ms: Millis, ours: bool, billing: Billing) {
        use PowerState::*;
        let Some(state) = state else {
            self.absent += ms;
            return;
        };
        match state {
            Running => self.running += ms,
            Stopped => self.stopped += ms,
            Deallocated => self.deallocated += ms,
            Suspended | Paused => self.suspended += ms,
            Starting | Stopping | Rebooting | Suspending | Resuming | Deallocating | Migrating => self.transition += ms,
            Missing | Terminated => self.absent += ms,
            Unknown => self.unknown += ms,
        }
        if billing.bills(state) {
            self.billable += ms;
        } else if ours && matches!(state, Stopped | Deallocated | Suspended | Paused) {
            self.saved += ms;
        }
    }
}

/// An account's coverage: sorted, non-overlapping `[from, to)` stretches.
#[derive(Debug, Clone, Default)]
pub struct Coverage(Vec<(Millis, Millis)>);

impl Coverage {
    pub fn new(mut spans: Vec<(Millis, Millis)>) -> Self {
        spans.retain(|(a, b)| b > a);
        spans.sort();
        let mut merged: Vec<(Millis, Millis)> = Vec::with_capacity(spans.len());
        for (a, b) in spans {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        Coverage(merged)
    }

    /// Whether `t` is covered, and until when that stays so.
    fn at(&self, t: Millis) -> (bool, Millis) {
        let i = self.0.partition_point(|&(_, to)| to <= t);
        match self.0.get(i) {
            Some(&(from, to)) if from <= t => (true, to),
            Some(&(from, _)) => (false, from),
            None => (false, Millis::MAX),
        }
    }

    /// The first covered instant at or after `t`.
    fn resumes(&self, t: Millis) -> Option<Millis> {
        let (covered, until) = self.at(t);
        if covered {
            Some(t)
        } else {
            (until != Millis::MAX).then_some(until)
        }
    }
}

/// One VM's clock over `[from, end)`: fed its changes in time order.
pub struct Clock<'a> {
    coverage: &'a Coverage,
    billing: Billing,
    end: Millis,
    at: Millis,
    state: Option<PowerState>,
    ours: bool,
    /// Time spent in the current gap in coverage, not yet classified: it is
    /// attributed if coverage resumes with no change, unknown otherwise.
    pending: Hours,
    pub hours: Hours,
}

impl<'a> Clock<'a> {
    /// `before`: the VM's last change before `from` (None: it had not
    /// appeared yet). `end` is the range's end, or now if that is earlier.
    pub fn new(coverage: &'a Coverage, billing: Billing, from: Millis, end: Millis, before: Option<Change>) -> Self {
        Clock {
            coverage,
            billing,
            end: end.max(from),
            at: from,
            state: before.map(|c| c.state),
            ours: before.is_some_and(|c| c.ours),
            pending: Hours::default(),
            hours: Hours::default(),
        }
    }

    /// The next recorded change (in time order; an earlier time, from a
    /// clock that stepped back, counts as now).
    pub fn change(&mut self, c: Change) {
        let t = c.at.clamp(self.at, self.end);
        self.advance(t);
        if self.pending != Hours::default() {
            // The state changed at some moment in the gap: which, no one knows.
            self.hours.unknown += self.pending.total();
            self.pending = Hours::default();
        }
        self.state = Some(c.state);
        self.ours = c.ours;
    }

    /// The hours of the range. `first_after`: when the VM's next change
    /// after the range was recorded, if any (it decides a gap that runs
    /// past the range's end); `now` bounds the evidence.
    pub fn finish(mut self, first_after: Option<Millis>, now: Millis) -> Hours {
        self.advance(self.end);
        if self.pending != Hours::default() {
            let resumed = self.coverage.resumes(self.end).filter(|&r| r <= now);
            match resumed {
                Some(r) if first_after.is_none_or(|c| c > r) => self.attribute(),
                _ => {
                    self.hours.unknown += self.pending.total();
                }
            }
        }
        self.hours
    }

    fn attribute(&mut self) {
        let p = std::mem::take(&mut self.pending);
        self.hours.add(&p);
        self.hours.attributed += p.known();
    }

    fn advance(&mut self, t: Millis) {
        while self.at < t {
            let (covered, until) = self.coverage.at(self.at);
            let upto = until.min(t);
            let ms = upto - self.at;
            if covered {
                if self.pending != Hours::default() {
                    // Coverage resumed and nothing changed: the state held.
                    self.attribute();
                }
                self.hours.put(self.state, ms, self.ours, self.billing);
            } else if self.state.is_some() {
                self.pending.put(self.state, ms, self.ours, self.billing);
            } else {
                // Not listed yet and no one was looking: it may have existed.
                self.hours.unknown += ms;
            }
            self.at = upto;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use PowerState::*;

    const H: Millis = 3_600_000;

    fn ch(at: Millis, state: PowerState) -> Change {
        Change { at, state, ours: false }
    }

    fn ours(at: Millis, state: PowerState) -> Change {
        Change { at, state, ours: true }
    }

    fn run(cov: &Coverage, billing: Billing, from: Millis, to: Millis, before: Option<Change>, changes: &[Change], after: Option<Millis>) -> Hours {
        let mut c = Clock::new(cov, billing, from, to, before);
        for x in changes {
            c.change(*x);
        }
        c.finish(after, Millis::MAX)
    }

    fn always() -> Coverage {
        Coverage::new(vec![(0, Millis::MAX / 2)])
    }

    #[test]
    fn a_change_across_a_month_boundary_splits_exactly() {
        // Running from Nov 30 22:00 UTC, stopped Dec 1 03:00.
        let nov30_22 = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 22, 0, 0).unwrap().timestamp_millis();
        let dec1 = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap().timestamp_millis();
        let dec2 = dec1 + 24 * H;
        let nov1 = chrono::Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap().timestamp_millis();
        let cov = always();
        let history = [ch(nov1 - H, Stopped), ch(nov30_22, Running), ch(dec1 + 3 * H, Stopped)];
        let nov = run(&cov, Billing::WhileRunning, nov1, dec1, Some(history[0]), &history[1..2], Some(history[2].at));
        assert_eq!((nov.running, nov.stopped, nov.total()), (2 * H, 29 * 24 * H + 22 * H, 30 * 24 * H));
        let dec = run(&cov, Billing::WhileRunning, dec1, dec2, Some(history[1]), &history[2..], None);
        assert_eq!((dec.running, dec.stopped, dec.billable), (3 * H, 21 * H, 3 * H));
    }

    #[test]
    fn a_dst_day_in_berlin_has_23_hours_all_counted() {
        let berlin = chrono_tz::Europe::Berlin;
        let day = berlin.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap().timestamp_millis();
        let next = berlin.with_ymd_and_hms(2026, 3, 30, 0, 0, 0).unwrap().timestamp_millis();
        let h = run(&always(), Billing::WhileRunning, day, next, Some(ch(day - H, Running)), &[], None);
        assert_eq!(h.running, 23 * H);
        let autumn = berlin.with_ymd_and_hms(2026, 10, 25, 0, 0, 0).unwrap().timestamp_millis();
        let after = berlin.with_ymd_and_hms(2026, 10, 26, 0, 0, 0).unwrap().timestamp_millis();
        assert_eq!(run(&always(), Billing::WhileRunning, autumn, after, Some(ch(0, Running)), &[], None).running, 25 * H);
    }

    #[test]
    fn an_outage_with_a_change_behind_it_is_unknown() {
        // Watched 0–10 h and again from 14 h; the VM was found stopped at 14 h.
        let cov = Coverage::new(vec![(0, 10 * H), (14 * H, 100 * H)]);
        let h = run(&cov, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)), &[ch(14 * H, Stopped)], None);
        assert_eq!((h.running, h.unknown, h.stopped, h.attributed), (10 * H, 4 * H, 10 * H, 0));
        assert_eq!(h.total(), 24 * H);
    }

    #[test]
    fn a_gap_with_the_same_state_on_both_sides_is_attributed_and_says_so() {
        let cov = Coverage::new(vec![(0, 10 * H), (14 * H, 100 * H)]);
        let h = run(&cov, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)), &[ch(20 * H, Stopped)], None);
        assert_eq!((h.running, h.stopped, h.unknown, h.attributed), (20 * H, 4 * H, 0, 4 * H));
        // A gap at the range's end: decided by what came after the range.
        let tail = Coverage::new(vec![(0, 20 * H), (30 * H, 100 * H)]);
        let held = run(&tail, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)), &[], Some(40 * H));
        assert_eq!((held.running, held.attributed, held.unknown), (24 * H, 4 * H, 0));
        let changed = run(&tail, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)), &[], Some(30 * H));
        assert_eq!((changed.running, changed.unknown), (20 * H, 4 * H));
        // Coverage never resumed (Powerdeck is still closed): unknown.
        let open = Coverage::new(vec![(0, 20 * H)]);
        let h = run(&open, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)), &[], None);
        assert_eq!((h.running, h.unknown), (20 * H, 4 * H));
    }

    #[test]
    fn azure_bills_stopped_but_not_deallocated_and_savings_follow_our_operations() {
        let cov = always();
        let changes = [ours(2 * H, Stopped), ours(4 * H, Deallocated), ch(8 * H, Running)];
        let azure = run(&cov, Billing::WhileAllocated, 0, 10 * H, Some(ch(0, Running)), &changes, None);
        assert_eq!((azure.running, azure.stopped, azure.deallocated), (4 * H, 2 * H, 4 * H));
        assert_eq!((azure.billable, azure.saved), (6 * H, 4 * H));
        let ec2 = run(&cov, Billing::WhileRunning, 0, 10 * H, Some(ch(0, Running)), &changes, None);
        assert_eq!((ec2.billable, ec2.saved), (4 * H, 6 * H));
        // Stopped by someone else: not a saving of ours.
        let theirs = run(&cov, Billing::WhileRunning, 0, 10 * H, Some(ch(0, Running)), &[ch(2 * H, Stopped)], None);
        assert_eq!(theirs.saved, 0);
    }

    #[test]
    fn a_vm_created_or_deleted_mid_range_counts_only_its_life() {
        let cov = always();
        // First listed at 6 h (the account was listed all along): absent before.
        let born = run(&cov, Billing::WhileRunning, 0, 24 * H, None, &[ch(6 * H, Running)], None);
        assert_eq!((born.absent, born.running, born.unknown), (6 * H, 18 * H, 0));
        // No longer listed from 20 h.
        let gone = run(&cov, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)), &[ch(20 * H, Missing)], None);
        assert_eq!((gone.running, gone.absent, gone.billable), (20 * H, 4 * H, 20 * H));
        // Before the account was added, nobody knows whether it existed.
        let late = Coverage::new(vec![(6 * H, 100 * H)]);
        let found = run(&late, Billing::WhileRunning, 0, 24 * H, None, &[ch(6 * H, Running)], None);
        assert_eq!((found.unknown, found.running), (6 * H, 18 * H));
    }

    #[test]
    fn adjacent_ranges_add_up_to_the_whole() {
        let cov = Coverage::new(vec![(0, 7 * H), (9 * H, 15 * H), (16 * H, 100 * H)]);
        let changes = [ch(3 * H, Stopping), ch(3 * H + 60_000, Stopped), ch(12 * H, Starting), ch(12 * H + 90_000, Running), ch(15 * H + 1, Stopped)];
        let whole = {
            let mut c = Clock::new(&cov, Billing::WhileRunning, 0, 24 * H, Some(ch(0, Running)));
            changes.iter().for_each(|x| c.change(*x));
            c.finish(None, Millis::MAX)
        };
        for cut in [H, 8 * H, 12 * H, 15 * H + 1, 23 * H] {
            let before = changes.iter().rfind(|c| c.at < cut).copied().or(Some(ch(0, Running)));
            let mut a = Clock::new(&cov, Billing::WhileRunning, 0, cut, Some(ch(0, Running)));
            changes.iter().filter(|c| c.at < cut).for_each(|x| a.change(*x));
            let a = a.finish(changes.iter().find(|c| c.at >= cut).map(|c| c.at), Millis::MAX);
            let mut b = Clock::new(&cov, Billing::WhileRunning, cut, 24 * H, before);
            changes.iter().filter(|c| c.at >= cut).for_each(|x| b.change(*x));
            let b = b.finish(None, Millis::MAX);
            let mut sum = a;
            sum.add(&b);
            assert_eq!(sum.total(), whole.total(), "cut at {cut}");
            assert_eq!((sum.running, sum.stopped, sum.transition), (whole.running, whole.stopped, whole.transition), "cut at {cut}");
            assert_eq!(sum.unknown + sum.attributed, whole.unknown + whole.attributed, "cut at {cut}");
        }
    }
}
