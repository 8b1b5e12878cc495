//! Which provider kinds this build has. Adding a provider is one folder
//! (with its `KIND` descriptor) and one line in [`KINDS`].

use super::calls::Calls;
use super::kind::{FieldError, KindDescriptor};
use super::Provider;
use crate::error::CoreError;
use crate::model::Account;
use std::path::Path;
use std::sync::Arc;

pub static KINDS: &[&KindDescriptor] =
    &[&super::sim::KIND, &super::ec2::KIND, &super::vsphere::KIND, &super::azure::KIND, &super::cloudstack::KIND, &super::ovirt::KIND];

/// The kind called `name`, or a sentence listing the known ones.
pub fn kind(name: &str) -> Result<&'static KindDescriptor, CoreError> {
    KINDS.iter().copied().find(|k| k.name == name).ok_or_else(|| CoreError::UnknownKind { kind: name.into(), known: known() })
}

/// The kind names, for messages and help.
pub fn known() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// Complete and check an account's settings before they are stored.
pub fn prepare_config(kind_name: &str, config: &mut serde_json::Value, has_secret: bool) -> Result<(), CoreError> {
    let kind = kind(kind_name)?;
    let invalid = |errors: Vec<FieldError>| CoreError::InvalidSettings { kind: kind.label, errors };
    (kind.complete)(config).map_err(invalid)?;
    (kind.validate)(config, has_secret).map_err(invalid)
}

/// Build the provider for an account, fetching its secret only now.
pub fn build(account: &Account, data_dir: &Path, calls: Arc<Calls>) -> Result<Arc<dyn Provider>, CoreError> {
    let kind = kind(&account.kind)?;
    // An account that names a secret source must be able to read it, even
    // a kind that needs none (a wrong reference is worth saying).
    let secret = account.secret.as_ref().map(|s| s.resolve()).transpose()?;
    let ctx = super::kind::BuildContext { account, secret, data_dir, calls };
    (kind.build)(&ctx).map_err(|e| CoreError::provider(&account.name, e))
}
