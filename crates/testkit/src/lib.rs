//! What Powerdeck's test suites share: real peers started as child processes
//! tied to the test (moto, vcsim, the Azure, oVirt and CloudStack fakes), a
//! canned HTTP server for hostile answers, engine settings fast enough for
//! tests, and `pdk` run as a user runs it.

pub mod azure;
pub mod canned;
pub mod child;
pub mod conformance;
pub mod failed_sync;
pub mod fake;
pub mod fast;
pub mod gate;
pub mod lost;
pub mod moto;
pub mod pdk;
pub mod proxy;
pub mod vcsim;

use std::path::PathBuf;

/// The repository's root (where `.venv`, `tests/` and `target/` are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python venv with the peers and witnesses (`scripts/test.sh` makes it).
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("POWERDECK_VENV").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv"));
    assert!(dir.join("bin/moto_server").exists(), "the test peers are not installed in {}: run scripts/test.sh, which creates the venv", dir.display());
    dir
}
