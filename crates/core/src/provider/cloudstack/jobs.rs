//! CloudStack's async jobs. Every power command answers a job id at once;
//! `jobstatus` goes 0 (pending) → 1 (success) or 2 (failure, with
//! `jobresult.errortext`). One job is read with `queryAsyncJobResult`.
//! Many are read together with `listAsyncJobs`, which returns every job of
//! the caller's account (VM work jobs mixed in; matched by `jobid`), oldest
//! first, from a `startdate` the server reads with day granularity: the
//! first page, then the last pages where new jobs are, a few at most. A job
//! not found that way (older than yesterday, or past those pages) is asked
//! about on its own.

use super::api::Api;
use super::errors;
use crate::provider::calls::Call;
use crate::provider::{JobStatus, ProviderError, ProviderResult};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How often a pending job is asked about again (as `cs` and the design
/// Powerdeck learned from do).
pub const POLL_AFTER: Duration = Duration::from_secs(2);
/// `listAsyncJobs` pages read beyond the first, from the newest end.
const MAX_EXTRA_PAGES: u64 = 4;
const PAGE: u64 = 500;
/// `queryAsyncJobResult` calls in flight at once when jobs are read one by one.
const CONCURRENT_QUERIES: usize = 8;

#[derive(Debug, Clone, Deserialize)]
pub struct JobRow {
    pub jobid: String,
    pub jobstatus: i64,
    #[serde(default)]
    pub jobresultcode: Option<i64>,
    #[serde(default)]
    pub jobresult: Option<Value>,
}

impl JobRow {
    pub fn status(&self, secret: &str) -> ProviderResult<JobStatus> {
        let failure = || {
            let result = self.jobresult.as_ref();
            let text = result.and_then(|r| r.get("errortext")).and_then(Value::as_str).map(|t| errors::shown(t, secret)).filter(|t| !t.is_empty());
            let code = result.and_then(|r| r.get("errorcode")).and_then(Value::as_i64).or(self.jobresultcode);
            match (text, code) {
                (Some(t), Some(c)) => format!("{t} (CloudStack error {c})"),
                (Some(t), None) => t,
                (None, Some(c)) => format!("the job failed with CloudStack error {c}"),
                (None, None) => "the job failed without saying why".into(),
            }
        };
        match self.jobstatus {
            0 => Ok(JobStatus::Running { poll_after: Some(POLL_AFTER) }),
            // `cs` also takes a non-zero result code as a failure.
            1 if self.jobresultcode.unwrap_or(0) == 0 => Ok(JobStatus::Succeeded),
            1 | 2 => Ok(JobStatus::Failed(failure())),
            other => Err(ProviderError::malformed(format!("job {} has an unknown jobstatus {other}", self.jobid))),
        }
    }
}

/// One job, by `queryAsyncJobResult`.
pub async fn query(api: &Api, secret: &str, job: &str) -> ProviderResult<JobStatus> {
    let answer = api.call(Call::poll(), "queryAsyncJobResult", &[("jobid", job.to_string())]).await?;
    let row: JobRow = serde_json::from_value(answer).map_err(|e| ProviderError::malformed(format!("queryAsyncJobResult: {e}")))?;
    if row.jobid != job {
        return Err(ProviderError::malformed(format!("queryAsyncJobResult for job {job} answered about job {}", errors::shown(&row.jobid, secret))));
    }
    row.status(secret)
}

/// Each job on its own, a few at a time.
pub async fn query_each(api: &Api, secret: Arc<str>, jobs: &[String]) -> HashMap<String, ProviderResult<JobStatus>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_QUERIES));
    let mut set = tokio::task::JoinSet::new();
    for job in jobs.iter().cloned() {
        let (api, secret, permits) = (api.clone(), secret.clone(), permits.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let status = query(&api, &secret, &job).await;
            (job, status)
        });
    }
    let mut out = HashMap::new();
    while let Some(done) = set.join_next().await {
        if let Ok((job, status)) = done {
            out.insert(job, status);
        }
    }
    out
}

#[derive(Debug, Default, Deserialize)]
struct JobPage {
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    asyncjobs: Vec<Value>,
}

/// Many jobs through `listAsyncJobs`. Returns the statuses found and the
/// jobs it did not find; an error means the listing itself failed.
pub async fn list(api: &Api, secret: &str, jobs: &[String]) -> ProviderResult<(HashMap<String, ProviderResult<JobStatus>>, Vec<String>)> {
    let wanted: HashSet<&str> = jobs.iter().map(String::as_str).collect();
    // Day granularity in the server's time zone: from yesterday covers
    // every job submitted in the last 24 hours wherever the server is.
    let since = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let mut found = HashMap::new();
    let read_page = |page: u64| {
        let since = since.clone();
        async move {
            let answer = api.call(Call::poll(), "listAsyncJobs", &[("startdate", since), ("page", page.to_string()), ("pagesize", PAGE.to_string())]).await?;
            serde_json::from_value::<JobPage>(answer).map_err(|e| ProviderError::malformed(format!("listAsyncJobs: {e}")))
        }
    };
    let first = read_page(1).await?;
    let pages = first.count.unwrap_or(0).div_ceil(PAGE);
    let take = |rows: Vec<Value>, found: &mut HashMap<String, ProviderResult<JobStatus>>| {
        for row in rows {
            // Work jobs and other commands' rows need not parse as ours.
            let Ok(row) = serde_json::from_value::<JobRow>(row) else { continue };
            if wanted.contains(row.jobid.as_str()) {
                found.insert(row.jobid.clone(), row.status(secret));
            }
        }
    };
    take(first.asyncjobs, &mut found);
    let mut page = pages;
    while found.len() < wanted.len() && page > 1 && pages - page < MAX_EXTRA_PAGES {
        take(read_page(page).await?.asyncjobs, &mut found);
        page -= 1;
    }
    let missing = jobs.iter().filter(|j| !found.contains_key(j.as_str())).cloned().collect();
    Ok((found, missing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: Value) -> JobRow {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn job_rows_become_statuses_with_cloudstacks_own_message() {
        let pending = row(serde_json::json!({"jobid": "j1", "jobstatus": 0, "jobprocstatus": 0, "jobresultcode": 0}));
        assert_eq!(pending.status("s").unwrap(), JobStatus::Running { poll_after: Some(Duration::from_secs(2)) });
        let done = row(
            serde_json::json!({"jobid": "j1", "jobstatus": 1, "jobresultcode": 0, "jobresulttype": "object", "jobresult": {"virtualmachine": {"id": "v", "state": "Running"}}}),
        );
        assert_eq!(done.status("s").unwrap(), JobStatus::Succeeded);
        let failed = row(
            serde_json::json!({"jobid": "j1", "jobstatus": 2, "jobresultcode": 530, "jobresulttype": "object", "jobresult": {"errorcode": 530, "errortext": "Unable to stop VM[User|i-2-9-VM]"}}),
        );
        assert_eq!(failed.status("s").unwrap(), JobStatus::Failed("Unable to stop VM[User|i-2-9-VM] (CloudStack error 530)".into()));
        let odd = row(serde_json::json!({"jobid": "j1", "jobstatus": 1, "jobresultcode": 431}));
        assert!(matches!(odd.status("s").unwrap(), JobStatus::Failed(m) if m.contains("431")));
        assert!(row(serde_json::json!({"jobid": "j1", "jobstatus": 7})).status("s").is_err());
    }
}
