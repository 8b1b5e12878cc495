//! `pdk report hours|findings` and `pdk history --export csv`: numbers
//! people bill and plan by, from the verified history.

use crate::args::{AuditArgs, ReportCmd};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use powerdeck_core::calendar::{midnight, next_month};
use powerdeck_core::engine::report::{hour_columns, hours, HoursReport, HoursRow, Rates};
use powerdeck_core::model::{now_ms, Millis};
use powerdeck_core::{CoreError, Engine};
use std::process::ExitCode;

pub fn report(engine: &Engine, cmd: ReportCmd) -> Result<ExitCode, CoreError> {
    match cmd {
        ReportCmd::Hours { range, by, rate, csv, json } => {
            let zone = zone(range.zone.as_deref())?;
            let (from, to) = span(&zone, range.month.as_deref(), range.from.as_deref(), range.to.as_deref())?;
            let report = engine.hours_report(from, to, by, &zone, &Rates::parse(&rate)?, now_ms())?;
            if json {
                crate::output::json(&report);
            } else if csv {
                hours_csv(&report)?;
            } else {
                hours_table(&report, &zone);
            }
            Ok(ExitCode::SUCCESS)
        }
        ReportCmd::Findings { long_running_hours, stopped_hours, json } => {
            let findings = engine.findings(long_running_hours, stopped_hours, now_ms())?;
            if json {
                crate::output::json(&findings);
                return Ok(ExitCode::SUCCESS);
            }
            if findings.is_empty() {
                println!("Nothing to look at: no VM has run {long_running_hours} h for nobody, none is billed while stopped, none runs outside its schedule.");
            }
            for f in &findings {
                println!("{}/{}: {}\n    {}", f.account, f.vm, f.detail, f.suggestion);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The audit trail as CSV (RFC 4180), oldest first.
pub fn audit_csv(engine: &Engine, args: &AuditArgs) -> Result<ExitCode, CoreError> {
    let zone = zone(args.zone.as_deref())?;
    let (from, to) = match (&args.from, &args.to) {
        (None, None) => (0, Millis::MAX),
        (from, to) => {
            let from = from.as_deref().map(|d| midnight(&zone, date(d)?)).transpose()?.unwrap_or(0);
            let to = to.as_deref().map(|d| midnight(&zone, date(d)?.succ_opt().unwrap_or(NaiveDate::MAX))).transpose()?.unwrap_or(Millis::MAX);
            (from, to)
        }
    };
    let rows = engine.store().audit_trail(from, to)?;
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    let io = |e: csv::Error| CoreError::Invalid(format!("cannot write the CSV: {e}"));
    w.write_record(["time", "vm", "account", "from", "to", "raw_state", "source", "operation", "initiator", "batch"]).map_err(io)?;
    for r in rows {
        let initiator = r.initiator.clone().unwrap_or_else(|| match (r.operation_id, &r.from_state) {
            (Some(_), _) => String::new(),
            (None, None) => "first seen".into(),
            (None, Some(_)) => "outside Powerdeck".into(),
        });
        w.write_record([
            iso(r.at),
            r.vm,
            r.account,
            r.from_state.unwrap_or_default(),
            r.to_state,
            r.raw_state,
            r.source,
            r.operation_id.map(|o| o.to_string()).unwrap_or_default(),
            initiator,
            r.batch.unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    w.flush().map_err(|e| CoreError::Invalid(format!("cannot write the CSV: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

fn hours_table(r: &HoursReport, zone: &Tz) {
    let f = |ms: Millis| format!("{:.1}", hours(ms));
    println!(
        "Hours from {} to {}{} ({})",
        local(r.from, zone),
        local(r.to, zone),
        if r.until < r.to { format!(", counted up to now ({})", local(r.until, zone)) } else { String::new() },
        zone
    );
    println!(
        "{:<28} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>10} {:>9} {:>9} {:>10}",
        "NAME", "VMS", "RUNNING", "STOPPED", "DEALLOC", "SUSPEND", "TRANS", "UNKNOWN", "ATTRIBUTED", "BILLABLE", "SAVED", "EST. COST"
    );
    let line = |row: &HoursRow| {
        let cost = row.cost.map(|c| format!("{c:.2}")).unwrap_or_else(|| "-".into());
        let [running, stopped, dealloc, suspended, transition, unknown, attributed, billable, saved] = hour_columns(&row.hours).map(f);
        println!(
            "{:<28} {:>5} {running:>9} {stopped:>9} {dealloc:>9} {suspended:>9} {transition:>7} {unknown:>9} {attributed:>10} {billable:>9} {saved:>9} {cost:>10}",
            row.name, row.vms,
        );
    };
    r.rows.iter().for_each(line);
    line(&r.total);
    if let Some(saved) = r.total.saved_cost {
        println!("Estimated saving from Powerdeck's own stops: {saved:.2} (an estimate from the prices given, not a bill).");
    }
    if r.total.hours.unknown > 0 {
        println!("UNKNOWN: time Powerdeck could not see the VMs (closed, or the provider unreachable) and nothing later proves their state.");
    }
    if r.unreadable > 0 {
        println!("{} history rows could not be read and were left out.", r.unreadable);
    }
}

fn hours_csv(r: &HoursReport) -> Result<(), CoreError> {
    r.write_csv(std::io::stdout().lock())
}

fn zone(given: Option<&str>) -> Result<Tz, CoreError> {
    let Some(name) = given else { return Ok(powerdeck_core::calendar::local_zone()) };
    name.parse::<Tz>().map_err(|_| CoreError::Invalid(format!("'{name}' is not an IANA time zone (e.g. Europe/Berlin, UTC)")))
}

/// The report's range: a month, explicit dates (the end date included), or
/// this month so far. Days start at local midnight, so a DST day has 23 or
/// 25 hours.
fn span(zone: &Tz, month: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<(Millis, Millis), CoreError> {
    if let Some(m) = month {
        if from.is_some() || to.is_some() {
            return Err(CoreError::Invalid("give --month or --from/--to, not both".into()));
        }
        let first = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").map_err(|_| CoreError::Invalid(format!("--month '{m}': expected YYYY-MM")))?;
        return Ok((midnight(zone, first)?, midnight(zone, next_month(first))?));
    }
    let today = Utc::now().with_timezone(zone).date_naive();
    let from = match from {
        Some(d) => date(d)?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match to {
        Some(d) => date(d)?.succ_opt().unwrap_or(NaiveDate::MAX),
        None => today.succ_opt().unwrap_or(today),
    };
    Ok((midnight(zone, from)?, midnight(zone, to)?))
}

fn date(text: &str) -> Result<NaiveDate, CoreError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| CoreError::Invalid(format!("'{text}': expected a date as YYYY-MM-DD")))
}

fn iso(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

fn local(ms: Millis, zone: &Tz) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.with_timezone(zone).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}
