//! Helper processes (simulators, proxies) that die with the test binary.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Spawn `cmd` so that it is killed when the test process exits, even on
/// `kill -9` of the test binary.
pub fn spawn_tied(cmd: &mut Command) -> Child {
    // SAFETY: prctl is async-signal-safe and touches only this child.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().expect("cannot start a helper process")
}
