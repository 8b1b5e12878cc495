//! The provider fakes under `tests/fakes/` (Azure, oVirt, CloudStack), each
//! started as a child process on a free port. They print one JSON line
//! (`url`, `ca`, `control`) when ready, serve HTTPS with a fresh test CA
//! where their SDKs demand it, and exit when our end of their stdin closes.

use crate::child::spawn_tied;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct Fake {
    child: Child,
    _stdin: ChildStdin,
    _state: tempfile_dir::Dir,
    /// The server's base URL (`https://127.0.0.1:PORT`).
    pub url: String,
    /// The test CA that signed the server's certificate, if it serves HTTPS.
    pub ca: Option<PathBuf>,
    control: String,
    http: reqwest::Client,
}

/// A state directory removed with the fake (no tempfile dependency needed).
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Fake {
    /// Start `tests/fakes/{provider}/server.py` with `args`.
    pub fn start(provider: &str, args: &[&str]) -> Self {
        let state = std::env::temp_dir().join(format!("powerdeck-fake-{provider}-{}-{}", std::process::id(), uniq()));
        let server = crate::repo_root().join("tests/fakes").join(provider).join("server.py");
        let mut child = spawn_tied(
            Command::new(crate::venv().join("bin/python"))
                .arg(server)
                .args(["--port", "0", "--exit-on-stdin-eof", "--state-dir"])
                .arg(&state)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let hello: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("the {provider} fake did not start ({e}): {line:?}"));
        let ca = hello["ca"].as_str().map(PathBuf::from);
        let mut http = reqwest::Client::builder();
        if let Some(ca) = &ca {
            let pem = std::fs::read(ca).unwrap();
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        Self {
            child,
            _stdin: stdin,
            _state: tempfile_dir::Dir(state),
            url: hello["url"].as_str().unwrap().to_string(),
            ca,
            control: hello["control"].as_str().unwrap().to_string(),
            http: http.build().unwrap(),
        }
    }

    /// Call the fake's control API (`/_fake/{path}`): `GET` when `body` is
    /// `None`, else `POST` with the JSON body.
    pub async fn control(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/{}", self.control, path.trim_start_matches('/'));
        let req = match body {
            None => self.http.get(&url),
            Some(b) => self.http.post(&url).json(&b),
        };
        let resp = req.send().await.unwrap_or_else(|e| panic!("control {path}: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "control {path}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `DELETE /_fake/{path}`.
    pub async fn control_delete(&self, path: &str) {
        let url = format!("{}/{}", self.control, path.trim_start_matches('/'));
        let resp = self.http.delete(&url).send().await.unwrap();
        assert!(resp.status().is_success(), "control DELETE {path}: HTTP {}", resp.status());
    }

    /// The fake's truth: `GET /_fake/vms`.
    pub async fn vms(&self) -> Vec<Value> {
        self.control("vms", None).await.as_array().cloned().unwrap_or_default()
    }

    /// API calls received so far, by operation (`GET /_fake/calls`).
    pub async fn calls(&self) -> Value {
        self.control("calls", None).await
    }

    /// How many requests the fake counted under `name` in `/_fake/calls`.
    pub async fn count(&self, name: &str) -> u64 {
        self.calls().await[name].as_u64().unwrap_or(0)
    }

    /// Lose the answer to the next successful `action` request (named as in
    /// `/_fake/calls`): the fake carries it out, then closes the connection
    /// without a byte of answer (`gateway: None`) or answers as a gateway
    /// would with that status (`POST /_fake/cut`).
    pub async fn cut_next(&self, action: &str, gateway: Option<u16>) {
        self.control("cut", Some(serde_json::json!({ "action": action, "count": 1, "answer": gateway }))).await;
    }

    /// Run the provider's witness (`tests/fakes/{provider}/witness.py`):
    /// the vendor's own client against this fake. Its JSON answer.
    pub fn witness(&self, provider: &str, args: &[&str]) -> Value {
        let mut cmd = Command::new(crate::venv().join("bin/python"));
        cmd.arg(crate::repo_root().join("tests/fakes").join(provider).join("witness.py")).args(["--url", &self.url]);
        if let Some(ca) = &self.ca {
            cmd.arg("--ca").arg(ca);
        }
        let out = cmd.args(args).output().unwrap();
        assert!(out.status.success(), "witness {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("witness {args:?} printed no JSON ({e})"))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uniq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
