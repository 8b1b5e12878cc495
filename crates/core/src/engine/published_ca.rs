//! Trusting the CA a host publishes about itself (oVirt's engine serves
//! its CA at a well-known URL): fetched first, shown by its thumbprint for
//! the admin to compare with the one the host shows, and only then kept in
//! the data directory as the account's own CA file. `pdk accounts add
//! --fetch-ca` and the window's account form both go through here.

use super::Engine;
use crate::error::CoreError;
use crate::provider::http;
pub use crate::provider::http::PublishedCa;
use crate::provider::kind::{kept_ca_path, published_ca_url, FieldError, KindDescriptor};
use std::path::PathBuf;

/// Fetch (never keep) the CA the host of `endpoint` publishes, for an
/// account of `kind` named `account` (which names the account in errors).
pub async fn fetch(kind: &KindDescriptor, account: &str, endpoint: &str) -> Result<PublishedCa, CoreError> {
    let (Some(tls), Some((_, published_at))) = (kind.tls, kind.published_ca()) else {
        return Err(CoreError::Invalid(format!("{} hosts publish no CA certificate to fetch", kind.label)));
    };
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        return Err(CoreError::InvalidSettings { kind: kind.label, errors: vec![FieldError::on(tls.endpoint, "give the endpoint whose CA to fetch")] });
    }
    let url = published_ca_url(endpoint, published_at)
        .map_err(|message| CoreError::InvalidSettings { kind: kind.label, errors: vec![FieldError::on(tls.endpoint, message)] })?;
    http::fetch_published_ca(&url).await.map_err(|e| CoreError::provider(account, e))
}

/// Fetch the CA again and take it only if it is still the one whose
/// thumbprint the admin compared: a front end that shows the thumbprint in
/// one step and keeps the CA in another never keeps a CA nobody saw.
pub async fn fetch_compared(kind: &KindDescriptor, account: &str, endpoint: &str, thumbprint: &str) -> Result<PublishedCa, CoreError> {
    let ca = fetch(kind, account, endpoint).await?;
    if ca.thumbprint != thumbprint {
        return Err(CoreError::Invalid(format!(
            "the host now publishes another CA certificate (SHA-256 thumbprint {}) than the one compared; nothing was kept. Check with the host's administrator before trusting it",
            ca.thumbprint
        )));
    }
    Ok(ca)
}

/// Where the CA is kept and the setting that points at it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptCa {
    /// The kind's CA-file setting.
    pub field: &'static str,
    /// The kept file, as a full path.
    pub file: PathBuf,
}

impl Engine {
    /// Keep `ca` as the CA file of the account `account` of `kind`. An
    /// account being added (`adding`) must not exist yet, so another
    /// account's kept CA is never overwritten.
    pub fn keep_published_ca(&self, kind: &KindDescriptor, account: &str, ca: &PublishedCa, adding: bool) -> Result<KeptCa, CoreError> {
        let Some((field, _)) = kind.published_ca() else {
            return Err(CoreError::Invalid(format!("{} hosts publish no CA certificate to keep", kind.label)));
        };
        let account = account.trim();
        if account.is_empty() {
            return Err(CoreError::Invalid("give the account a name first: its CA certificate is kept under that name".into()));
        }
        match self.store.account_by_name(account)? {
            Some(_) if adding => return Err(CoreError::AccountExists(account.into())),
            None if !adding => return Err(CoreError::UnknownAccount(account.into())),
            _ => {}
        }
        let file = kept_ca_path(self.data_dir(), account);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(file.parent().expect("a kept file has a folder"))?;
            // Written whole or not at all: an account never reads half a CA.
            let tmp = file.with_extension("pem.tmp");
            std::fs::write(&tmp, ca.pem.as_bytes())?;
            std::fs::rename(&tmp, &file)
        };
        write().map_err(|e| CoreError::Invalid(format!("cannot keep the CA certificate in {}: {e}", file.display())))?;
        Ok(KeptCa { field, file })
    }
}
