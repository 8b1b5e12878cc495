//! VMware's vCenter simulator (vcsim), built from Debian's govmomi library by
//! `scripts/ensure-test-peers.sh` into `target/vcsim` (or `POWERDECK_VCSIM`).

use crate::child::spawn_tied;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Vcsim {
    child: Child,
    /// The /sdk endpoint, without credentials (vcsim accepts any).
    pub endpoint: String,
}

fn binary() -> PathBuf {
    let p = std::env::var_os("POWERDECK_VCSIM").map(PathBuf::from).unwrap_or_else(|| crate::repo_root().join("target/vcsim"));
    assert!(p.exists(), "vcsim is not built at {}: run scripts/test.sh, which builds tests/vcsim", p.display());
    p
}

impl Vcsim {
    pub fn start(args: &[&str]) -> Self {
        let mut child = spawn_tied(Command::new(binary()).args(args).stdout(Stdio::piped()).stderr(Stdio::null()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let mut url = reqwest::Url::parse(line.trim()).expect("vcsim printed its URL");
        url.set_username("").unwrap();
        url.set_password(None).unwrap();
        Self { child, endpoint: url.to_string() }
    }

    /// VMware's own tagging client (govmomi's `vapi/tags`, built into
    /// `target/vcsim-tags` or `POWERDECK_VCSIM_TAGS`) against this
    /// simulator: `attach|detach CATEGORY TAG VM…` or `list`, its JSON.
    pub fn tags(&self, args: &[&str]) -> serde_json::Value {
        let tool = std::env::var_os("POWERDECK_VCSIM_TAGS").map(PathBuf::from).unwrap_or_else(|| crate::repo_root().join("target/vcsim-tags"));
        let out = Command::new(&tool).args(["--url", &self.endpoint, "--insecure"]).args(args).output().expect("vcsim-tags runs");
        assert!(out.status.success(), "vcsim-tags {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        self.stop();
    }
}
