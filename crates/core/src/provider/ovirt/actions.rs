//! Power actions (`POST /vms/{id}/{action}` with `<action/>`) and the
//! engine's jobs. Every action carries a correlation id of ours, so the
//! events it causes are recognised in the feed, and a failed job is
//! explained by the error events logged under that id.
//!
//! "complete" means the engine accepted (and for stop, reset and start
//! executed) the command, not that the VM got there: the operation is
//! tracked to the VM's status. Which job is worth following:
//! - start: its job ends when the VM is up (or fails, with the reason);
//! - stop (power off) and reset: vdsm carried them out inside the call;
//! - suspend: its job ends after the memory is saved (202 `in_progress`);
//! - shutdown and reboot: their job ends once the guest was *asked*; a
//!   guest that ignores it shows only later (the VM comes back up, event
//!   147). Following that job would read "finished" as "done" and end the
//!   operation before its graceful window lets the forced fallback run, so
//!   these are followed by the VM's status alone.

use super::api::Api;
use super::vm;
use crate::provider::calls::Call;
use crate::provider::{JobStatus, PowerAction, ProviderError, ProviderResult, Submission};
use std::collections::VecDeque;
use std::sync::Mutex;

/// How many of our recent correlation ids are remembered for the feed.
const REMEMBERED: usize = 512;
/// Separates the engine's job id from our correlation id in a job handle.
const JOB_SEPARATOR: char = '/';

/// Our correlation ids: what marks an event as caused by Powerdeck.
#[derive(Default)]
pub struct Correlations {
    recent: Mutex<VecDeque<String>>,
}

impl Correlations {
    /// A fresh id, remembered. The engine keeps `[0-9a-zA-Z_-]`, at most 36.
    pub fn issue(&self) -> String {
        let id = format!("pdk-{}", uuid::Uuid::new_v4().simple().to_string().get(..20).unwrap_or_default());
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.len() == REMEMBERED {
            recent.pop_front();
        }
        recent.push_back(id.clone());
        id
    }

    pub fn is_ours(&self, id: &str) -> bool {
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|r| r == id)
    }
}

/// The action's name in the API, and whether its job says the VM got there.
fn verb(action: PowerAction) -> ProviderResult<(&'static str, bool)> {
    Ok(match action {
        PowerAction::Start => ("start", true),
        PowerAction::PowerOff => ("stop", true),
        PowerAction::Reset => ("reset", true),
        PowerAction::Suspend => ("suspend", true),
        PowerAction::ShutdownGuest => ("shutdown", false),
        PowerAction::RebootGuest => ("reboot", false),
        PowerAction::Hibernate | PowerAction::Deallocate => return Err(ProviderError::Unsupported { action: format!("{} on oVirt", action.as_str()) }),
    })
}

/// The engine asks the guest to shut down only while it is up; in any
/// other status it powers the VM off instead (`ShutdownVmCommand` runs
/// StopVm, event 76), or discards a suspended VM's memory. A graceful stop
/// must not become that silently: it is refused here, so the operation
/// falls back to force only where the user allowed it.
async fn check_graceful_possible(api: &Api, id: &str) -> ProviderResult<()> {
    let answer = api.get(Call::other(), &format!("vms/{id}"), &[], "vm").await?;
    let reading = vm::read(&answer.root)?;
    if reading.obs.provider_id != id {
        return Err(ProviderError::malformed(format!("asked about VM {id}, the engine answered about {}", reading.obs.provider_id)));
    }
    match reading.obs.raw_state.as_str() {
        "up" | "down" => Ok(()),
        other => Err(ProviderError::InvalidState {
            message: format!("the guest can be asked to shut down only while the VM is up; it is {other}, and the engine would power it off (or drop its saved state) instead"),
        }),
    }
}

pub async fn submit(api: &Api, ours: &Correlations, id: &str, action: PowerAction) -> ProviderResult<Submission> {
    let (name, job_proves) = verb(action)?;
    if action == PowerAction::ShutdownGuest {
        check_graceful_possible(api, id).await?;
    }
    let correlation = ours.issue();
    let url = api.url(&format!("vms/{id}/{name}"), &[]);
    let answer = api.post(Call::submit(), url, "<action/>".into(), &[("Correlation-Id", correlation.as_str())], "action").await?;
    let root = &answer.root;
    let echoed = answer.headers.get("Correlation-Id").and_then(|v| v.to_str().ok());
    if echoed.is_some_and(|e| e != correlation) {
        tracing::warn!(sent = %correlation, "the engine changed our correlation id; the events of this request will not be recognised as ours");
    }
    if let Some(other) = root.child("vm").and_then(|v| v.attr("id")).filter(|v| *v != id) {
        return Err(ProviderError::malformed(format!("the engine's answer to {name} names VM {other}, not {id}")));
    }
    match root.child("status").map(|s| s.text()) {
        Some("complete" | "in_progress" | "pending") => {}
        Some("failed") => {
            let (reason, detail) = root.child("fault").map(|f| super::fault::words(f, api.redactor())).unwrap_or_default();
            return Err(super::fault::classify(answer.status, &reason, if detail.is_empty() { "the engine reports the action failed" } else { &detail }));
        }
        other => {
            let shown: String = other.unwrap_or("none").chars().filter(|c| !c.is_control()).take(40).collect();
            return Err(ProviderError::malformed(format!("the engine answered {name} with status '{shown}'; the request may have been carried out")));
        }
    }
    let job = root.child("job").and_then(|j| j.attr("id")).filter(|j| !j.is_empty() && !j.contains(JOB_SEPARATOR));
    Ok(Submission { job: job.filter(|_| job_proves).map(|j| format!("{j}{JOB_SEPARATOR}{correlation}")), observed: None })
}

/// A job handle we made: the engine's job id and our correlation id.
fn split(handle: &str) -> (&str, Option<&str>) {
    match handle.split_once(JOB_SEPARATOR) {
        Some((job, corr)) => (job, Some(corr)),
        None => (handle, None),
    }
}

pub async fn poll(api: &Api, handle: &str) -> ProviderResult<JobStatus> {
    let (job, correlation) = split(handle);
    if job.is_empty() || !job.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ProviderError::malformed(format!("'{}' is not a job id of the engine's", handle.chars().take(60).collect::<String>())));
    }
    let answer = match api.get(Call::poll(), &format!("jobs/{job}"), &[], "job").await {
        Ok(a) => a,
        // The engine clears finished jobs (after 10 minutes for successful
        // ones): one it no longer has has ended, and the VM's status decides.
        Err(ProviderError::NotFound { .. }) => return Ok(JobStatus::Succeeded),
        Err(e) => return Err(e),
    };
    if answer.root.attr("id").is_some_and(|got| got != job) {
        return Err(ProviderError::malformed(format!("asked about job {job}, the engine answered about another")));
    }
    let status = answer.root.child("status").map(|s| s.text().to_string()).unwrap_or_default();
    Ok(match status.as_str() {
        "started" => JobStatus::Running { poll_after: None },
        "finished" => JobStatus::Succeeded,
        // The engine lost track of it (a restart): the VM's status decides.
        "unknown" => JobStatus::Succeeded,
        "failed" | "aborted" => {
            let description = answer.root.child("description").map(|d| api.redactor().clean(d.text())).unwrap_or_default();
            let why = match correlation {
                Some(c) => errors_logged_under(api, c).await,
                None => None,
            };
            JobStatus::Failed(match why {
                Some(why) => format!("{description} {status}: {why}"),
                None => format!("{description} {status}"),
            })
        }
        other => {
            return Err(ProviderError::malformed(format!(
                "job {job} is in a status the engine does not have ('{}')",
                other.chars().take(40).collect::<String>()
            )))
        }
    })
}

/// The error events the engine logged under our correlation id: why a job failed.
async fn errors_logged_under(api: &Api, correlation: &str) -> Option<String> {
    let search = format!("correlation_id={correlation}");
    let answer = api.get(Call::poll(), "events", &[("search", search.as_str())], "events").await.ok()?;
    let mut errors: Vec<(u64, String)> = answer
        .root
        .all("event")
        .filter(|e| e.child("severity").map(|s| s.text()) == Some("error"))
        .filter(|e| e.child("correlation_id").map(|c| c.text()) == Some(correlation))
        .filter_map(|e| Some((e.attr("id")?.parse().ok()?, api.redactor().clean(e.child("description")?.text()))))
        .collect();
    errors.sort();
    (!errors.is_empty()).then(|| errors.into_iter().map(|(_, d)| d).collect::<Vec<_>>().join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_clean_short_and_recognised() {
        let ours = Correlations::default();
        let id = ours.issue();
        assert!(id.len() <= 36 && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')), "{id}");
        assert!(ours.is_ours(&id) && !ours.is_ours("a1b2c3d4"));
        for _ in 0..REMEMBERED {
            ours.issue();
        }
        assert!(!ours.is_ours(&id), "only the recent ones are kept");
    }

    #[test]
    fn job_handles_carry_the_correlation_id() {
        assert_eq!(split("5f0c…/pdk-1"), ("5f0c…", Some("pdk-1")));
        assert_eq!(split("5f0c"), ("5f0c", None));
        assert!(matches!(verb(PowerAction::Hibernate), Err(ProviderError::Unsupported { .. })));
        assert_eq!(verb(PowerAction::ShutdownGuest).unwrap(), ("shutdown", false));
    }
}
