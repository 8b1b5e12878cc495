//! How `pdk` prints things: tables for people, JSON for scripts.

use chrono::{Local, TimeZone};
use powerdeck_core::model::{Account, HistoryEntry, Millis, OpPhase, Operation, Vm};
use powerdeck_core::Event;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub fn json<T: Serialize + ?Sized>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

fn when(ms: Millis) -> String {
    Local.timestamp_millis_opt(ms).single().map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_else(|| "?".into())
}

fn ago(ms: Millis) -> String {
    let s = ((powerdeck_core::model::now_ms() - ms) / 1000).max(0);
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86_399 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

pub fn accounts(accounts: &[Account]) {
    if accounts.is_empty() {
        println!("no accounts (add one with `pdk accounts add`)");
        return;
    }
    println!("{:<20} {:<8} {:<28} LAST CONTACT", "NAME", "KIND", "SECRET");
    for a in accounts {
        let secret = a.secret.as_ref().map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        let name = if a.is_demo { format!("{} (demo)", a.name) } else { a.name.clone() };
        let contact = a.last_contact_at.map(ago).unwrap_or_else(|| "never".into());
        println!("{name:<20} {:<8} {secret:<28} {contact}", a.kind);
    }
}

pub fn vms(vms: &[Vm]) {
    println!("{:<16} {:>6} {:<12} {:<12} {:<11} {:<6} LAST CHANGE", "NAME", "ID", "ACCOUNT", "STATE", "RAW", "STALE");
    for v in vms {
        let stale = if v.stale { format!("yes, last seen {}", ago(v.last_seen_at)) } else { "no".into() };
        println!(
            "{:<16} {:>6} {:<12} {:<12} {:<11} {:<6} {}",
            v.name,
            v.id,
            v.account,
            v.state.as_str(),
            v.raw_state,
            if v.stale { "yes" } else { "no" },
            ago(v.last_state_change_at)
        );
        if v.stale {
            println!("{:<16} {stale}", "");
        }
    }
    println!("{} VM(s)", vms.len());
}

pub fn history(vm: &Vm, entries: &[HistoryEntry]) {
    println!("{} ({}/{}) is {} ({})", vm.name, vm.account, vm.provider_id, vm.state, vm.raw_state);
    for h in entries {
        let from = h.from_state.map(|f| f.to_string()).unwrap_or_else(|| "(first seen)".into());
        let op = h.operation_id.map(|o| format!(" op #{o}")).unwrap_or_default();
        println!("  {}  {from} → {} ({})  via {}{op}", when(h.at), h.to_state, h.raw_state, h.source.as_str());
    }
}

pub fn operations(ops: &[Operation]) {
    println!("{:>5} {:<16} {:<10} {:<10} {:<11} {:>8} RESULT", "ID", "VM", "KIND", "PHASE", "METHOD", "SECS");
    for o in ops {
        let secs = o.duration_ms().map(|d| format!("{:.1}", d as f64 / 1000.0)).unwrap_or_else(|| "…".into());
        let method = o.shutdown_method.map(|m| m.as_str()).unwrap_or("-");
        let result = match (&o.error, o.previous_state, o.new_state) {
            (Some(e), _, _) => e.clone(),
            (None, Some(p), Some(n)) => format!("{p} → {n}"),
            _ => String::new(),
        };
        println!("{:>5} {:<16} {:<10} {:<10} {:<11} {:>8} {result}", o.id, o.vm_name, o.kind.as_str(), o.phase.as_str(), method, secs);
    }
}

pub fn op_result(o: &Operation) {
    let secs = o.duration_ms().unwrap_or(0) as f64 / 1000.0;
    let job = o.job_id.as_deref().map(|j| format!(", job {j}")).unwrap_or_default();
    let method = o.shutdown_method.map(|m| format!(", {}", m.as_str())).unwrap_or_default();
    let prev = o.previous_state.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
    match o.phase {
        OpPhase::Succeeded => {
            println!("{}: {} verified: {prev} → {} in {secs:.1}s{method}{job}", o.vm_name, o.kind, o.new_state.map(|s| s.to_string()).unwrap_or_default())
        }
        phase => {
            println!("{}: {} {}: {} ({secs:.1}s{method}{job})", o.vm_name, o.kind, phase.as_str().to_uppercase(), o.error.as_deref().unwrap_or("no detail"))
        }
    }
}

/// Progress lines on stderr while operations are tracked: one per phase
/// change, plus a reminder every few seconds.
#[derive(Clone)]
pub struct Progress {
    on: bool,
    seen: Arc<Mutex<HashMap<i64, (OpPhase, Millis)>>>,
}

impl Progress {
    pub fn new(on: bool) -> Self {
        Self { on, seen: Arc::default() }
    }

    pub fn update(&self, o: &Operation) {
        if !self.on || o.phase.is_terminal() {
            return;
        }
        let now = powerdeck_core::model::now_ms();
        let mut seen = self.seen.lock().unwrap();
        let due = match seen.get(&o.id) {
            Some((phase, at)) => *phase != o.phase || now - at >= 5_000,
            None => true,
        };
        if due {
            seen.insert(o.id, (o.phase, now));
            let forced = if o.forced_at.is_some() { " (forced)" } else { "" };
            eprintln!("{}: {} {}{forced} — waiting for status update… {}s", o.vm_name, o.kind, o.phase.as_str(), (now - o.requested_at) / 1000);
        }
    }
}

pub fn event(ev: &Event, as_json: bool) {
    if as_json {
        println!("{}", serde_json::to_string(ev).expect("serializable"));
        return;
    }
    match ev {
        Event::VmsChanged { source, changes } => {
            for c in changes {
                let from = c.from.map(|f| f.to_string()).unwrap_or_else(|| "new".into());
                let drift = if c.drift { "  [drift]" } else { "" };
                println!(
                    "{} {}/{}: {from} → {} ({}) via {}{drift}",
                    when(c.vm.last_seen_at),
                    c.vm.account,
                    c.vm.name,
                    c.vm.state,
                    c.vm.raw_state,
                    source.as_str()
                );
            }
        }
        Event::VmsStale { account, count, last_seen_at, reason, .. } => {
            let seen = last_seen_at.map(ago).unwrap_or_else(|| "never".into());
            println!("{account}: {count} VM(s) stale, provider last seen {seen}: {reason}");
        }
        Event::BatchFinished { outcome } => {
            let total = outcome.succeeded + outcome.failed;
            let failures: Vec<String> = outcome.failures.iter().take(3).map(|(vm, why)| format!("{vm}: {why}")).collect();
            let failed = if failures.is_empty() { String::new() } else { format!("; {}", failures.join("; ")) };
            if outcome.batch.initiator == powerdeck_core::model::Initiator::Schedule {
                println!("{}", outcome.headline());
            } else {
                println!("{}: {} of {total} succeeded{failed}", outcome.batch.label, outcome.succeeded);
            }
        }
        Event::RunChanged { run } => {
            let step = run.plan.steps.get(run.step).map(|s| s.label.as_str()).unwrap_or("");
            let dir = if run.rolling_back { " (rolling back)" } else { "" };
            println!("runbook {} run #{}: {}{dir} {step}", run.name, run.id, run.phase.as_str());
        }
        Event::Operation { op } => {
            if op.phase.is_terminal() {
                op_result(op);
            } else {
                println!("{}: {} #{} {}", op.vm_name, op.kind, op.id, op.phase.as_str());
            }
        }
        Event::SyncFinished { account, vms, changed, calls, duration_ms, .. } => {
            println!("{account}: synced {vms} VMs ({changed} changed, {calls} calls, {duration_ms} ms)")
        }
        Event::AccountError { account, message, .. } => println!("{account}: {message}"),
        Event::AccountHealth { account, health, .. } => println!("{account}: {}", health.summary()),
        Event::SchedulesChanged => {}
        Event::Fired { firing } => {
            let note = firing.note.as_deref().unwrap_or(firing.status.as_str());
            println!("schedule {} ({}): {note}", firing.schedule, firing.purpose.as_str());
        }
    }
}
