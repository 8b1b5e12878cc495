//! Runbooks: ordered multi-step power plans. Each step is an action on a
//! group or on VMs (or a wait); a step starts only when every VM of the one
//! before it is verified. A failure stops the run, lets it continue, or
//! rolls the completed steps back (what was stopped is started again, what
//! was started is stopped), each step verified. Before anything runs, the
//! plan is resolved to concrete VMs for a person to approve.
//!
//! This module is the vocabulary and the pure parts (reading a runbook file,
//! checking it, projecting what each step will do); the engine runs it.

use crate::model::{Initiator, Millis, OpKind, PowerState};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Runbook {
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<i64>"))]
    pub id: i64,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<String>"))]
    pub description: String,
    #[serde(default)]
    pub on_failure: FailurePolicy,
    pub steps: Vec<Step>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// What a failed step does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// End the run failed, leaving everything as it is.
    #[default]
    Stop,
    /// Go on with the next step; the run reports the failures.
    Continue,
    /// Undo the completed steps in reverse order, each verified.
    Rollback,
    /// Stop and let a person decide: roll back, or leave it as it is.
    Ask,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Continue => "continue",
            Self::Rollback => "rollback",
            Self::Ask => "ask",
        }
    }
}

/// One step, as written in a runbook file:
/// `action = "stop"`, `group = "old-side"` or `vms = ["web-01"]`, `force`,
/// `parallel`, `wait_for_tools`; or `action = "wait"` with `seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Step {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<String>"))]
    pub name: String,
    #[cfg_attr(any(test, feature = "ts"), ts(as = "ActionWire"))]
    pub action: Action,
    /// Allow the forced fallback (stop, reboot).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<bool>"))]
    pub force: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional))]
    pub group: Option<String>,
    /// VM references (name, id, account/name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<Vec<String>>"))]
    pub vms: Vec<String>,
    /// At most this many of the step's VMs in flight at once.
    #[serde(default = "default_parallel")]
    pub parallel: u32,
    /// A start ends only when the guests' tools report running.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<bool>"))]
    pub wait_for_tools: bool,
    /// For `wait`: how long.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<u64>"))]
    pub seconds: u64,
}

fn default_parallel() -> u32 {
    10
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// What a step does: a power operation, or a fixed wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Power(OpKind),
    Wait,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Power(k) => k.as_str(),
            Self::Wait => "wait",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        if s == "wait" {
            return Some(Self::Wait);
        }
        OpKind::parse(s).map(Self::Power)
    }
}

/// How an [`Action`] travels (its hand-written serde): an operation kind,
/// or "wait". For the window's generated types only.
#[cfg(any(test, feature = "ts"))]
#[derive(Serialize, ts_rs::TS)]
#[serde(untagged)]
#[allow(dead_code)]
enum ActionWire {
    Power(OpKind),
    Wait(WaitWord),
}

#[cfg(any(test, feature = "ts"))]
#[derive(Serialize, ts_rs::TS)]
#[allow(dead_code)]
enum WaitWord {
    #[serde(rename = "wait")]
    Wait,
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s).ok_or_else(|| {
            let known: Vec<&str> = OpKind::ALL.iter().map(|k| k.as_str()).chain(["wait"]).collect();
            serde::de::Error::custom(format!("unknown action '{s}' (known: {})", known.join(", ")))
        })
    }
}

/// The longest wait a step may ask for: a day.
const MAX_WAIT_S: u64 = 86_400;

impl Runbook {
    /// Read a runbook file (TOML: what a team keeps in git).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let rb: Runbook = toml::from_str(text).map_err(|e| format!("the runbook file cannot be read: {}", e.message()))?;
        rb.validate()?;
        Ok(rb)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a runbook serializes")
    }

    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err("a runbook's name is 1 to 64 characters, with no control characters".into());
        }
        if self.steps.is_empty() {
            return Err("a runbook needs at least one step".into());
        }
        if self.steps.len() > 100 {
            return Err("a runbook has at most 100 steps".into());
        }
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("step {} ({})", i + 1, step.label(i));
            match step.action {
                Action::Wait => {
                    if step.seconds == 0 || step.seconds > MAX_WAIT_S {
                        return Err(format!("{at}: a wait lasts 1 to {MAX_WAIT_S} seconds"));
                    }
                    if step.group.is_some() || !step.vms.is_empty() {
                        return Err(format!("{at}: a wait has no VMs"));
                    }
                }
                Action::Power(kind) => {
                    if step.group.is_none() && step.vms.is_empty() {
                        return Err(format!("{at}: say which VMs (a group or vms = [...])"));
                    }
                    if step.parallel == 0 || step.parallel > 1000 {
                        return Err(format!("{at}: parallel is 1 to 1000"));
                    }
                    if step.wait_for_tools && kind != OpKind::Start {
                        return Err(format!("{at}: only a start can wait for guest tools"));
                    }
                    if step.force && !matches!(kind, OpKind::Stop | OpKind::Reboot) {
                        return Err(format!("{at}: force applies to stop and reboot"));
                    }
                }
            }
        }
        Ok(())
    }
}

impl Step {
    /// The step's name, or what it does.
    pub fn label(&self, index: usize) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        match self.action {
            Action::Wait => format!("wait {} s", self.seconds),
            Action::Power(k) => {
                let what = self.group.clone().unwrap_or_else(|| format!("{} VMs", self.vms.len()));
                format!("step {}: {} {what}", index + 1, k.as_str())
            }
        }
    }
}

/// The undo of an operation kind, for rolling a step back.
pub fn inverse(kind: OpKind) -> Option<OpKind> {
    match kind {
        OpKind::Stop | OpKind::ForceStop | OpKind::Hibernate | OpKind::Deallocate | OpKind::Suspend => Some(OpKind::Start),
        OpKind::Start => Some(OpKind::Stop),
        // A reboot leaves the VM where it was.
        OpKind::Reboot => None,
    }
}

/// A runbook resolved to concrete VMs: what a person approves, and what
/// the run then carries out (the VMs do not change under it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct RunPlan {
    pub runbook: String,
    pub on_failure: FailurePolicy,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct PlannedStep {
    pub index: usize,
    pub label: String,
    #[cfg_attr(any(test, feature = "ts"), ts(as = "ActionWire"))]
    pub action: Action,
    pub force: bool,
    pub parallel: u32,
    pub wait_for_tools: bool,
    pub seconds: u64,
    pub vms: Vec<PlannedVm>,
}

/// What a step will do to one VM, as far as can be told before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct PlannedVm {
    pub vm_id: i64,
    pub name: String,
    pub account: String,
    /// Its state when the step's turn comes, if every earlier step does what it says.
    pub expected_state: PowerState,
    pub will: Will,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(tag = "will", rename_all = "kebab-case")]
pub enum Will {
    /// The operation is sent.
    Run,
    /// Already where the step leads: nothing is sent.
    Skip { reason: String },
    /// It cannot be done (unsupported, not possible from its state).
    Refuse { reason: String },
}

impl PlannedStep {
    pub fn to_run(&self) -> impl Iterator<Item = &PlannedVm> {
        self.vms.iter().filter(|v| v.will == Will::Run)
    }
}

/// A run of a runbook, as journalled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Run {
    pub id: i64,
    pub runbook_id: Option<i64>,
    pub name: String,
    pub plan: RunPlan,
    pub phase: RunPhase,
    /// The step under way (forward, or rolling back).
    pub step: usize,
    pub rolling_back: bool,
    pub initiator: Initiator,
    pub requested_at: Millis,
    pub finished_at: Option<Millis>,
    pub cancel_requested: bool,
    pub rollback_requested: bool,
    pub summary: Option<String>,
    pub steps: Vec<RunStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum RunPhase {
    Running,
    RollingBack,
    /// A step failed and the runbook asks a person: roll back, or leave it.
    AwaitingDecision,
    Succeeded,
    Failed,
    Cancelled,
    RolledBack,
}

impl RunPhase {
    pub const ALL: [RunPhase; 7] = [Self::Running, Self::RollingBack, Self::AwaitingDecision, Self::Succeeded, Self::Failed, Self::Cancelled, Self::RolledBack];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::RollingBack => "rolling-back",
            Self::AwaitingDecision => "awaiting-decision",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::RolledBack => "rolled-back",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled | Self::RolledBack)
    }
}

/// One step of a run (or of its rollback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct RunStep {
    pub step: usize,
    pub rollback: bool,
    pub batch_id: Option<i64>,
    pub phase: StepPhase,
    pub started_at: Millis,
    pub finished_at: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum StepPhase {
    Running,
    Done,
    Failed,
    Skipped,
}

impl StepPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Running, Self::Done, Self::Failed, Self::Skipped].into_iter().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILOVER: &str = r#"
name = "failover"
description = "Move the service to the new side"
on_failure = "rollback"

[[steps]]
name = "stop the old side"
action = "stop"
force = true
group = "old-side"
parallel = 5

[[steps]]
action = "wait"
seconds = 30

[[steps]]
action = "start"
vms = ["new-web-01", "prod/new-db"]
wait_for_tools = true
"#;

    #[test]
    fn a_runbook_file_reads_checks_and_writes_back() {
        let rb = Runbook::from_toml(FAILOVER).unwrap();
        assert_eq!(rb.on_failure, FailurePolicy::Rollback);
        assert_eq!(rb.steps.len(), 3);
        assert_eq!(rb.steps[0].action, Action::Power(OpKind::Stop));
        assert_eq!(rb.steps[1].action, Action::Wait);
        assert_eq!(rb.steps[2].parallel, 10, "the default");
        assert_eq!(Runbook::from_toml(&rb.to_toml()).unwrap(), rb, "written back, read again: the same runbook");
    }

    #[test]
    fn mistakes_in_a_runbook_are_said_plainly() {
        let bad = |text: &str| Runbook::from_toml(text).unwrap_err();
        assert!(bad("name = \"x\"\nsteps = []").contains("at least one step"));
        assert!(bad("name = \"x\"\n[[steps]]\naction = \"explode\"\nvms = [\"a\"]").contains("unknown action 'explode'"));
        assert!(bad("name = \"x\"\n[[steps]]\naction = \"stop\"").contains("say which VMs"));
        assert!(bad("name = \"x\"\n[[steps]]\naction = \"wait\"").contains("1 to 86400 seconds"));
        assert!(bad("name = \"x\"\n[[steps]]\naction = \"stop\"\nvms=[\"a\"]\nwait_for_tools = true").contains("only a start"));
        assert!(bad("name = \"x\"\n[[steps]]\naction = \"start\"\nvms=[\"a\"]\nforce = true").contains("force applies"));
    }

    #[test]
    fn each_power_change_has_its_undo() {
        assert_eq!(inverse(OpKind::Stop), Some(OpKind::Start));
        assert_eq!(inverse(OpKind::Deallocate), Some(OpKind::Start));
        assert_eq!(inverse(OpKind::Start), Some(OpKind::Stop));
        assert_eq!(inverse(OpKind::Reboot), None);
    }
}
