//! The hostile world (issue 12): servers that answer with the wrong thing.
//! Each case asserts a clear error or honest staleness, and that nothing
//! wrong is stored.

use powerdeck_testkit::canned;
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
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), fast::fast_engine_config()).unwrap();
        let cfg =
            Ec2Config { regions: vec!["eu-west-1".into()], endpoint: Some(server.url("/")), access_key_id: Some("AKIAHOSTILE".into()), ..Ec2Config::default() };
        let stored = Ec2Config { access_key_id: None, profile: Some("lab".into()), ..cfg.clone() };
        let account = engine.add_account("aws", "ec2", serde_json::to_value(&stored).unwrap(), None).unwrap();
        engine.set_provider(account.id, Arc::new(Ec2Provider::new(&cfg, Some(Secret::new("hostile-secret")), engine.calls(account.id)).unwrap()));
        Self { _dir: dir, engine, account }
    }

    fn vms(&self) -> Vec<Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
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
async fn ec2_another_actions_answer_is_refused_and_changes_nothing() {
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
async fn vsphere_another_methods_answer_is_refused_and_changes_nothing() {
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
