//! A power request's job: ARM answers `202 Accepted` with the URL of an
//! async operation (`Azure-AsyncOperation`, else `Location`), and that URL
//! is the job handle. It is journalled, and a bearer token goes to it on
//! every poll, so it is kept only if it is on Resource Manager itself,
//! under the VM's subscription, and carries nothing secret; otherwise the
//! operation is followed by the VM's state alone.

use super::arm::Arm;
use super::wire::{clean, OperationStatus};
use crate::provider::http::HttpResponse;
use crate::provider::{JobStatus, ProviderError, ProviderResult};
use crate::secrets::Secret;
use std::time::Duration;

/// The `Location` flavour is marked; an `Azure-AsyncOperation` URL is the handle as it is.
const LOCATION: &str = "location:";
const MAX_LEN: usize = 2048;
/// Longest wait an answer may ask for between polls: ARM's own are seconds;
/// a huge one is a broken or hostile server, not a reason to stop looking.
const MAX_POLL_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// GET answers `{"status": "InProgress|Succeeded|Failed|Canceled", "error"}`.
    AsyncOperation(reqwest::Url),
    /// GET answers 202 while running, 200/204 when done, an error when failed.
    Location(reqwest::Url),
}

impl Job {
    /// The job a 202 names, if one may be followed. `subscription`: the VM's.
    pub fn from_answer(arm: &Arm, resp: &HttpResponse, subscription: &str, token: &Secret) -> Option<Job> {
        let header = |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
        let named = header("azure-asyncoperation").map(|u| (u, true)).or_else(|| header("location").map(|u| (u, false)))?;
        match checked(arm, named.0, subscription, Some(token)) {
            Ok(url) if named.1 => Some(Job::AsyncOperation(url)),
            Ok(url) => Some(Job::Location(url)),
            Err(why) => {
                tracing::warn!(why, "ARM accepted a power request but its async operation cannot be followed; the VM's state decides");
                None
            }
        }
    }

    /// The handle, as journalled.
    pub fn encode(&self) -> String {
        match self {
            Self::AsyncOperation(u) => u.to_string(),
            Self::Location(u) => format!("{LOCATION}{u}"),
        }
    }

    /// A journalled handle, checked again (the journal may be older than a
    /// change of endpoint), and the subscription it is charged to.
    pub fn decode(arm: &Arm, handle: &str) -> ProviderResult<(Job, String)> {
        let (raw, location) = match handle.strip_prefix(LOCATION) {
            Some(rest) => (rest, true),
            None => (handle, false),
        };
        let url = reqwest::Url::parse(raw).map_err(|_| ProviderError::NotFound { what: "the job (its handle is not an async-operation URL)".into() })?;
        let subscription = url.path_segments().and_then(|mut s| s.nth(1)).unwrap_or_default().to_ascii_lowercase();
        let url = checked(arm, raw, &subscription, None).map_err(|why| ProviderError::NotFound { what: format!("the job ({why})") })?;
        Ok((if location { Job::Location(url) } else { Job::AsyncOperation(url) }, subscription))
    }

    pub fn url(&self) -> &reqwest::Url {
        match self {
            Self::AsyncOperation(u) | Self::Location(u) => u,
        }
    }
}

fn checked(arm: &Arm, raw: &str, subscription: &str, token: Option<&Secret>) -> Result<reqwest::Url, String> {
    if raw.len() > MAX_LEN || raw.chars().any(char::is_control) {
        return Err("the async-operation URL is implausible".into());
    }
    if arm.redact(raw, token) != raw {
        return Err("the async-operation URL carries a secret".into());
    }
    let url = reqwest::Url::parse(raw).map_err(|_| "the async-operation header is not a URL".to_string())?;
    if !arm.is_ours(&url) {
        return Err("the async-operation URL is not on Resource Manager's endpoint".into());
    }
    let under = format!("/subscriptions/{subscription}/");
    if subscription.is_empty() || !url.path().to_ascii_lowercase().starts_with(&under) {
        return Err("the async-operation URL is not under the VM's subscription".into());
    }
    Ok(url)
}

/// An async operation's status body as a job status.
pub fn status(op: &OperationStatus) -> JobStatus {
    let error = || {
        let e = op.error.as_ref();
        let code = e.and_then(|e| e.code.as_deref()).map(clean).unwrap_or_default();
        let message = e.and_then(|e| e.message.as_deref()).map(clean).unwrap_or_default();
        match (code.is_empty(), message.is_empty()) {
            (true, true) => None,
            (false, true) => Some(code),
            (true, false) => Some(message),
            (false, false) => Some(format!("{code}: {message}")),
        }
    };
    match op.status.to_ascii_lowercase().as_str() {
        "succeeded" => JobStatus::Succeeded,
        "failed" => JobStatus::Failed(error().unwrap_or_else(|| "Azure reports the operation failed".into())),
        "canceled" | "cancelled" => JobStatus::Failed(format!("Azure canceled the operation{}", error().map(|e| format!(" ({e})")).unwrap_or_default())),
        // InProgress, Accepted, Running, Updating…: anything not terminal.
        _ => JobStatus::Running { poll_after: None },
    }
}

/// When an answer asks to be polled again: `retry-after-ms`,
/// `x-ms-retry-after-ms`, then `Retry-After`, at most a minute.
pub fn poll_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let ms =
        ["retry-after-ms", "x-ms-retry-after-ms"].iter().find_map(|h| headers.get(*h)?.to_str().ok()?.trim().parse::<u64>().ok()).map(Duration::from_millis);
    ms.or_else(|| crate::provider::http::retry_after(headers)).filter(|d| !d.is_zero()).map(|d| d.min(MAX_POLL_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(status: &str, error: Option<(&str, &str)>) -> OperationStatus {
        serde_json::from_value(serde_json::json!({
            "status": status,
            "error": error.map(|(c, m)| serde_json::json!({"code": c, "message": m})),
        }))
        .unwrap()
    }

    #[test]
    fn every_end_of_an_async_operation_is_told_apart() {
        assert_eq!(status(&op("InProgress", None)), JobStatus::Running { poll_after: None });
        assert_eq!(status(&op("Succeeded", None)), JobStatus::Succeeded);
        assert_eq!(
            status(&op("Failed", Some(("AllocationFailed", "No capacity in eastus.")))),
            JobStatus::Failed("AllocationFailed: No capacity in eastus.".into())
        );
        match status(&op("Canceled", Some(("OperationPreempted", "Operation execution has been preempted by a more recent operation.")))) {
            JobStatus::Failed(m) => assert!(m.starts_with("Azure canceled the operation (OperationPreempted: "), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(status(&op("Failed", None)), JobStatus::Failed("Azure reports the operation failed".into()));
    }

    #[test]
    fn the_wait_between_polls_is_the_servers_but_never_absurd() {
        let h = |pairs: &[(&'static str, &str)]| {
            let mut m = reqwest::header::HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        assert_eq!(poll_after(&h(&[("retry-after", "2")])), Some(Duration::from_secs(2)));
        assert_eq!(poll_after(&h(&[("retry-after", "2"), ("retry-after-ms", "250")])), Some(Duration::from_millis(250)));
        assert_eq!(poll_after(&h(&[("retry-after", "1000000000000")])), Some(MAX_POLL_AFTER));
        assert_eq!(poll_after(&h(&[("retry-after", "0")])), None);
        assert_eq!(poll_after(&h(&[])), None);
    }
}
