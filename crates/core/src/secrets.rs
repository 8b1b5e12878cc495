//! Where an account's secret lives. The store keeps only a [`SecretRef`];
//! the secret itself stays in the OS keychain or in the environment variable
//! the user named, and is fetched only when a provider is built.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

const SERVICE: &str = "powerdeck";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum SecretRef {
    /// An entry in the OS keychain (Secret Service, macOS Keychain, Windows Credential Manager).
    Keychain { service: String, user: String },
    /// The name of an environment variable that holds the secret.
    Env { var: String },
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Keychain { service, user } => write!(f, "keychain ({service}/{user})"),
            Self::Env { var } => write!(f, "environment variable {var}"),
        }
    }
}

/// A secret value that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SecretError {
    #[error("no keychain service is available ({0}); keep the secret in an environment variable and store only its name instead")]
    NoKeychain(String),
    #[error("the keychain has no secret for {0}; add the account again to store it")]
    Missing(String),
    #[error("the environment variable {0} is not set (the account's secret is read from it)")]
    EnvUnset(String),
    #[error("'{0}' is not a valid environment variable name")]
    BadEnvName(String),
    #[error("the secret is empty")]
    Empty,
    #[error("the keychain refused: {0}")]
    Keychain(String),
}

impl SecretRef {
    pub fn keychain_for(account: &str) -> Self {
        Self::Keychain { service: SERVICE.into(), user: format!("account:{account}") }
    }

    pub fn env(var: &str) -> Result<Self, SecretError> {
        let ok = !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !var.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(SecretError::BadEnvName(var.into()));
        }
        Ok(Self::Env { var: var.into() })
    }

    pub fn resolve(&self) -> Result<Secret, SecretError> {
        match self {
            Self::Env { var } => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(SecretError::EnvUnset(var.clone())),
            },
            Self::Keychain { service, user } => {
                let (service, user) = (service.clone(), user.clone());
                off_runtime(move || {
                    let entry = keyring::Entry::new(&service, &user).map_err(map_keyring)?;
                    match entry.get_password() {
                        Ok(p) => Ok(Secret(p)),
                        Err(keyring::Error::NoEntry) => Err(SecretError::Missing(format!("{service}/{user}"))),
                        Err(e) => Err(map_keyring(e)),
                    }
                })
            }
        }
    }

    /// Put `secret` into the keychain entry this reference names.
    pub fn store(&self, secret: &Secret) -> Result<(), SecretError> {
        if secret.0.is_empty() {
            return Err(SecretError::Empty);
        }
        match self {
            Self::Env { .. } => Ok(()),
            Self::Keychain { service, user } => {
                let (service, user, value) = (service.clone(), user.clone(), secret.0.clone());
                off_runtime(move || keyring::Entry::new(&service, &user).and_then(|e| e.set_password(&value)).map_err(map_keyring))
            }
        }
    }

    /// Remove the keychain entry, if there is one. Missing is fine.
    pub fn delete(&self) -> Result<(), SecretError> {
        match self {
            Self::Env { .. } => Ok(()),
            Self::Keychain { service, user } => {
                let (service, user) = (service.clone(), user.clone());
                off_runtime(move || match keyring::Entry::new(&service, &user).and_then(|e| e.delete_credential()) {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(map_keyring(e)),
                })
            }
        }
    }
}

fn map_keyring(e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => SecretError::NoKeychain(first_line(&inner.to_string())),
        other => SecretError::Keychain(first_line(&other.to_string())),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(160).collect()
}

/// The Secret Service client blocks on its own executor, which must not run
/// on an async runtime thread; a plain thread is always safe.
fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> Result<T, SecretError> + Send + 'static) -> Result<T, SecretError> {
    std::thread::spawn(f).join().unwrap_or_else(|_| Err(SecretError::Keychain("the keychain client crashed".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_themselves() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }

    #[test]
    fn env_refs_resolve_and_explain_when_unset() {
        let r = SecretRef::env("PDK_TEST_SECRET_UNSET_XYZ").unwrap();
        assert_eq!(
            r.resolve().unwrap_err().to_string(),
            "the environment variable PDK_TEST_SECRET_UNSET_XYZ is not set (the account's secret is read from it)"
        );
        assert!(SecretRef::env("1BAD").is_err());
        assert!(SecretRef::env("A-B").is_err());
        // PATH is always set: resolving it proves the happy path without
        // mutating the test process's environment.
        assert!(SecretRef::env("PATH").unwrap().resolve().is_ok());
    }

    #[test]
    fn a_reference_serializes_without_any_value() {
        let json = serde_json::to_string(&SecretRef::keychain_for("prod")).unwrap();
        assert_eq!(json, r#"{"source":"keychain","service":"powerdeck","user":"account:prod"}"#);
    }
}
