//! What an operation does next, decided from what is known and nothing
//! else: no provider, no store, no clock of its own. The driver gathers the
//! facts (the journal row, a fresh reading, the job's status, the time),
//! asks here, and carries the answer out. Every rule of "accepted is not
//! done" lives in these two functions, and their tests.

use crate::model::{Failure, Millis, Observation, OpKind, OpPhase, Operation, PowerState, ShutdownMethod, ToolsStatus};
use crate::provider::{Capabilities, JobStatus, PowerAction};

/// How many readings must disagree with a job that reported success before
/// the operation fails verification (the provider may be eventually consistent).
pub const MISMATCH_LIMIT: u32 = 3;

/// Whether a reading shows what the operation asked for.
pub fn reached(op: &Operation, o: &Observation) -> bool {
    op.kind.reached_by(o.state) && (!op.wait_for_tools || o.tools == Some(ToolsStatus::Running))
}

/// The provider requests an operation is made of: the graceful one, and the
/// forced fallback (the same request where there is no such distinction).
pub fn requests(kind: OpKind) -> (PowerAction, PowerAction) {
    match kind {
        OpKind::Stop => (PowerAction::ShutdownGuest, PowerAction::PowerOff),
        OpKind::Reboot => (PowerAction::RebootGuest, PowerAction::Reset),
        OpKind::Start => (PowerAction::Start, PowerAction::Start),
        OpKind::ForceStop => (PowerAction::PowerOff, PowerAction::PowerOff),
        OpKind::Suspend => (PowerAction::Suspend, PowerAction::Suspend),
        OpKind::Hibernate => (PowerAction::Hibernate, PowerAction::Hibernate),
        OpKind::Deallocate => (PowerAction::Deallocate, PowerAction::Deallocate),
    }
}

/// What to do with a fresh reading before anything is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Already where it was asked to be: succeed without sending anything.
    AlreadyThere { method: Option<ShutdownMethod> },
    /// Running already, but the guest's tools are not up yet: nothing to
    /// send, only to wait for.
    WaitOnly,
    /// It cannot be done from this state, or not without force.
    Refuse { failure: Failure, message: String },
    /// Send this request; `forced` says whether it is the hard fallback.
    Send { action: PowerAction, forced: bool },
}

pub fn plan(op: &Operation, obs: &Observation, caps: &Capabilities) -> Plan {
    let kind = op.kind;
    let already = match kind {
        OpKind::Stop | OpKind::ForceStop | OpKind::Hibernate => obs.state.is_off(),
        OpKind::Deallocate => obs.state == PowerState::Deallocated,
        OpKind::Start => obs.state == PowerState::Running,
        OpKind::Suspend => obs.state == PowerState::Suspended,
        OpKind::Reboot => false,
    };
    if already && kind == OpKind::Start && !reached(op, obs) {
        return Plan::WaitOnly;
    }
    if already {
        let method = matches!(kind, OpKind::Stop | OpKind::ForceStop | OpKind::Hibernate | OpKind::Deallocate).then_some(ShutdownMethod::AlreadyOff);
        return Plan::AlreadyThere { method };
    }
    if kind == OpKind::Reboot && obs.state != PowerState::Running {
        return Plan::Refuse { failure: Failure::InvalidState, message: format!("only a running VM can be rebooted; it is {}", obs.state) };
    }
    let (graceful, forced) = requests(kind);
    if graceful == forced {
        return Plan::Send { action: graceful, forced: kind == OpKind::ForceStop };
    }
    let tools_missing = caps.tools_status && matches!(obs.tools, Some(ToolsStatus::NotRunning | ToolsStatus::NotInstalled));
    let has_graceful = match kind {
        OpKind::Stop => caps.graceful_stop,
        OpKind::Reboot => caps.guest_reboot,
        _ => false,
    };
    let force_now = op.allow_force && op.graceful_timeout_ms == 0;
    if !(force_now || tools_missing || !has_graceful) {
        return Plan::Send { action: graceful, forced: false };
    }
    if !op.allow_force {
        let why = if tools_missing { "guest tools are not running" } else { "the provider cannot ask the guest" };
        return Plan::Refuse {
            failure: Failure::GracefulImpossible,
            message: format!("graceful {kind} is not possible: {why}; it can only be powered off hard, and a forced fallback was not allowed"),
        };
    }
    Plan::Send { action: forced, forced: true }
}

/// Everything known about an operation in flight at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub op: &'a Operation,
    pub job_done: bool,
    pub saw_transition: bool,
    pub mismatches: u32,
    /// A reading taken for this check (`None`: the provider could not be reached).
    pub obs: Option<&'a Observation>,
    /// The job's status, if it has an unfinished job that was just asked about.
    pub job: Option<&'a JobStatus>,
    pub caps: &'a Capabilities,
    pub now: Millis,
    /// The graceful window counts from here (when the provider accepted).
    pub sent_at: Millis,
}

/// The next thing to do for an operation in flight.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing yet; look again (the driver decides when).
    Wait,
    /// The job ended well: remember it, then look again.
    JobDone,
    /// The job says success but the VM disagrees (once more).
    Mismatch,
    /// The target was seen, after the job (if any) ended: verified.
    Verified,
    /// Send the forced fallback now.
    Force(PowerAction),
    /// The request was never confirmed as sent and the VM shows no sign
    /// of it: send it again (only requests that lead to one state).
    Resend,
    /// The request was never confirmed, but the VM shows its effect.
    Confirmed,
    Finish {
        phase: OpPhase,
        failure: Option<Failure>,
        message: Option<String>,
    },
}

fn fail(failure: Failure, message: String) -> Step {
    Step::Finish { phase: OpPhase::Failed, failure: Some(failure), message: Some(message) }
}

/// Decide the next step. Rules, in order: a cancel or a forced request by
/// the user; an unconfirmed submission; the job's verdict; the target seen;
/// a job that succeeded while the VM settled elsewhere; the graceful window;
/// the deadline.
pub fn next(f: Facts<'_>) -> Step {
    let op = f.op;
    let kind = op.kind;
    if op.cancel_requested {
        return Step::Finish { phase: OpPhase::Cancelled, failure: Some(Failure::Cancelled), message: Some("cancelled; nothing more was sent".into()) };
    }
    if op.phase == OpPhase::Submitted {
        return unconfirmed(f);
    }
    let (graceful, forced) = requests(kind);
    if op.force_requested && op.forced_at.is_none() && graceful != forced {
        return Step::Force(forced);
    }
    match f.job {
        // A graceful request whose job failed (CloudStack ends a stop the
        // guest ignored that way) falls back to force when that is allowed,
        // as a graceful request refused when sent does.
        Some(JobStatus::Failed(_)) if op.allow_force && op.forced_at.is_none() && graceful != forced => return Step::Force(forced),
        Some(JobStatus::Failed(msg)) => {
            let job = op.job_id.as_deref().unwrap_or("?");
            return fail(Failure::JobFailed, format!("the provider's job {job} failed: {msg}"));
        }
        Some(JobStatus::Succeeded) if !f.job_done => return Step::JobDone,
        _ => {}
    }
    let job_done = f.job_done || matches!(f.job, Some(JobStatus::Succeeded));
    let target = kind.target();
    if let Some(o) = f.obs {
        let job_ok = op.job_id.is_none() || job_done;
        let saw_transition = f.saw_transition || Some(o.state) != op.previous_state;
        let reboot_ok = kind != OpKind::Reboot || saw_transition || job_done || !f.caps.reboot_visible;
        if reached(op, o) && job_ok && reboot_ok {
            return Step::Verified;
        }
        if job_done && !o.state.is_transitional() && !kind.reached_by(o.state) {
            if f.mismatches + 1 >= MISMATCH_LIMIT {
                return fail(
                    Failure::VerificationFailed,
                    format!("verification failed: the provider reported the job complete, but the VM is {} (expected {target})", o.state),
                );
            }
            return Step::Mismatch;
        }
    }
    // Without a forced fallback the deadline is the graceful window (counted
    // from the request, a few ms before it was sent): reaching it means the
    // guest ignored the request, not a slow provider.
    let window_is_deadline = !op.allow_force && op.graceful_timeout_ms >= op.deadline_at - op.requested_at;
    let graceful_over = f.now >= f.sent_at.saturating_add(op.graceful_timeout_ms) || (window_is_deadline && f.now >= op.deadline_at);
    if matches!(kind, OpKind::Stop | OpKind::Reboot) && op.forced_at.is_none() && graceful_over && graceful != forced {
        let what = if kind == OpKind::Stop { "shut down" } else { "reboot" };
        let secs = op.graceful_timeout_ms / 1000;
        if !op.allow_force {
            return fail(Failure::GracefulIgnored, format!("the guest did not {what} within {secs}s and a forced fallback was not allowed"));
        }
        return Step::Force(forced);
    }
    if f.now >= op.deadline_at {
        let secs = (op.deadline_at - op.requested_at) / 1000;
        let message = match f.obs {
            Some(o) if kind.reached_by(o.state) && op.wait_for_tools => {
                let tools = o.tools.map(|t| t.as_str()).unwrap_or("unknown");
                format!("timed out: the VM is {target} but its guest tools did not report running within {secs}s (they report {tools})")
            }
            Some(o) => format!("timed out: the VM did not reach {target} within {secs}s; the provider reports {} ({})", o.state, o.raw_state),
            None => format!("timed out: the VM did not reach {target} within {secs}s; the provider could not be reached"),
        };
        return Step::Finish { phase: OpPhase::TimedOut, failure: Some(Failure::TimedOut), message: Some(message) };
    }
    Step::Wait
}

/// A request journalled but never confirmed as sent (its process died while
/// asking, or the answer was lost). Never escalate to force on a request
/// that may never have been made.
fn unconfirmed(f: Facts<'_>) -> Step {
    let op = f.op;
    let Some(o) = f.obs else {
        if f.now >= op.deadline_at {
            return Step::Finish {
                phase: OpPhase::TimedOut,
                failure: Some(Failure::Unconfirmed),
                message: Some("timed out: the provider could not be reached to confirm the request, which may never have been sent".into()),
            };
        }
        return Step::Wait;
    };
    if Some(o.state) != op.previous_state || o.state.is_transitional() {
        return Step::Confirmed;
    }
    if op.kind == OpKind::Reboot {
        // A reboot that may have happened must not happen twice.
        return fail(
            Failure::Unconfirmed,
            "the reboot request may never have reached the provider (the answer was lost, or Powerdeck stopped before it came), and the VM shows no sign of it; nothing was sent again. Reboot it again if it still needs it".into(),
        );
    }
    // Start, stop, suspend, hibernate and deallocate each lead to one state:
    // asking again is harmless if the first request did arrive.
    Step::Resend
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ToolsStatus;

    fn caps() -> Capabilities {
        Capabilities {
            graceful_stop: true,
            force_stop: true,
            guest_reboot: true,
            reset: true,
            suspend: true,
            hibernate: false,
            deallocate: false,
            tools_status: true,
            change_feed: false,
            reboot_visible: true,
            max_refresh_batch: 100,
        }
    }

    fn op(kind: OpKind) -> Operation {
        Operation {
            id: 1,
            vm_id: 1,
            vm_name: "vm".into(),
            account: "a".into(),
            kind,
            phase: OpPhase::Tracking,
            allow_force: false,
            graceful_timeout_ms: 10_000,
            timeout_ms: 60_000,
            requested_at: 0,
            deadline_at: 60_000,
            submitted_at: Some(0),
            forced_at: None,
            finished_at: None,
            previous_state: Some(PowerState::Running),
            new_state: None,
            shutdown_method: None,
            job_id: None,
            error: None,
            wait_for_tools: false,
            failure: None,
            cancel_requested: false,
            force_requested: false,
            initiator: Default::default(),
            batch_id: None,
        }
    }

    fn seen(state: PowerState, tools: Option<ToolsStatus>) -> Observation {
        Observation { provider_id: "p".into(), name: "vm".into(), state, raw_state: state.to_string(), tools, location: None, facts: Default::default() }
    }

    fn facts<'a>(op: &'a Operation, obs: Option<&'a Observation>, caps: &'a Capabilities, now: Millis) -> Facts<'a> {
        Facts { op, job_done: false, saw_transition: false, mismatches: 0, obs, job: None, caps, now, sent_at: 0 }
    }

    #[test]
    fn a_plan_sends_nothing_when_the_vm_is_already_there() {
        let c = caps();
        let running = seen(PowerState::Running, Some(ToolsStatus::Running));
        let off = seen(PowerState::Stopped, None);
        let deallocated = seen(PowerState::Deallocated, None);
        assert_eq!(plan(&op(OpKind::Stop), &off, &c), Plan::AlreadyThere { method: Some(ShutdownMethod::AlreadyOff) });
        assert_eq!(plan(&op(OpKind::Stop), &deallocated, &c), Plan::AlreadyThere { method: Some(ShutdownMethod::AlreadyOff) }, "deallocated is off too");
        assert_eq!(
            plan(&op(OpKind::Deallocate), &off, &c),
            Plan::Send { action: PowerAction::Deallocate, forced: false },
            "stopped still bills: deallocate it"
        );
        assert_eq!(plan(&op(OpKind::Start), &running, &c), Plan::AlreadyThere { method: None });
        let booting = seen(PowerState::Running, Some(ToolsStatus::NotRunning));
        assert_eq!(plan(&Operation { wait_for_tools: true, ..op(OpKind::Start) }, &booting, &c), Plan::WaitOnly);
        assert!(matches!(plan(&op(OpKind::Reboot), &off, &c), Plan::Refuse { failure: Failure::InvalidState, .. }));
    }

    #[test]
    fn a_plan_asks_the_guest_unless_it_cannot_be_asked() {
        let c = caps();
        let with_tools = seen(PowerState::Running, Some(ToolsStatus::Running));
        let without = seen(PowerState::Running, Some(ToolsStatus::NotRunning));
        assert_eq!(plan(&op(OpKind::Stop), &with_tools, &c), Plan::Send { action: PowerAction::ShutdownGuest, forced: false });
        assert!(matches!(plan(&op(OpKind::Stop), &without, &c), Plan::Refuse { failure: Failure::GracefulImpossible, .. }));
        let forceable = Operation { allow_force: true, ..op(OpKind::Stop) };
        assert_eq!(plan(&forceable, &without, &c), Plan::Send { action: PowerAction::PowerOff, forced: true });
        let at_once = Operation { allow_force: true, graceful_timeout_ms: 0, ..op(OpKind::Reboot) };
        assert_eq!(plan(&at_once, &with_tools, &c), Plan::Send { action: PowerAction::Reset, forced: true });
        assert_eq!(plan(&op(OpKind::ForceStop), &with_tools, &c), Plan::Send { action: PowerAction::PowerOff, forced: true });
    }

    #[test]
    fn the_target_seen_is_verified_but_a_reboot_only_after_the_guest_went_down() {
        let c = caps();
        let running = seen(PowerState::Running, None);
        let stop = op(OpKind::Stop);
        let stopped = seen(PowerState::Stopped, None);
        assert_eq!(next(facts(&stop, Some(&stopped), &c, 1)), Step::Verified);
        assert_eq!(next(facts(&stop, Some(&running), &c, 1)), Step::Wait);
        let reboot = op(OpKind::Reboot);
        assert_eq!(next(facts(&reboot, Some(&running), &c, 1)), Step::Wait, "running, but never seen going down");
        assert_eq!(next(Facts { saw_transition: true, ..facts(&reboot, Some(&running), &c, 1) }), Step::Verified);
        let invisible = Capabilities { reboot_visible: false, ..c };
        assert_eq!(next(facts(&reboot, Some(&running), &invisible, 1)), Step::Verified);
    }

    #[test]
    fn a_job_is_followed_and_its_success_is_not_proof() {
        let c = caps();
        let stop = Operation { job_id: Some("task-1".into()), ..op(OpKind::Stop) };
        let stopped = seen(PowerState::Stopped, None);
        let running = seen(PowerState::Running, None);
        let job_running = JobStatus::Running { poll_after: None };
        assert_eq!(next(Facts { job: Some(&job_running), ..facts(&stop, Some(&stopped), &c, 1) }), Step::Wait, "no verdict before the job ends");
        assert_eq!(next(Facts { job: Some(&JobStatus::Succeeded), ..facts(&stop, Some(&running), &c, 1) }), Step::JobDone);
        let done = Facts { job_done: true, ..facts(&stop, Some(&running), &c, 1) };
        assert_eq!(next(done), Step::Mismatch);
        assert!(matches!(next(Facts { mismatches: MISMATCH_LIMIT - 1, ..done }), Step::Finish { failure: Some(Failure::VerificationFailed), .. }));
        assert_eq!(next(Facts { job_done: true, ..facts(&stop, Some(&stopped), &c, 1) }), Step::Verified);
        let failed = JobStatus::Failed("disk locked".into());
        match next(Facts { job: Some(&failed), ..facts(&stop, Some(&running), &c, 1) }) {
            Step::Finish { phase: OpPhase::Failed, failure: Some(Failure::JobFailed), message: Some(m) } => {
                assert!(m.contains("task-1") && m.contains("disk locked"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_graceful_job_falls_back_to_force_only_when_allowed() {
        let c = caps();
        let running = seen(PowerState::Running, None);
        let ignored = JobStatus::Failed("Unable to stop VM[User|i-2-9-VM]".into());
        let stop = Operation { job_id: Some("job-1".into()), ..op(OpKind::Stop) };
        assert!(matches!(next(Facts { job: Some(&ignored), ..facts(&stop, Some(&running), &c, 1) }), Step::Finish { failure: Some(Failure::JobFailed), .. }));
        let forceable = Operation { allow_force: true, ..stop };
        assert_eq!(next(Facts { job: Some(&ignored), ..facts(&forceable, Some(&running), &c, 1) }), Step::Force(PowerAction::PowerOff));
        let reboot = Operation { allow_force: true, job_id: Some("job-2".into()), ..op(OpKind::Reboot) };
        assert_eq!(next(Facts { job: Some(&ignored), ..facts(&reboot, Some(&running), &c, 1) }), Step::Force(PowerAction::Reset));
        // The forced request's own job failing ends it: nothing stronger to send.
        let forced = Operation { forced_at: Some(1), ..forceable };
        assert!(matches!(next(Facts { job: Some(&ignored), ..facts(&forced, Some(&running), &c, 2) }), Step::Finish { failure: Some(Failure::JobFailed), .. }));
        let start = Operation { allow_force: true, job_id: Some("job-3".into()), ..op(OpKind::Start) };
        assert!(matches!(next(Facts { job: Some(&ignored), ..facts(&start, Some(&running), &c, 1) }), Step::Finish { failure: Some(Failure::JobFailed), .. }));
    }

    #[test]
    fn a_deadline_that_is_the_graceful_window_is_a_guest_that_ignored_the_request() {
        let c = caps();
        let stopping = seen(PowerState::Stopping, Some(ToolsStatus::Running));
        // Asked at 0, sent at 17 ms, one second for all: at the deadline the
        // window counted from sending is 17 ms short, and still it is over.
        let stop = Operation { requested_at: 0, deadline_at: 1_000, graceful_timeout_ms: 1_000, ..op(OpKind::Stop) };
        let step = next(Facts { sent_at: 17, ..facts(&stop, Some(&stopping), &c, 1_000) });
        assert!(matches!(step, Step::Finish { failure: Some(Failure::GracefulIgnored), .. }), "{step:?}");
    }

    #[test]
    fn the_graceful_window_ends_in_force_only_when_allowed() {
        let c = caps();
        let running = seen(PowerState::Running, Some(ToolsStatus::Running));
        let stop = op(OpKind::Stop);
        assert_eq!(next(facts(&stop, Some(&running), &c, 9_999)), Step::Wait);
        assert!(matches!(next(facts(&stop, Some(&running), &c, 10_000)), Step::Finish { failure: Some(Failure::GracefulIgnored), .. }));
        let forceable = Operation { allow_force: true, ..stop.clone() };
        assert_eq!(next(facts(&forceable, Some(&running), &c, 10_000)), Step::Force(PowerAction::PowerOff));
        // The window counts from when the provider accepted, not from the request.
        assert_eq!(next(Facts { sent_at: 5_000, ..facts(&forceable, Some(&running), &c, 10_000) }), Step::Wait);
        // Forced already: no second forced request.
        let forced = Operation { forced_at: Some(10_000), ..forceable.clone() };
        assert_eq!(next(facts(&forced, Some(&running), &c, 20_000)), Step::Wait);
        // The user asked to force now.
        let now = Operation { force_requested: true, ..stop };
        assert_eq!(next(facts(&now, Some(&running), &c, 1)), Step::Force(PowerAction::PowerOff));
    }

    #[test]
    fn the_deadline_ends_it_saying_what_the_provider_reports() {
        let c = caps();
        let start = op(OpKind::Start);
        let starting = seen(PowerState::Starting, None);
        match next(facts(&start, Some(&starting), &c, 60_000)) {
            Step::Finish { phase: OpPhase::TimedOut, message: Some(m), .. } => {
                assert!(m.contains("did not reach running within 60s") && m.contains("starting"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        match next(facts(&start, None, &c, 60_000)) {
            Step::Finish { phase: OpPhase::TimedOut, message: Some(m), .. } => assert!(m.contains("could not be reached"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unconfirmed_request_is_confirmed_by_its_effect_resent_if_harmless_never_forced() {
        let c = caps();
        let running = seen(PowerState::Running, Some(ToolsStatus::Running));
        let stopping = seen(PowerState::Stopping, None);
        let stop = Operation { phase: OpPhase::Submitted, submitted_at: None, allow_force: true, ..op(OpKind::Stop) };
        assert_eq!(next(facts(&stop, Some(&stopping), &c, 50_000)), Step::Confirmed);
        // Long past the graceful window: still not forced.
        assert_eq!(next(facts(&stop, Some(&running), &c, 50_000)), Step::Resend);
        let reboot = Operation { phase: OpPhase::Submitted, submitted_at: None, ..op(OpKind::Reboot) };
        assert!(matches!(next(facts(&reboot, Some(&running), &c, 1)), Step::Finish { failure: Some(Failure::Unconfirmed), .. }));
        assert_eq!(next(facts(&reboot, None, &c, 1)), Step::Wait, "unreachable: wait, the deadline still applies");
    }

    #[test]
    fn a_cancel_ends_it_at_once_whatever_else_is_true() {
        let c = caps();
        let stopping = seen(PowerState::Stopping, None);
        let stop = Operation { cancel_requested: true, allow_force: true, ..op(OpKind::Stop) };
        assert!(matches!(next(facts(&stop, Some(&stopping), &c, 99_999)), Step::Finish { phase: OpPhase::Cancelled, .. }));
    }
}
