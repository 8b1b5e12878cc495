//! CloudStack's error envelope, `{"<command>response": {"errorcode",
//! "cserrorcode", "errortext"}}` with the HTTP status equal to `errorcode`
//! (`ApiServer.getSerializedApiError`; `errorresponse` for an unknown
//! command or a refused role), mapped to what the engine acts on. Codes
//! are `ApiErrorCode`'s. The text is the server's own, cleaned of control
//! characters and never carrying the secret key.

use crate::provider::http::HttpFailure;
use crate::provider::ProviderError;
use crate::text::clean;
use serde::Deserialize;
use std::time::Duration;

/// The longest wait a throttling answer is taken at its word for; a larger
/// number is still a wait, and the shared call layer hands it back.
pub(super) const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    pub errorcode: u16,
    #[serde(default)]
    pub errortext: String,
}

/// The envelope of an error body: its only key's value, if it has the shape.
pub fn envelope(body: &str) -> Option<Envelope> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let obj = value.as_object()?;
    let (key, inner) = obj.iter().next().filter(|_| obj.len() == 1)?;
    if !key.ends_with("response") {
        return None;
    }
    serde_json::from_value(inner.clone()).ok()
}

/// Text from the server as it may be shown: no control characters, and
/// the secret key (which a hostile or broken server may echo) removed.
pub fn shown(text: &str, secret: &str) -> String {
    let mut t = clean(text);
    // CloudStack's secret keys are 86 characters; replacing a very short
    // test secret would mangle every word that contains it.
    if secret.chars().count() >= 8 {
        for form in [secret.to_string(), super::sign::java_urlencode(secret)] {
            t = t.replace(&form, "***");
        }
    }
    t.chars().take(500).collect()
}

/// A non-2xx answer: CloudStack's envelope when it is one; otherwise the
/// shared transport's reading of the status (a proxy's page, say).
pub fn map_failure(f: &HttpFailure, secret: &str) -> Option<ProviderError> {
    let env = envelope(&f.body)?;
    Some(from_envelope(&env, secret))
}

/// What an `errorcode` means to the engine.
pub fn from_envelope(env: &Envelope, secret: &str) -> ProviderError {
    let text = shown(&env.errortext, secret);
    let provider = |name: &str, retryable: bool| ProviderError::Provider { code: format!("{} {name}", env.errorcode), message: text.clone(), retryable };
    match env.errorcode {
        401 => ProviderError::Auth {
            message: format!("CloudStack refused the API key or the request's signature ({text}); check the API key and secret key, and this computer's clock (signed requests expire after 10 minutes)"),
        },
        411 => ProviderError::Auth { message: format!("the CloudStack user must complete two-factor authentication ({text})") },
        429 => ProviderError::Throttled { retry_after: throttle_wait(&env.errortext) },
        431 if names_an_unknown_entity(&env.errortext) => ProviderError::NotFound { what: text },
        431 if env.errortext.contains("is not running") => ProviderError::InvalidState { message: text },
        405 => provider("METHOD_NOT_ALLOWED", false),
        430 => provider("MALFORMED_PARAMETER_ERROR", false),
        431 => provider("PARAM_ERROR", false),
        432 => ProviderError::Provider {
            code: "432 UNSUPPORTED_ACTION_ERROR".into(),
            message: format!("the CloudStack account's role does not allow this: {text}"),
            retryable: false,
        },
        530 => provider("INTERNAL_ERROR", true),
        531 => provider("ACCOUNT_ERROR", false),
        532 => provider("ACCOUNT_RESOURCE_LIMIT_ERROR", false),
        533 => provider("INSUFFICIENT_CAPACITY_ERROR", false),
        534 => provider("RESOURCE_UNAVAILABLE_ERROR", true),
        535 => provider("RESOURCE_ALLOCATION_ERROR", false),
        536 => ProviderError::InvalidState { message: text },
        537 => provider("NETWORK_RULE_CONFLICT_ERROR", false),
        code => provider("error", code >= 500),
    }
}

/// `ParamProcessWorker`'s answer for a VM or job id that names nothing:
/// "Unable to execute API command … due to invalid value. Invalid parameter
/// id value=… due to incorrect long value format, or entity does not exist
/// …". An unknown project or domain (the account's scope) is not that: it
/// is a setting to fix, and stays a parameter error.
fn names_an_unknown_entity(text: &str) -> bool {
    ["Invalid parameter id value=", "Invalid parameter ids value=", "Invalid parameter jobid value="].iter().any(|p| text.contains(p))
        && text.contains("entity does not exist")
}

/// The api-limit plugin's "… please retry after [N] ms." (older servers
/// without the brackets): CloudStack sends no Retry-After header.
pub fn throttle_wait(text: &str) -> Option<Duration> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("retry after")? + "retry after".len();
    let rest = lower[at..].trim_start().trim_start_matches('[');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let unit = rest[digits.len()..].trim_start_matches(']').trim_start();
    let n: u128 = digits.parse().unwrap_or(u128::MAX);
    let ms = if unit.starts_with("ms") || unit.starts_with("milli") { n } else { n.saturating_mul(1000) };
    Some(Duration::from_millis(ms.min(MAX_THROTTLE_WAIT.as_millis()) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, body: &str) -> HttpFailure {
        HttpFailure { status, retry_after: None, body: body.into() }
    }

    #[test]
    fn throttling_waits_what_the_text_says() {
        let t = "The given user has reached his/her account api limit, please retry after [1500] ms.";
        assert_eq!(throttle_wait(t), Some(Duration::from_millis(1500)));
        assert_eq!(throttle_wait("The given user has reached his/her account api limit, please retry after 250 ms."), Some(Duration::from_millis(250)));
        assert_eq!(throttle_wait("please retry after [1000000000000000000000000] ms."), Some(MAX_THROTTLE_WAIT), "absurd numbers are capped, not wrapped");
        assert_eq!(throttle_wait("slow down"), None);
        let body = format!(r#"{{"listvirtualmachinesresponse":{{"uuidList":[],"errorcode":429,"cserrorcode":9999,"errortext":"{t}"}}}}"#);
        assert_eq!(map_failure(&failure(429, &body), "s"), Some(ProviderError::Throttled { retry_after: Some(Duration::from_millis(1500)) }));
    }

    #[test]
    fn codes_map_to_what_the_engine_acts_on() {
        let env = |code: u16, text: &str| Envelope { errorcode: code, errortext: text.into() };
        let unknown = "Unable to execute API command startvirtualmachine due to invalid value. Invalid parameter id value=4e0c9b1e-0000-4000-8000-000000000000 due to incorrect long value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.";
        assert!(matches!(from_envelope(&env(431, unknown), "s"), ProviderError::NotFound { .. }));
        let scope = unknown.replace("parameter id value", "parameter projectid value");
        assert!(matches!(from_envelope(&env(431, &scope), "s"), ProviderError::Provider { .. }), "an unknown project is a setting to fix");
        assert!(matches!(from_envelope(&env(431, "The Instance x (y) is not running, unable to reboot it"), "s"), ProviderError::InvalidState { .. }));
        let internal = from_envelope(&env(530, "Unable to stop VM[User|i-2-9-VM]"), "s");
        assert_eq!(internal.to_string(), "the provider reported 530 INTERNAL_ERROR: Unable to stop VM[User|i-2-9-VM]");
        assert!(internal.is_retryable());
        assert!(!from_envelope(&env(533, "Unable to create a deployment"), "s").is_retryable());
        assert!(from_envelope(&env(534, "host is not Up"), "s").is_retryable());
        let role = from_envelope(&env(432, "The API [stopVirtualMachine] does not exist or is not available for the account ops."), "s");
        assert!(!role.means_unreachable() && role.to_string().contains("role does not allow"), "{role}");
        assert_eq!(from_envelope(&env(401, "x"), "s").kind(), "auth");
    }

    #[test]
    fn the_secret_and_escapes_never_come_through() {
        let body = r#"{"listvirtualmachinesresponse":{"uuidList":[],"errorcode":401,"errortext":"bad signature (computed with secret key S3cr~t-long)\u001b]0;owned\u0007"}}"#;
        let err = map_failure(&failure(401, body), "S3cr~t-long").unwrap().to_string();
        assert!(!err.contains("S3cr~t") && !err.contains("long") && !err.contains('\u{1b}') && err.contains("***"), "{err}");
        // Not an envelope: the shared mapping of the status decides.
        assert_eq!(map_failure(&failure(502, "<html>Bad gateway</html>"), "s"), None);
        assert_eq!(map_failure(&failure(500, r#"{"a":1,"b":2}"#), "s"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzz::{config, jsonish, mutated};
    use proptest::prelude::*;

    const ERROR: &str = r#"{"stopvirtualmachineresponse":{"uuidList":[],"errorcode":431,"cserrorcode":9999,"errortext":"Unable to execute API command stopvirtualmachine due to invalid value. Invalid parameter id value=abc due to incorrect long value format, or entity does not exist"}}"#;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_error_body_is_read_or_ignored(body in prop_oneof![mutated(ERROR), jsonish()]) {
            super::super::vms::check(&body);
        }

        #[test]
        fn the_secret_never_survives_into_shown_text(
            before in "\\PC{0,200}", secret in "[A-Za-z0-9+/=_-]{8,86}", after in "\\PC{0,200}"
        ) {
            let text = format!("{before}{secret}{after}");
            let out = shown(&text, &secret);
            prop_assert!(!out.contains(&secret), "{out}");
            prop_assert!(out.chars().count() <= 500 && !out.chars().any(char::is_control));
        }

        #[test]
        fn any_throttle_text_waits_a_bounded_time(text in "\\PC{0,40}(retry after \\[?[0-9]{1,40}\\]? ?(ms|s|seconds)?)?\\PC{0,10}") {
            super::super::vms::check(&text);
        }
    }
}
