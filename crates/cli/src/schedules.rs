//! `pdk schedules` and `pdk daemon`: downtime schedules, and the headless
//! process that runs them where nobody is logged in.

use crate::args::{ScheduleFlags, SchedulesCmd};
use crate::{output, EXIT_OP_FAILED};
use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use powerdeck_core::model::{Millis, OpKind};
use powerdeck_core::schedule::{Edge, FiringStatus, Occurrence, Schedule, Target, When, DEFAULT_GRACE_MINUTES};
use powerdeck_core::{CoreError, Engine, Event, FiringView, ScheduleView, Workers};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub async fn schedules(engine: &Arc<Engine>, cmd: SchedulesCmd) -> Result<ExitCode, CoreError> {
    let now = powerdeck_core::model::now_ms();
    match cmd {
        SchedulesCmd::List { json } => {
            let views = engine.schedule_views(now)?;
            if json {
                output::json(&views);
            } else if views.is_empty() {
                println!("no schedules yet (pdk schedules add nightly-stop --when \"weekdays at 18:30\" --action stop --group dev)");
            } else {
                if engine.schedules_paused()? {
                    println!("all schedules are paused (pdk schedules resume)");
                }
                for v in &views {
                    let state = if v.schedule.enabled { "" } else { "  [disabled]" };
                    let next =
                        v.next.iter().find(|o| !o.holiday).map(|o| format!("next {}", at_zone(&v.schedule, o.at))).unwrap_or_else(|| "no next run".into());
                    let last = v.last.as_ref().map(|l| format!("; last: {}", l.result)).unwrap_or_default();
                    println!("{:<20} {:<32} {:<28} {next}{last}{state}", v.schedule.name, v.when_text, does(&v.schedule));
                }
            }
        }
        SchedulesCmd::Show { name, json } => {
            let view = engine.schedule_view(&name, now)?;
            let history = engine.firing_history(Some(&name), 20)?;
            let targets = engine.schedule_targets(&view.schedule).ok();
            if json {
                output::json(&serde_json::json!({ "schedule": view, "history": history, "targets": targets }));
            } else {
                show(engine, &view, &history, targets.as_ref())?;
            }
        }
        SchedulesCmd::Add { name, def } => {
            let s = build(Schedule { name, ..blank() }, def, true)?;
            let s = engine.save_schedule(s, false)?;
            let next = engine.preview_schedule(&s, now, 1)?;
            let next = next.first().map(|o| format!("; next run {}", at_zone(&s, o.at))).unwrap_or_default();
            println!("added {}: {} {}{next}", s.name, s.when, does(&s));
        }
        SchedulesCmd::Edit { name, rename, def } => {
            let old = engine.schedule_record(&name)?.schedule;
            let mut s = build(old, def, false)?;
            if let Some(n) = rename {
                s.name = n;
            }
            let s = engine.update_schedule(&name, s)?;
            println!("{}: {} {}", s.name, s.when, does(&s));
        }
        SchedulesCmd::Remove { name } => {
            engine.remove_schedule(&name)?;
            println!("removed {name}");
        }
        SchedulesCmd::Enable { name } => {
            engine.set_schedule_enabled(&name, true)?;
            println!("{name} is enabled; it runs from its next occurrence");
        }
        SchedulesCmd::Disable { name } => {
            engine.set_schedule_enabled(&name, false)?;
            println!("{name} is disabled");
        }
        SchedulesCmd::Next { name, count, json } => {
            let mut rows: Vec<(Schedule, Occurrence)> = Vec::new();
            let views = match name {
                Some(n) => vec![engine.schedule_view(&n, now)?],
                None => engine.schedule_views(now)?.into_iter().filter(|v| v.schedule.enabled).collect(),
            };
            for v in views {
                let s = v.schedule;
                for o in engine.preview_schedule(&s, now, count)? {
                    rows.push((s.clone(), o));
                }
            }
            rows.sort_by_key(|(_, o)| o.at);
            rows.truncate(count);
            if json {
                let out: Vec<_> =
                    rows.iter().map(|(s, o)| serde_json::json!({ "schedule": s.name, "at": o.at, "edge": o.edge, "holiday": o.holiday })).collect();
                output::json(&out);
            } else if rows.is_empty() {
                println!("nothing scheduled");
            } else {
                for (s, o) in rows {
                    let skip = if o.holiday { "  (skip date: will not run)" } else { "" };
                    println!("{}  {:<20} {}{skip}", at_both(&s, o.at), s.name, edge_does(&s, o.edge));
                }
            }
        }
        SchedulesCmd::RunNow { name, no_wait, json } => return run_now(engine, &name, no_wait, json).await,
        SchedulesCmd::History { name, limit, json } => {
            let history = engine.firing_history(name.as_deref(), limit)?;
            if json {
                output::json(&history);
            } else if history.is_empty() {
                println!("nothing has run yet");
            } else {
                for f in &history {
                    println!("{}  {:<20} {:<10} {}", local(f.firing.occurrence), f.firing.schedule, f.firing.purpose.as_str(), f.result);
                }
            }
        }
        SchedulesCmd::Pause => {
            engine.pause_schedules(true)?;
            println!("all schedules are paused; what comes due meanwhile will not run (pdk schedules resume)");
        }
        SchedulesCmd::Resume => {
            engine.pause_schedules(false)?;
            println!("schedules resumed; each runs from its next occurrence");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn blank() -> Schedule {
    Schedule {
        id: 0,
        name: String::new(),
        enabled: true,
        zone: String::new(),
        when: When::Cron(String::new()),
        target: Target::Vms(vec![]),
        action: None,
        force: false,
        skip_dates: vec![],
        grace_minutes: DEFAULT_GRACE_MINUTES,
    }
}

/// Apply the flags to a schedule (all of them for a new one).
fn build(mut s: Schedule, f: ScheduleFlags, new: bool) -> Result<Schedule, CoreError> {
    let invalid = CoreError::Invalid;
    match f.when {
        Some(w) => {
            let enforce = matches!(s.when, When::Period { enforce: true, .. });
            s.when = When::parse(&w).map_err(invalid)?;
            if let When::Period { enforce: e, .. } = &mut s.when {
                *e = enforce;
            }
        }
        None if new => {
            return Err(invalid("say when with --when (\"weekdays at 18:30\", \"mon-fri 08:00-19:00\", \"2026-12-24 18:00\", \"cron 30 18 * * 1-5\")".into()))
        }
        None => {}
    }
    if f.enforce || f.no_enforce {
        match &mut s.when {
            When::Period { enforce, .. } => *enforce = f.enforce,
            _ => return Err(invalid("--enforce is for periods (--when \"mon-fri 08:00-19:00\")".into())),
        }
    }
    match f.zone {
        Some(z) => s.zone = z,
        None if new => s.zone = local_zone(),
        None => {}
    }
    let target_given = f.group.is_some() || !f.vms.is_empty() || f.runbook.is_some();
    if let Some(g) = f.group {
        s.target = Target::Group(g);
    } else if let Some(r) = f.runbook {
        s.target = Target::Runbook(r);
        s.action = None;
    } else if !f.vms.is_empty() {
        s.target = Target::Vms(f.vms);
    } else if new {
        return Err(invalid("say what it acts on: --group NAME, --vm NAME (repeat), or --runbook NAME".into()));
    }
    match f.action {
        Some(a) => {
            let kind = OpKind::parse(&a)
                .ok_or_else(|| invalid(format!("'{a}' is not an action (start, stop, force-stop, reboot, suspend, hibernate, deallocate)")))?;
            s.action = Some(kind);
        }
        None if matches!(s.target, Target::Runbook(_)) => s.action = None,
        None if new && s.when.is_period() => s.action = Some(OpKind::Stop),
        None if new || (target_given && s.action.is_none()) => {
            return Err(invalid("say what to do with --action (start, stop, force-stop, reboot, suspend, hibernate, deallocate)".into()))
        }
        None => {}
    }
    if f.force || f.no_force {
        s.force = f.force;
    }
    if f.clear_skips {
        s.skip_dates.clear();
    }
    for d in f.skip {
        let date = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| invalid(format!("--skip takes a date as YYYY-MM-DD, not '{d}'")))?;
        if !s.skip_dates.contains(&date) {
            s.skip_dates.push(date);
        }
    }
    s.skip_dates.sort();
    if let Some(g) = f.grace {
        s.grace_minutes = g;
    }
    if f.disabled {
        s.enabled = false;
    }
    Ok(s)
}

/// This computer's IANA zone, or UTC when it cannot be told.
fn local_zone() -> String {
    powerdeck_core::calendar::local_zone().name().to_string()
}

fn here() -> Tz {
    local_zone().parse().unwrap_or(Tz::UTC)
}

fn does(s: &Schedule) -> String {
    let force = if s.force { " (force allowed)" } else { "" };
    match (&s.target, s.action) {
        (Target::Runbook(r), _) => format!("run runbook '{r}'"),
        (t, Some(k)) if s.when.is_period() => format!("start / {k} {t}{force}"),
        (t, Some(k)) => format!("{k} {t}{force}"),
        (t, None) => format!("? {t}"),
    }
}

fn edge_does(s: &Schedule, edge: Edge) -> String {
    match edge {
        Edge::Start => format!("start {}", s.target),
        Edge::End => format!("{} {}", s.action.unwrap_or(OpKind::Stop), s.target),
        Edge::Run => does(s),
    }
}

fn local(ms: Millis) -> String {
    here().timestamp_millis_opt(ms).single().map(|t| t.format("%a %Y-%m-%d %H:%M %Z").to_string()).unwrap_or_else(|| ms.to_string())
}

fn at_zone(s: &Schedule, ms: Millis) -> String {
    match s.timetable() {
        Ok(t) => t.local(ms).format("%a %Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => local(ms),
    }
}

/// In the schedule's zone, and in this computer's when they differ.
fn at_both(s: &Schedule, ms: Millis) -> String {
    let there = at_zone(s, ms);
    let Some(here) = here().timestamp_millis_opt(ms).single() else { return there };
    let same = s.timetable().ok().is_some_and(|t| t.local(ms).format("%z").to_string() == here.format("%z").to_string());
    if same {
        there
    } else {
        format!("{there} (here {})", here.format("%H:%M %Z"))
    }
}

fn show(engine: &Arc<Engine>, v: &ScheduleView, history: &[FiringView], targets: Option<&powerdeck_core::Resolved>) -> Result<(), CoreError> {
    let s = &v.schedule;
    let state = if !s.enabled {
        "disabled"
    } else if engine.schedules_paused()? {
        "paused (all schedules)"
    } else {
        "enabled"
    };
    println!("{}  ({state})", s.name);
    println!("  when:      {}  ({})", v.when_text, s.zone);
    println!("  does:      {}", does(s));
    println!("  if missed: run if at most {} min late, else skip and say so", s.grace_minutes);
    if !s.skip_dates.is_empty() {
        let d: Vec<String> = s.skip_dates.iter().map(|d| d.to_string()).collect();
        println!("  skips:     {}", d.join(", "));
    }
    if let Some(p) = &v.problem {
        println!("  PROBLEM:   {p}");
    }
    for (i, o) in v.next.iter().enumerate() {
        let label = if i == 0 { "  next:     " } else { "            " };
        let skip = if o.holiday { "  (skip date)" } else { "" };
        println!("{label} {}  {}{skip}", at_both(s, o.at), edge_does(s, o.edge));
    }
    match targets {
        Some(t) if !matches!(s.target, Target::Runbook(_)) => {
            let names: Vec<&str> = t.vms.iter().take(8).map(|v| v.name.as_str()).collect();
            let more = if t.vms.len() > 8 { format!(", … {} more", t.vms.len() - 8) } else { String::new() };
            if t.vms.is_empty() {
                println!("  targets:   no VMs now");
            } else {
                println!("  targets:   {} VMs now: {}{more}", t.vms.len(), names.join(", "));
            }
            if !t.missing.is_empty() {
                println!("             no longer exist: {}", t.missing.join(", "));
            }
        }
        None => println!("  targets:   cannot be resolved now ({} is gone?)", s.target),
        _ => {}
    }
    let last_run = history.iter().find(|f| matches!(f.firing.status, FiringStatus::Started | FiringStatus::Failed | FiringStatus::Nothing));
    if let Some(f) = last_run {
        println!("  last run:  {} ({}): {}", local(f.firing.occurrence), f.firing.purpose.as_str(), f.result);
        if let Some(b) = f.firing.batch_id {
            for op in engine.store().batch_operations(b)? {
                let detail = op.error.clone().or_else(|| op.new_state.map(|s| s.to_string())).unwrap_or_default();
                println!("             {:<24} {:<10} {detail}", op.vm_name, op.phase.as_str());
            }
        }
    }
    let missed: Vec<&FiringView> = history.iter().filter(|f| f.firing.status == FiringStatus::Missed).collect();
    for f in missed.iter().take(5) {
        println!("  missed:    {}: {}", local(f.firing.occurrence), f.result);
    }
    Ok(())
}

async fn run_now(engine: &Arc<Engine>, name: &str, no_wait: bool, json: bool) -> Result<ExitCode, CoreError> {
    let mut rx = engine.bus().subscribe();
    engine.start(Workers { runbooks: true, ..Workers::DRIVER }, None)?;
    let firing = engine.run_schedule_now(name).await?;
    if !json {
        println!("{}: {}", firing.schedule, firing.note.as_deref().unwrap_or(firing.status.as_str()));
    }
    if no_wait || !matches!(firing.status, FiringStatus::Started) {
        if json {
            output::json(&engine.firing_view(firing.clone())?);
        }
        return Ok(if firing.status == FiringStatus::Failed { ExitCode::from(EXIT_OP_FAILED) } else { ExitCode::SUCCESS });
    }
    // Follow it to its end: the batch settles, or the run ends.
    loop {
        let view = engine.firing_view(engine.store().firing(firing.id)?.map(|f| f.firing).unwrap_or(firing.clone()))?;
        let done = view.outcome.is_some() || view.run.as_ref().is_some_and(|r| r.phase.is_terminal());
        if done {
            if json {
                output::json(&view);
            } else {
                println!("{}: {}", view.firing.schedule, view.result);
            }
            let failed = view.outcome.as_ref().is_some_and(|o| o.failed > 0)
                || view.run.as_ref().is_some_and(|r| r.phase != powerdeck_core::runbook::RunPhase::Succeeded);
            return Ok(if failed { ExitCode::from(EXIT_OP_FAILED) } else { ExitCode::SUCCESS });
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Ok(e) = rx.recv().await {
                match e {
                    Event::BatchFinished { .. } | Event::RunChanged { .. } => return,
                    Event::Operation { op } if !json && op.phase.is_terminal() => output::op_result(&op),
                    _ => {}
                }
            }
        })
        .await;
    }
}

/// `pdk daemon`: every background loop, the schedules included, until
/// SIGTERM or Ctrl-C; one line per notable event on standard error (the
/// journal, under systemd).
pub async fn daemon(engine: &Arc<Engine>, json: bool) -> Result<ExitCode, CoreError> {
    let mut rx = engine.bus().subscribe();
    engine.start(Workers::ALL, None)?;
    engine.follow_other_processes(Duration::from_secs(1));
    let schedules = engine.schedule_views(powerdeck_core::model::now_ms())?.len();
    let paused = if engine.schedules_paused()? { " (paused)" } else { "" };
    eprintln!("pdk daemon: {} account(s), {schedules} schedule(s){paused}; data in {}", engine.store().accounts()?.len(), engine.data_dir().display());
    #[cfg(unix)]
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| CoreError::Invalid(format!("cannot listen for SIGTERM: {e}")))?;
    loop {
        #[cfg(unix)]
        let stop = async {
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
        };
        #[cfg(not(unix))]
        let stop = tokio::signal::ctrl_c();
        tokio::select! {
            _ = stop => break,
            ev = rx.recv() => match ev {
                Ok(ev) if json => output::event(&ev, true),
                Ok(ev) => daemon_line(&ev),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => eprintln!("pdk daemon: {n} events were not logged (too many at once)"),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    // Operations in flight stay journalled; the next process adopts them.
    engine.shutdown();
    eprintln!("pdk daemon: stopped");
    Ok(ExitCode::SUCCESS)
}

/// What a daemon logs: what an admin reading the journal wants, not every poll.
fn daemon_line(ev: &Event) {
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    match ev {
        Event::Fired { firing } => {
            let note = firing.note.as_deref().unwrap_or("");
            eprintln!("{now} schedule {} ({}, {}): {} {note}", firing.schedule, firing.purpose.as_str(), firing.edge.as_str(), firing.status.as_str());
        }
        Event::BatchFinished { outcome } => eprintln!("{now} {}", outcome.headline()),
        Event::RunChanged { run } if run.phase.is_terminal() => {
            eprintln!("{now} runbook {} run #{}: {} {}", run.name, run.id, run.phase.as_str(), run.summary.as_deref().unwrap_or(""))
        }
        Event::Operation { op } if op.phase.is_terminal() => {
            let how = op.error.as_deref().unwrap_or("verified");
            eprintln!("{now} {}: {} #{} {} ({how})", op.vm_name, op.kind, op.id, op.phase.as_str());
        }
        Event::VmsChanged { changes, .. } => {
            for c in changes.iter().filter(|c| c.drift) {
                eprintln!(
                    "{now} drift: {}/{} {} → {} (changed outside Powerdeck)",
                    c.vm.account,
                    c.vm.name,
                    c.from.map(|f| f.to_string()).unwrap_or_default(),
                    c.vm.state
                );
            }
        }
        Event::VmsStale { account, count, reason, .. } => eprintln!("{now} {account}: {count} VM(s) stale: {reason}"),
        Event::AccountError { account, message, .. } => eprintln!("{now} {account}: {message}"),
        Event::AccountHealth { account, health, .. } => eprintln!("{now} {account}: {}", health.summary()),
        _ => {}
    }
}
