//! What each provider kind declares once, in its own folder: its name and
//! label, the account fields both front ends show (and check), what its
//! secret is, and how a stored account becomes a provider. The registry
//! lists the kinds; nothing else matches kind names.

use super::calls::Calls;
use super::{Provider, ProviderError};
use crate::model::Account;
use crate::secrets::Secret;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

#[derive(Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct KindDescriptor {
    /// The stored kind name (`ec2`), also the CLI's word for it.
    pub name: &'static str,
    /// What people call it ("Amazon EC2").
    pub label: &'static str,
    /// One line saying what an account of this kind is.
    pub summary: &'static str,
    pub fields: &'static [Field],
    pub secret: SecretSpec,
    /// The fields that say how the endpoint's certificate is trusted, for
    /// kinds whose hosts often carry self-signed certificates.
    pub tls: Option<TlsFields>,
    /// Which states the provider bills compute for (the hours report's
    /// billable time, and the "stopped but still billed" finding).
    pub billing: crate::hours::Billing,
    /// The fact that names a VM's size (EC2's instance type, Azure's VM
    /// size, CloudStack's service offering): prices per size key on it.
    pub size_fact: Option<&'static str>,
    /// Check settings before they are stored. `has_secret`: the account has
    /// a secret source.
    #[serde(skip)]
    pub validate: fn(&serde_json::Value, bool) -> Result<(), Vec<FieldError>>,
    /// Fill in what follows from the settings given (EC2: a profile's
    /// region); runs before `validate` when an account is added or edited.
    #[serde(skip)]
    pub complete: fn(&mut serde_json::Value) -> Result<(), Vec<FieldError>>,
    /// Build the provider for a stored account.
    #[serde(skip)]
    pub build: fn(&BuildContext<'_>) -> Result<Arc<dyn Provider>, ProviderError>,
    /// Clean up what the kind keeps outside the store when an account goes.
    #[serde(skip)]
    pub forget: fn(&Account, &Path),
}

impl KindDescriptor {
    /// The kind's CA-file setting and where its hosts publish their CA, if
    /// they publish one.
    pub fn published_ca(&self) -> Option<(&'static str, &'static str)> {
        self.tls?;
        self.fields.iter().find_map(|f| match f.kind {
            FieldKind::CaFile { published_at: Some(at) } => Some((f.name, at)),
            _ => None,
        })
    }
}

/// What a provider is built from.
pub struct BuildContext<'a> {
    pub account: &'a Account,
    pub secret: Option<Secret>,
    pub data_dir: &'a Path,
    /// The account's share of the shared call layer: every request the
    /// provider makes goes through it.
    pub calls: Arc<Calls>,
}

impl BuildContext<'_> {
    /// The account's settings as the kind's own type.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_value(self.account.config.clone()).map_err(|e| ProviderError::Config {
            message: format!("the stored settings of account '{}' are unreadable ({e}); edit or re-add it", self.account.name),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct Field {
    /// The key in the account's settings (JSON).
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub help: &'static str,
    /// An example or the default, shown in an empty input.
    pub placeholder: &'static str,
    /// Tuning most people never touch (a demo fleet's knobs): the form folds it away.
    pub advanced: bool,
    /// The CLI flag when it is not the name with dashes (`--region` for `regions`).
    pub flag: Option<&'static str>,
}

impl Field {
    /// A required or optional text field with no special flag.
    pub const fn text(name: &'static str, label: &'static str, help: &'static str) -> Self {
        Self { name, label, kind: FieldKind::Text, required: false, help, placeholder: "", advanced: false, flag: None }
    }
    pub const fn kind(mut self, kind: FieldKind) -> Self {
        self.kind = kind;
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn advanced(mut self) -> Self {
        self.advanced = true;
        self
    }
    pub const fn placeholder(mut self, p: &'static str) -> Self {
        self.placeholder = p;
        self
    }
    pub const fn flag(mut self, f: &'static str) -> Self {
        self.flag = Some(f);
        self
    }
    /// The CLI flag, without its dashes.
    pub fn cli_flag(&self) -> String {
        self.flag.map(str::to_string).unwrap_or_else(|| self.name.replace('_', "-"))
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FieldKind {
    Text,
    /// An http(s) URL without credentials.
    Url,
    Integer {
        min: i64,
        max: i64,
    },
    Number {
        min: f64,
        max: f64,
    },
    /// On or off. `off_flag`: the CLI spells it as a flag that turns it off
    /// (`--no-feed`), because it is on by default.
    Bool {
        default: bool,
        off_flag: Option<&'static str>,
    },
    /// Several values (`--region a --region b`, or "a, b" in the form).
    List,
    /// A SHA-256 certificate thumbprint.
    Thumbprint,
    /// The full path of a PEM file of CA certificates trusted for this
    /// account. `published_at`: where on the endpoint's host the provider
    /// publishes its own CA (path and query), so a front end can offer to
    /// fetch it, show its thumbprint and keep it (trust on first use).
    CaFile {
        published_at: Option<&'static str>,
    },
    /// The name of an environment variable (never its value).
    EnvVar,
    /// One of these values, with labels.
    Choice {
        options: &'static [(&'static str, &'static str)],
    },
}

#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct SecretSpec {
    /// What the secret is ("secret access key", "password").
    pub label: &'static str,
    pub need: SecretNeed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "kebab-case")]
pub enum SecretNeed {
    /// The kind has no secret.
    None,
    /// Some settings need one (EC2: not with a profile); `validate` decides.
    Optional,
    Required,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct TlsFields {
    pub endpoint: &'static str,
    pub thumbprint: &'static str,
    pub insecure: &'static str,
    /// Where the host itself shows its certificate's thumbprint, for the
    /// admin to compare before trusting it ("Compare it with …").
    pub compare_with: &'static str,
}

/// Something wrong with one setting (or, with `field: None`, with the whole).
/// The text names the setting the way people read it, never a CLI flag or
/// a form input: each front end points at its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
pub struct FieldError {
    /// A field name, [`SECRET`] for the secret, or `None`.
    pub field: Option<String>,
    pub message: String,
}

/// The pseudo-field that stands for the account's secret.
pub const SECRET: &str = "secret";

impl FieldError {
    pub fn on(field: &str, message: impl Into<String>) -> Self {
        Self { field: Some(field.to_string()), message: message.into() }
    }
    pub fn whole(message: impl Into<String>) -> Self {
        Self { field: None, message: message.into() }
    }
}

/// Settings as the kind's type, or one error per unreadable field.
pub fn parse<T: serde::de::DeserializeOwned>(config: &serde_json::Value) -> Result<T, Vec<FieldError>> {
    serde_json::from_value(config.clone()).map_err(|e| {
        // serde names the path rarely; say what it said.
        vec![FieldError::whole(format!("the settings cannot be read: {e}"))]
    })
}

/// A kind with nothing to fill in.
pub fn nothing_to_complete(_: &mut serde_json::Value) -> Result<(), Vec<FieldError>> {
    Ok(())
}

/// Where a CA certificate fetched for an account is kept: a file of the
/// data directory's own, named after the account (a hash keeps names that
/// differ only in punctuation apart), as a full path: the account's setting
/// names it so, whatever the data directory was given as.
pub fn kept_ca_path(data_dir: &Path, account: &str) -> std::path::PathBuf {
    use sha2::Digest;
    let safe: String = account.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' }).take(40).collect();
    let hash: String = sha2::Sha256::digest(account.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    let file = data_dir.join("certs").join(format!("{safe}-{hash}.pem"));
    std::path::absolute(&file).unwrap_or(file)
}

/// The URL where the host of `endpoint` publishes its CA (`published_at`).
pub fn published_ca_url(endpoint: &str, published_at: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(endpoint.trim()).map_err(|e| format!("the endpoint is not a URL ({e})"))?;
    let origin = url.origin().ascii_serialization();
    if origin == "null" {
        return Err("the endpoint has no host".into());
    }
    Ok(format!("{origin}{published_at}"))
}

/// Remove a CA file this data directory keeps for the account (one fetched
/// for it), never a file the user named themselves.
pub fn forget_kept_ca(account: &Account, data_dir: &Path, field: &str) {
    let kept = kept_ca_path(data_dir, &account.name);
    if account.config.get(field).and_then(|v| v.as_str()).map(std::path::Path::new) == Some(kept.as_path()) {
        if let Err(e) = std::fs::remove_file(&kept) {
            tracing::debug!(file = %kept.display(), error = %e, "could not remove the account's kept CA file");
        }
    }
}

/// A kind that keeps nothing outside the store.
pub fn nothing_to_forget(_: &Account, _: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_ca_is_named_after_its_account_and_never_shared() {
        let dir = Path::new("/data");
        let a = kept_ca_path(dir, "lab engine");
        let b = kept_ca_path(dir, "lab_engine");
        assert_ne!(a, b, "names that differ only in punctuation keep apart");
        assert!(a.starts_with("/data/certs") && a.extension().is_some_and(|e| e == "pem"), "{a:?}");
        assert_eq!(kept_ca_path(dir, "../../etc").parent(), Some(Path::new("/data/certs")), "no way out of the folder");
    }

    #[test]
    fn the_published_ca_is_at_the_endpoints_origin() {
        assert_eq!(
            published_ca_url("https://engine.example:8443/ovirt-engine/api", "/pki?resource=ca").unwrap(),
            "https://engine.example:8443/pki?resource=ca"
        );
        assert!(published_ca_url("not a url", "/x").is_err());
    }
}
