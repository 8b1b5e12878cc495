//! Where an EC2 account's keys come from: an access key id plus the secret
//! from the account's secret source, or a named profile in the standard AWS
//! shared files (`~/.aws/credentials`, `~/.aws/config`, or the files named by
//! `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`).

use super::config::Ec2Config;
use crate::provider::ProviderError;
use crate::secrets::Secret;
use std::path::PathBuf;

/// Signing keys, held only in memory.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({}, ***)", self.access_key_id)
    }
}

fn auth(message: String) -> ProviderError {
    ProviderError::Auth { message }
}

/// Keys for `cfg`, with `secret` already fetched from the account's secret source.
pub fn keys(cfg: &Ec2Config, secret: Option<Secret>) -> Result<Keys, ProviderError> {
    if let Some(profile) = &cfg.profile {
        return profile_keys(profile);
    }
    let access_key_id = cfg.access_key_id.clone().ok_or_else(|| auth("the account has no access key id".into()))?;
    let secret_access_key = secret.ok_or_else(|| auth("the account has no secret access key".into()))?;
    let session_token = match &cfg.session_token_env {
        Some(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Some(Secret::new(v)),
            _ => return Err(auth(format!("the environment variable {var} (the session token) is not set"))),
        },
        None => None,
    };
    Ok(Keys { access_key_id, secret_access_key, session_token })
}

fn home_file(env: &str, rel: &str) -> Option<PathBuf> {
    std::env::var_os(env).map(PathBuf::from).or_else(|| dirs::home_dir().map(|h| h.join(".aws").join(rel)))
}

fn load(env: &str, rel: &str) -> Result<Option<ini::Ini>, ProviderError> {
    let Some(path) = home_file(env, rel) else { return Ok(None) };
    match ini::Ini::load_from_file(&path) {
        Ok(i) => Ok(Some(i)),
        Err(ini::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // The parse error names a line, never a value.
        Err(e) => Err(auth(format!("cannot read {}: {e}", path.display()))),
    }
}

/// A profile's section: `[name]` in the credentials file, `[profile name]`
/// (or `[default]`) in the config file.
fn lookup(profile: &str, key: &str) -> Result<Option<String>, ProviderError> {
    if let Some(creds) = load("AWS_SHARED_CREDENTIALS_FILE", "credentials")? {
        if let Some(v) = creds.section(Some(profile)).and_then(|s| s.get(key)) {
            return Ok(Some(v.trim().to_string()));
        }
    }
    if let Some(config) = load("AWS_CONFIG_FILE", "config")? {
        let section = if profile == "default" { "default".to_string() } else { format!("profile {profile}") };
        if let Some(v) = config.section(Some(section.as_str())).and_then(|s| s.get(key)) {
            return Ok(Some(v.trim().to_string()));
        }
    }
    Ok(None)
}

fn profile_keys(profile: &str) -> Result<Keys, ProviderError> {
    let id = lookup(profile, "aws_access_key_id")?;
    let secret = lookup(profile, "aws_secret_access_key")?;
    match (id, secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            let token = lookup(profile, "aws_session_token")?.filter(|t| !t.is_empty()).map(Secret::new);
            Ok(Keys { access_key_id: id, secret_access_key: Secret::new(secret), session_token: token })
        }
        _ => Err(auth(format!(
            "the AWS profile '{profile}' has no aws_access_key_id and aws_secret_access_key in the shared credentials or config file (SSO and role profiles are not supported yet)"
        ))),
    }
}

/// The profile's default region, used when the account names none.
pub fn profile_region(profile: &str) -> Result<Option<String>, ProviderError> {
    lookup(profile, "region")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_reads_both_shared_files_and_never_prints_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(&creds, "[ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = s3cr3t-value\n").unwrap();
        std::fs::write(&config, "[profile ops]\nregion = eu-central-1\n").unwrap();
        // Tests in this module are the only readers of these variables.
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &creds);
        std::env::set_var("AWS_CONFIG_FILE", &config);
        let k = profile_keys("ops").unwrap();
        assert_eq!(k.access_key_id, "AKIAOPS");
        assert_eq!(k.secret_access_key.expose(), "s3cr3t-value");
        assert!(!format!("{k:?}").contains("s3cr3t"));
        assert_eq!(profile_region("ops").unwrap().as_deref(), Some("eu-central-1"));
        let err = profile_keys("nope").unwrap_err();
        assert!(matches!(err, ProviderError::Auth { .. }) && err.to_string().contains("'nope'"), "{err}");
    }
}
