//! `pdk`: Powerdeck's headless front end. It drives the same engine as the
//! desktop app, over the same data directory.

mod account_edit;
mod args;
mod confirm;
mod errors;
mod kind_args;
mod output;
mod plans;
mod report;
mod schedules;

use args::{AccountsCmd, Cli, Cmd, SimCmd, VmAction, VmsCmd};
use powerdeck_core::model::{now_ms, Initiator, OpKind, OpPhase};
use powerdeck_core::provider::registry;
use powerdeck_core::provider::sim::{self, SimConfig, World};
use powerdeck_core::store::{StoreError, VmFilter};
use powerdeck_core::{CoreError, Engine, EngineConfig, Event, OpOptions, Workers};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Exit status when an operation ran but did not end in a verified success.
pub(crate) const EXIT_OP_FAILED: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    // Die quietly when the reader goes away (`pdk vms list | head`), like
    // every other Unix tool, instead of panicking on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread
    // that could be affected is doing I/O.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("POWERDECK_LOG").unwrap_or_else(|_| "error".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // Provider texts can be huge or carry escape sequences: one clean line.
            eprintln!("pdk: {}", powerdeck_core::text::shown(&errors::render(&e), 2000));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, CoreError> {
    // What describes pdk itself needs no data directory.
    match cli.cmd {
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut args::command(), "pdk", &mut std::io::stdout());
            return Ok(ExitCode::SUCCESS);
        }
        Cmd::Man => {
            clap_mangen::Man::new(args::command()).render(&mut std::io::stdout()).map_err(|e| CoreError::Invalid(format!("cannot write the man page: {e}")))?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let data_dir = powerdeck_core::paths::data_dir(cli.data_dir.as_deref());
    let engine = match Engine::open(&data_dir) {
        // A data directory that may not be written still answers questions.
        Err(CoreError::Store(e @ StoreError::ReadOnly { .. })) if reads_only(&cli.cmd) => {
            let engine = Engine::open_read_only(&data_dir)?;
            eprintln!("pdk: warning: {e}; showing what it holds, nothing can be changed");
            engine
        }
        Err(CoreError::Store(e @ StoreError::ReadOnly { .. })) => {
            return Err(CoreError::Invalid(format!("{e}. Commands that only read (vms list, history, report, accounts list …) still work")));
        }
        other => other?,
    };
    if let Some(warning) = engine.config_warning() {
        eprintln!("pdk: warning: {warning}");
    }
    if let Some(notice) = engine.store().notice() {
        eprintln!("pdk: warning: {notice}");
    }
    match cli.cmd {
        Cmd::Accounts(cmd) => accounts(&engine, cmd).await,
        Cmd::Vms(cmd) => vms(&engine, cmd).await,
        Cmd::Vm(action) => vm(&engine, action).await,
        Cmd::Sync { account } => sync(&engine, account.as_deref()).await,
        Cmd::History { audit, .. } if audit.export.is_some() => report::audit_csv(&engine, &audit),
        Cmd::History { vm, json, limit, .. } => {
            let Some(vm) = vm else {
                return Err(CoreError::Invalid("name a VM, or export every VM's history with --export csv".into()));
            };
            let vm = engine.resolve_vm(&vm)?;
            let entries = engine.store().history(vm.id, limit)?;
            if json {
                output::json(&entries);
            } else {
                output::history(&vm, &entries);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ops { vm, json, limit } => {
            let vm_id = vm.map(|r| engine.resolve_vm(&r)).transpose()?.map(|v| v.id);
            let ops = engine.store().recent_operations(vm_id, limit)?;
            if json {
                output::json(&ops);
            } else {
                output::operations(&ops);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Op(cmd) => plans::op(&engine, cmd),
        Cmd::Schedules(cmd) => schedules::schedules(&engine, cmd).await,
        Cmd::Daemon { json } => schedules::daemon(&engine, json).await,
        Cmd::Groups(cmd) => plans::groups(&engine, cmd),
        Cmd::Runbook(cmd) => plans::runbooks(&engine, cmd).await,
        Cmd::Watch { json } => watch(&engine, json).await,
        Cmd::Resume { json } => resume(&engine, json).await,
        Cmd::Settings { key, value, reset } => settings(&engine, key, value, reset),
        Cmd::Sim(cmd) => sim(&engine, cmd),
        Cmd::Report(cmd) => report::report(&engine, cmd),
        Cmd::Completions { .. } | Cmd::Man => unreachable!("answered before the engine opened"),
    }
}

/// Commands that change nothing in the store: they can run on a data
/// directory that may not be written.
fn reads_only(cmd: &Cmd) -> bool {
    use args::{GroupsCmd, RunbookCmd, SchedulesCmd};
    match cmd {
        Cmd::Accounts(a) => matches!(a, AccountsCmd::List { .. } | AccountsCmd::Kinds { .. }),
        Cmd::Vms(v) => matches!(v, VmsCmd::List { .. }),
        Cmd::History { .. } | Cmd::Ops { .. } | Cmd::Report(_) => true,
        Cmd::Settings { value, reset, .. } => value.is_none() && !reset,
        Cmd::Groups(g) => matches!(g, GroupsCmd::List { .. } | GroupsCmd::Show { .. }),
        Cmd::Schedules(s) => matches!(s, SchedulesCmd::List { .. } | SchedulesCmd::Show { .. } | SchedulesCmd::Next { .. } | SchedulesCmd::History { .. }),
        Cmd::Runbook(r) => matches!(r, RunbookCmd::List { .. } | RunbookCmd::Show { .. } | RunbookCmd::Export { .. } | RunbookCmd::Runs { .. }),
        _ => false,
    }
}

async fn accounts(engine: &Arc<Engine>, cmd: AccountsCmd) -> Result<ExitCode, CoreError> {
    match cmd {
        AccountsCmd::List { json } => {
            let accounts = engine.store().accounts()?;
            if json {
                output::json(&accounts);
            } else {
                output::accounts(&accounts);
            }
        }
        AccountsCmd::Kinds { json } => {
            if json {
                output::json(&registry::KINDS);
            } else {
                registry::KINDS.iter().for_each(|k| println!("{}", kind_args::describe(k)));
            }
        }
        AccountsCmd::Add { kind, name, settings } => {
            let account = account_edit::add(engine, &kind, &name, &settings).await?;
            let where_ = account.secret.as_ref().map(|s| format!("; secret in {s}")).unwrap_or_default();
            println!("added {} account '{}'{where_}", account.kind, account.name);
        }
        AccountsCmd::Edit { name, settings } => {
            let account = account_edit::edit(engine, &name, &settings).await?;
            println!("updated {} account '{}'", account.kind, account.name);
        }
        AccountsCmd::Test { name } => {
            let msg = engine.test_account(&name).await?;
            println!("{name}: {msg}");
        }
        AccountsCmd::Remove { name } => {
            let a = engine.remove_account(&name)?;
            println!("removed account '{}' and its local inventory (nothing was changed at the provider)", a.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn vms(engine: &Arc<Engine>, cmd: VmsCmd) -> Result<ExitCode, CoreError> {
    match cmd {
        VmsCmd::List { account, state, json } => {
            let account_id = account.map(|a| engine.account(&a)).transpose()?.map(|a| a.id);
            // An account with no inventory yet (just added, or only tested):
            // fetch it rather than showing an empty list to a new user.
            for a in engine.store().accounts()?.iter().filter(|a| account_id.is_none_or(|id| id == a.id)) {
                // A store that may not be written shows what it holds.
                if engine.store().is_read_only() || engine.store().has_vms(a.id)? {
                    continue;
                }
                if let Err(e) = engine.full_sync(a.id).await {
                    eprintln!("pdk: {}", errors::render(&e));
                }
            }
            let state = state.map(|s| s.parse().map_err(CoreError::Invalid)).transpose()?;
            let vms = engine.store().vms(&VmFilter { account_id, state })?;
            if json {
                output::json(&vms);
            } else {
                output::vms(&vms);
            }
        }
        VmsCmd::Watch { vm } | VmsCmd::Unwatch { vm } if vm.is_empty() => return Err(CoreError::Invalid("name at least one VM".into())),
        VmsCmd::Watch { vm } => set_watched(engine, &vm, true)?,
        VmsCmd::Unwatch { vm } => set_watched(engine, &vm, false)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn set_watched(engine: &Arc<Engine>, refs: &[String], on: bool) -> Result<(), CoreError> {
    // Every reference resolved first, so a wrong one changes nothing.
    let ids = engine.resolve_all(refs)?;
    for vm in engine.store().vms_by_ids(&ids)? {
        engine.store().set_watched(vm.id, on)?;
        println!("{}: {}", vm.name, if on { "watched (polled every watched-tier interval)" } else { "no longer watched" });
    }
    Ok(())
}

async fn vm(engine: &Arc<Engine>, action: VmAction) -> Result<ExitCode, CoreError> {
    let (kind, a, wait_for_tools) = action.split();
    // Every reference resolved first (none acted on if one is wrong), once each.
    let ids = engine.resolve_all(&a.vms)?;
    let vms = engine.store().vms_by_ids(&ids)?;
    let forced = kind == OpKind::ForceStop || (kind == OpKind::Stop && a.force);
    let bulk = vms.len() > 1 && matches!(kind, OpKind::Stop | OpKind::ForceStop | OpKind::Reboot | OpKind::Suspend | OpKind::Hibernate | OpKind::Deallocate);
    if (bulk || forced) && !a.yes {
        let names: Vec<&str> = vms.iter().map(|v| v.name.as_str()).collect();
        let what = if forced { format!("force-capable {kind}") } else { kind.to_string() };
        confirm::ask(&format!("{what} {} VM(s): {}?", vms.len(), names.join(", ")))?;
    }

    let accounts: Vec<i64> = {
        let mut ids: Vec<i64> = vms.iter().map(|v| v.account_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    engine.start(Workers::DRIVER, Some(&accounts))?;
    let opts = OpOptions {
        allow_force: a.force || kind == OpKind::ForceStop,
        graceful_timeout: a.graceful_timeout.map(Duration::from_secs),
        wait_for_tools,
        initiator: Initiator::Cli,
        batch: None,
    };
    // One entry point for one VM or many: one batched read per account,
    // then the submits; a refusal is journalled as a failed operation.
    let started = engine.request_many(&ids, kind, opts, None).await?.operations;

    if a.no_wait {
        for op in started.iter().filter(|o| !o.phase.is_terminal()) {
            if !a.json {
                println!("{}: {} submitted as operation #{}; tracking continues in Powerdeck (`pdk ops`, `pdk watch` or the app)", op.vm_name, op.kind, op.id);
            }
        }
        if a.json {
            output::json(&started);
        }
        // Leave the journal to whoever runs next; do not track here.
        engine.shutdown();
        return Ok(if started.iter().any(|o| o.phase.is_terminal() && o.phase != OpPhase::Succeeded) {
            ExitCode::from(EXIT_OP_FAILED)
        } else {
            ExitCode::SUCCESS
        });
    }

    let mut finished = Vec::new();
    let progress = output::Progress::new(!a.json);
    let waits = started.iter().map(|op| {
        let (engine, progress, id) = (engine.clone(), progress.clone(), op.id);
        async move { engine.wait(id, |o| progress.update(o)).await }
    });
    for r in futures_join(waits).await {
        finished.push(r?);
    }
    engine.shutdown();
    if a.json {
        output::json(&finished);
    } else {
        for op in &finished {
            output::op_result(op);
        }
    }
    let all_ok = finished.iter().all(|o| o.phase == OpPhase::Succeeded);
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_OP_FAILED) })
}

/// Await several futures concurrently (a tiny join_all on tokio tasks).
async fn futures_join<F, T>(futs: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("wait task panicked"));
    }
    out
}

async fn sync(engine: &Arc<Engine>, account: Option<&str>) -> Result<ExitCode, CoreError> {
    let accounts = match account {
        Some(name) => vec![engine.account(name)?],
        None => engine.store().accounts()?,
    };
    let mut rx = engine.bus().subscribe();
    let mut failed = false;
    for a in &accounts {
        match engine.full_sync(a.id).await {
            Ok(s) => println!(
                "{}: {} VMs, {} changed ({} power-state changes), {} list calls, {} ms",
                s.account, s.vms, s.changed, s.state_changes, s.list_calls, s.duration_ms
            ),
            Err(e) => {
                eprintln!("pdk: {}", errors::render(&e));
                failed = true;
            }
        }
    }
    while let Ok(ev) = rx.try_recv() {
        if let Event::VmsChanged { changes, .. } = ev {
            for c in changes.iter().filter(|c| c.from != Some(c.vm.state)) {
                let from = c.from.map(|f| f.to_string()).unwrap_or_else(|| "new".into());
                println!("  {}/{}: {from} → {} ({})", c.vm.account, c.vm.name, c.vm.state, c.vm.raw_state);
            }
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

async fn resume(engine: &Arc<Engine>, json: bool) -> Result<ExitCode, CoreError> {
    let mut pending = Vec::new();
    for a in engine.store().accounts()? {
        pending.extend(engine.store().active_operations(a.id)?.into_iter().map(|r| r.op));
    }
    if pending.is_empty() {
        if !json {
            println!("no unfinished operations");
        } else {
            output::json(&pending);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The driver adopts an operation once its owner is gone (or its lease
    // has run out) and tracks it like its own.
    engine.start(Workers::DRIVER, None)?;
    let progress = output::Progress::new(!json);
    let waits = pending.iter().map(|op| {
        let (engine, progress, id) = (engine.clone(), progress.clone(), op.id);
        async move { engine.wait(id, |o| progress.update(o)).await }
    });
    let mut finished = Vec::new();
    for r in futures_join(waits).await {
        finished.push(r?);
    }
    engine.shutdown();
    if json {
        output::json(&finished);
    } else {
        finished.iter().for_each(output::op_result);
    }
    let ok = finished.iter().all(|o| o.phase == powerdeck_core::model::OpPhase::Succeeded);
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_OP_FAILED) })
}

async fn watch(engine: &Arc<Engine>, json: bool) -> Result<ExitCode, CoreError> {
    let mut rx = engine.bus().subscribe();
    engine.start(Workers::ALL, None)?;
    engine.follow_other_processes(Duration::from_secs(1));
    if !json {
        eprintln!("watching {} account(s); Ctrl-C to stop", engine.store().accounts()?.len());
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            ev = rx.recv() => match ev {
                Ok(ev) => output::event(&ev, json),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => eprintln!("pdk: {n} events were dropped because output was too slow"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    engine.shutdown();
    Ok(ExitCode::SUCCESS)
}

fn settings(engine: &Arc<Engine>, key: Option<String>, value: Option<String>, reset: bool) -> Result<ExitCode, CoreError> {
    if reset {
        Engine::save_config(engine.store(), &EngineConfig::default())?;
        println!("every setting is back to its default");
        return Ok(ExitCode::SUCCESS);
    }
    let mut cfg = serde_json::to_value(engine.config()).expect("config serializes");
    let Some(key) = key else {
        println!("{}", serde_json::to_string_pretty(&cfg).expect("json"));
        return Ok(ExitCode::SUCCESS);
    };
    let mut slot = &mut cfg;
    for part in key.split('.') {
        slot = slot.get_mut(part).ok_or_else(|| CoreError::Invalid(format!("unknown setting '{key}' (see `pdk settings`)")))?;
    }
    let Some(value) = value else {
        println!("{slot}");
        return Ok(ExitCode::SUCCESS);
    };
    *slot = serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
    let new: EngineConfig = serde_json::from_value(cfg).map_err(|e| CoreError::Invalid(format!("invalid value for {key}: {e}")))?;
    Engine::save_config(engine.store(), &new)?;
    println!("{key} = {}", serde_json::to_value(&new).ok().and_then(|v| key.split('.').try_fold(v, |v, k| v.get(k).cloned())).unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}

/// Chaos controls for demo fleets: what tests, benchmarks and demos use to
/// make the simulated cloud misbehave on purpose.
fn sim(engine: &Arc<Engine>, cmd: SimCmd) -> Result<ExitCode, CoreError> {
    let world = |name: &str| -> Result<World, CoreError> {
        let account = engine.account(name)?;
        if account.kind != sim::KIND.name {
            return Err(CoreError::Invalid(format!("'{name}' is not a demo-fleet account")));
        }
        let cfg: SimConfig =
            serde_json::from_value(account.config.clone()).map_err(|e| CoreError::Invalid(format!("the settings of '{name}' cannot be read: {e}")))?;
        World::open(&sim::world_path(engine.data_dir(), account.id), &cfg).map_err(|e| CoreError::provider(name, e))
    };
    let p = |name: &str, e| CoreError::provider(name, e);
    // A VM by name or Powerdeck id within the account, else taken as the fleet's own id.
    let provider_id =
        |account: &str, vm: &str| -> String { engine.resolve_vm(&format!("{account}/{vm}")).map(|v| v.provider_id).unwrap_or_else(|_| vm.to_string()) };
    match cmd {
        SimCmd::Outage { account, seconds } => {
            // `seconds` is at most a year (checked when parsed), so this cannot overflow.
            world(&account)?.set_outage_until(now_ms() + (seconds * 1000.0) as i64).map_err(|e| p(&account, e))?;
            println!("{account}: unreachable for {seconds}s");
        }
        SimCmd::SetState { account, vm, raw } => {
            world(&account)?.set_raw(&provider_id(&account, &vm), &raw).map_err(|e| p(&account, e))?;
            println!("{account}: {vm} is now {raw} at the provider");
        }
        SimCmd::Stubborn { account, vm, on } => {
            world(&account)?.set_stubborn(&provider_id(&account, &vm), on).map_err(|e| p(&account, e))?;
            println!("{account}: {vm} {} graceful requests", if on { "ignores" } else { "honours" });
        }
        SimCmd::Flip { account, count } => {
            let n = world(&account)?.flip(count).map_err(|e| p(&account, e))?;
            println!("{account}: {n} VMs flipped between running and stopped at the provider");
        }
        SimCmd::CorruptNextPage { account } => {
            world(&account)?.corrupt_next_page().map_err(|e| p(&account, e))?;
            println!("{account}: the next inventory page will be malformed");
        }
    }
    Ok(ExitCode::SUCCESS)
}
