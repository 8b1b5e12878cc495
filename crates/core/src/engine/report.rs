//! Reports built on the verified history: hours per state (with billable
//! time, estimated cost and what Powerdeck's own operations saved), and
//! findings an admin should look at (VMs running for nobody, Azure VMs
//! stopped but still billed, VMs on the wrong side of a schedule's period).
//! Findings are listed with a suggested command; nothing is done to them.

use super::Engine;
use crate::error::CoreError;
use crate::hours::{Billing, Clock, Coverage, Hours};
use crate::model::{Millis, PowerState, Vm};
use crate::schedule::When;
use crate::store::VmFilter;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A finding's thresholds when none are given: running this many hours
/// with no operation by anyone, and (Azure) stopped but billed this long.
pub const FINDINGS_LONG_RUNNING_H: u32 = 72;
pub const FINDINGS_STOPPED_H: u32 = 24;

/// The hour columns' names, in the order `hour_columns` gives them.
pub const HOUR_COLUMNS: [&str; 9] =
    ["running_h", "stopped_h", "deallocated_h", "suspended_h", "transition_h", "unknown_h", "attributed_h", "billable_h", "saved_h"];

/// The hour columns, in the order every table and CSV shows them.
pub fn hour_columns(h: &Hours) -> [Millis; 9] {
    [h.running, h.stopped, h.deallocated, h.suspended, h.transition, h.unknown, h.attributed, h.billable, h.saved]
}

/// What a report's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum ReportBy {
    Vm,
    Account,
    /// A VM in several groups counts in each; VMs in none under "(no group)".
    Group,
    /// By the provider's tags (facts `tag:KEY`), as "KEY=VALUE": a VM with
    /// several tags counts under each; VMs with none under "(no tag)".
    Tag,
    /// By local month (`YYYY-MM`), each counting the VMs Powerdeck saw in it.
    Month,
}

impl std::str::FromStr for ReportBy {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vm" => Ok(ReportBy::Vm),
            "account" => Ok(ReportBy::Account),
            "group" => Ok(ReportBy::Group),
            "tag" => Ok(ReportBy::Tag),
            "month" => Ok(ReportBy::Month),
            other => Err(CoreError::Invalid(format!("'{other}': a report is by vm, account, group, tag or month"))),
        }
    }
}

/// Prices per billable hour. A VM's price is the most specific one given:
/// its own, its size's, its account's, then everyone's.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    pub default: Option<f64>,
    pub accounts: HashMap<String, f64>,
    /// By the value of the VM's size fact (its kind's `size_fact`: EC2's
    /// instance type, Azure's VM size, CloudStack's service offering).
    pub sizes: HashMap<String, f64>,
    /// By `ACCOUNT/NAME`.
    pub vms: HashMap<String, f64>,
}

impl Rates {
    /// Prices as people write them: `0.12` (every VM), `ACCOUNT=0.40`,
    /// `size:SIZE=0.10`, `vm:ACCOUNT/NAME=0.50`.
    pub fn parse(given: &[String]) -> Result<Rates, CoreError> {
        let mut rates = Rates::default();
        for r in given {
            let bad = || {
                CoreError::Invalid(format!(
                    "price '{r}': give a price per billable hour: 0.12 (every VM), ACCOUNT=0.40, size:SIZE=0.10 or vm:ACCOUNT/NAME=0.50"
                ))
            };
            let price = |p: &str| p.trim().parse::<f64>().ok().filter(|p| p.is_finite() && *p >= 0.0).ok_or_else(bad);
            let Some((key, p)) = r.rsplit_once('=') else {
                rates.default = Some(price(r)?);
                continue;
            };
            let (key, p) = (key.trim(), price(p)?);
            let named = |k: &str| Some(k.trim().to_string()).filter(|k| !k.is_empty()).ok_or_else(bad);
            if let Some(size) = key.strip_prefix("size:") {
                rates.sizes.insert(named(size)?, p);
            } else if let Some(vm) = key.strip_prefix("vm:") {
                rates.vms.insert(named(vm).and_then(|v| if v.contains('/') { Ok(v) } else { Err(bad()) })?, p);
            } else {
                rates.accounts.insert(named(key)?, p);
            }
        }
        Ok(rates)
    }

    fn for_vm(&self, account: &str, vm: &Vm, size_fact: Option<&str>) -> Option<f64> {
        let own = || if self.vms.is_empty() { None } else { self.vms.get(&format!("{account}/{}", vm.name)).copied() };
        let size = || size_fact.and_then(|f| vm.facts.get(f)).and_then(|size| self.sizes.get(size)).copied();
        own().or_else(size).or_else(|| self.accounts.get(account).copied()).or(self.default)
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct HoursRow {
    /// The VM's, account's or group's name.
    pub name: String,
    /// For a VM row: its account.
    pub account: Option<String>,
    pub vms: usize,
    pub hours: Hours,
    /// Estimated: billable hours × the price per hour (None without a price).
    pub cost: Option<f64>,
    /// Estimated: hours saved × the price per hour.
    pub saved_cost: Option<f64>,
}

impl HoursRow {
    fn named(name: String, account: Option<String>) -> Self {
        HoursRow { name, account, vms: 0, hours: Hours::default(), cost: None, saved_cost: None }
    }

    /// One VM's hours into the row, priced at its rate.
    fn count(&mut self, h: &Hours, rate: Option<f64>) {
        self.vms += 1;
        self.add(h, rate);
    }

    /// Hours (of a VM counted elsewhere) into the row, priced at `rate`.
    fn add(&mut self, h: &Hours, rate: Option<f64>) {
        self.hours.add(h);
        self.cost = sum(self.cost, rate.map(|r| hours(h.billable) * r));
        self.saved_cost = sum(self.saved_cost, rate.map(|r| hours(h.saved) * r));
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct HoursReport {
    pub from: Millis,
    pub to: Millis,
    /// The report counts up to here (now, if the range is not over yet).
    pub until: Millis,
    pub by: ReportBy,
    /// The IANA time zone months are counted in.
    pub zone: String,
    pub rows: Vec<HoursRow>,
    pub total: HoursRow,
    /// History rows that could not be read and were left out.
    pub unreadable: u64,
}

/// Something an admin should look at.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Finding {
    pub vm: String,
    pub account: String,
    pub kind: FindingKind,
    /// Since when the condition holds.
    pub since: Millis,
    pub detail: String,
    /// The command that would act on it (never run for you).
    pub suggestion: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub enum FindingKind {
    /// Running for a long time with no operation by anyone.
    LongRunning,
    /// Azure: stopped but not deallocated, so compute is still billed.
    StoppedButBilled,
    /// Running while a schedule's period says it should be off.
    OutsidePeriod,
}

impl HoursReport {
    /// The report as CSV (RFC 4180): its rows, then the total. `pdk report
    /// hours --csv` and the window's export both write it here.
    pub fn write_csv(&self, out: impl std::io::Write) -> Result<(), CoreError> {
        let io = |e: csv::Error| CoreError::Invalid(format!("cannot write the CSV: {e}"));
        let mut w = csv::Writer::from_writer(out);
        let header = ["name", "account", "vms"].into_iter().chain(HOUR_COLUMNS).chain(["est_cost", "est_saved"]);
        w.write_record(header).map_err(io)?;
        let f = |ms: Millis| format!("{:.3}", hours(ms));
        let money = |m: Option<f64>| m.map(|c| format!("{c:.2}")).unwrap_or_default();
        for row in self.rows.iter().chain(std::iter::once(&self.total)) {
            let head = [row.name.clone(), row.account.clone().unwrap_or_default(), row.vms.to_string()];
            let tail = [money(row.cost), money(row.saved_cost)];
            w.write_record(head.into_iter().chain(hour_columns(&row.hours).map(f)).chain(tail)).map_err(io)?;
        }
        w.flush().map_err(|e| CoreError::Invalid(format!("cannot write the CSV: {e}")))
    }
}

impl Engine {
    /// Hours per state for every VM in `[from, to)`, rolled up `by`; months
    /// (`ReportBy::Month`) are local months in `zone`.
    pub fn hours_report(&self, from: Millis, to: Millis, by: ReportBy, zone: &Tz, rates: &Rates, now: Millis) -> Result<HoursReport, CoreError> {
        self.hours_report_in_parts(from, to, by, zone, rates, now, report_parts(from, to.min(now).max(from)))
    }

    /// The same report, counted in `parts` consecutive stretches at once
    /// (the answer does not depend on how many: tests check it).
    #[allow(clippy::too_many_arguments)]
    pub fn hours_report_in_parts(
        &self,
        from: Millis,
        to: Millis,
        by: ReportBy,
        zone: &Tz,
        rates: &Rates,
        now: Millis,
        parts: usize,
    ) -> Result<HoursReport, CoreError> {
        if to <= from {
            return Err(CoreError::Invalid("the report's end must come after its start".into()));
        }
        let until = to.min(now).max(from);
        let accounts: HashMap<i64, (String, String)> = self.store.accounts()?.into_iter().map(|a| (a.id, (a.name, a.kind))).collect();
        let vms: Vec<Vm> = self.store.vms(&VmFilter::default())?;
        let coverage = self.store.coverage(now)?;
        let none = Coverage::default();

        // One clock per VM, found by its row id (ids are dense) for each of
        // the millions of changes a scan hands over; each VM's price beside it.
        let account_name = |vm: &Vm| accounts.get(&vm.account_id).map(|a| a.0.clone()).unwrap_or_default();
        let size_fact = |vm: &Vm| accounts.get(&vm.account_id).and_then(|a| crate::provider::registry::kind(&a.1).ok()).and_then(|k| k.size_fact);
        let mut slot: Vec<u32> = Vec::new();
        let mut clocks: Vec<(i64, &Coverage, Billing)> = Vec::with_capacity(vms.len());
        let mut rate_of_slot: Vec<Option<f64>> = Vec::with_capacity(vms.len());
        for vm in &vms {
            let kind = accounts.get(&vm.account_id).map(|a| a.1.as_str()).unwrap_or_default();
            let Ok(i) = usize::try_from(vm.id) else { continue };
            if i >= slot.len() {
                slot.resize(i + 1, u32::MAX);
            }
            slot[i] = clocks.len() as u32;
            clocks.push((vm.id, coverage.get(&vm.account_id).unwrap_or(&none), Billing::for_kind(kind)));
            rate_of_slot.push(rates.for_vm(&account_name(vm), vm, size_fact(vm)));
        }
        // A long range is cut into consecutive parts counted at once, each
        // on its own connection: adjacent ranges add up to the whole (the
        // clock is built so), so the sum is the single pass's answer. A
        // report by month is also cut at each month's start, and each part
        // is added to its month as it is counted (a year of parts is never
        // held at once).
        let parts = parts.clamp(1, 64);
        let months = if by == ReportBy::Month { crate::calendar::months(zone, from, until.max(from + 1))? } else { Vec::new() };
        let mut edges: Vec<Millis> = (0..=parts).map(|i| from + ((i128::from(until - from) * i as i128) / parts as i128) as Millis).collect();
        edges.extend(months.iter().map(|m| m.1).filter(|&t| t > from && t < until));
        edges.sort_unstable();
        edges.dedup();
        let month_of = |start: Millis| months.iter().position(|m| m.1 <= start && start < m.2);
        let tally = std::sync::Mutex::new(Tally {
            per_slot: vec![Hours::default(); clocks.len()],
            months: months.iter().map(|(label, ..)| (HoursRow::named(label.clone(), None), vec![false; clocks.len()])).collect(),
        });
        let unreadable = self.count(&edges, &slot, &clocks, now, parts, &|i, piece| {
            let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
            let month = month_of(edges[i]);
            for (k, h) in piece.iter().enumerate() {
                t.per_slot[k].add(h);
                if let Some((row, seen)) = month.and_then(|m| t.months.get_mut(m)) {
                    row.add(h, rate_of_slot[k]);
                    // A month counts the VMs Powerdeck saw in it.
                    seen[k] |= h.known() > 0;
                }
            }
        })?;
        let Tally { per_slot, months: month_rows } = tally.into_inner().unwrap_or_else(|p| p.into_inner());
        let slot_of = |vm: &Vm| usize::try_from(vm.id).ok().and_then(|i| slot.get(i)).map(|&k| k as usize);

        let mut rows: BTreeMap<String, HoursRow> = BTreeMap::new();
        let mut add = |key: String, account: Option<String>, rate: Option<f64>, h: &Hours| {
            let row = rows.entry(key.clone()).or_insert_with(|| HoursRow::named(key, account));
            row.count(h, rate);
        };
        let mut total = HoursRow::named("total".into(), None);
        let memberships = if by == ReportBy::Group { self.group_memberships()? } else { HashMap::new() };
        for vm in &vms {
            let k = slot_of(vm);
            let (h, rate) = k.map(|k| (per_slot[k], rate_of_slot[k])).unwrap_or_default();
            total.count(&h, rate);
            match by {
                // Keyed by account and name: two accounts may hold VMs of one name.
                ReportBy::Vm => add(format!("{}/{}", account_name(vm), vm.name), Some(account_name(vm)), rate, &h),
                ReportBy::Account => add(account_name(vm), None, rate, &h),
                ReportBy::Group => match memberships.get(&vm.id) {
                    Some(groups) => groups.iter().for_each(|g| add(g.clone(), None, rate, &h)),
                    None => add("(no group)".into(), None, rate, &h),
                },
                ReportBy::Tag => {
                    let mut tagged = false;
                    for (key, value) in vm.facts.iter().filter_map(|(k, v)| k.strip_prefix("tag:").map(|k| (k, v))) {
                        add(if value.is_empty() { key.to_string() } else { format!("{key}={value}") }, None, rate, &h);
                        tagged = true;
                    }
                    if !tagged {
                        add("(no tag)".into(), None, rate, &h);
                    }
                }
                ReportBy::Month => {}
            }
        }
        // By month: every month of the range up to now, in order, with the VMs seen in it.
        for (mut row, seen) in month_rows {
            row.vms = seen.iter().filter(|s| **s).count();
            rows.insert(row.name.clone(), row);
        }
        Ok(HoursReport { from, to, until, by, zone: zone.name().to_string(), rows: rows.into_values().collect(), total, unreadable })
    }

    /// Every VM's hours in each range `edges` cuts out (`edges[i]` to
    /// `edges[i + 1]`), counted by up to `workers` threads at once, each
    /// range on a read-only connection of its own and handed to `fold`
    /// (range index, hours per clock) as soon as it is counted; returns the
    /// history rows that could not be read.
    /// `clocks`: each VM's id, coverage and billing rule; `slot`: a VM id's
    /// index in `clocks`.
    fn count(
        &self,
        edges: &[Millis],
        slot: &[u32],
        clocks: &[(i64, &Coverage, Billing)],
        now: Millis,
        workers: usize,
        fold: &(dyn Fn(usize, Vec<Hours>) + Sync),
    ) -> Result<u64, CoreError> {
        let ranges = edges.len().saturating_sub(1);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let counted: Vec<Result<u64, CoreError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers.clamp(1, ranges.max(1)))
                .map(|_| {
                    let next = &next;
                    scope.spawn(move || -> Result<u64, CoreError> {
                        let mut unreadable = 0;
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if i >= ranges {
                                return Ok(unreadable);
                            }
                            let (hours, bad) = self.hours_part(edges[i], edges[i + 1], slot, clocks, now)?;
                            unreadable += bad;
                            fold(i, hours);
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(CoreError::Invalid("a report part failed".into())))).collect()
        });
        counted.into_iter().sum()
    }

    /// Every VM's hours in `[from, end)`, one part of a report, read on a
    /// connection of its own.
    fn hours_part(&self, from: Millis, end: Millis, slot: &[u32], clocks: &[(i64, &Coverage, Billing)], now: Millis) -> PartCount {
        use crate::store::report::{changes_before, first_changes_from, scan_changes};
        let counted = self.store.with_scan_connection(|c| {
            let before = changes_before(c, from)?;
            let mut running: Vec<Clock> = clocks.iter().map(|&(id, cov, billing)| Clock::new(cov, billing, from, end, before.get(&id).copied())).collect();
            let unreadable = scan_changes(c, from, end, |vm, change| {
                let at = usize::try_from(vm).ok().and_then(|i| slot.get(i)).copied().unwrap_or(u32::MAX);
                if let Some(clock) = running.get_mut(at as usize) {
                    clock.change(change);
                }
            })?;
            let after = first_changes_from(c, end)?;
            let hours = running.into_iter().zip(clocks).map(|(clock, (id, ..))| clock.finish(after.get(id).copied(), now)).collect();
            Ok((hours, unreadable))
        })?;
        Ok(counted)
    }

    /// Which groups each VM is in now.
    fn group_memberships(&self) -> Result<HashMap<i64, Vec<String>>, CoreError> {
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        let groups = self.store.groups()?;
        if groups.is_empty() {
            return Ok(out);
        }
        // The inventory once, not once per group.
        let inventory = self.group_inventory()?;
        for g in &groups {
            for vm in inventory.resolve(g).0 {
                out.entry(vm.id).or_default().push(g.name.clone());
            }
        }
        Ok(out)
    }

    /// VMs worth a look now: running for `long_running_h` hours or more with
    /// no operation by anyone; Azure VMs stopped (not deallocated) for
    /// `billed_stopped_h` hours or more; VMs running while a schedule's
    /// period says they should be off.
    pub fn findings(&self, long_running_h: u32, billed_stopped_h: u32, now: Millis) -> Result<Vec<Finding>, CoreError> {
        let accounts: HashMap<i64, (String, String)> = self.store.accounts()?.into_iter().map(|a| (a.id, (a.name, a.kind))).collect();
        let last_ops = self.store.last_operation_times()?;
        let mut out = Vec::new();
        for vm in self.store.vms(&VmFilter::default())? {
            let Some((account, kind)) = accounts.get(&vm.account_id) else { continue };
            let since = vm.last_state_change_at;
            let quiet_since = last_ops.get(&vm.id).map_or(since, |op| since.max(*op));
            let reference = format!("{account}/{}", vm.name);
            if vm.state == PowerState::Running && now - quiet_since >= long_running_h as Millis * 3_600_000 {
                out.push(Finding {
                    vm: vm.name.clone(),
                    account: account.clone(),
                    kind: FindingKind::LongRunning,
                    since,
                    detail: format!("running for {} with no operation by anyone", span(now - since)),
                    suggestion: format!("pdk vm stop '{reference}'  (or add it to a schedule: pdk schedules add …)"),
                });
            }
            if Billing::for_kind(kind) == Billing::WhileAllocated && vm.state == PowerState::Stopped && now - since >= billed_stopped_h as Millis * 3_600_000 {
                out.push(Finding {
                    vm: vm.name.clone(),
                    account: account.clone(),
                    kind: FindingKind::StoppedButBilled,
                    since,
                    detail: format!("stopped but not deallocated for {}: Azure still bills its compute", span(now - since)),
                    suggestion: format!("pdk vm deallocate '{reference}'"),
                });
            }
        }
        out.extend(self.outside_period_findings(now)?);
        out.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.vm.cmp(&b.vm)));
        Ok(out)
    }

    fn outside_period_findings(&self, now: Millis) -> Result<Vec<Finding>, CoreError> {
        let accounts: HashMap<i64, String> = self.store.accounts()?.into_iter().map(|a| (a.id, a.name)).collect();
        let mut out = Vec::new();
        for rec in self.store.schedules()? {
            let s = &rec.schedule;
            if !s.enabled || !matches!(s.when, When::Period { .. }) {
                continue;
            }
            let Ok(table) = s.timetable() else { continue };
            if table.in_period(now) != Some(false) {
                continue;
            }
            let Ok(resolved) = self.schedule_targets(s) else { continue };
            for vm in resolved.vms.iter().filter(|v| v.state == PowerState::Running) {
                let account = accounts.get(&vm.account_id).cloned().unwrap_or_default();
                out.push(Finding {
                    vm: vm.name.clone(),
                    account: account.clone(),
                    kind: FindingKind::OutsidePeriod,
                    since: vm.last_state_change_at,
                    detail: format!("running outside the period of schedule '{}' ({})", s.name, s.when),
                    suggestion: format!("pdk vm stop '{account}/{}'  (or: pdk schedules edit '{}' --enforce)", vm.name, s.name),
                });
            }
        }
        Ok(out)
    }
}

/// Every VM's hours in one part of a report, and the history rows that
/// could not be read.
type PartCount = Result<(Vec<Hours>, u64), CoreError>;

/// What a report's parts add up to as they are counted: each VM's hours,
/// and for a report by month each month's row and the VMs seen in it.
struct Tally {
    per_slot: Vec<Hours>,
    months: Vec<(HoursRow, Vec<bool>)>,
}

/// How many parts a report over `[from, until)` is counted in: one per
/// core (at most four) for a range of two days or more, where the scan is
/// long enough for the split to pay; one otherwise.
fn report_parts(from: Millis, until: Millis) -> usize {
    const TWO_DAYS: Millis = 2 * 86_400_000;
    if until - from < TWO_DAYS {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn sum(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// Milliseconds as hours.
pub fn hours(ms: Millis) -> f64 {
    ms as f64 / 3_600_000.0
}

fn span(ms: Millis) -> String {
    let h = ms / 3_600_000;
    if h >= 48 {
        format!("{} days", h / 24)
    } else {
        format!("{h} h")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Facts;

    fn vm(name: &str, facts: &[(&str, &str)]) -> Vm {
        let facts: Facts = facts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        serde_json::from_value(serde_json::json!({
            "id": 1, "account_id": 1, "account": "prod", "provider_id": "i-1", "name": name, "state": "running",
            "raw_state": "running", "tools": null, "location": null, "facts": facts, "stale": false, "watched": true,
            "last_seen_at": 0, "last_state_change_at": 0
        }))
        .unwrap()
    }

    #[test]
    fn a_vm_is_priced_by_itself_then_its_size_then_its_account_then_everyone() {
        let given = ["0.01", "prod=0.05", "size:t3.large=0.0832", "size:Standard_B2s=0.0416", "vm:prod/db-1=2"].map(String::from);
        let rates = Rates::parse(&given).unwrap();
        let large = vm("web-1", &[("instance_type", "t3.large")]);
        assert_eq!(rates.for_vm("prod", &large, Some("instance_type")), Some(0.0832));
        assert_eq!(rates.for_vm("prod", &large, Some("vm_size")), Some(0.05), "another kind's size fact does not apply");
        assert_eq!(rates.for_vm("prod", &vm("db-1", &[("instance_type", "t3.large")]), Some("instance_type")), Some(2.0));
        assert_eq!(rates.for_vm("dev", &vm("web-2", &[("instance_type", "t3.nano")]), Some("instance_type")), Some(0.01));
        assert_eq!(Rates::default().for_vm("prod", &large, Some("instance_type")), None, "no price, no estimate");
    }

    #[test]
    fn report_by_names_parse_and_a_wrong_one_lists_the_right_ones() {
        let names = ["vm", "account", "group", "tag", "month"];
        let parsed: Vec<ReportBy> = names.iter().map(|n| n.parse().unwrap()).collect();
        assert_eq!(parsed, [ReportBy::Vm, ReportBy::Account, ReportBy::Group, ReportBy::Tag, ReportBy::Month]);
        let err = "week".parse::<ReportBy>().unwrap_err().to_string();
        assert!(err.contains("'week'") && names.iter().all(|n| err.contains(n)), "{err}");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn any_price_is_understood_or_refused_in_words(given in prop::collection::vec("\\PC{0,20}|(size:|vm:)?[a-z/]{0,8}=-?[0-9.eE+-]{0,8}|NaN|inf", 0..4)) {
            crate::fuzzing::prices(&given.join("\n"));
        }
    }
}
