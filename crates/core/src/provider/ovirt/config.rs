//! An oVirt / OLVM account's settings. The password lives in the account's
//! secret source, never here.

use crate::provider::kind::{self, Field, FieldError, FieldKind, SECRET};
use serde::{Deserialize, Serialize};

/// Where the engine publishes its CA certificate (`PKIResourceServlet`),
/// relative to the endpoint's host: no login needed.
pub const CA_PUBLISHED_AT: &str = "/ovirt-engine/services/pki-resource?resource=ca-certificate&format=X509-PEM-CA";

/// The REST API's path on the engine's host.
const API_PATH: &str = "/ovirt-engine/api";

pub const DEFAULT_PAGE_SIZE: u32 = 500;
pub const DEFAULT_EVENTS_INTERVAL_S: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OvirtConfig {
    /// The REST API, e.g. `https://engine.example/ovirt-engine/api`.
    pub endpoint: String,
    /// `user@profile`, e.g. `admin@internal`.
    pub username: String,
    /// SHA-256 thumbprint of the engine's certificate, pinned when the admin
    /// accepted it (trust on first use).
    pub thumbprint: Option<String>,
    /// A PEM file with the engine's CA certificate, trusted for this account.
    pub ca_file: Option<String>,
    /// Accept any certificate. Only when asked for, and never silently.
    pub insecure: bool,
    /// VMs asked for per inventory page.
    pub page_size: u32,
    /// How often the events feed is read, in seconds.
    pub events_interval_s: u32,
}

impl Default for OvirtConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            username: String::new(),
            thumbprint: None,
            ca_file: None,
            insecure: false,
            page_size: DEFAULT_PAGE_SIZE,
            events_interval_s: DEFAULT_EVENTS_INTERVAL_S,
        }
    }
}

impl OvirtConfig {
    pub fn validate(&self, has_secret: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match crate::provider::http::check_endpoint(&self.endpoint, "https://engine.example/ovirt-engine/api") {
            Err(m) => errors.push(FieldError::on("endpoint", m)),
            Ok(url) if url.path().trim_end_matches('/') != API_PATH => errors.push(FieldError::on(
                "endpoint",
                format!("the engine's REST API is at {API_PATH} on its host (https://engine.example{API_PATH}), not at {}", shown(url.path())),
            )),
            Ok(_) => {}
        }
        let user = self.username.trim();
        if user.is_empty() {
            errors.push(FieldError::on("username", "an oVirt account needs a user name with its profile, like admin@internal"));
        } else if !user.contains('@') || user.starts_with('@') || user.ends_with('@') {
            errors.push(FieldError::on("username", format!("'{}' has no profile: the engine wants user@profile, like admin@internal", shown(user))));
        }
        if let Some(t) = &self.thumbprint {
            if crate::provider::http::normalize_thumbprint(t).is_none() {
                errors.push(FieldError::on("thumbprint", "this is not a SHA-256 thumbprint (64 hex digits, colons optional)"));
            }
        }
        let ways = [self.thumbprint.is_some(), self.ca_file.is_some(), self.insecure];
        if ways.iter().filter(|w| **w).count() > 1 {
            errors.push(FieldError::on("insecure", "choose one way to trust the engine: a pinned thumbprint, its CA file, or accepting any certificate"));
        }
        if let Some(f) = &self.ca_file {
            if f.trim().is_empty() || !std::path::Path::new(f).is_absolute() {
                errors.push(FieldError::on("ca_file", "give the CA file's full path (it is read whenever the account is used)"));
            }
        }
        if !(10..=5000).contains(&self.page_size) {
            errors.push(FieldError::on("page_size", format!("must be between 10 and 5000, not {}", self.page_size)));
        }
        if !(1..=300).contains(&self.events_interval_s) {
            errors.push(FieldError::on("events_interval_s", format!("must be between 1 and 300 seconds, not {}", self.events_interval_s)));
        }
        if !has_secret {
            errors.push(FieldError::on(SECRET, "the password is missing"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// What a user typed, in a message: no control characters, not too long.
fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// An engine's address given without the API's path (`https://engine.example`
/// or `…/ovirt-engine`) gets it: that is where every engine serves it.
pub fn complete(config: &mut serde_json::Value) -> Result<(), Vec<FieldError>> {
    let mut cfg: OvirtConfig = kind::parse(config)?;
    let Ok(mut url) = reqwest::Url::parse(cfg.endpoint.trim()) else { return Ok(()) };
    let path = url.path().trim_end_matches('/').to_string();
    let full = match path.as_str() {
        "" => API_PATH.to_string(),
        "/ovirt-engine" => API_PATH.to_string(),
        p if p == API_PATH => API_PATH.to_string(),
        _ => return Ok(()),
    };
    url.set_path(&full);
    let normalized = url.to_string();
    if normalized != cfg.endpoint {
        cfg.endpoint = normalized;
        *config = serde_json::to_value(cfg).expect("config serializes");
    }
    Ok(())
}

pub const FIELDS: &[Field] = &[
    Field::text("endpoint", "Engine API URL", "The engine's REST API; the host alone will do (/ovirt-engine/api is added).")
        .kind(FieldKind::Url)
        .required()
        .placeholder("https://engine.example/ovirt-engine/api"),
    Field::text("username", "User name", "An engine user with its profile, allowed to see and power the VMs.").required().placeholder("admin@internal"),
    Field::text("ca_file", "Engine CA file", "A PEM file with the engine's own CA certificate, trusted for this account only.")
        .kind(FieldKind::CaFile { published_at: Some(CA_PUBLISHED_AT) })
        .placeholder("/etc/pki/ovirt-engine/ca.pem")
        .advanced(),
    Field::text("thumbprint", "…or certificate thumbprint", "SHA-256 thumbprint of the engine's certificate, pinned when you trust it.")
        .kind(FieldKind::Thumbprint)
        .advanced(),
    Field::text("insecure", "Accept any certificate", "Dangerous: anyone between you and the engine can read the password. Trust its CA or pin it instead.")
        .kind(FieldKind::Bool { default: false, off_flag: None })
        .advanced(),
    Field::text("page_size", "Inventory page size", "VMs asked for per inventory request.")
        .kind(FieldKind::Integer { min: 10, max: 5000 })
        .placeholder("500")
        .advanced(),
    Field::text("events_interval_s", "Events poll interval (s)", "How often the engine's event log is read for changes made elsewhere.")
        .kind(FieldKind::Integer { min: 1, max: 300 })
        .placeholder("3")
        .advanced(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> OvirtConfig {
        OvirtConfig { endpoint: "https://engine.example/ovirt-engine/api".into(), username: "admin@internal".into(), ..OvirtConfig::default() }
    }

    fn fields(r: Result<(), Vec<FieldError>>) -> Vec<String> {
        r.err().unwrap_or_default().into_iter().filter_map(|e| e.field).collect()
    }

    #[test]
    fn each_wrong_setting_is_named() {
        assert!(ok().validate(true).is_ok());
        assert_eq!(fields(ok().validate(false)), vec![SECRET]);
        let bad = OvirtConfig { endpoint: "https://engine.example/api".into(), username: "admin".into(), page_size: 3, events_interval_s: 0, ..ok() };
        assert_eq!(fields(bad.validate(true)), vec!["endpoint", "username", "page_size", "events_interval_s"]);
        let both = OvirtConfig { thumbprint: Some("AB".repeat(32)), ca_file: Some("/etc/pki/ca.pem".into()), ..ok() };
        assert_eq!(fields(both.validate(true)), vec!["insecure"]);
        let relative = OvirtConfig { ca_file: Some("ca.pem".into()), ..ok() };
        assert_eq!(fields(relative.validate(true)), vec!["ca_file"]);
    }

    #[test]
    fn the_api_path_is_added_to_a_bare_host() {
        for (given, want) in [
            ("https://engine.example", "https://engine.example/ovirt-engine/api"),
            ("https://engine.example:8443/ovirt-engine/", "https://engine.example:8443/ovirt-engine/api"),
            ("https://engine.example/ovirt-engine/api/", "https://engine.example/ovirt-engine/api"),
            ("https://engine.example/elsewhere", "https://engine.example/elsewhere"),
        ] {
            let mut v = serde_json::to_value(OvirtConfig { endpoint: given.into(), ..ok() }).unwrap();
            complete(&mut v).unwrap();
            assert_eq!(v["endpoint"], want, "{given}");
        }
    }
}
