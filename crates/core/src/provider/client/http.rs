//! The HTTP transport every network provider uses: timeouts, TLS verified by
//! default, and the mapping of transport failures and HTTP statuses onto
//! [`ProviderError`] (including `Retry-After`). Retry itself happens one
//! level up, in [`super::guard::Guarded`], so no provider retries on its own.

use crate::provider::ProviderError;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub trust: Trust,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), connect_timeout: Duration::from_secs(10), trust: Trust::System }
    }
}

/// How a server's TLS certificate is judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Trust {
    /// The usual chain of trust to the system's roots (the default).
    System,
    /// Exactly this certificate, by its SHA-256 thumbprint (self-signed hosts).
    Pinned(String),
    /// The system's roots and these CA certificates (PEM), for this account
    /// only: a host whose own CA signs its certificate (oVirt's engine CA),
    /// or a private or sovereign cloud whose several endpoints carry
    /// certificates of its own CA (so no single one can be pinned).
    Roots(Vec<u8>),
    /// Anything. Only when the user insisted, and said so loudly.
    Insecure,
}

/// Check an endpoint the user typed: a URL, http(s), with no credentials or
/// query in it (secrets go through the secret source, never the URL). The
/// text is not echoed back, since a pasted URL can carry a password.
/// `shape` says what is expected, e.g. "https://host/sdk".
pub fn check_endpoint(raw: &str, shape: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("the endpoint is not a URL ({e}); expected {shape}"))?;
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err("the endpoint must not carry credentials or a query; the secret goes to the account's secret source".into());
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("the endpoint must be an http(s) URL ({shape}), not {}:", url.scheme()));
    }
    Ok(url)
}

/// How a pinned host's different certificate is reported. The TLS layer
/// only carries text, so this marker is how the transport and providers
/// recognise the case.
pub const CERTIFICATE_CHANGED: &str = "certificate changed:";

/// `AA:BB:…`: the SHA-256 of a certificate, as vCenter and browsers show it.
pub fn thumbprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Normalise a thumbprint the user typed (any case, with or without colons).
pub fn normalize_thumbprint(s: &str) -> Option<String> {
    let hex: String = s.chars().filter(|c| !matches!(c, ':' | ' ')).collect::<String>().to_ascii_uppercase();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| hex.as_bytes().chunks(2).map(|p| std::str::from_utf8(p).unwrap_or_default()).collect::<Vec<_>>().join(":"))
}

mod pinning {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use std::sync::Arc;

    /// Accepts the one certificate whose thumbprint is pinned (or any, when
    /// `pinned` is `None`); handshake signatures are still checked.
    #[derive(Debug)]
    pub struct Verifier {
        pub pinned: Option<String>,
        pub provider: Arc<CryptoProvider>,
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            cert: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match &self.pinned {
                None => Ok(ServerCertVerified::assertion()),
                Some(want) => {
                    let got = super::thumbprint(cert.as_ref());
                    if &got == want {
                        Ok(ServerCertVerified::assertion())
                    } else {
                        Err(rustls::Error::General(format!("the server's {} pinned {want}, presented {got}", super::CERTIFICATE_CHANGED)))
                    }
                }
            }
        }
        fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(m, c, d, &self.provider.signature_verification_algorithms)
        }
        fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(m, c, d, &self.provider.signature_verification_algorithms)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider.signature_verification_algorithms.supported_schemes()
        }
    }

    pub fn config(pinned: Option<String>) -> Result<rustls::ClientConfig, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier { pinned, provider }))
            .with_no_client_auth())
    }
}

/// The thumbprint of the certificate `url`'s server presents, read without
/// trusting it: what an admin compares with the one their vCenter shows.
pub async fn probe_thumbprint(url: &str) -> Result<String, ProviderError> {
    let cfg = pinning::config(None).map_err(|e| ProviderError::Config { message: format!("cannot set up TLS: {e}") })?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ProviderError::Config { message: format!("cannot set up HTTP: {e}") })?;
    let resp = client.get(url).send().await.map_err(|e| ProviderError::Unreachable { message: error_chain(&e.without_url()) })?;
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>().and_then(|i| i.peer_certificate().map(thumbprint));
    info.ok_or_else(|| ProviderError::Untrusted { message: "the server presented no certificate".into(), presented: None })
}

/// What this machine makes of a server's certificate, before an account is
/// saved: the step where an admin accepts a self-signed host (trust on first
/// use) having compared the thumbprint with the one the host shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(any(test, feature = "ts"), derive(ts_rs::TS), ts(export))]
#[serde(tag = "trust", rename_all = "kebab-case")]
pub enum CertificateCheck {
    /// Plain HTTP: nothing to trust, and nothing protects the password either.
    NotTls,
    /// The system's roots vouch for it.
    Trusted,
    /// Refused by the system's roots; this is the certificate presented.
    Untrusted { thumbprint: String, reason: String },
}

pub async fn check_certificate(url: &str) -> Result<CertificateCheck, ProviderError> {
    // Refuse a URL with credentials before connecting: the probe below trusts
    // anything, and must not hand a password to an unknown host.
    let parsed = check_endpoint(url, "https://host/sdk").map_err(|message| ProviderError::Config { message })?;
    if parsed.scheme() == "http" {
        return Ok(CertificateCheck::NotTls);
    }
    let http = HttpTransport::new(&HttpOptions { timeout: Duration::from_secs(10), ..HttpOptions::default() })?;
    // Any HTTP answer at all means the handshake, and so the certificate, passed.
    match http.send(http.client().get(parsed.clone()), |_| None).await {
        Ok(_) => Ok(CertificateCheck::Trusted),
        Err(ProviderError::Untrusted { message, .. }) => {
            Ok(CertificateCheck::Untrusted { thumbprint: probe_thumbprint(parsed.as_str()).await?, reason: message })
        }
        Err(e @ (ProviderError::Unreachable { .. } | ProviderError::Timeout { .. })) => Err(e),
        // An error status (401, 404, 500…) came over a trusted connection.
        Err(_) => Ok(CertificateCheck::Trusted),
    }
}

/// The CA certificates in a PEM text, for [`Trust::Roots`]; an error names
/// what is wrong without echoing the text.
fn ca_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, ProviderError> {
    let certs =
        reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ProviderError::Config { message: format!("the CA file cannot be read as PEM ({e})") })?;
    if certs.is_empty() {
        return Err(ProviderError::Config { message: "the CA file holds no certificate (expected -----BEGIN CERTIFICATE-----)".into() });
    }
    Ok(certs)
}

/// A CA certificate a host publishes about itself (oVirt's engine serves
/// its CA at a well-known URL), fetched before it can be trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedCa {
    /// The certificates as PEM, as published.
    pub pem: String,
    /// SHA-256 thumbprint of the first certificate: what the admin compares
    /// with the one the host's own console shows before trusting it.
    pub thumbprint: String,
}

/// Fetch the CA a host publishes at `url`. The connection cannot be
/// verified yet (that CA is what would verify it), so this is trust on first
/// use: the caller shows the thumbprint and asks before keeping it. No
/// redirect is followed; the answer must be PEM certificates, nothing else.
pub async fn fetch_published_ca(url: &str) -> Result<PublishedCa, ProviderError> {
    use rustls::pki_types::pem::PemObject;
    let parsed = check_endpoint_with_query(url)?;
    let http = HttpTransport::new(&HttpOptions { timeout: Duration::from_secs(10), trust: Trust::Insecure, ..HttpOptions::default() })?;
    let resp = http.send(http.client().get(parsed), |_| None).await?;
    let pem = resp.body;
    let ders: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ProviderError::malformed(format!("the host's answer is not a PEM CA certificate ({e:?})")))?;
    let first = ders.first().ok_or_else(|| ProviderError::malformed("the host's answer holds no certificate (expected -----BEGIN CERTIFICATE-----)"))?;
    ca_certificates(pem.as_bytes())?;
    Ok(PublishedCa { thumbprint: thumbprint(first.as_ref()), pem })
}

/// Like [`check_endpoint`] but a query is allowed (a resource URL the
/// provider names, never one the user typed credentials into).
fn check_endpoint_with_query(raw: &str) -> Result<reqwest::Url, ProviderError> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| ProviderError::Config { message: format!("not a URL ({e})") })?;
    if !url.username().is_empty() || url.password().is_some() || url.scheme() != "https" {
        return Err(ProviderError::Config { message: "a CA certificate is fetched over https only, from a URL without credentials".into() });
    }
    Ok(url)
}

/// Trust on first use, for every provider with self-signed hosts: when the
/// system does not trust a server, say which certificate it presents, so an
/// admin can compare it with the one the host shows and pin it; when a
/// pinned host presents another one, say that plainly.
pub async fn explain_untrusted(e: ProviderError, trust: &Trust, endpoint: &str) -> ProviderError {
    let ProviderError::Untrusted { message, .. } = e else { return e };
    match trust {
        Trust::System | Trust::Roots(_) => {
            let presented = probe_thumbprint(endpoint).await.ok();
            let hint = presented
                .as_ref()
                .map(|t| {
                    format!(". The server presents SHA-256 thumbprint {t}; if the host itself shows the same, trust (pin) that certificate for this account")
                })
                .unwrap_or_default();
            ProviderError::Untrusted { message: format!("{message}{hint}"), presented }
        }
        Trust::Pinned(_) if message.contains(CERTIFICATE_CHANGED) => {
            let presented = probe_thumbprint(endpoint).await.ok();
            ProviderError::Untrusted {
                message: format!(
                    "{message}. If the host's certificate was renewed on purpose and the host shows the presented thumbprint, pin the new one for this account"
                ),
                presented,
            }
        }
        _ => ProviderError::Untrusted { message, presented: None },
    }
}

/// A gateway (a proxy, a load balancer) answered in the server's place: it
/// could not reach the server, or gave up waiting for it. The request may
/// have reached the server and been carried out all the same, so a power
/// request answered this way is one whose answer was lost, never one that
/// failed (and never one to send again blindly).
pub fn gateway_answered(status: u16) -> ProviderError {
    let what = if status == 504 { "gave up waiting for the provider" } else { "could not get the provider's answer" };
    ProviderError::OutcomeUnknown { message: format!("a gateway answered HTTP {status} in its place ({what})") }
}

/// A non-2xx answer, handed to the provider so it can read its own error
/// format before falling back to [`HttpFailure::generic_error`].
#[derive(Debug, Clone)]
pub struct HttpFailure {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl HttpFailure {
    /// The meaning of a status code when the body says nothing more useful.
    pub fn generic_error(&self) -> ProviderError {
        let snippet: String = self.body.chars().take(200).collect();
        match self.status {
            401 | 403 => ProviderError::Auth { message: format!("HTTP {}", self.status) },
            404 => ProviderError::NotFound { what: "the requested resource".into() },
            // The server gave up waiting for the request: it was not processed.
            408 => ProviderError::Provider { code: "HTTP 408".into(), message: "the server gave up waiting for the request".into(), retryable: true },
            409 => ProviderError::InvalidState { message: snippet },
            429 => ProviderError::Throttled { retry_after: self.retry_after },
            503 if self.retry_after.is_some() => ProviderError::Throttled { retry_after: self.retry_after },
            502 | 504 => gateway_answered(self.status),
            s if s >= 500 => ProviderError::Provider { code: format!("HTTP {s}"), message: snippet, retryable: true },
            s => ProviderError::Provider { code: format!("HTTP {s}"), message: snippet, retryable: false },
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl HttpResponse {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProviderError> {
        self.expect_content_type(&["json"], "JSON")?;
        serde_json::from_str(&self.body).map_err(|e| ProviderError::malformed(format!("invalid JSON: {e}")))
    }

    /// Refuse an answer whose declared type is none of `kinds` (a web page
    /// where an API answer belongs means the endpoint is wrong, or something
    /// in between answers for the server). An answer without a type is let
    /// through to the parser, which checks its shape.
    pub fn expect_content_type(&self, kinds: &[&str], what: &str) -> Result<(), ProviderError> {
        let Some(declared) = self.headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return Ok(()) };
        let lower = declared.to_ascii_lowercase();
        if kinds.iter().any(|k| lower.contains(k)) {
            return Ok(());
        }
        let shown: String = declared.chars().filter(|c| !c.is_control()).take(60).collect();
        Err(ProviderError::malformed(format!("the server answered with {shown} where {what} was expected; is the endpoint the API's address?")))
    }
}

/// The largest answer read: a page of 1000 VMs is a few MiB on every provider.
const MAX_BODY: usize = 64 << 20;

#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    /// For requests that change something: never a pooled connection. A
    /// server may close an idle kept-alive connection just as a request is
    /// written to it; for a read that is a retry, but for a power request it
    /// would be "sent, outcome unknown". A fresh connection either connects
    /// (and then a break really is the server's) or fails before sending.
    fresh: reqwest::Client,
    timeout: Duration,
}

impl HttpTransport {
    pub fn new(opts: &HttpOptions) -> Result<Self, ProviderError> {
        let build = |pooled: bool| -> Result<reqwest::Client, ProviderError> {
            let mut builder = reqwest::Client::builder()
                .timeout(opts.timeout)
                .connect_timeout(opts.connect_timeout)
                .user_agent(concat!("powerdeck/", env!("CARGO_PKG_VERSION")));
            if !pooled {
                builder = builder.pool_max_idle_per_host(0);
            }
            let pinned = match &opts.trust {
                Trust::System => None,
                Trust::Roots(pem) => {
                    for cert in ca_certificates(pem)? {
                        builder = builder.add_root_certificate(cert);
                    }
                    None
                }
                Trust::Pinned(t) => Some(Some(t.clone())),
                Trust::Insecure => Some(None),
            };
            if let Some(pinned) = pinned {
                let cfg = pinning::config(pinned).map_err(|e| ProviderError::Config { message: format!("cannot set up TLS: {e}") })?;
                builder = builder.use_preconfigured_tls(cfg);
            }
            // Never follow a redirect: the request (a password in a SOAP
            // Login, a signed form) would go to wherever the answer points,
            // and that host's answer would be believed. A 3xx is an error.
            builder.redirect(reqwest::redirect::Policy::none()).build().map_err(|e| ProviderError::Config { message: format!("cannot set up HTTP: {e}") })
        };
        Ok(Self { client: build(true)?, fresh: build(false)?, timeout: opts.timeout })
    }

    /// The client for reads (pooled connections).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The client for a request of this effect: a power request never rides
    /// a pooled connection.
    pub fn client_for(&self, effect: crate::provider::calls::Effect) -> &reqwest::Client {
        match effect {
            crate::provider::calls::Effect::Write => &self.fresh,
            _ => &self.client,
        }
    }

    /// Send a request. Non-2xx answers go through `map` (the provider's own
    /// error parser) and then [`HttpFailure::generic_error`].
    pub async fn send(&self, req: reqwest::RequestBuilder, map: impl Fn(&HttpFailure) -> Option<ProviderError>) -> Result<HttpResponse, ProviderError> {
        let resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = self.read_body(resp).await?;
        if (200..300).contains(&status) {
            return Ok(HttpResponse { status, headers, body });
        }
        if (300..400).contains(&status) {
            return Err(redirected(status));
        }
        let failure = HttpFailure { status, retry_after: retry_after(&headers), body };
        Err(map(&failure).unwrap_or_else(|| failure.generic_error()))
    }

    /// The body as text, refused past [`MAX_BODY`] so a broken or hostile
    /// server cannot make the app hold gigabytes.
    async fn read_body(&self, mut resp: reqwest::Response) -> Result<String, ProviderError> {
        let too_big = || ProviderError::malformed(format!("the answer is larger than {} MiB", MAX_BODY >> 20));
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_big());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// What a transport failure means, above all whether the request may
    /// have reached the server: only a failure to connect proves it did not.
    fn transport_error(&self, e: reqwest::Error) -> ProviderError {
        // URLs can carry signatures or tokens in their query: never echo them.
        let e = e.without_url();
        let chain = error_chain(&e);
        let untrusted = chain.contains("certificate")
            && (chain.contains("invalid peer certificate") || chain.contains(CERTIFICATE_CHANGED) || chain.contains("UnknownIssuer"));
        if untrusted {
            ProviderError::Untrusted { message: chain, presented: None }
        } else if e.is_connect() {
            ProviderError::Unreachable { message: chain }
        } else if e.is_timeout() {
            ProviderError::Timeout { after: self.timeout, attempts: 1, waited: self.timeout }
        } else if e.is_builder() {
            ProviderError::Config { message: chain }
        } else if e.is_decode() {
            ProviderError::malformed(chain)
        } else {
            // Sent, then the connection broke (reset, closed mid-answer).
            ProviderError::OutcomeUnknown { message: chain }
        }
    }
}

/// A redirect, reported by its status only: the `Location` it names may
/// carry anything (and is not where the user pointed Powerdeck).
fn redirected(status: u16) -> ProviderError {
    ProviderError::Provider {
        code: format!("HTTP {status}"),
        message: "the server answered with a redirect; Powerdeck does not follow redirects, so nothing (no credentials) was sent to the other address. Check that the endpoint is the server's own address".into(),
        retryable: false,
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(delta.max(0) as u64))
}

/// "error sending request: connection refused" rather than just the top line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_str = s.to_string();
        if !out.contains(&s_str) {
            out.push_str(": ");
            out.push_str(&s_str);
        }
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot HTTP server that answers every connection with `response`.
    async fn serve(response: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        format!("http://{addr}/api?signature=SECRET-SIG")
    }

    fn transport() -> HttpTransport {
        HttpTransport::new(&HttpOptions { timeout: Duration::from_millis(500), connect_timeout: Duration::from_millis(500), ..HttpOptions::default() }).unwrap()
    }

    #[tokio::test]
    async fn throttling_status_carries_retry_after() {
        let url = serve("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        let t = transport();
        let err = t.send(t.client().get(&url), |_| None).await.unwrap_err();
        assert_eq!(err, ProviderError::Throttled { retry_after: Some(Duration::from_secs(7)) });
        assert!(err.is_retryable());
    }

    /// A gateway's 502 or 504 means the request may have been carried out
    /// behind it: never a plain failure, and the words say so.
    #[test]
    fn a_gateways_502_or_504_is_an_answer_lost_not_a_failure() {
        for status in [502, 504] {
            let err = HttpFailure { status, retry_after: None, body: "<html>nginx</html>".into() }.generic_error();
            assert!(err.may_have_executed() && err.is_retryable() && !err.certainly_not_executed(), "{err:?}");
            let text = err.to_string();
            assert!(text.contains(&format!("a gateway answered HTTP {status}")) && !text.contains("nginx"), "{text}");
        }
        let plain = HttpFailure { status: 500, retry_after: None, body: String::new() }.generic_error();
        assert!(!plain.may_have_executed(), "{plain:?}");
    }

    #[tokio::test]
    async fn provider_specific_errors_win_over_the_generic_mapping() {
        let url = serve("HTTP/1.1 400 Bad Request\r\nContent-Length: 13\r\nConnection: close\r\n\r\nNoSuchThing42").await;
        let t = transport();
        let err = t.send(t.client().get(&url), |f| f.body.contains("NoSuchThing").then(|| ProviderError::NotFound { what: "vm 42".into() })).await.unwrap_err();
        assert_eq!(err, ProviderError::NotFound { what: "vm 42".into() });
    }

    #[tokio::test]
    async fn malformed_json_is_a_clear_error() {
        let url = serve("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{\"vms\": [").await;
        let t = transport();
        let resp = t.send(t.client().get(&url), |_| None).await.unwrap();
        let err = resp.json::<serde_json::Value>().unwrap_err();
        assert!(matches!(err, ProviderError::Malformed { .. }));
        assert!(err.to_string().starts_with("the provider sent data Powerdeck cannot use: invalid JSON"));
    }

    #[tokio::test]
    async fn unreachable_host_is_retryable_and_never_echoes_the_url() {
        // Bind then drop: the port is closed when we connect.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let t = transport();
        let url = format!("http://127.0.0.1:{port}/api?signature=SECRET-SIG");
        let err = t.send(t.client().get(&url), |_| None).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unreachable { .. }), "{err:?}");
        assert!(err.is_retryable());
        assert!(!err.to_string().contains("SECRET-SIG"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let (_sock, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        let t = transport();
        let err = t.send(t.client().get(format!("http://{addr}/")), |_| None).await.unwrap_err();
        assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_redirect_is_an_error_and_the_request_never_goes_to_the_other_host() {
        // The other host counts every connection it gets.
        let other = TcpListener::bind("127.0.0.2:0").await.unwrap();
        let other_addr = other.local_addr().unwrap();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((_sock, _)) = other.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        for status in [301, 302, 303, 307, 308] {
            let response: &'static str = Box::leak(
                format!("HTTP/1.1 {status} Moved\r\nLocation: http://{other_addr}/sdk?token=LEAKED\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .into_boxed_str(),
            );
            let url = serve(response).await;
            let t = transport();
            let err = t.send(t.client().post(&url).body("<password>hunter2</password>"), |_| None).await.unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&format!("HTTP {status}")) && text.contains("redirect"), "{text}");
            assert!(!text.contains("LEAKED") && !text.contains(&other_addr.to_string()) && !text.contains("SECRET-SIG"), "{text}");
            assert!(!err.is_retryable());
        }
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no request reached the host the redirect named");
    }

    #[test]
    fn extra_roots_must_hold_a_certificate() {
        // A throwaway self-signed root (no key kept): only its parsing is
        // tested here; the Azure tests trust their fake's CA through it.
        const ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBkzCCATmgAwIBAgIULAV0expfnLQvH8ZuD88wRAmFRkcwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTUG93ZXJkZWNrIHRlc3Qgcm9vdDAgFw0yNjExMjYwMDA5Mjda
GA8yMTI2MTEwMjAwMDkyN1owHjEcMBoGA1UEAwwTUG93ZXJkZWNrIHRlc3Qgcm9v
dDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABECEqvWubUnL9qD2xqnDvilKn5QY
gYmWk5WkCfq6zlDs/ROdNa7WnnzisvzmxU2zVHMRthdrx9nnwOWMvH5D9iqjUzBR
MB0GA1UdDgQWBBTfHj5xeQ0Y2XeFbepNrp/AWFETVTAfBgNVHSMEGDAWgBTfHj5x
eQ0Y2XeFbepNrp/AWFETVTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gA
MEUCIQD/W3u5pTvflPEpDbZN2rF3khAHKNHLr/IcDHZrBEWZ2wIgVXoXaA0K3uVZ
CWIl2qOIsPWhLNKfRXNc7JTNoEgjr8Y=
-----END CERTIFICATE-----
";
        let with = |pem: &str| HttpTransport::new(&HttpOptions { trust: Trust::Roots(pem.as_bytes().to_vec()), ..HttpOptions::default() });
        assert!(with(ROOT).is_ok());
        for useless in ["", "not a certificate", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"] {
            let err = with(useless).err().expect("refused");
            assert!(matches!(err, ProviderError::Config { .. }) && err.to_string().contains("CA file"), "{err}");
        }
    }

    #[test]
    fn a_ca_file_that_holds_no_certificate_is_a_settings_error_that_does_not_echo_it() {
        for junk in [&b""[..], b"hunter2 is not a certificate", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"] {
            let err = HttpTransport::new(&HttpOptions { trust: Trust::Roots(junk.to_vec()), ..HttpOptions::default() }).err().expect("refused");
            assert!(matches!(err, ProviderError::Config { .. }), "{err:?}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[tokio::test]
    async fn a_published_ca_is_fetched_over_https_only() {
        let err = fetch_published_ca("http://127.0.0.1:9/pki?resource=ca").await.unwrap_err();
        assert!(matches!(err, ProviderError::Config { .. }) && err.to_string().contains("https only"), "{err}");
    }

    #[test]
    fn retry_after_accepts_http_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        let at = chrono::Utc::now() + chrono::Duration::seconds(90);
        h.insert(reqwest::header::RETRY_AFTER, at.to_rfc2822().parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(80) && d <= Duration::from_secs(90), "{d:?}");
    }
}
