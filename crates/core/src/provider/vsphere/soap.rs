//! vim25 SOAP on the wire: envelopes, the session cookie, and SOAP faults
//! mapped onto [`ProviderError`]. Transport, timeouts and TLS come from the
//! shared [`HttpTransport`]; rate limits and retries from the shared call layer.

use crate::provider::calls::{Call, Calls};
use crate::provider::http::{HttpFailure, HttpTransport};
use crate::provider::xml::{self as dom, Node};
use crate::provider::ProviderError;
use std::sync::{Arc, Mutex};

const COOKIE: &str = "vmware_soap_session";

/// Text for an XML element or attribute (user names, passwords, ids).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// `<name type="Type">id</name>`: how vim25 passes a managed object reference.
pub fn moref(name: &str, kind: &str, id: &str) -> String {
    format!("<{name} type=\"{}\">{}</{name}>", esc(kind), esc(id))
}

pub struct Soap {
    http: HttpTransport,
    calls: Arc<Calls>,
    url: String,
    cookie: Mutex<Option<String>>,
}

impl Soap {
    pub fn new(http: HttpTransport, calls: Arc<Calls>, url: String) -> Self {
        Self { http, calls, url, cookie: Mutex::new(None) }
    }

    pub fn forget_session(&self) {
        *self.cookie.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Call one method; returns its `…Response` element.
    pub async fn call(&self, call: Call<'_>, method: &str, inner: &str) -> Result<Node, ProviderError> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><soapenv:Body><{method} xmlns=\"urn:vim25\">{inner}</{method}></soapenv:Body></soapenv:Envelope>"
        );
        let resp = self
            .calls
            .run(call, || {
                let mut req = self
                    .http
                    .client_for(call.effect)
                    .post(&self.url)
                    .header("Content-Type", "text/xml; charset=utf-8")
                    .header("SOAPAction", "urn:vim25/6.5")
                    .body(body.clone());
                if let Some(c) = self.cookie.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                    req = req.header("Cookie", format!("{COOKIE}={c}"));
                }
                self.http.send(req, map_fault)
            })
            .await?;
        for v in resp.headers.get_all(reqwest::header::SET_COOKIE) {
            if let Some(c) = v.to_str().ok().and_then(|s| s.strip_prefix(&format!("{COOKIE}="))).and_then(|s| s.split(';').next()) {
                *self.cookie.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.to_string());
            }
        }
        resp.expect_content_type(&["xml"], "a SOAP answer")?;
        let doc = dom::parse(&resp.body)?;
        let body = doc.find("Body").ok_or_else(|| ProviderError::malformed(format!("{method}: the answer has no SOAP body")))?;
        if let Some(fault) = body.child("Fault") {
            return Err(fault_error(fault));
        }
        let answer = body.children.first().cloned().ok_or_else(|| ProviderError::malformed(format!("{method}: empty SOAP body")))?;
        // Another method's answer (a confused proxy, a hostile server) must
        // never be read as this one's.
        if answer.name != format!("{method}Response") {
            return Err(ProviderError::malformed(format!("{method}: the server answered with {} instead", answer.name)));
        }
        if withheld_for_lack_of_session(&answer) {
            return Err(ProviderError::Auth { message: format!("NotAuthenticated: {method} answered without the properties (the session expired)") });
        }
        Ok(answer)
    }
}

/// Some servers (vcsim among them) answer a property read from an expired
/// session with empty objects whose `missingSet` says NotAuthenticated,
/// rather than with a fault. Taken at face value that would be VMs without
/// names or states; it is an expired session like any other.
fn withheld_for_lack_of_session(answer: &Node) -> bool {
    answer
        .all("returnval")
        .flat_map(|rv| rv.all("objects"))
        .flat_map(|o| o.all("missingSet"))
        .any(|m| m.child("fault").and_then(|f| f.child("fault")).and_then(|f| f.attr("type")) == Some("NotAuthenticated"))
}

fn map_fault(f: &HttpFailure) -> Option<ProviderError> {
    let doc = dom::parse(&f.body).ok()?;
    doc.find("Fault").map(fault_error)
}

/// The fault's type: the detail element's `xsi:type`, or its name without "Fault".
fn fault_error(fault: &Node) -> ProviderError {
    let message = fault.child("faultstring").map(|n| n.text().to_string()).unwrap_or_default();
    let kind = fault
        .child("detail")
        .and_then(|d| d.children.first())
        .map(|n| n.attr("type").map(str::to_string).unwrap_or_else(|| n.name.trim_end_matches("Fault").to_string()))
        .unwrap_or_default();
    match kind.as_str() {
        "NotAuthenticated" => ProviderError::Auth { message: format!("NotAuthenticated: {message}") },
        "InvalidLogin" => ProviderError::Auth { message: format!("{kind}: {message}") },
        // The login works, this one request is beyond its role: not a reason
        // to call the whole account unreachable.
        "NoPermission" => ProviderError::Provider { code: kind, message: format!("the vSphere user lacks a privilege for this: {message}"), retryable: false },
        "ManagedObjectNotFound" => ProviderError::NotFound { what: message },
        // A snapshot or migration holds the VM: wait it out, and never take it
        // as "the guest cannot be asked" (which would power off hard).
        "TaskInProgress" => ProviderError::Provider { code: kind, message: format!("another task is running on this VM: {message}"), retryable: true },
        "InvalidPowerState" | "InvalidState" => ProviderError::InvalidState { message },
        "ToolsUnavailable" => ProviderError::InvalidState { message: format!("graceful shutdown not possible: guest tools are not running ({message})") },
        "NotSupported" | "NotImplemented" | "MethodNotFound" => ProviderError::Unsupported { action: message },
        _ => ProviderError::Provider { code: if kind.is_empty() { "SoapFault".into() } else { kind }, message, retryable: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(detail: &str) -> ProviderError {
        let xml = format!("<soapenv:Envelope xmlns:soapenv=\"s\" xmlns:xsi=\"x\"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>the message</faultstring><detail>{detail}</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>");
        map_fault(&HttpFailure { status: 500, retry_after: None, body: xml }).unwrap()
    }

    #[test]
    fn faults_map_to_what_the_engine_acts_on() {
        assert!(matches!(
            fault("<InvalidPowerStateFault xmlns=\"urn:vim25\" xsi:type=\"InvalidPowerState\"></InvalidPowerStateFault>"),
            ProviderError::InvalidState { .. }
        ));
        assert!(matches!(
            fault("<ManagedObjectNotFoundFault xmlns=\"urn:vim25\"><obj type=\"VirtualMachine\">vm-1</obj></ManagedObjectNotFoundFault>"),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(fault("<InvalidLoginFault xmlns=\"urn:vim25\" xsi:type=\"InvalidLogin\"/>"), ProviderError::Auth { .. }));
        let denied = fault(
            "<NoPermissionFault xmlns=\"urn:vim25\" xsi:type=\"NoPermission\"><privilegeId>VirtualMachine.Interact.PowerOn</privilegeId></NoPermissionFault>",
        );
        assert!(!denied.means_unreachable() && !denied.is_retryable(), "one missing privilege is not an outage: {denied:?}");
        assert!(denied.to_string().contains("lacks a privilege"), "{denied}");
        let busy = fault("<TaskInProgressFault xmlns=\"urn:vim25\" xsi:type=\"TaskInProgress\"/>");
        assert!(busy.is_retryable() && !matches!(busy, ProviderError::InvalidState { .. }), "{busy:?}");
        let tools = fault("<ToolsUnavailableFault xmlns=\"urn:vim25\" xsi:type=\"ToolsUnavailable\"/>");
        assert!(tools.to_string().contains("graceful shutdown not possible"), "{tools}");
    }

    #[test]
    fn values_are_escaped() {
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(moref("_this", "VirtualMachine", "vm-42"), "<_this type=\"VirtualMachine\">vm-42</_this>");
    }
}
