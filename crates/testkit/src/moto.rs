//! moto's EC2 server and the boto3 helper (`crates/core/tests/ec2/moto_tool.py`).

use crate::child::spawn_tied;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// From either crate's tests (`crates/core` or `crates/cli`).
fn tool_path() -> PathBuf {
    crate::repo_root().join("crates/core/tests/ec2/moto_tool.py")
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = spawn_tied(
            Command::new(crate::venv().join("bin/moto_server")).args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()),
        );
        wait_for_port(port, "moto_server");
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// Run a `moto_tool.py` command against this server; its JSON answer.
    pub fn tool(&self, cmd: &str, args: &[&str]) -> serde_json::Value {
        let out = Command::new(crate::venv().join("bin/python")).arg(tool_path()).arg(cmd).arg(&self.url).args(args).output().expect("cannot run moto_tool.py");
        assert!(out.status.success(), "moto_tool.py {cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("moto_tool.py printed no JSON")
    }

    /// Launch `count` named instances in `region`, one reservation each;
    /// every `stopped_every`-th is stopped. Returns the instance ids.
    pub fn seed(&self, region: &str, count: usize, stopped_every: usize) -> Vec<String> {
        let v = self.tool("seed", &["--region", region, "--count", &count.to_string(), "--stopped-every", &stopped_every.to_string()]);
        serde_json::from_value(v).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A proxy in front of moto that answers the first `n` calls (every call
/// when `n` is negative) with EC2's `RequestLimitExceeded`.
pub struct ThrottlingProxy {
    child: Child,
    pub url: String,
}

impl ThrottlingProxy {
    pub fn start(upstream: &str, n: i64) -> Self {
        let mut child = spawn_tied(
            Command::new(crate::venv().join("bin/python"))
                .arg(tool_path())
                .args(["proxy", "--upstream", upstream, "--throttle-first", &n.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port: u16 = line.trim().parse().expect("the proxy did not say its port");
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// `(throttled, forwarded)` calls so far.
    pub fn stats(&self) -> (u64, u64) {
        let body = http_get(&format!("{}/__stats", self.url));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (v["throttled"].as_u64().unwrap(), v["forwarded"].as_u64().unwrap())
    }
}

impl Drop for ThrottlingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
}
