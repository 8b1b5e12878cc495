//! The engine's refusals: `<fault><reason/><detail/></fault>`, alone (bad
//! parameters, unknown search terms) or inside a failed action
//! (`<action><fault>…</fault><status>failed</status></action>`), mapped
//! onto the foundation's error kinds with the engine's own words kept.
//! The HTTP status says which kind: 409 is a state conflict ("Cannot stop
//! VM. VM is not running."), 404 an unknown object, 403 a missing
//! permission, 5xx the engine's own trouble.

use super::redact::Redactor;
use crate::provider::xml::Node;
use crate::provider::ProviderError;

/// The engine's reason and detail, e.g. ("Operation Failed", "Cannot stop
/// VM. VM is not running."): the detail's brackets (the REST layer prints a
/// list of messages) are dropped.
pub fn words(fault: &Node, r: &Redactor) -> (String, String) {
    let text = |n: &str| fault.child(n).map(|x| r.clean(x.text())).unwrap_or_default();
    let detail = text("detail");
    let detail = detail.strip_prefix('[').and_then(|d| d.strip_suffix(']')).map(str::to_string).unwrap_or(detail);
    (text("reason"), detail)
}

/// What a sentence of the engine's says, for people.
fn sentence(reason: &str, detail: &str) -> String {
    match (reason.is_empty(), detail.is_empty()) {
        (false, false) => format!("{reason}: {detail}"),
        (false, true) => reason.to_string(),
        (true, false) => detail.to_string(),
        (true, true) => "the engine gave no reason".to_string(),
    }
}

/// A non-2xx answer whose body is XML: a fault, or an action that carries one.
pub fn from_answer(status: u16, root: &Node, r: &Redactor) -> Option<ProviderError> {
    let fault = match root.name.as_str() {
        "fault" => root,
        "action" => root.child("fault")?,
        _ => return None,
    };
    let (reason, detail) = words(fault, r);
    Some(classify(status, &reason, &detail))
}

pub fn classify(status: u16, reason: &str, detail: &str) -> ProviderError {
    let message = sentence(reason, detail);
    let lower = detail.to_ascii_lowercase();
    match status {
        409 => ProviderError::InvalidState { message },
        404 => ProviderError::NotFound { what: message },
        // The engine answers 400 for a well-formed id it does not have.
        400 if lower.contains("not found") || lower.contains("doesn't exist") => ProviderError::NotFound { what: message },
        403 => {
            ProviderError::Provider { code: "HTTP 403".into(), message: format!("the engine user lacks a permission for this: {message}"), retryable: false }
        }
        s if s >= 500 => ProviderError::Provider { code: format!("HTTP {s}"), message, retryable: true },
        s => ProviderError::Provider {
            code: if reason.is_empty() { format!("HTTP {s}") } else { reason.to_string() },
            message: detail_or(detail, &message),
            retryable: false,
        },
    }
}

fn detail_or(detail: &str, message: &str) -> String {
    if detail.is_empty() {
        message.to_string()
    } else {
        detail.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::xml;
    use crate::secrets::Secret;

    fn err(status: u16, body: &str) -> ProviderError {
        let doc = xml::parse(body).unwrap();
        from_answer(status, &doc.children[0], &Redactor::new(&Secret::new("hunter2"))).unwrap()
    }

    #[test]
    fn refusals_keep_the_engines_words_and_say_what_kind_they_are() {
        let refused = err(
            409,
            "<action><fault><reason>Operation Failed</reason><detail>[Cannot stop VM. VM is not running.]</detail></fault><status>failed</status></action>",
        );
        assert_eq!(refused, ProviderError::InvalidState { message: "Operation Failed: Cannot stop VM. VM is not running.".into() });
        let gone = err(
            400,
            "<action><fault><reason>Operation Failed</reason><detail>[Cannot run VM. VM is not found.]</detail></fault><status>failed</status></action>",
        );
        assert!(matches!(gone, ProviderError::NotFound { .. }), "{gone:?}");
        let broke = err(
            400,
            "<action><fault><reason>Operation Failed</reason><detail>[Virtual machine destroy error]</detail></fault><status>failed</status></action>",
        );
        assert_eq!(broke, ProviderError::Provider { code: "Operation Failed".into(), message: "Virtual machine destroy error".into(), retryable: false });
        let bug = err(500, "<fault><reason>Operation Failed</reason><detail>Problem following 'nics' link in Vm entity.</detail></fault>");
        assert!(bug.is_retryable(), "{bug:?}");
        let saving = err(409, "<action><fault><detail>[Cannot stop VM. VM is in saving/restoring state.\n-Please try again when the VM is either up or down.]</detail></fault></action>");
        assert!(saving.to_string().contains("saving/restoring state. -Please try again"), "{saving}");
    }
}
