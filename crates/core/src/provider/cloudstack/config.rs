//! A CloudStack account's settings, as stored. The secret key lives in the
//! account's secret source (keychain or environment variable), never here.

use crate::provider::kind::{self, Field, FieldError, FieldKind, SECRET};
use serde::{Deserialize, Serialize};

/// How often the change feed asks `listEvents` for news, by default.
pub const DEFAULT_EVENTS_POLL_S: u64 = 2;
/// CloudStack's API path under the management server's address.
const API_PATH: &str = "/client/api";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CloudStackConfig {
    /// The signed query API, e.g. `https://cloud.example/client/api`.
    pub endpoint: String,
    /// The user's API key; its secret key comes from the secret source.
    pub api_key: String,
    /// Only VMs of this domain and its subdomains (a domain admin's view).
    pub domain_id: Option<String>,
    /// Only this project's VMs (otherwise every project the key can see).
    pub project_id: Option<String>,
    /// SHA-256 thumbprint of a self-signed management server's certificate,
    /// pinned when the admin accepted it (trust on first use).
    pub thumbprint: Option<String>,
    /// Accept any certificate. Only when asked for, and never silently.
    pub insecure: bool,
    /// Seconds between two `listEvents` polls of the change feed.
    pub events_poll_s: Option<u64>,
}

impl CloudStackConfig {
    pub fn validate(&self, has_secret: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(m) = crate::provider::http::check_endpoint(&self.endpoint, "https://cloud.example/client/api") {
            errors.push(FieldError::on("endpoint", m));
        }
        if self.api_key.trim().is_empty() {
            errors.push(FieldError::on("api_key", "a CloudStack account needs the user's API key"));
        } else if !plain(&self.api_key) {
            errors.push(FieldError::on("api_key", "the API key cannot contain spaces or control characters"));
        }
        for (field, value, what) in [("domain_id", &self.domain_id, "domain"), ("project_id", &self.project_id, "project")] {
            if let Some(v) = value {
                if v.is_empty() || !plain(v) || v == "-1" {
                    errors.push(FieldError::on(field, format!("this is not a {what} id (CloudStack shows it as a UUID in the {what}'s details)")));
                }
            }
        }
        if let Some(t) = &self.thumbprint {
            if crate::provider::http::normalize_thumbprint(t).is_none() {
                errors.push(FieldError::on("thumbprint", "this is not a SHA-256 thumbprint (64 hex digits, colons optional)"));
            }
            if self.insecure {
                errors.push(FieldError::on("insecure", "pin a thumbprint or accept any certificate, not both"));
            }
        }
        if let Some(s) = self.events_poll_s {
            if !(1..=300).contains(&s) {
                errors.push(FieldError::on("events_poll_s", format!("the change poll interval must be between 1 and 300 seconds, not {s}")));
            }
        }
        if !has_secret {
            errors.push(FieldError::on(SECRET, "the secret key is missing"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn events_poll(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.events_poll_s.unwrap_or(DEFAULT_EVENTS_POLL_S).clamp(1, 300))
    }
}

/// No whitespace and no control characters: what an id or key can be.
fn plain(s: &str) -> bool {
    !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The management server's bare address (`https://cloud.example` or
/// `…:8080/`) means its API at `/client/api`.
pub fn complete(config: &mut serde_json::Value) -> Result<(), Vec<FieldError>> {
    let mut cfg: CloudStackConfig = kind::parse(config)?;
    let Ok(mut url) = reqwest::Url::parse(cfg.endpoint.trim()) else { return Ok(()) };
    if matches!(url.path(), "" | "/") && url.query().is_none() {
        url.set_path(API_PATH);
        cfg.endpoint = url.to_string();
        *config = serde_json::to_value(cfg).expect("config serializes");
    }
    Ok(())
}

pub const FIELDS: &[Field] = &[
    Field::text("endpoint", "API endpoint", "The management server's API (the address followed by /client/api).")
        .kind(FieldKind::Url)
        .required()
        .placeholder("https://cloud.example/client/api"),
    Field::text("api_key", "API key", "The user's API key (Profile → Generate keys); its secret key goes to the keychain or an environment variable.")
        .required(),
    Field::text("domain_id", "Domain", "Only VMs of this domain and its subdomains (the domain's ID).").advanced(),
    Field::text("project_id", "Project", "Only this project's VMs (the project's ID); otherwise every project the key can see.").advanced(),
    Field::text("thumbprint", "Certificate thumbprint", "SHA-256 thumbprint of a self-signed management server's certificate, pinned when you trust it.")
        .kind(FieldKind::Thumbprint)
        .advanced(),
    Field::text(
        "insecure",
        "Accept any certificate",
        "Dangerous: anyone between you and the server can read the inventory and answer in its place. Pin a thumbprint instead.",
    )
    .kind(FieldKind::Bool { default: false, off_flag: None })
    .advanced(),
    Field::text("events_poll_s", "Change poll interval (s)", "How often CloudStack's event list is asked for VMs that changed.")
        .kind(FieldKind::Integer { min: 1, max: 300 })
        .placeholder("2")
        .advanced(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CloudStackConfig {
        CloudStackConfig { endpoint: "https://cloud.example/client/api".into(), api_key: "abc-DEF_123".into(), ..Default::default() }
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        assert!(valid().validate(true).is_ok());
        let errs = valid().validate(false).unwrap_err();
        assert_eq!(errs, vec![FieldError::on(SECRET, "the secret key is missing")]);
        let bad = CloudStackConfig {
            endpoint: "ftp://x".into(),
            api_key: "a key".into(),
            project_id: Some("-1".into()),
            thumbprint: Some("nope".into()),
            events_poll_s: Some(0),
            ..valid()
        };
        let fields: Vec<_> = bad.validate(true).unwrap_err().into_iter().filter_map(|e| e.field).collect();
        assert_eq!(fields, vec!["endpoint", "api_key", "project_id", "thumbprint", "events_poll_s"]);
    }

    #[test]
    fn a_bare_server_address_means_its_api_path() {
        let mut v = serde_json::json!({"endpoint": "https://cloud.example:8443", "api_key": "k"});
        complete(&mut v).unwrap();
        assert_eq!(v["endpoint"], "https://cloud.example:8443/client/api");
        let mut v = serde_json::json!({"endpoint": "https://cloud.example/cs/client/api", "api_key": "k"});
        complete(&mut v).unwrap();
        assert_eq!(v["endpoint"], "https://cloud.example/cs/client/api", "a path given is kept");
    }
}
