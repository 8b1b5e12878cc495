//! `pdk groups`, `pdk runbook` and `pdk op`: saved selections, ordered power
//! plans (previewed, approved, followed to their end) and control over an
//! operation in flight.

use crate::args::{GroupsCmd, OpCmd, RuleFlags, RunbookCmd};
use crate::{confirm, output, EXIT_OP_FAILED};
use powerdeck_core::group::GroupRule;
use powerdeck_core::model::Initiator;
use powerdeck_core::runbook::{Action, RunPhase, RunPlan, Runbook, Will};
use powerdeck_core::{CoreError, Engine, Workers};
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

pub fn op(engine: &Arc<Engine>, cmd: OpCmd) -> Result<ExitCode, CoreError> {
    match cmd {
        OpCmd::Cancel { id } => {
            let op = engine.cancel_operation(id)?;
            println!("{}: {} #{} will be cancelled; nothing more is sent (whoever tracks it acts within a second)", op.vm_name, op.kind, op.id);
        }
        OpCmd::Force { id, yes } => {
            if !yes {
                confirm::ask(&format!("power off (or reset) the VM of operation #{id} hard now"))?;
            }
            let op = engine.force_operation_now(id)?;
            println!("{}: {} #{} will be forced now", op.vm_name, op.kind, op.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn rule(f: RuleFlags) -> Result<Option<GroupRule>, CoreError> {
    let mut facts = std::collections::BTreeMap::new();
    for kv in f.facts {
        let (k, v) = kv.split_once('=').ok_or_else(|| CoreError::Invalid(format!("--fact takes KEY=VALUE, not '{kv}'")))?;
        facts.insert(k.trim().to_string(), v.trim().to_string());
    }
    let state = f.state.map(|s| s.parse().map_err(CoreError::Invalid)).transpose()?;
    let r = GroupRule { account: f.account, kind: f.kind, name: f.name_pattern, facts, state };
    Ok((!r.is_empty()).then_some(r))
}

pub fn groups(engine: &Arc<Engine>, cmd: GroupsCmd) -> Result<ExitCode, CoreError> {
    match cmd {
        GroupsCmd::List { json } => {
            let groups = engine.store().groups()?;
            if json {
                output::json(&groups);
            } else if groups.is_empty() {
                println!("no groups yet (pdk groups add NAME --vm … or --name 'web-*' …)");
            } else {
                for g in groups {
                    let members = engine.group_members(&g.name)?;
                    println!("{:<24} {:>5} VMs now  {}", g.name, members.vms.len(), describe(&g.vms, g.rule.as_ref()));
                }
            }
        }
        GroupsCmd::Show { name, json } => {
            let m = engine.group_members(&name)?;
            if json {
                output::json(&m);
            } else {
                println!("{}: {}", m.group.name, describe(&m.group.vms, m.group.rule.as_ref()));
                for vm in &m.vms {
                    println!("  {:<32} {:<12} {}", format!("{}/{}", vm.account, vm.name), vm.state, vm.provider_id);
                }
                if !m.missing.is_empty() {
                    println!("  ({} named VMs no longer exist)", m.missing.len());
                }
                println!("{} VMs now", m.vms.len());
            }
        }
        GroupsCmd::Add { name, vms, rule: r } => {
            let g = engine.save_group(&name, &vms, rule(r)?, false)?;
            println!("saved group '{}' ({} VMs now)", g.name, engine.group_members(&g.name)?.vms.len());
        }
        GroupsCmd::Edit { name, add, remove, rule: r, no_rule } => {
            let g = engine.group(&name)?;
            let remove = engine.resolve_all(&remove)?;
            let mut refs: Vec<String> = g.vms.iter().filter(|id| !remove.contains(id)).map(|id| id.to_string()).collect();
            refs.extend(add);
            let new_rule = match (no_rule, rule(r)?) {
                (true, _) => None,
                (false, Some(r)) => Some(r),
                (false, None) => g.rule,
            };
            let g = engine.save_group(&name, &refs, new_rule, true)?;
            println!("updated group '{}' ({} VMs now)", g.name, engine.group_members(&g.name)?.vms.len());
        }
        GroupsCmd::Remove { name } => {
            engine.remove_group(&name)?;
            println!("removed group '{name}' (its VMs are untouched)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(vms: &[i64], rule: Option<&GroupRule>) -> String {
    let mut parts = Vec::new();
    if !vms.is_empty() {
        parts.push(format!("{} named VMs", vms.len()));
    }
    if let Some(r) = rule {
        let mut conds = Vec::new();
        if let Some(a) = &r.account {
            conds.push(format!("account {a}"));
        }
        if let Some(k) = &r.kind {
            conds.push(format!("kind {k}"));
        }
        if let Some(n) = &r.name {
            conds.push(format!("name {n}"));
        }
        conds.extend(r.facts.iter().map(|(k, v)| format!("{k}={v}")));
        if let Some(s) = r.state {
            conds.push(format!("state {s}"));
        }
        parts.push(format!("rule: {}", conds.join(", ")));
    }
    parts.join(" + ")
}

fn read_file(path: &std::path::Path) -> Result<Runbook, CoreError> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| CoreError::Invalid(format!("cannot read standard input: {e}")))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| CoreError::Invalid(format!("cannot read {}: {e}", path.display())))?
    };
    Runbook::from_toml(&text).map_err(CoreError::Invalid)
}

fn runbook(engine: &Engine, name: &str) -> Result<Runbook, CoreError> {
    engine.store().runbook(name)?.ok_or_else(|| CoreError::not_found("runbook", name))
}

pub async fn runbooks(engine: &Arc<Engine>, cmd: RunbookCmd) -> Result<ExitCode, CoreError> {
    match cmd {
        RunbookCmd::List { json } => {
            let all = engine.store().runbooks()?;
            if json {
                output::json(&all);
            } else if all.is_empty() {
                println!("no runbooks yet (pdk runbook add FILE.toml)");
            } else {
                for rb in all {
                    println!("{:<24} {} steps, on failure: {}  {}", rb.name, rb.steps.len(), rb.on_failure.as_str(), rb.description);
                }
            }
        }
        RunbookCmd::Show { name, json } => {
            let rb = runbook(engine, &name)?;
            let plan = engine.plan_runbook(&rb)?;
            if json {
                output::json(&serde_json::json!({ "runbook": rb, "plan": plan }));
            } else {
                print_plan(&plan);
            }
        }
        RunbookCmd::Add { file } => {
            let rb = read_file(&file)?;
            let saved = engine
                .store()
                .save_runbook(&rb, false)?
                .ok_or_else(|| CoreError::Invalid(format!("a runbook named '{}' already exists (pdk runbook edit replaces it)", rb.name)))?;
            println!("added runbook '{}' ({} steps)", saved.name, saved.steps.len());
        }
        RunbookCmd::Edit { file } => {
            let rb = read_file(&file)?;
            runbook(engine, &rb.name)?;
            engine.store().save_runbook(&rb, true)?;
            println!("replaced runbook '{}'", rb.name);
        }
        RunbookCmd::Export { name } => print!("{}", runbook(engine, &name)?.to_toml()),
        RunbookCmd::Remove { name } => {
            if !engine.store().remove_runbook(&name)? {
                return Err(CoreError::not_found("runbook", &name));
            }
            println!("removed runbook '{name}' (its past runs stay in the journal)");
        }
        RunbookCmd::Run { name, yes, dry_run, no_wait, json } => return run(engine, &name, yes, dry_run, no_wait, json).await,
        RunbookCmd::Runs { json, limit } => {
            let runs = engine.store().recent_runs(limit)?;
            if json {
                output::json(&runs);
            } else {
                for r in runs {
                    println!("#{:<5} {:<20} {:<18} {}", r.id, r.name, r.phase.as_str(), r.summary.unwrap_or_default());
                }
            }
        }
        RunbookCmd::Cancel { run } => {
            engine.cancel_run(run)?;
            println!("run #{run} will start nothing new; what is in flight is followed to its end");
        }
        RunbookCmd::Rollback { run } => {
            engine.decide_run(run, true)?;
            println!("run #{run} will roll back its completed steps (pdk runbook runs shows how it goes)");
        }
        RunbookCmd::Leave { run } => {
            engine.decide_run(run, false)?;
            println!("run #{run} ends here, leaving everything as it is");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run(engine: &Arc<Engine>, name: &str, yes: bool, dry_run: bool, no_wait: bool, json: bool) -> Result<ExitCode, CoreError> {
    let rb = runbook(engine, name)?;
    let plan = engine.plan_runbook(&rb)?;
    if json && dry_run {
        output::json(&plan);
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        print_plan(&plan);
    }
    if dry_run {
        println!("(dry run: nothing was changed)");
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        confirm::ask(&format!("Run '{}' as planned above", rb.name))?;
    }
    let accounts: Vec<i64> = {
        let ids: Vec<i64> = plan.steps.iter().flat_map(|s| s.vms.iter().map(|v| v.vm_id)).collect();
        let mut a: Vec<i64> = engine.store().vms_by_ids(&ids)?.into_iter().map(|v| v.account_id).collect();
        a.sort_unstable();
        a.dedup();
        a
    };
    let started = engine.start_run(&rb, plan, Initiator::Cli)?;
    if no_wait {
        println!("run #{} of '{}' started; the app or `pdk watch` carries it on (`pdk runbook runs`)", started.id, rb.name);
        return Ok(ExitCode::SUCCESS);
    }
    engine.start(Workers { runbooks: true, ..Workers::DRIVER }, Some(&accounts))?;
    let done = engine
        .wait_run(started.id, |r| {
            if !json {
                let label = r.plan.steps.get(r.step).map(|s| s.label.as_str()).unwrap_or("");
                let dir = if r.rolling_back { "rolling back: " } else { "" };
                eprintln!("run #{}: {} — {dir}{label}", r.id, r.phase.as_str());
            }
        })
        .await?;
    engine.shutdown();
    if json {
        output::json(&done);
    } else {
        println!("run #{} of '{}': {} — {}", done.id, done.name, done.phase.as_str(), done.summary.clone().unwrap_or_default());
        if done.phase == RunPhase::AwaitingDecision {
            println!("decide with: pdk runbook rollback {0}   or   pdk runbook leave {0}", done.id);
        }
    }
    Ok(if done.phase == RunPhase::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(EXIT_OP_FAILED) })
}

fn print_plan(plan: &RunPlan) {
    println!("Runbook {} ({} steps; if a step fails: {})", plan.runbook, plan.steps.len(), plan.on_failure.as_str());
    for s in &plan.steps {
        match s.action {
            Action::Wait => println!("{:>2}. {}", s.index + 1, s.label),
            Action::Power(kind) => {
                let mut how = vec![kind.as_str().to_string()];
                if s.force {
                    how.push("force allowed".into());
                }
                if s.wait_for_tools {
                    how.push("waits for guest tools".into());
                }
                how.push(format!("{} at a time", s.parallel));
                println!("{:>2}. {} ({})", s.index + 1, s.label, how.join(", "));
                for v in &s.vms {
                    let will = match &v.will {
                        Will::Run => kind.as_str().to_string(),
                        Will::Skip { reason } => format!("skip ({reason})"),
                        Will::Refuse { reason } => format!("cannot: {reason}"),
                    };
                    println!("      {:<32} {:<12} → {will}", format!("{}/{}", v.account, v.name), v.expected_state.as_str());
                }
                if s.vms.is_empty() {
                    println!("      (no VMs)");
                }
            }
        }
    }
}
