//! The engine's single sign-on: a bearer token for the REST API from the
//! OAuth password grant (`/ovirt-engine/sso/oauth/token`, scope
//! `ovirt-app-api`), and its revocation (`/ovirt-engine/services/sso-logout`).
//! Both answer JSON; SSO errors come as HTTP 400 with either the OAuth shape
//! `{error, error_description}` or the engine's `{error_code, error}`.

use super::redact::Redactor;
use crate::provider::calls::{Call, Calls, Counter, Effect};
use crate::provider::http::{HttpFailure, HttpTransport};
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

const TOKEN_PATH: &str = "/ovirt-engine/sso/oauth/token";
const LOGOUT_PATH: &str = "/ovirt-engine/services/sso-logout";
/// The scope the REST API demands; a token without it is issued but refused.
const API_SCOPE: &str = "ovirt-app-api";

/// What the SSO endpoints need: where, who, and how to send.
#[derive(Clone)]
pub struct Sso {
    pub http: HttpTransport,
    pub calls: Arc<Calls>,
    /// `https://engine.example` (the endpoint's origin).
    pub origin: String,
    pub username: String,
    pub password: Secret,
    pub redactor: Redactor,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    /// Epoch milliseconds, sent as a string (`SsoSession.getValidTo`).
    exp: Option<serde_json::Value>,
    scope: Option<String>,
    #[serde(flatten)]
    error: SsoError,
}

#[derive(Deserialize, Default)]
struct SsoError {
    error: Option<String>,
    error_code: Option<String>,
    error_description: Option<String>,
}

impl SsoError {
    /// The error's code and text, in either shape the engine uses.
    fn parts(&self) -> Option<(String, String)> {
        match (&self.error_code, &self.error, &self.error_description) {
            (Some(code), text, _) => Some((code.clone(), text.clone().unwrap_or_default())),
            (None, Some(code), Some(text)) => Some((code.clone(), text.clone())),
            (None, Some(text), None) => Some((String::new(), text.clone())),
            _ => None,
        }
    }
}

impl Sso {
    /// A new token and how long it lives.
    pub async fn login(&self) -> ProviderResult<(Secret, Option<Duration>)> {
        let form = serde_urlencoded::to_string([
            ("grant_type", "password"),
            ("scope", API_SCOPE),
            ("username", self.username.as_str()),
            ("password", self.password.expose()),
        ])
        .map_err(|e| ProviderError::Config { message: format!("cannot encode the login form: {e}") })?;
        let url = format!("{}{TOKEN_PATH}", self.origin);
        let resp = self
            .calls
            .run(Call::other(), || {
                let req = self
                    .http
                    .client()
                    .post(&url)
                    // The engine refuses anything but exactly this Accept.
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form.clone());
                self.http.send(req, |f| self.failure(f))
            })
            .await?;
        let answer: TokenAnswer = resp.json()?;
        if let Some(parts) = answer.error.parts() {
            return Err(self.error(parts));
        }
        let token =
            answer.access_token.filter(|t| !t.is_empty()).ok_or_else(|| ProviderError::malformed("the engine's SSO answered without an access token"))?;
        if let Some(scope) = &answer.scope {
            if !scope.split_whitespace().any(|s| s == API_SCOPE) {
                return Err(ProviderError::Auth {
                    message: format!("the engine's SSO issued a token without the {API_SCOPE} scope, which the REST API requires"),
                });
            }
        }
        Ok((Secret::new(token), lifetime(answer.exp.as_ref())))
    }

    /// End the token's engine session (the engine answers `{}` whatever it knew).
    pub async fn revoke(&self, token: &Secret) -> ProviderResult<()> {
        let form = serde_urlencoded::to_string([("scope", API_SCOPE), ("token", token.expose())])
            .map_err(|e| ProviderError::Config { message: format!("cannot encode the logout form: {e}") })?;
        let url = format!("{}{LOGOUT_PATH}", self.origin);
        // Sent once: a logout is not worth retrying, the session ends by itself.
        let once = Call { counter: Counter::Other, effect: Effect::Once, scope: None };
        self.calls
            .run(once, || {
                let req = self
                    .http
                    .client()
                    .post(&url)
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(form.clone());
                self.http.send(req, |f| self.failure(f))
            })
            .await
            .map(|_| ())
    }

    /// An SSO refusal (any status) as the error it means.
    fn failure(&self, f: &HttpFailure) -> Option<ProviderError> {
        let parsed: SsoError = serde_json::from_str(&f.body).ok()?;
        parsed.parts().map(|p| self.error(p))
    }

    fn error(&self, (code, text): (String, String)) -> ProviderError {
        let text = self.redactor.clean(&text);
        match code.as_str() {
            "access_denied" | "invalid_grant" | "" => ProviderError::Auth { message: format!("the engine's SSO refused the login: {text}") },
            _ => ProviderError::Provider { code: format!("SSO {}", self.redactor.clean(&code)), message: text, retryable: false },
        }
    }
}

/// How long a token lives, from `exp` (epoch ms, a string or a number).
fn lifetime(exp: Option<&serde_json::Value>) -> Option<Duration> {
    let ms = match exp? {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok()?,
        serde_json::Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    let left = ms - crate::model::now_ms();
    // An expiry in the past (a clock apart from the engine's) is not
    // believed: the token is used until the engine refuses it.
    (left > 0).then(|| Duration::from_millis(left as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_read() {
        let engine: SsoError = serde_json::from_str(
            r#"{"error_code":"access_denied","error":"Cannot authenticate user 'admin@internal': The username or password is incorrect.."}"#,
        )
        .unwrap();
        assert_eq!(engine.parts().unwrap().0, "access_denied");
        let oauth: SsoError = serde_json::from_str(r#"{"error":"invalid_request","error_description":"Missing parameter: 'Accept Header'"}"#).unwrap();
        assert_eq!(oauth.parts().unwrap(), ("invalid_request".into(), "Missing parameter: 'Accept Header'".into()));
        assert!(SsoError::default().parts().is_none());
    }

    #[test]
    fn the_expiry_is_epoch_milliseconds_as_a_string() {
        let in_an_hour = (crate::model::now_ms() + 3_600_000).to_string();
        let d = lifetime(Some(&serde_json::Value::String(in_an_hour))).unwrap();
        assert!(d > Duration::from_secs(3590) && d <= Duration::from_secs(3600), "{d:?}");
        assert_eq!(lifetime(Some(&serde_json::json!("1000"))), None, "long past: used until refused");
        assert_eq!(lifetime(None), None);
    }
}
