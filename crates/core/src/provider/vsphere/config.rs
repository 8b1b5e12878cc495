//! A vSphere account's settings (vCenter or a standalone ESXi host). The
//! password lives in the account's secret source, never here.

use crate::provider::kind::{Field, FieldError, FieldKind, SECRET};
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
    pub fn validate(&self, has_secret: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(m) = crate::provider::http::check_endpoint(&self.endpoint, "https://host/sdk") {
            errors.push(FieldError::on("endpoint", m));
        }
        if let Some(t) = &self.thumbprint {
            if crate::provider::http::normalize_thumbprint(t).is_none() {
                errors.push(FieldError::on("thumbprint", "this is not a SHA-256 thumbprint (64 hex digits, colons optional)"));
            }
            if self.insecure {
                errors.push(FieldError::on("insecure", "pin a thumbprint or accept any certificate, not both"));
            }
        }
        if self.username.trim().is_empty() {
            errors.push(FieldError::on("username", "a vSphere account needs a user name"));
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

pub const FIELDS: &[Field] = &[
    Field::text("endpoint", "SDK endpoint", "vCenter's or the ESXi host's SOAP endpoint.")
        .kind(FieldKind::Url)
        .required()
        .placeholder("https://vcenter.example.com/sdk"),
    Field::text("username", "User name", "A vSphere user allowed to read and power VMs.").required().placeholder("administrator@vsphere.local"),
    Field::text("thumbprint", "Certificate thumbprint", "SHA-256 thumbprint of a self-signed host's certificate, pinned when you trust it.")
        .kind(FieldKind::Thumbprint)
        .advanced(),
    Field::text("insecure", "Accept any certificate", "Dangerous: anyone between you and the host can read the password. Pin a thumbprint instead.")
        .kind(FieldKind::Bool { default: false, off_flag: None })
        .advanced(),
];
