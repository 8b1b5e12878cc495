//! The vocabulary shared by the store, the providers, the engine and every
//! front end. Plain data; behaviour lives elsewhere.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch. Wall-clock on purpose: these values are
/// persisted and compared across processes and restarts.
pub type Millis = i64;

pub fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Normalized power state. Transitional states are values of their own, not
/// flags, because each needs its own treatment (spinner, polling tier, which
/// action is allowed next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum PowerState {
    Running,
    Stopped,
    Suspended,
    Deallocated,
    Paused,
    Starting,
    Stopping,
    Rebooting,
    Suspending,
    Resuming,
    Deallocating,
    Migrating,
    Terminated,
    /// The provider no longer lists this VM.
    Missing,
    Unknown,
}

impl PowerState {
    pub const ALL: [PowerState; 15] = [
        Self::Running,
        Self::Stopped,
        Self::Suspended,
        Self::Deallocated,
        Self::Paused,
        Self::Starting,
        Self::Stopping,
        Self::Rebooting,
        Self::Suspending,
        Self::Resuming,
        Self::Deallocating,
        Self::Migrating,
        Self::Terminated,
        Self::Missing,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Suspended => "suspended",
            Self::Deallocated => "deallocated",
            Self::Paused => "paused",
            Self::Starting => "starting",
            Self::Stopping => "stopping",
            Self::Rebooting => "rebooting",
            Self::Suspending => "suspending",
            Self::Resuming => "resuming",
            Self::Deallocating => "deallocating",
            Self::Migrating => "migrating",
            Self::Terminated => "terminated",
            Self::Missing => "missing",
            Self::Unknown => "unknown",
        }
    }

    /// A state as the store writes it (exact, lower-case; no allocation:
    /// the hours report reads millions).
    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// A state the VM is passing through; it gets the faster polling tier.
    pub fn is_transitional(self) -> bool {
        matches!(self, Self::Starting | Self::Stopping | Self::Rebooting | Self::Suspending | Self::Resuming | Self::Deallocating | Self::Migrating)
    }

    /// Powered off in any of its flavours (the guest is not running).
    pub fn is_off(self) -> bool {
        matches!(self, Self::Stopped | Self::Deallocated)
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PowerState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|p| p.as_str() == wanted).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown power state '{s}' (known: {})", known.join(", "))
        })
    }
}

/// Guest tools / agent status, where the provider reports one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum ToolsStatus {
    Running,
    NotRunning,
    NotInstalled,
}

impl ToolsStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::NotRunning => "not-running",
            Self::NotInstalled => "not-installed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "not-running" => Some(Self::NotRunning),
            "not-installed" => Some(Self::NotInstalled),
            _ => None,
        }
    }
}

/// Where a state change was learned. Stored with every history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum Source {
    /// Observed while tracking one of our own operations.
    Operation,
    /// Observed by periodic polling.
    Sync,
    /// Pushed by the provider's change feed.
    Feed,
    /// Observed while a schedule's action ran.
    Schedule,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operation => "operation",
            Self::Sync => "sync",
            Self::Feed => "feed",
            Self::Schedule => "schedule",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "operation" => Some(Self::Operation),
            "sync" => Some(Self::Sync),
            "feed" => Some(Self::Feed),
            "schedule" => Some(Self::Schedule),
            _ => None,
        }
    }
}

/// A VM as the store holds it: the truth every front end shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Vm {
    /// Powerdeck's own id (stable within one data directory).
    pub id: i64,
    pub account_id: i64,
    pub account: String,
    /// The provider's id (instance id, moref, uuid…).
    pub provider_id: String,
    pub name: String,
    pub state: PowerState,
    /// The provider's own state string, kept beside the normalized one.
    pub raw_state: String,
    pub tools: Option<ToolsStatus>,
    pub location: Option<String>,
    /// What the provider says about the VM besides its state (instance UUID,
    /// guest OS, addresses…), for people to read. Only reports use them:
    /// tags (`tag:KEY`) as rows, a kind's size fact for prices per size.
    #[serde(default)]
    pub facts: Facts,
    /// The provider could not be reached; `last_seen_at` says when it last was.
    pub stale: bool,
    pub watched: bool,
    pub last_seen_at: Millis,
    pub last_state_change_at: Millis,
}

/// One point-in-time reading of a VM from its provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub provider_id: String,
    /// Empty when the call that produced the reading carries no names (a
    /// state-only refresh); the stored name is then kept.
    pub name: String,
    pub state: PowerState,
    pub raw_state: String,
    pub tools: Option<ToolsStatus>,
    pub location: Option<String>,
    /// Empty when the call carries none (a state-only refresh): the stored
    /// facts are then kept.
    #[serde(default)]
    pub facts: Facts,
}

/// Named facts about a VM, e.g. `instance_uuid`, `guest_os`, `ip_address`.
pub type Facts = std::collections::BTreeMap<String, String>;

/// A provider's tag as the fact `tag:KEY` (searchable, groupable, a row of
/// the report by tag), cleaned of control characters; one without a key is
/// dropped.
pub fn put_tag(facts: &mut Facts, key: &str, value: &str) {
    let key = crate::text::clean(key);
    if !key.is_empty() {
        facts.insert(format!("tag:{key}"), crate::text::clean(value));
    }
}

impl Observation {
    /// Providers hand over data from the network; reject what cannot be a VM
    /// before it gets anywhere near the store.
    pub fn validate(&self) -> Result<(), String> {
        if self.provider_id.trim().is_empty() {
            return Err(format!("a VM named '{}' came without an id", self.name));
        }
        // An id is the provider's key: one this long is no VM's. (A long
        // name is only shown, and is shortened in `reconcile`.)
        if self.provider_id.len() > 512 {
            return Err(format!("VM id '{:.40}…' is implausibly long ({} bytes)", self.provider_id, self.provider_id.len()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum OpKind {
    Start,
    /// Graceful stop, optionally falling back to a forced power-off.
    Stop,
    /// Immediate hard power-off.
    ForceStop,
    /// Guest reboot, optionally falling back to a reset.
    Reboot,
    Suspend,
    /// Save memory to disk and power off (EC2 hibernation); ends powered off.
    Hibernate,
    /// Stop and release the compute resources (Azure): billing for compute stops.
    Deallocate,
}

impl OpKind {
    /// "stopped", for summaries.
    pub fn past_tense(self) -> &'static str {
        match self {
            Self::Start => "started",
            Self::Stop => "stopped",
            Self::ForceStop => "powered off",
            Self::Reboot => "rebooted",
            Self::Suspend => "suspended",
            Self::Hibernate => "hibernated",
            Self::Deallocate => "deallocated",
        }
    }

    pub const ALL: [OpKind; 7] = [Self::Start, Self::Stop, Self::ForceStop, Self::Reboot, Self::Suspend, Self::Hibernate, Self::Deallocate];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::ForceStop => "force-stop",
            Self::Reboot => "reboot",
            Self::Suspend => "suspend",
            Self::Hibernate => "hibernate",
            Self::Deallocate => "deallocate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// Whether a VM in `state` is where an operation of this kind leads: a
    /// stop is done when the guest is off, whether or not the VM was also
    /// deallocated meanwhile; a deallocation only when it is deallocated.
    pub fn reached_by(self, state: PowerState) -> bool {
        match self {
            Self::Stop | Self::ForceStop | Self::Hibernate => state.is_off(),
            other => state == other.target(),
        }
    }
    /// The state an operation of this kind must end in.
    pub fn target(self) -> PowerState {
        match self {
            Self::Start | Self::Reboot => PowerState::Running,
            Self::Stop | Self::ForceStop | Self::Hibernate => PowerState::Stopped,
            Self::Suspend => PowerState::Suspended,
            Self::Deallocate => PowerState::Deallocated,
        }
    }
    /// The transitional state shown the moment the request is accepted.
    pub fn transitional(self) -> PowerState {
        match self {
            Self::Start => PowerState::Starting,
            Self::Stop | Self::ForceStop | Self::Hibernate => PowerState::Stopping,
            Self::Reboot => PowerState::Rebooting,
            Self::Suspend => PowerState::Suspending,
            Self::Deallocate => PowerState::Deallocating,
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum OpPhase {
    /// Row written; the provider has been (or is being) asked.
    Submitted,
    /// The provider accepted; waiting for the target state.
    Tracking,
    /// The target was observed; confirming with a fresh read.
    Verifying,
    Succeeded,
    Failed,
    TimedOut,
    /// Ended on the user's word: nothing more was sent.
    Cancelled,
}

impl OpPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Tracking => "tracking",
            Self::Verifying => "verifying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed-out",
            Self::Cancelled => "cancelled",
        }
    }
    pub const ALL: [OpPhase; 7] = [Self::Submitted, Self::Tracking, Self::Verifying, Self::Succeeded, Self::Failed, Self::TimedOut, Self::Cancelled];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut | Self::Cancelled)
    }
}

/// Who asked for an operation: what the Activity view answers "who did
/// what" with, and what tells a scheduled stop from a user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum Initiator {
    /// The desktop app's window.
    Window,
    /// The tray's quick actions.
    Tray,
    /// `pdk` on a command line.
    Cli,
    /// A downtime schedule.
    Schedule,
    /// A runbook's step (or its rollback).
    Runbook,
    /// Older journal rows that did not say.
    #[default]
    Unknown,
}

impl Initiator {
    pub const ALL: [Initiator; 6] = [Self::Window, Self::Tray, Self::Cli, Self::Schedule, Self::Runbook, Self::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Tray => "tray",
            Self::Cli => "cli",
            Self::Schedule => "schedule",
            Self::Runbook => "runbook",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

/// Why an operation did not succeed, so a front end can offer what helps
/// ("Retry with force" after a graceful request the guest ignored) without
/// reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum Failure {
    /// The provider refused the request (or could not be reached to take it).
    Refused,
    /// Not possible from the VM's state (reboot a stopped VM).
    InvalidState,
    /// The guest cannot be asked (no tools) and force was not allowed.
    GracefulImpossible,
    /// The guest did not comply within the graceful window and force was not allowed.
    GracefulIgnored,
    /// The forced fallback was refused.
    ForceFailed,
    /// The provider's job or task ended in failure.
    JobFailed,
    /// The provider said done, the VM says otherwise.
    VerificationFailed,
    TimedOut,
    /// The request may never have reached the provider and was not re-sent.
    Unconfirmed,
    Cancelled,
}

impl Failure {
    pub const ALL: [Failure; 10] = [
        Self::Refused,
        Self::InvalidState,
        Self::GracefulImpossible,
        Self::GracefulIgnored,
        Self::ForceFailed,
        Self::JobFailed,
        Self::VerificationFailed,
        Self::TimedOut,
        Self::Unconfirmed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::InvalidState => "invalid-state",
            Self::GracefulImpossible => "graceful-impossible",
            Self::GracefulIgnored => "graceful-ignored",
            Self::ForceFailed => "force-failed",
            Self::JobFailed => "job-failed",
            Self::VerificationFailed => "verification-failed",
            Self::TimedOut => "timed-out",
            Self::Unconfirmed => "unconfirmed",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
    /// Whether the same operation with force allowed would likely do it.
    pub fn force_would_help(self) -> bool {
        matches!(self, Self::GracefulImpossible | Self::GracefulIgnored)
    }
}

/// How a stop (or reboot) was achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum ShutdownMethod {
    Graceful,
    Forced,
    AlreadyOff,
}

impl ShutdownMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Graceful => "graceful",
            Self::Forced => "forced",
            Self::AlreadyOff => "already-off",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "graceful" => Some(Self::Graceful),
            "forced" => Some(Self::Forced),
            "already-off" => Some(Self::AlreadyOff),
            _ => None,
        }
    }
}

/// A power operation, as journalled in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Operation {
    pub id: i64,
    pub vm_id: i64,
    pub vm_name: String,
    pub account: String,
    pub kind: OpKind,
    pub phase: OpPhase,
    /// The caller allowed a forced fallback (power-off / reset).
    pub allow_force: bool,
    pub graceful_timeout_ms: i64,
    pub timeout_ms: i64,
    pub requested_at: Millis,
    pub deadline_at: Millis,
    /// When the provider accepted the request. `None` while the request is
    /// not confirmed as sent (the process may have died before the answer).
    #[serde(default)]
    pub submitted_at: Option<Millis>,
    /// When the forced fallback was sent, if it was.
    pub forced_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub previous_state: Option<PowerState>,
    pub new_state: Option<PowerState>,
    pub shutdown_method: Option<ShutdownMethod>,
    pub job_id: Option<String>,
    pub error: Option<String>,
    /// A start that ends only when the guest's tools report running.
    #[serde(default)]
    pub wait_for_tools: bool,
    /// Why it did not succeed, when it did not.
    #[serde(default)]
    pub failure: Option<Failure>,
    /// Someone asked to cancel it: nothing more is sent, and it ends as
    /// cancelled with the VM's state as it is.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Someone asked for the forced fallback now, without waiting out the
    /// graceful window.
    #[serde(default)]
    pub force_requested: bool,
    #[serde(default)]
    pub initiator: Initiator,
    /// The batch (a bulk action, a runbook step) it belongs to.
    #[serde(default)]
    pub batch_id: Option<i64>,
}

impl Operation {
    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at.map(|f| f - self.requested_at)
    }
}

/// One append-only line of a VM's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct HistoryEntry {
    pub id: i64,
    pub vm_id: i64,
    pub at: Millis,
    pub from_state: Option<PowerState>,
    pub to_state: PowerState,
    pub raw_state: String,
    pub source: Source,
    pub operation_id: Option<i64>,
}

/// A configured provider account. Its secret is referenced, never held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub kind: String,
    /// Kind-specific settings (regions, endpoint, simulator knobs…). Never secrets.
    pub config: serde_json::Value,
    pub secret: Option<crate::secrets::SecretRef>,
    pub is_demo: bool,
    pub created_at: Millis,
    /// Last time any call to this account's provider succeeded.
    pub last_contact_at: Option<Millis>,
}

/// Operations asked for together (a bulk action, one step of a runbook),
/// so their outcome can be summed up once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Batch {
    pub id: i64,
    pub label: String,
    pub kind: OpKind,
    pub initiator: Initiator,
    pub run_id: Option<i64>,
    pub created_at: Millis,
    pub finished_at: Option<Millis>,
}

/// How a batch ended, for one summary ("Stopped 47 of 48 VMs; db-7 failed: …").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct BatchOutcome {
    pub batch: Batch,
    pub succeeded: usize,
    pub failed: usize,
    /// The failures, each with its VM's name and what happened.
    pub failures: Vec<(String, String)>,
}

impl BatchOutcome {
    /// "stopped 12 VMs; 1 failed (db-3: the guest ignored the shutdown)".
    pub fn result_text(&self) -> String {
        let total = self.succeeded + self.failed;
        let vms = if total == 1 { "VM" } else { "VMs" };
        let mut s = if self.failed == 0 {
            format!("{} {total} {vms}", self.batch.kind.past_tense())
        } else {
            format!("{} {} of {total} {vms}; {} failed", self.batch.kind.past_tense(), self.succeeded, self.failed)
        };
        if !self.failures.is_empty() {
            let shown: Vec<String> = self.failures.iter().take(3).map(|(vm, why)| format!("{vm}: {why}")).collect();
            let more = if self.failures.len() > 3 { format!("; and {} more", self.failures.len() - 3) } else { String::new() };
            s.push_str(&format!(" ({}{more})", shown.join("; ")));
        }
        s
    }

    /// One line for a notification: "Schedule 'nightly-stop' stopped 12
    /// VMs; 1 failed (…)", "Stop 25 VMs: stopped 25 VMs".
    pub fn headline(&self) -> String {
        if self.batch.initiator == Initiator::Schedule {
            format!("{} {}", self.batch.label, self.result_text())
        } else {
            format!("{}: {}", self.batch.label, self.result_text())
        }
    }
}
