//! The EC2 Query API on the wire: form-encoded POSTs signed with SigV4 (the
//! official `aws-sigv4` crate), XML answers, and AWS error codes mapped onto
//! [`ProviderError`]. Transport, timeouts and TLS come from the shared
//! [`HttpTransport`]; rate limits and retries from the shared call layer.

use super::credentials::Keys;
use crate::provider::calls::{Call, Calls};
use crate::provider::client::sign::{Signer, Unsigned};
use crate::provider::http::{HttpFailure, HttpTransport};
use crate::provider::ProviderError;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde::Deserialize;
use std::sync::Arc;
use std::time::SystemTime;

const API_VERSION: &str = "2016-11-15";
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// SigV4 for EC2, by AWS's own `aws-sigv4` crate: signed for the region
/// the request goes to.
struct SigV4<'a> {
    keys: &'a Keys,
    region: &'a str,
}

impl Signer for SigV4<'_> {
    fn sign(&self, req: &mut Unsigned) -> Result<(), ProviderError> {
        let cannot = |e: &dyn std::fmt::Display| ProviderError::Config { message: format!("cannot sign the request: {e}") };
        let identity = Credentials::new(
            &self.keys.access_key_id,
            self.keys.secret_access_key.expose(),
            self.keys.session_token.as_ref().map(|t| t.expose().to_string()),
            None,
            "powerdeck",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| cannot(&e))?
            .into();
        let headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let signable =
            SignableRequest::new(req.method.as_str(), req.url.as_str(), headers.into_iter(), SignableBody::Bytes(&req.body)).map_err(|e| cannot(&e))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| cannot(&e))?.into_parts();
        let signed: Vec<(String, String)> = instructions.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        req.headers.extend(signed);
        Ok(())
    }
}

pub struct Ec2Api {
    http: HttpTransport,
    calls: Arc<Calls>,
    keys: Keys,
    endpoint: Option<String>,
}

impl Ec2Api {
    pub fn new(http: HttpTransport, calls: Arc<Calls>, keys: Keys, endpoint: Option<String>) -> Self {
        Self { http, calls, keys, endpoint }
    }

    fn url(&self, region: &str) -> Result<reqwest::Url, ProviderError> {
        let raw = match &self.endpoint {
            Some(e) if e.ends_with('/') => e.clone(),
            Some(e) => format!("{e}/"),
            None => format!("https://ec2.{region}.amazonaws.com/"),
        };
        reqwest::Url::parse(&raw).map_err(|e| ProviderError::Config { message: format!("the EC2 endpoint is not a URL ({e})") })
    }

    /// Call `action` in `region` (the request's throttling scope) and
    /// deserialize its XML answer. `call` says what kind of request it is.
    pub async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        call: Call<'_>,
        region: &str,
        action: &str,
        params: &[(String, String)],
    ) -> Result<T, ProviderError> {
        let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", API_VERSION)];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = serde_urlencoded::to_string(&form).map_err(|e| ProviderError::malformed(format!("cannot encode the request: {e}")))?;
        let url = self.url(region)?;
        let signer = SigV4 { keys: &self.keys, region };
        let resp = self
            .calls
            .run(call.in_scope(region), || async {
                let mut req = Unsigned::new(reqwest::Method::POST, url.clone()).header("content-type", CONTENT_TYPE).body(body.clone());
                signer.sign(&mut req)?;
                self.http
                    .send(req.into_request(self.http.client_for(call.effect)), |f| {
                        let f = self.without_token(f);
                        Some(map_failure(&f).unwrap_or_else(|| f.generic_error()))
                    })
                    .await
            })
            .await?;
        resp.expect_content_type(&["xml"], "an EC2 XML answer")?;
        // quick-xml would read any document (an HTML page, another action's
        // answer) as an empty one: an empty inventory, every VM "missing".
        let expected = format!("{action}Response");
        match crate::provider::xml::root_name(&resp.body) {
            Some(root) if root == expected => {}
            Some(root) => return Err(ProviderError::malformed(format!("{action}: the server answered with <{root}> instead of <{expected}>"))),
            None => return Err(ProviderError::malformed(format!("{action}: the answer is not XML"))),
        }
        quick_xml::de::from_str(&resp.body).map_err(|e| ProviderError::malformed(format!("unreadable {action} answer: {e}")))
    }

    /// A failure's body with the session token taken out: a hostile or
    /// broken server may echo the token it was sent (the secret key itself
    /// never travels, only signatures made with it).
    fn without_token(&self, f: &HttpFailure) -> HttpFailure {
        let body = crate::provider::client::redact::blank(&f.body, self.keys.session_token.as_ref().map(|t| t.expose()), 8);
        HttpFailure { body, ..f.clone() }
    }
}

#[derive(Debug, Deserialize)]
struct ErrorResponse {
    #[serde(rename = "Errors")]
    errors: ErrorList,
}

#[derive(Debug, Deserialize)]
struct ErrorList {
    #[serde(rename = "Error", default)]
    error: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
struct ErrorItem {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

/// AWS's own error codes first; the status code only when the body has none.
pub(super) fn map_failure(f: &HttpFailure) -> Option<ProviderError> {
    let parsed: Option<ErrorItem> = quick_xml::de::from_str::<ErrorResponse>(&f.body).ok().and_then(|r| r.errors.error.into_iter().next());
    let Some(ErrorItem { code, message }) = parsed else {
        // A bare 503 from EC2 is its way of throttling.
        return (f.status == 503).then_some(ProviderError::Throttled { retry_after: f.retry_after });
    };
    Some(match code.as_str() {
        "RequestLimitExceeded" | "Throttling" | "ThrottlingException" | "RequestThrottled" => ProviderError::Throttled { retry_after: f.retry_after },
        c if c.starts_with("InvalidInstanceID") => ProviderError::NotFound { what: message },
        "IncorrectInstanceState" | "IncorrectState" | "UnsupportedHibernationConfiguration" => ProviderError::InvalidState { message },
        "AuthFailure"
        | "UnauthorizedOperation"
        | "AccessDenied"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "OptInRequired"
        | "Blocked" => ProviderError::Auth { message: format!("{code}: {message}") },
        // Signed too long ago (or ahead): a clock that is off, or temporary credentials that expired.
        "RequestExpired" => ProviderError::Auth {
            message: format!("{code}: {message} (check this computer's clock; temporary credentials may have expired and need renewing)"),
        },
        "Unsupported" | "UnsupportedOperation" | "InvalidAction" => ProviderError::Unsupported { action: message },
        _ => ProviderError::Provider { code, message, retryable: f.status >= 500 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, body: &str) -> HttpFailure {
        HttpFailure { status, retry_after: None, body: body.into() }
    }

    #[test]
    fn aws_error_codes_map_to_what_the_engine_acts_on() {
        let xml = |code: &str| {
            format!("<Response><Errors><Error><Code>{code}</Code><Message>msg for {code}</Message></Error></Errors><RequestID>r</RequestID></Response>")
        };
        assert!(matches!(map_failure(&failure(503, &xml("RequestLimitExceeded"))), Some(ProviderError::Throttled { .. })));
        assert!(matches!(map_failure(&failure(400, &xml("InvalidInstanceID.NotFound"))), Some(ProviderError::NotFound { .. })));
        assert!(matches!(map_failure(&failure(400, &xml("IncorrectInstanceState"))), Some(ProviderError::InvalidState { .. })));
        assert!(matches!(map_failure(&failure(400, &xml("UnsupportedHibernationConfiguration"))), Some(ProviderError::InvalidState { .. })));
        let auth = map_failure(&failure(401, &xml("AuthFailure"))).unwrap();
        assert_eq!(auth, ProviderError::Auth { message: "AuthFailure: msg for AuthFailure".into() });
        assert!(matches!(map_failure(&failure(503, "<html>busy</html>")), Some(ProviderError::Throttled { .. })));
        assert_eq!(map_failure(&failure(502, "<html>bad gateway</html>")), None);
        let expired = map_failure(&failure(400, &xml("RequestExpired"))).unwrap();
        assert!(matches!(&expired, ProviderError::Auth { message } if message.contains("clock")), "{expired:?}");
        let other = map_failure(&failure(500, &xml("InternalError"))).unwrap();
        assert!(other.is_retryable(), "{other:?}");
    }
}
