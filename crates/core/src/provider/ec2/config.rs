//! An EC2 account's settings, as stored (no secrets here: the secret access
//! key lives in the keychain or the environment variable the user named, or
//! in the AWS shared credentials file for a profile).

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
    pub fn validate(&self, has_secret: bool) -> Result<(), String> {
        if self.regions.is_empty() {
            return Err("an EC2 account needs at least one region (--region, or a region in the profile)".into());
        }
        for r in &self.regions {
            let ok = !r.is_empty() && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(format!("'{r}' is not an AWS region name (like eu-west-1)"));
            }
        }
        if let Some(e) = &self.endpoint {
            crate::provider::http::check_endpoint(e, "https://ec2.REGION.amazonaws.com")?;
        }
        match (&self.profile, &self.access_key_id) {
            (Some(_), Some(_)) => Err("use either --profile or --access-key-id, not both".into()),
            (Some(_), None) if has_secret => Err("a profile brings its own secret; drop --secret-stdin/--secret-env".into()),
            (None, None) => Err("an EC2 account needs --access-key-id with a secret (--secret-stdin or --secret-env), or --profile".into()),
            (None, Some(_)) if !has_secret => Err("the secret access key is missing: give it with --secret-stdin or --secret-env VAR".into()),
            (None, Some(id)) if id.trim().is_empty() || id.contains(char::is_whitespace) => Err(format!("'{id}' is not an access key id")),
            _ => Ok(()),
        }
    }
}
