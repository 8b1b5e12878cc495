//! Where ARM bearer tokens come from: Microsoft Entra ID's client-credentials
//! flow for a service principal, or the Azure CLI already signed in on this
//! machine (`az account get-access-token`, exactly as Azure's own
//! `AzureCliCredential` asks it). Neither ever puts a secret in an error.

use crate::provider::calls::{Call, Calls};
use crate::provider::http::HttpTransport;
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// How long the Azure CLI may take (azure-identity waits 10 s too).
const CLI_TIMEOUT: Duration = Duration::from_secs(10);
/// Renew this long before a token expires (azure-core's refresh window)…
const RENEW_BEFORE: Duration = Duration::from_secs(300);

pub enum Credential {
    ClientSecret {
        /// `{authority}/{tenant}/oauth2/v2.0/token`.
        token_url: reqwest::Url,
        client_id: String,
        secret: Secret,
        /// `{audience}/.default`.
        scope: String,
    },
    AzureCli {
        /// `az` (found on PATH), or another program in tests.
        program: std::path::PathBuf,
        /// The resource the token is for (the ARM audience).
        resource: String,
        tenant: Option<String>,
    },
}

/// A token, and how long to use it before asking for a new one.
pub type Fetched = (Secret, Option<Duration>);

impl Credential {
    /// The client secret, so errors can be searched for it before they are shown.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Self::ClientSecret { secret, .. } => Some(secret),
            Self::AzureCli { .. } => None,
        }
    }

    /// What signs in, for messages ("service principal c11e…").
    pub fn describe(&self) -> String {
        match self {
            Self::ClientSecret { client_id, .. } => format!("service principal {client_id}"),
            Self::AzureCli { .. } => "the Azure CLI's sign-in".into(),
        }
    }

    pub async fn fetch(&self, http: &HttpTransport, calls: &Calls) -> ProviderResult<Fetched> {
        match self {
            Self::ClientSecret { token_url, client_id, secret, scope } => {
                let form = [("grant_type", "client_credentials"), ("client_id", client_id), ("client_secret", secret.expose()), ("scope", scope)];
                let resp = calls
                    .run(Call::other().in_scope("login"), || async {
                        let req = http.client_for(crate::provider::calls::Effect::Read).post(token_url.clone()).form(&form);
                        http.send(req, |f| entra_error(f.status, &f.body)).await
                    })
                    .await?;
                let token: TokenAnswer =
                    resp.json().map_err(|_| ProviderError::malformed("the sign-in answer is not JSON; is the authority host Microsoft Entra ID?"))?;
                token.into_fetched()
            }
            Self::AzureCli { program, resource, tenant } => az_token(program, resource, tenant.as_deref()).await,
        }
    }
}

/// How long to use a token that lives `lifetime`: until five minutes before
/// it expires, or half its life if it is shorter than ten minutes.
pub fn use_for(lifetime: Duration) -> Duration {
    lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2))
}

/// Entra ID's v2 token answer (the v1 endpoint's `expires_in` is a string).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<Value>,
    token_type: Option<String>,
}

impl TokenAnswer {
    fn into_fetched(self) -> ProviderResult<Fetched> {
        let token = self.access_token.filter(|t| !t.is_empty()).ok_or_else(|| ProviderError::malformed("the sign-in answer carries no access_token"))?;
        if self.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
            return Err(ProviderError::malformed("the sign-in answer's token is not a bearer token"));
        }
        let lifetime = match &self.expires_in {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| ProviderError::malformed("the sign-in answer does not say when the token expires (expires_in)"))?;
        Ok((Secret::new(token), Some(use_for(Duration::from_secs(lifetime)))))
    }
}

/// A refused sign-in in Powerdeck's words: the OAuth error and AADSTS code,
/// never Entra's description (a hostile or confused server may echo the
/// secret it was sent into it).
fn entra_error(status: u16, body: &str) -> Option<ProviderError> {
    #[derive(Deserialize)]
    struct Refusal {
        error: String,
        #[serde(default)]
        error_codes: Vec<u64>,
    }
    let r: Refusal = serde_json::from_str(body).ok()?;
    if !(400..500).contains(&status) || status == 429 {
        return None;
    }
    let code = r.error_codes.first().copied();
    let meaning = match code {
        Some(7000215) => "the client secret is wrong",
        Some(7000222) => "the client secret has expired",
        Some(7000216) => "no client secret was sent",
        Some(700016) => "no application with this client id exists in the tenant",
        Some(90002) | Some(900023) => "the tenant does not exist in this cloud",
        Some(500011) => "the token audience is unknown to the tenant",
        Some(1002012) | Some(70011) => "the scope was refused",
        _ => "the sign-in was refused",
    };
    let error: String = r.error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
    let code = code.map(|c| format!(", AADSTS{c}")).unwrap_or_default();
    Some(ProviderError::Auth { message: format!("Microsoft Entra ID refused the sign-in: {meaning} ({error}{code})") })
}

/// `az account get-access-token --output json --resource R [--tenant T]`.
async fn az_token(program: &std::path::Path, resource: &str, tenant: Option<&str>) -> ProviderResult<Fetched> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(["account", "get-access-token", "--output", "json", "--resource", resource]);
    if let Some(t) = tenant {
        cmd.args(["--tenant", t]);
    }
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let auth = |message: String| ProviderError::Auth { message };
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => auth(
            "the Azure CLI (az) is not installed on this machine or not on PATH; install it and run 'az login', or sign in with a service principal".into(),
        ),
        _ => auth(format!("the Azure CLI (az) could not be started: {e}")),
    })?;
    let out = tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| ProviderError::Timeout { after: CLI_TIMEOUT, attempts: 1, waited: CLI_TIMEOUT })?
        .map_err(|e| auth(format!("the Azure CLI (az) failed: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("az login") || stderr.contains("az account set") {
            return Err(auth("the Azure CLI is not signed in on this machine; run 'az login' first".into()));
        }
        let first: String =
            stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message").chars().filter(|c| !c.is_control()).take(200).collect();
        return Err(auth(format!("the Azure CLI could not get a token: {first}")));
    }
    parse_cli_token(&out.stdout, chrono::Utc::now().timestamp())
}

/// The CLI's JSON: `accessToken`, and `expires_on` (epoch seconds, newer
/// CLIs) or `expiresOn` (local time without a zone, older ones).
pub fn parse_cli_token(stdout: &[u8], now: i64) -> ProviderResult<Fetched> {
    #[derive(Deserialize)]
    struct CliToken {
        #[serde(rename = "accessToken")]
        access_token: Option<String>,
        expires_on: Option<Value>,
        #[serde(rename = "expiresOn")]
        expires_on_local: Option<String>,
    }
    let bad = || ProviderError::malformed("the Azure CLI printed something other than an access token");
    let raw: CliToken = serde_json::from_slice(stdout).map_err(|_| bad())?;
    let token = raw.access_token.filter(|t| !t.is_empty()).ok_or_else(bad)?;
    let epoch = match &raw.expires_on {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let expires = epoch.or_else(|| raw.expires_on_local.as_deref().and_then(local_time)).ok_or_else(bad)?;
    let lifetime = Duration::from_secs(u64::try_from(expires.saturating_sub(now)).unwrap_or(0));
    Ok((Secret::new(token), Some(use_for(lifetime))))
}

/// `2026-01-31 14:05:09.123456` in this machine's time zone, as epoch seconds.
fn local_time(s: &str) -> Option<i64> {
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    chrono::Local.from_local_datetime(&naive).earliest().map(|t| t.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_five_minutes_early_or_at_half_life() {
        assert_eq!(use_for(Duration::from_secs(3600)), Duration::from_secs(3300));
        assert_eq!(use_for(Duration::from_secs(300)), Duration::from_secs(150));
        assert_eq!(use_for(Duration::from_secs(4)), Duration::from_secs(2));
        assert_eq!(use_for(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_v1_answer_with_a_string_lifetime_is_read() {
        // libcloud's captured AAD v1 answer (shared fixtures): expires_in as text.
        let v1: TokenAnswer = serde_json::from_str(include_str!("../../../tests/azure/fixtures/libcloud_oauth2_token.json")).unwrap();
        let (token, lifetime) = v1.into_fetched().unwrap();
        assert_eq!((token.expose().len(), lifetime), (55, Some(Duration::from_secs(3300))));
        let missing: TokenAnswer = serde_json::from_str(r#"{"token_type":"Bearer"}"#).unwrap();
        assert!(missing.into_fetched().is_err());
    }

    #[test]
    fn a_refused_sign_in_never_repeats_entras_text() {
        let body =
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: 'hunter2-secret'","error_codes":[7000215]}"#;
        let err = entra_error(401, body).unwrap();
        let text = err.to_string();
        assert!(matches!(err, ProviderError::Auth { .. }) && text.contains("client secret is wrong") && text.contains("AADSTS7000215"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(entra_error(503, body).is_none(), "an outage is not a refusal");
        assert!(entra_error(400, "<html>").is_none());
    }

    #[test]
    fn the_cli_token_has_its_expiry_in_either_shape() {
        let now = 1_800_000_000;
        let (t, life) = parse_cli_token(br#"{"accessToken":"tok","expires_on":1800003600,"expiresOn":"garbage","tokenType":"Bearer"}"#, now).unwrap();
        assert_eq!((t.expose(), life), ("tok", Some(Duration::from_secs(3300))));
        let (_, life) = parse_cli_token(br#"{"accessToken":"tok","expires_on":"1800000600"}"#, now).unwrap();
        assert_eq!(life, Some(Duration::from_secs(300)));
        // Older CLIs: local time without a zone.
        let local = chrono::DateTime::from_timestamp(now + 1200, 0).unwrap().with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S%.6f").to_string();
        let (_, life) = parse_cli_token(format!(r#"{{"accessToken":"tok","expiresOn":"{local}"}}"#).as_bytes(), now).unwrap();
        assert_eq!(life, Some(Duration::from_secs(900)));
        assert!(parse_cli_token(b"ERROR: something", now).is_err());
        assert!(parse_cli_token(br#"{"accessToken":"tok"}"#, now).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, jsonish};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn whatever_the_cli_prints_is_a_token_or_a_clear_error(
            out in prop_oneof![
                jsonish(),
                (any::<i64>(), "[a-zA-Z0-9.]{0,20}").prop_map(|(e, t)| format!(r#"{{"accessToken":"{t}","expires_on":{e}}}"#)),
                "[0-9 :.-]{0,30}".prop_map(|l| format!(r#"{{"accessToken":"t","expiresOn":"{l}"}}"#)),
            ],
            now in any::<i64>()
        ) {
            let _ = parse_cli_token(out.as_bytes(), now);
        }
    }
}
