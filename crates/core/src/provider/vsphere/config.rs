//! A vSphere account's settings (vCenter or a standalone ESXi host). The
//! password lives in the account's secret source, never here.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct VsphereConfig {
    /// The SOAP endpoint, e.g. `https://vcenter.example.com/sdk`.
    pub endpoint: String,
    pub username: String,
    /// SHA-256 thumbprint of a self-signed host's certificate, pinned when
    /// the admin accepted it (trust on first use). A different certificate
    /// later is a hard error.
    pub thumbprint: Option<String>,
    /// Accept any certificate. Only when asked for, and never silently.
    pub insecure: bool,
}

impl VsphereConfig {
    pub fn validate(&self, has_secret: bool) -> Result<(), String> {
        crate::provider::http::check_endpoint(&self.endpoint, "https://host/sdk")?;
        if let Some(t) = &self.thumbprint {
            if crate::provider::http::normalize_thumbprint(t).is_none() {
                return Err(format!("'{t}' is not a SHA-256 thumbprint (64 hex digits, colons optional)"));
            }
            if self.insecure {
                return Err("use either --thumbprint or --insecure, not both".into());
            }
        }
        if self.username.trim().is_empty() {
            return Err("a vSphere account needs --username".into());
        }
        if !has_secret {
            return Err("the password is missing: give it with --secret-stdin or --secret-env VAR".into());
        }
        Ok(())
    }
}
