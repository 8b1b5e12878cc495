//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use powerdeck_core::model::OpKind;
use std::path::PathBuf;

/// The command line, with the provider kinds this build has named in the
/// help of `accounts add` (they come from the registry, not from here).
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
}

/// The whole command line (also what completions and the man page describe).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let kinds: Vec<String> = powerdeck_core::provider::registry::KINDS.iter().map(|k| format!("{} ({})", k.name, k.label)).collect();
    let help = format!("The provider kind: {}. `pdk accounts kinds` lists their settings", kinds.join(", "));
    Cli::command().mut_subcommand("accounts", |a| a.mut_subcommand("add", |add| add.mut_arg("kind", |k| k.help(help))))
}

/// The version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("POWERDECK_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "pdk", version = VERSION, about = "Powerdeck from the command line: inventory and verified power operations for your VMs")]
pub struct Cli {
    /// Data directory (default: $POWERDECK_DATA_DIR, else the platform's data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Manage provider accounts.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// List VMs, mark them as watched.
    #[command(subcommand)]
    Vms(VmsCmd),
    /// Run a power operation and wait until the provider confirms it.
    #[command(subcommand)]
    Vm(VmAction),
    /// One full inventory sync; prints what changed.
    Sync {
        #[arg(long)]
        account: Option<String>,
    },
    /// A VM's state history, newest first; or, with `--export csv`, the
    /// audit trail of every VM (who changed what, when, through what).
    History {
        vm: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        audit: AuditArgs,
    },
    /// Hours per state, billable time and estimated cost; findings worth a look.
    #[command(subcommand)]
    Report(ReportCmd),
    /// Recent operations, newest first.
    Ops {
        /// Only this VM's operations.
        vm: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Act on an operation in flight: cancel it, or force it now.
    #[command(subcommand)]
    Op(OpCmd),
    /// Saved groups of VMs (explicit VMs and/or a rule evaluated when used).
    #[command(subcommand)]
    Groups(GroupsCmd),
    /// Runbooks: ordered power plans with verification at every step.
    #[command(subcommand)]
    Runbook(RunbookCmd),
    /// Downtime schedules: recurring power actions and runbooks, in a time zone.
    #[command(subcommand)]
    Schedules(SchedulesCmd),
    /// Run the engine and the schedules headless, until stopped (SIGTERM or
    /// Ctrl-C): for a systemd user service on a machine nobody is logged in to.
    Daemon {
        /// One JSON object per line instead of log lines.
        #[arg(long)]
        json: bool,
    },
    /// Adopt unfinished operations (left by a crashed or closed process) and
    /// track them to their end.
    Resume {
        #[arg(long)]
        json: bool,
    },
    /// Run the engine in the foreground and stream its events until interrupted.
    Watch {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show or change engine settings (polling tiers, timeouts, retry, rate limits).
    Settings {
        /// Dotted key, e.g. `timeouts.stop_s` or `full_interval_ms`.
        key: Option<String>,
        value: Option<String>,
        /// Restore every setting to its default (also repairs unusable stored settings).
        #[arg(long, conflicts_with_all = ["key", "value"])]
        reset: bool,
    },
    /// Make a demo fleet misbehave on purpose (tests, demos, chaos runs).
    #[command(subcommand)]
    Sim(SimCmd),
    /// Print shell completions: `pdk completions bash > ~/.local/share/bash-completion/completions/pdk`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `pdk man | man -l -`.
    Man,
}

#[derive(Subcommand)]
pub enum AccountsCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// The provider kinds and the settings each takes.
    Kinds {
        #[arg(long)]
        json: bool,
    },
    /// Add an account. Secrets are never taken as arguments. `pdk accounts add KIND --help` lists the kind's settings.
    Add {
        /// The provider kind (`pdk accounts kinds` lists them with their settings).
        #[arg(index = 1)]
        kind: String,
        #[arg(index = 2)]
        name: String,
        /// The kind's settings and secret source, e.g. --region eu-west-1 --access-key-id AKIA… --secret-env VAR.
        #[arg(index = 3, trailing_var_arg = true, allow_hyphen_values = true, value_name = "SETTINGS")]
        settings: Vec<String>,
    },
    /// Change an account's settings in place (endpoint, user, regions, certificate trust…); the secret stays where it is.
    Edit {
        name: String,
        /// The settings to change (`pdk accounts edit NAME --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "SETTINGS")]
        settings: Vec<String>,
    },
    /// Check that the account's endpoint and credentials work.
    Test { name: String },
    /// Remove an account and its local inventory (nothing changes at the provider).
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum VmsCmd {
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Poll these VMs on the watched tier.
    Watch {
        vm: Vec<String>,
    },
    Unwatch {
        vm: Vec<String>,
    },
}

#[derive(Args, Clone)]
pub struct OpArgs {
    /// VM names, ids or account/name.
    #[arg(required = true, value_name = "VM")]
    pub vms: Vec<String>,
    /// Allow a forced power-off (stop) or reset (reboot) when the guest ignores the graceful request.
    #[arg(long)]
    pub force: bool,
    /// Seconds the guest gets to comply before the forced fallback (0 with --force: force at once; at most 86400).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub graceful_timeout: Option<u64>,
    /// Return once the provider accepted; do not wait for verification.
    #[arg(long)]
    pub no_wait: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Clone)]
pub struct StartArgs {
    #[command(flatten)]
    pub op: OpArgs,
    /// Succeed only once the guest's tools report running (vSphere), so the
    /// guest is up and not merely powered on.
    #[arg(long)]
    pub wait_tools: bool,
}

#[derive(Subcommand)]
pub enum VmAction {
    Start(StartArgs),
    /// Graceful stop (with --force: hard power-off if the guest does not comply).
    Stop(OpArgs),
    /// Immediate hard power-off.
    ForceStop(OpArgs),
    /// Guest reboot (with --force: reset if the guest does not comply).
    Reboot(OpArgs),
    Suspend(OpArgs),
    /// Hibernate (EC2 instances and Azure VMs configured for it): memory to disk, then off.
    Hibernate(OpArgs),
    /// Deallocate (Azure): stop the VM and release its compute, so compute billing stops (a merely stopped VM is still billed).
    Deallocate(OpArgs),
}

impl VmAction {
    /// The operation, its common arguments, and whether to wait for tools.
    pub fn split(self) -> (OpKind, OpArgs, bool) {
        match self {
            Self::Start(a) => (OpKind::Start, a.op, a.wait_tools),
            Self::Stop(a) => (OpKind::Stop, a, false),
            Self::ForceStop(a) => (OpKind::ForceStop, a, false),
            Self::Reboot(a) => (OpKind::Reboot, a, false),
            Self::Suspend(a) => (OpKind::Suspend, a, false),
            Self::Hibernate(a) => (OpKind::Hibernate, a, false),
            Self::Deallocate(a) => (OpKind::Deallocate, a, false),
        }
    }
}

#[derive(Subcommand)]
pub enum SimCmd {
    /// Make the fleet unreachable for a while.
    Outage {
        account: String,
        /// How long, in seconds (at most a year).
        #[arg(long, value_parser = outage_seconds)]
        seconds: f64,
    },
    /// Change a VM's state at the provider, as someone else's tool would.
    SetState { account: String, vm: String, raw: String },
    /// Make a guest ignore (or honour) graceful shutdown and reboot requests.
    Stubborn {
        account: String,
        vm: String,
        #[arg(long, action = clap::ArgAction::Set, default_value_t = true)]
        on: bool,
    },
    /// Corrupt the next inventory page (a VM without an id).
    CorruptNextPage { account: String },
    /// Flip COUNT settled VMs (running ↔ stopped) at once, out of band.
    Flip { account: String, count: u32 },
}

/// A simulated outage's length: a number of seconds from 0 to a year.
fn outage_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if v.is_finite() && (0.0..=31_536_000.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("an outage lasts between 0 and 31536000 seconds (a year), not {s}"))
    }
}

#[derive(Subcommand)]
pub enum OpCmd {
    /// Send nothing more; the operation ends as cancelled with the VM as it is.
    Cancel { id: i64 },
    /// Send the forced fallback of a graceful stop or reboot now.
    Force {
        id: i64,
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// A group's rule, as flags (every one given must hold).
#[derive(Args, Default)]
pub struct RuleFlags {
    /// VMs of this account.
    #[arg(long)]
    pub account: Option<String>,
    /// VMs of this provider kind (ec2, vsphere, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// VMs whose name matches this pattern (* and ?, any case).
    #[arg(long = "name", value_name = "PATTERN")]
    pub name_pattern: Option<String>,
    /// VMs with this fact (a tag is tag:KEY=VALUE); repeat for several.
    #[arg(long = "fact", value_name = "KEY=VALUE")]
    pub facts: Vec<String>,
    /// VMs in this state.
    #[arg(long)]
    pub state: Option<String>,
}

#[derive(Subcommand)]
pub enum GroupsCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// A group's definition and the VMs it is now.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Save a group: explicit VMs (--vm, repeat) and/or a rule.
    Add {
        name: String,
        #[arg(long = "vm", value_name = "VM")]
        vms: Vec<String>,
        #[command(flatten)]
        rule: RuleFlags,
    },
    /// Change a group: add or remove VMs, replace its rule, or drop it.
    Edit {
        name: String,
        #[arg(long = "add-vm", value_name = "VM")]
        add: Vec<String>,
        #[arg(long = "remove-vm", value_name = "VM")]
        remove: Vec<String>,
        #[command(flatten)]
        rule: RuleFlags,
        /// Drop the rule (keep only the explicit VMs).
        #[arg(long)]
        no_rule: bool,
    },
    Remove {
        name: String,
    },
}

#[derive(Subcommand)]
pub enum RunbookCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// A runbook's steps and what each would do now.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a runbook from a TOML file (`-` for standard input).
    Add {
        file: PathBuf,
    },
    /// Replace a runbook with the one in a TOML file (same name).
    Edit {
        file: PathBuf,
    },
    /// Print a runbook as TOML (to keep it in git).
    Export {
        name: String,
    },
    Remove {
        name: String,
    },
    /// Show the plan resolved to VMs, ask, then run it and follow it to its end.
    Run {
        name: String,
        /// Run without asking.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Start it and return; the app or `pdk watch` carries it on.
        #[arg(long)]
        no_wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Recent runs, newest first.
    Runs {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Stop a run: nothing new starts; what is in flight ends.
    Cancel {
        run: i64,
    },
    /// A run waiting after a failed step: roll its completed steps back.
    Rollback {
        run: i64,
    },
    /// A run waiting after a failed step: leave everything as it is.
    Leave {
        run: i64,
    },
}

#[derive(Subcommand)]
pub enum SchedulesCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// A schedule: its definition, next runs, last result per VM, which VMs it targets now, missed runs.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a schedule: `pdk schedules add nightly-stop --when "weekdays at 18:30" --action stop --group dev`.
    Add {
        name: String,
        #[command(flatten)]
        def: ScheduleFlags,
    },
    /// Change a schedule; only the options given change.
    Edit {
        name: String,
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        def: ScheduleFlags,
    },
    Remove {
        name: String,
    },
    Enable {
        name: String,
    },
    Disable {
        name: String,
    },
    /// The next runs of one schedule, or of all of them merged.
    Next {
        name: Option<String>,
        #[arg(long, default_value_t = 10)]
        count: usize,
        #[arg(long)]
        json: bool,
    },
    /// Run a schedule now (a period: bring its VMs to the side they should be on now).
    RunNow {
        name: String,
        /// Start it and return instead of following it to its end.
        #[arg(long)]
        no_wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// What schedules did: runs with their results, skips, missed runs, drift corrections.
    History {
        name: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Pause every schedule (in every process on this data directory).
    Pause,
    /// Resume schedules; what came due while paused is not run.
    Resume,
}

#[derive(clap::Args, Default)]
pub struct ScheduleFlags {
    /// When: "weekdays at 18:30", "every day at 07:45", "mon,wed 09:00",
    /// "2026-12-24 18:00", "cron 30 18 * * 1-5", or a period "mon-fri 08:00-19:00".
    #[arg(long)]
    pub when: Option<String>,
    /// IANA time zone (default: this computer's).
    #[arg(long)]
    pub zone: Option<String>,
    /// start, stop, force-stop, reboot, suspend, hibernate, deallocate; for a period, how it ends (default stop).
    #[arg(long)]
    pub action: Option<String>,
    /// Target a saved group.
    #[arg(long, conflicts_with_all = ["vms", "runbook"])]
    pub group: Option<String>,
    /// Target these VMs (repeat).
    #[arg(long = "vm", conflicts_with = "runbook")]
    pub vms: Vec<String>,
    /// Run this runbook.
    #[arg(long)]
    pub runbook: Option<String>,
    /// Allow the forced fallback of a stop or reboot.
    #[arg(long, overrides_with = "no_force")]
    pub force: bool,
    #[arg(long, hide = true)]
    pub no_force: bool,
    /// For a period: also correct VMs found on the wrong side of it.
    #[arg(long, overrides_with = "no_enforce")]
    pub enforce: bool,
    #[arg(long, hide = true)]
    pub no_enforce: bool,
    /// A date (YYYY-MM-DD) on which it does not run; repeat for several.
    #[arg(long = "skip")]
    pub skip: Vec<String>,
    /// Forget every skip date set before (with --skip: replace them).
    #[arg(long)]
    pub clear_skips: bool,
    /// Run a missed occurrence if it is at most this many minutes late (default 15).
    #[arg(long)]
    pub grace: Option<u32>,
    /// Save it switched off.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Args, Debug, Clone)]
pub struct AuditArgs {
    /// Export the whole audit trail (every VM) as CSV.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub export: Option<ExportFormat>,
    /// First day (YYYY-MM-DD, local midnight) of the export.
    #[arg(long, requires = "export")]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD, included) of the export.
    #[arg(long, requires = "export")]
    pub to: Option<String>,
    /// Time zone the days are in (default: this computer's).
    #[arg(long, requires = "export")]
    pub zone: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ExportFormat {
    Csv,
}

#[derive(Args, Debug, Clone)]
pub struct RangeArgs {
    /// A calendar month, YYYY-MM (default: this month so far).
    #[arg(long)]
    pub month: Option<String>,
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (included).
    #[arg(long)]
    pub to: Option<String>,
    /// Time zone the days start in (default: this computer's).
    #[arg(long)]
    pub zone: Option<String>,
}

#[derive(Subcommand)]
pub enum ReportCmd {
    /// Hours running, stopped, deallocated, suspended, in transition and
    /// unknown per VM, account or group; billable hours and an estimated cost.
    Hours {
        #[command(flatten)]
        range: RangeArgs,
        /// Rows per vm, account, group, tag (KEY=VALUE; a VM with several
        /// counts under each) or month (local months of the range).
        #[arg(long, default_value = "vm", value_parser = report_by())]
        by: powerdeck_core::engine::report::ReportBy,
        /// Price per billable hour, the most specific applying: PRICE (every
        /// VM), ACCOUNT=PRICE, size:SIZE=PRICE (instance type, VM size or
        /// service offering), vm:ACCOUNT/NAME=PRICE. Repeatable.
        #[arg(long)]
        rate: Vec<String>,
        /// CSV (RFC 4180) instead of a table.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
    /// VMs running for nobody, Azure VMs billed while stopped, VMs running
    /// outside their schedule's period: each with the command that would act
    /// on it (nothing is done for you).
    Findings {
        /// Running this long with no operation by anyone.
        #[arg(long, default_value_t = powerdeck_core::engine::report::FINDINGS_LONG_RUNNING_H)]
        long_running_hours: u32,
        /// Azure: stopped (not deallocated) this long.
        #[arg(long, default_value_t = powerdeck_core::engine::report::FINDINGS_STOPPED_H)]
        stopped_hours: u32,
        #[arg(long)]
        json: bool,
    },
}

/// `--by`'s names, listed in the help and completions, parsed by the core.
fn report_by() -> impl clap::builder::TypedValueParser<Value = powerdeck_core::engine::report::ReportBy> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["vm", "account", "group", "tag", "month"])
        .map(|name| name.parse().unwrap_or(powerdeck_core::engine::report::ReportBy::Vm))
}
