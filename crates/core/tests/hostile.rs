//! The hostile world (issue 12): servers that answer with the wrong thing.
//! Each case asserts a clear error or honest staleness, and that nothing
//! wrong is stored.

use powerdeck_testkit::canned;
use powerdeck_testkit::failed_sync::assert_stale_and_failing;
use powerdeck_testkit::fast;

use canned::{answer, Canned, Handler, Request};
use powerdeck_core::model::{Account, PowerState, Vm};
use powerdeck_core::provider::ec2::{Ec2Config, Ec2Provider};
use powerdeck_core::secrets::Secret;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::Engine;
use std::sync::Arc;
use tempfile::TempDir;

const NGINX: &str = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>";

struct Lab {
    _dir: TempDir,
    engine: Arc<Engine>,
    account: Account,
}

impl Lab {
    fn ec2(server: &Canned) -> Self {
        Self::ec2_with(server, None)
    }

    /// With temporary credentials: the session token read from `session_token_env`.
    fn ec2_with(server: &Canned, session_token_env: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
        let cfg = Ec2Config {
            regions: vec!["eu-west-1".into()],
            endpoint: Some(server.url("/")),
            access_key_id: Some("AKIAHOSTILE".into()),
            session_token_env: session_token_env.map(str::to_string),
            ..Ec2Config::default()
        };
        let stored = Ec2Config { access_key_id: None, profile: Some("lab".into()), ..cfg.clone() };
        let account = engine.add_account("aws", "ec2", serde_json::to_value(&stored).unwrap(), None).unwrap();
        engine.set_provider(account.id, Arc::new(Ec2Provider::new(&cfg, Some(Secret::new("hostile-secret")), engine.calls(account.id)).unwrap()));
        Self { _dir: dir, engine, account }
    }

    fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    /// What a failed call must never change: each VM's id, name and state.
    fn states(&self) -> Vec<(String, String, PowerState, String)> {
        powerdeck_testkit::failed_sync::states(self.vms())
    }
}

fn action(req: &Request) -> String {
    req.body.split('&').find_map(|kv| kv.strip_prefix("Action=")).unwrap_or_default().to_string()
}

/// A well-behaved EC2 region with two running instances.
fn ec2_ok() -> Handler {
    Arc::new(|req: &Request| {
        let item = |id: &str| {
            format!("<item><instanceId>{id}</instanceId><instanceState><code>16</code><name>running</name></instanceState><tagSet><item><key>Name</key><value>{id}</value></item></tagSet></item>")
        };
        let body = match action(req).as_str() {
            "DescribeInstances" => format!("<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId><instancesSet>{}{}</instancesSet></item></reservationSet></DescribeInstancesResponse>", item("i-1"), item("i-2")),
            // The instances asked for (InstanceId.N=…), running.
            "DescribeInstanceStatus" => format!(
                "<DescribeInstanceStatusResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><instanceStatusSet>{}</instanceStatusSet></DescribeInstanceStatusResponse>",
                req.body.split('&').filter(|kv| kv.starts_with("InstanceId.")).filter_map(|kv| kv.split_once('=')).map(|(_, id)| format!("<item><instanceId>{id}</instanceId><instanceState><code>16</code><name>running</name></instanceState></item>")).collect::<String>()
            ),
            other => return answer("400 Bad Request", "text/xml", &format!("<Response><Errors><Error><Code>InvalidAction</Code><Message>{other}</Message></Error></Errors></Response>")),
        };
        answer("200 OK", "text/xml;charset=UTF-8", &body)
    })
}

async fn synced_ec2() -> (Canned, Lab) {
    let server = Canned::start(ec2_ok()).await;
    let lab = Lab::ec2(&server);
    lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(lab.vms().iter().filter(|v| v.state == PowerState::Running).count(), 2);
    (server, lab)
}

#[tokio::test]
async fn ec2_an_html_page_is_a_malformed_answer_that_changes_nothing() {
    let (server, lab) = synced_ec2().await;
    let before = lab.vms();
    server.set(Arc::new(|_: &Request| answer("200 OK", "text/html", NGINX)));
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert!(err.contains("text/html") && err.contains("endpoint"), "{err}");
    assert_eq!(lab.vms(), before, "no VM turned missing");
    // The same page without a content type is caught by its root element.
    server.set(Arc::new(|_: &Request| "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string() + NGINX));
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert!(err.contains("<html>"), "{err}");
    assert_eq!(lab.vms(), before);
    // And a connection test does not call it connected.
    let err = lab.engine.test_account("aws").await.unwrap_err().to_string();
    assert!(err.contains("html"), "{err}");
}

#[tokio::test]
async fn ec2_another_actions_answer_is_refused_and_its_vms_go_stale() {
    let (server, lab) = synced_ec2().await;
    let before = lab.vms();
    server.set(Arc::new(|_: &Request| {
        answer(
            "200 OK",
            "text/xml",
            "<DescribeInstanceStatusResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><instanceStatusSet/></DescribeInstanceStatusResponse>",
        )
    }));
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert!(err.contains("<DescribeInstanceStatusResponse> instead of <DescribeInstancesResponse>"), "{err}");
    assert_eq!(lab.vms(), before, "no VM turned missing");
}

/// An EC2 error answer in AWS's own shape.
fn ec2_error(status: &str, code: &str, message: &str) -> String {
    answer(
        status,
        "text/xml;charset=UTF-8",
        &format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>r</RequestID></Response>"),
    )
}

/// EC2 answering 5xx without Retry-After (a 500 `InternalError`, a proxy's
/// bare 502): a few are retried with backoff and the sync ends well; when
/// they last, the sync fails in words naming the account, and no VM's state
/// changes. A power request answered 500 is never repeated.
#[tokio::test]
async fn ec2_a_5xx_for_a_while_is_retried_and_one_that_lasts_fails_naming_the_account_and_its_vms_go_stale() {
    let (server, lab) = synced_ec2().await;
    let known = lab.states();
    let sent = || server.requests.lock().unwrap().len();
    // Fails `failures` times with `bad`, then answers well.
    let flaky = |failures: usize, bad: String| -> Handler {
        let (ok, seen) = (ec2_ok(), std::sync::atomic::AtomicUsize::new(0));
        Arc::new(move |req: &Request| if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < failures { bad.clone() } else { ok(req) })
    };

    let internal = ec2_error("500 Internal Server Error", "InternalError", "An internal error has occurred");
    let gateway = answer("502 Bad Gateway", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>");
    for bad in [internal.clone(), gateway] {
        server.set(flaky(2, bad));
        let before = sent();
        assert_eq!(lab.engine.full_sync(lab.account.id).await.unwrap().vms, 2);
        assert_eq!(sent() - before, 3, "two failures, each tried again after a pause, then the answer");
    }
    assert_eq!(lab.engine.runtime(lab.account.id).unwrap().stats().snapshot().retries, 4);

    // Lasting: every attempt the retry policy allows (three here), then the error.
    server.set(flaky(usize::MAX, internal.clone()));
    let before = sent();
    let err = lab.engine.full_sync(lab.account.id).await.unwrap_err().to_string();
    assert_eq!(sent() - before, 3, "{err}");
    assert!(err.starts_with("account 'aws':") && err.contains("InternalError") && err.contains("An internal error has occurred"), "{err}");
    assert_eq!(lab.states(), known, "nothing stored from the failed sync");
    assert_stale_and_failing(&lab.engine, lab.account.id, &lab.vms());

    // A stop answered 500 may have been carried out: it is not sent again.
    let ok = ec2_ok();
    server.set(Arc::new(move |req: &Request| if action(req) == "StopInstances" { internal.clone() } else { ok(req) }));
    lab.engine.start(powerdeck_core::Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let stops = || server.requests.lock().unwrap().iter().filter(|r| action(r) == "StopInstances").count();
    let vm = lab.vms().remove(0);
    let op = lab.engine.request(vm.id, powerdeck_core::model::OpKind::Stop, Default::default()).await.unwrap();
    let op = tokio::time::timeout(std::time::Duration::from_secs(20), lab.engine.wait(op.id, |_| {})).await.unwrap().unwrap();
    assert_eq!(stops(), 1, "{op:?}");
    assert!(op.phase.is_terminal() && op.error.as_deref().unwrap_or_default().contains("InternalError"), "{op:?}");
}

/// Temporary credentials that EC2 no longer takes: the session token
/// expired (`ExpiredToken`), or the request is past its signature's
/// validity (`RequestExpired`: a clock that is off, or expired temporary
/// credentials). An auth error in AWS's words, not repeated, that shows no
/// secret even when the server echoes the session token; no VM's state changes.
#[tokio::test]
async fn ec2_expired_temporary_credentials_are_an_auth_error_that_shows_no_secret_and_changes_nothing() {
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEXPIREDsessionTOKEN0123456789";
    // Only this test reads this variable.
    std::env::set_var("PDK_HOSTILE_EC2_SESSION_TOKEN", TOKEN);
    let server = Canned::start(ec2_ok()).await;
    let lab = Lab::ec2_with(&server, Some("PDK_HOSTILE_EC2_SESSION_TOKEN"));
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let known = lab.states();
    for (code, words) in [("ExpiredToken", "The security token included in the request is expired"), ("RequestExpired", "Request has expired.")] {
        server.set(Arc::new(move |req: &Request| ec2_error("400 Bad Request", code, &format!("{words} (token {})", req.header("x-amz-security-token")))));
        let before = server.requests.lock().unwrap().len();
        let err = lab.engine.full_sync(lab.account.id).await.unwrap_err();
        let requests = server.requests.lock().unwrap()[before..].to_vec();
        assert_eq!(requests.len(), 1, "{code}: refused credentials are not tried again");
        assert_eq!(requests[0].header("x-amz-security-token"), TOKEN, "the token was sent, and echoed");
        assert_eq!(err.kind(), "auth", "{code}: {err}");
        let text = format!("{err} {err:?}");
        assert!(text.contains("account 'aws'") && text.contains(code) && text.contains(words), "{text}");
        assert!(!text.contains(TOKEN) && !text.contains("hostile-secret"), "{code}: a secret is shown: {text}");
        assert_eq!(lab.engine.account_health(lab.account.id).status, "auth");
        assert_eq!(lab.states(), known, "{code}: nothing stored");
    }
}

fn soap(body: &str) -> String {
    answer("200 OK", "text/xml; charset=utf-8", &format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"))
}

/// The SOAP method a request calls (the Body's first element).
fn method(req: &Request) -> String {
    let after = req.body.split("<soapenv:Body><").nth(1).unwrap_or_default();
    after.split([' ', '>']).next().unwrap_or_default().to_string()
}

/// A vCenter with two powered-on VMs; `vms_element` names the element its
/// property reads answer with (a hostile one answers with another method's).
fn vsphere(vms_element: &'static str) -> Handler {
    Arc::new(move |req: &Request| {
        let vm = |id: &str| {
            format!("<objects><obj type=\"VirtualMachine\">{id}</obj><propSet><name>name</name><val xsi:type=\"xsd:string\">{id}</val></propSet><propSet><name>runtime.powerState</name><val xsi:type=\"VirtualMachinePowerState\">poweredOn</val></propSet></objects>")
        };
        match method(req).as_str() {
            "RetrieveServiceContent" => soap("<RetrieveServiceContentResponse xmlns=\"urn:vim25\"><returnval><rootFolder type=\"Folder\">group-d1</rootFolder><propertyCollector type=\"PropertyCollector\">propertyCollector</propertyCollector><viewManager type=\"ViewManager\">ViewManager</viewManager><sessionManager type=\"SessionManager\">SessionManager</sessionManager></returnval></RetrieveServiceContentResponse>"),
            "Login" => soap("<LoginResponse xmlns=\"urn:vim25\"><returnval><key>52a8</key></returnval></LoginResponse>"),
            "CreateContainerView" => soap("<CreateContainerViewResponse xmlns=\"urn:vim25\"><returnval type=\"ContainerView\">session[52a8]5279</returnval></CreateContainerViewResponse>"),
            "RetrievePropertiesEx" if vms_element == "RetrievePropertiesExResponse" => soap(&format!("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>{}{}</returnval></RetrievePropertiesExResponse>", vm("vm-1"), vm("vm-2"))),
            "RetrievePropertiesEx" => soap(&format!("<{vms_element} xmlns=\"urn:vim25\"><returnval></returnval></{vms_element}>")),
            other => soap(&format!("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>unexpected {other}</faultstring><detail/></soapenv:Fault>")),
        }
    })
}

#[tokio::test]
async fn vsphere_another_methods_answer_is_refused_and_its_vms_go_stale() {
    use powerdeck_core::provider::vsphere::{VsphereConfig, VsphereProvider};
    let server = Canned::start(vsphere("RetrievePropertiesExResponse")).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
    let cfg = VsphereConfig { endpoint: server.url("/sdk"), username: "admin".into(), thumbprint: None, insecure: false };
    let account = engine
        .add_account("vc", "vsphere", serde_json::to_value(&cfg).unwrap(), Some((powerdeck_core::secrets::SecretRef::env("PATH").unwrap(), None)))
        .unwrap();
    engine.set_provider(account.id, Arc::new(VsphereProvider::new(&cfg, Some(Secret::new("pw")), engine.calls(account.id)).unwrap()));
    engine.full_sync(account.id).await.unwrap();
    let vms = || engine.store().vms(&VmFilter { account_id: Some(account.id), state: None }).unwrap();
    let before = vms();
    assert_eq!(before.len(), 2);

    server.set(vsphere("RetrievePropertiesResponse"));
    let err = engine.full_sync(account.id).await.unwrap_err().to_string();
    assert!(err.contains("answered with RetrievePropertiesResponse instead"), "{err}");
    assert_eq!(vms(), before, "no VM turned missing");
}
