//! `pdk accounts edit`: change a vSphere account in place, above all to
//! re-pin a host whose certificate was renewed. The secret reference and the
//! local inventory stay as they are; the engine restarts the account's loops.

use crate::args::EditArgs;
use crate::confirm;
use powerdeck_core::model::Account;
use powerdeck_core::provider::http::{check_certificate, CertificateCheck};
use powerdeck_core::provider::vsphere::VsphereConfig;
use powerdeck_core::{CoreError, Engine};
use std::sync::Arc;

pub async fn run(engine: &Arc<Engine>, args: EditArgs) -> Result<Account, CoreError> {
    let account = engine.account(&args.name)?;
    if account.kind != "vsphere" {
        return Err(CoreError::Invalid(format!(
            "'{}' is a {} account; only vsphere accounts can be edited here (remove and add the account to change it)",
            account.name, account.kind
        )));
    }
    let mut config: VsphereConfig = serde_json::from_value(account.config.clone())
        .map_err(|e| CoreError::Invalid(format!("the stored settings of '{}' cannot be read: {e}", account.name)))?;
    let before = config.clone();
    if let Some(endpoint) = args.endpoint {
        config.endpoint = endpoint;
    }
    if let Some(username) = args.username {
        config.username = username;
    }
    if args.verify_tls {
        config.thumbprint = None;
        config.insecure = false;
    }
    if args.insecure {
        config.thumbprint = None;
        config.insecure = true;
    }
    if let Some(thumbprint) = args.thumbprint {
        config.thumbprint = Some(thumbprint);
        config.insecure = false;
    }
    if args.trust_presented {
        config.thumbprint = Some(presented_thumbprint(&account.name, &config.endpoint, args.yes).await?);
        config.insecure = false;
    }
    if config == before {
        return Err(CoreError::Invalid("nothing to change: give --endpoint, --username, --thumbprint, --trust-presented, --insecure or --verify-tls".into()));
    }
    warn_if_unprotected(&account.name, &config.endpoint, config.insecure);
    engine.update_account(&account.name, serde_json::to_value(&config).expect("config serializes"))
}

/// Say so loudly when a vSphere password would travel unprotected, whether
/// the account is being added or edited.
pub fn warn_if_unprotected(name: &str, endpoint: &str, insecure: bool) {
    if insecure {
        eprintln!(
            "pdk: WARNING: certificate checks are OFF for '{name}' (--insecure); anyone between you and the host can read its password. Prefer --thumbprint."
        );
    }
    if endpoint.trim_start().to_ascii_lowercase().starts_with("http://") {
        eprintln!("pdk: WARNING: '{name}' uses plain HTTP; its password crosses the network unencrypted. Use https:// unless this is a lab.");
    }
}

/// The thumbprint of the certificate the host presents, once the admin has
/// compared it with the one the host shows on its console or web page.
async fn presented_thumbprint(name: &str, endpoint: &str, yes: bool) -> Result<String, CoreError> {
    let check = check_certificate(endpoint).await.map_err(|e| CoreError::provider(name, e))?;
    match check {
        CertificateCheck::NotTls => Err(CoreError::Invalid(format!("{endpoint} is plain HTTP: there is no certificate to trust"))),
        CertificateCheck::Trusted => {
            Err(CoreError::Invalid(format!("the system already trusts the certificate {endpoint} presents; use --verify-tls instead of pinning it")))
        }
        CertificateCheck::Untrusted { thumbprint, reason } => {
            eprintln!("{endpoint} presents a certificate the system does not trust ({reason}).");
            eprintln!("SHA-256 thumbprint: {thumbprint}");
            if !yes {
                confirm::ask("Is this the thumbprint your vCenter or ESXi host shows? Pin it")?;
            }
            Ok(thumbprint)
        }
    }
}
