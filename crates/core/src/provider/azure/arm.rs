//! Azure Resource Manager over HTTPS: every request with a bearer token from
//! the shared token cache (renewed before it expires; a token ARM refuses as
//! expired or invalid is renewed once and the request repeated), through the
//! shared call layer charged to its subscription (ARM's throttling scope),
//! paced by ARM's remaining-budget headers, and with ARM's error body mapped
//! onto [`ProviderError`] in ARM's own words, minus any secret.

use super::auth::Credential;
use super::pace::{Budget, Pacer};
use super::wire::{clean, ErrorBody};
use crate::provider::calls::{Call, Calls, Effect};
use crate::provider::client::token::TokenCache;
use crate::provider::http::{HttpFailure, HttpResponse, HttpTransport};
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use std::sync::Arc;
use std::time::Duration;

/// Compute's API version: the published examples' (hibernate included).
pub const COMPUTE_API: &str = "2024-07-01";
pub const SUBSCRIPTIONS_API: &str = "2022-12-01";

/// Where a request is charged: ARM throttles per subscription, and the
/// subscription list per tenant.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Tenant,
    Subscription(&'a str),
}

impl Scope<'_> {
    fn key(&self) -> &str {
        match self {
            Self::Tenant => "tenant",
            Self::Subscription(s) => s,
        }
    }
}

pub struct Arm {
    http: HttpTransport,
    calls: Arc<Calls>,
    /// Resource Manager's base URL.
    pub endpoint: reqwest::Url,
    credential: Credential,
    token: TokenCache<Secret>,
    pub pacer: Pacer,
}

/// ARM's codes for a token it will not take: a new one may fix it.
fn token_refused(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Auth { message } if message.starts_with("ExpiredAuthenticationToken") || message.starts_with("InvalidAuthenticationToken"))
}

impl Arm {
    pub fn new(http: HttpTransport, calls: Arc<Calls>, endpoint: reqwest::Url, credential: Credential) -> Self {
        // The credential decides when to renew (`auth::use_for`), so no margin here.
        Self { http, calls, endpoint, credential, token: TokenCache::new(Duration::ZERO), pacer: Pacer::default() }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    pub fn credential_mut(&mut self) -> &mut Credential {
        &mut self.credential
    }

    /// How many tokens were fetched so far (a renewal counts).
    pub async fn tokens_fetched(&self) -> u64 {
        self.token.fetches().await
    }

    /// `{endpoint}{path}?api-version=…`.
    pub fn url(&self, path: &str, api: &str) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        url.set_path(&format!("{}{path}", self.endpoint.path().trim_end_matches('/')));
        url.query_pairs_mut().append_pair("api-version", api);
        url
    }

    /// Whether a URL an answer named (a `nextLink`, an async operation) is on
    /// Resource Manager itself: only there does the bearer token go.
    pub fn is_ours(&self, url: &reqwest::Url) -> bool {
        url.scheme() == self.endpoint.scheme()
            && url.host_str().map(str::to_ascii_lowercase) == self.endpoint.host_str().map(str::to_ascii_lowercase)
            && url.port_or_known_default() == self.endpoint.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
    }

    pub async fn get(&self, call: Call<'_>, scope: Scope<'_>, url: reqwest::Url) -> ProviderResult<HttpResponse> {
        self.request(reqwest::Method::GET, call, scope, url).await
    }

    pub async fn post(&self, call: Call<'_>, scope: Scope<'_>, url: reqwest::Url) -> ProviderResult<HttpResponse> {
        self.request(reqwest::Method::POST, call, scope, url).await
    }

    /// A bearer token now (fetching one if need be): what a test of the
    /// connection and the secret checks below need.
    pub async fn token(&self) -> ProviderResult<Secret> {
        let held = self.token.get(|| self.fetch()).await.map_err(explain)?;
        Ok(held.token)
    }

    async fn fetch(&self) -> ProviderResult<super::auth::Fetched> {
        self.credential.fetch(&self.http, &self.calls).await
    }

    async fn request(&self, method: reqwest::Method, call: Call<'_>, scope: Scope<'_>, url: reqwest::Url) -> ProviderResult<HttpResponse> {
        let key = scope.key();
        let budget = if method == reqwest::Method::GET { Budget::Reads } else { Budget::Writes };
        let result = self
            .token
            .with_token(
                || self.fetch(),
                token_refused,
                |held| {
                    let (method, url) = (method.clone(), url.clone());
                    async move {
                        self.calls
                            .run(call.in_scope(key), || async {
                                self.pacer.wait(key, budget).await;
                                let mut req = self.http.client_for(call.effect).request(method.clone(), url.clone()).bearer_auth(held.token.expose());
                                if method == reqwest::Method::POST {
                                    // ARM wants a length on an empty POST.
                                    req = req.header(reqwest::header::CONTENT_LENGTH, "0").body("");
                                }
                                let resp = self.http.send(req, |f| Some(self.arm_error(f, call.effect, &held.token))).await?;
                                self.pacer.note(key, budget, &resp.headers);
                                Ok(resp)
                            })
                            .await
                    }
                },
            )
            .await;
        result.map_err(explain)
    }

    /// Text an answer carried, with every secret we know of taken out (a
    /// hostile server may echo the token or the client secret it was sent).
    pub fn redact(&self, text: &str, token: Option<&Secret>) -> String {
        crate::provider::client::redact::blank(text, [self.credential.secret(), token].into_iter().flatten().map(Secret::expose), 4)
    }

    /// ARM's `{"error": {"code", "message"}}` as a [`ProviderError`].
    fn arm_error(&self, f: &HttpFailure, effect: Effect, token: &Secret) -> ProviderError {
        let throttled = f.status == 429 || (f.status == 503 && f.retry_after.is_some());
        if throttled {
            return ProviderError::Throttled { retry_after: f.retry_after };
        }
        let Ok(ErrorBody { error }) = serde_json::from_str::<ErrorBody>(&f.body) else {
            // Not ARM's format (a proxy's page): say what the status means, with no body text.
            return HttpFailure { body: String::new(), ..f.clone() }.generic_error();
        };
        let code: String = error.code.as_deref().unwrap_or("").chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/')).take(80).collect();
        let code = if code.is_empty() { format!("HTTP {}", f.status) } else { code };
        let message: String = clean(&self.redact(error.message.as_deref().unwrap_or(""), Some(token))).chars().take(400).collect();
        let coded = format!("{code}: {message}");
        match f.status {
            401 => ProviderError::Auth { message: coded },
            // A principal that may not even read has no inventory; one that
            // may read but not act is refused that one request.
            403 if effect == Effect::Read => ProviderError::Auth { message: coded },
            403 => ProviderError::Provider { code, message, retryable: false },
            404 => ProviderError::NotFound { what: format!("the resource ({coded})") },
            409 => ProviderError::InvalidState { message: coded },
            // ARM's own gateway (GatewayTimeout, BadGateway): the resource provider may have acted.
            502 | 504 => crate::provider::client::http::gateway_answered(f.status),
            408 | 500.. => ProviderError::Provider { code, message, retryable: true },
            _ => ProviderError::Provider { code, message, retryable: false },
        }
    }
}

/// A certificate the system does not trust: say what an admin of a private
/// cloud can do about it.
fn explain(e: ProviderError) -> ProviderError {
    match e {
        ProviderError::Untrusted { message, presented } => ProviderError::Untrusted {
            message: format!(
                "{message}. If this cloud's endpoints carry certificates of your own CA, give the account that CA's certificate (its CA file setting)"
            ),
            presented,
        },
        other => other,
    }
}
