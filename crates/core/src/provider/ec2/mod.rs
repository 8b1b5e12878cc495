//! Amazon EC2 behind the provider contract.
//!
//! VM ids are `{region}:{instance-id}`, so a state refresh or a power request
//! knows which regional endpoint to call without a listing first. Inventory
//! pages run region after region; the page token carries the region.

pub mod config;
pub mod credentials;
mod wire;
mod xml;

use super::calls::{Call, Calls};
use super::client::batch::refresh_tolerant;
use super::http::{HttpOptions, HttpTransport};
use super::kind::{self, KindDescriptor, SecretNeed, SecretSpec};
use super::{Capabilities, InventoryPage, JobStatus, PowerAction, Provider, ProviderError, ProviderResult, Submission};
use crate::model::{Observation, PowerState};
use crate::secrets::Secret;
use async_trait::async_trait;
pub use config::Ec2Config;
use std::collections::BTreeMap;
use std::sync::Arc;
use wire::Ec2Api;
use xml::{InstanceState, StateChangeResponse};

/// DescribeInstances' largest page.
const PAGE_SIZE: u32 = 1000;
/// Most instance ids DescribeInstanceStatus takes in one call.
const STATUS_BATCH: usize = 100;

/// EC2's state code: only the low byte counts (the high byte is internal).
pub fn normalize(state: &InstanceState) -> PowerState {
    match state.code & 0xFF {
        0 => PowerState::Starting,
        16 => PowerState::Running,
        // shutting-down leads to terminated: the instance is going away.
        32 => PowerState::Stopping,
        48 => PowerState::Terminated,
        64 => PowerState::Stopping,
        80 => PowerState::Stopped,
        _ => PowerState::Unknown,
    }
}

pub static KIND: KindDescriptor = KindDescriptor {
    name: "ec2",
    label: "Amazon EC2",
    summary: "Instances in one or more AWS regions, through the EC2 API (SigV4).",
    fields: config::FIELDS,
    secret: SecretSpec { label: "secret access key", need: SecretNeed::Optional },
    tls: None,
    billing: crate::hours::Billing::WhileRunning,
    size_fact: Some("instance_type"),
    validate: |config, has_secret| kind::parse::<Ec2Config>(config)?.validate(has_secret),
    complete: config::complete,
    build: |ctx| Ok(Arc::new(Ec2Provider::new(&ctx.config()?, ctx.secret.clone(), ctx.calls.clone())?)),
    forget: kind::nothing_to_forget,
};

pub struct Ec2Provider {
    api: Ec2Api,
    regions: Vec<String>,
}

impl Ec2Provider {
    pub fn new(cfg: &Ec2Config, secret: Option<Secret>, calls: Arc<Calls>) -> ProviderResult<Self> {
        let keys = credentials::keys(cfg, secret)?;
        let http = HttpTransport::new(&HttpOptions::default())?;
        Ok(Self { api: Ec2Api::new(http, calls, keys, cfg.endpoint.clone()), regions: cfg.regions.clone() })
    }

    fn observation(region: &str, instance_id: String, name: String, state: &InstanceState, zone: Option<String>) -> Observation {
        Observation {
            facts: Default::default(),
            provider_id: format!("{region}:{instance_id}"),
            name,
            state: normalize(state),
            raw_state: state.name.clone(),
            tools: None,
            location: Some(zone.unwrap_or_else(|| region.to_string())),
        }
    }

    fn split<'a>(&self, id: &'a str) -> ProviderResult<(&'a str, &'a str)> {
        match id.split_once(':') {
            Some((region, instance)) if self.regions.iter().any(|r| r == region) && instance.starts_with("i-") => Ok((region, instance)),
            _ => Err(ProviderError::NotFound { what: format!("instance {id} (not an instance of this account's regions)") }),
        }
    }

    /// DescribeInstanceStatus for one region's instances. EC2 refuses the
    /// whole call over one id it no longer knows (and names it): the shared
    /// tolerant batch read drops those and asks again.
    async fn status(&self, region: &str, instances: Vec<String>) -> ProviderResult<Vec<Observation>> {
        let read = |instances: Vec<String>| async move {
            let mut params = vec![("IncludeAllInstances".to_string(), "true".to_string())];
            params.extend(instances.iter().enumerate().map(|(i, id)| (format!("InstanceId.{}", i + 1), id.clone())));
            let r: xml::DescribeInstanceStatusResponse = self.api.call(Call::refresh(), region, "DescribeInstanceStatus", &params).await?;
            Ok(r.instance_status_set
                .items
                .into_iter()
                .map(|s| Self::observation(region, s.instance_id, String::new(), &s.instance_state, s.availability_zone))
                .collect())
        };
        refresh_tolerant(instances, &read).await
    }

    async fn change_state(&self, region: &str, action: &str, instance: &str, extra: &[(&str, &str)]) -> ProviderResult<Option<Observation>> {
        let mut params = vec![("InstanceId.1".to_string(), instance.to_string())];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let r: StateChangeResponse = self.api.call(Call::submit(), region, action, &params).await?;
        Ok(r.instances_set
            .items
            .into_iter()
            .find(|c| c.instance_id == instance)
            .map(|c| Self::observation(region, c.instance_id, String::new(), &c.current_state, None)))
    }
}

/// The page token: which region, and EC2's own NextToken within it.
fn parse_token(token: Option<&str>) -> ProviderResult<(usize, Option<String>)> {
    let Some(t) = token else { return Ok((0, None)) };
    let (idx, next) = t.split_once('|').map(|(i, n)| (i, Some(n.to_string()))).unwrap_or((t, None));
    let idx = idx.parse().map_err(|_| ProviderError::malformed(format!("page token '{t}' is not one Powerdeck made")))?;
    Ok((idx, next))
}

#[async_trait]
impl Provider for Ec2Provider {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            graceful_stop: true,
            force_stop: true,
            guest_reboot: true,
            reset: false,
            suspend: false,
            // Per instance: one launched without hibernation gets a clear
            // UnsupportedHibernationConfiguration refusal from EC2.
            hibernate: true,
            deallocate: false,
            tools_status: false,
            change_feed: false,
            reboot_visible: false,
            max_refresh_batch: STATUS_BATCH * 4,
        }
    }

    async fn list_page(&self, token: Option<&str>) -> ProviderResult<InventoryPage> {
        let (idx, next_token) = parse_token(token)?;
        let region =
            self.regions.get(idx).ok_or_else(|| ProviderError::malformed(format!("page token names region #{idx}, which this account does not have")))?;
        let mut params = vec![("MaxResults".to_string(), PAGE_SIZE.to_string())];
        if let Some(n) = next_token {
            params.push(("NextToken".to_string(), n));
        }
        let r: xml::DescribeInstancesResponse = self.api.call(Call::list(), region, "DescribeInstances", &params).await?;
        let vms = r
            .reservation_set
            .items
            .into_iter()
            .flat_map(|res| res.instances_set.items)
            .map(|i| {
                let name = i
                    .tag_set
                    .items
                    .iter()
                    .find(|t| t.key == "Name")
                    .map(|t| t.value.clone())
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| i.instance_id.clone());
                let zone = i.placement.and_then(|p| p.availability_zone);
                let mut facts: crate::model::Facts = [("instance_type", i.instance_type), ("private_ip", i.private_ip_address), ("public_ip", i.ip_address)]
                    .into_iter()
                    .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
                    .collect();
                // Tags (the Name is the VM's name) become facts "tag:KEY",
                // as Azure's do: searchable, groupable, reported by.
                for t in i.tag_set.items.iter().filter(|t| t.key != "Name") {
                    crate::model::put_tag(&mut facts, &t.key, &t.value);
                }
                Observation { facts, ..Self::observation(region, i.instance_id, name, &i.instance_state, zone) }
            })
            .collect();
        let next = match r.next_token.filter(|t| !t.is_empty()) {
            Some(t) => Some(format!("{idx}|{t}")),
            None if idx + 1 < self.regions.len() => Some((idx + 1).to_string()),
            None => None,
        };
        Ok(InventoryPage { vms, next })
    }

    async fn refresh(&self, ids: &[String]) -> ProviderResult<Vec<Observation>> {
        let mut by_region: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for id in ids {
            // An id from another account's regions is simply not ours to report.
            if let Ok((region, instance)) = self.split(id) {
                by_region.entry(region).or_default().push(instance);
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for (region, instances) in by_region {
            for chunk in instances.chunks(STATUS_BATCH) {
                out.extend(self.status(region, chunk.iter().map(|i| i.to_string()).collect()).await?);
            }
        }
        Ok(out)
    }

    async fn submit(&self, id: &str, action: PowerAction) -> ProviderResult<Submission> {
        let (region, instance) = self.split(id)?;
        let observed = match action {
            PowerAction::Start => self.change_state(region, "StartInstances", instance, &[]).await?,
            PowerAction::ShutdownGuest => self.change_state(region, "StopInstances", instance, &[]).await?,
            PowerAction::PowerOff => self.change_state(region, "StopInstances", instance, &[("Force", "true")]).await?,
            PowerAction::Hibernate => self.change_state(region, "StopInstances", instance, &[("Hibernate", "true")]).await?,
            PowerAction::RebootGuest => {
                let r: xml::RebootResponse =
                    self.api.call(Call::submit(), region, "RebootInstances", &[("InstanceId.1".to_string(), instance.to_string())]).await?;
                if r.ok == Some(false) {
                    return Err(ProviderError::Provider {
                        code: "RebootRefused".into(),
                        message: format!("EC2 did not accept the reboot of {instance}"),
                        retryable: false,
                    });
                }
                None
            }
            PowerAction::Reset | PowerAction::Suspend | PowerAction::Deallocate => {
                return Err(ProviderError::Unsupported { action: format!("{} on EC2", action.as_str()) })
            }
        };
        Ok(Submission { job: None, observed })
    }

    async fn poll_job(&self, job: &str) -> ProviderResult<JobStatus> {
        Err(ProviderError::Unsupported { action: format!("poll job {job} (EC2 has no jobs)") })
    }

    async fn test_connection(&self) -> ProviderResult<String> {
        for region in &self.regions {
            let _: xml::DescribeInstancesResponse =
                self.api.call(Call::list(), region, "DescribeInstances", &[("MaxResults".to_string(), "5".to_string())]).await?;
        }
        Ok(format!("connected; DescribeInstances allowed in {}", self.regions.join(", ")))
    }
}

/// What every answer and page token is held to, by the property tests and
/// the fuzzer (`fuzz/`): read or refused; never a panic.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn check(text: &str) {
    let _ = quick_xml::de::from_str::<xml::DescribeInstancesResponse>(text);
    let _ = quick_xml::de::from_str::<xml::DescribeInstanceStatusResponse>(text);
    let _ = quick_xml::de::from_str::<xml::StateChangeResponse>(text);
    let _ = wire::map_failure(&crate::provider::http::HttpFailure { status: 400, retry_after: None, body: text.into() });
    let _ = parse_token(Some(text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_low_byte_of_the_state_code_counts() {
        let s = |code, name: &str| InstanceState { code, name: name.into() };
        assert_eq!(normalize(&s(16, "running")), PowerState::Running);
        assert_eq!(normalize(&s(16 + 256 * 3, "running")), PowerState::Running);
        assert_eq!(normalize(&s(80, "stopped")), PowerState::Stopped);
        assert_eq!(normalize(&s(64, "stopping")), PowerState::Stopping);
        assert_eq!(normalize(&s(48, "terminated")), PowerState::Terminated);
        assert_eq!(normalize(&s(0, "pending")), PowerState::Starting);
        assert_eq!(normalize(&s(7, "weird")), PowerState::Unknown);
    }

    #[test]
    fn page_tokens_carry_the_region() {
        assert_eq!(parse_token(None).unwrap(), (0, None));
        assert_eq!(parse_token(Some("1")).unwrap(), (1, None));
        assert_eq!(parse_token(Some("0|abc|def")).unwrap(), (0, Some("abc|def".into())));
        assert!(parse_token(Some("x|y")).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, mutated};
    use proptest::prelude::*;

    const ANSWER: &str = r#"<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><reservationSet><item><reservationId>r-0a</reservationId><instancesSet><item><instanceId>i-0abc</instanceId><instanceState><code>16</code><name>running</name></instanceState><instanceType>t3.micro</instanceType><placement><availabilityZone>eu-west-1a</availabilityZone></placement><tagSet><item><key>Name</key><value>web &amp; api</value></item><item><key>team</key><value>alpha</value></item></tagSet></item></instancesSet></item></reservationSet><nextToken>abc</nextToken></DescribeInstancesResponse>"#;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn a_damaged_describe_answer_is_read_or_refused(text in mutated(ANSWER)) {
            check(&text);
        }

        #[test]
        fn any_page_token_is_read_or_refused(token in "\\PC{0,30}|[0-9]{1,25}(\\|[^|]{0,10}){0,3}") {
            check(&token);
        }

        #[test]
        fn a_token_powerdeck_made_comes_back(idx in any::<usize>(), next in "\\PC{0,40}") {
            prop_assert_eq!(parse_token(Some(&format!("{idx}|{next}"))).unwrap(), (idx, Some(next)));
            prop_assert_eq!(parse_token(Some(&idx.to_string())).unwrap(), (idx, None));
        }

        #[test]
        fn any_state_code_is_a_state(code in any::<u32>(), name in "[a-z-]{0,12}") {
            let _ = normalize(&xml::InstanceState { code, name });
        }
    }
}
