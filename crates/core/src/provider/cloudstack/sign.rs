//! CloudStack's request signature, exactly as the management server checks
//! it (`ApiServer.verifyRequest`): every parameter but `signature`, names
//! as sent sorted case-sensitively (Java `String.compareTo`: UTF-16 code
//! units), each value encoded by `java.net.URLEncoder` rules with `+`
//! turned into `%20`, joined with `&`, the whole string lower-cased,
//! HMAC-SHA1 with the secret key, Base64. Popular clients differ on `~`
//! (Python's `quote` keeps it; Java writes `%7E`) and on names with
//! capitals (libcloud lower-cases them before sorting); both make the
//! server refuse the request, so neither shortcut is taken here.

use crate::provider::client::sign::{Signer, Unsigned};
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use std::time::Duration;

/// How long a signed request stays valid (`signatureVersion=3`): long
/// enough for a modest clock skew, far below the 15 minutes a server that
/// enforces timestamps accepts.
pub const LIFETIME: Duration = Duration::from_secs(600);

/// `java.net.URLEncoder.encode(value, "UTF-8").replaceAll("\\+", "%20")`:
/// `A-Z a-z 0-9 . - * _` stay, a space is `%20`, every other byte of the
/// UTF-8 form is `%XX` in upper-case hex (so `~` is `%7E`).
pub fn java_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => out.push(b as char),
            b' ' => out.push_str("%20"),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The string the server computes the HMAC over.
pub fn canonical(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("signature")).collect();
    // Collections.sort compares UTF-16 code units, not bytes or chars.
    sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let joined: Vec<String> = sorted.iter().map(|(name, value)| format!("{name}={}", java_urlencode(value))).collect();
    joined.join("&").to_lowercase()
}

/// Base64(HMAC-SHA1(secret, canonical(params))).
pub fn signature(params: &[(String, String)], secret: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(canonical(params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `expires` for a request signed now: `yyyy-MM-dd'T'HH:mm:ssZ`, one of
/// the forms `DateUtil.parseTZDateString` reads.
pub fn expires_at(now: chrono::DateTime<chrono::Utc>) -> String {
    (now + chrono::Duration::from_std(LIFETIME).expect("a small duration")).format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// Signs a request whose parameters are a form body (POST) or the query
/// (GET): adds `apiKey`, `signatureVersion=3` and a fresh `expires`, then
/// the `signature`. Made once per account; every attempt is signed afresh.
pub struct CloudStackSigner {
    api_key: String,
    secret: Secret,
}

impl CloudStackSigner {
    pub fn new(api_key: String, secret: Secret) -> Self {
        Self { api_key, secret }
    }

    /// The parameters of `req` with the authentication ones set, signed.
    pub fn signed_params(&self, mut params: Vec<(String, String)>, now: chrono::DateTime<chrono::Utc>) -> Vec<(String, String)> {
        // The server looks these up by name in any case: never send two.
        params.retain(|(name, _)| !["apikey", "signatureversion", "expires", "signature"].contains(&name.to_ascii_lowercase().as_str()));
        params.push(("apiKey".into(), self.api_key.clone()));
        params.push(("signatureVersion".into(), "3".into()));
        params.push(("expires".into(), expires_at(now)));
        let sig = signature(&params, self.secret.expose());
        params.push(("signature".into(), sig));
        params
    }
}

impl std::fmt::Debug for CloudStackSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CloudStackSigner({}, ***)", self.api_key)
    }
}

impl Signer for CloudStackSigner {
    fn sign(&self, req: &mut Unsigned) -> ProviderResult<()> {
        let unreadable = |e: &dyn std::fmt::Display| ProviderError::Config { message: format!("cannot sign the request: {e}") };
        // The server signs what it receives: the query and the form together.
        let mut params: Vec<(String, String)> = req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&req.body).map_err(|e| unreadable(&e))?;
        let in_body = req.method == reqwest::Method::POST;
        params.extend(form);
        let signed = self.signed_params(params, chrono::Utc::now());
        let encoded = serde_urlencoded::to_string(&signed).map_err(|e| unreadable(&e))?;
        if in_body {
            req.url.set_query(None);
            req.body = encoded.into_bytes();
        } else {
            req.url.set_query(Some(&encoded));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    // The expected canonical strings are written out by hand from the
    // server's rules; the signatures were computed independently with
    // Python's hmac/hashlib/base64 over those strings.

    #[test]
    fn tilde_star_and_space_known_answer() {
        let params = p(&[("command", "listVirtualMachines"), ("apiKey", "k"), ("response", "json"), ("name", "a b~*"), ("signature", "ignored")]);
        assert_eq!(canonical(&params), "apikey=k&command=listvirtualmachines&name=a%20b%7e*&response=json");
        assert_eq!(signature(&params, "s"), "oyw71lSC3X6f4gx7neCxTEh2Wk8=");
    }

    #[test]
    fn mixed_case_names_sort_case_sensitively_known_answer() {
        // 'Z' (0x5A) sorts before every lower-case letter; libcloud's
        // lower-case-then-sort would put it last and be refused.
        let params = p(&[("command", "listEvents"), ("apiKey", "K"), ("account", "\u{e9} \u{fc}"), ("Zoneid", "x/y+z")]);
        assert_eq!(canonical(&params), "zoneid=x%2fy%2bz&account=%c3%a9%20%c3%bc&apikey=k&command=listevents");
        assert_eq!(signature(&params, "s3cr3t"), "0unD15IvEireg9+uwkrDgET8Cq0=");
    }

    #[test]
    fn unicode_values_and_secret_known_answer() {
        let params = p(&[("command", "listVirtualMachines"), ("apiKey", "pdk-key"), ("response", "json"), ("name", "caf\u{e9} \u{65e5}\u{672c}~")]);
        assert_eq!(canonical(&params), "apikey=pdk-key&command=listvirtualmachines&name=caf%c3%a9%20%e6%97%a5%e6%9c%ac%7e&response=json");
        assert_eq!(signature(&params, "s\u{e9}cret"), "mLxEuRFB+XdmnCDHVOBFQwoJMZw=");
    }

    #[test]
    fn a_whole_inventory_request_known_answer() {
        let signer = CloudStackSigner::new("pdk-key".into(), Secret::new("Hn2bV4cX6zL8kJ0hG3fD"));
        let at = chrono::DateTime::parse_from_rfc3339("2029-12-31T23:50:00Z").unwrap().with_timezone(&chrono::Utc);
        let params = p(&[
            ("command", "listVirtualMachines"),
            ("response", "json"),
            ("listall", "true"),
            ("projectid", "-1"),
            ("details", "nics,servoff,tmpl"),
            ("page", "1"),
            ("pagesize", "500"),
            // A stale one from an earlier attempt is replaced, not doubled.
            ("expires", "2000-01-01T00:00:00+0000"),
        ]);
        let signed = signer.signed_params(params, at);
        let get = |n: &str| signed.iter().filter(|(k, _)| k == n).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("expires"), vec!["2030-01-01T00:00:00+0000"]);
        assert_eq!(get("signatureVersion"), vec!["3"]);
        assert_eq!(
            canonical(&signed),
            "apikey=pdk-key&command=listvirtualmachines&details=nics%2cservoff%2ctmpl&expires=2030-01-01t00%3a00%3a00%2b0000&listall=true&page=1&pagesize=500&projectid=-1&response=json&signatureversion=3"
        );
        assert_eq!(get("signature"), vec!["50z7b6uiYKPek3UHXqM3A7ge54M="]);
    }

    #[test]
    fn java_urlencoder_rules() {
        assert_eq!(java_urlencode("AZaz09.-*_"), "AZaz09.-*_");
        assert_eq!(java_urlencode("~ +/:=&%"), "%7E%20%2B%2F%3A%3D%26%25");
        assert_eq!(java_urlencode("\u{e9}"), "%C3%A9");
        assert_eq!(java_urlencode("\u{1F600}"), "%F0%9F%98%80", "a character outside the BMP is its four UTF-8 bytes");
    }

    #[test]
    fn a_form_request_is_signed_in_its_body_and_the_secret_never_shows() {
        let signer = CloudStackSigner::new("key".into(), Secret::new("very-secret"));
        let url = reqwest::Url::parse("https://cloud.example/client/api").unwrap();
        let mut req = Unsigned::new(reqwest::Method::POST, url).body("command=listZones&response=json&name=a~b");
        signer.sign(&mut req).unwrap();
        let body = String::from_utf8(req.body.clone()).unwrap();
        let sent: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        let sig = sent.iter().find(|(k, _)| k == "signature").unwrap().1.clone();
        assert_eq!(sig, signature(&sent, "very-secret"), "the signature covers exactly what is sent");
        assert!(req.url.query().is_none() && !body.contains("very-secret"));
        assert!(!format!("{signer:?}").contains("very-secret"));
    }
}
