//! Reading many VMs' states in one request when the provider refuses the
//! whole request over one VM that no longer exists. EC2 names the ids it
//! does not know; vSphere does not say which. Either way the unknown ids are
//! left out (a refresh simply omits what the provider does not have) and
//! the rest are read in as few requests as possible: named ids are dropped
//! and the request repeated; otherwise the batch is split in halves.

use crate::model::Observation;
use crate::provider::{ProviderError, ProviderResult};
use std::future::Future;
use std::pin::Pin;

/// `read` asks the provider about some ids; a `NotFound` error means one of
/// them is unknown (and may name which).
pub fn refresh_tolerant<'a, F, Fut>(ids: Vec<String>, read: &'a F) -> Pin<Box<dyn Future<Output = ProviderResult<Vec<Observation>>> + Send + 'a>>
where
    F: Fn(Vec<String>) -> Fut + Sync,
    Fut: Future<Output = ProviderResult<Vec<Observation>>> + Send + 'a,
{
    Box::pin(async move {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let what = match read(ids.clone()).await {
            Err(ProviderError::NotFound { what }) => what,
            other => return other,
        };
        let named: Vec<&str> = what.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).collect();
        let (unknown, rest): (Vec<String>, Vec<String>) = ids.iter().cloned().partition(|id| named.contains(&id.as_str()));
        if !unknown.is_empty() {
            return refresh_tolerant(rest, read).await;
        }
        if ids.len() == 1 {
            return Ok(Vec::new());
        }
        let right = ids[ids.len() / 2..].to_vec();
        let mut out = refresh_tolerant(ids[..ids.len() / 2].to_vec(), read).await?;
        out.extend(refresh_tolerant(right, read).await?);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PowerState;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn obs(id: &str) -> Observation {
        Observation {
            provider_id: id.into(),
            name: String::new(),
            state: PowerState::Running,
            raw_state: "on".into(),
            tools: None,
            location: None,
            facts: Default::default(),
        }
    }

    /// A provider that refuses a whole request naming any of `gone`,
    /// naming the first of them when `names` is set.
    async fn provider(ids: Vec<String>, gone: &[&str], names: bool, requests: &AtomicU32) -> ProviderResult<Vec<Observation>> {
        requests.fetch_add(1, Ordering::SeqCst);
        match ids.iter().find(|id| gone.contains(&id.as_str())) {
            Some(g) => {
                Err(ProviderError::NotFound { what: if names { format!("The instance ID '{g}' does not exist") } else { "ManagedObjectNotFound".into() } })
            }
            None => Ok(ids.iter().map(|i| obs(i)).collect()),
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("vm-{i}")).collect()
    }

    #[tokio::test]
    async fn named_unknown_ids_are_dropped_and_the_rest_read_in_one_more_request() {
        let requests = AtomicU32::new(0);
        let read = |ids: Vec<String>| provider(ids, &["vm-3"], true, &requests);
        let got = refresh_tolerant(ids(100), &read).await.unwrap();
        assert_eq!(got.len(), 99);
        assert!(got.iter().all(|o| o.provider_id != "vm-3"));
        // "vm-3" is named; "vm-30".."vm-39" are not taken for it.
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unnamed_unknown_ids_are_found_by_halving_not_one_by_one() {
        let requests = AtomicU32::new(0);
        let read = |ids: Vec<String>| provider(ids, &["vm-17", "vm-70"], false, &requests);
        let got = refresh_tolerant(ids(128), &read).await.unwrap();
        assert_eq!(got.len(), 126);
        let n = requests.load(Ordering::SeqCst);
        assert!(n <= 2 * 2 * 7 + 1, "{n} requests for 2 unknown ids among 128 (one by one would be 128)");
    }

    #[tokio::test]
    async fn other_errors_are_not_swallowed() {
        let read = |_ids: Vec<String>| async { Err::<Vec<Observation>, _>(ProviderError::Unreachable { message: "down".into() }) };
        assert!(matches!(refresh_tolerant(ids(4), &read).await, Err(ProviderError::Unreachable { .. })));
    }
}
