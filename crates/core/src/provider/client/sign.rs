//! The seam where a provider's request signing plugs in (EC2's SigV4,
//! CloudStack's HMAC-SHA1): a request is built unsigned, signed afresh for
//! every attempt (signatures carry the time), then sent by the shared
//! transport.

use crate::provider::ProviderResult;

/// A request ready to be signed: what every signing scheme needs to see.
#[derive(Debug, Clone)]
pub struct Unsigned {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Unsigned {
    pub fn new(method: reqwest::Method, url: reqwest::Url) -> Self {
        Self { method, url, headers: Vec::new(), body: Vec::new() }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn into_request(self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let mut req = client.request(self.method, self.url);
        for (k, v) in self.headers {
            req = req.header(k, v);
        }
        if !self.body.is_empty() {
            req = req.body(self.body);
        }
        req
    }
}

pub trait Signer: Send + Sync {
    /// Sign in place: add headers or query parameters.
    fn sign(&self, req: &mut Unsigned) -> ProviderResult<()>;
}
