//! The engine's REST API v4 on the wire: every request with the SSO bearer
//! token (renewed once when the engine refuses it, as the official SDK
//! does), `Version: 4`, XML both ways; every answer checked to be XML 1.0
//! with the root element asked for before it is read; faults mapped onto
//! [`ProviderError`] with the engine's own reason and detail.

use super::fault;
use super::redact::{html_text, Redactor};
use super::sso::Sso;
use crate::provider::calls::{Call, Effect};
use crate::provider::client::token::TokenCache;
use crate::provider::http::{explain_untrusted, HttpFailure, HttpResponse, Trust};
use crate::provider::xml::{self, Node};
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use std::sync::Mutex;
use std::time::Duration;

/// How an engine's refusal of the token reads; what asks for a new one.
const TOKEN_REFUSED: &str = "the engine refused the session token";
/// Renew this long before the engine says the token expires.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

pub struct Api {
    pub sso: Sso,
    /// `https://engine.example/ovirt-engine/api`.
    base: reqwest::Url,
    token: TokenCache<Secret>,
    /// The token now held, for revoking it when the provider goes.
    held: Mutex<Option<Secret>>,
    trust: Trust,
}

/// An XML answer that passed its checks.
pub struct Answer {
    pub status: u16,
    pub root: Node,
    pub headers: reqwest::header::HeaderMap,
}

impl Api {
    pub fn new(sso: Sso, base: reqwest::Url, trust: Trust) -> Self {
        Self { sso, base, token: TokenCache::new(RENEW_MARGIN), held: Mutex::new(None), trust }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.sso.redactor
    }

    /// `base/path?query`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Url {
        let mut url = self.base.clone();
        if path.is_empty() {
            return url;
        }
        url.set_path(&format!("{}/{}", self.base.path().trim_end_matches('/'), path.trim_start_matches('/')));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// The token held now (the provider revokes it when it goes).
    pub fn take_held(&self) -> Option<Secret> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// How many tokens were fetched (the first login counts).
    pub async fn logins(&self) -> u64 {
        self.token.fetches().await
    }

    async fn fetch_token(&self) -> ProviderResult<(Secret, Option<Duration>)> {
        let (token, lifetime) = match self.sso.login().await {
            Err(e @ ProviderError::Untrusted { .. }) => return Err(explain_untrusted(e, &self.trust, self.base.as_str()).await),
            other => other?,
        };
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok((token, lifetime))
    }

    /// GET `path`, expecting the root element `root`.
    pub async fn get(&self, call: Call<'_>, path: &str, query: &[(&str, &str)], root: &str) -> ProviderResult<Answer> {
        let url = self.url(path, query);
        self.request(call, reqwest::Method::GET, url, None, &[], root).await
    }

    /// POST an XML body to `url` (an action), with extra headers.
    pub async fn post(&self, call: Call<'_>, url: reqwest::Url, body: String, headers: &[(&str, &str)], root: &str) -> ProviderResult<Answer> {
        self.request(call, reqwest::Method::POST, url, Some(body), headers, root).await
    }

    async fn request(
        &self,
        call: Call<'_>,
        method: reqwest::Method,
        url: reqwest::Url,
        body: Option<String>,
        headers: &[(&str, &str)],
        root: &str,
    ) -> ProviderResult<Answer> {
        let send = |token: Secret| {
            let (method, url, body) = (method.clone(), url.clone(), body.clone());
            async move {
                self.sso
                    .calls
                    .run(call, || {
                        let mut req = self
                            .sso
                            .http
                            .client_for(call.effect)
                            .request(method.clone(), url.clone())
                            .bearer_auth(token.expose())
                            .header("Version", "4")
                            .header("Accept", "application/xml");
                        for (k, v) in headers {
                            req = req.header(*k, *v);
                        }
                        if let Some(b) = &body {
                            req = req.header("Content-Type", "application/xml").body(b.clone());
                        }
                        self.sso.http.send(req, |f| self.failure(f))
                    })
                    .await
            }
        };
        let resp = self.token.with_token(|| self.fetch_token(), is_token_refused, |held| send(held.token)).await;
        let resp = match resp {
            Err(e @ ProviderError::Untrusted { .. }) => return Err(explain_untrusted(e, &self.trust, self.base.as_str()).await),
            other => other?,
        };
        self.read(resp, root, call.effect)
    }

    /// Check an answer is XML 1.0 with the root asked for, and parse it.
    fn read(&self, resp: HttpResponse, root: &str, effect: Effect) -> ProviderResult<Answer> {
        resp.expect_content_type(&["xml"], "the engine's XML")?;
        check_xml_chars(&resp.body)?;
        let doc = xml::parse(&resp.body)?;
        let top = doc.children.into_iter().next().ok_or_else(|| ProviderError::malformed("the engine's answer is empty"))?;
        if top.name != root {
            let shown: String = top.name.chars().filter(|c| !c.is_control()).take(40).collect();
            let hint = if effect == Effect::Write { "; the request may have been carried out" } else { "" };
            return Err(ProviderError::malformed(format!("the engine answered with <{shown}> where <{root}> was expected{hint}")));
        }
        Ok(Answer { status: resp.status, root: top, headers: resp.headers })
    }

    /// A non-2xx answer as the error it means, in the engine's words.
    fn failure(&self, f: &HttpFailure) -> Option<ProviderError> {
        let r = self.redactor();
        if f.status == 401 {
            let said = r.clean(&html_text(&f.body));
            let said = if said.is_empty() { "HTTP 401".to_string() } else { said };
            return Some(ProviderError::Auth { message: format!("{TOKEN_REFUSED}: {said}") });
        }
        // A missing or malformed VM id: 404 with nothing in it.
        if f.status == 404 && f.body.trim().is_empty() {
            return Some(ProviderError::NotFound { what: "the VM".into() });
        }
        let looks_xml = f.body.trim_start().starts_with('<') && !f.body.to_ascii_lowercase().contains("<html");
        let node = if looks_xml { xml::parse(&f.body).ok().and_then(|d| d.children.into_iter().next()) } else { None };
        match node {
            Some(n) => fault::from_answer(f.status, &n, r),
            None if f.status < 500 && f.status != 429 && f.status != 408 => {
                // An HTML page from the engine's web server or a proxy: its sentence, never its markup.
                let said = r.clean(&html_text(&f.body));
                let said: String = said.chars().take(200).collect();
                Some(ProviderError::Provider {
                    code: format!("HTTP {}", f.status),
                    message: if said.is_empty() { "no details".into() } else { said },
                    retryable: false,
                })
            }
            // A 5xx page (Apache's 503 while the engine restarts): what its
            // status means, with the page's sentence, never its markup.
            None => {
                let said: String = r.clean(&html_text(&f.body)).chars().take(200).collect();
                Some(HttpFailure { body: said, ..f.clone() }.generic_error())
            }
        }
    }
}

pub fn is_token_refused(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Auth { message } if message.starts_with(TOKEN_REFUSED))
}

/// XML 1.0 has no control characters besides tab and line breaks, not even
/// as character references (`&#27;`); strict parsers (the official SDK's
/// among them) refuse such a document, and so does Powerdeck: a VM name
/// carrying a terminal escape is never stored.
fn check_xml_chars(body: &str) -> ProviderResult<()> {
    let illegal = |c: u32| c < 0x20 && !matches!(c, 0x9 | 0xA | 0xD);
    if let Some(c) = body.chars().find(|c| illegal(*c as u32)) {
        return Err(ProviderError::malformed(format!("the engine's answer is not XML 1.0 (it contains the control character U+{:04X})", c as u32)));
    }
    let mut rest = body;
    while let Some(at) = rest.find("&#") {
        rest = &rest[at + 2..];
        let end = rest.find(';').unwrap_or(0);
        let digits = &rest[..end];
        let code = match digits.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => digits.parse().ok(),
        };
        if let Some(c) = code.filter(|c| illegal(*c)) {
            return Err(ProviderError::malformed(format!("the engine's answer is not XML 1.0 (it refers to the control character U+{c:04X})")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_not_xml() {
        assert!(check_xml_chars("<vms><vm><name>app-01&#9;tab &amp; &#x41;</name></vm></vms>").is_ok());
        for bad in ["<name>&#27;[31m</name>", "<name>&#x1b;]0;t&#7;</name>", "<name>a\u{8}b</name>"] {
            let err = check_xml_chars(bad).unwrap_err().to_string();
            assert!(err.contains("not XML 1.0"), "{bad}: {err}");
        }
    }
}
