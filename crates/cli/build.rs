//! The commit `pdk --version` names, so a bug report says which build it is.

include!("../../build-support/commit.rs");

fn main() {
    emit_commit();
}
