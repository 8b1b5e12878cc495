//! Running `pdk` as a user would, on a data directory of the test's own.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `pdk --data-dir DIR` with the `pdk` the calling test crate built (only
/// the CLI crate's tests have one): see [`command`].
#[macro_export]
macro_rules! pdk {
    ($dir:expr) => {
        $crate::pdk::command(env!("CARGO_BIN_EXE_pdk"), $dir)
    };
}

/// `BIN --data-dir DIR`, with no inherited data directory and no terminal.
pub fn command(bin: &str, dir: &Path) -> Command {
    let mut c = Command::new(bin);
    c.arg("--data-dir").arg(dir).env_remove("POWERDECK_DATA_DIR").stdin(Stdio::null());
    c
}

/// Run `cmd` with `args`; its standard output, after asserting it succeeded.
pub fn succeed(mut cmd: Command, args: &[&str]) -> String {
    let out: Output = cmd.args(args).output().expect("pdk runs");
    assert!(out.status.success(), "pdk {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
