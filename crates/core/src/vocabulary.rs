//! The words front ends show and the rules they act by, served from here so
//! no front end re-types them: which states are transitional or gone, what
//! each action is called and where it leads, which phases end an operation,
//! and which actions a VM offers given its account's capabilities and its
//! state. The window asks for this once (the `vocabulary` command) and gets
//! each account's offers with the account.

use crate::model::{OpKind, OpPhase, PowerState, ToolsStatus};
use crate::provider::Capabilities;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Vocabulary {
    pub states: Vec<StateWord>,
    pub actions: Vec<ActionWord>,
    pub phases: Vec<PhaseWord>,
    /// An account's health statuses in words, and which need a person.
    pub health: Vec<crate::engine::health::HealthWord>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct StateWord {
    pub name: PowerState,
    pub label: &'static str,
    /// Passing through: shown as "Waiting for status update…".
    pub transitional: bool,
    /// Powered off in any flavour.
    pub off: bool,
    /// A start applies.
    pub startable: bool,
    /// Nothing can be asked of it (terminated, missing, unknown).
    pub gone: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct ActionWord {
    pub kind: OpKind,
    pub label: &'static str,
    pub past_tense: &'static str,
    /// Interrupts a running guest: the window confirms first.
    pub destructive: bool,
    /// Powers off without asking the guest.
    pub hard: bool,
    /// Asks the guest first and may fall back to force (if allowed).
    pub forced_fallback: bool,
    pub target: PowerState,
    pub transitional: PowerState,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct PhaseWord {
    pub name: OpPhase,
    pub terminal: bool,
}

pub fn vocabulary() -> Vocabulary {
    Vocabulary {
        states: PowerState::ALL
            .into_iter()
            .map(|s| StateWord { name: s, label: state_label(s), transitional: s.is_transitional(), off: s.is_off(), startable: startable(s), gone: gone(s) })
            .collect(),
        actions: OpKind::ALL
            .into_iter()
            .map(|k| ActionWord {
                kind: k,
                label: action_label(k),
                past_tense: k.past_tense(),
                destructive: k != OpKind::Start,
                hard: k == OpKind::ForceStop,
                forced_fallback: matches!(k, OpKind::Stop | OpKind::Reboot),
                target: k.target(),
                transitional: k.transitional(),
            })
            .collect(),
        phases: OpPhase::ALL.into_iter().map(|p| PhaseWord { name: p, terminal: p.is_terminal() }).collect(),
        health: crate::engine::health::HEALTH_WORDS.to_vec(),
    }
}

pub fn action_label(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Start => "Start",
        OpKind::Stop => "Stop",
        OpKind::ForceStop => "Force stop",
        OpKind::Reboot => "Reboot",
        OpKind::Suspend => "Suspend",
        OpKind::Hibernate => "Hibernate",
        OpKind::Deallocate => "Deallocate",
    }
}

fn state_label(state: PowerState) -> &'static str {
    match state {
        PowerState::Running => "Running",
        PowerState::Stopped => "Stopped",
        PowerState::Suspended => "Suspended",
        PowerState::Deallocated => "Deallocated",
        PowerState::Paused => "Paused",
        PowerState::Starting => "Starting",
        PowerState::Stopping => "Stopping",
        PowerState::Rebooting => "Rebooting",
        PowerState::Suspending => "Suspending",
        PowerState::Resuming => "Resuming",
        PowerState::Deallocating => "Deallocating",
        PowerState::Migrating => "Migrating",
        PowerState::Terminated => "Terminated",
        PowerState::Missing => "Missing",
        PowerState::Unknown => "Unknown",
    }
}

fn startable(state: PowerState) -> bool {
    matches!(state, PowerState::Stopped | PowerState::Suspended | PowerState::Deallocated | PowerState::Paused)
}

fn gone(state: PowerState) -> bool {
    matches!(state, PowerState::Terminated | PowerState::Missing | PowerState::Unknown)
}

/// Whether the provider can carry out this kind of operation at all (with
/// force allowed where the kind falls back to it). The engine refuses the
/// rest before anything is journalled (`check_supported`).
pub fn provider_can(caps: &Capabilities, kind: OpKind) -> bool {
    match kind {
        OpKind::Start => true,
        OpKind::Stop => caps.graceful_stop || caps.force_stop,
        OpKind::ForceStop => caps.force_stop,
        OpKind::Reboot => caps.guest_reboot || caps.reset,
        OpKind::Suspend => caps.suspend,
        OpKind::Hibernate => caps.hibernate,
        OpKind::Deallocate => caps.deallocate,
    }
}

/// The actions a VM in `state` offers on an account with `caps` (ignoring
/// operations in flight, which the caller knows). In the order of
/// [`OpKind::ALL`], so every front end lists them alike.
pub fn offers(caps: &Capabilities, state: PowerState) -> Vec<OpKind> {
    OpKind::ALL
        .into_iter()
        .filter(|&k| provider_can(caps, k))
        .filter(|&k| match k {
            OpKind::Start => startable(state),
            // Azure deallocates a VM that is stopped but still allocated too.
            OpKind::Deallocate => matches!(state, PowerState::Running | PowerState::Stopped),
            _ => state == PowerState::Running,
        })
        .collect()
}

/// Why a graceful `kind` on a VM of this account would have to be forced,
/// or `None` when the guest can be asked. `tools`: the VM's tools status.
pub fn force_reason(caps: &Capabilities, kind: OpKind, tools: Option<ToolsStatus>) -> Option<&'static str> {
    match kind {
        OpKind::Stop if !caps.graceful_stop => Some("have no graceful stop at their provider"),
        OpKind::Reboot if !caps.guest_reboot => Some("have no guest reboot at their provider"),
        OpKind::Stop | OpKind::Reboot if caps.tools_status && tools != Some(ToolsStatus::Running) => Some("have no guest tools running"),
        _ => None,
    }
}

/// One account's offers, precomputed for every state so a front end looks
/// them up per VM instead of deriving them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct AccountOffers {
    /// State → the actions a VM in it offers.
    pub by_state: BTreeMap<&'static str, Vec<OpKind>>,
    /// Kind → why it always needs force on this account.
    pub needs_force: BTreeMap<&'static str, &'static str>,
    /// Kinds that need force whenever the VM's guest tools are not running.
    pub force_without_tools: Vec<OpKind>,
    /// Graceful kinds whose forced fallback (power-off, reset) the provider
    /// can send: what "Force now" is offered for.
    pub can_force: Vec<OpKind>,
}

pub fn account_offers(caps: &Capabilities) -> AccountOffers {
    let by_state = PowerState::ALL.into_iter().map(|s| (s.as_str(), offers(caps, s))).filter(|(_, a)| !a.is_empty()).collect();
    let running = Some(ToolsStatus::Running);
    let needs_force = OpKind::ALL.into_iter().filter_map(|k| force_reason(caps, k, running).map(|why| (k.as_str(), why))).collect();
    let force_without_tools = OpKind::ALL
        .into_iter()
        .filter(|&k| force_reason(caps, k, running).is_none() && force_reason(caps, k, Some(ToolsStatus::NotRunning)).is_some())
        .collect();
    let can_force = [(OpKind::Stop, caps.force_stop), (OpKind::Reboot, caps.reset)].into_iter().filter(|(_, can)| *can).map(|(k, _)| k).collect();
    AccountOffers { by_state, needs_force, force_without_tools, can_force }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            reboot_visible: false,
            max_refresh_batch: 10,
        }
    }

    #[test]
    fn a_running_vm_offers_what_its_provider_can() {
        assert_eq!(offers(&caps(), PowerState::Running), [OpKind::Stop, OpKind::ForceStop, OpKind::Reboot, OpKind::Suspend]);
        let azure = Capabilities { suspend: false, deallocate: true, tools_status: false, ..caps() };
        assert_eq!(offers(&azure, PowerState::Running), [OpKind::Stop, OpKind::ForceStop, OpKind::Reboot, OpKind::Deallocate]);
        assert_eq!(offers(&azure, PowerState::Stopped), [OpKind::Start, OpKind::Deallocate]);
        assert_eq!(offers(&azure, PowerState::Deallocated), [OpKind::Start]);
    }

    #[test]
    fn transitional_and_gone_vms_offer_nothing() {
        for s in PowerState::ALL.into_iter().filter(|s| s.is_transitional() || gone(*s)) {
            assert!(offers(&caps(), s).is_empty(), "{s} offers something");
        }
    }

    #[test]
    fn force_is_needed_where_the_guest_cannot_be_asked() {
        let c = caps();
        assert_eq!(force_reason(&c, OpKind::Stop, Some(ToolsStatus::Running)), None);
        assert_eq!(force_reason(&c, OpKind::Stop, Some(ToolsStatus::NotInstalled)), Some("have no guest tools running"));
        assert_eq!(force_reason(&c, OpKind::Start, None), None);
        let no_graceful = Capabilities { graceful_stop: false, tools_status: false, ..c };
        assert_eq!(force_reason(&no_graceful, OpKind::Stop, None), Some("have no graceful stop at their provider"));
        let offers = account_offers(&c);
        assert_eq!(offers.force_without_tools, [OpKind::Stop, OpKind::Reboot]);
        assert_eq!(offers.can_force, [OpKind::Stop, OpKind::Reboot]);
        assert_eq!(account_offers(&Capabilities { reset: false, ..c }).can_force, [OpKind::Stop]);
        assert!(offers.needs_force.is_empty());
        assert_eq!(account_offers(&no_graceful).needs_force.get("stop"), Some(&"have no graceful stop at their provider"));
    }

    #[test]
    fn every_state_action_and_phase_is_served() {
        let v = vocabulary();
        assert_eq!(v.states.len(), PowerState::ALL.len());
        assert_eq!(v.actions.len(), OpKind::ALL.len());
        assert!(v.phases.iter().any(|p| p.name == OpPhase::Cancelled && p.terminal));
    }

    /// The window's unit tests run on this vocabulary, and on the offers of
    /// accounts with the demo fleet's and Azure's capabilities, as served; regenerate
    /// with `POWERDECK_BLESS=1 cargo test -p powerdeck-core vocabulary`.
    #[test]
    fn the_window_tests_use_the_served_vocabulary() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/ui/vocabulary.json");
        let azure_like = Capabilities { reset: false, suspend: false, deallocate: true, tools_status: false, ..caps() };
        let served = serde_json::json!({ "vocabulary": vocabulary(), "sim_offers": account_offers(&caps()), "azure_offers": account_offers(&azure_like) });
        let served = serde_json::to_string_pretty(&served).unwrap() + "\n";
        if std::env::var_os("POWERDECK_BLESS").is_some() {
            std::fs::write(&path, &served).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(on_disk, served, "tests/ui/vocabulary.json is out of date: run with POWERDECK_BLESS=1");
    }
}
