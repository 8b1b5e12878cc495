//! The Reports view's reads: hours per state (by account for the chart,
//! by VM for the CSV), one VM's timeline, and the findings. All of it is
//! aggregated by the core; the window draws the numbers.

use crate::ipc_error::IpcError;
use crate::AppState;
use powerdeck_core::calendar::local_zone;
use powerdeck_core::engine::report::{Finding, HoursReport, Rates, ReportBy, FINDINGS_LONG_RUNNING_H, FINDINGS_STOPPED_H};
use powerdeck_core::engine::TimelineBucket;
use powerdeck_core::model::now_ms;
use tauri::State;

fn rates(price: Option<f64>) -> Result<Rates, IpcError> {
    match price {
        Some(p) if !(p.is_finite() && p >= 0.0) => Err(IpcError::new("invalid", "the price per hour must be a number, 0 or more")),
        p => Ok(Rates { default: p, ..Rates::default() }),
    }
}

/// Reports read a month of history: off the main thread.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> Result<T, powerdeck_core::CoreError> + Send + 'static) -> Result<T, IpcError> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(IpcError::internal)?.map_err(IpcError::from)
}

#[tauri::command]
pub async fn hours_report(
    state: State<'_, AppState>,
    from: i64,
    to: i64,
    by: String,
    price: Option<f64>,
    zone: Option<String>,
) -> Result<HoursReport, IpcError> {
    let (engine, by, rates) = (state.engine.clone(), by.parse::<ReportBy>()?, rates(price)?);
    // The window's months are the webview's; its zone, when it says one.
    let zone = powerdeck_core::calendar::zone_or_local(zone.as_deref());
    off_thread(move || engine.hours_report(from, to, by, &zone, &rates, now_ms())).await
}

/// The hours by VM as CSV (the same columns as `pdk report hours --csv`),
/// saved where the Activity export goes.
#[tauri::command]
pub async fn save_hours_csv(state: State<'_, AppState>, from: i64, to: i64, price: Option<f64>) -> Result<String, IpcError> {
    let (engine, rates) = (state.engine.clone(), rates(price)?);
    let report = off_thread(move || engine.hours_report(from, to, ReportBy::Vm, &local_zone(), &rates, now_ms())).await?;
    let mut text = Vec::new();
    report.write_csv(&mut text).map_err(IpcError::from)?;
    crate::export::save("hours", &String::from_utf8_lossy(&text))
}

#[tauri::command]
pub async fn vm_timeline(state: State<'_, AppState>, vm_id: i64, from: i64, to: i64, buckets: u32) -> Result<Vec<TimelineBucket>, IpcError> {
    let engine = state.engine.clone();
    off_thread(move || engine.vm_timeline(vm_id, from, to, buckets, now_ms())).await
}

#[tauri::command]
pub async fn findings(state: State<'_, AppState>) -> Result<Vec<Finding>, IpcError> {
    let engine = state.engine.clone();
    off_thread(move || engine.findings(FINDINGS_LONG_RUNNING_H, FINDINGS_STOPPED_H, now_ms())).await
}
