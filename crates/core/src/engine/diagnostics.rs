//! "Copy diagnostics": what a person helping with a problem needs to know
//! (versions, system, accounts by kind and health, recent errors), in plain
//! text to paste into a ticket. It is built from what the engine knows that
//! cannot be a secret: account *kinds* and health words, counts, times.
//! Account and VM names, endpoints' hosts and error sentences (which name
//! hosts and VMs) appear only when the user asks for them (`with_names`).
//! Never a secret, a secret reference, an account's settings or an endpoint
//! URL, whatever is asked.

use super::health::health_label;
use super::Engine;
use crate::model::{now_ms, Millis, OpPhase};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many recent operations are looked at for failures.
const RECENT_OPERATIONS: u32 = 200;
/// How many failures are listed by name (with `with_names`).
const LISTED_FAILURES: usize = 10;

fn when(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at).map_or_else(|| "an unknown time".into(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// "Debian GNU/Linux 12 (bookworm), Linux 6.1.0-18-amd64, x86_64".
fn system() -> String {
    let os_release = std::fs::read_to_string("/etc/os-release").ok();
    let pretty = os_release
        .as_deref()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| format!(", Linux {}", k.trim())).unwrap_or_default();
    format!("{pretty}{kernel}, {}", std::env::consts::ARCH)
}

impl Engine {
    /// The diagnostics text. `app` names the program and its build
    /// ("powerdeck 0.1.0 (abc1234)").
    pub fn diagnostics(&self, app: &str, with_names: bool) -> String {
        let store = self.store();
        let mut out = String::new();
        let _ = writeln!(out, "Powerdeck diagnostics, {}", when(now_ms()));
        let _ = writeln!(out, "Program: {app}");
        let _ = writeln!(out, "System: {}", system());
        let accounts = store.accounts().unwrap_or_default();
        let counts: BTreeMap<i64, u64> = store.vm_counts().unwrap_or_default().into_iter().collect();
        let in_flight = store.in_flight_operations().map(|o| o.len().to_string()).unwrap_or_else(|e| format!("unknown ({e})"));
        let _ = writeln!(
            out,
            "Inventory: {} VMs in {} accounts; operations in flight: {in_flight}; sync {}; schedules {}",
            counts.values().sum::<u64>(),
            accounts.len(),
            if self.sync_paused() { "paused" } else { "running" },
            if self.schedules_paused().unwrap_or(false) { "paused" } else { "running" },
        );
        if let Some(w) = self.config_warning() {
            let _ = writeln!(out, "Settings warning: {w}");
        }

        // Accounts by kind, then by health.
        let mut by_kind: BTreeMap<&str, BTreeMap<&'static str, (usize, u64)>> = BTreeMap::new();
        let mut errors = Vec::new();
        for a in &accounts {
            let h = self.account_health(a.id);
            let entry = by_kind.entry(a.kind.as_str()).or_default().entry(health_label(h.status)).or_default();
            entry.0 += 1;
            entry.1 += counts.get(&a.id).copied().unwrap_or(0);
            if let (Some(e), Some(at)) = (&h.last_error, h.last_error_at) {
                errors.push((at, a, health_label(h.status), e.clone()));
            }
        }
        let _ = writeln!(out, "\nAccounts by kind and health:");
        if by_kind.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for (kind, healths) in &by_kind {
            let parts: Vec<String> = healths.iter().map(|(label, (n, vms))| format!("{n} {label} ({vms} VMs)")).collect();
            let _ = writeln!(out, "  {kind}: {}", parts.join(", "));
        }

        errors.sort_by_key(|e| std::cmp::Reverse(e.0));
        let _ = writeln!(out, "\nLast account errors:");
        if errors.is_empty() {
            let _ = writeln!(out, "  none");
        }
        for (at, a, status, message) in &errors {
            if with_names {
                let _ = writeln!(out, "  {}  {} ({}): {status}; {message}", when(*at), a.name, a.kind);
            } else {
                let _ = writeln!(out, "  {}  a {} account: {status}", when(*at), a.kind);
            }
        }

        let recent = store.recent_operations(None, RECENT_OPERATIONS).unwrap_or_default();
        let failed: Vec<_> = recent.iter().filter(|o| o.phase.is_terminal() && o.phase != OpPhase::Succeeded && o.phase != OpPhase::Cancelled).collect();
        let _ = writeln!(out, "\nRecent operations: {} of the last {} did not succeed", failed.len(), recent.len());
        if with_names {
            for o in failed.iter().take(LISTED_FAILURES) {
                let error = o.error.as_deref().unwrap_or("no reason recorded");
                let _ =
                    writeln!(out, "  {}  {} {}/{}: {}; {error}", when(o.finished_at.unwrap_or(o.requested_at)), o.kind, o.account, o.vm_name, o.phase.as_str());
            }
        } else if !failed.is_empty() {
            let mut by_phase: BTreeMap<&str, usize> = BTreeMap::new();
            for o in &failed {
                *by_phase.entry(o.phase.as_str()).or_default() += 1;
            }
            let parts: Vec<String> = by_phase.iter().map(|(p, n)| format!("{n} {p}")).collect();
            let _ = writeln!(out, "  {} (names and errors left out)", parts.join(", "));
        }
        out
    }
}
