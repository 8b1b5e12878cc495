//! The parts of EC2's XML answers Powerdeck reads. Everything else in the
//! answer is ignored; a missing required field is a malformed answer.

use serde::Deserialize;

/// EC2 wraps every list in `<xxxSet><item>…</item></xxxSet>`.
#[derive(Debug, Deserialize)]
pub struct Set<T> {
    #[serde(rename = "item", default = "Vec::new")]
    pub items: Vec<T>,
}

impl<T> Default for Set<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInstancesResponse {
    #[serde(default)]
    pub reservation_set: Set<Reservation>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    #[serde(default)]
    pub instances_set: Set<Instance>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub instance_id: String,
    pub instance_state: InstanceState,
    pub placement: Option<Placement>,
    #[serde(default)]
    pub tag_set: Set<Tag>,
    pub instance_type: Option<String>,
    pub private_ip_address: Option<String>,
    pub ip_address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub availability_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstanceState {
    pub code: u32,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInstanceStatusResponse {
    #[serde(default)]
    pub instance_status_set: Set<InstanceStatus>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    pub instance_id: String,
    pub availability_zone: Option<String>,
    pub instance_state: InstanceState,
}

/// StartInstances / StopInstances.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChangeResponse {
    #[serde(default)]
    pub instances_set: Set<StateChange>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    pub instance_id: String,
    pub current_state: InstanceState,
}

/// RebootInstances: EC2 documents `<return>true</return>`; some compatible
/// servers (moto among them) answer 200 with no body fields. Only an explicit
/// `false` is a refusal.
#[derive(Debug, Deserialize)]
pub struct RebootResponse {
    #[serde(rename = "return")]
    pub ok: Option<bool>,
}
