//! What a command's failure looks like to the window: its kind (the core's
//! vocabulary: "not-found", "in-flight", "unsupported", "auth",
//! "untrusted", "invalid", …) so the window reacts to the kind, one readable
//! sentence, and what the kind needs to offer a fix: the fields to mark, the
//! certificate the server presented, the operation already in flight.

use powerdeck_core::provider::kind::FieldError;
use powerdeck_core::provider::ProviderError;
use powerdeck_core::CoreError;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export, rename = "IpcErrorWire"))]
pub struct IpcError {
    pub kind: &'static str,
    pub message: String,
    /// Field-level problems of an account's settings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(test, ts(as = "Option<Vec<FieldError>>", optional))]
    pub fields: Vec<FieldError>,
    /// The SHA-256 thumbprint an untrusted server presented.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub presented: Option<String>,
    /// The operation already in flight on the VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub operation: Option<i64>,
}

impl IpcError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), fields: Vec::new(), presented: None, operation: None }
    }

    /// A failure of the shell itself (a thread that died, a file that could
    /// not be written): nothing the user asked for was wrong.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::new("internal", e.to_string())
    }
}

impl From<CoreError> for IpcError {
    fn from(e: CoreError) -> Self {
        let mut out = Self::new(e.kind(), e.to_string());
        match e {
            CoreError::InvalidSettings { errors, .. } => out.fields = errors,
            CoreError::InFlight { op, .. } => out.operation = Some(op.id),
            CoreError::Provider { source: ProviderError::Untrusted { presented, .. }, .. } => out.presented = presented,
            _ => {}
        }
        out
    }
}

impl From<ProviderError> for IpcError {
    fn from(e: ProviderError) -> Self {
        let presented = match &e {
            ProviderError::Untrusted { presented, .. } => presented.clone(),
            _ => None,
        };
        Self { presented, ..Self::new(e.kind(), e.to_string()) }
    }
}

impl From<powerdeck_core::secrets::SecretError> for IpcError {
    fn from(e: powerdeck_core::secrets::SecretError) -> Self {
        CoreError::Secret(e).into()
    }
}

impl From<powerdeck_core::store::StoreError> for IpcError {
    fn from(e: powerdeck_core::store::StoreError) -> Self {
        CoreError::Store(e).into()
    }
}

/// The shell's own checks of what the window sent.
impl From<String> for IpcError {
    fn from(message: String) -> Self {
        Self::new("invalid", message)
    }
}

impl From<&str> for IpcError {
    fn from(message: &str) -> Self {
        Self::new("invalid", message)
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use powerdeck_core::model::{OpKind, OpPhase, Operation};

    #[test]
    fn the_kind_and_what_fixes_it_reach_the_window() {
        let fields = vec![FieldError { field: Some("endpoint".into()), message: "the endpoint is not a URL".into() }];
        let e = IpcError::from(CoreError::InvalidSettings { kind: "vsphere", errors: fields });
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "invalid");
        assert_eq!(json["fields"][0]["field"], "endpoint");

        let untrusted = ProviderError::Untrusted { message: "unknown issuer".into(), presented: Some("AB:CD".into()) };
        let e = IpcError::from(CoreError::provider("lab", untrusted));
        assert_eq!((e.kind, e.presented.as_deref()), ("untrusted", Some("AB:CD")));
        assert!(e.message.contains("lab"), "{}", e.message);

        let op: Operation = serde_json::from_value(serde_json::json!({
            "id": 7, "vm_id": 1, "vm_name": "web-1", "account": "lab", "kind": OpKind::Stop, "phase": OpPhase::Tracking,
            "allow_force": false, "graceful_timeout_ms": 0, "timeout_ms": 0, "requested_at": 0, "deadline_at": 0,
            "forced_at": null, "finished_at": null, "previous_state": null, "new_state": null, "shutdown_method": null,
            "job_id": null, "error": null
        }))
        .expect("an operation reads from its JSON");
        let e = IpcError::from(CoreError::InFlight { vm: "web-1".into(), op: Box::new(op) });
        assert_eq!((e.kind, e.operation), ("in-flight", Some(7)));

        let plain = serde_json::to_value(IpcError::from("name between 1 and 10 VMs")).unwrap();
        assert_eq!(plain, serde_json::json!({ "kind": "invalid", "message": "name between 1 and 10 VMs" }));
    }
}
