//! `pdk accounts add` and `pdk accounts edit`, for every kind: the kind's
//! flags become its settings; a host whose certificate is not trusted can be
//! pinned after the admin compared its thumbprint, or its published CA kept
//! and trusted the same way (trust on first use).

use crate::confirm;
use crate::kind_args::{self, Given, Mode};
use powerdeck_core::engine::published_ca;
use powerdeck_core::model::Account;
use powerdeck_core::provider::http::{check_certificate, CertificateCheck};
use powerdeck_core::provider::kind::KindDescriptor;
use powerdeck_core::provider::registry;
use powerdeck_core::secrets::{Secret, SecretRef};
use powerdeck_core::{CoreError, Engine};
use serde_json::Value;
use std::io::BufRead;
use std::sync::Arc;

pub async fn add(engine: &Arc<Engine>, kind: &str, name: &str, args: &[String]) -> Result<Account, CoreError> {
    let kind = registry::kind(kind)?;
    let mut given = kind_args::parse(kind, Mode::Add, args)?;
    let kept = match given.fetch_ca {
        // Never over another account's kept CA.
        true if engine.store().account_by_name(name.trim())?.is_some() => return Err(CoreError::AccountExists(name.trim().into())),
        true => Some(keep_published_ca(engine, kind, name.trim(), &mut given.settings, given.yes, true).await?),
        false => None,
    };
    let secret = match (given.secret_stdin, &given.secret_env) {
        (true, _) => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| CoreError::Invalid(format!("cannot read the secret from standard input: {e}")))?;
            let value = line.trim_end_matches(['\r', '\n']).to_string();
            Some((SecretRef::keychain_for(name.trim()), Some(Secret::new(value))))
        }
        (false, Some(var)) => Some((SecretRef::env(var)?, None)),
        (false, None) => None,
    };
    let config = Value::Object(given.settings);
    warn_if_unprotected(kind, name, &config);
    let added = engine.add_account(name, kind.name, config, secret);
    if let (Err(_), Some(file)) = (&added, kept) {
        let _ = std::fs::remove_file(file);
    }
    added
}

pub async fn edit(engine: &Arc<Engine>, name: &str, args: &[String]) -> Result<Account, CoreError> {
    let account = engine.account(name)?;
    let kind = registry::kind(&account.kind)?;
    let given: Given = kind_args::parse(kind, Mode::Edit, args)?;
    let mut config = match &account.config {
        Value::Object(m) => m.clone(),
        _ => Default::default(),
    };
    for (k, v) in &given.settings {
        config.insert(k.clone(), v.clone());
    }
    if let Some(tls) = kind.tls {
        let set_trust = |config: &mut serde_json::Map<String, Value>, thumbprint: Value, insecure: bool| {
            config.insert(tls.thumbprint.into(), thumbprint);
            config.insert(tls.insecure.into(), Value::Bool(insecure));
        };
        if given.verify_tls {
            set_trust(&mut config, Value::Null, false);
            if let Some((field, _)) = kind.published_ca() {
                config.insert(field.into(), Value::Null);
            }
        }
        // A new pin replaces "accept any"; "accept any" drops a pin.
        if given.settings.get(tls.thumbprint).is_some_and(|t| !t.is_null()) {
            config.insert(tls.insecure.into(), Value::Bool(false));
        } else if given.settings.get(tls.insecure) == Some(&Value::Bool(true)) {
            config.insert(tls.thumbprint.into(), Value::Null);
        }
        if given.trust_presented {
            let endpoint = config.get(tls.endpoint).and_then(Value::as_str).unwrap_or_default().to_string();
            let presented = presented_thumbprint(kind, &account.name, &endpoint, given.yes).await?;
            set_trust(&mut config, Value::String(presented), false);
        }
        if given.fetch_ca {
            // The CA replaces a pin and "accept any".
            set_trust(&mut config, Value::Null, false);
            keep_published_ca(engine, kind, &account.name, &mut config, given.yes, false).await?;
        }
    }
    let config = Value::Object(config);
    if config == account.config {
        return Err(CoreError::Invalid(format!("nothing to change: give the settings to change (pdk accounts edit {} --help lists them)", account.name)));
    }
    warn_if_unprotected(kind, &account.name, &config);
    engine.update_account(&account.name, config)
}

/// Say so loudly when a secret would travel unprotected, whether the
/// account is being added or edited.
fn warn_if_unprotected(kind: &KindDescriptor, name: &str, config: &Value) {
    let Some(tls) = kind.tls else { return };
    if config.get(tls.insecure) == Some(&Value::Bool(true)) {
        eprintln!(
            "pdk: WARNING: certificate checks are OFF for '{name}' (--{}); anyone between you and the host can read its {}. Prefer --{}.",
            tls.insecure, kind.secret.label, tls.thumbprint
        );
    }
    let endpoint = config.get(tls.endpoint).and_then(Value::as_str).unwrap_or_default();
    if endpoint.trim_start().to_ascii_lowercase().starts_with("http://") {
        eprintln!("pdk: WARNING: '{name}' uses plain HTTP; its {} crosses the network unencrypted. Use https:// unless this is a lab.", kind.secret.label);
    }
}

/// The thumbprint of the certificate the host presents, once the admin has
/// compared it with the one the host shows on its console or web page.
async fn presented_thumbprint(kind: &KindDescriptor, name: &str, endpoint: &str, yes: bool) -> Result<String, CoreError> {
    let check = check_certificate(endpoint).await.map_err(|e| CoreError::provider(name, e))?;
    match check {
        CertificateCheck::NotTls => Err(CoreError::Invalid("the endpoint is plain HTTP: there is no certificate to trust".to_string())),
        CertificateCheck::Trusted => {
            Err(CoreError::Invalid("the system already trusts the certificate the endpoint presents; use --verify-tls instead of pinning it".to_string()))
        }
        CertificateCheck::Untrusted { thumbprint, reason } => {
            eprintln!("The endpoint presents a certificate the system does not trust ({reason}).");
            eprintln!("SHA-256 thumbprint: {thumbprint}");
            if let Some(tls) = kind.tls {
                eprintln!("Compare it with {}.", tls.compare_with);
            }
            if !yes {
                confirm::ask("Is this the thumbprint the host itself shows? Pin it")?;
            }
            Ok(thumbprint)
        }
    }
}

/// Fetch the CA the account's host publishes, show its thumbprint, and once
/// the admin confirms it is the one the host shows, keep it and point the
/// account's CA-file setting at it. The file kept.
async fn keep_published_ca(
    engine: &Arc<Engine>,
    kind: &KindDescriptor,
    name: &str,
    settings: &mut serde_json::Map<String, Value>,
    yes: bool,
    adding: bool,
) -> Result<std::path::PathBuf, CoreError> {
    let endpoint = kind.tls.and_then(|tls| settings.get(tls.endpoint)).and_then(Value::as_str).unwrap_or_default();
    if let (Some(tls), "") = (kind.tls, endpoint.trim()) {
        return Err(CoreError::Invalid(format!("--fetch-ca needs the endpoint (--{})", tls.endpoint.replace('_', "-"))));
    }
    let ca = published_ca::fetch(kind, name, endpoint).await?;
    eprintln!("The host publishes a CA certificate with SHA-256 thumbprint:\n{}", ca.thumbprint);
    if !yes {
        confirm::ask("Is this the thumbprint of the CA the host itself shows? Trust it for this account")?;
    }
    let kept = engine.keep_published_ca(kind, name, &ca, adding)?;
    settings.insert(kept.field.into(), Value::String(kept.file.to_string_lossy().into_owned()));
    Ok(kept.file)
}
