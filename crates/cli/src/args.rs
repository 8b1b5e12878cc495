//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use powerdeck_core::model::OpKind;
use powerdeck_core::provider::sim::SimConfig;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "pdk", version, about = "Powerdeck from the command line: inventory and verified power operations for your VMs")]
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
    /// A VM's state history, newest first.
    History {
        vm: String,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Recent operations, newest first.
    Ops {
        /// Only this VM's operations.
        vm: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 20)]
        limit: u32,
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
}

#[derive(Subcommand)]
pub enum AccountsCmd {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add an account. Secrets are never taken as arguments.
    Add {
        /// Provider kind: sim (demo fleet) or ec2.
        kind: String,
        name: String,
        /// Read the secret from standard input and keep it in the OS keychain.
        #[arg(long)]
        secret_stdin: bool,
        /// Keep only the name of an environment variable that holds the secret.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        #[command(flatten)]
        sim: SimFlags,
        #[command(flatten)]
        ec2: Ec2Flags,
        /// The provider's API endpoint: required for vsphere (https://host/sdk); for ec2 it replaces https://ec2.REGION.amazonaws.com.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// User name (vsphere).
        #[arg(long, value_name = "USER", help_heading = "VMware vSphere (vsphere)")]
        username: Option<String>,
        /// Pin a self-signed host's certificate by its SHA-256 thumbprint (vsphere).
        #[arg(long, value_name = "SHA256", help_heading = "VMware vSphere (vsphere)")]
        thumbprint: Option<String>,
        /// Accept any certificate (vsphere). Dangerous: anyone in the path can read the password.
        #[arg(long, help_heading = "VMware vSphere (vsphere)")]
        insecure: bool,
    },
    /// Change a vSphere account's endpoint, user or certificate trust; the secret stays where it is.
    Edit(EditArgs),
    /// Check that the account's endpoint and credentials work.
    Test { name: String },
    /// Remove an account and its local inventory (nothing changes at the provider).
    Remove { name: String },
}

#[derive(Args)]
pub struct EditArgs {
    pub name: String,
    /// The SOAP endpoint (https://host/sdk).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Pin this SHA-256 thumbprint, e.g. after the host's certificate was renewed.
    #[arg(long, value_name = "SHA256", conflicts_with_all = ["trust_presented", "insecure"])]
    pub thumbprint: Option<String>,
    /// Fetch the certificate the host presents now, show its thumbprint and pin it (asks first).
    #[arg(long, conflicts_with = "insecure")]
    pub trust_presented: bool,
    /// Accept any certificate. Dangerous: anyone in the path can read the password.
    #[arg(long, conflicts_with = "verify_tls")]
    pub insecure: bool,
    /// Verify certificates against the system's roots again: drop a pin and --insecure.
    #[arg(long, conflicts_with_all = ["thumbprint", "trust_presented"])]
    pub verify_tls: bool,
    /// Do not ask before pinning the presented certificate.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Demo-fleet knobs (kind `sim`), so benchmarks and chaos runs can be reproduced.
#[derive(Args, Default, PartialEq)]
pub struct SimFlags {
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub size: Option<u32>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub seed: Option<u64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub latency_ms: Option<u64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub page_size: Option<u32>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub failure_rate: Option<f64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub drift_per_hour: Option<f64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub stubborn_rate: Option<f64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub max_rps: Option<f64>,
    /// Do not push changes (poll only).
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub no_feed: bool,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub start_delay_ms: Option<u64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub stop_delay_ms: Option<u64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub force_stop_delay_ms: Option<u64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub reboot_delay_ms: Option<u64>,
    #[arg(long, help_heading = "Demo fleet (sim)")]
    pub suspend_delay_ms: Option<u64>,
    /// Comma-separated region names.
    #[arg(long, value_delimiter = ',', help_heading = "Demo fleet (sim)")]
    pub regions: Option<Vec<String>>,
}

/// Amazon EC2 (kind `ec2`).
#[derive(Args, Default, PartialEq)]
pub struct Ec2Flags {
    /// A region to inventory; repeat for several (default: the profile's region).
    #[arg(long = "region", value_name = "REGION", help_heading = "Amazon EC2 (ec2)")]
    pub region: Vec<String>,
    /// Access key id; give the secret with --secret-stdin or --secret-env.
    #[arg(long, value_name = "ID", help_heading = "Amazon EC2 (ec2)")]
    pub access_key_id: Option<String>,
    /// Environment variable holding a session token (temporary credentials).
    #[arg(long, value_name = "VAR", help_heading = "Amazon EC2 (ec2)")]
    pub session_token_env: Option<String>,
    /// Use a profile from the AWS shared credentials/config files instead.
    #[arg(long, value_name = "NAME", help_heading = "Amazon EC2 (ec2)")]
    pub profile: Option<String>,
}

impl SimFlags {
    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    pub fn into_config(self) -> SimConfig {
        let d = SimConfig::default();
        SimConfig {
            size: self.size.unwrap_or(d.size),
            seed: self.seed.unwrap_or(d.seed),
            latency_ms: self.latency_ms.unwrap_or(d.latency_ms),
            page_size: self.page_size.unwrap_or(d.page_size),
            failure_rate: self.failure_rate.unwrap_or(d.failure_rate),
            drift_per_hour: self.drift_per_hour.unwrap_or(d.drift_per_hour),
            stubborn_rate: self.stubborn_rate.unwrap_or(d.stubborn_rate),
            max_rps: self.max_rps.unwrap_or(d.max_rps),
            feed: !self.no_feed,
            start_delay_ms: self.start_delay_ms.unwrap_or(d.start_delay_ms),
            stop_delay_ms: self.stop_delay_ms.unwrap_or(d.stop_delay_ms),
            force_stop_delay_ms: self.force_stop_delay_ms.unwrap_or(d.force_stop_delay_ms),
            reboot_delay_ms: self.reboot_delay_ms.unwrap_or(d.reboot_delay_ms),
            suspend_delay_ms: self.suspend_delay_ms.unwrap_or(d.suspend_delay_ms),
            regions: self.regions.unwrap_or(d.regions),
        }
    }
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
    /// Hibernate (EC2 instances configured for it): memory to disk, then off.
    Hibernate(OpArgs),
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
