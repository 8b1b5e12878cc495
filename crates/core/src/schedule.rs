//! Downtime schedules: what to do, to which VMs (or which runbook to run),
//! and when, in an IANA time zone. This module is the vocabulary and the
//! pure parts (reading the forms admins write, checking them, and working
//! out occurrences); the engine claims and runs them.
//!
//! Time semantics, the same for every form:
//! - Every time is wall-clock time in the schedule's zone.
//! - A time that does not exist (the spring-forward gap: 02:30 in
//!   Europe/Berlin on the last Sunday of March) runs once, at the first
//!   instant after the gap (03:00 local).
//! - A time that happens twice (the fall-back overlap: 02:30 on the last
//!   Sunday of October) runs once, at the earlier instant (still summer time).
//!
//! Cron patterns are parsed and walked by `croner`, which has exactly these
//! rules for fixed-time patterns; an interval pattern (`*/15 * * * *`) runs
//! on both instants of a repeated hour, as cron does.

use crate::model::{Millis, OpKind};
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest name, and most holidays or dates, a schedule may carry.
const MAX_NAME: usize = 64;
const MAX_DATES: usize = 1000;
/// The default for running a missed occurrence late.
pub const DEFAULT_GRACE_MINUTES: u32 = 15;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "is_zero")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<i64>"))]
    pub id: i64,
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// An IANA zone name ("Europe/Berlin"); every time is read in it.
    pub zone: String,
    pub when: When,
    pub target: Target,
    /// The power action; for a period, the one that ends it (stop,
    /// deallocate, suspend, hibernate); `None` when the target is a runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional))]
    pub action: Option<OpKind>,
    /// Allow the forced fallback of a stop or reboot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<bool>"))]
    pub force: bool,
    /// Dates (in the zone) on which nothing runs: holidays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(any(test, feature = "ts"), ts(optional, as = "Option<Vec<NaiveDate>>"))]
    pub skip_dates: Vec<NaiveDate>,
    /// A missed occurrence runs if it is at most this late, else it is skipped.
    #[serde(default = "default_grace")]
    pub grace_minutes: u32,
}

fn yes() -> bool {
    true
}
fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn default_grace() -> u32 {
    DEFAULT_GRACE_MINUTES
}

/// What a schedule acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// VM references (name, id, account/name), resolved when it runs.
    Vms(Vec<String>),
    /// A saved group, resolved when it runs.
    Group(String),
    /// A saved runbook, planned when it runs.
    Runbook(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Vms(v) => write!(f, "VMs {}", v.join(", ")),
            Self::Group(g) => write!(f, "group '{g}'"),
            Self::Runbook(r) => write!(f, "runbook '{r}'"),
        }
    }
}

/// When a schedule acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// A time of day on some days of the week: "weekdays at 18:30".
    At {
        #[cfg_attr(any(test, feature = "ts"), ts(as = "String"))]
        days: Days,
        time: NaiveTime,
    },
    /// Full cron: minute hour day-of-month month day-of-week.
    Cron(String),
    /// Once at each of these local times.
    Dates(Vec<NaiveDateTime>),
    /// Running from `from` to `to` on `days`, off otherwise; acts at the
    /// edges. With `enforce`, a VM found on the wrong side is corrected.
    Period {
        #[cfg_attr(any(test, feature = "ts"), ts(as = "String"))]
        days: Days,
        from: NaiveTime,
        to: NaiveTime,
        #[serde(default)]
        enforce: bool,
    },
}

impl When {
    /// Read the forms admins write:
    /// `weekdays at 18:30`, `every day at 07:45`, `mon,wed 09:00`,
    /// `cron 30 18 * * 1-5` (or the five fields alone),
    /// `2026-12-24 18:00, 2026-12-31 17:00`,
    /// `mon-fri 08:00-19:00` (a period; `enforce` is set apart).
    pub fn parse(text: &str) -> Result<When, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("say when: 'weekdays at 18:30', 'mon-fri 08:00-19:00', '2026-12-24 18:00' or a cron pattern".into());
        }
        if let Some(rest) = text.strip_prefix("cron ").or_else(|| text.strip_prefix("cron:")) {
            let pattern = rest.trim().to_string();
            parse_cron(&pattern)?;
            return Ok(When::Cron(pattern));
        }
        if text.split_whitespace().count() == 5 && !text.contains(':') {
            parse_cron(text)?;
            return Ok(When::Cron(text.to_string()));
        }
        if text.starts_with(|c: char| c.is_ascii_digit()) && text.len() > 5 && text.as_bytes().get(4) == Some(&b'-') {
            let mut dates = Vec::new();
            for part in text.split(',') {
                dates.push(parse_date_time(part.trim())?);
            }
            dates.sort();
            dates.dedup();
            return Ok(When::Dates(dates));
        }
        // Days, then a time ("18:30", "at 18:30") or a range ("08:00-19:00").
        let last = text.rsplit_once(' ').map(|(d, t)| (d.trim().trim_end_matches(" at").trim(), t)).unwrap_or(("every day", text));
        let (days_text, time_text) = last;
        let days = if days_text.is_empty() || days_text == "at" { Days::ALL } else { Days::parse(days_text)? };
        if let Some((from, to)) = time_text.split_once('-') {
            let (from, to) = (parse_time(from)?, parse_time(to)?);
            if from == to {
                return Err("a period starts and ends at different times".into());
            }
            return Ok(When::Period { days, from, to, enforce: false });
        }
        Ok(When::At { days, time: parse_time(time_text)? })
    }

    pub fn is_period(&self) -> bool {
        matches!(self, When::Period { .. })
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::At { days, time } => write!(f, "{days} at {}", time.format("%H:%M")),
            Self::Cron(p) => write!(f, "cron {p}"),
            Self::Dates(d) => {
                let all: Vec<String> = d.iter().map(|d| d.format("%Y-%m-%d %H:%M").to_string()).collect();
                write!(f, "{}", all.join(", "))
            }
            Self::Period { days, from, to, enforce } => {
                write!(f, "{days} {}-{}", from.format("%H:%M"), to.format("%H:%M"))?;
                if *enforce {
                    write!(f, " (enforced)")?;
                }
                Ok(())
            }
        }
    }
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("'{s}' is not a time of day (use 24-hour HH:MM, such as 18:30)"))
}

fn parse_date_time(s: &str) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    let bad = || format!("'{s}' is not a date and time (use YYYY-MM-DD HH:MM, such as 2026-12-24 18:00)");
    // chrono alone also takes signed years and run-together forms
    // ("-065-06-26", "2026-12-0221:05", found by the fuzzer), which would
    // be shown in a form that does not read back.
    let (date, time) = s.split_once([' ', 'T']).ok_or_else(bad)?;
    let digits = |p: &str, len: std::ops::RangeInclusive<usize>| len.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    let ymd: Vec<&str> = date.split('-').collect();
    if !matches!(ymd[..], [y, m, d] if digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2)) {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| bad())?;
    Ok(date.and_time(parse_time(time).map_err(|_| bad())?))
}

pub fn parse_cron(pattern: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(pattern)
        .map_err(|e| format!("'{pattern}' is not a cron pattern (minute hour day-of-month month day-of-week): {e}"))
}

/// A set of weekdays; bit 0 is Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Days(u8);

const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Days {
    pub const ALL: Days = Days(0x7f);
    pub const WEEKDAYS: Days = Days(0x1f);
    pub const WEEKENDS: Days = Days(0x60);

    /// `every day`, `daily`, `weekdays`, `weekends`, or names and ranges:
    /// `mon-fri`, `mon,wed,fri`, `sat-mon`.
    pub fn parse(text: &str) -> Result<Days, String> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "every day" | "daily" | "*" | "all" => return Ok(Self::ALL),
            "weekdays" => return Ok(Self::WEEKDAYS),
            "weekends" => return Ok(Self::WEEKENDS),
            _ => {}
        }
        let day = |s: &str| -> Result<usize, String> {
            let s = s.trim();
            NAMES
                .iter()
                .position(|n| s.len() >= 3 && full_name(n).starts_with(s))
                .ok_or_else(|| format!("'{s}' is not a day (use mon, tue, wed, thu, fri, sat, sun, ranges such as mon-fri, or weekdays, weekends, every day)"))
        };
        let mut bits = 0u8;
        for part in t.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut i = a;
                    loop {
                        bits |= 1 << i;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => bits |= 1 << day(part)?,
            }
        }
        Ok(Days(bits))
    }

    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The day after each of these (for a period that ends after midnight).
    fn next_days(self) -> Days {
        Days(((self.0 << 1) | (self.0 >> 6)) & 0x7f)
    }

    /// Cron's day-of-week field (0 is Sunday).
    fn cron_field(self) -> String {
        if self == Self::ALL {
            return "*".into();
        }
        let days: Vec<String> = (0..7).filter(|i| self.0 & (1 << i) != 0).map(|i| ((i + 1) % 7).to_string()).collect();
        days.join(",")
    }
}

fn full_name(short: &str) -> &'static str {
    match short {
        "mon" => "monday",
        "tue" => "tuesday",
        "wed" => "wednesday",
        "thu" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        _ => "sunday",
    }
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::ALL => return f.write_str("every day"),
            Self::WEEKDAYS => return f.write_str("weekdays"),
            Self::WEEKENDS => return f.write_str("weekends"),
            _ => {}
        }
        // Runs of three or more days as a range: mon-thu,sat.
        let mut parts = Vec::new();
        let mut i = 0;
        while i < 7 {
            if self.0 & (1 << i) == 0 {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.0 & (1 << (i + 1)) != 0 {
                i += 1;
            }
            match i - start {
                0 => parts.push(NAMES[start].to_string()),
                1 => parts.extend([NAMES[start].to_string(), NAMES[i].to_string()]),
                _ => parts.push(format!("{}-{}", NAMES[start], NAMES[i])),
            }
            i += 1;
        }
        f.write_str(&parts.join(","))
    }
}

impl Serialize for Days {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Days::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Which edge of a schedule an occurrence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum Edge {
    /// A plain occurrence: do the action.
    Run,
    /// A period begins: start the VMs.
    Start,
    /// A period ends: do the action (stop, deallocate…).
    End,
}

impl Edge {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Start => "start",
            Self::End => "end",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Run, Self::Start, Self::End].into_iter().find(|e| e.as_str() == s)
    }
}

/// One moment a schedule acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Occurrence {
    /// The instant (ms since the epoch, UTC).
    pub at: Millis,
    pub edge: Edge,
    /// It falls on one of the schedule's skip dates: nothing runs.
    pub holiday: bool,
}

impl Schedule {
    /// Everything that can be checked without the store: a name, a zone
    /// that exists, a `when` that parses, an action that fits the target.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME || self.name.chars().any(char::is_control) {
            return Err(format!("a schedule name is 1 to {MAX_NAME} characters, with no control characters"));
        }
        self.timetable()?;
        match (&self.target, self.action) {
            (Target::Runbook(_), Some(_)) => return Err("a schedule that runs a runbook has no power action of its own".into()),
            (Target::Runbook(_), None) if self.when.is_period() => return Err("a period starts and stops VMs; to run a runbook, give a time instead".into()),
            (Target::Vms(v), _) if v.is_empty() => return Err("name at least one VM, a group or a runbook".into()),
            (Target::Vms(_) | Target::Group(_), None) => return Err("say what to do: start, stop, reboot, suspend, deallocate…".into()),
            (Target::Vms(_) | Target::Group(_), Some(kind)) if self.when.is_period() && kind.target() == crate::model::PowerState::Running => {
                return Err(format!("a period starts its VMs at its beginning; '{kind}' cannot end it (use stop, deallocate, suspend or hibernate)"))
            }
            _ => {}
        }
        if self.skip_dates.len() > MAX_DATES {
            return Err(format!("at most {MAX_DATES} skip dates"));
        }
        if self.grace_minutes > 24 * 60 {
            return Err("a missed run may be at most 1440 minutes (a day) late".into());
        }
        Ok(())
    }

    pub fn timetable(&self) -> Result<Timetable, String> {
        let tz: Tz = self.zone.parse().map_err(|_| format!("'{}' is not a time zone (use an IANA name such as Europe/Berlin or UTC)", self.zone))?;
        let plan = match &self.when {
            When::At { days, time } => {
                if days.is_empty() {
                    return Err("choose at least one day".into());
                }
                Plan::Cron(Box::new(parse_cron(&format!("{} {} * * {}", time.minute(), time.hour(), days.cron_field()))?))
            }
            When::Cron(p) => Plan::Cron(Box::new(parse_cron(p)?)),
            When::Dates(dates) => {
                if dates.is_empty() || dates.len() > MAX_DATES {
                    return Err(format!("give 1 to {MAX_DATES} dates"));
                }
                let mut at: Vec<Millis> = dates.iter().map(|d| resolve_local(&tz, *d)).collect();
                at.sort_unstable();
                at.dedup();
                Plan::Dates(at)
            }
            When::Period { days, from, to, .. } => {
                if days.is_empty() {
                    return Err("choose at least one day".into());
                }
                if from == to {
                    return Err("a period starts and ends at different times".into());
                }
                // A period that ends after midnight ends on the next day.
                let end_days = if to < from { days.next_days() } else { *days };
                Plan::Period {
                    start: Box::new(parse_cron(&format!("{} {} * * {}", from.minute(), from.hour(), days.cron_field()))?),
                    end: Box::new(parse_cron(&format!("{} {} * * {}", to.minute(), to.hour(), end_days.cron_field()))?),
                }
            }
        };
        Ok(Timetable { tz, plan, skip: self.skip_dates.clone() })
    }
}

/// A schedule's occurrences, worked out.
#[derive(Debug, Clone)]
pub struct Timetable {
    tz: Tz,
    plan: Plan,
    skip: Vec<NaiveDate>,
}

#[derive(Debug, Clone)]
enum Plan {
    Cron(Box<Cron>),
    Dates(Vec<Millis>),
    Period { start: Box<Cron>, end: Box<Cron> },
}

impl Timetable {
    pub fn zone(&self) -> Tz {
        self.tz
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: Millis) -> Option<Occurrence> {
        let (at, edge) = match &self.plan {
            Plan::Cron(c) => (next_cron(c, &self.tz, after)?, Edge::Run),
            Plan::Dates(d) => (*d.iter().find(|t| **t > after)?, Edge::Run),
            Plan::Period { start, end } => {
                let s = next_cron(start, &self.tz, after);
                let e = next_cron(end, &self.tz, after);
                match (s, e) {
                    (Some(s), Some(e)) if e <= s => (e, Edge::End),
                    (Some(s), _) => (s, Edge::Start),
                    (None, Some(e)) => (e, Edge::End),
                    (None, None) => return None,
                }
            }
        };
        Some(self.occurrence(at, edge))
    }

    /// The occurrences in `(after, upto]`, oldest first, at most `limit`;
    /// the flag says whether more were left out.
    pub fn between(&self, after: Millis, upto: Millis, limit: usize) -> (Vec<Occurrence>, bool) {
        let mut out = Vec::new();
        let mut cursor = after;
        while let Some(o) = self.next_after(cursor) {
            if o.at > upto {
                return (out, false);
            }
            if out.len() == limit {
                return (out, true);
            }
            cursor = o.at;
            out.push(o);
        }
        (out, false)
    }

    /// The next `n` occurrences after `after`.
    pub fn upcoming(&self, after: Millis, n: usize) -> Vec<Occurrence> {
        let mut out = Vec::with_capacity(n);
        let mut cursor = after;
        while out.len() < n {
            let Some(o) = self.next_after(cursor) else { break };
            cursor = o.at;
            out.push(o);
        }
        out
    }

    /// For a period: whether `at` falls inside one (`None` for other
    /// schedules). A period whose start falls on a skip date does not happen.
    pub fn in_period(&self, at: Millis) -> Option<bool> {
        let Plan::Period { start, end } = &self.plan else { return None };
        let last_start = prev_cron(start, &self.tz, at);
        let last_end = prev_cron(end, &self.tz, at);
        Some(match (last_start, last_end) {
            (Some(s), Some(e)) => s > e && !self.is_holiday(s),
            (Some(s), None) => !self.is_holiday(s),
            _ => false,
        })
    }

    /// The date `at` falls on in the schedule's zone.
    pub fn local_date(&self, at: Millis) -> NaiveDate {
        self.local(at).date_naive()
    }

    pub fn local(&self, at: Millis) -> DateTime<Tz> {
        self.tz.from_utc_datetime(&utc(at).naive_utc())
    }

    fn is_holiday(&self, at: Millis) -> bool {
        !self.skip.is_empty() && self.skip.contains(&self.local_date(at))
    }

    fn occurrence(&self, at: Millis, edge: Edge) -> Occurrence {
        // Only a period's start is skipped on a holiday: its end (turning
        // VMs off) is harmless and keeps them off.
        let holiday = edge != Edge::End && self.is_holiday(at);
        Occurrence { at, edge, holiday }
    }
}

fn utc(at: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(at).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn next_cron(c: &Cron, tz: &Tz, after: Millis) -> Option<Millis> {
    let from = tz.from_utc_datetime(&utc(after).naive_utc());
    c.find_next_occurrence(&from, false).ok().map(|t| t.timestamp_millis())
}

fn prev_cron(c: &Cron, tz: &Tz, at: Millis) -> Option<Millis> {
    let from = tz.from_utc_datetime(&utc(at).naive_utc());
    c.find_previous_occurrence(&from, true).ok().map(|t| t.timestamp_millis())
}

/// A local time as an instant, by the rules at the top of this module.
fn resolve_local(tz: &Tz, local: NaiveDateTime) -> Millis {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp_millis(),
        LocalResult::Ambiguous(earlier, _) => earlier.timestamp_millis(),
        LocalResult::None => {
            // In a gap: the first minute after it.
            let mut probe = local;
            for _ in 0..(26 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    let whole = t.with_second(0).unwrap_or(t);
                    return whole.timestamp_millis();
                }
            }
            tz.from_utc_datetime(&local).timestamp_millis()
        }
    }
}

/// Why a schedule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// An occurrence came due.
    Scheduled,
    /// Someone asked for "run now".
    Manual,
    /// An enforced period found VMs on the wrong side and corrected them.
    Enforce,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::Enforce => "enforce",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Scheduled, Self::Manual, Self::Enforce].into_iter().find(|p| p.as_str() == s)
    }
}

/// What became of a firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum FiringStatus {
    /// Claimed; its operations (or run) are being started.
    Claimed,
    /// Its operations or its runbook run were started; their outcome is theirs.
    Started,
    /// A skip date (holiday): nothing ran, by design.
    Skipped,
    /// It came due while Powerdeck was not running (or the computer slept)
    /// and was too late to run.
    Missed,
    /// It could not start (its group or runbook is gone, a VM it names no
    /// longer exists, the provider refused the plan).
    Failed,
    /// Its target resolved to no VMs, or every VM was already there.
    Nothing,
}

impl FiringStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Started => "started",
            Self::Skipped => "skipped",
            Self::Missed => "missed",
            Self::Failed => "failed",
            Self::Nothing => "nothing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Claimed, Self::Started, Self::Skipped, Self::Missed, Self::Failed, Self::Nothing].into_iter().find(|p| p.as_str() == s)
    }
}

/// One occurrence of a schedule as handled, claimed exactly once (a unique
/// key on schedule, occurrence and purpose).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Firing {
    pub id: i64,
    pub schedule_id: i64,
    pub schedule: String,
    /// When it was due (for "run now": when it was asked for).
    pub occurrence: Millis,
    pub purpose: Purpose,
    pub edge: Edge,
    pub status: FiringStatus,
    /// How late it started (a missed run that was still in its grace window).
    pub late_ms: i64,
    pub claimed_at: Millis,
    pub batch_id: Option<i64>,
    pub run_id: Option<i64>,
    /// What a person is told about it.
    pub note: Option<String>,
}

/// A weekday from the short name used in schedules.
pub fn weekday_name(d: Weekday) -> &'static str {
    NAMES[d.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: &str, s: &str) -> Millis {
        let tz: Tz = tz.parse().unwrap();
        resolve_local(&tz, NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    fn utc_text(ms: Millis) -> String {
        utc(ms).format("%Y-%m-%d %H:%M UTC").to_string()
    }

    fn schedule(when: &str, zone: &str) -> Schedule {
        Schedule {
            id: 0,
            name: "t".into(),
            enabled: true,
            zone: zone.into(),
            when: When::parse(when).unwrap(),
            target: Target::Group("g".into()),
            action: Some(OpKind::Stop),
            force: false,
            skip_dates: vec![],
            grace_minutes: 15,
        }
    }

    #[test]
    fn the_forms_admins_write_read_back_the_same() {
        for text in [
            "weekdays at 18:30",
            "every day at 07:45",
            "mon,wed at 09:00",
            "weekends 08:00-19:00",
            "mon-thu,sat at 06:00",
            "cron 30 18 * * 1-5",
            "2026-12-24 18:00, 2026-12-31 17:00",
        ] {
            let when = When::parse(text).unwrap();
            assert_eq!(When::parse(&when.to_string()).unwrap(), when, "{text} → {when}");
        }
        assert_eq!(When::parse("daily at 07:45").unwrap(), When::At { days: Days::ALL, time: NaiveTime::from_hms_opt(7, 45, 0).unwrap() });
        assert_eq!(When::parse("monday, friday 09:00").unwrap().to_string(), "mon,fri at 09:00");
        assert_eq!(When::parse("30 18 * * 1-5").unwrap(), When::Cron("30 18 * * 1-5".into()));
        assert!(When::parse("Mon-Fri 08:00-19:00").unwrap().is_period());
        assert_eq!(When::parse("sat-mon at 10:00").unwrap().to_string(), "mon,sat,sun at 10:00");
    }

    #[test]
    fn bad_forms_say_what_to_write_instead() {
        for (text, hint) in [
            ("", "say when"),
            ("weekdays at 25:00", "24-hour"),
            ("funday at 10:00", "not a day"),
            ("cron 61 * * * *", "not a cron pattern"),
            ("2026-02-30 10:00", "YYYY-MM-DD"),
            // Found by the fuzzer: chrono alone read these, and showed them in a form that does not read back.
            ("2026-12-02 21:05, -065-06-26 08:00", "YYYY-MM-DD"),
            ("2026-12-0221:05", "YYYY-MM-DD"),
            ("mon 08:00-08:00", "different times"),
        ] {
            let err = When::parse(text).unwrap_err();
            assert!(err.contains(hint), "{text}: {err}");
        }
        let mut s = schedule("weekdays at 18:30", "Mars/Olympus");
        assert!(s.validate().unwrap_err().contains("IANA"));
        s.zone = "UTC".into();
        s.target = Target::Runbook("r".into());
        assert!(s.validate().unwrap_err().contains("no power action"));
        s.action = None;
        s.validate().unwrap();
        s.when = When::parse("mon-fri 08:00-19:00").unwrap();
        assert!(s.validate().unwrap_err().contains("give a time"));
        s.target = Target::Group("g".into());
        s.action = Some(OpKind::Start);
        assert!(s.validate().unwrap_err().contains("cannot end it"));
    }

    #[test]
    fn weekdays_at_a_time_in_several_zones() {
        // Friday 2026-11-27, then the weekend is skipped to Monday.
        for (zone, first, after_weekend) in [
            ("Europe/Berlin", "2026-11-27 17:30 UTC", "2026-11-30 17:30 UTC"),
            ("America/New_York", "2026-11-27 23:30 UTC", "2026-11-30 23:30 UTC"),
            ("Asia/Kolkata", "2026-11-27 13:00 UTC", "2026-11-30 13:00 UTC"),
            ("Australia/Sydney", "2026-11-27 07:30 UTC", "2026-11-30 07:30 UTC"),
        ] {
            let t = schedule("weekdays at 18:30", zone).timetable().unwrap();
            let from = at(zone, "2026-11-27 12:00");
            let next: Vec<String> = t.upcoming(from, 2).into_iter().map(|o| utc_text(o.at)).collect();
            assert_eq!(next, [first, after_weekend], "{zone}");
        }
    }

    #[test]
    fn a_time_the_spring_forward_skips_runs_once_just_after_the_gap() {
        // Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST.
        let t = schedule("every day at 02:30", "Europe/Berlin").timetable().unwrap();
        let runs = t.upcoming(at("Europe/Berlin", "2026-03-28 12:00"), 3);
        let text: Vec<String> = runs.iter().map(|o| utc_text(o.at)).collect();
        // 28th at 02:30 CET = 01:30 UTC is before; the 29th runs at 03:00 CEST = 01:00 UTC; the 30th at 02:30 CEST = 00:30 UTC.
        assert_eq!(text, ["2026-03-29 01:00 UTC", "2026-03-30 00:30 UTC", "2026-03-31 00:30 UTC"]);
        // The same rule for one-off dates.
        let d = schedule("2026-03-29 02:30", "Europe/Berlin").timetable().unwrap();
        assert_eq!(utc_text(d.next_after(0).unwrap().at), "2026-03-29 01:00 UTC");
    }

    #[test]
    fn a_time_the_fall_back_repeats_runs_once_at_the_earlier_instant() {
        // Europe/Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET.
        let t = schedule("every day at 02:30", "Europe/Berlin").timetable().unwrap();
        let runs = t.upcoming(at("Europe/Berlin", "2026-10-24 12:00"), 2);
        let text: Vec<String> = runs.iter().map(|o| utc_text(o.at)).collect();
        // 02:30 CEST = 00:30 UTC (the earlier one), once; then 02:30 CET = 01:30 UTC the next day.
        assert_eq!(text, ["2026-10-25 00:30 UTC", "2026-10-26 01:30 UTC"]);
        let d = schedule("2026-10-25 02:30", "Europe/Berlin").timetable().unwrap();
        assert_eq!(utc_text(d.next_after(0).unwrap().at), "2026-10-25 00:30 UTC");
        // New York's own dates and hour (01:30 on 2026-11-01).
        let ny = schedule("every day at 01:30", "America/New_York").timetable().unwrap();
        let text: Vec<String> = ny.upcoming(at("America/New_York", "2026-10-31 12:00"), 2).iter().map(|o| utc_text(o.at)).collect();
        assert_eq!(text, ["2026-11-01 05:30 UTC", "2026-11-02 06:30 UTC"]);
    }

    #[test]
    fn holidays_mark_occurrences_that_do_not_run() {
        let mut s = schedule("weekdays at 18:30", "Europe/Berlin");
        s.skip_dates = vec![NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()];
        let t = s.timetable().unwrap();
        let runs = t.upcoming(at("Europe/Berlin", "2026-12-23 19:00"), 2);
        assert!(runs[0].holiday, "the 24th is skipped");
        assert_eq!(t.local_date(runs[0].at), NaiveDate::from_ymd_opt(2026, 12, 24).unwrap());
        assert!(!runs[1].holiday);
    }

    #[test]
    fn a_period_acts_at_its_edges_and_knows_which_side_a_moment_is_on() {
        let mut s = schedule("mon-fri 08:00-19:00", "Europe/Berlin");
        let t = s.timetable().unwrap();
        let runs = t.upcoming(at("Europe/Berlin", "2026-11-27 07:00"), 3); // a Friday
        let edges: Vec<(Edge, String)> = runs.iter().map(|o| (o.edge, utc_text(o.at))).collect();
        assert_eq!(
            edges,
            [(Edge::Start, "2026-11-27 07:00 UTC".into()), (Edge::End, "2026-11-27 18:00 UTC".into()), (Edge::Start, "2026-11-30 07:00 UTC".into())]
        );
        assert_eq!(t.in_period(at("Europe/Berlin", "2026-11-27 12:00")), Some(true));
        assert_eq!(t.in_period(at("Europe/Berlin", "2026-11-27 20:00")), Some(false));
        assert_eq!(t.in_period(at("Europe/Berlin", "2026-11-28 12:00")), Some(false), "Saturday");
        // A holiday's period does not happen; its end still runs.
        s.skip_dates = vec![NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()];
        let t = s.timetable().unwrap();
        assert_eq!(t.in_period(at("Europe/Berlin", "2026-11-27 12:00")), Some(false));
        let runs = t.upcoming(at("Europe/Berlin", "2026-11-27 07:00"), 2);
        assert!(runs[0].holiday && runs[0].edge == Edge::Start);
        assert!(!runs[1].holiday && runs[1].edge == Edge::End);
    }

    #[test]
    fn a_period_past_midnight_ends_the_next_morning() {
        let t = schedule("fri 22:00-06:00", "UTC").timetable().unwrap();
        let runs = t.upcoming(at("UTC", "2026-11-27 12:00"), 2);
        assert_eq!(utc_text(runs[0].at), "2026-11-27 22:00 UTC");
        assert_eq!(utc_text(runs[1].at), "2026-11-28 06:00 UTC");
        assert_eq!(t.in_period(at("UTC", "2026-11-28 03:00")), Some(true));
        assert_eq!(t.in_period(at("UTC", "2026-11-28 07:00")), Some(false));
    }

    #[test]
    fn between_is_bounded_and_says_when_it_left_some_out() {
        let t = schedule("cron */5 * * * *", "UTC").timetable().unwrap();
        let from = at("UTC", "2026-11-27 00:00");
        let (runs, more) = t.between(from, from + 3_600_000, 100);
        assert_eq!(runs.len(), 12);
        assert!(!more);
        let (runs, more) = t.between(from, from + 86_400_000, 100);
        assert_eq!(runs.len(), 100);
        assert!(more);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    fn when_text() -> impl Strategy<Value = String> {
        let day = "(mon|tue|wed|thu|fri|sat|sun|monday|weekdays|weekends|every day|daily)";
        let time = "[0-9]{1,2}:[0-9]{1,2}";
        let regex = |r: String| proptest::string::string_regex(&r).expect("a regex");
        prop_oneof![
            regex(format!("{day}( at)? {time}")),
            regex(format!("{day}(-{day}|,{day})? {time}-{time}")),
            regex("cron [0-9*/,-]{1,6} [0-9*/,-]{1,6} [0-9*/,-]{1,4} [0-9*/,-]{1,4} [0-9a-z*/,-]{1,6}".into()),
            regex("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2} [0-9]{1,2}:[0-9]{2}(, [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2})?".into()),
            regex("\\PC{0,30}".into()),
        ]
    }

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        /// Whatever an admin types is understood or refused in words, and
        /// what is understood reads back the same from its own display.
        #[test]
        fn a_when_is_understood_or_refused_and_reads_back_as_shown(text in when_text()) {
            crate::fuzzing::schedule(&text);
        }

        #[test]
        fn any_days_or_cron_text_is_understood_or_refused(text in "\\PC{0,30}|[0-9*/,-]{1,5}( [0-9a-zA-Z*/,?#L-]{1,5}){4,6}") {
            crate::fuzzing::schedule(&text);
        }
    }
}
