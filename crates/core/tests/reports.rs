//! The hours report and the findings on the demo fleet, through the real
//! engine: coverage comes from real full syncs, the stop from a verified
//! operation, and the report's numbers from the stored history.

use powerdeck_core::engine::report::{FindingKind, Rates, ReportBy};
use powerdeck_core::model::{now_ms, OpKind, OpPhase, PowerState};
use powerdeck_core::provider::sim::SimConfig;
use powerdeck_core::schedule::{Days, Schedule, Target, When};
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{Engine, OpOptions, Workers};
use powerdeck_testkit::fast::fast_engine_config;
use std::sync::Arc;

fn fleet() -> SimConfig {
    SimConfig {
        size: 8,
        latency_ms: 1,
        page_size: 100,
        drift_per_hour: 0.0,
        stubborn_rate: 0.0,
        feed: false,
        stop_delay_ms: 100,
        start_delay_ms: 100,
        ..SimConfig::default()
    }
}

async fn lab() -> (tempfile::TempDir, Arc<Engine>, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let engine = Engine::with_store(store, dir.path(), fast_engine_config()).unwrap();
    let account = engine.add_account("lab", "sim", serde_json::to_value(fleet()).unwrap(), None).unwrap().id;
    engine.full_sync(account).await.unwrap();
    engine.start(Workers::DRIVER, None).unwrap();
    (dir, engine, account)
}

/// The lab after one VM's verified stop and a full sync: the VM, when the
/// lab was first watched (roughly), and a moment just after it all.
async fn lab_with_a_stop() -> (tempfile::TempDir, Arc<Engine>, powerdeck_core::model::Vm, i64, i64) {
    let (dir, engine, account) = lab().await;
    let start = now_ms();
    let vm = engine.store().vms(&VmFilter { account_id: Some(account), state: Some(PowerState::Running) }).unwrap().remove(0);
    let op = engine.request(vm.id, OpKind::Stop, OpOptions::default()).await.unwrap();
    assert_eq!(engine.wait(op.id, |_| {}).await.unwrap().phase, OpPhase::Succeeded);
    engine.full_sync(account).await.unwrap();
    (dir, engine, vm, start, now_ms() + 50)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_stop_shows_as_stopped_and_saved_time_and_every_millisecond_is_accounted_for() {
    let (_dir, engine, account) = lab().await;
    let from = now_ms();
    let running = engine.store().vms(&VmFilter { account_id: Some(account), state: Some(PowerState::Running) }).unwrap();
    let vm = running[0].clone();
    let op = engine.request(vm.id, OpKind::Stop, OpOptions::default()).await.unwrap();
    let op = engine.wait(op.id, |_| {}).await.unwrap();
    assert_eq!(op.phase, OpPhase::Succeeded, "{op:?}");
    engine.full_sync(account).await.unwrap();
    let now = now_ms() + 50;

    let report = engine.hours_report(from, now + 1, ReportBy::Vm, &chrono_tz::Tz::UTC, &Rates { default: Some(0.5), ..Rates::default() }, now).unwrap();
    assert_eq!(report.until, now);
    let row = report.rows.iter().find(|r| r.name == format!("lab/{}", vm.name)).expect("a row per VM");
    let h = &row.hours;
    // Watched throughout (two full syncs, and the last one is recent): nothing unknown.
    assert_eq!((h.unknown, h.absent, h.attributed), (0, 0, 0), "{h:?}");
    assert_eq!(h.total(), now - from, "every millisecond of the range is counted once: {h:?}");
    assert!(h.running > 0 && h.stopped > 0 && h.saved == h.stopped, "{h:?}");
    assert_eq!(h.billable, h.running, "billed while running only: {h:?}");
    assert!((row.cost.unwrap() - h.billable as f64 / 3_600_000.0 * 0.5).abs() < 1e-9);
    // The account's row and the total add up to the VMs'.
    let by_account = engine.hours_report(from, now + 1, ReportBy::Account, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    assert_eq!(by_account.rows.len(), 1);
    let vms = engine.store().vms(&VmFilter::default()).unwrap().len();
    assert_eq!(by_account.rows[0].hours, by_account.total.hours);
    assert_eq!((by_account.total.vms, by_account.total.hours.total()), (vms, (now - from) * vms as i64));
    let untouched = report.rows.iter().find(|r| r.name == format!("lab/{}", running[1].name)).unwrap();
    assert_eq!((untouched.hours.running, untouched.hours.saved), (now - from, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeline_cuts_the_same_hours_into_stretches_and_places_the_stop_in_the_last_one() {
    let (_dir, engine, vm, start, now) = lab_with_a_stop().await;
    // An hour before the first sync (unknown), cut into 4 stretches; the last runs past now.
    let (from, to) = (start - 3_600_000, now + 10);
    let buckets = engine.vm_timeline(vm.id, from, to, 4, now).unwrap();
    assert_eq!(buckets.len(), 4);
    assert_eq!((buckets[0].from, buckets[3].to), (from, to), "the stretches cover the range");
    assert!(buckets.windows(2).all(|w| w[0].to == w[1].from), "without gaps or overlaps");
    assert!(buckets[..3].iter().all(|b| b.hours.stopped == 0 && b.hours.unknown > 0), "before Powerdeck watched: unknown, never guessed");
    assert!(buckets[3].hours.stopped > 0 && buckets[3].hours.running > 0, "the stop lands in the last stretch: {:?}", buckets[3].hours);
    // The same clock as the report: the stretches add up to the VM's row.
    let report = engine.hours_report(from, to, ReportBy::Vm, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    let row = report.rows.iter().find(|r| r.name == format!("lab/{}", vm.name)).unwrap();
    let mut sum = powerdeck_core::hours::Hours::default();
    buckets.iter().for_each(|b| sum.add(&b.hours));
    assert_eq!((sum.running, sum.stopped, sum.saved), (row.hours.running, row.hours.stopped, row.hours.saved));
    assert_eq!(sum.total(), row.hours.total());

    assert!(engine.vm_timeline(vm.id, to, from, 4, now).is_err(), "an end before the start is refused");
    assert!(engine.vm_timeline(vm.id, from, to, 0, now).is_err() && engine.vm_timeline(vm.id, from, to, 1001, now).is_err());
    assert!(engine.vm_timeline(999_999, from, to, 4, now).unwrap_err().to_string().contains("#999999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_counted_in_parts_at_once_equals_the_single_pass() {
    let (_dir, engine, _vm, start, now) = lab_with_a_stop().await;
    // From before the first sync (unknown) across the stop: the parts' edges
    // fall in unknown time, in watched time and around the stop.
    let (from, to) = (start - 2_000, now + 1);
    let single = engine.hours_report_in_parts(from, to, ReportBy::Vm, &chrono_tz::Tz::UTC, &Rates::default(), now, 1).unwrap();
    for parts in [2, 3, 7, 50] {
        let split = engine.hours_report_in_parts(from, to, ReportBy::Vm, &chrono_tz::Tz::UTC, &Rates::default(), now, parts).unwrap();
        assert_eq!(single.rows.len(), split.rows.len(), "{parts} parts");
        for (a, b) in single.rows.iter().zip(&split.rows) {
            assert_eq!((&a.name, a.hours), (&b.name, b.hours), "{parts} parts");
        }
        assert_eq!(single.total.hours, split.total.hours, "{parts} parts");
    }
    assert!(single.rows.iter().any(|r| r.hours.stopped > 0 && r.hours.unknown > 0), "the range holds a stop and unknown time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hours_csv_is_rfc_4180_with_the_hour_columns_and_a_total() {
    let (_dir, engine, _account) = lab().await;
    let now = now_ms();
    let report = engine.hours_report(now - 60_000, now, ReportBy::Vm, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    let mut out = Vec::new();
    report.write_csv(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "name,account,vms,running_h,stopped_h,deallocated_h,suspended_h,transition_h,unknown_h,attributed_h,billable_h,saved_h,est_cost,est_saved"
    );
    assert_eq!(lines.len(), report.rows.len() + 2, "a line per VM and the total");
    assert!(lines.last().unwrap().starts_with("total,,"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_before_the_account_was_watched_is_unknown_not_guessed() {
    let (_dir, engine, _account) = lab().await;
    let now = now_ms();
    let report = engine.hours_report(now - 3_600_000, now, ReportBy::Account, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    let h = &report.total.hours;
    let vms = report.total.vms as i64;
    assert!(h.unknown > vms * 3_500_000, "the hour before the first sync is unknown: {h:?}");
    assert_eq!(h.total(), vms * 3_600_000);
    assert_eq!(h.attributed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_list_long_running_vms_and_vms_running_outside_their_period_and_act_on_nothing() {
    let (_dir, engine, account) = lab().await;
    let running = engine.store().vms(&VmFilter { account_id: Some(account), state: Some(PowerState::Running) }).unwrap();
    let now = now_ms();
    let long = engine.findings(0, 24, now).unwrap();
    let listed: Vec<_> = long.iter().filter(|f| f.kind == FindingKind::LongRunning).map(|f| f.vm.clone()).collect();
    assert_eq!(listed.len(), running.len(), "{long:?}");
    assert!(long.iter().all(|f| f.suggestion.starts_with("pdk vm stop 'lab/")));
    // Not yet long enough at the default threshold.
    assert!(engine.findings(72, 24, now).unwrap().is_empty());

    // A period that is not now: its running VMs are on the wrong side.
    let names: Vec<String> = running.iter().take(2).map(|v| v.name.clone()).collect();
    engine.save_group("office", &names, None, false).unwrap();
    let hour = (chrono::Utc::now() + chrono::Duration::hours(3)).format("%H:00").to_string();
    let until = (chrono::Utc::now() + chrono::Duration::hours(4)).format("%H:00").to_string();
    let when = When::parse(&format!("mon-sun {hour}-{until}")).unwrap();
    assert!(matches!(when, When::Period { days: Days::ALL, .. }), "{when:?}");
    let s = Schedule {
        id: 0,
        name: "office-hours".into(),
        enabled: true,
        zone: "UTC".into(),
        when,
        target: Target::Group("office".into()),
        action: Some(OpKind::Stop),
        force: false,
        skip_dates: vec![],
        grace_minutes: 15,
    };
    engine.save_schedule(s, false).unwrap();
    let outside: Vec<_> = engine.findings(72, 24, now_ms()).unwrap().into_iter().filter(|f| f.kind == FindingKind::OutsidePeriod).collect();
    assert_eq!(outside.len(), 2, "{outside:?}");
    assert!(outside[0].detail.contains("office-hours"));
    for n in &names {
        assert_eq!(engine.resolve_vm(n).unwrap().state, PowerState::Running, "a finding changes nothing");
    }
}

/// Three VMs with a history written straight into the store, watched from
/// 20 September to 10 November 2026: A runs until 23:30 UTC on 31 October
/// (already 1 November in Berlin), B is stopped throughout, C first appears
/// on 5 November.
fn autumn_in_berlin() -> (tempfile::TempDir, Arc<Engine>, [i64; 2]) {
    use chrono::TimeZone;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("powerdeck.sqlite");
    let store = Arc::new(Store::open(&db).unwrap());
    let engine = Engine::with_store(store, dir.path(), fast_engine_config()).unwrap();
    let account = engine.add_account("lab", "sim", serde_json::to_value(SimConfig { size: 3, ..fleet() }).unwrap(), None).unwrap().id;
    tokio::runtime::Runtime::new().unwrap().block_on(engine.full_sync(account)).unwrap();
    let ids: Vec<i64> = engine.store().vms(&VmFilter::default()).unwrap().iter().map(|v| v.id).collect();
    let berlin = chrono_tz::Europe::Berlin;
    let local = |m: u32, d: u32| berlin.with_ymd_and_hms(2026, m, d, 0, 0, 0).unwrap().timestamp_millis();
    let stop = chrono::Utc.with_ymd_and_hms(2026, 10, 31, 23, 30, 0).unwrap().timestamp_millis();
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("DELETE FROM history; DELETE FROM coverage;").unwrap();
    let put = |vm: i64, at: i64, from: Option<&str>, to: &str| {
        c.execute(
            "INSERT INTO history (vm_id, at, from_state, to_state, raw_state, source) VALUES (?1, ?2, ?3, ?4, ?4, 'sync')",
            rusqlite::params![vm, at, from, to],
        )
        .unwrap();
    };
    put(ids[0], local(9, 1), None, "running");
    put(ids[0], stop, Some("running"), "stopped");
    put(ids[1], local(9, 1), None, "stopped");
    put(ids[2], local(11, 5), None, "running");
    c.execute("INSERT INTO coverage (account_id, from_ms, to_ms) VALUES (?1, ?2, ?3)", rusqlite::params![account, local(9, 20), local(11, 10)]).unwrap();
    (dir, engine, [local(10, 1), local(11, 10)])
}

#[test]
fn a_report_by_month_cuts_at_local_month_starts_with_exact_hours_and_the_vms_that_existed() {
    let (_dir, engine, [from, to]) = autumn_in_berlin();
    let h = |hours: f64| (hours * 3_600_000.0) as i64;
    let berlin = chrono_tz::Europe::Berlin;
    for parts in [1, 3] {
        let r = engine.hours_report_in_parts(from, to, ReportBy::Month, &berlin, &Rates::default(), to, parts).unwrap();
        assert_eq!(r.zone, "Europe/Berlin");
        let rows: Vec<(&str, usize)> = r.rows.iter().map(|r| (r.name.as_str(), r.vms)).collect();
        assert_eq!(rows, [("2026-10", 2), ("2026-11", 3)], "a month counts the VMs seen in it: C did not exist in October");
        let (oct, nov) = (&r.rows[0].hours, &r.rows[1].hours);
        // October has its 25-hour day; the stop at 00:30 local belongs to November.
        assert_eq!((oct.running, oct.stopped, oct.absent), (h(745.0), h(745.0), h(745.0)), "{parts} parts");
        assert_eq!((nov.running, nov.stopped, nov.absent), (h(0.5 + 120.0), h(215.5 + 216.0), h(96.0)), "{parts} parts");
        let mut months = *oct;
        months.add(nov);
        assert_eq!(r.total.hours, months, "the months add up to the whole");
        assert_eq!(r.total.vms, 3);
    }
    // The same instants by UTC months: the range starts on 30 September there.
    let utc = engine.hours_report(from, to, ReportBy::Month, &chrono_tz::Tz::UTC, &Rates::default(), to).unwrap();
    assert_eq!(utc.rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["2026-09", "2026-10", "2026-11"]);
    assert_eq!(utc.rows[1].hours.running, h(31.0 * 24.0 - 0.5), "in UTC the stop falls on 31 October");
}

#[test]
fn prices_per_size_account_and_vm_apply_the_most_specific_and_bad_ones_are_refused() {
    let (_dir, engine, [from, to]) = autumn_in_berlin();
    let vms = engine.store().vms(&VmFilter::default()).unwrap();
    let a = format!("vm:lab/{}", vms[0].name);
    let rates = Rates::parse(&["0.10".into(), "lab=0.20".into(), format!("{a}=1.5")]).unwrap();
    let r = engine.hours_report(from, to, ReportBy::Vm, &chrono_tz::Europe::Berlin, &rates, to).unwrap();
    let cost = |i: usize| r.rows.iter().find(|row| row.name == format!("lab/{}", vms[i].name)).unwrap().cost.unwrap();
    let billable = |i: usize| r.rows.iter().find(|row| row.name == format!("lab/{}", vms[i].name)).unwrap().hours.billable as f64 / 3_600_000.0;
    assert!((cost(0) - billable(0) * 1.5).abs() < 1e-9, "the VM's own price wins");
    assert!((cost(2) - billable(2) * 0.20).abs() < 1e-9, "then the account's");
    for bad in ["-1", "lab=abc", "size:=0.1", "vm:nameonly=0.2", "=0.3", "x=NaN"] {
        let err = Rates::parse(&[bad.to_string()]).unwrap_err().to_string();
        assert!(err.contains(bad) && err.contains("size:SIZE"), "{bad}: {err}");
    }
}
