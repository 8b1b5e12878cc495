//! vSphere code paths vcsim cannot exercise, over SOAP answers shaped like a
//! real vCenter's (as documented for vim25): ContinueRetrievePropertiesEx
//! paging, RebootGuest, and a task that ends in error.

use powerdeck_core::model::PowerState;
use powerdeck_core::provider::vsphere::{VsphereConfig, VsphereProvider};
use powerdeck_core::provider::{JobStatus, PowerAction, Provider};
use powerdeck_core::secrets::Secret;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn envelope(body: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>")
}

fn vm(id: &str, name: &str, power: &str) -> String {
    format!(
        "<objects><obj type=\"VirtualMachine\">{id}</obj><propSet><name>guest.toolsRunningStatus</name><val xsi:type=\"xsd:string\">guestToolsRunning</val></propSet><propSet><name>name</name><val xsi:type=\"xsd:string\">{name}</val></propSet><propSet><name>runtime.host</name><val type=\"HostSystem\" xsi:type=\"ManagedObjectReference\">host-12</val></propSet><propSet><name>runtime.powerState</name><val xsi:type=\"VirtualMachinePowerState\">{power}</val></propSet></objects>"
    )
}

/// The canned answer to each vim25 method, by name.
fn answer(method: &str, body: &str) -> (u16, String) {
    let ok = |b: String| (200, envelope(&b));
    match method {
        "RetrievePropertiesEx" if body.contains("<type>Task</type>") => ok("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects><obj type=\"Task\">task-1</obj><propSet><name>info.error</name><val xsi:type=\"LocalizedMethodFault\"><fault xsi:type=\"InvalidPowerState\"><requestedState>poweredOn</requestedState><existingState>poweredOff</existingState></fault><localizedMessage>The attempted operation cannot be performed in the current state (Powered off).</localizedMessage></val></propSet><propSet><name>info.state</name><val xsi:type=\"TaskInfoState\">error</val></propSet></objects></returnval></RetrievePropertiesExResponse>".into()),
        "RetrieveServiceContent" => ok("<RetrieveServiceContentResponse xmlns=\"urn:vim25\"><returnval><rootFolder type=\"Folder\">group-d1</rootFolder><propertyCollector type=\"PropertyCollector\">propertyCollector</propertyCollector><viewManager type=\"ViewManager\">ViewManager</viewManager><about><name>VMware vCenter Server</name><apiVersion>8.0.2.0</apiVersion></about><sessionManager type=\"SessionManager\">SessionManager</sessionManager></returnval></RetrieveServiceContentResponse>".into()),
        "Login" => ok("<LoginResponse xmlns=\"urn:vim25\"><returnval><key>52a8</key><userName>VSPHERE.LOCAL\\Administrator</userName></returnval></LoginResponse>".into()),
        "CreateContainerView" => ok("<CreateContainerViewResponse xmlns=\"urn:vim25\"><returnval type=\"ContainerView\">session[52a8]5279</returnval></CreateContainerViewResponse>".into()),
        "RetrievePropertiesEx" => ok(format!("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><token>1</token>{}{}</returnval></RetrievePropertiesExResponse>", vm("vm-1001", "db-01", "poweredOn"), vm("vm-1002", "db-02", "poweredOff"))),
        "ContinueRetrievePropertiesEx" => ok(format!("<ContinueRetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>{}</returnval></ContinueRetrievePropertiesExResponse>", vm("vm-1003", "web &amp; cache", "suspended"))),
        "RebootGuest" => ok("<RebootGuestResponse xmlns=\"urn:vim25\"></RebootGuestResponse>".into()),
        other => (500, envelope(&format!("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>unexpected {other}</faultstring><detail/></soapenv:Fault>"))),
    }
}

/// A tiny HTTP server that answers each SOAP call from `answer`, and records them.
async fn serve(calls: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let calls = calls.clone();
            tokio::spawn(async move {
                loop {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Read headers, then the body by Content-Length.
                    let (head_end, len) = loop {
                        let n = match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let len = head.lines().find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap())).unwrap_or(0);
                            break (i + 4, len);
                        }
                    };
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap();
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
                    let method = body.split("<soapenv:Body><").nth(1).and_then(|r| r.split([' ', '>']).next()).unwrap_or_default().to_string();
                    calls.lock().unwrap().push(method.clone());
                    let (status, xml) = answer(&method, &body);
                    let resp = format!("HTTP/1.1 {status} OK\r\nContent-Type: text/xml; charset=utf-8\r\nSet-Cookie: vmware_soap_session=\"abc\"; Path=/; HttpOnly\r\nContent-Length: {}\r\n\r\n{xml}", xml.len());
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/sdk")
}

#[tokio::test]
async fn paging_reboot_guest_and_a_failed_task_over_recorded_answers() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let endpoint = serve(calls.clone()).await;
    let p = VsphereProvider::new(&VsphereConfig { endpoint, username: "administrator@vsphere.local".into(), ..Default::default() }, Some(Secret::new("pw"))).unwrap();

    let first = p.list_page(None).await.unwrap();
    assert_eq!(first.next.as_deref(), Some("1"));
    assert_eq!(first.vms.iter().map(|v| (v.name.as_str(), v.state)).collect::<Vec<_>>(), vec![("db-01", PowerState::Running), ("db-02", PowerState::Stopped)]);
    let second = p.list_page(first.next.as_deref()).await.unwrap();
    assert_eq!(second.next, None);
    assert_eq!((second.vms[0].name.as_str(), second.vms[0].state), ("web & cache", PowerState::Suspended));

    let reboot = p.submit("vm-1001", PowerAction::RebootGuest).await.unwrap();
    assert_eq!(reboot.job, None, "RebootGuest returns at once, without a task");
    assert_eq!(
        *calls.lock().unwrap(),
        vec!["RetrieveServiceContent", "Login", "CreateContainerView", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx", "RebootGuest"]
    );
    // A task that ended in error brings vCenter's own message along.
    assert_eq!(p.poll_job("task-1").await.unwrap(), JobStatus::Failed("The attempted operation cannot be performed in the current state (Powered off).".into()));
}
