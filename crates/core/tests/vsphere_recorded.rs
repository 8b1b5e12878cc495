//! vSphere code paths vcsim cannot exercise, over SOAP answers shaped like a
//! real vCenter's (as documented for vim25): ContinueRetrievePropertiesEx
//! paging, RebootGuest, a task that ends in error, and a change feed whose
//! answer is truncated or whose version the server no longer knows.

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

fn update(kind: &str, id: &str, name: &str, power: &str) -> String {
    format!("<objectSet><kind>{kind}</kind><obj type=\"VirtualMachine\">{id}</obj><changeSet><name>name</name><op>assign</op><val xsi:type=\"xsd:string\">{name}</val></changeSet><changeSet><name>runtime.powerState</name><op>assign</op><val xsi:type=\"VirtualMachinePowerState\">{power}</val></changeSet><changeSet><name>runtime.host</name><op>assign</op><val type=\"HostSystem\" xsi:type=\"ManagedObjectReference\">host-12</val></changeSet></objectSet>")
}

/// The canned answer to each vim25 method, by name.
fn answer(method: &str, body: &str) -> (u16, String) {
    let ok = |b: String| (200, envelope(&b));
    match method {
        "RetrievePropertiesEx" if body.contains("<type>Task</type>") => ok("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects><obj type=\"Task\">task-1</obj><propSet><name>info.error</name><val xsi:type=\"LocalizedMethodFault\"><fault xsi:type=\"InvalidPowerState\"><requestedState>poweredOn</requestedState><existingState>poweredOff</existingState></fault><localizedMessage>The attempted operation cannot be performed in the current state (Powered off).</localizedMessage></val></propSet><propSet><name>info.state</name><val xsi:type=\"TaskInfoState\">error</val></propSet></objects></returnval></RetrievePropertiesExResponse>".into()),
        "RetrievePropertiesEx" if body.contains("<type>HostSystem</type>") => ok("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects><obj type=\"HostSystem\">host-12</obj><propSet><name>name</name><val xsi:type=\"xsd:string\">esx-12.lab.example</val></propSet></objects></returnval></RetrievePropertiesExResponse>".into()),
        // A refresh of the VMs the feed said were modified, as they are now.
        "RetrievePropertiesEx" if body.contains(">vm-1002</obj>") => {
            let now = [("vm-1001", "db-01", "poweredOff"), ("vm-1002", "db-02", "poweredOn")];
            let objects: String = now.iter().filter(|(id, _, _)| body.contains(&format!(">{id}</obj>"))).map(|(id, name, power)| vm(id, name, power)).collect();
            ok(format!("<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>{objects}</returnval></RetrievePropertiesExResponse>"))
        }
        // A version the server has discarded.
        "WaitForUpdatesEx" if body.contains("<version>stale</version>") => (500, envelope("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The version is not valid.</faultstring><detail><InvalidCollectorVersionFault xmlns=\"urn:vim25\" xsi:type=\"InvalidCollectorVersion\"></InvalidCollectorVersionFault></detail></soapenv:Fault>")),
        "CreateFilter" => ok("<CreateFilterResponse xmlns=\"urn:vim25\"><returnval type=\"PropertyFilter\">session[52a8]52f1</returnval></CreateFilterResponse>".into()),
        // A first answer cut short (truncated), then the rest at once.
        "WaitForUpdatesEx" if body.contains("<version></version>") => ok(format!(
            "<WaitForUpdatesExResponse xmlns=\"urn:vim25\"><returnval><version>1</version><filterSet><filter type=\"PropertyFilter\">session[52a8]52f1</filter>{}{}</filterSet><truncated>true</truncated></returnval></WaitForUpdatesExResponse>",
            update("enter", "vm-1001", "db-01", "poweredOn"),
            update("enter", "vm-1003", "web", "poweredOn"),
        )),
        "WaitForUpdatesEx" if body.contains("<version>1</version>") && body.contains("<maxWaitSeconds>0</maxWaitSeconds>") => ok(format!(
            "<WaitForUpdatesExResponse xmlns=\"urn:vim25\"><returnval><version>2</version><filterSet><filter type=\"PropertyFilter\">session[52a8]52f1</filter>{}<objectSet><kind>leave</kind><obj type=\"VirtualMachine\">vm-1003</obj></objectSet><objectSet><kind>modify</kind><obj type=\"VirtualMachine\">vm-1002</obj><changeSet><name>runtime.powerState</name><op>assign</op><val xsi:type=\"VirtualMachinePowerState\">poweredOn</val></changeSet></objectSet></filterSet></returnval></WaitForUpdatesExResponse>",
            update("modify", "vm-1001", "db-01", "poweredOff"),
        )),
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
                    let path = String::from_utf8_lossy(&buf[..head_end]).split(' ').nth(1).unwrap_or_default().to_string();
                    // This recorded server has no tagging service (REST), as a standalone host.
                    if path.starts_with("/rest/") {
                        calls.lock().unwrap().push(format!("REST {path}"));
                        let resp = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n";
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
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
    let p = VsphereProvider::new(
        &VsphereConfig { endpoint, username: "administrator@vsphere.local".into(), ..Default::default() },
        Some(Secret::new("pw")),
        powerdeck_core::provider::calls::Calls::direct(),
    )
    .unwrap();

    let first = p.list_page(None).await.unwrap();
    assert_eq!(first.next.as_deref(), Some("1"));
    assert_eq!(first.vms.iter().map(|v| (v.name.as_str(), v.state)).collect::<Vec<_>>(), vec![("db-01", PowerState::Running), ("db-02", PowerState::Stopped)]);
    assert_eq!(first.vms[0].location.as_deref(), Some("esx-12.lab.example"), "hosts are shown by name");
    let second = p.list_page(first.next.as_deref()).await.unwrap();
    assert_eq!(second.next, None);
    assert_eq!((second.vms[0].name.as_str(), second.vms[0].state), ("web & cache", PowerState::Suspended));

    let reboot = p.submit("vm-1001", PowerAction::RebootGuest).await.unwrap();
    assert_eq!(reboot.job, None, "RebootGuest returns at once, without a task");
    assert_eq!(
        *calls.lock().unwrap(),
        // The host's name is looked up once and remembered; the tagging
        // service, absent here, is asked for once.
        vec![
            "REST /rest/com/vmware/cis/session",
            "RetrieveServiceContent",
            "Login",
            "CreateContainerView",
            "RetrievePropertiesEx",
            "RetrievePropertiesEx",
            "ContinueRetrievePropertiesEx",
            "RebootGuest"
        ]
    );
    // A task that ended in error brings vCenter's own message along.
    assert_eq!(
        p.poll_job("task-1").await.unwrap(),
        JobStatus::Failed("The attempted operation cannot be performed in the current state (Powered off).".into())
    );
}

#[tokio::test]
async fn a_truncated_feed_answer_is_followed_to_the_end_before_the_batch_is_handed_over() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let endpoint = serve(calls.clone()).await;
    let p = VsphereProvider::new(
        &VsphereConfig { endpoint, username: "administrator@vsphere.local".into(), ..Default::default() },
        Some(Secret::new("pw")),
        powerdeck_core::provider::calls::Calls::direct(),
    )
    .unwrap();

    let batch = p.watch(None, std::time::Duration::from_secs(20)).await.unwrap();
    // vm-1001 entered, then changed: its latest reading wins, and it is listed once.
    // vm-1003 entered, then left: only its removal remains.
    // vm-1002 was modified: it was read again in full.
    let mut seen: Vec<(&str, PowerState, Option<&str>)> = batch.changes.iter().map(|o| (o.provider_id.as_str(), o.state, o.location.as_deref())).collect();
    seen.sort_by_key(|s| s.0);
    assert_eq!(seen, vec![("vm-1001", PowerState::Stopped, Some("esx-12.lab.example")), ("vm-1002", PowerState::Running, Some("esx-12.lab.example"))]);
    assert_eq!(batch.removed, vec!["vm-1003".to_string()]);
    assert!(batch.cursor.ends_with(":2"), "resumes after the last answer: {}", batch.cursor);
    assert!(!batch.resync_needed);
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.iter().filter(|c| *c == "WaitForUpdatesEx").count(), 2, "{calls:?}");
}

#[tokio::test]
async fn a_version_the_server_no_longer_knows_starts_the_feed_over_with_a_resync() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let endpoint = serve(calls.clone()).await;
    let p = VsphereProvider::new(
        &VsphereConfig { endpoint, username: "administrator@vsphere.local".into(), ..Default::default() },
        Some(Secret::new("pw")),
        powerdeck_core::provider::calls::Calls::direct(),
    )
    .unwrap();

    // Generation 1 is this provider's first login.
    let batch = p.watch(Some("1:stale"), std::time::Duration::from_secs(20)).await.unwrap();
    assert!(batch.resync_needed, "the gap must be covered by a full sync");
    assert!(batch.changes.is_empty() && batch.removed.is_empty());
    assert_eq!(batch.cursor, "1:", "the next watch asks for the filter's full state");
    // Which it gets: the feed goes on, no error loop.
    let next = p.watch(Some(&batch.cursor), std::time::Duration::from_secs(20)).await.unwrap();
    assert!(!next.resync_needed);
    assert!(next.cursor.ends_with(":2"), "{}", next.cursor);
    assert_eq!(p.logins().await, 1, "the session itself was fine");
}
