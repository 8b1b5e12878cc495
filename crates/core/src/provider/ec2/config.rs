//! An EC2 account's settings, as stored (no secrets here: the secret access
//! key lives in the keychain or the environment variable the user named, or
//! in the AWS shared credentials file for a profile).

use crate::provider::kind::{self, Field, FieldError, FieldKind, SECRET};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Ec2Config {
    /// Regions whose instances belong to this account's inventory.
    pub regions: Vec<String>,
    /// Overrides `https://ec2.{region}.amazonaws.com/` for every region (tests,
    /// EC2-compatible clouds). The region still goes into the signature.
    pub endpoint: Option<String>,
    /// Access key id; the matching secret comes from the account's secret source.
    pub access_key_id: Option<String>,
    /// Environment variable holding a session token (temporary credentials).
    pub session_token_env: Option<String>,
    /// A profile in the AWS shared credentials/config files instead of a key.
    pub profile: Option<String>,
}

impl Ec2Config {
    pub fn validate(&self, has_secret: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.regions.is_empty() {
            errors.push(FieldError::on("regions", "an EC2 account needs at least one region (or a profile that names one)"));
        }
        for r in &self.regions {
            let ok = !r.is_empty() && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                errors.push(FieldError::on("regions", format!("'{}' is not an AWS region name (like eu-west-1)", shown(r))));
            }
        }
        if let Some(e) = &self.endpoint {
            if let Err(m) = crate::provider::http::check_endpoint(e, "https://ec2.REGION.amazonaws.com") {
                errors.push(FieldError::on("endpoint", m));
            }
        }
        if let Some(var) = &self.session_token_env {
            if crate::secrets::SecretRef::env(var).is_err() {
                errors.push(FieldError::on("session_token_env", format!("'{}' is not an environment variable name", shown(var))));
            }
        }
        match (&self.profile, &self.access_key_id) {
            (Some(_), Some(_)) => errors.push(FieldError::on("profile", "use either a profile or an access key id, not both")),
            (Some(_), None) if has_secret => errors.push(FieldError::on(SECRET, "a profile brings its own secret; give no secret with it")),
            (None, None) => errors.push(FieldError::on("access_key_id", "an EC2 account needs an access key id with its secret, or a profile")),
            (None, Some(_)) if !has_secret => errors.push(FieldError::on(SECRET, "the secret access key is missing")),
            (None, Some(id)) if id.trim().is_empty() || id.contains(char::is_whitespace) => {
                errors.push(FieldError::on("access_key_id", format!("'{}' is not an access key id", shown(id))))
            }
            _ => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A user's text in a message: no control characters, not too long.
fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

pub const FIELDS: &[Field] = &[
    Field::text("regions", "Regions", "The regions whose instances this account inventories.")
        .kind(FieldKind::List)
        .placeholder("eu-west-1, us-east-1")
        .flag("region"),
    Field::text("access_key_id", "Access key id", "The key id; its secret access key goes to the keychain or an environment variable.").placeholder("AKIA…"),
    Field::text("profile", "…or AWS profile", "A profile in ~/.aws/credentials and ~/.aws/config instead of a key (its region is the default).")
        .placeholder("default"),
    Field::text("endpoint", "Endpoint", "Replaces https://ec2.REGION.amazonaws.com for every region (EC2-compatible clouds).")
        .kind(FieldKind::Url)
        .placeholder("https://ec2.eu-west-1.amazonaws.com")
        .advanced(),
    Field::text("session_token_env", "Session token variable", "An environment variable holding a session token (temporary credentials).")
        .kind(FieldKind::EnvVar)
        .advanced(),
];

/// With a profile and no region given, the profile's region.
pub fn complete(config: &mut serde_json::Value) -> Result<(), Vec<FieldError>> {
    let mut cfg: Ec2Config = kind::parse(config)?;
    if cfg.regions.is_empty() {
        if let Some(profile) = &cfg.profile {
            let region = super::credentials::profile_region(profile).map_err(|e| vec![FieldError::on("profile", e.to_string())])?;
            cfg.regions.extend(region);
            *config = serde_json::to_value(cfg).expect("config serializes");
        }
    }
    Ok(())
}
