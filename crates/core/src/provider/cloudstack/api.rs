//! CloudStack's signed query API on the wire: one command per request, a
//! form POST to `/client/api` (the parameters and signature stay out of
//! URLs and proxy logs), signed afresh for every attempt, JSON answers.
//! Rate limits, retries and the throttling wait come from the shared call
//! layer; transport, TLS and body limits from the shared transport.

use super::errors;
use super::sign::CloudStackSigner;
use crate::provider::calls::{Call, Calls};
use crate::provider::client::sign::{Signer, Unsigned};
use crate::provider::http::{explain_untrusted, HttpTransport, Trust};
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use serde_json::Value;
use std::sync::Arc;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// One account's connection to a management server. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    http: HttpTransport,
    calls: Arc<Calls>,
    endpoint: reqwest::Url,
    signer: CloudStackSigner,
    /// Only to keep it out of what the server echoes back.
    secret: Secret,
    trust: Trust,
}

impl Api {
    pub fn new(http: HttpTransport, calls: Arc<Calls>, endpoint: reqwest::Url, api_key: String, secret: Secret, trust: Trust) -> Self {
        let signer = CloudStackSigner::new(api_key, secret.clone());
        Self { inner: Arc::new(Inner { http, calls, endpoint, signer, secret, trust }) }
    }

    pub fn calls(&self) -> &Arc<Calls> {
        &self.inner.calls
    }

    /// Run `command` with `params` and return the inside of its answer,
    /// `{"<command>response": {…}}`, after checking that it is that
    /// command's answer. `call` says what kind of request it is.
    pub async fn call(&self, call: Call<'_>, command: &str, params: &[(&str, String)]) -> ProviderResult<Value> {
        let me = &self.inner;
        let mut form: Vec<(&str, &str)> = vec![("command", command), ("response", "json")];
        form.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let body = serde_urlencoded::to_string(&form).map_err(|e| ProviderError::malformed(format!("cannot encode the request: {e}")))?;
        let secret = me.secret.expose();
        let sent = me
            .calls
            .run(call, || async {
                let mut req = Unsigned::new(reqwest::Method::POST, me.endpoint.clone()).header("content-type", FORM).body(body.clone());
                me.signer.sign(&mut req)?;
                me.http.send(req.into_request(me.http.client_for(call.effect)), |f| errors::map_failure(f, secret)).await
            })
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e @ ProviderError::Untrusted { .. }) => return Err(explain_untrusted(e, &me.trust, me.endpoint.as_str()).await),
            Err(e) => return Err(e),
        };
        resp.expect_content_type(&["json"], "a CloudStack JSON answer")?;
        let value: Value = serde_json::from_str(&resp.body).map_err(|e| ProviderError::malformed(format!("{command}: the answer is not JSON ({e})")))?;
        answer_of(command, value, secret)
    }
}

/// The inside of `{"<command>response": {…}}`; another command's answer (a
/// confused proxy, a hostile server) is refused before anything reads it.
fn answer_of(command: &str, value: Value, secret: &str) -> ProviderResult<Value> {
    let expected = format!("{}response", command.to_ascii_lowercase());
    let Value::Object(mut top) = value else { return Err(ProviderError::malformed(format!("{command}: the answer is not a JSON object"))) };
    if top.len() != 1 || !top.contains_key(&expected) {
        let keys: Vec<String> = top.keys().take(3).map(|k| errors::shown(k, secret)).collect();
        return Err(ProviderError::malformed(format!("{command}: the server answered with {} instead of {expected}", keys.join(", "))));
    }
    let inner = top.remove(&expected).unwrap_or(Value::Null);
    if !inner.is_object() {
        return Err(ProviderError::malformed(format!("{command}: {expected} is not an object")));
    }
    // An error envelope inside a 200 answer is still an error.
    if inner.get("errorcode").is_some() {
        if let Ok(env) = serde_json::from_value::<errors::Envelope>(inner.clone()) {
            return Err(errors::from_envelope(&env, secret));
        }
    }
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_commands_own_answer_is_read() {
        let ok = serde_json::json!({"listvirtualmachinesresponse": {"count": 1, "virtualmachine": []}});
        assert_eq!(answer_of("listVirtualMachines", ok, "s").unwrap()["count"], 1);
        let other = serde_json::json!({"listhostsresponse": {"count": 1, "host": []}});
        let err = answer_of("listVirtualMachines", other, "s").unwrap_err().to_string();
        assert!(err.contains("listhostsresponse instead of listvirtualmachinesresponse"), "{err}");
        let two = serde_json::json!({"listvirtualmachinesresponse": {}, "extra": {}});
        assert!(answer_of("listVirtualMachines", two, "s").is_err());
        let wrapped = serde_json::json!({"startvirtualmachineresponse": {"errorcode": 534, "errortext": "host down"}});
        assert!(answer_of("startVirtualMachine", wrapped, "s").unwrap_err().is_retryable());
    }
}
