//! Entry points for coverage-guided fuzzing: `fuzz/` holds one cargo-fuzz
//! target per function here, and `scripts/fuzz.sh` runs them (numbers in
//! BENCHMARKS.md). Each holds what it reads to the same properties as the
//! property tests: a provider's answer is read or refused, never a panic,
//! and what is read passes the store's checks (the parsers' own `check`
//! functions, next to their property tests); what an admin types is
//! understood or refused in words.
//!
//! Built with the `fuzzing` feature, and for tests, which replay the corpus
//! kept in `fuzz/corpus/` so whatever the fuzzer once found stays fixed.

use crate::provider;

/// A target that reads text: bytes that are not UTF-8 never reach a parser.
fn on_text(data: &[u8], check: fn(&str)) {
    if let Ok(t) = std::str::from_utf8(data) {
        check(t);
    }
}

/// The shared XML reader (vSphere's SOAP, oVirt's REST).
pub fn xml(data: &[u8]) {
    on_text(data, provider::xml::check);
}

/// EC2's query API answers, error bodies and page tokens.
pub fn ec2(data: &[u8]) {
    on_text(data, provider::ec2::check);
}

/// vSphere's inventory answers and VM names.
pub fn vsphere(data: &[u8]) {
    on_text(data, provider::vsphere::check);
}

/// oVirt's VM documents, statuses and page tokens.
pub fn ovirt(data: &[u8]) {
    on_text(data, provider::ovirt::check);
}

/// Azure's VM entries, resource ids and what the `az` CLI prints as a token.
pub fn azure(data: &[u8]) {
    on_text(data, provider::azure::check);
}

/// CloudStack's VM rows, error envelopes and throttling texts.
pub fn cloudstack(data: &[u8]) {
    on_text(data, provider::cloudstack::check);
}

/// What an admin types: stored settings, a schedule's when, days or cron,
/// prices, a group's name pattern, an endpoint; and any text shown back.
pub fn user_input(data: &[u8]) {
    on_text(data, |t| {
        settings(t);
        schedule(t);
        prices(t);
        pattern(t);
        endpoint(t);
        shown(t);
    });
}

/// Stored settings are used only when every value is in range; otherwise
/// the defaults, with a warning that names `pdk settings --reset`.
fn settings(t: &str) {
    let (cfg, warning) = crate::engine::config::EngineConfig::from_stored(Some(t));
    assert!(cfg.validate().is_ok());
    if let Some(w) = warning {
        assert!(w.contains("pdk settings --reset"), "{w}");
    }
}

/// Understood or refused in words; what is understood reads back the same
/// from its own display.
pub(crate) fn schedule(t: &str) {
    use crate::schedule::{parse_cron, Days, When};
    if let Ok(when) = When::parse(t) {
        let again = when.to_string();
        assert_eq!(When::parse(&again), Ok(when), "{t:?} shown as {again:?}");
    }
    let _ = Days::parse(t);
    let _ = parse_cron(t);
}

/// One price per line: understood as finite, non-negative prices, or
/// refused naming what a price is.
pub(crate) fn prices(t: &str) {
    let given: Vec<String> = t.lines().map(str::to_string).collect();
    match crate::engine::report::Rates::parse(&given) {
        Ok(r) => assert!(r.default.iter().chain(r.accounts.values()).chain(r.sizes.values()).chain(r.vms.values()).all(|p| p.is_finite() && *p >= 0.0)),
        Err(e) => assert!(e.to_string().contains("price per billable hour"), "{e}"),
    }
}

/// A pattern on the first line, a name on the second: matched or not (in
/// bounded time: the fuzzer's timeout is the bound), and a pattern without
/// wildcards matches itself.
pub(crate) fn pattern(t: &str) {
    let (pattern, name) = t.split_once('\n').unwrap_or((t, ""));
    let _ = crate::group::glob(pattern, name);
    if !pattern.contains(['*', '?', '[', ']']) {
        assert!(crate::group::glob(pattern, pattern));
    }
}

/// An endpoint accepted is http(s) without credentials or a query; a
/// refusal never echoes what was typed (a pasted URL can carry a password).
fn endpoint(t: &str) {
    match provider::http::check_endpoint(t, "https://host/sdk") {
        Ok(url) => assert!(matches!(url.scheme(), "http" | "https") && url.password().is_none() && url.query().is_none()),
        Err(e) => {
            if let Some(password) = reqwest::Url::parse(t.trim()).ok().and_then(|u| u.password().map(str::to_string)) {
                assert!(password.len() < 4 || !e.contains(&password), "{e}");
            }
        }
    }
}

/// Text shown back is free of control characters and bounded.
pub(crate) fn shown(t: &str) {
    assert!(crate::text::is_clean(&crate::text::clean(t)));
    for max in [1, 40] {
        let out = crate::text::shown(t, max);
        assert!(crate::text::is_clean(&out));
        assert!(out.chars().count() <= max + " (18446744073709551615 more characters)".len() + 1);
    }
}

#[cfg(test)]
mod replay {
    //! Every input in the kept corpus (`fuzz/corpus/TARGET/`, minimised by
    //! the fuzzer) and every input that once failed (`fuzz/regressions/
    //! TARGET/`, kept by hand) through its target, on stable Rust.

    use std::path::Path;

    #[test]
    fn the_kept_corpus_passes_every_target() {
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 7] = [
            ("xml", super::xml),
            ("ec2", super::ec2),
            ("vsphere", super::vsphere),
            ("ovirt", super::ovirt),
            ("azure", super::azure),
            ("cloudstack", super::cloudstack),
            ("user_input", super::user_input),
        ];
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        for (name, target) in targets {
            let dir = root.join("corpus").join(name);
            let mut inputs: Vec<_> = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).map(|e| e.unwrap().path()).collect();
            assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
            if let Ok(found) = std::fs::read_dir(root.join("regressions").join(name)) {
                inputs.extend(found.map(|e| e.unwrap().path()));
            }
            for path in inputs {
                let data = std::fs::read(&path).unwrap();
                if std::panic::catch_unwind(|| target(&data)).is_err() {
                    panic!("{} fails its target", path.display());
                }
            }
        }
    }
}
