//! An Azure account's settings, as stored. No secret here: a service
//! principal's client secret lives in the keychain or the environment
//! variable the user named; the Azure CLI keeps its own sign-in.

use crate::provider::kind::{Field, FieldError, FieldKind, SECRET};
use serde::{Deserialize, Serialize};

/// Microsoft Entra ID's host in the public cloud.
pub const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Azure Resource Manager in the public cloud: the endpoint, and the
/// resource tokens are asked for (`…/.default`).
pub const PUBLIC_ARM: &str = "https://management.azure.com";

/// How Powerdeck signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// OAuth2 client credentials: tenant, client id and client secret.
    #[default]
    ServicePrincipal,
    /// `az account get-access-token`: whoever is signed in to the Azure CLI
    /// on this machine. Nothing secret is stored.
    AzureCli,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AzureConfig {
    pub auth: AuthMode,
    /// The Microsoft Entra tenant (directory): a GUID or a domain.
    pub tenant_id: Option<String>,
    /// The service principal's application (client) id.
    pub client_id: Option<String>,
    /// Subscription ids to manage; empty: every one the principal can see.
    pub subscriptions: Vec<String>,
    /// Sign-in host for sovereign clouds and Azure Stack (default: the public cloud's).
    pub authority_host: Option<String>,
    /// Resource Manager's endpoint (default: the public cloud's).
    pub arm_endpoint: Option<String>,
    /// The resource a token is asked for (default: the public cloud's ARM).
    pub arm_audience: Option<String>,
    /// A PEM file of root certificates trusted besides the system's.
    pub ca_file: Option<String>,
}

impl AzureConfig {
    pub fn authority_host(&self) -> &str {
        self.authority_host.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(PUBLIC_AUTHORITY)
    }
    pub fn arm_endpoint(&self) -> &str {
        self.arm_endpoint.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(PUBLIC_ARM)
    }
    pub fn arm_audience(&self) -> &str {
        self.arm_audience.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(PUBLIC_ARM)
    }

    pub fn validate(&self, has_secret: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        match self.auth {
            AuthMode::ServicePrincipal => {
                match self.tenant_id.as_deref().map(str::trim) {
                    None | Some("") => errors.push(FieldError::on("tenant_id", "a service principal needs its tenant (directory) id")),
                    Some(t) if !is_tenant(t) => errors.push(FieldError::on("tenant_id", format!("'{}' is not a tenant id (a GUID) or domain", shown(t)))),
                    _ => {}
                }
                match self.client_id.as_deref().map(str::trim) {
                    None | Some("") => errors.push(FieldError::on("client_id", "a service principal needs its application (client) id")),
                    Some(c) if !is_guid(c) => errors.push(FieldError::on("client_id", format!("'{}' is not an application id (a GUID)", shown(c)))),
                    _ => {}
                }
                if !has_secret {
                    errors.push(FieldError::on(SECRET, "the client secret is missing"));
                }
            }
            AuthMode::AzureCli => {
                if has_secret {
                    errors.push(FieldError::on(SECRET, "the Azure CLI signs in by itself; give no secret with it"));
                }
                if self.client_id.is_some() {
                    errors.push(FieldError::on("client_id", "a client id belongs to a service principal, not to the Azure CLI's sign-in"));
                }
                if let Some(t) = self.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty() && !is_tenant(t)) {
                    errors.push(FieldError::on("tenant_id", format!("'{}' is not a tenant id (a GUID) or domain", shown(t))));
                }
            }
        }
        for s in &self.subscriptions {
            if !is_guid(s.trim()) {
                errors.push(FieldError::on("subscriptions", format!("'{}' is not a subscription id (a GUID)", shown(s))));
            }
        }
        for (field, value, shape) in [
            ("authority_host", &self.authority_host, "https://login.microsoftonline.com"),
            ("arm_endpoint", &self.arm_endpoint, "https://management.azure.com"),
            ("arm_audience", &self.arm_audience, "https://management.azure.com"),
        ] {
            let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) else { continue };
            match crate::provider::http::check_endpoint(v, shape) {
                Err(m) => errors.push(FieldError::on(field, m)),
                // A bearer token or a client secret never crosses the network in clear.
                Ok(url) if url.scheme() != "https" && field != "arm_audience" => {
                    errors.push(FieldError::on(field, format!("this must be an https URL ({shape}): tokens and secrets are never sent in clear")))
                }
                Ok(_) => {}
            }
        }
        if let Some(path) = self.ca_file.as_deref().filter(|p| !p.trim().is_empty()) {
            if let Err(why) = read_ca_file(path) {
                errors.push(FieldError::on("ca_file", why));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The extra root certificates, or why the file is no use.
pub fn read_ca_file(path: &str) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path.trim()).map_err(|e| format!("the CA file {} cannot be read: {e}", shown(path)))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!("the CA file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", shown(path)));
    }
    Ok(pem)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, any case.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A tenant is named by its GUID or one of its domains (contoso.onmicrosoft.com).
fn is_tenant(s: &str) -> bool {
    is_guid(s) || (s.contains('.') && s.len() <= 253 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'))
}

/// A user's text in a message: no control characters, not too long.
pub(super) fn shown(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

pub const FIELDS: &[Field] = &[
    Field::text("auth", "Sign in with", "service-principal (tenant, client id and client secret; the default), or azure-cli: the Azure CLI already signed in on this machine with az login (nothing secret is stored).")
        .kind(FieldKind::Choice { options: &[("service-principal", "Service principal (client secret)"), ("azure-cli", "Azure CLI (az login)")] })
        .placeholder("service-principal"),
    Field::text("tenant_id", "Tenant (directory) id", "The Microsoft Entra tenant of the service principal, as a GUID or a domain. With the Azure CLI it is optional.")
        .placeholder("00000000-0000-0000-0000-000000000000")
        .flag("tenant"),
    Field::text("client_id", "Client (application) id", "The service principal's application id. Its client secret goes to the keychain or an environment variable.")
        .placeholder("00000000-0000-0000-0000-000000000000"),
    Field::text("subscriptions", "Subscriptions", "The subscription ids whose VMs this account manages. Leave empty for every subscription the principal can see.")
        .kind(FieldKind::List)
        .placeholder("00000000-0000-0000-0000-000000000000")
        .flag("subscription"),
    Field::text("authority_host", "Sign-in authority", "Microsoft Entra ID's address. Change it only for a sovereign cloud (login.microsoftonline.us, login.chinacloudapi.cn) or Azure Stack.")
        .kind(FieldKind::Url)
        .placeholder(PUBLIC_AUTHORITY)
        .advanced(),
    Field::text("arm_endpoint", "Resource Manager endpoint", "Azure Resource Manager's address. Change it only for a sovereign cloud or Azure Stack.")
        .kind(FieldKind::Url)
        .placeholder(PUBLIC_ARM)
        .advanced(),
    Field::text("arm_audience", "Token audience", "The resource tokens are issued for. It is the public cloud's Resource Manager unless your cloud's documentation names another.")
        .kind(FieldKind::Url)
        .placeholder(PUBLIC_ARM)
        .advanced(),
    Field::text("ca_file", "Extra CA certificates", "A PEM file of root certificates to trust besides the system's: your private cloud's or your TLS proxy's CA.")
        .placeholder("/etc/ssl/certs/private-cloud-ca.pem")
        .advanced(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn sp() -> AzureConfig {
        AzureConfig {
            tenant_id: Some("c0ffee00-0000-4000-8000-00000000a2e1".into()),
            client_id: Some("c11e4700-0000-4000-8000-00000000a2e1".into()),
            ..AzureConfig::default()
        }
    }

    fn fields(r: Result<(), Vec<FieldError>>) -> Vec<String> {
        r.err().unwrap_or_default().into_iter().filter_map(|e| e.field).collect()
    }

    #[test]
    fn a_service_principal_needs_tenant_client_and_secret() {
        assert!(sp().validate(true).is_ok());
        assert_eq!(fields(sp().validate(false)), vec![SECRET]);
        assert_eq!(fields(AzureConfig::default().validate(true)), vec!["tenant_id", "client_id"]);
        let odd = AzureConfig { client_id: Some("my-app".into()), subscriptions: vec!["prod".into()], ..sp() };
        assert_eq!(fields(odd.validate(true)), vec!["client_id", "subscriptions"]);
        let domain = AzureConfig { tenant_id: Some("contoso.onmicrosoft.com".into()), ..sp() };
        assert!(domain.validate(true).is_ok());
    }

    #[test]
    fn the_azure_cli_takes_no_secret_and_no_client() {
        let cli = AzureConfig { auth: AuthMode::AzureCli, ..AzureConfig::default() };
        assert!(cli.validate(false).is_ok());
        assert_eq!(fields(cli.validate(true)), vec![SECRET]);
        assert_eq!(fields(AzureConfig { client_id: Some("x".into()), ..cli }.validate(false)), vec!["client_id"]);
    }

    #[test]
    fn endpoints_default_to_the_public_cloud_and_must_be_https() {
        let c = sp();
        assert_eq!((c.authority_host(), c.arm_endpoint(), c.arm_audience()), (PUBLIC_AUTHORITY, PUBLIC_ARM, PUBLIC_ARM));
        let clear = AzureConfig { arm_endpoint: Some("http://arm.local".into()), authority_host: Some("https://u:p@login".into()), ..sp() };
        assert_eq!(fields(clear.validate(true)), vec!["authority_host", "arm_endpoint"]);
        let missing = AzureConfig { ca_file: Some("/nonexistent/ca.pem".into()), ..sp() };
        assert_eq!(fields(missing.validate(true)), vec!["ca_file"]);
    }
}
