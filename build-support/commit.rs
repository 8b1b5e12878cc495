// The commit a binary names in its --version (shared by the app's and
// pdk's build scripts through include!).

fn emit_commit() {
    println!("cargo:rustc-env=POWERDECK_COMMIT={}", commit());
    println!("cargo:rerun-if-env-changed=POWERDECK_COMMIT");
    // Rebuild the version string when HEAD moves (a checkout or a commit).
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
}

/// `POWERDECK_COMMIT` when a packager sets it (a source tarball has no
/// .git), else the checkout's short hash, else "unknown commit".
fn commit() -> String {
    if let Ok(c) = std::env::var("POWERDECK_COMMIT") {
        if !c.trim().is_empty() {
            return c.trim().to_string();
        }
    }
    let Some(hash) = git(&["rev-parse", "--short=12", "HEAD"]) else { return "unknown commit".into() };
    // The screenshots under docs/ are rewritten by every end-to-end run:
    // they do not make the code a modified one.
    let dirty = git(&["status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)docs"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{hash}, modified")
    } else {
        hash
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
