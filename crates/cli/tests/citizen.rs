//! What a packaged command line is expected to offer: a version that names
//! the build, completions for each shell, a man page; none of them touches
//! a data directory.

use std::path::Path;

fn pdk_in(dir: &Path, args: &[&str]) -> String {
    let out = powerdeck_testkit::pdk!(dir).args(args).output().expect("pdk runs");
    assert!(out.status.success(), "pdk {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn version_names_the_release_and_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = pdk_in(dir.path(), &["--version"]);
    let want = format!("pdk {} (", env!("CARGO_PKG_VERSION"));
    assert!(out.starts_with(&want) && out.trim_end().ends_with(')'), "{out}");
    let commit = out.trim_end().trim_start_matches(&want).trim_end_matches(')');
    assert!(!commit.is_empty(), "{out}");
}

#[test]
fn completions_and_the_man_page_cover_every_command_and_need_no_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-created");
    for (shell, marker) in [("bash", "_pdk()"), ("zsh", "#compdef pdk"), ("fish", "complete -c pdk")] {
        let out = pdk_in(&data, &["completions", shell]);
        assert!(out.contains(marker), "{shell}: {}", &out[..out.len().min(200)]);
        for sub in ["schedules", "runbook", "accounts", "deallocate"] {
            assert!(out.contains(sub), "{shell} completes {sub}");
        }
    }
    let man = pdk_in(&data, &["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH pdk"), "{}", &man[..man.len().min(200)]);
    assert!(man.contains("schedules") && man.contains("daemon"), "the man page lists the commands");
    assert!(!data.exists(), "describing pdk created no data directory");
    let unknown = powerdeck_testkit::pdk!(&data).args(["completions", "tcsh"]).output().unwrap();
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("possible values"));
}
